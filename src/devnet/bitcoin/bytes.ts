import { ripemd160 } from "@noble/hashes/legacy";
import { sha256 } from "@noble/hashes/sha2";
import { hex } from "@scure/base";

/**
 * Byte helpers of the Bitcoin double. Hashes are kept as display-order hex strings (what explorers,
 * Electrum and Esplora print: the reverse of the serialized bytes) everywhere a map key or an
 * answer needs them; `internal` bytes are the serialized order (what hash256 outputs).
 */
export const toHex = (b: Uint8Array): string => hex.encode(b);
export const fromHex = (s: string): Uint8Array => hex.decode(s);
export const sha256Bytes = (b: Uint8Array): Uint8Array => sha256(b);
export const hash256 = (b: Uint8Array): Uint8Array => sha256(sha256(b));
export const hash160 = (b: Uint8Array): Uint8Array => ripemd160(sha256(b));
export const reversed = (b: Uint8Array): Uint8Array => Uint8Array.from(b).reverse();
/** Serialized (internal) 32 bytes -> display hex. */
export const displayHex = (internal: Uint8Array): string => toHex(reversed(internal));
/** Display hex -> serialized (internal) bytes. */
export const internalBytes = (display: string): Uint8Array => reversed(fromHex(display));

/** Lower- or upper-case hex of an even length (and of exactly `bytes` bytes when given). */
export function isHex(s: unknown, bytes?: number): s is string {
  if (typeof s !== "string" || s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) return false;
  return bytes === undefined || s.length === bytes * 2;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function u32le(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

export function readU32le(b: Uint8Array, at: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at, true);
}

/** Bitcoin's CompactSize (varint) prefix. */
export function compactSize(n: number): Uint8Array {
  if (n < 0xfd) return Uint8Array.of(n);
  if (n <= 0xffff) return Uint8Array.of(0xfd, n & 0xff, n >>> 8);
  return concatBytes(Uint8Array.of(0xfe), u32le(n));
}

export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** mulberry32: a small, well-known seeded PRNG, so a fault schedule or a filler can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
