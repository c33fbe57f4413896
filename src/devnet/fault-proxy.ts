import http from "node:http";

/**
 * A JSON-RPC proxy on loopback that loses answers the way public providers do, seeded so a run can
 * be replayed: 429 with Retry-After, 502/503, stalls beyond the client's timeout, connection
 * resets, truncated JSON, JSON-RPC error objects, and — for eth_sendRawTransaction — "forward, then
 * fail the answer" (the node took the tx; the client hears an error) and "send twice" (a gateway that
 * retried upstream: the node took the tx, the client hears the second answer). Faults happen on the wire;
 * nothing of keepctl is stubbed. Test and chaos tooling only: no production command loads it.
 */
export type FaultKind = "rate-limit" | "http-502" | "http-503" | "stall" | "reset" | "truncate" | "rpc-error" | "send-then-fail" | "send-twice";

/** The kinds drawn by default. "send-twice" is only used when asked for (kinds or pick), so seeded schedules stay as they were. */
export const FAULT_KINDS: readonly FaultKind[] = ["rate-limit", "http-502", "http-503", "stall", "reset", "truncate", "rpc-error", "send-then-fail"];
const ALL_KINDS: readonly FaultKind[] = [...FAULT_KINDS, "send-twice"];
const BROADCAST_ONLY = new Set<FaultKind>(["send-then-fail", "send-twice"]);

export interface FaultProxyOptions {
  /** The real node, e.g. http://127.0.0.1:8545. */
  target: string;
  /** Share of HTTP requests that get a fault, 0..1 (default 0: a plain proxy). */
  rate?: number;
  seed?: number;
  kinds?: readonly FaultKind[];
  /** How long a stalled request is held before it is forwarded (answer to a client long gone). */
  stallMs?: number;
  /** Holds matching requests until release(): to kill a client while its broadcast is in the air. */
  hold?: (calls: RpcCall[]) => boolean;
  /**
   * Chooses the fault of each request instead of the seeded draw (then `rate` is not used): a
   * one-shot or per-method fault, e.g. "the answer to the first broadcast is lost". undefined: none.
   */
  pick?: (calls: RpcCall[]) => FaultKind | undefined;
}

export interface RpcCall {
  method: string;
  params?: unknown[];
  id?: unknown;
}

export interface FaultProxy {
  url: string;
  /** Requests seen, faults injected by kind, and JSON-RPC calls by method. */
  counts: { requests: number; calls: number; faults: Record<FaultKind, number>; byMethod: Record<string, number>; broadcastFaults: number };
  /** Broadcasts the node actually received through this proxy (raw txs). */
  forwardedBroadcasts: string[];
  setRate(rate: number): void;
  /** Lets held requests go: forwarded to the node (`forward`) or dropped with a reset. */
  release(forward: boolean): Promise<void>;
  heldCount(): number;
  close(): Promise<void>;
}

/** mulberry32: a small, well-known seeded PRNG (deterministic fault schedules). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function startFaultProxy(o: FaultProxyOptions): Promise<FaultProxy> {
  const random = seededRandom(o.seed ?? 1);
  let rate = o.rate ?? 0;
  const kinds = o.kinds ?? FAULT_KINDS;
  const stallMs = o.stallMs ?? 3_000;
  const counts: FaultProxy["counts"] = { requests: 0, calls: 0, faults: Object.fromEntries(ALL_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>, byMethod: {}, broadcastFaults: 0 };
  const forwardedBroadcasts: string[] = [];
  const held: { res: http.ServerResponse; body: string; calls: RpcCall[] }[] = [];
  const timers = new Set<NodeJS.Timeout>();

  async function forward(body: string, calls: RpcCall[]): Promise<{ status: number; text: string }> {
    for (const c of calls) if (c.method === "eth_sendRawTransaction") forwardedBroadcasts.push(String(c.params?.[0]));
    const r = await fetch(o.target, { method: "POST", headers: { "content-type": "application/json" }, body });
    return { status: r.status, text: await r.text() };
  }

  function answer(res: http.ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
    if (res.destroyed) return;
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(text);
  }

  async function pass(res: http.ServerResponse, body: string, calls: RpcCall[]): Promise<void> {
    try {
      const r = await forward(body, calls);
      answer(res, r.status, r.text);
    } catch {
      res.destroy();
    }
  }

  function pickFault(calls: RpcCall[]): FaultKind | undefined {
    const broadcast = calls.some((c) => c.method === "eth_sendRawTransaction");
    if (o.pick) {
      const k = o.pick(calls);
      return k && (!BROADCAST_ONLY.has(k) || broadcast) ? k : undefined;
    }
    if (rate <= 0 || random() >= rate) return undefined;
    const usable = kinds.filter((k) => !BROADCAST_ONLY.has(k) || broadcast);
    return usable.length ? usable[Math.floor(random() * usable.length)] : undefined;
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let body = "";
    for await (const chunk of req) body += chunk;
    counts.requests++;
    let calls: RpcCall[] = [];
    let batch = false;
    try {
      const parsed = JSON.parse(body) as RpcCall | RpcCall[];
      batch = Array.isArray(parsed);
      calls = Array.isArray(parsed) ? parsed : [parsed];
    } catch {
      return answer(res, 400, JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "parse error" } }));
    }
    counts.calls += calls.length;
    for (const c of calls) counts.byMethod[c.method] = (counts.byMethod[c.method] ?? 0) + 1;
    if (o.hold?.(calls)) {
      held.push({ res, body, calls });
      return;
    }
    const fault = pickFault(calls);
    if (!fault) return pass(res, body, calls);
    counts.faults[fault]++;
    if (calls.some((c) => c.method === "eth_sendRawTransaction")) counts.broadcastFaults++;
    switch (fault) {
      case "rate-limit":
        return answer(res, 429, JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: 429, message: "Too Many Requests" } }), { "retry-after": "0" });
      case "http-502":
        return answer(res, 502, "<html>502 Bad Gateway</html>", { "content-type": "text/html" });
      case "http-503":
        return answer(res, 503, "service unavailable", { "content-type": "text/plain" });
      case "reset":
        res.destroy();
        return;
      case "stall": {
        // Forwarded late: a broadcast lands after the client has given up on it.
        const t = setTimeout(() => {
          timers.delete(t);
          void pass(res, body, calls);
        }, stallMs);
        timers.add(t);
        return;
      }
      case "truncate": {
        try {
          const r = await forward(body, calls);
          return answer(res, r.status, r.text.slice(0, Math.max(1, Math.floor(r.text.length / 2))));
        } catch {
          res.destroy();
          return;
        }
      }
      case "rpc-error": {
        const err = (c: RpcCall) => ({ jsonrpc: "2.0", id: c.id ?? null, error: { code: -32603, message: "internal error: upstream unavailable" } });
        return answer(res, 200, JSON.stringify(batch ? calls.map(err) : err(calls[0])));
      }
      case "send-then-fail": {
        try {
          await forward(body, calls);
        } catch {
          // the node is what it is; the client hears a failure either way
        }
        const how = random();
        if (how < 0.34) return answer(res, 502, "bad gateway", { "content-type": "text/plain" });
        if (how < 0.67) {
          res.destroy();
          return;
        }
        return answer(res, 200, JSON.stringify(batch ? calls.map((c) => ({ jsonrpc: "2.0", id: c.id ?? null, error: { code: -32000, message: "request failed upstream" } })) : { jsonrpc: "2.0", id: calls[0].id ?? null, error: { code: -32000, message: "request failed upstream" } }));
      }
      case "send-twice": {
        // The first answer is lost inside the gateway, which sends again: the node's answer to a
        // tx it already has ("already known", "nonce too low") is what the client hears.
        try {
          await forward(body, calls);
          const r = await forward(body, calls);
          return answer(res, r.status, r.text);
        } catch {
          res.destroy();
          return;
        }
      }
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    forwardedBroadcasts,
    setRate: (r) => {
      rate = r;
    },
    heldCount: () => held.length,
    release: async (fwd) => {
      const all = held.splice(0);
      await Promise.all(all.map((h) => (fwd ? pass(h.res, h.body, h.calls) : Promise.resolve(void h.res.destroy()))));
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        for (const h of held.splice(0)) h.res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
