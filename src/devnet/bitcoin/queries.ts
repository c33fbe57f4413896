import { toHex } from "./bytes";
import type { BitcoinNode } from "./node";
import type { TxOut } from "./tx";

/** Read-side questions both servers ask of the node, per output script (hex). */
export interface ConfirmedItem {
  txid: string;
  height: number;
  pos: number;
}
export interface MempoolItem {
  txid: string;
  /** 0 when every input is confirmed, −1 when one spends another mempool transaction (Electrum's rule). */
  height: 0 | -1;
  fee: bigint;
  seq: number;
}
export interface Utxo {
  txid: string;
  vout: number;
  value: bigint;
  /** 0 for a mempool output. */
  height: number;
}

export function confirmedHistory(node: BitcoinNode, script: string): ConfirmedItem[] {
  return node.chain.index.history(script).map((h) => ({ ...h }));
}

/** Mempool transactions touching the script, ordered as protocol 1.5 orders them: height 0 first, then by txid (internal order). */
export function mempoolHistory(node: BitcoinNode, script: string): MempoolItem[] {
  return node.mempool
    .txidsTouching(script)
    .map((txid) => {
      const e = node.mempool.get(txid)!;
      return { txid, height: (node.mempool.hasUnconfirmedInputs(txid) ? -1 : 0) as 0 | -1, fee: e.fee, seq: e.seq };
    })
    .sort((a, b) => b.height - a.height || internalOrder(a.txid, b.txid));
}

const internalOrder = (a: string, b: string) => {
  const ra = a.match(/../g)!.reverse().join("");
  const rb = b.match(/../g)!.reverse().join("");
  return ra < rb ? -1 : ra > rb ? 1 : 0;
};

/** Unspent outputs to the script: confirmed in block order, then mempool ones; minus what the mempool spends. */
export function unspent(node: BitcoinNode, script: string): Utxo[] {
  const { chain, mempool } = node;
  const confirmed: Array<Utxo & { pos: number }> = [];
  for (const key of chain.index.utxoKeys(script)) {
    const [txid, v] = key.split(":");
    const vout = Number(v);
    if (mempool.spender(txid, vout)) continue;
    const coin = chain.coin(txid, vout)!;
    confirmed.push({ txid, vout, value: coin.value, height: coin.height, pos: chain.index.txLocation(txid)?.pos ?? 0 });
  }
  confirmed.sort((a, b) => a.height - b.height || a.pos - b.pos || a.vout - b.vout);
  const pending: Utxo[] = [];
  for (const item of mempoolHistory(node, script)) {
    node.mempool.get(item.txid)!.tx.outputs.forEach((o, vout) => {
      if (toHex(o.script) === script && !mempool.spender(item.txid, vout)) pending.push({ txid: item.txid, vout, value: o.value, height: 0 });
    });
  }
  return [...confirmed.map(({ pos: _pos, ...u }) => u), ...pending];
}

/** Confirmed balance (the chain's UTXOs) and the mempool's net change to it, in sat. */
export function balance(node: BitcoinNode, script: string): { confirmed: bigint; unconfirmed: bigint } {
  const { chain, mempool } = node;
  let confirmed = 0n;
  for (const key of chain.index.utxoKeys(script)) {
    const [txid, v] = key.split(":");
    confirmed += chain.coin(txid, Number(v))!.value;
  }
  let unconfirmed = 0n;
  for (const txid of mempool.txidsTouching(script)) {
    const e = mempool.get(txid)!;
    for (const o of e.tx.outputs) if (toHex(o.script) === script) unconfirmed += o.value;
    for (const p of e.prevouts) if (toHex(p.script) === script) unconfirmed -= p.value;
  }
  return { confirmed, unconfirmed };
}

/** The output a transaction's input spends (from the chain's UTXO set, a known transaction, or undefined). */
export function prevoutOf(node: BitcoinNode, txid: string, vout: number): TxOut | undefined {
  const coin = node.chain.coin(txid, vout);
  if (coin) return coin;
  return node.findTx(txid)?.tx.outputs[vout];
}

/** Who spends an output: the mempool first, then the best chain. */
export function spenderOf(node: BitcoinNode, txid: string, vout: number): { txid: string; vin: number } | undefined {
  return node.mempool.spender(txid, vout) ?? node.chain.index.spender(txid, vout);
}

