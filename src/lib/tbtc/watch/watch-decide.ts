import type { Alert } from "../../alert/types";
import { State, stateName } from "../abis";
import { redemptionTimes } from "../redeem/redemption-times";
import type { RedemptionOutcome } from "../redeem/redeemer";
import { formatTbtc } from "../redeem/pipeline";

/**
 * The pure half of `keepctl watch`: given one loop's readings (plain numbers), decide which
 * courtesy calls to send and what to alert about. The loop (watch-loop.ts) does the reading and
 * the sending; what to redeem is planned by the redemption pipeline (pipeline.ts).
 */
/** An alert for AlertHub (dedupe by key); `deposit` is carried in fields. */
export type AlertSpec = Alert;

export interface WatchedDeposit {
  address: string;
  state: number;
  /** Percent, fractional; undefined when unknown (no price). */
  collateralPct?: number;
  undercollateralizedPct: number;
  severePct: number;
  courtesyDeadline: number | null;
  /** Block time of the latest redemption request, for deposits being redeemed. */
  requestedAt?: number;
}

export interface WatchPolicy {
  warnBelowPct: number;
  redeemBelowPct: number;
  notifyCourtesy: boolean;
  feeSats: bigint;
  /** Alert when the account's ETH falls below this (wei). */
  minEthWei: bigint;
  /** Alert when no new block arrived for this long (seconds). */
  maxBlockAgeSec: number;
}

export interface WatchReadings {
  /** Unix seconds (wall clock, for liveness). */
  now: number;
  /** Unix seconds of the chain head (for on-chain deadlines). */
  chainNow: number;
  /** Wall-clock unix seconds when the head last changed. */
  lastNewBlockAt: number;
  deposits: WatchedDeposit[];
  /** undefined in read-only mode (no wallet). */
  ethBalance?: bigint;
}

export interface WatchDecision {
  notifyCourtesy: string[];
  alerts: AlertSpec[];
}

const fmt = (n: number | undefined) => (n === undefined ? "unknown" : `${n.toFixed(2)}%`);

/** Whether a deposit is worth reading redemption facts for this loop. */
export function needsCandidateRead(d: WatchedDeposit, p: Pick<WatchPolicy, "redeemBelowPct">): boolean {
  if (d.state === State.COURTESY_CALL) return true;
  return d.state === State.ACTIVE && d.collateralPct !== undefined && d.collateralPct < p.redeemBelowPct;
}

/** ACTIVE deposits the contract would accept notifyCourtesyCall for (integer % below threshold). */
export function courtesyCallable(d: WatchedDeposit): boolean {
  return d.state === State.ACTIVE && d.collateralPct !== undefined && Math.floor(d.collateralPct) < d.undercollateralizedPct;
}

export function depositAlerts(d: WatchedDeposit, r: Pick<WatchReadings, "chainNow">, p: Pick<WatchPolicy, "warnBelowPct">): AlertSpec[] {
  const out: AlertSpec[] = [];
  const a = d.address;
  if (d.state === State.ACTIVE || d.state === State.COURTESY_CALL) {
    const pct = d.collateralPct;
    if (pct !== undefined && pct < d.severePct) {
      out.push({ key: `liquidation:${a}`, level: "critical", fields: { deposit: a }, title: "deposit can be liquidated", text: `${a} collateralization ${fmt(pct)} is below ${d.severePct}%: anyone may liquidate it now` });
    } else if (d.state === State.COURTESY_CALL) {
      const left = d.courtesyDeadline === null ? "" : d.courtesyDeadline <= r.chainNow ? " (expired: liquidation may start)" : ` (expires in ${Math.ceil((d.courtesyDeadline - r.chainNow) / 60)} min)`;
      out.push({ key: `courtesy:${a}`, level: "critical", fields: { deposit: a }, title: "deposit in courtesy call", text: `${a} is in courtesy call at ${fmt(pct)}${left}` });
    } else if (pct !== undefined && pct < d.undercollateralizedPct) {
      out.push({ key: `courtesy:${a}`, level: "critical", fields: { deposit: a }, title: "deposit below courtesy-call threshold", text: `${a} collateralization ${fmt(pct)} is below ${d.undercollateralizedPct}%` });
    } else if (pct !== undefined && pct < p.warnBelowPct) {
      out.push({ key: `warn:${a}`, level: "warning", fields: { deposit: a }, title: "deposit below warning threshold", text: `${a} collateralization ${fmt(pct)} is below ${p.warnBelowPct}%` });
    }
  }
  if (d.requestedAt !== undefined) {
    const t = redemptionTimes(d.state, d.requestedAt, r.chainNow);
    if (t.overdue === "signature") out.push({ key: `sig-timeout:${a}`, level: "critical", fields: { deposit: a }, title: "redemption signature timed out", text: `${a}: the keep did not sign within 2 h of the request; the signers can be liquidated (notifyRedemptionSignatureTimedOut)` });
    if (t.overdue === "proof") out.push({ key: `proof-timeout:${a}`, level: "critical", fields: { deposit: a }, title: "redemption proof timed out", text: `${a}: no Bitcoin redemption proof within 6 h of the request (notifyRedemptionProofTimedOut is possible)` });
  }
  return out;
}

export function decideLoop(r: WatchReadings, p: WatchPolicy): WatchDecision {
  const alerts: AlertSpec[] = [];
  for (const d of r.deposits) alerts.push(...depositAlerts(d, r, p));
  const notifyCourtesy = p.notifyCourtesy ? r.deposits.filter(courtesyCallable).map((d) => d.address) : [];
  if (r.ethBalance !== undefined && r.ethBalance < p.minEthWei) {
    alerts.push({ key: "eth-low", level: "warning", title: "ETH for gas is low", text: `the account holds ${formatTbtc(r.ethBalance)} ETH, below the ${formatTbtc(p.minEthWei)} ETH minimum` });
  }
  const age = r.now - r.lastNewBlockAt;
  if (age > p.maxBlockAgeSec) {
    alerts.push({ key: "stale-chain", level: "critical", title: "no new block", text: `no new block for ${age} s (limit ${p.maxBlockAgeSec} s): is the RPC endpoint stuck?` });
  }
  return { notifyCourtesy, alerts };
}

/** Collateral alerts of deposits whose redemption was just requested are stale: their bond is safe now. */
export function dropRedeemedAlerts(alerts: AlertSpec[], outcomes: RedemptionOutcome[]): AlertSpec[] {
  const requested = new Set(outcomes.filter((o) => o.status === "requested" || o.status === "already-requested").map((o) => o.deposit));
  return alerts.filter((a) => !(requested.has(String(a.fields?.deposit)) && /^(warn|courtesy|liquidation):/.test(a.key)));
}

export { stateName };

// ---- when to poll the head (watch --on-block) ------------------------------------------------

/**
 * `watch --on-block` looks for a new block about once per block time, not every few seconds: a
 * hosted provider bills every request, and a chain's blocks come at a steady pace (12 s on
 * Ethereum). The pace is measured from the chain itself: the timestamps of the heads seen, and
 * this machine's clock when each was first seen (how late after its timestamp a block shows up
 * here). Pure: the loop feeds it heads and the wall clock.
 */
export interface BlockClock {
  /** Seconds per block between heads seen (newest last). */
  samples: number[];
  /** Wall clock minus block timestamp when a head was first seen (seconds, newest last). */
  lags: number[];
  last?: { number: number; timestamp: number };
}

/** Never poll more often than this (as before: 2 s), nor retry a late block more slowly than RETRY_MAX. */
export const MIN_BLOCK_POLL_SEC = 2;
const RETRY_MAX_SEC = 3;
/** Block timestamps are whole seconds: poll this much after the expected time. */
const TIMESTAMP_MARGIN_SEC = 1;
const KEEP_SAMPLES = 3;
const KEEP_LAGS = 10;

export function newBlockClock(): BlockClock {
  return { samples: [], lags: [] };
}

/** A head seen at wall time `wallSec`; an older block from the same chain seeds the pace. */
export function observeHead(c: BlockClock, head: { number: number; timestamp: number }, wallSec: number): void {
  const last = c.last;
  if (last && head.number <= last.number) return;
  if (last) c.samples = [...c.samples, (head.timestamp - last.timestamp) / (head.number - last.number)].slice(-KEEP_SAMPLES);
  c.lags = [...c.lags, wallSec - head.timestamp].slice(-KEEP_LAGS);
  c.last = { number: head.number, timestamp: head.timestamp };
}

/** The pace from history read once at start (the head and a block some way before it). */
export function seedBlockClock(c: BlockClock, older: { number: number; timestamp: number }, head: { number: number; timestamp: number }): void {
  if (head.number > older.number) c.samples = [(head.timestamp - older.timestamp) / (head.number - older.number), ...c.samples].slice(-KEEP_SAMPLES);
}

/** Seconds per block: the median of the recent samples, at least MIN_BLOCK_POLL_SEC. */
export function blockTimeSec(c: BlockClock): number {
  if (!c.samples.length) return MIN_BLOCK_POLL_SEC;
  const s = [...c.samples].sort((a, b) => a - b);
  const mid = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return Math.max(MIN_BLOCK_POLL_SEC, mid);
}

/**
 * Milliseconds until the next head poll: just after the next block should have reached this
 * machine (the last head's timestamp + the block time + the smallest lag seen), or, once that
 * time has passed without a block, a short retry (a late or missed slot).
 */
export function nextPollDelayMs(c: BlockClock, wallMs: number): number {
  const bt = blockTimeSec(c);
  const retry = Math.min(RETRY_MAX_SEC, Math.max(MIN_BLOCK_POLL_SEC, bt / 4)) * 1000;
  if (!c.last || !c.lags.length) return MIN_BLOCK_POLL_SEC * 1000;
  const due = (c.last.timestamp + bt + Math.min(...c.lags) + TIMESTAMP_MARGIN_SEC) * 1000;
  return due > wallMs ? Math.round(Math.max((MIN_BLOCK_POLL_SEC * 1000) / 2, due - wallMs)) : retry;
}
