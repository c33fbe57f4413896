import { createHash } from "node:crypto";

/**
 * Bitcoin computations written again for the tests, with node:crypto instead of the double's
 * libraries: the oracle the double's answers are checked against.
 */
export const sha256 = (b: Buffer): Buffer => createHash("sha256").update(b).digest();
export const hash256 = (b: Buffer): Buffer => sha256(sha256(b));
export const rev = (b: Buffer): Buffer => Buffer.from(b).reverse();
/** Display-order hex of the hash256 of some bytes (block hashes, txids). */
export const displayHash = (b: Buffer): string => rev(hash256(b)).toString("hex");

/** The regtest genesis block hash, as published in Bitcoin Core's chainparams. */
export const REGTEST_GENESIS_HASH = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206";

export interface ParsedHeader {
  version: number;
  prev: string;
  merkleRoot: string;
  time: number;
  bits: number;
  nonce: number;
  hash: string;
}

export function parseHeader(hex: string): ParsedHeader {
  const b = Buffer.from(hex, "hex");
  if (b.length !== 80) throw new Error(`header of ${b.length} bytes`);
  return {
    version: b.readInt32LE(0),
    prev: rev(b.subarray(4, 36)).toString("hex"),
    merkleRoot: rev(b.subarray(36, 68)).toString("hex"),
    time: b.readUInt32LE(68),
    bits: b.readUInt32LE(72),
    nonce: b.readUInt32LE(76),
    hash: displayHash(b),
  };
}

/** Target of compact bits: mantissa × 256^(exponent − 3). */
export const targetOf = (bits: number): bigint => BigInt(bits & 0xffffff) * 256n ** BigInt((bits >>> 24) - 3);
export const meetsTarget = (h: ParsedHeader): boolean => BigInt("0x" + h.hash) <= targetOf(h.bits);

/** Folds an Electrum merkle branch (display-order nodes, deepest first) up from a txid at `pos`; display-order root. */
export function rootFromBranch(txid: string, branch: string[], pos: number): string {
  let cur = rev(Buffer.from(txid, "hex"));
  let i = pos;
  for (const node of branch) {
    const n = rev(Buffer.from(node, "hex"));
    cur = i & 1 ? hash256(Buffer.concat([n, cur])) : hash256(Buffer.concat([cur, n]));
    i >>= 1;
  }
  return rev(cur).toString("hex");
}

/** A merkle root over display-order txids, recursively (duplicating an odd level's last node). */
export function merkleRootOf(txids: string[]): string {
  const go = (level: Buffer[]): Buffer => {
    if (level.length === 1) return level[0];
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(hash256(Buffer.concat([level[i], level[i + 1] ?? level[i]])));
    return go(next);
  };
  return rev(go(txids.map((t) => rev(Buffer.from(t, "hex"))))).toString("hex");
}

/** Electrum's script hash: sha256 of the output script, byte-reversed. */
export const electrumScripthash = (scriptHex: string): string => rev(sha256(Buffer.from(scriptHex, "hex"))).toString("hex");

/** Electrum 1.4's status: sha256 of "txid:height:" for each history item, or null. */
export function electrumStatus(history: Array<{ tx_hash: string; height: number }>): string | null {
  if (!history.length) return null;
  return sha256(Buffer.from(history.map((h) => `${h.tx_hash}:${h.height}:`).join(""))).toString("hex");
}
