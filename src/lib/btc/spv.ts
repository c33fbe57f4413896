import { InvalidBitcoinData, concatBytes, displayToInternal, equalBytes, hash256, internalToDisplay, toHex } from "./bytes";
import { HEADER_BYTES, checkHeaderChain, difficultyOfTarget, splitHeaders, targetFromBits } from "./header";
import { rootFromBranch } from "./merkle";
import { parseTransaction, type OutPoint, type TxOutput } from "./tx";

/**
 * SPV proof parts in the layout Bitcoin SPV contracts take (bitcoin-spv's ValidateSPV): the
 * transaction without witness split into version / input vector / output vector / locktime, the
 * merkle siblings in internal order leaf first (no txid, no root), the position in the block,
 * and raw headers lowest first starting with the transaction's block. And the same checks those
 * contracts make, run here first so that nothing is sent that could only fail on chain.
 */
export interface SpvProof {
  version: Uint8Array;
  inputVector: Uint8Array;
  outputVector: Uint8Array;
  locktime: Uint8Array;
  merkleProof: Uint8Array;
  indexInBlock: number;
  headers: Uint8Array;
  txidLE: Uint8Array;
  txidDisplay: string;
}

export interface SpvProofInput {
  /** The raw transaction, with or without witness. */
  rawTx: Uint8Array | string;
  /** The merkle branch as servers give it: display-order nodes, leaf level first. */
  branch: readonly string[];
  pos: number;
  /** Headers from the transaction's block upwards: a list, or concatenated bytes/hex. */
  headers: readonly Uint8Array[] | Uint8Array | string;
}

export function buildSpvProof(input: SpvProofInput): SpvProof {
  const tx = parseTransaction(input.rawTx);
  const headerList = Array.isArray(input.headers) ? (input.headers as readonly Uint8Array[]) : splitHeaders(input.headers as Uint8Array | string);
  if (!Number.isSafeInteger(input.pos) || input.pos < 0) throw new InvalidBitcoinData(`merkle position ${input.pos} is not a non-negative integer`);
  return {
    version: tx.version,
    inputVector: tx.inputVector,
    outputVector: tx.outputVector,
    locktime: tx.locktime,
    merkleProof: concatBytes(...input.branch.map((n) => displayToInternal(n, "merkle node"))),
    indexInBlock: input.pos,
    headers: concatBytes(...headerList),
    txidLE: tx.txidLE,
    txidDisplay: tx.txid,
  };
}

/** Why a proof is refused; each maps to one of the contracts' checks (and two they lack). */
export type SpvRefusal =
  /** version/vectors/locktime do not form a transaction. */
  | "transaction"
  /** txidLE/txidDisplay do not match the transaction's hash. */
  | "txid"
  /** 64 bytes without witness: could pose as an inner merkle node (the contracts do not check this). */
  | "ambiguous-size"
  /** merkle proof not a multiple of 32 bytes, or its fold does not give header 0's merkle root. */
  | "merkle"
  /** no headers, or not a multiple of 80 bytes. */
  | "headers-length"
  /** a header does not name the one before it. */
  | "headers-link"
  /** a header's hash is above its own target. */
  | "headers-work"
  /** a header's nBits does not decode (negative, zero, overflow). */
  | "headers-bits";

export type SpvCheck =
  | {
      ok: true;
      txidDisplay: string;
      /** Display hash of header 0, the transaction's block. */
      blockHash: string;
      headerCount: number;
      /** DIFF1 / target of header 0: what a relay compares with its epoch difficulties. */
      firstHeaderDifficulty: bigint;
      /** Σ DIFF1 / target over all headers: compared with that difficulty × the required factor. */
      totalDifficulty: bigint;
      firstInput: OutPoint;
      outputs: TxOutput[];
    }
  | { ok: false; reason: SpvRefusal; message: string; headerIndex?: number };

export function verifySpvProof(p: SpvProof): SpvCheck {
  let tx: ReturnType<typeof parseTransaction>;
  try {
    tx = parseTransaction(concatBytes(p.version, p.inputVector, p.outputVector, p.locktime));
  } catch (e) {
    return { ok: false, reason: "transaction", message: (e as Error).message };
  }
  if (p.version.length !== 4 || p.locktime.length !== 4 || tx.hasWitness) return { ok: false, reason: "transaction", message: "version and locktime are 4 bytes each, vectors carry no witness" };
  const txidLE = hash256(concatBytes(p.version, p.inputVector, p.outputVector, p.locktime));
  if (!equalBytes(txidLE, p.txidLE) || internalToDisplay(txidLE) !== p.txidDisplay.toLowerCase()) {
    return { ok: false, reason: "txid", message: `the vectors hash to ${internalToDisplay(txidLE)}, not ${p.txidDisplay}` };
  }
  if (tx.strippedSize === 64) return { ok: false, reason: "ambiguous-size", message: "a 64-byte transaction cannot be told from an inner merkle node" };
  if (p.headers.length === 0 || p.headers.length % HEADER_BYTES !== 0) {
    return { ok: false, reason: "headers-length", message: `headers are ${p.headers.length} bytes, not a non-zero multiple of 80` };
  }
  const raws = splitHeaders(p.headers);
  const root = raws[0].subarray(36, 68);
  if (!merkleHolds(txidLE, root, p.merkleProof, p.indexInBlock)) {
    return { ok: false, reason: "merkle", message: `the merkle proof does not lead from ${p.txidDisplay} at position ${p.indexInBlock} to the root of header 0` };
  }
  const chain = checkHeaderChain(raws);
  if (!chain.ok) {
    const reason = chain.reason === "link" ? "headers-link" : chain.reason === "work" ? "headers-work" : "headers-bits";
    return { ok: false, reason, message: chain.message, headerIndex: chain.index };
  }
  return {
    ok: true,
    txidDisplay: tx.txid,
    blockHash: chain.headers[0].hash,
    headerCount: raws.length,
    firstHeaderDifficulty: difficultyOfTarget(targetFromBits(chain.headers[0].bits)),
    totalDifficulty: chain.difficultySum,
    firstInput: { txid: tx.inputs[0].txid, vout: tx.inputs[0].vout },
    outputs: tx.outputs,
  };
}

/** The contracts' merkle rule (ValidateSPV.prove), 1-transaction blocks included. */
function merkleHolds(txidLE: Uint8Array, rootLE: Uint8Array, proof: Uint8Array, index: number): boolean {
  if (proof.length === 0) return index === 0 && equalBytes(txidLE, rootLE);
  if (proof.length % 32 !== 0 || !Number.isSafeInteger(index) || index < 0) return false;
  const nodes: Uint8Array[] = [];
  for (let at = 0; at < proof.length; at += 32) nodes.push(proof.subarray(at, at + 32));
  return equalBytes(rootFromBranch(txidLE, nodes, index), rootLE);
}

/** Hex of each part with a 0x prefix, for an Ethereum call. */
export function spvProofHex(p: SpvProof): Record<Exclude<keyof SpvProof, "indexInBlock" | "txidDisplay">, string> & { indexInBlock: number; txidDisplay: string } {
  const h = (b: Uint8Array) => "0x" + toHex(b);
  return {
    version: h(p.version), inputVector: h(p.inputVector), outputVector: h(p.outputVector), locktime: h(p.locktime),
    merkleProof: h(p.merkleProof), indexInBlock: p.indexInBlock, headers: h(p.headers), txidLE: h(p.txidLE), txidDisplay: p.txidDisplay,
  };
}

