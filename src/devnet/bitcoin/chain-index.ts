import type { Block } from "./block";
import { sha256Bytes, toHex } from "./bytes";
import { outpointKey } from "./tx";

export interface HistoryItem {
  txid: string;
  height: number;
  pos: number;
}

/**
 * What an Electrum or Esplora server indexes over the best chain: where each transaction is, who
 * spent each output, each script's history (funding or spending, in block order) and unspent
 * outputs. Kept in step with the chain as blocks connect and disconnect.
 */
export class ChainIndex {
  private readonly txs = new Map<string, { block: string; pos: number }>();
  private readonly spenders = new Map<string, { txid: string; vin: number }>();
  private readonly histories = new Map<string, HistoryItem[]>();
  private readonly utxosByScript = new Map<string, Set<string>>();
  private readonly scriptsBySha = new Map<string, Uint8Array>();

  txLocation(txid: string): { block: string; pos: number } | undefined {
    return this.txs.get(txid);
  }
  spender(txid: string, vout: number): { txid: string; vin: number } | undefined {
    return this.spenders.get(outpointKey(txid, vout));
  }
  history(scriptHex: string): readonly HistoryItem[] {
    return this.histories.get(scriptHex) ?? [];
  }
  utxoKeys(scriptHex: string): ReadonlySet<string> {
    return this.utxosByScript.get(scriptHex) ?? new Set();
  }
  /** The script whose sha256 (natural byte order, hex) this is, if one was ever seen in an output. */
  scriptBySha(sha: string): Uint8Array | undefined {
    return this.scriptsBySha.get(sha.toLowerCase());
  }
  noteScript(sha: string, script: Uint8Array): void {
    this.scriptsBySha.set(sha, script);
  }

  addUtxo(key: string, script: Uint8Array): void {
    const s = toHex(script);
    let set = this.utxosByScript.get(s);
    if (!set) this.utxosByScript.set(s, (set = new Set()));
    set.add(key);
  }
  removeUtxo(key: string, script: Uint8Array): void {
    this.utxosByScript.get(toHex(script))?.delete(key);
  }

  /** `prevoutScript` gives the script of an output a block's input spends (from the undo data). */
  connect(block: Block, height: number, prevout: (key: string) => { script: Uint8Array } | undefined): void {
    block.txs.forEach((tx, pos) => {
      this.txs.set(tx.txid, { block: block.hash, pos });
      const touched = new Set<string>(tx.outputs.map((o) => toHex(o.script)));
      for (const o of tx.outputs) this.noteScript(toHex(sha256Bytes(o.script)), o.script);
      if (!tx.isCoinbase) {
        tx.inputs.forEach((input, vin) => {
          const k = outpointKey(input.prevTxid, input.vout);
          this.spenders.set(k, { txid: tx.txid, vin });
          const p = prevout(k);
          if (p) touched.add(toHex(p.script));
        });
      }
      for (const s of touched) {
        let list = this.histories.get(s);
        if (!list) this.histories.set(s, (list = []));
        list.push({ txid: tx.txid, height, pos });
      }
    });
  }

  disconnect(block: Block, height: number): void {
    for (const tx of block.txs) {
      this.txs.delete(tx.txid);
      if (!tx.isCoinbase) for (const input of tx.inputs) this.spenders.delete(outpointKey(input.prevTxid, input.vout));
    }
    // Entries also sit under the scripts of the outputs spent: trim every list at this height (reorgs are rare).
    for (const list of this.histories.values()) while (list.length && list[list.length - 1].height >= height) list.pop();
  }
}
