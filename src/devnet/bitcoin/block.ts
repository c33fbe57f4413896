import { compactSize, concatBytes, fromHex, hash256, internalBytes, toHex } from "./bytes";
import { headerHash, parseHeader, type Header } from "./header";
import { merkleRoot } from "./merkle";
import { isWitnessCommitment, WITNESS_COMMITMENT_HEADER } from "./script";
import { parseTx, serializeTx, type Tx } from "./tx";

export interface Block {
  hash: string;
  header: Header;
  headerBytes: Uint8Array;
  txs: Tx[];
  size: number;
  strippedSize: number;
  weight: number;
}

/**
 * Bitcoin's regtest genesis block, byte for byte (Core's chainparams: the mainnet genesis
 * coinbase, time 1296688602, nBits 0x207fffff, nonce 2). Its hash is
 * 0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206.
 */
export const REGTEST_GENESIS_HEX =
  "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4adae5494dffff7f2002000000" +
  "01" +
  "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000";

export const COINBASE_MATURITY = 100;
/** Regtest halves the subsidy every 150 blocks (Core's nSubsidyHalvingInterval for regtest). */
export const REGTEST_HALVING_INTERVAL = 150;
export const MAX_BLOCK_WEIGHT = 4_000_000;

export function blockSubsidy(height: number): bigint {
  const halvings = Math.floor(height / REGTEST_HALVING_INTERVAL);
  return halvings >= 64 ? 0n : 5_000_000_000n >> BigInt(halvings);
}

export function serializeBlock(headerBytes: Uint8Array, txs: Tx[]): Uint8Array {
  return concatBytes(headerBytes, compactSize(txs.length), ...txs.map((t) => t.raw));
}

export function assembleBlock(headerBytes: Uint8Array, txs: Tx[]): Block {
  const size = 80 + compactSize(txs.length).length + txs.reduce((n, t) => n + t.size, 0);
  const strippedSize = 80 + compactSize(txs.length).length + txs.reduce((n, t) => n + t.strippedSize, 0);
  return { hash: headerHash(headerBytes), header: parseHeader(headerBytes), headerBytes, txs, size, strippedSize, weight: strippedSize * 3 + size };
}

/** Parses a serialized block (header, tx count, transactions back to back). */
export function parseBlock(raw: Uint8Array): Block {
  const headerBytes = raw.subarray(0, 80);
  let at = 80;
  const first = raw[at];
  let count = first;
  if (first === 0xfd) (count = raw[at + 1] | (raw[at + 2] << 8)), (at += 3);
  else at += 1;
  const txs: Tx[] = [];
  for (let i = 0; i < count; i++) {
    const len = txLength(raw, at);
    txs.push(parseTx(raw.slice(at, at + len)));
    at += len;
  }
  if (at !== raw.length) throw new Error("trailing bytes after the block's transactions");
  return assembleBlock(Uint8Array.from(headerBytes), txs);
}

/** Length of the transaction starting at `at` (walks the serialization without decoding scripts). */
function txLength(b: Uint8Array, start: number): number {
  let at = start + 4;
  const varint = () => {
    const x = b[at];
    if (x < 0xfd) return (at += 1), x;
    if (x === 0xfd) return (at += 3), b[at - 2] | (b[at - 1] << 8);
    const v = new DataView(b.buffer, b.byteOffset + at + 1).getUint32(0, true);
    return (at += x === 0xfe ? 5 : 9), v;
  };
  const segwit = b[at] === 0 && b[at + 1] === 1;
  if (segwit) at += 2;
  const ins = varint();
  // `at += varint()` would read `at` before varint() moves it: take the length first.
  const skip = () => {
    const n = varint();
    at += n;
  };
  for (let i = 0; i < ins; i++) {
    at += 36;
    skip();
    at += 4;
  }
  const outs = varint();
  for (let i = 0; i < outs; i++) {
    at += 8;
    skip();
  }
  if (segwit) for (let i = 0; i < ins; i++) for (let n = varint(), k = 0; k < n; k++) skip();
  return at + 4 - start;
}

export const txMerkleRoot = (txs: Tx[]): string => toHex(merkleRoot(txs.map((t) => internalBytes(t.txid))).reverse());

/** BIP141 commitment: hash256(witness root ‖ reserved value), the coinbase's wtxid counted as zero. */
export function witnessCommitment(txs: Tx[], reserved: Uint8Array): Uint8Array {
  const leaves = txs.map((t, i) => (i === 0 ? new Uint8Array(32) : internalBytes(t.wtxid)));
  return hash256(concatBytes(merkleRoot(leaves), reserved));
}

/** Minimal CScriptNum push of a non-negative number (BIP34 puts the height first in the coinbase). */
export function pushNumber(n: number): Uint8Array {
  if (n === 0) return Uint8Array.of(0x00);
  if (n <= 16) return Uint8Array.of(0x50 + n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.push(v & 0xff);
  if (bytes[bytes.length - 1] & 0x80) bytes.push(0);
  return Uint8Array.of(bytes.length, ...bytes);
}

export interface CoinbaseSpec {
  height: number;
  value: bigint;
  payTo: Uint8Array;
  /** Distinguishes coinbases of competing blocks at one height (their txids must differ). */
  extraNonce: number;
  /** The other transactions of the block: a witness commitment is added when one has a witness. */
  txs: Tx[];
}

export function buildCoinbase(c: CoinbaseSpec): Tx {
  const tag = new TextEncoder().encode("/keepctl devnet double/");
  const scriptSig = concatBytes(pushNumber(c.height), pushNumber(c.extraNonce), Uint8Array.of(tag.length), tag);
  const needsCommitment = c.txs.some((t) => t.hasWitness);
  const reserved = new Uint8Array(32);
  const base = {
    version: 2,
    lockTime: 0,
    inputs: [{ prevTxid: "0".repeat(64), vout: 0xffffffff, scriptSig, sequence: 0xffffffff, witness: needsCommitment ? [reserved] : [] }],
    outputs: [{ value: c.value, script: c.payTo }],
  };
  if (!needsCommitment) return parseTx(serializeTx(base));
  // The commitment covers wtxids, and the coinbase's own counts as zero, so it can be computed first.
  const commitment = witnessCommitment([parseTx(serializeTx(base)), ...c.txs], reserved);
  base.outputs.push({ value: 0n, script: concatBytes(WITNESS_COMMITMENT_HEADER, commitment) });
  return parseTx(serializeTx(base));
}

/** The commitment a coinbase carries (its last matching output), if any. */
export function findWitnessCommitment(coinbase: Tx): Uint8Array | undefined {
  for (let i = coinbase.outputs.length - 1; i >= 0; i--) if (isWitnessCommitment(coinbase.outputs[i].script)) return coinbase.outputs[i].script.subarray(6, 38);
  return undefined;
}

export const genesisBlock = (): Block => parseBlock(fromHex(REGTEST_GENESIS_HEX));
