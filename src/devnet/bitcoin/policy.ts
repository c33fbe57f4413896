import { classifyScript, dustThreshold, isPushOnly } from "./script";
import type { Tx } from "./tx";

/**
 * A refused transaction as Bitcoin Core's sendrawtransaction reports it: the RPC error code (-22
 * decode, -25 missing inputs / max fee, -26 policy or consensus, -27 already confirmed) and the
 * message (`reject-reason[, debug]`), which ElectrumX and Esplora pass on to clients.
 */
export class TxRejected extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

export const RPC_DESERIALIZATION_ERROR = -22;
export const RPC_TRANSACTION_ERROR = -25;
export const RPC_TRANSACTION_REJECTED = -26;
export const RPC_TRANSACTION_ALREADY_IN_CHAIN = -27;

export const rejected = (reason: string) => new TxRejected(RPC_TRANSACTION_REJECTED, reason);

/** Core's FormatMoney: 8 decimals, trailing zeros trimmed to one. */
export function formatMoney(sats: bigint): string {
  const neg = sats < 0n;
  const abs = neg ? -sats : sats;
  let s = `${abs / 100_000_000n}.${(abs % 100_000_000n).toString().padStart(8, "0")}`;
  s = s.replace(/(\.\d*?[0-9])0+$/, "$1");
  return (neg ? "-" : "") + s;
}

/** A fee rate in sat/kvB (integer, as Core's CFeeRate), printed as Core prints it. */
export const feeRateText = (satPerKvB: bigint): string => `${satPerKvB / 100_000_000n}.${(satPerKvB % 100_000_000n).toString().padStart(8, "0")} BTC/kvB`;

/** CFeeRate(fee, vsize): sat per 1000 vB, truncated. */
export const feeRatePerKvB = (fee: bigint, vsize: number): bigint => (fee * 1000n) / BigInt(vsize);

/** CFeeRate::GetFee (rounded up since Core 24): the fee a rate asks of a size. */
export const feeFor = (satPerKvB: bigint, vsize: number): bigint => (satPerKvB * BigInt(vsize) + 999n) / 1000n;

export const MAX_STANDARD_TX_WEIGHT = 400_000;
const MAX_MONEY = 21_000_000n * 100_000_000n;
const STANDARD_OUTPUTS = new Set(["p2pk", "p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr", "anchor", "witness_unknown", "multisig", "op_return"]);

/** Context-free checks (Core's CheckTransaction), then standardness (IsStandardTx), in Core's order. */
export function checkStandalone(tx: Tx): void {
  if (tx.inputs.length === 0) throw rejected("bad-txns-vin-empty");
  if (tx.outputs.length === 0) throw rejected("bad-txns-vout-empty");
  if (tx.strippedSize * 4 > 4_000_000) throw rejected("bad-txns-oversize");
  let total = 0n;
  for (const o of tx.outputs) {
    if (o.value > MAX_MONEY) throw rejected("bad-txns-vout-toolarge");
    total += o.value;
    if (total > MAX_MONEY) throw rejected("bad-txns-txouttotal-toolarge");
  }
  const seen = new Set<string>();
  for (const i of tx.inputs) {
    const k = `${i.prevTxid}:${i.vout}`;
    if (seen.has(k)) throw rejected("bad-txns-inputs-duplicate");
    seen.add(k);
  }
  if (tx.isCoinbase) throw rejected("coinbase");
  if (tx.version < 1 || tx.version > 3) throw rejected("version");
  if (tx.weight > MAX_STANDARD_TX_WEIGHT) throw rejected("tx-size");
  if (tx.strippedSize < 65) throw rejected("tx-size-small");
  for (const i of tx.inputs) {
    if (i.scriptSig.length > 1650) throw rejected("scriptsig-size");
    if (!isPushOnly(i.scriptSig)) throw rejected("scriptsig-not-pushonly");
  }
  // Data-carrier outputs: any number and size within the weight limit (Core 30's default policy).
  for (const o of tx.outputs) {
    if (!STANDARD_OUTPUTS.has(classifyScript(o.script))) throw rejected("scriptpubkey");
    if (o.value < dustThreshold(o.script)) throw rejected("dust");
  }
}
