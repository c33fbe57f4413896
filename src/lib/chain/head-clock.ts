/**
 * Pure: when the head looks stale (or from the future), whose fault is likelier — this machine's
 * clock, the node, or the chain — from what the process can see: the head's timestamp, this
 * machine's clock, the RPC servers' clocks (their HTTP `Date` headers) and, with several
 * endpoints, the other endpoints' heads. It only chooses the words; what is refused does not
 * change (preflight.ts refuses a stale head whatever the reason: acting on it is never safe).
 */
export interface ClockEvidence {
  /** Heads the endpoints answered (the judged head's endpoint among them). */
  peers: { label: string; head: number }[];
  /** Each answering server's clock minus this machine's, in seconds (HTTP Date: whole seconds). */
  serverSkewSec: number[];
}

/** Beyond this, two clocks disagree (HTTP Date has one-second precision; networks add a few). */
export const CLOCK_TOLERANCE_SEC = 60;

export type Likely = "local-clock" | "node" | "all-endpoints" | "unknown";

export interface StaleVerdict {
  likely: Likely;
  /** The clause after the facts, e.g. "this machine's clock is 7200 s ahead of ...". */
  reason: string;
  hint: string;
}

const NODE_HINT = "point --rpc-url at a synced node, or raise KEEPCTL_MAX_HEAD_AGE (0 = no limit)";
const NTP_HINT = "check this machine's clock: `timedatectl status` (is NTP synchronized?), `timedatectl set-ntp true`";

/** The median, so one server with a wrong clock does not decide. */
export function medianSkew(skews: readonly number[]): number | undefined {
  if (skews.length === 0) return undefined;
  const s = [...skews].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const secs = (n: number) => `${Math.round(Math.abs(n))} s`;

/**
 * The head `head` is `now - head.timestamp` s old, more than `maxAgeSec`. Names the likeliest
 * cause: the local clock when the servers' clocks say the head is fresh; the node when another
 * endpoint is ahead of it; all endpoints (or the chain) when they agree with each other and with
 * this machine's clock.
 */
export function explainStale(o: { now: number; head: { number: number; timestamp: number }; maxAgeSec: number; evidence?: ClockEvidence; maxLag?: number }): StaleVerdict {
  const skew = medianSkew(o.evidence?.serverSkewSec ?? []);
  const peers = o.evidence?.peers ?? [];
  const ahead = peers.filter((p) => p.head > o.head.number + (o.maxLag ?? 0)).sort((a, b) => b.head - a.head)[0];
  if (skew !== undefined && Math.abs(skew) > CLOCK_TOLERANCE_SEC && o.now + skew - o.head.timestamp <= o.maxAgeSec) {
    return {
      likely: "local-clock",
      reason: `this machine's clock is likelier wrong: it is ${secs(skew)} ${skew < 0 ? "ahead of" : "behind"} the RPC server's (HTTP Date), by whose clock the head is ${secs(o.now + skew - o.head.timestamp)} old`,
      hint: NTP_HINT,
    };
  }
  if (ahead) {
    return {
      likely: "node",
      reason: `the node is stuck or not synced: ${ahead.label} is at block ${ahead.head} (${ahead.head - o.head.number} blocks ahead)`,
      hint: NODE_HINT,
    };
  }
  const agreeing = peers.length > 1 ? `all ${peers.length} endpoints agree on this head` : undefined;
  const clocksAgree = skew !== undefined && Math.abs(skew) <= CLOCK_TOLERANCE_SEC;
  if (agreeing && clocksAgree) {
    return {
      likely: "all-endpoints",
      reason: `${agreeing} and their servers' clocks (HTTP Date) agree with this machine's: the chain, or every endpoint, has stalled`,
      hint: "check the chain's status and the endpoints' sync, or raise KEEPCTL_MAX_HEAD_AGE (0 = no limit)",
    };
  }
  if (agreeing) {
    return { likely: "local-clock", reason: `${agreeing}: this machine's clock is likelier the odd one out`, hint: NTP_HINT };
  }
  if (clocksAgree) {
    return { likely: "node", reason: "the node is stuck or not synced (the RPC server's clock agrees with this machine's)", hint: NODE_HINT };
  }
  return { likely: "unknown", reason: "the node is stuck or not synced, or this machine's clock is ahead", hint: `${NODE_HINT}; or check this machine's clock (\`timedatectl status\`)` };
}

/** The head is `head.timestamp - now` s in the future: the local clock is behind, or the node answers junk. */
export function explainFuture(o: { now: number; head: { timestamp: number }; toleranceSec: number; evidence?: ClockEvidence }): StaleVerdict {
  const skew = medianSkew(o.evidence?.serverSkewSec ?? []);
  if (skew !== undefined && skew > CLOCK_TOLERANCE_SEC && o.head.timestamp - (o.now + skew) <= o.toleranceSec) {
    return { likely: "local-clock", reason: `this machine's clock is likelier wrong: it is ${secs(skew)} behind the RPC server's (HTTP Date)`, hint: NTP_HINT };
  }
  const junk = "check this machine's clock; otherwise the endpoint answers junk: point --rpc-url at a working node";
  if (skew !== undefined) {
    const why = Math.abs(skew) <= CLOCK_TOLERANCE_SEC ? "the RPC server's clock agrees with this machine's" : "it is in the future by the RPC server's clock too";
    return { likely: "node", reason: `the endpoint answers junk (${why})`, hint: junk };
  }
  return { likely: "unknown", reason: "this machine's clock is behind, or the endpoint answers junk", hint: junk };
}
