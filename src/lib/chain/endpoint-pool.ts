import { redactUrl } from "../redact";
import { freshestFirst } from "./head-lag";

/**
 * Memory of which RPC endpoints work. Without it every call started at a dead primary again and
 * paid its retries before failing over (4.6 s for a `check` that takes 0.74 s). A failing
 * endpoint is set aside for a cool-down that doubles on each failure in a row (30 s .. 10 min);
 * once it ends, the endpoint must answer a cheap probe before real calls go back to it. This file
 * holds only the state and the order; the HTTP exchanges live in provider.ts.
 */
export interface EndpointStats {
  /** Origin only: URLs embed API keys. */
  url: string;
  /** "cooling" until re-admitted: after its cool-down ends it stays so until a probe or a call succeeds. */
  state: "healthy" | "cooling";
  /** When the current cool-down ends (ms since the epoch); null when healthy. */
  coolingUntil: number | null;
  /** Cool-downs in a row without a successful call in between (drives the backoff). */
  strikes: number;
  /** Cool-downs started since the provider was created. */
  coolDowns: number;
  httpRequests: number;
  failures: number;
  lastError: string | null;
  lastFailureAt: number | null;
  /** The latest block number it answered (head census or a batch's head), null before any. */
  head: number | null;
  /** Cool-downs started because its head trailed the freshest endpoint's. */
  lagCoolDowns: number;
}

export interface EndpointPoolOptions {
  /** First cool-down; doubles per failure in a row. Default 30 s. */
  coolDownMs?: number;
  /** Longest cool-down. Default 10 min. */
  maxCoolDownMs?: number;
  /** One message per cool-down started (the caller prints it; this module never does). */
  onWarning?: (message: string) => void;
  now?: () => number;
  /** What the warning calls an endpoint (default "RPC endpoint"; the Bitcoin layer says "Bitcoin server"). */
  what?: string;
  /** What it calls the others (default "other endpoints"). */
  others?: string;
}

export const DEFAULT_COOL_DOWN_MS = 30_000;
export const DEFAULT_MAX_COOL_DOWN_MS = 600_000;

export class Endpoint {
  readonly stats: EndpointStats;
  /** A probe in flight, shared by concurrent calls. */
  probing?: Promise<boolean>;
  /** Told of every HTTP attempt at this endpoint (ms, ok); the metrics exporter listens here. */
  readonly observers = new Set<(ms: number, ok: boolean) => void>();
  /** Why the current cool-down started: a failure, or a head behind the freshest. */
  demotedFor?: "failure" | "lag";
  /** Seconds the server's clock (HTTP Date) was ahead of this machine's, at its last answer. */
  clockSkewSec?: number;
  constructor(readonly url: string, readonly index = 0) {
    this.stats = { url: redactUrl(url), state: "healthy", coolingUntil: null, strikes: 0, coolDowns: 0, httpRequests: 0, failures: 0, lastError: null, lastFailureAt: null, head: null, lagCoolDowns: 0 };
  }
  get label(): string {
    return this.stats.url;
  }
}

export class EndpointPool {
  readonly endpoints: readonly Endpoint[];
  private readonly coolDownMs: number;
  private readonly maxCoolDownMs: number;
  private readonly onWarning?: (message: string) => void;
  private readonly what: string;
  private readonly others: string;
  readonly now: () => number;

  /** The freshest head any endpoint answered since the last census (see observeHead). */
  best?: { number: number; endpoint: Endpoint };

  /** Set for a one-endpoint view of a bigger pool (single()): it warns as the bigger one would. */
  private readonly warnsAlone: boolean;

  constructor(urls: readonly string[], opts: EndpointPoolOptions & { endpoints?: Endpoint[]; warnsAlone?: boolean } = {}) {
    this.endpoints = opts.endpoints ?? urls.map((u, i) => new Endpoint(u, i));
    this.warnsAlone = opts.warnsAlone ?? false;
    this.coolDownMs = opts.coolDownMs ?? DEFAULT_COOL_DOWN_MS;
    this.maxCoolDownMs = Math.max(this.coolDownMs, opts.maxCoolDownMs ?? DEFAULT_MAX_COOL_DOWN_MS);
    this.onWarning = opts.onWarning;
    this.now = opts.now ?? Date.now;
    this.what = opts.what ?? "RPC endpoint";
    this.others = opts.others ?? "other endpoints";
  }

  /**
   * A pool of just `e` (the same Endpoint object: its cool-down is shared) that warns like this
   * one: to ask one endpoint in particular (head census, receipt cross-checks).
   */
  single(e: Endpoint): EndpointPool {
    return new EndpointPool([], { endpoints: [e], coolDownMs: this.coolDownMs, maxCoolDownMs: this.maxCoolDownMs, onWarning: this.onWarning, now: this.now, warnsAlone: this.endpoints.length > 1, what: this.what, others: this.others });
  }

  /** Per-endpoint state, live (the provider's stats hold this same array). */
  get stats(): EndpointStats[] {
    return this.endpoints.map((e) => e.stats);
  }

  isCooling(e: Endpoint): boolean {
    return e.stats.coolingUntil !== null && e.stats.coolingUntil > this.now();
  }

  /** Its cool-down is over but it has not proven itself since. */
  needsProbe(e: Endpoint): boolean {
    return e.stats.coolingUntil !== null && e.stats.coolingUntil <= this.now();
  }

  isHealthy(e: Endpoint): boolean {
    return e.stats.coolingUntil === null;
  }

  /**
   * The next endpoint a call should try, given those it already tried: the configured order,
   * skipping endpoints still cooling down; when only those are left, they are still tried (the
   * one that failed longest ago first) rather than failing a call without trying.
   */
  next(tried: ReadonlySet<Endpoint>): Endpoint | undefined {
    const left = this.endpoints.filter((e) => !tried.has(e));
    // The freshest head first (known from the pass's head census), then the configured order.
    const usable = freshestFirst(left.filter((e) => !this.isCooling(e)).map((e) => ({ e, index: e.index, head: e.stats.head ?? undefined })))[0]?.e;
    if (usable) return usable;
    return [...left].sort((a, b) => (a.stats.lastFailureAt ?? 0) - (b.stats.lastFailureAt ?? 0))[0];
  }

  /** Another untried endpoint that is known good, so `e` may be probed before it carries a call. */
  hasHealthyBesides(e: Endpoint, tried: ReadonlySet<Endpoint>): boolean {
    return this.endpoints.some((x) => x !== e && !tried.has(x) && this.isHealthy(x));
  }

  succeeded(e: Endpoint, how: "call" | "probe"): void {
    e.stats.state = "healthy";
    e.stats.coolingUntil = null;
    e.demotedFor = undefined;
    // A probe only re-admits; the backoff is forgiven once the endpoint carries a real call.
    if (how === "call") e.stats.strikes = 0;
  }

  /** Records a failure; starts a new cool-down (and warns) unless one is already running. */
  failed(e: Endpoint, reason: string, retryAfterMs?: number): void {
    const ms = this.coolDown(e, reason, "failure", retryAfterMs);
    // With one endpoint the call's own error says it all; with several, failover would hide it.
    if (ms !== undefined && (this.endpoints.length > 1 || this.warnsAlone)) {
      this.onWarning?.(`${this.what} ${e.label} failed (${reason}); ${this.others} are used first for ${formatSeconds(ms)}`);
    }
  }

  /** A head this endpoint answered: the freshest so far becomes the bar the others are held to. */
  observeHead(e: Endpoint, n: number): void {
    e.stats.head = n;
    if (!this.best || n > this.best.number) this.best = { number: n, endpoint: e };
  }

  /** A new census: the bar is what the endpoints answer now (a chain reset on a devnet lowers it). */
  resetBest(): void {
    this.best = undefined;
  }

  /**
   * Its head trails the freshest by `lag` blocks: set aside like a failing endpoint (same doubling
   * cool-down), with one warning per cool-down naming it, its lag and who is ahead.
   */
  lagging(e: Endpoint, lag: number): void {
    const reason = `its head is ${lag} blocks behind`;
    const ms = this.coolDown(e, reason, "lag");
    if (ms === undefined) return;
    e.stats.lagCoolDowns++;
    // The URL inside parentheses: the redactor would take a trailing ";" for part of it.
    // A flapping endpoint may itself have answered the freshest head earlier in the pass: it went back.
    const ahead = !this.best ? "block ?" : this.best.endpoint !== e ? `block ${this.best.number} (at ${this.best.endpoint.label})` : `block ${this.best.number} (its own earlier answer)`;
    this.onWarning?.(`${this.what} ${e.label} is lagging: its head ${e.stats.head ?? "?"} is ${lag} blocks behind ${ahead}; it is not used for ${formatSeconds(ms)}`);
  }

  /** Starts a cool-down; its length, or undefined when one was already running (no new warning). */
  private coolDown(e: Endpoint, reason: string, why: "failure" | "lag", retryAfterMs?: number): number | undefined {
    const now = this.now();
    e.stats.failures++;
    e.stats.lastError = reason;
    e.stats.lastFailureAt = now;
    if (this.isCooling(e)) return undefined; // a concurrent call, or the last resort while everything cools
    const backoff = Math.min(this.maxCoolDownMs, this.coolDownMs * 2 ** Math.min(e.stats.strikes, 30));
    const ms = Math.min(this.maxCoolDownMs, Math.max(backoff, retryAfterMs ?? 0));
    e.stats.strikes++;
    e.stats.coolDowns++;
    e.stats.state = "cooling";
    e.stats.coolingUntil = now + ms;
    e.demotedFor = why;
    return ms;
  }
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return s >= 1 ? `${Math.round(s)} s` : `${s.toFixed(1)} s`;
}
