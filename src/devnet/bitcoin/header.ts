import { concatBytes, displayHex, hash256, internalBytes, readU32le, toHex, u32le } from "./bytes";

/** An 80-byte block header; hashes in display order. */
export interface Header {
  version: number;
  prevHash: string;
  merkleRoot: string;
  time: number;
  bits: number;
  nonce: number;
}

/** Regtest's proof-of-work limit (nBits 0x207fffff); regtest never retargets. */
export const REGTEST_BITS = 0x207fffff;

export function serializeHeader(h: Header): Uint8Array {
  return concatBytes(u32le(h.version), internalBytes(h.prevHash), internalBytes(h.merkleRoot), u32le(h.time), u32le(h.bits), u32le(h.nonce));
}

export function parseHeader(b: Uint8Array): Header {
  if (b.length !== 80) throw new Error(`a header is 80 bytes, not ${b.length}`);
  return {
    version: readU32le(b, 0) | 0,
    prevHash: displayHex(b.subarray(4, 36)),
    merkleRoot: displayHex(b.subarray(36, 68)),
    time: readU32le(b, 68),
    bits: readU32le(b, 72),
    nonce: readU32le(b, 76),
  };
}

export const headerHash = (b: Uint8Array): string => displayHex(hash256(b));

/** The compact nBits target expanded (mantissa × 256^(exponent − 3)); negative or overflowing forms give 0. */
export function targetFromBits(bits: number): bigint {
  const exponent = bits >>> 24;
  const mantissa = bits & 0x007fffff;
  if (bits & 0x00800000) return 0n;
  return exponent <= 3 ? BigInt(mantissa) >> BigInt(8 * (3 - exponent)) : BigInt(mantissa) << BigInt(8 * (exponent - 3));
}

/** The header's hash, read as a 256-bit number, is at most its own target. */
export function hasValidPow(b: Uint8Array): boolean {
  const target = targetFromBits(readU32le(b, 72));
  return target > 0n && BigInt("0x" + toHex(hash256(b).reverse())) <= target;
}

/** Expected number of hashes for a header at this target: 2^256 / (target + 1), Core's GetBlockProof. */
export const workFromBits = (bits: number): bigint => (1n << 256n) / (targetFromBits(bits) + 1n);

/** Searches nonces until the header meets its target (about two tries at regtest's target). */
export function mineHeader(h: Header): Uint8Array {
  for (let nonce = h.nonce; nonce <= 0xffffffff; nonce++) {
    const b = serializeHeader({ ...h, nonce });
    if (hasValidPow(b)) return b;
  }
  throw new Error("nonce space exhausted");
}

/** Core's GetDifficulty (a float relative to the 0x1d00ffff target). */
export function difficulty(bits: number): number {
  let shift = (bits >>> 24) & 0xff;
  let diff = 0x0000ffff / (bits & 0x00ffffff);
  while (shift < 29) (diff *= 256), shift++;
  while (shift > 29) (diff /= 256), shift--;
  return diff;
}

/** Median of the last (up to) 11 block times: a new block's time must be greater. */
export function medianTimePast(times: number[]): number {
  const last = times.slice(-11).sort((a, b) => a - b);
  return last[Math.floor(last.length / 2)];
}
