/**
 * The lease's decisions, as plain numbers in and verdicts out (no database here). Times the
 * database decides (expiry, who holds the row) arrive as its answers; the only local time used is
 * a monotonic clock, for one thing: how long ago our last renewal was confirmed, so a holder that
 * cannot reach the database stops signing before its lease can run out.
 */
export interface LeaseTimings {
  /** How often the holder renews and a standby retries (ms). */
  refreshMs: number;
  /** How long a renewal keeps the lease (ms), counted by the database's clock. */
  durationMs: number;
}

export const DEFAULT_LEASE_TIMINGS: LeaseTimings = { refreshMs: 2_000, durationMs: 15_000 };

/**
 * Why these timings cannot work, or undefined when they can. A refresh above half the duration
 * leaves one missed renewal between the holder and expiry (the rule Chainlink's lease enforces).
 */
export function leaseTimingsProblem(t: LeaseTimings): string | undefined {
  if (!(t.refreshMs > 0) || !(t.durationMs > 0)) return "the lease refresh and duration must be above 0";
  if (t.refreshMs * 2 > t.durationMs) return `--lease-refresh (${t.refreshMs / 1000} s) is more than half of --lease-duration (${t.durationMs / 1000} s): one late renewal would lose the lease`;
  return undefined;
}

/**
 * How long after a confirmed renewal the holder may still sign: the lease's duration less one
 * refresh (the next renewal may be the one that fails) less the longest an RPC call may take (a
 * broadcast begun just before the deadline must reach the chain before the lease is gone). Never
 * below 0: with a slow RPC and a short lease the holder signs only right after a renewal.
 */
export function signingWindowMs(t: LeaseTimings, maxRpcMs: number): number {
  return Math.max(0, t.durationMs - t.refreshMs - maxRpcMs);
}

/**
 * May the holder sign now? `renewedAt` is the monotonic time the last successful renewal was
 * SENT (not answered: the database may have applied it at any point after), undefined if none.
 */
export function maySign(o: { now: number; renewedAt: number | undefined; windowMs: number; lost: boolean }): boolean {
  if (o.lost || o.renewedAt === undefined) return false;
  return o.now - o.renewedAt < o.windowMs;
}

/** What the database said about the lease row after our upsert. */
export interface LeaseAnswer {
  /** Our upsert took or renewed the row. */
  won: boolean;
  /** The row's epoch after the upsert (ours when won; the holder's otherwise; 0: no row). */
  epoch: number;
}

export type LeaseVerdict =
  /** We hold it (taken now, or renewed), at this epoch. */
  | { kind: "held"; epoch: number; takeover: boolean }
  /** Someone else holds it and we never did: wait and try again. */
  | { kind: "standby" }
  /** We held it and now it is someone else's, or our epoch moved: sign nothing more. */
  | { kind: "lost"; epoch: number };

/**
 * Judges one attempt. `ours` is the epoch we held before it (undefined: we held nothing). A won
 * upsert at another epoch than ours means the lease expired and we took it anew — someone may
 * have held it between, so it counts as lost for the old epoch's work (the caller starts over).
 */
export function judgeLease(ours: number | undefined, answer: LeaseAnswer): LeaseVerdict {
  if (ours === undefined) return answer.won ? { kind: "held", epoch: answer.epoch, takeover: true } : { kind: "standby" };
  if (answer.won && answer.epoch === ours) return { kind: "held", epoch: ours, takeover: false };
  return { kind: "lost", epoch: answer.epoch };
}

/** The standby's next try: one refresh, ±10 % so that standbys do not retry in step. `random` in [0, 1). */
export function retryDelayMs(refreshMs: number, random: number): number {
  return Math.round(refreshMs * (0.9 + 0.2 * random));
}
