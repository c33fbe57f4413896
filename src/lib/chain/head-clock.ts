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
      reason: `but by the RPC server's clock (HTTP Date) it is ${secs(o.now + skew - o.head.timestamp)} old: this machine's clock is ${secs(skew)} ${skew < 0 ? "ahead of" : "behind"} the server's, and is likelier the one that is off`,
      hint: NTP_HINT,
    };
  }
  if (ahead) {
    return {
      likely: "node",
      reason: `another endpoint is ahead: ${ahead.label} is at block ${ahead.head} (${ahead.head - o.head.number} blocks ahead): this node is stuck or not synced`,
      hint: "point --rpc-url at a synced node (or let the fresher endpoint go first), or raise KEEPCTL_MAX_HEAD_AGE (0 = no limit)",
    };
  }
  const agree = peers.length > 1 ? `all ${peers.length} endpoints agree on this head` : undefined;
  if (skew !== undefined && Math.abs(skew) <= CLOCK_TOLERANCE_SEC) {
    return {
      likely: agree ? "all-endpoints" : "node",
      reason: `${agree ? `${agree} and` : "the RPC server's clock (HTTP Date)"} ${agree ? "their servers' clocks agree" : "agrees"} with this machine's: ${agree ? "the chain itself, or every endpoint, has stalled" : "the node is stuck or not synced"}`,
      hint: agree ? "check the chain's status and the endpoints' sync, or raise KEEPCTL_MAX_HEAD_AGE (0 = no limit)" : "point --rpc-url at a synced node, or raise KEEPCTL_MAX_HEAD_AGE (0 = no limit)",
    };
  }
  if (agree) {
    return {
      likely: "local-clock",
      reason: `${agree} (the latest is ${o.head.number}): when independent nodes agree, this machine's clock is likelier the odd one out`,
      hint: NTP_HINT,
    };
  }
  return {
    likely: "unknown",
    reason: "the node is stuck or not synced, unless this machine's clock is ahead",
    hint: "point --rpc-url at a synced node, check this machine's clock (`timedatectl status`), or raise KEEPCTL_MAX_HEAD_AGE (0 = no limit)",
  };
}

/** The head is `head.timestamp - now` s in the future: the local clock is behind, or the node answers junk. */
export function explainFuture(o: { now: number; head: { timestamp: number }; toleranceSec: number; evidence?: ClockEvidence }): StaleVerdict {
  const skew = medianSkew(o.evidence?.serverSkewSec ?? []);
  if (skew !== undefined && o.head.timestamp - (o.now + skew) <= o.toleranceSec) {
    return {
      likely: "local-clock",
      reason: `but not by the RPC server's clock (HTTP Date): this machine's clock is ${secs(skew)} behind the server's`,
      hint: NTP_HINT,
    };
  }
  return {
    likely: skew === undefined ? "unknown" : "node",
    reason: skew === undefined ? "either this machine's clock is behind or the endpoint answers junk" : "the RPC server's clock agrees with this machine's: the endpoint answers junk",
    hint: "check this machine's clock (`timedatectl status`); otherwise point --rpc-url at a working node",
  };
}
