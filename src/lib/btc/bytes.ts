import { sha256 } from "@noble/hashes/sha2";
import { hex } from "@scure/base";

/**
 * Byte helpers for Bitcoin data. Two byte orders meet here: the "internal" order in which
 * hashes are serialized inside transactions and headers (what hash256 outputs), and the
 * reversed "display" order in which explorers, Electrum, Esplora and Bitcoin Core print txids,
 * block hashes and merkle nodes. Every hex string this layer hands out is display order unless
 * its name says LE/internal.
 */

/** Malformed Bitcoin data (a header, a transaction, a branch): the message says what is wrong. */
export class InvalidBitcoinData extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidBitcoinData";
  }
}

/** Hex (an optional 0x, even length) to bytes; `what` names the value in the error. */
export function fromHex(s: string, what = "hex value"): Uint8Array {
  const bare = s.startsWith("0x") || s.startsWith("0X") ? s.slice(2) : s;
  if (bare.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(bare)) throw new InvalidBitcoinData(`${what} is not hex`);
  return hex.decode(bare.toLowerCase());
}

export function toHex(b: Uint8Array): string {
  return hex.encode(b);
}

export function reversed(b: Uint8Array): Uint8Array {
  return Uint8Array.from(b).reverse();
}

/** A 32-byte hash printed in display order, as the bytes serialized inside Bitcoin data. */
export function displayToInternal(hash: string, what = "hash"): Uint8Array {
  const b = fromHex(hash, what);
  if (b.length !== 32) throw new InvalidBitcoinData(`${what} is not 32 bytes`);
  return reversed(b);
}

/** Internal-order hash bytes as the hex explorers print. */
export function internalToDisplay(b: Uint8Array): string {
  return toHex(reversed(b));
}

/** A txid or block hash as display hex: 64 hex digits, lowercased; anything else is refused. */
export function normalizeHash(hash: string, what = "hash"): string {
  if (!/^[0-9a-fA-F]{64}$/.test(hash)) throw new InvalidBitcoinData(`${what} must be 64 hex digits`);
  return hash.toLowerCase();
}

export function sha256Bytes(b: Uint8Array): Uint8Array {
  return sha256(b);
}

/** Bitcoin's double SHA-256 (txids, block hashes, merkle nodes). */
export function hash256(b: Uint8Array): Uint8Array {
  return sha256(sha256(b));
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

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function readUint32LE(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

/** Bytes read as one little-endian unsigned number (a block hash compared with its target). */
export function leToBigInt(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]);
  return n;
}
