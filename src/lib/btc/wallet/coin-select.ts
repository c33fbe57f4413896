import { hex } from "@scure/base";
import { ConfigError, InsufficientFundsError, UsageError } from "../../errors";
import type { AddressChain } from "./account";
import { dustThreshold, feeForVsize, feeRateOf, MIN_RELAY_FEE_RATE, p2wpkhTxVsize, toMilliSatPerVb } from "./tx-size";

/**
 * Coin selection for the funding transaction: numbers in, a decision out, no network.
 *
 * - Every payment is paid EXACTLY its amount (a deposit's funding output must equal its lot).
 * - Inputs: confirmed coins first, largest first (fewest inputs, smallest fee), ties by txid and
 *   output index, so the same wallet always gives the same transaction; unconfirmed coins only
 *   when the confirmed ones do not cover the payments (a funding transaction with an unconfirmed
 *   parent cannot confirm before it).
 * - Change goes to a fresh change address only when it is not dust (Bitcoin Core's rule: at least
 *   294 sat for P2WPKH); a smaller remainder is left to the fee, and the selection says so.
 * - The fee pays at least the target rate for the worst-case signed size (rounded up to a whole
 *   satoshi), and never more than the cap would (rounded the same way): a remainder that would lift the rate above the cap makes the selector take one more
 *   coin (so that the remainder becomes change) rather than overpay.
 */
export interface Utxo {
  txid: string;
  vout: number;
  valueSats: bigint;
  /** The output's script (our P2WPKH), hex. */
  scriptHex: string;
  /** 0: in the mempool. */
  confirmations: number;
  /** Where the wallet derives its key. */
  chain: AddressChain;
  index: number;
}

export interface Payment {
  scriptHex: string;
  valueSats: bigint;
}

export interface SelectParams {
  utxos: readonly Utxo[];
  payments: readonly Payment[];
  /** Target fee rate, sat/vB (decimals allowed). */
  feeRateSatVb: number;
  /** --max-btc-fee-rate: never paid above. */
  maxFeeRateSatVb: number;
  /** Script of the fresh change address (only its length matters for the size). */
  changeScriptHex: string;
  /** false: mempool coins are never used. Default true (they are still used last). */
  allowUnconfirmed?: boolean;
}

export interface Selection {
  inputs: Utxo[];
  payments: Payment[];
  /** Present when the remainder is worth an output; it comes after the payments. */
  change?: Payment;
  feeSats: bigint;
  /** Upper bound of the signed transaction's virtual size (72-byte signatures). */
  vsize: number;
  /** feeSats / vsize: the least rate the signed transaction pays. */
  feeRateSatVb: number;
  /** A remainder below the dust threshold, added to the fee (0 when there is change). */
  leftToFeeSats: bigint;
  usesUnconfirmed: boolean;
  /** What the operator should know about this choice (fee floor, remainder left to the fee). */
  notes: string[];
}

function scriptBytes(scriptHex: string): Uint8Array {
  if (!/^([0-9a-fA-F]{2})+$/.test(scriptHex)) throw new Error(`output script "${scriptHex}" is not hex`);
  return hex.decode(scriptHex);
}

/** Spending order: confirmed before unconfirmed, then largest first, then txid and index. */
export function spendOrder(a: Utxo, b: Utxo): number {
  const conf = Number(b.confirmations > 0) - Number(a.confirmations > 0);
  if (conf !== 0) return conf;
  if (a.valueSats !== b.valueSats) return a.valueSats > b.valueSats ? -1 : 1;
  if (a.txid !== b.txid) return a.txid < b.txid ? -1 : 1;
  return a.vout - b.vout;
}

function checkParams(p: SelectParams): { rate: bigint; cap: bigint; notes: string[] } {
  const notes: string[] = [];
  if (p.payments.length === 0) throw new UsageError("nothing to pay: a funding transaction needs at least one output");
  p.payments.forEach((pay, i) => {
    const dust = dustThreshold(scriptBytes(pay.scriptHex));
    if (pay.valueSats < dust) throw new UsageError(`payment ${i + 1} of ${pay.valueSats} sat is below the dust threshold of its script (${dust} sat)`, { hint: "pay at least the dust threshold; Bitcoin nodes do not relay smaller outputs" });
  });
  const seen = new Set<string>();
  for (const u of p.utxos) {
    const id = `${u.txid}:${u.vout}`;
    if (seen.has(id)) throw new Error(`coin ${id} is listed twice`);
    seen.add(id);
  }
  let rateSatVb = p.feeRateSatVb;
  if (rateSatVb < MIN_RELAY_FEE_RATE) {
    notes.push(`fee rate ${rateSatVb} sat/vB raised to the ${MIN_RELAY_FEE_RATE} sat/vB relay minimum`);
    rateSatVb = MIN_RELAY_FEE_RATE;
  }
  if (rateSatVb > p.maxFeeRateSatVb) {
    throw new ConfigError(`the fee rate ${rateSatVb} sat/vB is above --max-btc-fee-rate ${p.maxFeeRateSatVb} sat/vB; nothing is signed above the cap`, {
      code: "FEE_CAP",
      hint: "wait for lower fees, or raise --max-btc-fee-rate (env KEEPCTL_MAX_BTC_FEE_RATE)",
    });
  }
  return { rate: toMilliSatPerVb(rateSatVb), cap: toMilliSatPerVb(p.maxFeeRateSatVb), notes };
}

/** Chooses the inputs and the change; throws InsufficientFundsError naming the shortfall. */
export function selectCoins(p: SelectParams): Selection {
  const { rate, cap, notes } = checkParams(p);
  const payScripts = p.payments.map((x) => scriptBytes(x.scriptHex).length);
  const changeScript = scriptBytes(p.changeScriptHex);
  const changeDust = dustThreshold(changeScript);
  const paySum = p.payments.reduce((a, x) => a + x.valueSats, 0n);
  const candidates = p.utxos.filter((u) => p.allowUnconfirmed !== false || u.confirmations > 0).sort(spendOrder);

  const inputs: Utxo[] = [];
  let total = 0n;
  let overCap: { feeSats: bigint; vsize: number } | undefined;
  for (const u of candidates) {
    inputs.push(u);
    total += u.valueSats;
    const vsizeBare = p2wpkhTxVsize(inputs.length, payScripts);
    const feeBare = feeForVsize(vsizeBare, rate);
    if (total < paySum + feeBare) continue;
    const vsizeChange = p2wpkhTxVsize(inputs.length, [...payScripts, changeScript.length]);
    const change = total - paySum - feeForVsize(vsizeChange, rate);
    const usesUnconfirmed = inputs.some((i) => i.confirmations === 0);
    if (change >= changeDust) {
      const feeSats = total - paySum - change;
      return { inputs, payments: [...p.payments], change: { scriptHex: p.changeScriptHex, valueSats: change }, feeSats, vsize: vsizeChange, feeRateSatVb: feeRateOf(feeSats, vsizeChange), leftToFeeSats: 0n, usesUnconfirmed, notes };
    }
    const feeSats = total - paySum;
    if (feeSats > feeForVsize(vsizeBare, cap)) {
      overCap = { feeSats, vsize: vsizeBare };
      continue;
    }
    const leftToFeeSats = feeSats - feeBare;
    if (leftToFeeSats > 0n) notes.push(`no change output: the remainder of ${leftToFeeSats} sat is below the dust threshold (${changeDust} sat) and is left to the fee`);
    return { inputs, payments: [...p.payments], feeSats, vsize: vsizeBare, feeRateSatVb: feeRateOf(feeSats, vsizeBare), leftToFeeSats, usesUnconfirmed, notes };
  }
  if (overCap) {
    throw new ConfigError(`leaving the remainder to the fee would pay ${feeRateOf(overCap.feeSats, overCap.vsize)} sat/vB, above --max-btc-fee-rate ${p.maxFeeRateSatVb} sat/vB, and no other coin can take it as change`, {
      code: "FEE_CAP",
      hint: "add a coin to the wallet, or raise --max-btc-fee-rate (env KEEPCTL_MAX_BTC_FEE_RATE)",
    });
  }
  // What one more coin must bring so that the payments and the fee (with that coin as an input) are covered.
  const need = paySum + feeForVsize(p2wpkhTxVsize(candidates.length + 1, payScripts), rate);
  const shortfall = need - total;
  const unconfirmedLeftOut = p.allowUnconfirmed === false && p.utxos.some((u) => u.confirmations === 0);
  throw new InsufficientFundsError(`not enough BTC: the payments and fee need ${need} sat, the wallet has ${total} sat${unconfirmedLeftOut ? " confirmed" : ""}; short by ${shortfall} sat`, {
    hint: "send at least the shortfall, in one transaction, to the wallet's next receive address (`keepctl btc-wallet address`)",
    details: { shortfallSats: shortfall, neededSats: need, availableSats: total },
  });
}
