import { displayHex, internalBytes, isHex, toHex } from "../bytes";
import { merkleBranch } from "../merkle";
import type { BitcoinNode } from "../node";
import { TxRejected } from "../policy";
import { confirmedHistory, mempoolHistory, prevoutOf, spenderOf, unspent } from "../queries";
import { addressScript } from "../script";
import { esploraBlock, esploraStatus, esploraTx, type TxPlace } from "../tx-json";
import type { Tx } from "../tx";
import { badRequest, binary, HttpError, json, notFound, text, type Reply } from "./http";

/**
 * Esplora's REST API (Blockstream/esplora API.md, handlers as in Blockstream/electrs src/rest.rs)
 * over the double's node: paths, shapes, and error texts and statuses (400 / 404, plain text).
 * `/scripthash/:hash` takes the sha256 of the output script in natural byte order — unlike
 * Electrum's script hash, which is the same digest byte-reversed.
 */
const CHAIN_TXS_PER_PAGE = 25;
const MAX_MEMPOOL_TXS = 50;
const FEE_TARGETS = [...Array(25).keys()].map((i) => i + 1).concat([144, 504, 1008]);

function hash(v: string): string {
  if (!isHex(v, 32)) throw badRequest("Invalid hex string");
  return v.toLowerCase();
}
function number(v: string): number {
  if (!/^\d+$/.test(v)) throw badRequest("Invalid number");
  return Number(v);
}
function place(node: BitcoinNode, txid: string): { tx: Tx; place: TxPlace } {
  const found = node.findTx(txid);
  if (!found) throw notFound("Transaction not found");
  return { tx: found.tx, place: found };
}
function blockEntry(node: BitcoinNode, h: string) {
  const e = node.chain.entry(hash(h));
  if (!e) throw notFound("Block not found");
  return e;
}

/** The output script (hex) an /address/ or /scripthash/ path names. */
function scriptFor(node: BitcoinNode, kind: string, value: string): string {
  if (kind === "address") {
    try {
      return toHex(addressScript(value));
    } catch {
      throw badRequest(/^(bc1|[13])/.test(value) ? "Address on invalid network" : "Invalid Bitcoin address");
    }
  }
  if (!isHex(value)) throw badRequest("Invalid hex string");
  if (value.length !== 64) throw badRequest("Invalid scripthash");
  const script = node.chain.index.scriptBySha(value);
  return script ? toHex(script) : "";
}

function stats(node: BitcoinNode, script: string, txids: string[]) {
  const s = { tx_count: txids.length, funded_txo_count: 0, funded_txo_sum: 0, spent_txo_count: 0, spent_txo_sum: 0 };
  for (const t of txids) {
    const tx = node.findTx(t)!.tx;
    for (const o of tx.outputs) if (toHex(o.script) === script) (s.funded_txo_count += 1), (s.funded_txo_sum += Number(o.value));
    if (!tx.isCoinbase)
      for (const i of tx.inputs) {
        const p = prevoutOf(node, i.prevTxid, i.vout);
        if (p && toHex(p.script) === script) (s.spent_txo_count += 1), (s.spent_txo_sum += Number(p.value));
      }
  }
  return s;
}

function chainTxsNewestFirst(node: BitcoinNode, script: string): string[] {
  return script ? confirmedHistory(node, script).map((h) => h.txid).reverse() : [];
}
function mempoolTxsNewestFirst(node: BitcoinNode, script: string): string[] {
  return script ? mempoolHistory(node, script).sort((a, b) => b.seq - a.seq).map((m) => m.txid) : [];
}
const txObjects = (node: BitcoinNode, txids: string[]) => txids.map((t) => esploraTx(node, node.findTx(t)!.tx, node.findTx(t)!));

function addressRoute(node: BitcoinNode, parts: string[]): Reply {
  const [kind, value, sub, sub2, sub3] = parts;
  const script = scriptFor(node, kind, value);
  if (sub === undefined) {
    return json({ [kind]: value, chain_stats: stats(node, script, chainTxsNewestFirst(node, script)), mempool_stats: stats(node, script, mempoolTxsNewestFirst(node, script)) });
  }
  if (sub === "utxo" && sub2 === undefined) {
    return json((script ? unspent(node, script) : []).map((u) => ({ txid: u.txid, vout: u.vout, status: esploraStatus(node.findTx(u.txid)!), value: Number(u.value) })));
  }
  if (sub !== "txs") throw notFound(`endpoint does not exist "/${parts.join("/")}"`);
  if (sub2 === undefined) return json(txObjects(node, [...mempoolTxsNewestFirst(node, script).slice(0, MAX_MEMPOOL_TXS), ...chainTxsNewestFirst(node, script).slice(0, CHAIN_TXS_PER_PAGE)]));
  if (sub2 === "mempool") return json(txObjects(node, mempoolTxsNewestFirst(node, script).slice(0, MAX_MEMPOOL_TXS)));
  if (sub2 === "chain") {
    let list = chainTxsNewestFirst(node, script);
    if (sub3 !== undefined) {
      const at = list.indexOf(sub3.toLowerCase());
      list = at < 0 ? [] : list.slice(at + 1);
    }
    return json(txObjects(node, list.slice(0, CHAIN_TXS_PER_PAGE)));
  }
  throw notFound(`endpoint does not exist "/${parts.join("/")}"`);
}

function txRoute(node: BitcoinNode, parts: string[]): Reply {
  const [, id, sub, arg] = parts;
  const txid = hash(id);
  if (sub === undefined) {
    const { tx, place: p } = place(node, txid);
    return json(esploraTx(node, tx, p));
  }
  if (sub === "hex") return text(toHex(place(node, txid).tx.raw));
  if (sub === "raw") return binary(place(node, txid).tx.raw);
  if (sub === "status") return json(esploraStatus(node.findTx(txid) ?? {}));
  if (sub === "merkle-proof") {
    const c = node.chain.findTx(txid);
    if (!c) throw notFound("Transaction not found or is unconfirmed");
    const leaves = c.entry.block.txs.map((t) => internalBytes(t.txid));
    return json({ block_height: c.entry.height, merkle: merkleBranch(leaves, c.pos).map(displayHex), pos: c.pos });
  }
  if (sub === "outspend" && arg !== undefined) return json(outspend(node, txid, number(arg)));
  if (sub === "outspends") return json(place(node, txid).tx.outputs.map((_, n) => outspend(node, txid, n)));
  throw notFound(`endpoint does not exist "/${parts.join("/")}"`);
}

function outspend(node: BitcoinNode, txid: string, vout: number): Record<string, unknown> {
  const s = spenderOf(node, txid, vout);
  if (!s) return { spent: false };
  return { spent: true, txid: s.txid, vin: s.vin, status: esploraStatus(node.findTx(s.txid) ?? {}) };
}

function blockRoute(node: BitcoinNode, parts: string[]): Reply {
  const [, h, sub, arg] = parts;
  if (sub === "status") {
    const id = hash(h);
    const e = node.chain.entry(id);
    if (!e || !node.chain.isActive(id)) return json({ in_best_chain: false, height: null, next_best: null });
    return json({ in_best_chain: true, height: e.height, next_best: node.chain.entryAt(e.height + 1)?.block.hash ?? null });
  }
  const e = blockEntry(node, h);
  if (sub === undefined) return json(esploraBlock(e));
  if (sub === "header") return text(toHex(e.block.headerBytes));
  if (sub === "txids") return json(e.block.txs.map((t) => t.txid));
  if (sub === "raw") return binary(new Uint8Array(Buffer.concat([e.block.headerBytes, varintBytes(e.block.txs.length), ...e.block.txs.map((t) => t.raw)])));
  if (sub === "txid" && arg !== undefined) {
    const i = number(arg);
    if (i >= e.block.txs.length) throw notFound("tx index out of range");
    return text(e.block.txs[i].txid);
  }
  if (sub === "txs") {
    const start = arg === undefined ? 0 : number(arg);
    if (start >= e.block.txs.length) throw notFound("start index out of range");
    if (start % CHAIN_TXS_PER_PAGE) throw badRequest(`start index must be a multipication of ${CHAIN_TXS_PER_PAGE}`);
    return json(e.block.txs.slice(start, start + CHAIN_TXS_PER_PAGE).map((t) => esploraTx(node, t, {}, false)));
  }
  throw notFound(`endpoint does not exist "/${parts.join("/")}"`);
}

function varintBytes(n: number): Buffer {
  if (n < 0xfd) return Buffer.from([n]);
  return Buffer.from([0xfd, n & 0xff, n >>> 8]);
}

/** Answers one GET of the Esplora API, or throws HttpError. */
export function esploraGet(node: BitcoinNode, path: string, histogramBin: number): Reply {
  const parts = path.split("/").filter((p, i) => p !== "" || i === 0).slice(1);
  const [a, b, c] = parts;
  if (a === "blocks" && b === "tip" && c === "height" && parts.length === 3) return text(String(node.height));
  if (a === "blocks" && b === "tip" && c === "hash" && parts.length === 3) return text(node.tipHash);
  if (a === "blocks" && parts.length <= 2) {
    let h = b === undefined ? node.height : Number.parseInt(b, 10);
    if (!node.chain.entryAt(h)) throw notFound("Block not found");
    const out: unknown[] = [];
    for (; h >= 0 && out.length < 10; h--) out.push(esploraBlock(node.chain.entryAt(h)!));
    return json(out);
  }
  if (a === "block-height" && parts.length === 2) {
    const e = node.chain.entryAt(number(b));
    if (!e) throw notFound("Block not found");
    return text(e.block.hash);
  }
  if (a === "block" && b !== undefined) return blockRoute(node, parts);
  if (a === "tx" && b !== undefined) return txRoute(node, parts);
  if ((a === "address" || a === "scripthash") && b !== undefined) return addressRoute(node, parts);
  if (a === "mempool" && parts.length === 1) {
    const all = node.mempool.all();
    return json({ count: all.length, vsize: all.reduce((s, e) => s + e.vsize, 0), total_fee: Number(all.reduce((s, e) => s + e.fee, 0n)), fee_histogram: node.mempool.feeHistogram(histogramBin) });
  }
  if (a === "mempool" && b === "txids" && parts.length === 2) return json(node.mempool.all().map((e) => e.tx.txid));
  if (a === "mempool" && b === "recent" && parts.length === 2) {
    return json(node.mempool.all().reverse().slice(0, 10).map((e) => ({ txid: e.tx.txid, fee: Number(e.fee), vsize: e.vsize, value: Number(e.tx.outputs.reduce((s, o) => s + o.value, 0n)) })));
  }
  if (a === "fee-estimates" && parts.length === 1) return json(Object.fromEntries([...node.feeEstimates(FEE_TARGETS)].map(([t, r]) => [String(t), r])));
  throw notFound(`endpoint does not exist "${path}"`);
}

/** POST /tx: the txid as text, or 400 with the daemon's error as electrs words it. */
export function esploraBroadcast(node: BitcoinNode, body: string): Reply {
  try {
    return text(node.broadcast(body));
  } catch (e) {
    if (e instanceof TxRejected) throw new HttpError(400, `sendrawtransaction RPC error: ${JSON.stringify({ code: e.code, message: e.message })}`);
    throw e;
  }
}
