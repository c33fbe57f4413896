import type { JsonRpcProvider } from "ethers";
import { KeepctlError, ExitCode, UsageError } from "../errors";

/** EIP-1559 fee pair, in wei. */
export interface Fees {
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

export const GWEI = 1_000_000_000n;

/** Decimal gwei (e.g. "1.5" or 1.5) to wei, exactly — no float rounding on the integer part. */
export function gweiToWei(gwei: number | string): bigint {
  const s = typeof gwei === "number" ? gwei.toFixed(9) : gwei.trim();
  const m = /^(\d+)(?:\.(\d{0,9})\d*)?$/.exec(s);
  if (!m) throw new UsageError(`not a fee in gwei: "${gwei}"`);
  return BigInt(m[1]) * GWEI + BigInt((m[2] ?? "").padEnd(9, "0"));
}

/** Percent (12.5) as basis points (1250) so all fee math stays in bigint. */
function pctToBps(pct: number): bigint {
  if (!Number.isFinite(pct) || pct < 0) throw new UsageError(`fee bump must be a non-negative percentage, got ${pct}`);
  return BigInt(Math.round(pct * 100));
}

/** Multiplies and rounds UP, so a 12.5% bump is never 12.49% after integer division. */
export function raiseByPct(value: bigint, pct: number): bigint {
  const bps = pctToBps(pct);
  return (value * (10_000n + bps) + 9_999n) / 10_000n;
}

/** Worst case the sender pays: every unit of the gas limit at the max fee. */
export function worstCaseFeeWei(gasLimit: bigint, maxFeePerGas: bigint): bigint {
  return gasLimit * maxFeePerGas;
}

/** The smallest rise a node accepts for a same-nonce replacement: geth and Hardhat demand +10% on both fields. */
export const DEFAULT_REPLACEMENT_PCT = 10;

/**
 * Fees for a replacement at the same nonce. Both fields rise by `bumpPct`, and never by less than
 * the node's replacement rule (`minPct`, default 10%): a smaller step is silently refused by the
 * pool. Returns null when the next VALID step would put the max fee above `cap`: then there is no
 * further replacement (a step clipped to the cap would be rejected as underpriced anyway).
 */
export function bumpFees(fees: Fees, bumpPct: number, cap: bigint, minPct = DEFAULT_REPLACEMENT_PCT): Fees | null {
  const pct = Math.max(bumpPct, minPct);
  let maxFee = raiseByPct(fees.maxFeePerGas, pct);
  if (maxFee <= fees.maxFeePerGas) maxFee = fees.maxFeePerGas + 1n;
  let tip = raiseByPct(fees.maxPriorityFeePerGas, pct);
  if (tip <= fees.maxPriorityFeePerGas) tip = fees.maxPriorityFeePerGas + 1n;
  if (maxFee > cap) return null;
  if (tip > maxFee) tip = maxFee;
  return { maxFeePerGas: maxFee, maxPriorityFeePerGas: tip };
}

/** The base fee is above what the operator allows: sending now could never be mined. */
export class FeeCapError extends KeepctlError {
  constructor(message: string, hint: string) {
    super("FEE_CAP", ExitCode.CONFIG, message, { hint });
  }
}

/**
 * Initial fees: tip from the node (eth_maxPriorityFeePerGas, else 1 gwei), max fee = 2 × base fee
 * + tip (survives ~6 full blocks of base-fee growth), both clipped to the operator's cap.
 */
export async function initialFees(provider: JsonRpcProvider, cap: bigint, minTip = 0n): Promise<Fees & { baseFee: bigint }> {
  const block = await provider.getBlock("latest");
  const baseFee = block?.baseFeePerGas ?? 0n;
  if (baseFee >= cap) {
    throw new FeeCapError(
      `base fee ${formatGwei(baseFee)} gwei is at or above the fee cap ${formatGwei(cap)} gwei`,
      "wait for gas prices to fall, or raise the cap (--max-fee-gwei / KEEPCTL_MAX_FEE_GWEI)",
    );
  }
  let tip: bigint;
  try {
    tip = BigInt(await provider.send("eth_maxPriorityFeePerGas", []));
  } catch {
    tip = GWEI;
  }
  if (tip < minTip) tip = minTip;
  let maxFee = baseFee * 2n + tip;
  if (maxFee > cap) maxFee = cap;
  if (tip > maxFee - baseFee) tip = maxFee - baseFee;
  return { baseFee, maxFeePerGas: maxFee, maxPriorityFeePerGas: tip };
}

/** "12.5" style rendering for messages (9 decimals trimmed). */
export function formatGwei(wei: bigint): string {
  const whole = wei / GWEI;
  const frac = (wei % GWEI).toString().padStart(9, "0").replace(/0+$/, "");
  return frac ? `${whole}.${frac}` : whole.toString();
}
