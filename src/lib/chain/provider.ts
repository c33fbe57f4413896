import { ethers } from "ethers";
import { RpcError } from "../errors";
import { redactUrl } from "../redact";

/**
 * A JSON-RPC provider over several URLs. ethers' own JsonRpcProvider waits 300 s per request,
 * never retries a 429 and re-detects the network forever; operators' cron jobs need the opposite:
 * a short timeout, a few retries with backoff, then the next URL, then a clean exit-4 error.
 */
export interface RpcStats {
  httpRequests: number;
  rpcCalls: number;
  byMethod: Record<string, number>;
}

export interface ConnectOptions {
  rpcUrls: string[];
  chainId?: number;
  timeoutMs?: number;
  retries?: number;
  batchMaxCount?: number;
  /** First backoff delay; doubles on each retry (tests shorten it). Default 250 ms. */
  backoffMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 15_000;
export const DEFAULT_RETRIES = 3;
export const DEFAULT_BATCH_MAX_COUNT = 100;
const BROADCAST = "eth_sendRawTransaction";
const MAX_BACKOFF_MS = 8_000;

type Payload = ethers.JsonRpcPayload | ethers.JsonRpcPayload[];
type Result = ethers.JsonRpcResult | ethers.JsonRpcError;

/** A failed HTTP exchange; `retry` says whether the same URL is worth another attempt. */
class AttemptError extends Error {
  constructor(message: string, readonly retry: boolean, readonly retryAfterMs?: number, readonly timedOut = false) {
    super(message);
  }
}

export function newStats(): RpcStats {
  return { httpRequests: 0, rpcCalls: 0, byMethod: {} };
}

export class KeepctlProvider extends ethers.JsonRpcProvider {
  readonly stats: RpcStats = newStats();
  readonly rpcUrls: readonly string[];
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;

  constructor(rpcUrls: string[], chainId: number, opts: Omit<ConnectOptions, "rpcUrls" | "chainId"> = {}) {
    if (rpcUrls.length === 0) throw new RpcError("no RPC URL given", { hint: "pass --rpc-url or set KEEPCTL_RPC_URLS" });
    const network = ethers.Network.from(chainId);
    super(rpcUrls[0], network, {
      staticNetwork: network,
      batchMaxCount: opts.batchMaxCount ?? DEFAULT_BATCH_MAX_COUNT,
      // No response cache: a sender must never read a receipt or state from before its own tx
      // mined, and a race check re-reads what was read moments ago.
      cacheTimeout: -1,
    });
    this.rpcUrls = [...rpcUrls];
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.retries = Math.max(1, opts.retries ?? DEFAULT_RETRIES);
    this.backoffMs = opts.backoffMs ?? 250;
  }

  resetStats(): void {
    this.stats.httpRequests = 0;
    this.stats.rpcCalls = 0;
    this.stats.byMethod = {};
  }

  override async _send(payload: Payload): Promise<ethers.JsonRpcResult[]> {
    const calls = Array.isArray(payload) ? payload : [payload];
    this.stats.rpcCalls += calls.length;
    for (const c of calls) this.stats.byMethod[c.method] = (this.stats.byMethod[c.method] ?? 0) + 1;
    const post = { timeoutMs: this.timeoutMs, retries: this.retries, backoffMs: this.backoffMs, onHttpRequest: () => { this.stats.httpRequests++; } };
    // A broadcast is never retried, failed over or batched by the transport: a lost answer does
    // not mean a lost transaction, and a retry of an accepted tx comes back as "nonce too low".
    // The sender decides what to do with an unknown outcome (it rebroadcasts the same bytes).
    const broadcasts = calls.filter((c) => c.method === BROADCAST);
    if (broadcasts.length === 0) return (await postWithFailover(this.rpcUrls, payload, post)) as ethers.JsonRpcResult[];
    const others = calls.filter((c) => c.method !== BROADCAST);
    const parts = await Promise.all([
      others.length ? postWithFailover(this.rpcUrls, others, post) : Promise.resolve([]),
      ...broadcasts.map((c) => postWithFailover(this.rpcUrls.slice(0, 1), c, { ...post, retries: 1 })),
    ]);
    // Error entries are passed through too; ethers maps them per call (the base type is narrow).
    return parts.flat() as ethers.JsonRpcResult[];
  }
}

interface PostOptions {
  timeoutMs: number;
  retries: number;
  backoffMs: number;
  onHttpRequest: () => void;
}

/** POSTs one payload: each URL in order, up to `retries` attempts each, backoff between attempts. */
async function postWithFailover(urls: readonly string[], payload: Payload, o: PostOptions): Promise<Result[]> {
  const body = JSON.stringify(payload);
  const failures: string[] = [];
  for (const [i, url] of urls.entries()) {
    const isLast = i === urls.length - 1;
    for (let attempt = 1; attempt <= o.retries; attempt++) {
      try {
        o.onHttpRequest();
        return await postOnce(url, body, Array.isArray(payload), o.timeoutMs);
      } catch (e) {
        const err = e instanceof AttemptError ? e : new AttemptError(String(e), true);
        // A hung endpoint costs a whole timeout per try: move on while another URL remains.
        const retry = err.retry && !(err.timedOut && !isLast);
        if (!retry || attempt === o.retries) {
          failures.push(`${redactUrl(url)} (${err.message})`);
          break;
        }
        const delay = Math.min(MAX_BACKOFF_MS, err.retryAfterMs ?? o.backoffMs * 2 ** (attempt - 1));
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }
  // URL first, detail in parentheses: the CLI's redactor treats a trailing ":" or ";" as part of a URL.
  throw new RpcError(`no RPC endpoint answered: ${failures.join(", ")}`, {
    hint: "check --rpc-url / KEEPCTL_RPC_URLS, or add a second URL for failover",
    details: { failures },
  });
}

async function postOnce(url: string, body: string, isBatch: boolean, timeoutMs: number): Promise<Result[]> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await res.text();
  } catch (e) {
    const name = (e as { name?: string }).name;
    if (name === "TimeoutError" || name === "AbortError") throw new AttemptError(`timed out after ${timeoutMs} ms`, true, undefined, true);
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new AttemptError(cause?.code ?? cause?.message ?? "network error", true);
  }
  if (res.status === 429 || res.status >= 500) {
    throw new AttemptError(`HTTP ${res.status}`, true, retryAfterMs(res.headers.get("retry-after")));
  }
  if (!res.ok) {
    // 401/403/404 will not change on retry; a 400 to a batch usually means "no batches here".
    const hint = isBatch && res.status === 400 ? " (batch rejected? set KEEPCTL_BATCH_MAX_COUNT=1)" : "";
    throw new AttemptError(`HTTP ${res.status}${hint}`, false);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new AttemptError("answer is not JSON", true);
  }
  if (isBatch && !Array.isArray(json)) {
    const msg = (json as { error?: { message?: string } })?.error?.message ?? "non-array answer";
    if (/rate|too many/i.test(msg)) throw new AttemptError(`rate limited: ${msg}`, true);
    throw new AttemptError(`batch rejected: ${msg} (set KEEPCTL_BATCH_MAX_COUNT=1)`, false);
  }
  const results = (Array.isArray(json) ? json : [json]) as Result[];
  // Some gateways answer HTTP 200 with a rate-limit error instead of 429.
  if (results.length > 0 && results.every(isRateLimitError)) throw new AttemptError("rate limited", true);
  return results;
}

function isRateLimitError(r: Result): boolean {
  if (!("error" in r) || !r.error) return false;
  return r.error.code === 429 || /rate limit|too many requests/i.test(String(r.error.message));
}

function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const s = Number(header);
  return Number.isFinite(s) && s >= 0 ? s * 1000 : undefined;
}

/**
 * Connects and proves the endpoint serves the expected chain. Without a chain id, the first
 * answer decides it (the network stays static afterwards either way).
 */
export async function connect(opts: ConnectOptions): Promise<KeepctlProvider> {
  const { rpcUrls, chainId, ...rest } = opts;
  if (!rpcUrls || rpcUrls.length === 0) {
    throw new RpcError("no RPC URL given", { hint: "pass --rpc-url or set KEEPCTL_RPC_URLS" });
  }
  const provider = new KeepctlProvider(rpcUrls, chainId ?? 1, rest);
  let actual: number;
  try {
    actual = Number(BigInt(await provider.send("eth_chainId", [])));
  } catch (e) {
    provider.destroy();
    if (e instanceof RpcError) throw e;
    throw new RpcError(`RPC endpoint failed to report its chain id: ${(e as Error).message?.split("\n")[0]}`, { cause: e });
  }
  if (chainId === undefined) {
    // Rebuild with the real network; carry the probe's request count over.
    const real = new KeepctlProvider(rpcUrls, actual, rest);
    real.stats.httpRequests = provider.stats.httpRequests;
    real.stats.rpcCalls = provider.stats.rpcCalls;
    real.stats.byMethod = { ...provider.stats.byMethod };
    provider.destroy();
    return real;
  }
  if (actual !== chainId) {
    provider.destroy();
    throw new RpcError(`RPC endpoint serves chain ${actual}, expected chain ${chainId}`, {
      code: "CHAIN_MISMATCH",
      hint: "point --rpc-url at the right network, or pick the matching --network / --deployment",
      details: { expected: chainId, actual },
    });
  }
  return provider;
}

/** connect() with the RPC settings of a loaded Config (structural, so this file needs no config import). */
export function connectWithConfig(cfg: {
  rpcUrls: string[];
  chainId: number;
  rpcTimeoutMs: number;
  rpcRetries: number;
  batchMaxCount: number;
}): Promise<KeepctlProvider> {
  return connect({
    rpcUrls: cfg.rpcUrls,
    chainId: cfg.chainId,
    timeoutMs: cfg.rpcTimeoutMs,
    retries: cfg.rpcRetries,
    batchMaxCount: cfg.batchMaxCount,
  });
}

/** `keepctl config --check-rpc`: connect (chain id verified), read the head, close. */
export async function probeRpc(cfg: Parameters<typeof connectWithConfig>[0]): Promise<{ chainId: number; latestBlock: number; httpRequests: number }> {
  const provider = await connectWithConfig(cfg);
  try {
    const latestBlock = await provider.getBlockNumber();
    return { chainId: Number((await provider.getNetwork()).chainId), latestBlock, httpRequests: provider.stats.httpRequests };
  } finally {
    provider.destroy();
  }
}
