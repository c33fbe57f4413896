import { toHex } from "./bytes";
import { outpointKey, type Tx, type TxOut } from "./tx";

export interface MempoolEntry {
  tx: Tx;
  fee: bigint;
  vsize: number;
  /** The outputs its inputs spend (confirmed coins or parents' outputs), in input order. */
  prevouts: TxOut[];
  /** In-mempool parents and children, by txid. */
  parents: Set<string>;
  children: Set<string>;
  /** Order of arrival (a topological order: parents arrive before children). */
  seq: number;
  time: number;
}

/** The unconfirmed transactions, their dependency graph, what they spend, and which scripts they touch. */
export class Mempool {
  private readonly entries = new Map<string, MempoolEntry>();
  private readonly spends = new Map<string, { txid: string; vin: number }>();
  private readonly byScript = new Map<string, Set<string>>();
  private seq = 0;

  get size(): number {
    return this.entries.size;
  }
  get(txid: string): MempoolEntry | undefined {
    return this.entries.get(txid);
  }
  has(txid: string): boolean {
    return this.entries.has(txid);
  }
  /** Entries in arrival order. */
  all(): MempoolEntry[] {
    return [...this.entries.values()].sort((a, b) => a.seq - b.seq);
  }
  spender(txid: string, vout: number): { txid: string; vin: number } | undefined {
    return this.spends.get(outpointKey(txid, vout));
  }
  txidsTouching(scriptHex: string): string[] {
    return [...(this.byScript.get(scriptHex) ?? [])];
  }

  add(e: Omit<MempoolEntry, "parents" | "children" | "seq">): MempoolEntry {
    const entry: MempoolEntry = { ...e, parents: new Set(), children: new Set(), seq: ++this.seq };
    const { tx } = entry;
    tx.inputs.forEach((input, vin) => {
      this.spends.set(outpointKey(input.prevTxid, input.vout), { txid: tx.txid, vin });
      const parent = this.entries.get(input.prevTxid);
      if (parent) {
        entry.parents.add(parent.tx.txid);
        parent.children.add(tx.txid);
      }
    });
    this.entries.set(tx.txid, entry);
    for (const s of new Set([...tx.outputs.map((o) => toHex(o.script)), ...entry.prevouts.map((p) => toHex(p.script))])) {
      let set = this.byScript.get(s);
      if (!set) this.byScript.set(s, (set = new Set()));
      set.add(tx.txid);
    }
    return entry;
  }

  /** Removes one entry (its descendants are the caller's business). */
  private removeOne(txid: string): MempoolEntry | undefined {
    const e = this.entries.get(txid);
    if (!e) return undefined;
    this.entries.delete(txid);
    for (const input of e.tx.inputs) this.spends.delete(outpointKey(input.prevTxid, input.vout));
    for (const p of e.parents) this.entries.get(p)?.children.delete(txid);
    for (const c of e.children) this.entries.get(c)?.parents.delete(txid);
    for (const s of [...e.tx.outputs.map((o) => toHex(o.script)), ...e.prevouts.map((p) => toHex(p.script))]) this.byScript.get(s)?.delete(txid);
    return e;
  }

  /** Removes the entries and all their descendants; returns what left, in arrival order. */
  removeWithDescendants(txids: Iterable<string>): MempoolEntry[] {
    const gone = new Set<string>();
    for (const t of txids) for (const d of this.descendants(t, true)) gone.add(d);
    const removed = [...gone].map((t) => this.entries.get(t)!).sort((a, b) => a.seq - b.seq);
    for (const e of removed) this.removeOne(e.tx.txid);
    return removed;
  }

  clear(): MempoolEntry[] {
    const all = this.all();
    for (const e of all) this.removeOne(e.tx.txid);
    return all;
  }

  /** All in-mempool ancestors (not including the tx itself). */
  ancestors(txid: string): Set<string> {
    return this.walk(txid, (e) => e.parents);
  }
  /** All in-mempool descendants, with the tx itself when `self`. */
  descendants(txid: string, self = false): Set<string> {
    const d = this.walk(txid, (e) => e.children);
    if (self && this.entries.has(txid)) d.add(txid);
    return d;
  }
  private walk(txid: string, next: (e: MempoolEntry) => Set<string>): Set<string> {
    const seen = new Set<string>();
    const stack = [...(this.entries.get(txid) ? next(this.entries.get(txid)!) : [])];
    while (stack.length) {
      const t = stack.pop()!;
      if (seen.has(t)) continue;
      seen.add(t);
      const e = this.entries.get(t);
      if (e) stack.push(...next(e));
    }
    return seen;
  }

  /** True when any input spends an output of another mempool transaction (Electrum's height −1). */
  hasUnconfirmedInputs(txid: string): boolean {
    return (this.entries.get(txid)?.parents.size ?? 0) > 0;
  }

  /**
   * [fee rate, vsize] bins, highest rate first, each holding at least `binVsize` of transactions
   * (the last what is left): Electrum's mempool.get_fee_histogram and Esplora's fee_histogram.
   */
  feeHistogram(binVsize: number): Array<[number, number]> {
    const rates = [...this.entries.values()].map((e) => ({ rate: Number(e.fee) / e.vsize, vsize: e.vsize })).sort((a, b) => b.rate - a.rate);
    const out: Array<[number, number]> = [];
    let bin = 0;
    let last = 0;
    for (const r of rates) {
      if (bin > binVsize && r.rate !== last) {
        out.push([round3(last), bin]);
        bin = 0;
      }
      last = r.rate;
      bin += r.vsize;
    }
    if (bin > 0) out.push([round3(last), bin]);
    return out;
  }
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
