import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A JSON-RPC endpoint on loopback that answers each call as the test says: a result, a JSON-RPC
 * error object, or "forward" to a real node (optionally rewriting the result). It speaks the real
 * protocol, batches included, so the code under test cannot tell it from a misbehaving node.
 */
export type RpcCall = { id: number; jsonrpc: string; method: string; params: unknown[] };
export type RpcAnswer =
  | { result: unknown }
  | { error: { code: number; message: string; data?: unknown } }
  | { forward: true; rewrite?: (result: unknown) => unknown };

export interface RpcDouble {
  url: string;
  calls: RpcCall[];
  close(): Promise<void>;
}

export async function startRpcDouble(answer: (c: RpcCall) => RpcAnswer, upstream?: string): Promise<RpcDouble> {
  const calls: RpcCall[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", async () => {
      const json = JSON.parse(body);
      const batch: RpcCall[] = Array.isArray(json) ? json : [json];
      calls.push(...batch);
      const out = await Promise.all(
        batch.map(async (c) => {
          const a = answer(c);
          if ("forward" in a) {
            if (!upstream) throw new Error("no upstream node to forward to");
            const up = await fetch(upstream, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(c) });
            const r = (await up.json()) as { result?: unknown; error?: unknown };
            return "error" in r && r.error ? { jsonrpc: "2.0", id: c.id, error: r.error } : { jsonrpc: "2.0", id: c.id, result: a.rewrite ? a.rewrite(r.result) : r.result };
          }
          return { jsonrpc: "2.0", id: c.id, ...a };
        }),
      );
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(Array.isArray(json) ? out : out[0]));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

const hex = (n: number) => "0x" + n.toString(16);

/** A well-formed latest block at `timestamp` (unix seconds). */
export function blockAt(number: number, timestamp: number): Record<string, unknown> {
  // Every field ethers' block formatter requires, so getBlock()/getFeeData() accept it too.
  return {
    number: hex(number), hash: "0x" + "ab".repeat(32), parentHash: "0x" + "cd".repeat(32), timestamp: hex(timestamp), transactions: [],
    nonce: "0x0000000000000000", difficulty: "0x0", gasLimit: hex(30_000_000), gasUsed: hex(0), miner: "0x" + "00".repeat(20),
    extraData: "0x", baseFeePerGas: hex(1_000_000_000),
  };
}

export const nowSec = () => Math.floor(Date.now() / 1000);

/** An HTTP endpoint that answers every request with `status` (a gateway's 500, a provider's 401 for a bad key). */
export interface StatusServer {
  url: string;
  /** JSON-RPC methods received, when the body was JSON-RPC. */
  methods: string[];
  close(): Promise<void>;
}

export async function startStatusServer(status: number): Promise<StatusServer> {
  const methods: string[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      try {
        const json = JSON.parse(body) as { method?: string } | { method?: string }[];
        for (const c of Array.isArray(json) ? json : [json]) if (c.method) methods.push(c.method);
      } catch { /* not JSON-RPC: nothing to record */ }
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ error: http.STATUS_CODES[status] ?? "error" }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, methods, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

/** A loopback port nothing listens on (bound, then released): connections are refused. */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}
