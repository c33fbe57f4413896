import type { BlockEntry } from "./chain";
import { toHex } from "./bytes";
import { difficulty } from "./header";
import type { BitcoinNode } from "./node";
import { prevoutOf } from "./queries";
import { classifyScript, scriptAddress, type ScriptKind } from "./script";
import { coreAsm, esploraAsm } from "./script-asm";
import type { Tx, TxOut } from "./tx";

/**
 * Transactions and blocks in the JSON shapes clients read: Bitcoin Core 28's getrawtransaction
 * verbose (what ElectrumX's blockchain.transaction.get(txid, true) passes through) and Esplora's.
 */
const CORE_TYPES: Record<ScriptKind, string> = {
  p2pk: "pubkey", p2pkh: "pubkeyhash", p2sh: "scripthash", multisig: "multisig", op_return: "nulldata", p2wpkh: "witness_v0_keyhash",
  p2wsh: "witness_v0_scripthash", p2tr: "witness_v1_taproot", witness_unknown: "witness_unknown", anchor: "anchor", empty: "nonstandard", nonstandard: "nonstandard",
};
const ESPLORA_TYPES: Partial<Record<ScriptKind, string>> = { p2pk: "p2pk", p2pkh: "p2pkh", p2sh: "p2sh", p2wpkh: "v0_p2wpkh", p2wsh: "v0_p2wsh", p2tr: "v1_p2tr", op_return: "op_return", empty: "empty" };

const btc = (sats: bigint): number => Number(sats) / 1e8;

export interface TxPlace {
  block?: { hash: string; height: number; time: number };
}

/** Core's getrawtransaction(txid, 1): blockhash / confirmations / time only for a confirmed transaction. */
export function coreVerboseTx(tx: Tx, place: TxPlace, tipHeight: number): Record<string, unknown> {
  const vin = tx.inputs.map((i) => {
    const witness = i.witness.length ? { txinwitness: i.witness.map(toHex) } : {};
    if (tx.isCoinbase) return { coinbase: toHex(i.scriptSig), ...witness, sequence: i.sequence };
    return { txid: i.prevTxid, vout: i.vout, scriptSig: { asm: coreAsm(i.scriptSig, true), hex: toHex(i.scriptSig) }, ...witness, sequence: i.sequence };
  });
  const vout = tx.outputs.map((o, n) => {
    const address = scriptAddress(o.script);
    return { value: btc(o.value), n, scriptPubKey: { asm: coreAsm(o.script), hex: toHex(o.script), ...(address ? { address } : {}), type: CORE_TYPES[classifyScript(o.script)] } };
  });
  const out: Record<string, unknown> = { txid: tx.txid, hash: tx.wtxid, version: tx.version, size: tx.size, vsize: tx.vsize, weight: tx.weight, locktime: tx.lockTime, vin, vout, hex: toHex(tx.raw) };
  if (place.block) Object.assign(out, { blockhash: place.block.hash, confirmations: tipHeight - place.block.height + 1, time: place.block.time, blocktime: place.block.time });
  return out;
}

function esploraOut(o: TxOut): Record<string, unknown> {
  const kind = classifyScript(o.script);
  const address = scriptAddress(o.script);
  const type = ESPLORA_TYPES[kind] ?? (o.script.length > 10_000 ? "provably_unspendable" : "unknown");
  return { scriptpubkey: toHex(o.script), scriptpubkey_asm: esploraAsm(o.script), scriptpubkey_type: type, ...(address ? { scriptpubkey_address: address } : {}), value: Number(o.value) };
}

export function esploraStatus(place: TxPlace): Record<string, unknown> {
  return place.block ? { confirmed: true, block_height: place.block.height, block_hash: place.block.hash, block_time: place.block.time } : { confirmed: false };
}

/** Esplora's transaction object; `withStatus` false inside /block/:hash/txs. */
export function esploraTx(node: BitcoinNode, tx: Tx, place: TxPlace, withStatus = true): Record<string, unknown> {
  let valueIn = 0n;
  const vin = tx.inputs.map((i) => {
    const prevout = tx.isCoinbase ? undefined : prevoutOf(node, i.prevTxid, i.vout);
    if (prevout) valueIn += prevout.value;
    return {
      txid: i.prevTxid,
      vout: i.vout,
      prevout: prevout ? esploraOut(prevout) : null,
      scriptsig: toHex(i.scriptSig),
      scriptsig_asm: esploraAsm(i.scriptSig),
      ...(i.witness.length ? { witness: i.witness.map(toHex) } : {}),
      is_coinbase: tx.isCoinbase,
      sequence: i.sequence,
    };
  });
  const valueOut = tx.outputs.reduce((s, o) => s + o.value, 0n);
  const out: Record<string, unknown> = { txid: tx.txid, version: tx.version, locktime: tx.lockTime, vin, vout: tx.outputs.map(esploraOut), size: tx.size, weight: tx.weight, fee: tx.isCoinbase ? 0 : Number(valueIn - valueOut) };
  if (withStatus) out.status = esploraStatus(place);
  return out;
}

export function esploraBlock(e: BlockEntry): Record<string, unknown> {
  const { block } = e;
  return {
    id: block.hash,
    height: e.height,
    version: block.header.version,
    timestamp: block.header.time,
    tx_count: block.txs.length,
    size: block.size,
    weight: block.weight,
    merkle_root: block.header.merkleRoot,
    previousblockhash: e.height === 0 ? null : block.header.prevHash,
    mediantime: e.mtp,
    nonce: block.header.nonce,
    bits: block.header.bits,
    difficulty: difficulty(block.header.bits),
  };
}
