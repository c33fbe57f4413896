import http from "node:http";

/**
 * A JSON-RPC proxy on loopback that serves a LAGGING view of a real node, as a node that fell
 * behind (or one backend of a load balancer) does: its head is `lag` blocks behind, every
 * "latest"/"pending" read is answered at that block, logs stop there, and receipts and
 * transactions of later blocks are unknown to it. Broadcasts are forwarded (its peers would carry
 * them). `lag` may change per request (a flapping view). Test and chaos tooling only.
 */
export interface LagProxyOptions {
  target: string;
  /** Blocks behind the node's head, decided per HTTP request (n = 0, 1, 2, ...); a number for a fixed lag. */
  lag: number | ((request: number) => number);
  /** A path the URL carries (an API key, to check it is redacted). */
  path?: string;
}

export interface LagProxy {
  url: string;
  counts: { requests: number; laggingRequests: number; broadcasts: string[]; byMethod: Record<string, number> };
  setLag(lag: LagProxyOptions["lag"]): void;
  close(): Promise<void>;
}

interface Call {
  jsonrpc?: string;
  id?: unknown;
  method: string;
  params?: unknown[];
}
type Answer = { jsonrpc: "2.0"; id: unknown; result?: unknown; error?: { code: number; message: string } };

const LIVE_TAGS = new Set(["latest", "pending", "safe", "finalized"]);
/** Where each method's block tag sits in its params. */
const TAG_AT: Record<string, number> = { eth_call: 1, eth_getBalance: 1, eth_getTransactionCount: 1, eth_getCode: 1, eth_getStorageAt: 2, eth_estimateGas: 1 };
const hex = (n: number) => `0x${n.toString(16)}`;

export async function startLagProxy(o: LagProxyOptions): Promise<LagProxy> {
  let lagOf = typeof o.lag === "number" ? (() => o.lag) as (n: number) => number : o.lag;
  const counts: LagProxy["counts"] = { requests: 0, laggingRequests: 0, broadcasts: [], byMethod: {} };

  async function upstream(body: unknown): Promise<unknown> {
    const r = await fetch(o.target, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    return JSON.parse(await r.text());
  }
  const one = async (method: string, params: unknown[]): Promise<unknown> => ((await upstream({ jsonrpc: "2.0", id: 1, method, params })) as Answer).result;

  async function answer(c: Call, at: number | undefined): Promise<Answer> {
    const reply = (result: unknown): Answer => ({ jsonrpc: "2.0", id: c.id ?? null, result });
    const params = [...(c.params ?? [])];
    if (c.method === "eth_sendRawTransaction") counts.broadcasts.push(String(params[0]));
    if (at === undefined) return { ...((await upstream({ ...c, jsonrpc: "2.0" })) as Answer), id: c.id ?? null };
    switch (c.method) {
      case "eth_blockNumber":
        return reply(hex(at));
      case "eth_getBlockByNumber": {
        const tag = params[0];
        if (typeof tag === "string" && LIVE_TAGS.has(tag)) params[0] = hex(at);
        else if (typeof tag === "string" && /^0x/.test(tag) && Number(BigInt(tag)) > at) return reply(null);
        break;
      }
      case "eth_getLogs": {
        const f = { ...(params[0] as Record<string, unknown>) };
        const to = typeof f.toBlock === "string" && /^0x/.test(f.toBlock) ? Math.min(Number(BigInt(f.toBlock)), at) : at;
        const from = typeof f.fromBlock === "string" && /^0x/.test(f.fromBlock) ? Number(BigInt(f.fromBlock)) : at;
        if (from > to) return reply([]);
        params[0] = { ...f, fromBlock: hex(from), toBlock: hex(to) };
        break;
      }
      case "eth_getTransactionReceipt":
      case "eth_getTransactionByHash": {
        const r = (await one(c.method, params)) as { blockNumber?: string | null } | null;
        // A block it has not seen: the lagging node knows neither the receipt nor the transaction.
        return reply(r && r.blockNumber && Number(BigInt(r.blockNumber)) > at ? null : r);
      }
      default: {
        const i = TAG_AT[c.method];
        if (i !== undefined) {
          const tag = params[i];
          if (tag === undefined || (typeof tag === "string" && LIVE_TAGS.has(tag))) params[i] = hex(at);
        }
      }
    }
    return { ...((await upstream({ ...c, jsonrpc: "2.0", params })) as Answer), id: c.id ?? null };
  }

  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", async () => {
      const n = counts.requests++;
      try {
        const parsed = JSON.parse(body) as Call | Call[];
        const calls = Array.isArray(parsed) ? parsed : [parsed];
        for (const c of calls) counts.byMethod[c.method] = (counts.byMethod[c.method] ?? 0) + 1;
        const lag = lagOf(n);
        let at: number | undefined;
        if (lag > 0) {
          counts.laggingRequests++;
          at = Math.max(0, Number(BigInt(String(await one("eth_blockNumber", [])))) - lag);
        }
        const answers = await Promise.all(calls.map((c) => answer(c, at)));
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(Array.isArray(parsed) ? answers : answers[0]));
      } catch {
        res.destroy();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}${o.path ?? ""}`,
    counts,
    setLag: (lag) => {
      lagOf = typeof lag === "number" ? () => lag : lag;
    },
    close: () => new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    }),
  };
}
