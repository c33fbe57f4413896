import http from "node:http";

/**
 * A JSON-RPC proxy on loopback that behaves like a hosted provider (Infura, Alchemy, QuickNode)
 * in front of a local node, so the bench measures what an operator pays on one: a round-trip
 * time per HTTP request, a cap on eth_getLogs block ranges and on their result counts, a cap on
 * JSON-RPC batch sizes, and a request-rate limit answered with 429 + Retry-After. It counts HTTP
 * requests, JSON-RPC calls and bytes each way. Bench and test tooling only (like fault-proxy.ts):
 * no production command loads it.
 *
 * Refusals use wordings the hosted providers return:
 * - block range above the cap: code -32005, "block range is too wide (N blocks, max M)"
 * - more logs than the result cap: code -32005, "query returned more than M results"
 * - a batch above the cap: one error object, code -32600, "batch size too large (N calls, max M)"
 * - rate limit: HTTP 429, Retry-After in whole seconds, body code 429 "Too Many Requests".
 */
export interface ProviderProxyOptions {
  /** The real node, e.g. http://127.0.0.1:8545. */
  target: string;
  /** Added to every HTTP request before it is answered (default 80 ms). */
  rttMs?: number;
  /** Most blocks one eth_getLogs may span, inclusive (default 10,000; 0 = no cap). */
  maxLogBlockRange?: number;
  /**
   * The message of a range refusal (code -32005), from the span asked, the cap and the first block
   * asked; default "block range is too wide (N blocks, max M)". Tests give other providers' wordings.
   */
  rangeRefusalMessage?: (span: number, max: number, from: number) => string;
  /** The message of a batch refusal (code -32600); default "batch size too large (N calls, max M)". */
  batchRefusalMessage?: (calls: number, max: number) => string;
  /** Most logs one eth_getLogs may return (default 10,000; 0 = no cap). */
  maxLogResults?: number;
  /** Most calls in one JSON-RPC batch (default 100; 0 = no cap). */
  maxBatchCalls?: number;
  /** HTTP requests per second the token bucket refills (default 50; 0 = no limit). */
  requestsPerSecond?: number;
  /** Bucket size: requests allowed at once before the rate applies (default = requestsPerSecond). */
  burst?: number;
}

export interface ProviderProxyCounts {
  httpRequests: number;
  rpcCalls: number;
  /** Request bodies received (client -> provider). */
  bytesIn: number;
  /** Response bodies sent (provider -> client). */
  bytesOut: number;
  byMethod: Record<string, number>;
  rateLimited: number;
  rangeRefused: number;
  resultsRefused: number;
  batchRefused: number;
  /** Most HTTP requests in flight at once: requests sent side by side share a round trip. */
  maxInFlight: number;
}

export interface ProviderProxy {
  url: string;
  counts: ProviderProxyCounts;
  /** The settings in force (defaults filled in). */
  settings: Required<Omit<ProviderProxyOptions, "target" | "rangeRefusalMessage" | "batchRefusalMessage">>;
  /** Time spent waiting for the node since the last reset (its share of the wall time). */
  upstreamMs(): number;
  resetCounts(): void;
  setRtt(ms: number): void;
  close(): Promise<void>;
}

interface RpcCall {
  jsonrpc?: string;
  method: string;
  params?: unknown[];
  id?: unknown;
}
type RpcAnswer = { jsonrpc: "2.0"; id: unknown; result?: unknown; error?: { code: number; message: string } };

export const PROVIDER_DEFAULTS = { rttMs: 80, maxLogBlockRange: 10_000, maxLogResults: 10_000, maxBatchCalls: 100, requestsPerSecond: 50 } as const;

const zeroCounts = (): ProviderProxyCounts => ({
  httpRequests: 0, rpcCalls: 0, bytesIn: 0, bytesOut: 0, byMethod: {}, rateLimited: 0, rangeRefused: 0, resultsRefused: 0, batchRefused: 0, maxInFlight: 0,
});

const rpcError = (id: unknown, code: number, message: string): RpcAnswer => ({ jsonrpc: "2.0", id: id ?? null, error: { code, message } });

export async function startProviderProxy(o: ProviderProxyOptions): Promise<ProviderProxy> {
  const rps = o.requestsPerSecond ?? PROVIDER_DEFAULTS.requestsPerSecond;
  const settings = {
    rttMs: o.rttMs ?? PROVIDER_DEFAULTS.rttMs,
    maxLogBlockRange: o.maxLogBlockRange ?? PROVIDER_DEFAULTS.maxLogBlockRange,
    maxLogResults: o.maxLogResults ?? PROVIDER_DEFAULTS.maxLogResults,
    maxBatchCalls: o.maxBatchCalls ?? PROVIDER_DEFAULTS.maxBatchCalls,
    requestsPerSecond: rps,
    burst: o.burst ?? rps,
  };
  const counts = zeroCounts();
  const timers = new Set<NodeJS.Timeout>();
  // Token bucket: `burst` requests at once, refilled at `requestsPerSecond`.
  let tokens = settings.burst;
  let refilledAt = Date.now();

  const delay = (ms: number) =>
    ms <= 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            timers.delete(t);
            resolve();
          }, ms);
          timers.add(t);
        });

  /** Undefined when admitted, else the seconds the client should wait. */
  function admit(): number | undefined {
    if (settings.requestsPerSecond <= 0) return undefined;
    const now = Date.now();
    tokens = Math.min(settings.burst, tokens + ((now - refilledAt) / 1000) * settings.requestsPerSecond);
    refilledAt = now;
    if (tokens >= 1) {
      tokens -= 1;
      return undefined;
    }
    return Math.max(1, Math.ceil((1 - tokens) / settings.requestsPerSecond));
  }

  let upstreamMs = 0;
  async function upstream(body: unknown): Promise<unknown> {
    const t = performance.now();
    try {
      return await upstreamRaw(body);
    } finally {
      upstreamMs += performance.now() - t;
    }
  }
  async function upstreamRaw(body: unknown): Promise<unknown> {
    const r = await fetch(o.target, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    return JSON.parse(await r.text()) as unknown;
  }

  let headCache: { n: number; at: number } | undefined;
  async function headNumber(): Promise<number> {
    // The block tags "latest"/"pending" resolve to the node's head (read at most every 50 ms).
    if (headCache && Date.now() - headCache.at < 50) return headCache.n;
    const r = (await upstream({ jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] })) as RpcAnswer;
    headCache = { n: Number(r.result), at: Date.now() };
    return headCache.n;
  }

  async function blockOf(tag: unknown, fallback: "latest" | "earliest"): Promise<number> {
    const t = tag ?? fallback;
    if (t === "earliest") return 0;
    if (typeof t === "string" && /^0x[0-9a-f]+$/i.test(t)) return Number(BigInt(t));
    if (typeof t === "number") return t;
    return headNumber(); // latest, pending, safe, finalized
  }

  /** The provider's own refusal of a call before the node sees it, if any. */
  async function refuse(c: RpcCall): Promise<RpcAnswer | undefined> {
    if (c.method !== "eth_getLogs" || settings.maxLogBlockRange <= 0) return undefined;
    const f = (c.params?.[0] ?? {}) as { fromBlock?: unknown; toBlock?: unknown; blockHash?: unknown };
    if (f.blockHash) return undefined;
    const from = await blockOf(f.fromBlock, "latest");
    const span = (await blockOf(f.toBlock, "latest")) - from + 1;
    if (span <= settings.maxLogBlockRange) return undefined;
    counts.rangeRefused++;
    const message = o.rangeRefusalMessage?.(span, settings.maxLogBlockRange, from) ?? `block range is too wide (${span} blocks, max ${settings.maxLogBlockRange})`;
    return rpcError(c.id, -32005, message);
  }

  async function answerCalls(calls: RpcCall[]): Promise<RpcAnswer[]> {
    const out: (RpcAnswer | undefined)[] = await Promise.all(calls.map(refuse));
    const pass = calls.filter((_, i) => !out[i]);
    if (pass.length > 0) {
      const got = (await upstream(pass)) as RpcAnswer[] | RpcAnswer;
      const list = Array.isArray(got) ? got : [got];
      const byId = new Map(list.map((a) => [JSON.stringify(a.id), a]));
      calls.forEach((c, i) => {
        if (out[i]) return;
        let a = byId.get(JSON.stringify(c.id)) ?? rpcError(c.id, -32603, "internal error");
        if (c.method === "eth_getLogs" && settings.maxLogResults > 0 && Array.isArray(a.result) && a.result.length > settings.maxLogResults) {
          counts.resultsRefused++;
          a = rpcError(c.id, -32005, `query returned more than ${settings.maxLogResults} results`);
        }
        out[i] = a;
      });
    }
    return out as RpcAnswer[];
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    counts.httpRequests++;
    counts.bytesIn += Buffer.byteLength(body);
    const started = Date.now();
    const send = async (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      // The round trip: whatever the node took, the client waits at least the RTT.
      await delay(settings.rttMs - (Date.now() - started));
      if (res.destroyed) return;
      const text = JSON.stringify(payload);
      counts.bytesOut += Buffer.byteLength(text);
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(text);
    };

    const wait = admit();
    if (wait !== undefined) {
      counts.rateLimited++;
      return send(429, rpcError(null, 429, "Too Many Requests"), { "retry-after": String(wait) });
    }
    let parsed: RpcCall | RpcCall[];
    try {
      parsed = JSON.parse(body) as RpcCall | RpcCall[];
    } catch {
      return send(400, rpcError(null, -32700, "parse error"));
    }
    const batch = Array.isArray(parsed);
    const calls = batch ? (parsed as RpcCall[]) : [parsed as RpcCall];
    counts.rpcCalls += calls.length;
    for (const c of calls) counts.byMethod[c.method] = (counts.byMethod[c.method] ?? 0) + 1;
    if (batch && settings.maxBatchCalls > 0 && calls.length > settings.maxBatchCalls) {
      counts.batchRefused++;
      return send(200, rpcError(null, -32600, o.batchRefusalMessage?.(calls.length, settings.maxBatchCalls) ?? `batch size too large (${calls.length} calls, max ${settings.maxBatchCalls})`));
    }
    const answers = await answerCalls(calls);
    return send(200, batch ? answers : answers[0]);
  }

  let inFlight = 0;
  const server = http.createServer((req, res) => {
    inFlight++;
    counts.maxInFlight = Math.max(counts.maxInFlight, inFlight);
    res.once("close", () => inFlight--);
    handle(req, res).catch(() => res.destroy());
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    settings,
    upstreamMs: () => upstreamMs,
    resetCounts: () => {
      upstreamMs = 0;
      Object.assign(counts, zeroCounts());
      tokens = settings.burst;
      refilledAt = Date.now();
    },
    setRtt: (ms) => {
      settings.rttMs = ms;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
