import { hex } from "@scure/base";
import type { Payment } from "./coin-select";
import { dustThreshold, feeForVsize, feeRateOf, INCREMENTAL_RELAY_FEE_RATE, MIN_RELAY_FEE_RATE, p2wpkhTxVsize, toMilliSatPerVb } from "./tx-size";

/**
 * A funding transaction that sits in the mempool below the rate it now needs can be bumped two
 * ways; both keep every payment exactly as it was (a deposit's output must stay its lot):
 * - RBF (BIP125; we signal it): the same inputs again, the fee taken from the change. The
 *   replacement must pay the target rate, at least the old fee plus its descendants' fees (rule 3),
 *   plus the incremental relay fee for its own size (rule 4).
 * - CPFP: a child spends our change output of the stuck parent, with a fee that lifts the package
 *   (parent + child) to the target rate; miners take both together.
 * Numbers in, plans out; chooseFeeBump picks the one that costs fewer extra satoshis.
 */
export interface StuckTx {
  /** Virtual size of the transaction as broadcast (measured from its bytes). */
  vsize: number;
  feeSats: bigint;
  /** Sum of the inputs' values. */
  inputsSats: bigint;
  inputCount: number;
  /** Every output but the change, unchanged by a replacement. */
  payments: readonly Payment[];
  /** Our change output, if it has one (CPFP spends it; RBF takes the fee from it). */
  change?: { vout: number; scriptHex: string; valueSats: bigint };
  /** Fees of its unconfirmed descendants (a CPFP child we made): a replacement evicts them and pays for them too. */
  descendantFeesSats?: bigint;
}

export type RbfPlan =
  | { feasible: true; feeSats: bigint; vsize: number; change?: Payment; addedFeeSats: bigint; feeRateSatVb: number }
  | { feasible: false; reason: string };

export type CpfpPlan =
  | { feasible: true; childFeeSats: bigint; childVsize: number; childValueSats: bigint; packageFeeRateSatVb: number }
  | { feasible: false; reason: string };

export type FeeBumpChoice =
  | { method: "none"; reason: string }
  | { method: "rbf"; costSats: bigint; rbf: Extract<RbfPlan, { feasible: true }>; cpfp: CpfpPlan }
  | { method: "cpfp"; costSats: bigint; cpfp: Extract<CpfpPlan, { feasible: true }>; rbf: RbfPlan };

const len = (scriptHex: string) => scriptHex.length / 2;

function targetProblem(tx: StuckTx, targetRate: number, maxRate: number): string | undefined {
  if (targetRate > maxRate) return `the target ${targetRate} sat/vB is above --max-btc-fee-rate ${maxRate} sat/vB`;
  if (tx.feeSats * 1000n >= toMilliSatPerVb(targetRate) * BigInt(tx.vsize)) return `it already pays ${feeRateOf(tx.feeSats, tx.vsize)} sat/vB, at least the target ${targetRate} sat/vB`;
  return undefined;
}

/** The replacement's fee for a size: the target rate, and BIP125's rules 3 and 4. */
function replacementFee(tx: StuckTx, vsize: number, rate: bigint): bigint {
  const byRate = feeForVsize(vsize, rate);
  const byRules = tx.feeSats + (tx.descendantFeesSats ?? 0n) + feeForVsize(vsize, toMilliSatPerVb(INCREMENTAL_RELAY_FEE_RATE));
  return byRate > byRules ? byRate : byRules;
}

export function planRbf(tx: StuckTx, targetRate: number, maxRate: number): RbfPlan {
  const problem = targetProblem(tx, targetRate, maxRate);
  if (problem) return { feasible: false, reason: problem };
  if (!tx.change) return { feasible: false, reason: "it has no change output to take a higher fee from" };
  const rate = toMilliSatPerVb(targetRate);
  const cap = toMilliSatPerVb(maxRate);
  const paySum = tx.payments.reduce((a, p) => a + p.valueSats, 0n);
  const scripts = tx.payments.map((p) => len(p.scriptHex));
  const available = tx.inputsSats - paySum;

  const vsizeChange = p2wpkhTxVsize(tx.inputCount, [...scripts, len(tx.change.scriptHex)]);
  const feeChange = replacementFee(tx, vsizeChange, rate);
  const change = available - feeChange;
  if (change >= dustThreshold(hex.decode(tx.change.scriptHex))) {
    return { feasible: true, feeSats: feeChange, vsize: vsizeChange, change: { scriptHex: tx.change.scriptHex, valueSats: change }, addedFeeSats: feeChange - tx.feeSats, feeRateSatVb: feeRateOf(feeChange, vsizeChange) };
  }
  // Without the change output the whole remainder is the fee: enough, and not above the cap?
  const vsizeBare = p2wpkhTxVsize(tx.inputCount, scripts);
  const needBare = replacementFee(tx, vsizeBare, rate);
  if (available < needBare) return { feasible: false, reason: `the change (${tx.change.valueSats} sat) cannot pay the replacement's fee of ${needBare} sat; more inputs would be needed` };
  if (available > feeForVsize(vsizeBare, cap)) return { feasible: false, reason: `dropping the change would pay ${feeRateOf(available, vsizeBare)} sat/vB, above --max-btc-fee-rate ${maxRate} sat/vB` };
  return { feasible: true, feeSats: available, vsize: vsizeBare, addedFeeSats: available - tx.feeSats, feeRateSatVb: feeRateOf(available, vsizeBare) };
}

/** A child of one P2WPKH input (our change) and one output to `childScriptHex` (a fresh change address). */
export function planCpfp(parent: StuckTx, childScriptHex: string, targetRate: number, maxRate: number): CpfpPlan {
  const problem = targetProblem(parent, targetRate, maxRate);
  if (problem) return { feasible: false, reason: problem };
  if (!parent.change) return { feasible: false, reason: "it has no change output for a child to spend" };
  const childVsize = p2wpkhTxVsize(1, [len(childScriptHex)]);
  const packageFee = feeForVsize(parent.vsize + childVsize, toMilliSatPerVb(targetRate));
  const relayFloor = feeForVsize(childVsize, toMilliSatPerVb(MIN_RELAY_FEE_RATE));
  const needed = packageFee - parent.feeSats;
  const childFeeSats = needed > relayFloor ? needed : relayFloor;
  const childValueSats = parent.change.valueSats - childFeeSats;
  const dust = dustThreshold(hex.decode(childScriptHex));
  if (childValueSats < dust) return { feasible: false, reason: `the change output (${parent.change.valueSats} sat) cannot pay a child fee of ${childFeeSats} sat and keep ${dust} sat` };
  return { feasible: true, childFeeSats, childVsize, childValueSats, packageFeeRateSatVb: feeRateOf(parent.feeSats + childFeeSats, parent.vsize + childVsize) };
}

/** The cheaper of the two in extra satoshis (RBF on a tie: one transaction, no unconfirmed chain). */
export function chooseFeeBump(rbf: RbfPlan, cpfp: CpfpPlan): FeeBumpChoice {
  if (!rbf.feasible && !cpfp.feasible) return { method: "none", reason: rbf.reason === cpfp.reason ? rbf.reason : `RBF: ${rbf.reason}; CPFP: ${cpfp.reason}` };
  if (rbf.feasible && (!cpfp.feasible || rbf.addedFeeSats <= cpfp.childFeeSats)) return { method: "rbf", costSats: rbf.addedFeeSats, rbf, cpfp };
  const c = cpfp as Extract<CpfpPlan, { feasible: true }>;
  return { method: "cpfp", costSats: c.childFeeSats, cpfp: c, rbf };
}
