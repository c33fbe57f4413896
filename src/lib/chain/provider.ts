import fs from "node:fs";
import { ethers } from "ethers";
import { RpcError } from "../errors";
import { redact } from "../redact";
import { Endpoint, EndpointPool, type EndpointStats } from "./endpoint-pool";
import { sleep } from "./sleep";
import { parseQuantity } from "./preflight";
import { isLagging, judgeLag } from "./head-lag";
import { AttemptError, answersOf, isWebSocketUrl, statusError, type Payload, type Result } from "./rpc-wire";
import { existingSocketOf, socketOf } from "./ws-rpc";
import { HeadFeed } from "./head-feed";
import { loadEndpointLimits, rememberBatchCalls, startingBatchMax } from "./endpoint-limits";

export type { EndpointStats } from "./endpoint-pool";

/**
 * A JSON-RPC provider over several URLs. ethers' own JsonRpcProvider waits 300 s per request,
 * never retries a 429 and re-detects the network forever; operators' cron jobs need the opposite:
 * a short timeout, a few retries with backoff, then the next URL, then a clean exit-4 error.
 * A failing URL is remembered (EndpointPool): later calls start at one that works.
 */
export interface RpcStats {
  httpRequests: number;
  rpcCalls: number;
  byMethod: Record<string, number>;
  /** Health of each configured URL, in configured order (live; for metrics). */
  endpoints: EndpointStats[];
}

export interface ConnectOptions {
  rpcUrls: string[];
  chainId?: number;
  timeoutMs?: number;
  retries?: number;
  batchMaxCount?: number;
  /** First backoff delay; doubles on each retry (tests shorten it). Default 250 ms. */
  backoffMs?: number;
  /** First cool-down of a failing URL (doubles per failure in a row, up to maxCoolDownMs). Default 30 s. */
  coolDownMs?: number;
  /** Default 10 min. */
  maxCoolDownMs?: number;
  /** One line per cool-down naming the failing URL (redacted); the caller decides where it goes. */
  onWarning?: (message: string) => void;
  /**
   * "first" (default): eth_chainId alone, awaited before connect() returns. "batched": eth_chainId
   * joins the batch of the first reads, and no answer is handed out (nor any tx broadcast) before
   * it proved the chain: the same refusal, one round trip fewer. Needs a chain id to expect.
   */
  chainCheck?: "first" | "batched";
  /**
   * Blocks an endpoint's head may trail the freshest one before it is set aside (default 3; 0 =
   * no check). Compared only with several endpoints: each pass asks all of them for their head,
   * and every read batch carries an eth_blockNumber that proves the answer's freshness.
   */
  maxLagBlocks?: number;
  /** A batch refusal told us the endpoint's batch cap (to remember it for the next run). */
  onLearnedBatchMax?: (calls: number) => void;
}

export const DEFAULT_TIMEOUT_MS = 15_000;
export const DEFAULT_RETRIES = 3;
export const DEFAULT_BATCH_MAX_COUNT = 100;
export const DEFAULT_MAX_LAG_BLOCKS = 3;
/** The id of the head check added to a read batch (stripped before ethers sees the answers). */
const HEAD_CHECK_ID = "keepctl-head";
const BROADCAST = "eth_sendRawTransaction";
const MAX_BACKOFF_MS = 8_000;

/** The endpoint answered, but refused the batch as too large: split it, do not fail the endpoint. */
class BatchRefusedError extends Error {
  constructor(message: string, readonly cap?: number) {
    super(message);
  }
}

export function newStats(endpoints: EndpointStats[] = []): RpcStats {
  return { httpRequests: 0, rpcCalls: 0, byMethod: {}, endpoints };
}

export class KeepctlProvider extends ethers.JsonRpcProvider {
  readonly stats: RpcStats;
  readonly rpcUrls: readonly string[];
  /** Shared with a provider rebuilt by connect(), so what the first probe learnt is kept. */
  readonly pool: EndpointPool;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly chainId: bigint;
  /** Set by proveChainInBatch(): settles once eth_chainId matched (rejects with the refusal). */
  private chainProof?: Promise<void>;
  readonly maxLagBlocks: number;
  private readonly batchMax: number;
  /** The next read batch starts a head census of every endpoint (beginPass()). */
  private censusDue: boolean;
  /** The census in flight or done for this pass; read batches wait for it before trusting an answer. */
  private census?: Promise<void>;
  /** One single-endpoint provider per endpoint (same Endpoint objects): census and receipt cross-checks. */
  private siblings?: KeepctlProvider[];
  private readonly countInto?: RpcStats;
  private readonly passive: boolean;
  private readonly onLearnedBatchMax?: (calls: number) => void;
  /** The batch cap an endpoint's refusal taught this provider (batches above it are split before sending). */
  learnedBatchMax?: number;

  constructor(rpcUrls: string[], chainId: number, opts: Omit<ConnectOptions, "rpcUrls" | "chainId"> & { pool?: EndpointPool; countInto?: RpcStats; passive?: boolean } = {}) {
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
    this.chainId = BigInt(chainId);
    this.pool = opts.pool ?? new EndpointPool(rpcUrls, { coolDownMs: opts.coolDownMs, maxCoolDownMs: opts.maxCoolDownMs, onWarning: opts.onWarning });
    this.stats = newStats(this.pool.stats);
    this.maxLagBlocks = opts.maxLagBlocks ?? DEFAULT_MAX_LAG_BLOCKS;
    this.batchMax = opts.batchMaxCount ?? DEFAULT_BATCH_MAX_COUNT;
    this.onLearnedBatchMax = opts.onLearnedBatchMax;
    this.countInto = opts.countInto;
    this.passive = opts.passive ?? false;
    this.censusDue = this.comparesHeads;
  }

  private feed?: HeadFeed;

  /**
   * New heads pushed by the first ws:// endpoint configured (undefined without one: poll). Its
   * heads are `trusted` (good as the next pass's head) while the pool has not set it aside.
   */
  headFeed(onNotice: (text: string) => void): { feed: HeadFeed; trusted: () => boolean } | undefined {
    const ep = this.pool.endpoints.find((e) => isWebSocketUrl(e.url));
    if (!ep) return undefined;
    this.feed ??= new HeadFeed(socketOf(ep), ep.label, { timeoutMs: this.timeoutMs, onNotice });
    this.feed.start();
    return { feed: this.feed, trusted: () => this.pool.isHealthy(ep) };
  }

  override destroy(): void {
    this.feed?.stop();
    if (!this.passive) for (const ep of this.pool.endpoints) existingSocketOf(ep)?.close();
    super.destroy();
  }

  /** Several endpoints and a lag limit: heads are compared (with one, preflight judges the head's age). */
  get comparesHeads(): boolean {
    return this.pool.endpoints.length > 1 && this.maxLagBlocks > 0;
  }

  /**
   * A new pass (a watch loop, a bot pass; a one-shot run is one): its first read batch also asks
   * every endpoint for its head, in parallel, so the freshest is known before any answer is used.
   */
  beginPass(): void {
    if (this.comparesHeads) this.censusDue = true;
  }

  /** Each endpoint's own provider (no failover, one attempt): to ask THAT endpoint. */
  private endpointProviders(): KeepctlProvider[] {
    this.siblings ??= this.pool.endpoints.map(
      (ep) => new KeepctlProvider([ep.url], Number(this.chainId), { timeoutMs: this.timeoutMs, retries: 1, backoffMs: this.backoffMs, maxLagBlocks: 0, batchMaxCount: this.batchMax, pool: this.pool.single(ep), countInto: this.stats, passive: true }),
    );
    return this.siblings;
  }

  /**
   * Asks every endpoint not set aside for a failure for its head, then sets the laggards aside.
   * An endpoint whose answer fails is asked again (at least once, up to `retries` times, in parallel with the
   * others): without its head, a lagging endpoint that happened to answer would be the freshest
   * known, and a fresh process would plan on its stale view (the chaos run's lag seeds did).
   */
  private runCensus(): Promise<void> {
    const eps = this.pool.endpoints;
    const askable = eps.filter((ep) => !(this.pool.isCooling(ep) && ep.demotedFor === "failure"));
    const providers = this.endpointProviders();
    this.pool.resetBest();
    return Promise.all(
      askable.map(async (ep) => {
        for (let attempt = 1; ; attempt++) {
          try {
            const n = parseQuantity(await providers[ep.index].send("eth_blockNumber", []), "eth_blockNumber");
            this.pool.observeHead(ep, n);
            return { index: ep.index, number: n };
          } catch {
            // No answer after every attempt: no head to compare; its failure is its own problem.
            if (attempt >= Math.max(2, this.retries)) return { index: ep.index };
            await sleep(this.backoffMs * attempt);
          }
        }
      }),
    ).then((heads) => {
      for (const l of judgeLag(heads, this.maxLagBlocks).laggards) this.pool.lagging(eps[l.index], l.lag);
    });
  }

  /**
   * The receipt of any of `hashes` from whichever endpoint knows it (all asked in parallel, those
   * set aside for a failure excepted): asked before a "no receipt" from one endpoint is taken to
   * mean the transaction is not mined (rebroadcast, re-price, a reorg).
   */
  async receiptFromAny(hashes: readonly string[]): Promise<ethers.TransactionReceipt | null> {
    if (hashes.length === 0) return null;
    const providers = this.endpointProviders().filter((_, i) => !(this.pool.isCooling(this.pool.endpoints[i]) && this.pool.endpoints[i].demotedFor === "failure"));
    const found = await Promise.all(providers.map((p) => Promise.all(hashes.map((h) => p.getTransactionReceipt(h).catch(() => null)))));
    let best: ethers.TransactionReceipt | null = null;
    for (const rs of found) for (const r of rs) if (r && (!best || r.blockNumber > best.blockNumber)) best = r;
    return best;
  }

  /** What the stale-head message weighs: the other endpoints' heads and the servers' clocks (HTTP Date). */
  headEvidence(): { peers: { label: string; head: number }[]; serverSkewSec: number[] } {
    const eps = this.pool.endpoints;
    return {
      peers: eps.filter((e) => e.stats.head !== null).map((e) => ({ label: e.label, head: e.stats.head! })),
      serverSkewSec: eps.map((e) => e.clockSkewSec).filter((x): x is number => x !== undefined),
    };
  }

  /**
   * Sends eth_chainId now, so it shares the batch of whatever else is sent in this tick, and
   * holds every answer back until it proved the chain: a wrong chain's answers are never used
   * (they fail with the chain-id refusal), and a broadcast waits for the proof before it is sent.
   */
  proveChainInBatch(): void {
    this.chainProof = super.send("eth_chainId", []).then(
      (raw) => assertChainId(parseQuantity(raw, "eth_chainId"), Number(this.chainId)),
      (e) => {
        throw e instanceof RpcError ? e : new RpcError(`RPC endpoint failed to report its chain id: ${(e as Error).message?.split("\n")[0]}`, { cause: e });
      },
    );
    this.chainProof.catch(() => undefined); // observed by every send below
  }

  override async send(method: string, params: unknown[] | Record<string, unknown>): Promise<any> {
    const proof = this.chainProof;
    if (!proof) return super.send(method, params);
    if (method === BROADCAST) await proof;
    let result: unknown;
    try {
      result = await super.send(method, params);
    } catch (e) {
      await proof; // a wrong chain is THE error, whatever else failed with it
      throw e;
    }
    await proof;
    return result;
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
    const post: PostOptions = { timeoutMs: this.timeoutMs, retries: this.retries, backoffMs: this.backoffMs, chainId: this.chainId, passive: this.passive, onHttpRequest: () => { this.stats.httpRequests++; if (this.countInto) this.countInto.httpRequests++; } };
    // A broadcast is never retried or batched by the transport: a lost answer does not mean a
    // lost transaction, and a retry of an accepted tx comes back as "nonce too low". One attempt,
    // on the endpoint the pool trusts most; the sender settles an unknown outcome from the chain
    // (and rebroadcasts the same bytes itself).
    const broadcasts = calls.filter((c) => c.method === BROADCAST);
    const others = calls.filter((c) => c.method !== BROADCAST);
    const parts = await Promise.all([
      others.length ? this.postReads(Array.isArray(payload) ? others : others[0], post) : Promise.resolve([]),
      ...broadcasts.map((c) => postWithFailover(this.pool, c, { ...post, maxAttempts: 1 })),
    ]);
    // Error entries are passed through too; ethers maps them per call (the base type is narrow).
    return parts.flat() as ethers.JsonRpcResult[];
  }

  /**
   * Reads, retried as a whole on transport failures (postWithFailover) and call by call when the
   * node answers a transient JSON-RPC error object ("internal error", "header not found"): a
   * public endpoint's hiccup must not decide what keepctl reports. Reverts and bad-request
   * errors are answers, not hiccups: they are passed through.
   */
  private async postReads(payload: Payload, post: PostOptions): Promise<Result[]> {
    const calls = Array.isArray(payload) ? payload : [payload];
    let results = await this.postSplit(payload, post);
    for (let attempt = 1; attempt < this.retries; attempt++) {
      const redo = calls.filter((c) => results.some((r) => r.id === c.id && "error" in r && r.error && isTransientRpcError(r.error)));
      if (redo.length === 0) break;
      await sleep(this.backoffMs * 2 ** (attempt - 1));
      const again = await this.postSplit(Array.isArray(payload) ? redo : redo[0], post);
      results = results.map((r) => again.find((a) => a.id === r.id) ?? r);
    }
    return results;
  }

  /**
   * A batch within the endpoint's cap: split before sending when a refusal taught the cap, and
   * when the endpoint refuses a batch as too large, learn the cap it names (else half the batch)
   * and send the parts side by side. The refusal is an answer, not a failure of the endpoint.
   */
  private async postSplit(payload: Payload, post: PostOptions, depth = 0): Promise<Result[]> {
    const calls = Array.isArray(payload) ? payload : [payload];
    const max = this.learnedBatchMax;
    if (Array.isArray(payload) && max !== undefined && calls.length > max) {
      const parts: Payload[] = [];
      for (let i = 0; i < calls.length; i += max) {
        const part = calls.slice(i, i + max);
        parts.push(part.length === 1 ? part[0] : part);
      }
      return (await Promise.all(parts.map((p) => this.postSplit(p, post, depth + 1)))).flat();
    }
    try {
      return await this.postFresh(payload, post);
    } catch (e) {
      if (!(e instanceof BatchRefusedError) || calls.length <= 1 || depth > 20) {
        if (e instanceof BatchRefusedError) throw new RpcError(`no RPC endpoint answered: ${e.message}`, { hint: "set KEEPCTL_BATCH_MAX_COUNT=1", cause: e });
        throw e;
      }
      // (A named cap equal to this batch means the head check tipped it over: resent without it.)
      // Batches sent side by side are refused side by side: one refusal's lesson is enough.
      if (this.learnedBatchMax !== undefined && this.learnedBatchMax < calls.length) return this.postSplit(payload, post, depth + 1);
      let next = e.cap !== undefined && e.cap <= calls.length ? e.cap : Math.floor(calls.length / 2);
      if (this.learnedBatchMax !== undefined && next >= this.learnedBatchMax) next = Math.floor(calls.length / 2);
      next = Math.max(1, next);
      this.learnedBatchMax = next;
      this.onLearnedBatchMax?.(next);
      return this.postSplit(payload, post, depth + 1);
    }
  }

  private effectiveBatchMax(): number {
    return Math.min(this.batchMax, this.learnedBatchMax ?? Number.POSITIVE_INFINITY);
  }

  /**
   * Reads from an endpoint whose head is not behind the freshest one known. With several
   * endpoints, the batch carries an eth_blockNumber (no extra round trip): an answer produced
   * by an endpoint lagging more than `maxLagBlocks` is thrown away, the endpoint is set aside,
   * and the next one is asked. The first batch of a pass also waits for the pass's head census.
   */
  private async postFresh(payload: Payload, post: PostOptions): Promise<Result[]> {
    if (!this.comparesHeads) return postWithFailover(this.pool, payload, post);
    if (this.censusDue) {
      this.censusDue = false;
      this.census = this.runCensus();
    }
    const calls = Array.isArray(payload) ? payload : [payload];
    // A batch at the size limit (or batching switched off) goes without the check; the census still holds.
    const withHead = this.effectiveBatchMax() > 1 && calls.length < this.effectiveBatchMax();
    const sent: Payload = withHead ? [...calls, { jsonrpc: "2.0", id: HEAD_CHECK_ID as unknown as number, method: "eth_blockNumber", params: [] }] : payload;
    const census = this.census;
    const accept = async (ep: Endpoint, results: Result[]): Promise<string | undefined> => {
      if (!withHead) return undefined;
      const h = results.find((r) => (r.id as unknown) === HEAD_CHECK_ID);
      const n = h && "result" in h && typeof h.result === "string" && /^0x[0-9a-f]+$/i.test(h.result) ? Number(BigInt(h.result)) : undefined;
      if (n === undefined) return undefined; // no head in the answer: nothing to judge by
      await census?.catch(() => undefined);
      this.pool.observeHead(ep, n);
      const best = this.pool.best?.number;
      if (!isLagging(n, best, this.maxLagBlocks)) return undefined;
      this.pool.lagging(ep, best! - n);
      return `its head ${n} is ${best! - n} blocks behind block ${best}`;
    };
    const results = await postWithFailover(this.pool, sent, { ...post, accept });
    if (!withHead) return results;
    const mine = results.filter((r) => (r.id as unknown) !== HEAD_CHECK_ID);
    return Array.isArray(payload) ? mine : mine.slice(0, 1);
  }

  /**
   * ethers turns ANY error object answering eth_call into a CALL_EXCEPTION ("missing revert
   * data") and other ones into "could not coalesce error": an outage would read as a revert (exit
   * 5) or a bug (exit 1). Only a real revert stays a revert; everything else the node said is an
   * RpcError (exit 4) that carries the node's own words (the sender classifies broadcasts by them).
   */
  override getRpcError(payload: ethers.JsonRpcPayload, error: ethers.JsonRpcError): Error {
    const e = error.error as { code?: unknown; message?: unknown; data?: unknown } | undefined;
    if (payload.method === BROADCAST || !e || looksLikeRevert(e)) return super.getRpcError(payload, error);
    const words = String(e.message ?? "no message").replace(/\s+/g, " ").slice(0, 200);
    return new RpcError(`the RPC node answered ${payload.method} with an error: ${redact(words)}${typeof e.code === "number" ? ` (code ${e.code})` : ""}`, {
      code: "NODE_ERROR",
      cause: error,
      hint: "the RPC endpoint is failing or not a full node for this chain; check --rpc-url / KEEPCTL_RPC_URLS or add a fallback URL",
      details: { method: payload.method, rpcCode: e.code },
    });
  }
}

/** A JSON-RPC error object that reports an EVM revert (eth_call / estimateGas), in any client's wording. */
export function looksLikeRevert(e: { code?: unknown; message?: unknown; data?: unknown }): boolean {
  if (e.code === 3) return true;
  if (typeof e.data === "string" && /^0x[0-9a-f]{8}/i.test(e.data)) return true;
  return /revert|vm exception|invalid opcode|out of gas|stack (under|over)flow|invalid jump/i.test(String(e.message ?? ""));
}

/** Worth asking again: not a revert, not a malformed request (-32600..-32602), not a limit (-32005: ask differently). */
function isTransientRpcError(e: { code?: unknown; message?: unknown; data?: unknown }): boolean {
  if (looksLikeRevert(e)) return false;
  if (e.code === -32600 || e.code === -32601 || e.code === -32602 || e.code === -32005) return false;
  return !/range|too many|too large|limit/i.test(String(e.message ?? ""));
}

export interface PostOptions {
  timeoutMs: number;
  /** Attempts on the last endpoint a call tries (the others get one each). */
  retries: number;
  backoffMs: number;
  /** What a probe must read back before a cooled-down endpoint is trusted again. */
  chainId: bigint;
  onHttpRequest: () => void;
  /**
   * Most HTTP requests carrying this payload, over all endpoints (probes not counted). Unset: one
   * per endpoint and `retries` on the last. 1: a payload that must never be sent twice.
   */
  maxAttempts?: number;
  /**
   * Judges an answer before it is used: a reason (the endpoint lags) rejects it, and the next
   * endpoint is asked; the judge has already set the endpoint aside.
   */
  accept?: (ep: Endpoint, results: Result[]) => Promise<string | undefined>;
  /** An answer does not re-admit a cooling endpoint (a head census, a receipt cross-check). */
  passive?: boolean;
}

/**
 * POSTs one payload. Endpoints come from the pool: healthy ones in configured order, cooling ones
 * only when nothing else is left. Each gets one attempt while another endpoint remains (a dead
 * URL costs one attempt per cool-down, not `retries` per call); the last one gets `retries`. When
 * the last one's answer was refused (it lags), the retries go back to those whose one attempt
 * failed on a fault a retry can fix.
 */
export async function postWithFailover(pool: EndpointPool, payload: Payload, o: PostOptions): Promise<Result[]> {
  const body = JSON.stringify(payload);
  const isBatch = Array.isArray(payload);
  const failures: string[] = [];
  const tried = new Set<Endpoint>();
  let budget = o.maxAttempts ?? Number.POSITIVE_INFINITY;
  let refusedAny = false;
  const secondChance: Endpoint[] = [];
  /** The answer, if it came and its judge accepts it; otherwise the reason is recorded. */
  const use = async (ep: Endpoint, r: Attempted): Promise<Result[] | undefined> => {
    if (!r.ok) {
      failures.push(`${ep.label} (${r.error.message})`);
      return undefined;
    }
    const refused = await o.accept?.(ep, r.results);
    if (refused) {
      refusedAny = true;
      failures.push(`${ep.label} (${refused})`);
      return undefined;
    }
    if (!o.passive) pool.succeeded(ep, "call");
    return r.results;
  };
  for (let ep = pool.next(tried); ep && budget > 0; ep = pool.next(tried)) {
    tried.add(ep);
    // Back from a cool-down: prove it with a cheap read while a known-good endpoint remains.
    if (pool.needsProbe(ep) && pool.hasHealthyBesides(ep, tried) && !(await probe(pool, ep, o))) {
      failures.push(`${ep.label} (${ep.stats.lastError})`);
      continue;
    }
    const isLast = pool.next(tried) === undefined;
    const r = await attemptEndpoint(ep, body, isBatch, Math.min(budget, isLast ? o.retries : 1), isLast, o);
    budget -= r.used;
    // A batch refused as too large is an answer from a working endpoint: the caller splits it.
    if (!r.ok && r.error.batchRefused) throw new BatchRefusedError(`${ep.label} (${r.error.message})`, r.error.batchRefused.cap);
    const results = await use(ep, r);
    if (results) return results;
    if (!r.ok) pool.failed(ep, r.error.message, r.error.retryAfterMs);
    if (!r.ok && r.error.retry && !isLast) secondChance.push(ep);
  }
  // The endpoint that went last only lagged (its answers are refused, however often it is asked):
  // the retries belong to those whose one attempt failed on a fault a retry can fix.
  for (const ep of refusedAny ? secondChance : []) {
    if (budget <= 0 || o.retries <= 1) break;
    const r = await attemptEndpoint(ep, body, isBatch, Math.min(budget, o.retries - 1), true, o);
    budget -= r.used;
    const results = await use(ep, r);
    if (results) return results;
  }
  // URL first, detail in parentheses: the CLI's redactor treats a trailing ":" or ";" as part of a URL.
  throw new RpcError(`no RPC endpoint answered: ${failures.join(", ")}`, {
    hint: "check --rpc-url / KEEPCTL_RPC_URLS, or add a second URL for failover",
    details: { failures },
  });
}

type Attempted = { ok: true; results: Result[]; used: number } | { ok: false; error: AttemptError; used: number };

/** Up to `attempts` tries at one endpoint, with backoff; stops early on an error a retry cannot fix. */
async function attemptEndpoint(ep: Endpoint, body: string, isBatch: boolean, attempts: number, isLast: boolean, o: PostOptions): Promise<Attempted> {
  let used = 0;
  for (;;) {
    used++;
    o.onHttpRequest();
    ep.stats.httpRequests++;
    const started = performance.now();
    try {
      const { results, serverDate } = await exchange(ep, body, isBatch, o.timeoutMs);
      for (const f of ep.observers) f(performance.now() - started, true);
      if (serverDate !== undefined) ep.clockSkewSec = serverDate - Date.now() / 1000;
      return { ok: true, results, used };
    } catch (e) {
      for (const f of ep.observers) f(performance.now() - started, false);
      const err = e instanceof AttemptError ? e : new AttemptError(String(e), true);
      // A hung endpoint costs a whole timeout per try: move on while another URL remains.
      const retry = err.retry && !(err.timedOut && !isLast);
      if (!retry || used >= attempts) return { ok: false, error: err, used };
      const delay = Math.min(MAX_BACKOFF_MS, err.retryAfterMs ?? o.backoffMs * 2 ** (used - 1));
      await sleep(delay);
    }
  }
}

/** One eth_chainId at an endpoint whose cool-down ended; concurrent calls share it. */
function probe(pool: EndpointPool, ep: Endpoint, o: PostOptions): Promise<boolean> {
  ep.probing ??= (async () => {
    o.onHttpRequest();
    ep.stats.httpRequests++;
    try {
      const [r] = (await exchange(ep, JSON.stringify({ jsonrpc: "2.0", id: 0, method: "eth_chainId", params: [] }), false, o.timeoutMs)).results;
      if (!("result" in r) || typeof r.result !== "string") throw new AttemptError("probe: no chain id", false);
      if (BigInt(r.result) !== o.chainId) throw new AttemptError(`probe: serves chain ${BigInt(r.result)}, expected ${o.chainId}`, false);
      pool.succeeded(ep, "probe");
      return true;
    } catch (e) {
      const err = e instanceof AttemptError ? e : new AttemptError(String(e), true);
      pool.failed(ep, err.message, err.retryAfterMs);
      return false;
    } finally {
      ep.probing = undefined;
    }
  })();
  return ep.probing;
}

/** One request at one endpoint, over its WebSocket (ws://, wss://) or an HTTP POST. */
function exchange(ep: Endpoint, body: string, isBatch: boolean, timeoutMs: number): Promise<{ results: Result[]; serverDate?: number }> {
  if (isWebSocketUrl(ep.url)) return socketOf(ep).request(body, isBatch, timeoutMs).then((results) => ({ results }));
  return postOnce(ep.url, body, isBatch, timeoutMs);
}

async function postOnce(url: string, body: string, isBatch: boolean, timeoutMs: number): Promise<{ results: Result[]; serverDate?: number }> {
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
  if (!res.ok) throw statusError(res.status, res.headers.get("retry-after"), isBatch);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new AttemptError("answer is not JSON", true);
  }
  const results = answersOf(json, isBatch);
  // The server's clock, to second precision: evidence for whose clock is off when a head looks stale.
  const date = Date.parse(res.headers.get("date") ?? "");
  return { results, serverDate: Number.isFinite(date) ? date / 1000 : undefined };
}

/**
 * Connects and proves the endpoint serves the expected chain. Without a chain id, the first
 * answer decides it (the network stays static afterwards either way).
 */
export async function connect(opts: ConnectOptions): Promise<KeepctlProvider> {
  const { rpcUrls, chainId, chainCheck, ...rest } = opts;
  if (!rpcUrls || rpcUrls.length === 0) {
    throw new RpcError("no RPC URL given", { hint: "pass --rpc-url or set KEEPCTL_RPC_URLS" });
  }
  const provider = new KeepctlProvider(rpcUrls, chainId ?? 1, rest);
  if (chainCheck === "batched" && chainId !== undefined) {
    provider.proveChainInBatch();
    return provider;
  }
  let actual: number;
  try {
    // An answer that is no quantity ("banana") is junk from the node (BAD_RESPONSE), not an outage.
    actual = parseQuantity(await provider.send("eth_chainId", []), "eth_chainId");
  } catch (e) {
    provider.destroy();
    if (e instanceof RpcError) throw e;
    throw new RpcError(`RPC endpoint failed to report its chain id: ${(e as Error).message?.split("\n")[0]}`, { cause: e });
  }
  if (chainId === undefined) {
    // Rebuild with the real network; carry the probe's request count and endpoint health over.
    const real = new KeepctlProvider(rpcUrls, actual, { ...rest, pool: provider.pool });
    real.stats.httpRequests = provider.stats.httpRequests;
    real.stats.rpcCalls = provider.stats.rpcCalls;
    real.stats.byMethod = { ...provider.stats.byMethod };
    provider.destroy();
    return real;
  }
  try {
    assertChainId(actual, chainId);
  } catch (e) {
    provider.destroy();
    throw e;
  }
  return provider;
}

function assertChainId(actual: number, expected: number): void {
  if (actual !== expected) {
    throw new RpcError(`RPC endpoint serves chain ${actual}, expected chain ${expected}`, {
      code: "CHAIN_MISMATCH",
      hint: "point --rpc-url at the right network, or pick the matching --network / --deployment",
      details: { expected, actual },
    });
  }
}

/** connect() with the RPC settings of a loaded Config (structural, so this file needs no config import). */
export function connectWithConfig(cfg: {
  rpcUrls: string[];
  chainId: number;
  rpcTimeoutMs: number;
  rpcRetries: number;
  batchMaxCount: number;
  rpc?: { maxLagBlocks?: number };
  /** Where an endpoint's learned batch cap is remembered (only when the directory exists). */
  dataDir?: string;
}, o: { onWarning?: (message: string) => void; chainCheck?: ConnectOptions["chainCheck"] } = {}): Promise<KeepctlProvider> {
  const url = cfg.rpcUrls[0];
  const dir = cfg.dataDir !== undefined && url !== undefined && fs.existsSync(cfg.dataDir) ? cfg.dataDir : undefined;
  return connect({
    rpcUrls: cfg.rpcUrls,
    chainId: cfg.chainId,
    timeoutMs: cfg.rpcTimeoutMs,
    retries: cfg.rpcRetries,
    batchMaxCount: dir ? startingBatchMax(cfg.batchMaxCount, loadEndpointLimits(dir, url!)) : cfg.batchMaxCount,
    onLearnedBatchMax: dir
      ? (calls) => {
          try {
            rememberBatchCalls(dir, url!, calls);
          } catch {
            // a read-only data dir costs a refusal next run, nothing more
          }
        }
      : undefined,
    maxLagBlocks: cfg.rpc?.maxLagBlocks,
    onWarning: o.onWarning,
    chainCheck: o.chainCheck,
  });
}

/** `keepctl config --check-rpc`: connect (chain id verified), read the head, close. */
export async function probeRpc(cfg: Parameters<typeof connectWithConfig>[0], o: Parameters<typeof connectWithConfig>[1] = {}): Promise<{ chainId: number; latestBlock: number; httpRequests: number }> {
  const provider = await connectWithConfig(cfg, o);
  try {
    const latestBlock = await provider.getBlockNumber();
    return { chainId: Number((await provider.getNetwork()).chainId), latestBlock, httpRequests: provider.stats.httpRequests };
  } finally {
    provider.destroy();
  }
}
