/**
 * Independent readers of Bitcoin bytes for the wallet's tests, written from the specs (BIP144
 * serialization, BIP141 weight, BIP174 key-value maps) and sharing no code with src/lib/btc: the
 * tests measure keepctl's transactions and PSBTs with them instead of trusting keepctl's own sizes.
 */
class Reader {
  pos = 0;
  constructor(readonly b: Uint8Array) {}
  take(n: number): Uint8Array {
    if (this.pos + n > this.b.length) throw new Error("truncated");
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  u8(): number {
    return this.take(1)[0];
  }
  u32(): number {
    const x = this.take(4);
    return (x[0] | (x[1] << 8) | (x[2] << 16) | (x[3] << 24)) >>> 0;
  }
  u64(): bigint {
    const x = this.take(8);
    let v = 0n;
    for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(x[i]);
    return v;
  }
  varint(): number {
    const first = this.u8();
    if (first < 0xfd) return first;
    const n = first === 0xfd ? 2 : first === 0xfe ? 4 : 8;
    const x = this.take(n);
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + x[i];
    return v;
  }
}

export interface ParsedTx {
  version: number;
  inputs: { txid: string; vout: number; sequence: number; witness: Uint8Array[] }[];
  outputs: { value: bigint; script: string }[];
  lockTime: number;
  /** Serialized size without marker, flag and witnesses (BIP141 "base size"). */
  baseSize: number;
  totalSize: number;
  weight: number;
  vsize: number;
}

const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

export function parseTx(rawHex: string): ParsedTx {
  const bytes = Uint8Array.from(Buffer.from(rawHex, "hex"));
  const r = new Reader(bytes);
  const version = r.u32();
  let segwit = false;
  if (bytes[4] === 0x00 && bytes[5] === 0x01) {
    segwit = true;
    r.take(2);
  }
  const nIn = r.varint();
  const inputs: ParsedTx["inputs"] = [];
  for (let i = 0; i < nIn; i++) {
    const txid = toHex(Uint8Array.from(r.take(32)).reverse());
    const vout = r.u32();
    r.take(r.varint());
    inputs.push({ txid, vout, sequence: r.u32(), witness: [] });
  }
  const nOut = r.varint();
  const outputs: ParsedTx["outputs"] = [];
  for (let i = 0; i < nOut; i++) {
    const value = r.u64();
    outputs.push({ value, script: toHex(r.take(r.varint())) });
  }
  const witnessStart = r.pos;
  if (segwit) for (const input of inputs) {
    const items = r.varint();
    for (let j = 0; j < items; j++) input.witness.push(r.take(r.varint()));
  }
  const witnessBytes = r.pos - witnessStart;
  const lockTime = r.u32();
  if (r.pos !== bytes.length) throw new Error("trailing bytes");
  const totalSize = bytes.length;
  const baseSize = totalSize - (segwit ? 2 + witnessBytes : 0);
  const weight = baseSize * 3 + totalSize;
  return { version, inputs, outputs, lockTime, baseSize, totalSize, weight, vsize: Math.ceil(weight / 4) };
}

export interface PsbtMap {
  /** key type -> list of [key data hex, value hex] */
  entries: { type: number; key: string; value: string }[];
}

/** A PSBT v0 split into its global, input and output key-value maps (BIP174), counts taken from the unsigned tx. */
export function parsePsbtMaps(bytes: Uint8Array): { global: PsbtMap; inputs: PsbtMap[]; outputs: PsbtMap[] } {
  const r = new Reader(bytes);
  if (toHex(r.take(5)) !== "70736274ff") throw new Error("no PSBT magic");
  const readMap = (): PsbtMap => {
    const entries: PsbtMap["entries"] = [];
    for (;;) {
      const keyLen = r.varint();
      if (keyLen === 0) return { entries };
      const key = r.take(keyLen);
      const value = r.take(r.varint());
      entries.push({ type: key[0], key: toHex(key.subarray(1)), value: toHex(value) });
    }
  };
  const global = readMap();
  const unsigned = global.entries.find((e) => e.type === 0x00);
  if (!unsigned) throw new Error("no unsigned tx");
  const tx = parseTx(unsigned.value);
  return { global, inputs: tx.inputs.map(() => readMap()), outputs: tx.outputs.map(() => readMap()) };
}
