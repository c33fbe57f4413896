import { RawTx } from "@scure/btc-signer";
import { displayHex, equalBytes, hash256, toHex } from "./bytes";

/** A parsed transaction. Txids are display-order hex; `raw` is the full (witness) serialization. */
export interface TxIn {
  /** Display-order txid of the output spent. */
  prevTxid: string;
  vout: number;
  scriptSig: Uint8Array;
  sequence: number;
  witness: Uint8Array[];
}

export interface TxOut {
  value: bigint;
  script: Uint8Array;
}

export interface Tx {
  raw: Uint8Array;
  txid: string;
  /** Witness txid (equals txid without witness). */
  wtxid: string;
  version: number;
  lockTime: number;
  inputs: TxIn[];
  outputs: TxOut[];
  /** Serialized size with witness. */
  size: number;
  /** Serialized size without witness. */
  strippedSize: number;
  weight: number;
  /** ceil(weight / 4), as Core's policy counts it. */
  vsize: number;
  hasWitness: boolean;
  isCoinbase: boolean;
}

const ZERO_TXID = "0".repeat(64);

export const outpointKey = (txid: string, vout: number): string => `${txid}:${vout}`;

/** Parses a serialized transaction; throws on malformed bytes, trailing bytes or a non-canonical encoding. */
export function parseTx(raw: Uint8Array): Tx {
  const d = RawTx.decode(raw);
  const again = RawTx.encode(d);
  if (!equalBytes(again, raw)) throw new Error("non-canonical transaction encoding");
  const inputs: TxIn[] = d.inputs.map((i, n) => ({
    prevTxid: toHex(i.txid), // btc-signer decodes input txids in display order
    vout: i.index,
    scriptSig: i.finalScriptSig,
    sequence: i.sequence,
    witness: d.witnesses?.[n] ?? [],
  }));
  const outputs: TxOut[] = d.outputs.map((o) => ({ value: o.amount, script: o.script }));
  const stripped = RawTx.encode({ ...d, segwitFlag: false, witnesses: undefined });
  const weight = stripped.length * 3 + raw.length;
  const txid = displayHex(hash256(stripped));
  const hasWitness = inputs.some((i) => i.witness.length > 0);
  return {
    raw,
    txid,
    wtxid: d.segwitFlag ? displayHex(hash256(raw)) : txid,
    version: d.version,
    lockTime: d.lockTime,
    inputs,
    outputs,
    size: raw.length,
    strippedSize: stripped.length,
    weight,
    vsize: Math.ceil(weight / 4),
    hasWitness,
    isCoinbase: inputs.length === 1 && inputs[0].prevTxid === ZERO_TXID && inputs[0].vout === 0xffffffff,
  };
}

/** Builds the serialization of a transaction from its parts (used for coinbases and lies). */
export function serializeTx(t: { version: number; lockTime: number; inputs: TxIn[]; outputs: TxOut[] }): Uint8Array {
  const withWitness = t.inputs.some((i) => i.witness.length > 0);
  return RawTx.encode({
    version: t.version,
    segwitFlag: withWitness,
    inputs: t.inputs.map((i) => ({ txid: Uint8Array.from(Buffer.from(i.prevTxid, "hex")), index: i.vout, finalScriptSig: i.scriptSig, sequence: i.sequence })),
    outputs: t.outputs.map((o) => ({ amount: o.value, script: o.script })),
    witnesses: withWitness ? t.inputs.map((i) => i.witness) : undefined,
    lockTime: t.lockTime,
  });
}

export const totalOut = (tx: Tx): bigint => tx.outputs.reduce((s, o) => s + o.value, 0n);
