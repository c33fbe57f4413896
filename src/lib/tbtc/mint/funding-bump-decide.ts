import { chooseFeeBump, planCpfp, planRbf, type CpfpPlan, type RbfPlan, type StuckTx } from "../../btc/wallet/fee-bump";
import { feeRateOf, toMilliSatPerVb } from "../../btc/wallet/tx-size";

/**
 * A funding transaction waiting in the mempool below the rate the window's blocks need: RBF (a
 * replacement from the same coins, the fee from the change) or CPFP (a child spending our change
 * output, lifting the package), whichever costs fewer extra satoshis for the target rate. Pure:
 * the journaled numbers in, a decision out. Every deposit output stays exactly its lot either way.
 *
 * CPFP wins where BIP125's rule 4 makes a replacement dear — a large funding (many deposits) a
 * little under the target pays at least 1 sat/vB of its own size again to be replaced, while a
 * child pays only the gap on the parent plus its own ~110 vB. A child already journaled means the
 * change is spent: only RBF (which evicts the child and pays for it, rule 3) is left.
 */
export interface FundingBumpInput {
  funding: StuckTx;
  /** Our unconfirmed CPFP child of this funding, if one is journaled. */
  child?: { feeSats: bigint; vsize: number };
  /** sat/vB the blocks the window leaves need (the servers' estimate). */
  targetRate: number;
  /** --max-btc-fee-rate: neither the replacement nor the package is signed above it. */
  maxRate: number;
  /** A watch-only wallet cannot sign a bump (it would need the cold signer). */
  watchOnly: boolean;
}

export type FundingBumpDecision =
  /** The funding (with its child) already pays the target. */
  | { action: "none"; packageRateSatVb: number }
  | { action: "rbf"; costSats: bigint; rbf: Extract<RbfPlan, { feasible: true }> }
  | { action: "cpfp"; costSats: bigint; cpfp: Extract<CpfpPlan, { feasible: true }> }
  /** Neither is possible: the critical alert `stuck funding cannot be bumped`. */
  | { action: "stuck"; reason: string };

/** A P2WPKH script: what sizes the child (its output goes to a fresh change address of the same kind). */
const P2WPKH_STAND_IN = "0014" + "00".repeat(20);

export function decideFundingBump(i: FundingBumpInput): FundingBumpDecision {
  const fee = i.funding.feeSats + (i.child?.feeSats ?? 0n);
  const vsize = i.funding.vsize + (i.child?.vsize ?? 0);
  if (fee * 1000n >= toMilliSatPerVb(i.targetRate) * BigInt(vsize)) return { action: "none", packageRateSatVb: feeRateOf(fee, vsize) };
  if (i.watchOnly) return { action: "stuck", reason: "the wallet is watch-only: a bump would need the cold signer" };
  const rbf = planRbf({ ...i.funding, descendantFeesSats: i.child?.feeSats ?? 0n }, i.targetRate, i.maxRate);
  const cpfp: CpfpPlan = i.child ? { feasible: false, reason: "a child already spends the change output" } : planCpfp(i.funding, P2WPKH_STAND_IN, i.targetRate, i.maxRate);
  const choice = chooseFeeBump(rbf, cpfp);
  if (choice.method === "none") return { action: "stuck", reason: choice.reason };
  if (choice.method === "rbf") return { action: "rbf", costSats: choice.costSats, rbf: choice.rbf };
  return { action: "cpfp", costSats: choice.costSats, cpfp: choice.cpfp };
}
