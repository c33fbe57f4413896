import * as btc from "@scure/btc-signer";
import { secp256k1 } from "@noble/curves/secp256k1";
import { hex } from "@scure/base";
import { ethers } from "ethers";

/**
 * tBTC v1's redemption transaction is canonical (docs/redemption in keep-network/tbtc, and
 * CheckBitcoinSigs.wpkhSpendSighash): version 1, one input — the deposit's UTXO, a P2WPKH of the
 * signers' key — with nSequence 0, one output paying `utxoValue − requestedFee` to the redeemer's
 * script, locktime 0, SIGHASH_ALL under BIP143. So anyone can rebuild it from Ethereum events
 * alone (RedemptionRequested: UTXO value, script, fee, outpoint; the keep's signature; the signers'
 * public key) and broadcast it: the signers' client never does. This module rebuilds it with
 * @scure/btc-signer, and refuses to produce bytes that the contract's digest or the signature do
 * not vouch for — a tx that does not verify must never leave the process.
 */
export interface RedemptionTxFacts {
  /** The deposit's UTXO as the contract stores it: txid (internal byte order) ‖ uint32 LE index, 36 bytes. */
  outpoint: string;
  utxoValueSats: bigint;
  /** The redeemer's output script WITH its length byte, as RedemptionRequested carries it. */
  redeemerScript: string;
  /** The (cumulative) fee of this version: `_requestedFee` of its RedemptionRequested. */
  feeSats: bigint;
  /** The signers' key, 64 bytes X ‖ Y (RegisteredPubkey, or the keep's getPublicKey()). */
  signerPubkey64: string;
}

export interface SignedRedemptionTx {
  /** Raw segwit serialization, hex without 0x. */
  raw: string;
  /** As explorers and Bitcoin servers print it (byte-reversed). */
  txid: string;
  /** As the contract compares it (Redeemed._txid): internal byte order, 0x-prefixed. */
  txidLE: string;
  vsize: number;
  outputValueSats: bigint;
  /** feeSats / vsize. */
  feeRateSatVb: number;
}

export class RedemptionTxError extends Error {}

/** 33-byte compressed key from the contract's 64-byte X ‖ Y (DepositUtils.determineCompressionPrefix). */
export function compressSignerKey(pubkey64: string): Uint8Array {
  const b = ethers.getBytes(pubkey64);
  if (b.length !== 64) throw new RedemptionTxError(`signer key must be 64 bytes (X ‖ Y), got ${b.length}`);
  const out = new Uint8Array(33);
  out[0] = b[63] & 1 ? 0x03 : 0x02;
  out.set(b.subarray(0, 32), 1);
  return out;
}

function unprefixedScript(redeemerScript: string): Uint8Array {
  const b = ethers.getBytes(redeemerScript);
  if (b.length < 2 || b[0] !== b.length - 1) throw new RedemptionTxError(`redeemer script must carry its length byte (got ${b.length} bytes, length byte ${b[0]})`);
  return b.subarray(1);
}

function parseOutpoint(outpoint: string): { txid: string; index: number } {
  const b = ethers.getBytes(outpoint);
  if (b.length !== 36) throw new RedemptionTxError(`outpoint must be 36 bytes, got ${b.length}`);
  const index = new DataView(b.buffer, b.byteOffset + 32, 4).getUint32(0, true);
  return { txid: hex.encode(Uint8Array.from(b.subarray(0, 32)).reverse()), index };
}

/** The unsigned canonical transaction of one fee version. */
function unsignedTx(f: RedemptionTxFacts): { tx: btc.Transaction; signerKey: Uint8Array; outputValueSats: bigint } {
  const outputValueSats = f.utxoValueSats - f.feeSats;
  if (f.feeSats <= 0n || outputValueSats <= 0n) throw new RedemptionTxError(`fee ${f.feeSats} sat does not fit the UTXO of ${f.utxoValueSats} sat`);
  const signerKey = compressSignerKey(f.signerPubkey64);
  const { txid, index } = parseOutpoint(f.outpoint);
  const tx = new btc.Transaction({ version: 1, lockTime: 0, allowUnknownOutputs: true });
  tx.addInput({ txid, index, sequence: 0, witnessUtxo: { script: btc.p2wpkh(signerKey).script, amount: f.utxoValueSats } });
  tx.addOutput({ script: unprefixedScript(f.redeemerScript), amount: outputValueSats });
  return { tx, signerKey, outputValueSats };
}

/**
 * The BIP143 SIGHASH_ALL digest the signers sign for this version: equal to the request's
 * `_digest` (and the keep's `digest`) when the facts are right.
 */
export function redemptionSighash(f: RedemptionTxFacts): string {
  const { tx, signerKey } = unsignedTx(f);
  // P2WPKH's script code is the P2PKH script of the key's hash.
  const scriptCode = btc.p2pkh(signerKey).script;
  return ethers.hexlify(tx.preimageWitnessV0(0, scriptCode, btc.SigHash.ALL, f.utxoValueSats));
}

/**
 * The signed transaction of one version: checks that the facts give the contract's `digest` and
 * that (r, s) is a valid low-s signature of it by the signers' key, then adds the witness
 * [DER(r, s) ‖ 01, compressed key]. Throws RedemptionTxError when either check fails.
 */
export function buildSignedRedemptionTx(f: RedemptionTxFacts, digest: string, sig: { r: string; s: string }): SignedRedemptionTx {
  const sighash = redemptionSighash(f);
  if (sighash.toLowerCase() !== digest.toLowerCase()) {
    throw new RedemptionTxError(`the rebuilt transaction's sighash ${sighash} is not the requested digest ${digest}`);
  }
  const { tx, signerKey, outputValueSats } = unsignedTx(f);
  const signature = new secp256k1.Signature(BigInt(sig.r), BigInt(sig.s));
  if (signature.hasHighS()) throw new RedemptionTxError("the signature is not low-s (the contract would refuse it, and so would Bitcoin's relay policy)");
  if (!secp256k1.verify(signature.toBytes("compact"), ethers.getBytes(digest), signerKey, { prehash: false, lowS: true, format: "compact" })) {
    throw new RedemptionTxError("the signature does not verify against the signers' key");
  }
  const der = signature.toBytes("der");
  const withType = new Uint8Array(der.length + 1);
  withType.set(der);
  withType[der.length] = btc.SigHash.ALL;
  tx.updateInput(0, { finalScriptWitness: [withType, signerKey] }, true);
  const raw = hex.encode(tx.extract());
  const vsize = tx.vsize;
  return { raw, txid: tx.id, txidLE: "0x" + hex.encode(hex.decode(tx.id).reverse()), vsize, outputValueSats, feeRateSatVb: Number(f.feeSats) / vsize };
}
