import { InvalidBitcoinData, fromHex, hash256, internalToDisplay, leToBigInt, readUint32LE } from "./bytes";

/**
 * Block headers: parsing, the proof-of-work rule, difficulty and chain work, and the check of a
 * header chain (each header links to the one before and meets its own target). Pure functions
 * over bytes and numbers; the client (client.ts) decides what a failure means for a server.
 */
export const HEADER_BYTES = 80;

export interface BlockHeader {
  /** The 80 serialized bytes. */
  raw: Uint8Array;
  version: number;
  /** Display order, like every hash this layer prints. */
  prevHash: string;
  merkleRoot: string;
  time: number;
  /** The compact target ("nBits"). */
  bits: number;
  nonce: number;
  /** hash256 of the header, display order. */
  hash: string;
}

export function parseHeader(input: Uint8Array | string): BlockHeader {
  const raw = typeof input === "string" ? fromHex(input, "block header") : input;
  if (raw.length !== HEADER_BYTES) throw new InvalidBitcoinData(`a block header is ${HEADER_BYTES} bytes, got ${raw.length}`);
  return {
    raw,
    version: readUint32LE(raw, 0) | 0,
    prevHash: internalToDisplay(raw.subarray(4, 36)),
    merkleRoot: internalToDisplay(raw.subarray(36, 68)),
    time: readUint32LE(raw, 68),
    bits: readUint32LE(raw, 72),
    nonce: readUint32LE(raw, 76),
    hash: internalToDisplay(hash256(raw)),
  };
}

/** Splits concatenated headers (Electrum's `blockchain.block.headers` hex, a proof's header string). */
export function splitHeaders(input: Uint8Array | string): Uint8Array[] {
  const raw = typeof input === "string" ? fromHex(input, "block headers") : input;
  if (raw.length % HEADER_BYTES !== 0) throw new InvalidBitcoinData(`header bytes must be a multiple of ${HEADER_BYTES}, got ${raw.length}`);
  const out: Uint8Array[] = [];
  for (let at = 0; at < raw.length; at += HEADER_BYTES) out.push(raw.subarray(at, at + HEADER_BYTES));
  return out;
}

/**
 * The target a compact nBits encodes: mantissa × 256^(exponent − 3). Encodings Bitcoin Core
 * treats as invalid are refused rather than read some other way: the sign bit set (a negative
 * target), a zero target (no hash meets it) and a value past 256 bits.
 */
export function targetFromBits(bits: number): bigint {
  if (!Number.isInteger(bits) || bits < 0 || bits > 0xffffffff) throw new InvalidBitcoinData(`nBits ${bits} is not a 32-bit value`);
  const exponent = bits >>> 24;
  const mantissa = bits & 0x007fffff;
  if ((bits & 0x00800000) !== 0 && mantissa !== 0) throw new InvalidBitcoinData(`nBits 0x${hex8(bits)} encodes a negative target`);
  const target = exponent <= 3 ? BigInt(mantissa >>> (8 * (3 - exponent))) : BigInt(mantissa) << BigInt(8 * (exponent - 3));
  if (target === 0n) throw new InvalidBitcoinData(`nBits 0x${hex8(bits)} encodes a zero target`);
  if (target >= 1n << 256n) throw new InvalidBitcoinData(`nBits 0x${hex8(bits)} encodes a target past 256 bits`);
  return target;
}

/** The header's hash read as a little-endian number; proof of work holds when it is ≤ the target. */
export function headerHashValue(raw: Uint8Array): bigint {
  return leToBigInt(hash256(raw));
}

export function meetsTarget(raw: Uint8Array, target: bigint): boolean {
  return headerHashValue(raw) <= target;
}

/** 0xffff × 256^26: the target of nBits 0x1d00ffff, difficulty 1. */
export const DIFF1_TARGET = 0xffffn << 208n;

/** Difficulty as the SPV contracts compute it (bitcoin-spv's calculateDifficulty): DIFF1 / target, integer division. */
export function difficultyOfTarget(target: bigint): bigint {
  return DIFF1_TARGET / target;
}

/** Expected hashes to find a header at this target, 2^256 / (target + 1) (Bitcoin Core's GetBlockProof): "more work" compares sums of these. */
export function workOfTarget(target: bigint): bigint {
  return (1n << 256n) / (target + 1n);
}

export type HeaderChainFailure = "bits" | "pow-limit" | "work" | "link";

export type HeaderChainResult =
  | { ok: true; headers: BlockHeader[]; work: bigint; difficultySum: bigint }
  | { ok: false; index: number; reason: HeaderChainFailure; message: string };

export interface HeaderChainOptions {
  /** Display hash the first header must name as its parent (the last header already verified). */
  prevHash?: string;
  /** Largest target the network allows (networks.ts); a header claiming an easier one is refused. */
  powLimit?: bigint;
}

/**
 * Checks headers in order: each one's nBits decodes, its target is within the network's limit,
 * its hash meets that target, and it names the header before it as its parent (the first one:
 * `prevHash`, when given). Reports the first header that fails and why; else the chain's work.
 * What is NOT checked: that nBits is the value the retarget rule would give (see docs/bitcoin.md).
 */
export function checkHeaderChain(raws: readonly Uint8Array[], opts: HeaderChainOptions = {}): HeaderChainResult {
  const headers: BlockHeader[] = [];
  let work = 0n;
  let difficultySum = 0n;
  let parent = opts.prevHash;
  const limit = opts.powLimit ?? (1n << 256n);
  for (let i = 0; i < raws.length; i++) {
    let header: BlockHeader;
    let target: bigint;
    try {
      header = parseHeader(raws[i]);
      target = targetFromBits(header.bits);
    } catch (e) {
      return { ok: false, index: i, reason: "bits", message: `header ${i}: ${(e as Error).message}` };
    }
    if (target > limit) {
      return { ok: false, index: i, reason: "pow-limit", message: `header ${i} (block ${header.hash}) claims nBits 0x${hex8(header.bits)}, easier than the network allows` };
    }
    if (!meetsTarget(header.raw, target)) {
      return { ok: false, index: i, reason: "work", message: `header ${i} (block ${header.hash}) does not meet its own target (nBits 0x${hex8(header.bits)})` };
    }
    if (parent !== undefined && header.prevHash !== parent) {
      return { ok: false, index: i, reason: "link", message: `header ${i} (block ${header.hash}) names parent block ${header.prevHash}, expected block ${parent}` };
    }
    headers.push(header);
    work += workOfTarget(target);
    difficultySum += difficultyOfTarget(target);
    parent = header.hash;
  }
  return { ok: true, headers, work, difficultySum };
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}
