import { redactUrl } from "../redact";

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
  constructor(readonly url: string) {
    this.stats = { url: redactUrl(url), state: "healthy", coolingUntil: null, strikes: 0, coolDowns: 0, httpRequests: 0, failures: 0, lastError: null, lastFailureAt: null };
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

  constructor(urls: readonly string[], opts: EndpointPoolOptions = {}) {
    this.endpoints = urls.map((u) => new Endpoint(u));
    this.coolDownMs = opts.coolDownMs ?? DEFAULT_COOL_DOWN_MS;
    this.maxCoolDownMs = Math.max(this.coolDownMs, opts.maxCoolDownMs ?? DEFAULT_MAX_COOL_DOWN_MS);
    this.onWarning = opts.onWarning;
    this.now = opts.now ?? Date.now;
    this.what = opts.what ?? "RPC endpoint";
    this.others = opts.others ?? "other endpoints";
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
    const usable = left.find((e) => !this.isCooling(e));
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
    // A probe only re-admits; the backoff is forgiven once the endpoint carries a real call.
    if (how === "call") e.stats.strikes = 0;
  }

  /** Records a failure; starts a new cool-down (and warns) unless one is already running. */
  failed(e: Endpoint, reason: string, retryAfterMs?: number): void {
    const now = this.now();
    e.stats.failures++;
    e.stats.lastError = reason;
    e.stats.lastFailureAt = now;
    if (this.isCooling(e)) return; // a concurrent call, or the last resort while everything cools
    const backoff = Math.min(this.maxCoolDownMs, this.coolDownMs * 2 ** Math.min(e.stats.strikes, 30));
    const ms = Math.min(this.maxCoolDownMs, Math.max(backoff, retryAfterMs ?? 0));
    e.stats.strikes++;
    e.stats.coolDowns++;
    e.stats.state = "cooling";
    e.stats.coolingUntil = now + ms;
    // With one endpoint the call's own error says it all; with several, failover would hide it.
    if (this.endpoints.length > 1) {
      this.onWarning?.(`${this.what} ${e.label} failed (${reason}); ${this.others} are used first for ${formatSeconds(ms)}`);
    }
  }
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return s >= 1 ? `${Math.round(s)} s` : `${s.toFixed(1)} s`;
}
