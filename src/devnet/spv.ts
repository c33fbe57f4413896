import { ethers } from "ethers";

/**
 * Synthetic Bitcoin data that tBTC v1's SPV checks accept, so deposits can be funded and
 * redeemed on a local chain with no Bitcoin network. Every proof is a one-transaction block
 * (merkle root = txid, empty merkle proof, index 0) under a chain of headers at the easiest
 * regtest target (nBits 0x207fffff). That target's difficulty computes to 0 on chain, so the
 * devnet relay reports 0 for both epochs and the accumulated-work check passes.
 */

/** Arguments shared by provideBTCFundingProof / unqualifiedDepositToTbtc / provideRedemptionProof. */
export interface SpvProof {
  txVersion: string; // bytes4
  txInputVector: string;
  txOutputVector: string;
  txLocktime: string; // bytes4
  merkleProof: string;
  txIndexInBlock: number;
  bitcoinHeaders: string;
  /** hash256 of the serialized tx, internal byte order (what the contracts compare). */
  txid: string;
}

const EASY_NBITS_LE = "ffff7f20"; // 0x207fffff little-endian
const EASY_TARGET = 0x7fffffn << 232n;
const TX_VERSION = "0x01000000";
const TX_LOCKTIME = "0x00000000";
export const PROOF_HEADER_COUNT = 6; // TBTCConstants.getTxProofDifficultyFactor() on mainnet

export function hash256(data: ethers.BytesLike): string {
  return ethers.sha256(ethers.sha256(data));
}

export function hash160(data: ethers.BytesLike): string {
  return ethers.ripemd160(ethers.sha256(data));
}

/** 8-byte little-endian satoshi amount, as `bytes8` arguments and tx outputs carry it. */
export function uint64LE(value: bigint): string {
  if (value < 0n || value >= 1n << 64n) throw new RangeError(`value out of uint64 range: ${value}`);
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, value, true);
  return ethers.hexlify(b);
}

function uint32LE(value: number): string {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, value >>> 0, true);
  return ethers.hexlify(b).slice(2);
}

/** Length-prefixed P2WPKH output script (`0x16 0014 <20-byte hash>`), the form tBTC stores. */
export function p2wpkhScript(compressedPubkey: ethers.BytesLike): string {
  return "0x160014" + hash160(compressedPubkey).slice(2);
}

function strip(hex: string): string {
  return hex.startsWith("0x") ? hex.slice(2) : hex;
}

/** One input spending `outpoint` (36 bytes: txid LE ‖ index LE) with an empty scriptSig. */
function inputVector(outpoint: string): string {
  return "0x01" + strip(outpoint) + "00" + "ffffffff";
}

/** One output: value ‖ length-prefixed script. */
function outputVector(valueSats: bigint, prefixedScript: string): string {
  return "0x01" + strip(uint64LE(valueSats)) + strip(prefixedScript);
}

/**
 * Mines `count` linked headers over `merkleRoot` until each hash (read little-endian) is at
 * most the easy target: about two tries per header.
 */
export function mineHeaders(merkleRoot: string, count = PROOF_HEADER_COUNT, time = Math.floor(Date.now() / 1000)): string {
  let prev = ethers.keccak256(merkleRoot); // any 32 bytes will do for the first parent
  let out = "0x";
  for (let i = 0; i < count; i++) {
    const head = "01000000" + strip(prev) + strip(merkleRoot) + uint32LE(time + i * 600) + EASY_NBITS_LE;
    for (let nonce = 0; ; nonce++) {
      const header = "0x" + head + uint32LE(nonce);
      const digest = hash256(header);
      const asNumber = BigInt("0x" + Buffer.from(ethers.getBytes(digest)).reverse().toString("hex"));
      if (asNumber <= EASY_TARGET) {
        out += strip(header);
        prev = digest;
        break;
      }
    }
  }
  return out;
}

function proveSingleTx(vin: string, vout: string): SpvProof {
  const txid = hash256(ethers.concat([TX_VERSION, vin, vout, TX_LOCKTIME]));
  return {
    txVersion: TX_VERSION,
    txInputVector: vin,
    txOutputVector: vout,
    txLocktime: TX_LOCKTIME,
    merkleProof: "0x",
    txIndexInBlock: 0,
    bitcoinHeaders: mineHeaders(txid),
    txid,
  };
}

/**
 * A funding tx paying `valueSats` to P2WPKH of the keep's compressed key, spending a made-up
 * outpoint derived from `salt` so every deposit gets a distinct txid.
 */
export function buildFundingProof(compressedPubkey: ethers.BytesLike, valueSats: bigint, salt: ethers.BytesLike): SpvProof {
  const prevTxid = ethers.keccak256(ethers.concat([ethers.toUtf8Bytes("keepctl-devnet-funding"), salt]));
  const vin = inputVector(prevTxid + "00000000");
  return proveSingleTx(vin, outputVector(valueSats, p2wpkhScript(compressedPubkey)));
}

/** A redemption tx spending the deposit's UTXO to the redeemer's (length-prefixed) script. */
export function buildRedemptionProof(utxoOutpoint: string, outputValueSats: bigint, redeemerOutputScript: string): SpvProof {
  return proveSingleTx(inputVector(utxoOutpoint), outputVector(outputValueSats, redeemerOutputScript));
}

/** Positional arguments for `provideBTCFundingProof` (output index 0). */
export function fundingProofArgs(p: SpvProof): [string, string, string, string, number, string, number, string] {
  return [p.txVersion, p.txInputVector, p.txOutputVector, p.txLocktime, 0, p.merkleProof, p.txIndexInBlock, p.bitcoinHeaders];
}

/** Positional arguments for `provideRedemptionProof`. */
export function redemptionProofArgs(p: SpvProof): [string, string, string, string, string, number, string] {
  return [p.txVersion, p.txInputVector, p.txOutputVector, p.txLocktime, p.merkleProof, p.txIndexInBlock, p.bitcoinHeaders];
}
