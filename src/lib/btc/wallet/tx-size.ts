/**
 * Transaction sizes and fees, computed from the serialization rules (BIP141 weight, BIP144
 * serialization) rather than measured: the coin selector needs them before any signature exists.
 *
 * Every input of this wallet is P2WPKH. Its witness is [signature, public key]: a DER signature of
 * at most 71 bytes plus the sighash byte (low-S; 72 bytes with a high R), and a 33-byte compressed
 * key. The estimate takes the 72-byte worst case, so the fee paid is never below rate × the size
 * the signed transaction really has (a low-R signature is one byte, 0.25 vB, smaller).
 */
export const P2WPKH_SCRIPT_BYTES = 22;
/** outpoint 36 + script length 1 (empty scriptSig) + nSequence 4. */
const INPUT_BASE_BYTES = 41;
/** item count 1 + (length 1 + signature 72) + (length 1 + public key 33). */
export const P2WPKH_WITNESS_BYTES = 108;
/** Bitcoin Core's dust relay fee (DUST_RELAY_TX_FEE), sat per 1000 vB. */
export const DUST_RELAY_FEE_SAT_PER_KVB = 3000n;
/** Bitcoin Core's default minimum relay and incremental relay fee rates used here, sat/vB. */
export const MIN_RELAY_FEE_RATE = 1;
export const INCREMENTAL_RELAY_FEE_RATE = 1;

/** Bytes of a Bitcoin CompactSize integer. */
export function compactSizeBytes(n: number): number {
  if (n < 0xfd) return 1;
  if (n <= 0xffff) return 3;
  if (n <= 0xffffffff) return 5;
  return 9;
}

/** Serialized size of one output: amount 8, script length, script. */
export function outputBytes(scriptBytes: number): number {
  return 8 + compactSizeBytes(scriptBytes) + scriptBytes;
}

/**
 * Weight (BIP141) of a segwit transaction spending `inputs` P2WPKH inputs to outputs whose scripts
 * have these lengths: non-witness bytes count 4, the marker, flag and witnesses count 1.
 */
export function p2wpkhTxWeight(inputs: number, outputScriptBytes: readonly number[]): number {
  const base = 4 + compactSizeBytes(inputs) + inputs * INPUT_BASE_BYTES + compactSizeBytes(outputScriptBytes.length) + outputScriptBytes.reduce((a, s) => a + outputBytes(s), 0) + 4;
  const witness = 2 + inputs * P2WPKH_WITNESS_BYTES;
  return base * 4 + witness;
}

/** Virtual size: weight / 4, rounded up (as Bitcoin Core's GetVirtualTransactionSize). */
export function vsizeOfWeight(weight: number): number {
  return Math.ceil(weight / 4);
}

export function p2wpkhTxVsize(inputs: number, outputScriptBytes: readonly number[]): number {
  return vsizeOfWeight(p2wpkhTxWeight(inputs, outputScriptBytes));
}

/** A fee rate in sat/vB as an exact integer of millisatoshi per vB (1.5 sat/vB -> 1500). */
export function toMilliSatPerVb(rateSatVb: number): bigint {
  if (!Number.isFinite(rateSatVb) || rateSatVb < 0) throw new Error(`fee rate ${rateSatVb} sat/vB is not a rate`);
  return BigInt(Math.round(rateSatVb * 1000));
}

/** The least whole-satoshi fee that pays `rate` for `vsize`: ceil(rate × vsize). */
export function feeForVsize(vsize: number, rateMilliSatVb: bigint): bigint {
  const msat = rateMilliSatVb * BigInt(vsize);
  return (msat + 999n) / 1000n;
}

/** fee / vsize in sat/vB, for reports (3 decimals). */
export function feeRateOf(feeSats: bigint, vsize: number): number {
  return Math.round((Number(feeSats) / vsize) * 1000) / 1000;
}

/** A witness program (BIP141): OP_0..OP_16 then a single push of 2 to 40 bytes. */
export function isWitnessProgram(script: Uint8Array): boolean {
  if (script.length < 4 || script.length > 42) return false;
  const version = script[0];
  if (version !== 0x00 && (version < 0x51 || version > 0x60)) return false;
  return script[1] + 2 === script.length;
}

/**
 * Bitcoin Core's dust threshold (policy.cpp GetDustThreshold) at the default dust relay fee: an
 * output is dust when it is worth less than the fee of spending it: (its size + the size of the
 * input that would spend it) × 3 sat/vB. P2WPKH: (31 + 67) × 3 = 294 sat; P2WSH and P2TR 330;
 * P2PKH 546; P2SH 540. OP_RETURN outputs are never dust (they are never spent).
 */
export function dustThreshold(script: Uint8Array): bigint {
  if (script.length > 0 && script[0] === 0x6a) return 0n;
  const out = outputBytes(script.length);
  // A witness input costs 32 + 4 + 1 + 107 / 4 + 4 (integer division, as Core does) = 67 vB.
  const spend = isWitnessProgram(script) ? 32 + 4 + 1 + Math.floor(107 / 4) + 4 : 32 + 4 + 1 + 107 + 4;
  return (BigInt(out + spend) * DUST_RELAY_FEE_SAT_PER_KVB) / 1000n;
}
