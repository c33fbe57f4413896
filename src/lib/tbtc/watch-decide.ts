import type { Alert } from "../alert/types";
import { State, stateName } from "./abis";
import { redemptionTimes } from "./progress";
import type { RedemptionOutcome } from "./redeemer";
import { formatTbtc } from "./pipeline";

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
