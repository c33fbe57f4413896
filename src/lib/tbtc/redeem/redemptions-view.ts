import type { ethers } from "ethers";
import type { Config } from "../../config";
import { State } from "../abis";
import type { OperatorDeposit } from "../read/scan";
import { followRedemptions, type FollowReport } from "./follow";
import type { HistoryTarget } from "./redemption-history";
import { openRedemptionBitcoin } from "./bitcoin";
import { DEFAULT_FOLLOW_POLICY, followPolicyOf } from "./follow-policy";

/**
 * `keepctl redemptions`: what every redemption of the operators' deposits looks like now, read
 * from both chains and decided by the same rules watch acts on — but nothing is sent or broadcast.
 */
export interface RedemptionRow {
  report: FollowReport;
  /** Still in redemption (states 5, 6). */
  live: boolean;
  /** A critical condition: proof deadline near or past, no Bitcoin server, an unknown spend, the fee at its cap. */
  needsAttention: boolean;
  stageText: string;
  json: Record<string, unknown>;
}

/** States a deposit can only be in before any redemption: nothing to look up. */
const NEVER_REDEEMED = new Set<number>([State.START, State.AWAITING_SIGNER_SETUP, State.AWAITING_BTC_FUNDING_PROOF, State.FAILED_SETUP, State.ACTIVE, State.COURTESY_CALL]);

export function redemptionTargets(deposits: readonly OperatorDeposit[], startBlock: number): HistoryTarget[] {
  return deposits.filter((d) => d.state === undefined || !NEVER_REDEEMED.has(d.state)).map((d) => ({ deposit: d.deposit, keep: d.keep, fromBlock: d.createdBlock ?? startBlock }));
}

export async function readRedemptionReports(cfg: Config, provider: ethers.JsonRpcProvider, targets: HistoryTarget[], head: { number: number; timestamp: number }, o: { onWarning?: (m: string) => void } = {}): Promise<RedemptionRow[]> {
  const bitcoin = targets.length ? await openRedemptionBitcoin(cfg, { onWarning: o.onWarning }) : undefined;
  try {
    const reports = await followRedemptions({ provider, system: cfg.contracts.TBTCSystem, bitcoin: bitcoin?.client, policy: followPolicyOf(cfg) ?? DEFAULT_FOLLOW_POLICY, logChunkSize: cfg.logChunkSize }, targets, head);
    return reports.map(rowOf);
  } finally {
    await bitcoin?.close();
  }
}

function rowOf(r: FollowReport): RedemptionRow {
  const live = r.state === "AWAITING_WITHDRAWAL_SIGNATURE" || r.state === "AWAITING_WITHDRAWAL_PROOF";
  const needsAttention = live && r.alerts.some((a) => a.level === "critical");
  return { report: r, live, needsAttention, stageText: stageText(r), json: reportJson(r) };
}

export function stageText(r: FollowReport): string {
  switch (r.stage) {
    case "requested":
      return r.state === "AWAITING_WITHDRAWAL_SIGNATURE" ? "requested, awaiting the keep's signature" : "requested";
    case "signed":
      return "signed";
    case "broadcast-needed":
      return "signed, not on Bitcoin yet";
    case "in-mempool":
      return "in the mempool";
    case "confirming":
      return `${r.confirmations} confirmation(s)`;
    case "provable":
      return `${r.confirmations} confirmations, provable`;
    case "unknown-spender":
      return "spent by an unknown transaction";
    case "ended":
      return r.state === "REDEEMED" ? "proven (redeemed)" : `ended (${r.state})`;
  }
}

const iso = (t?: number) => (t === undefined ? null : new Date(t * 1000).toISOString());

export function reportJson(r: FollowReport): Record<string, unknown> {
  return {
    deposit: r.deposit,
    state: r.state,
    stage: r.stage,
    requester: r.requester ?? null,
    digest: r.digest ?? null,
    requestedAt: iso(r.requestedAt),
    deadlines: { signature: iso(r.signatureDeadline), feeIncreaseFrom: iso(r.feeIncreaseFrom), proof: iso(r.proofDeadline) },
    feeIncreases: r.feeIncreases,
    feeSats: r.feeSats ?? null,
    feeRateSatVb: r.feeRateSatVb ?? null,
    marketFeeRateSatVb: r.marketFeeRate ?? null,
    btcTxid: r.btcTxid ?? r.redeemedTxid ?? null,
    confirmations: r.confirmations ?? null,
    alerts: r.alerts.map((a) => ({ key: a.key, level: a.level, title: a.title, text: a.text })),
    ...(r.error ? { error: r.error } : {}),
  };
}
