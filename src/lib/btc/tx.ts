import { Address, OutScript, RawTx } from "@scure/btc-signer";
import { BTCArray, RawInput, RawOutput } from "@scure/btc-signer/script";
import { InvalidBitcoinData, fromHex, hash256, internalToDisplay, reversed, sha256Bytes, toHex } from "./bytes";
import { NETWORK_PARAMS, type BtcNetwork } from "./networks";

/**
 * Raw transactions through @scure/btc-signer's strict codec (a trailing byte or a short read is an
 * error), split the way SPV proofs want them: version, input vector, output vector and locktime
 * of the serialization without witness, whose hash256 is the txid.
 */
export interface OutPoint {
  /** Display order. */
  txid: string;
  vout: number;
}

export interface TxOutput {
  /** Satoshis. */
  value: bigint;
  script: Uint8Array;
}

export interface ParsedTx {
  /** As given (witness included). */
  raw: Uint8Array;
  hasWitness: boolean;
  /** The 4 version bytes as serialized. */
  version: Uint8Array;
  /** varint count ‖ inputs (no witness). */
  inputVector: Uint8Array;
  /** varint count ‖ outputs. */
  outputVector: Uint8Array;
  /** The 4 locktime bytes as serialized. */
  locktime: Uint8Array;
  /** hash256(version ‖ inputVector ‖ outputVector ‖ locktime), internal order. */
  txidLE: Uint8Array;
  /** The same, display order. */
  txid: string;
  inputs: (OutPoint & { sequence: number })[];
  outputs: TxOutput[];
  /** Bytes of the serialization without witness. */
  strippedSize: number;
}

export function parseTransaction(input: Uint8Array | string): ParsedTx {
  const raw = typeof input === "string" ? fromHex(input, "raw transaction") : input;
  let tx: ReturnType<typeof RawTx.decode>;
  try {
    tx = RawTx.decode(raw);
  } catch (e) {
    throw new InvalidBitcoinData(`not a Bitcoin transaction: ${(e as Error).message.split("\n")[0]}`);
  }
  const inputVector = BTCArray(RawInput).encode(tx.inputs);
  const outputVector = BTCArray(RawOutput).encode(tx.outputs);
  const version = raw.slice(0, 4);
  const locktime = raw.slice(raw.length - 4);
  const stripped = new Uint8Array(8 + inputVector.length + outputVector.length);
  stripped.set(version, 0);
  stripped.set(inputVector, 4);
  stripped.set(outputVector, 4 + inputVector.length);
  stripped.set(locktime, 4 + inputVector.length + outputVector.length);
  const txidLE = hash256(stripped);
  return {
    raw,
    hasWitness: !!tx.segwitFlag,
    version,
    inputVector,
    outputVector,
    locktime,
    txidLE,
    txid: internalToDisplay(txidLE),
    // @scure/btc-signer hands input txids out in display order already.
    inputs: tx.inputs.map((i) => ({ txid: toHex(i.txid), vout: i.index, sequence: i.sequence })),
    outputs: tx.outputs.map((o) => ({ value: o.amount, script: o.script })),
    strippedSize: stripped.length,
  };
}

/** The index of the input spending `outpoint`, or -1. */
export function inputSpending(tx: ParsedTx, outpoint: OutPoint): number {
  return tx.inputs.findIndex((i) => i.txid === outpoint.txid && i.vout === outpoint.vout);
}

/** Electrum's script hash: sha256 of the output script, bytes reversed, hex (protocol-basics "Script Hashes"). */
export function electrumScriptHash(script: Uint8Array): string {
  return toHex(reversed(sha256Bytes(script)));
}

/** Esplora's `/scripthash/:hash`: sha256 of the output script, NOT reversed (electrs parses it as raw bytes). */
export function esploraScriptHash(script: Uint8Array): string {
  return toHex(sha256Bytes(script));
}

/** The address of a standard output script on `network`; undefined for scripts without one (OP_RETURN, bare multisig, ...). */
export function scriptAddress(script: Uint8Array, network: BtcNetwork): string | undefined {
  try {
    return Address(NETWORK_PARAMS[network].address).encode(OutScript.decode(script));
  } catch {
    return undefined;
  }
}
