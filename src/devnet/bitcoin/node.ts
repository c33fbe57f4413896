import { EventEmitter } from "node:events";
import { acceptTransaction, type PolicySettings } from "./accept";
import { genesisBlock, type Block } from "./block";
import { fromHex, isHex } from "./bytes";
import { Chain, type ChainChange } from "./chain";
import { FeePressure, type FeePressureSettings } from "./fee-pressure";
import { Mempool, type MempoolEntry } from "./mempool";
import { estimateFeeRates, mineBlock, reservedVsize } from "./miner";
import { TxRejected } from "./policy";
import { addressScript } from "./script";
import type { Tx } from "./tx";
import { DevnetWallet } from "./wallet";

export interface BitcoinNodeOptions {
  /** Seconds since the epoch for block times (default: the wall clock). */
  clock?: () => number;
  /** sat/vB (default 1, Core's -minrelaytxfee). */
  minRelayFeeRate?: number;
  /** sat/vB (default 1, Core 28's -incrementalrelayfee). */
  incrementalRelayFeeRate?: number;
  /** Replace without BIP125 signalling (default true, Core 28's -mempoolfullrbf). */
  fullRbf?: boolean;
  /** Block size limit in vB, header and coinbase included (default 1 000 000). */
  maxBlockVsize?: number;
  /** Where coinbases pay: an address or an output script in hex (default: the devnet wallet). */
  coinbaseTo?: string;
  /** sendrawtransaction's maxfeerate, sat/vB (default 10 000 = Core's 0.10 BTC/kvB; 0: none). */
  maxFeeRate?: number;
}

/** Fee estimates: from the mempool (default), unavailable (Electrum −1, Esplora `{}`), or fixed (target → sat/vB). */
export type FeeEstimateMode = "mempool" | "unavailable" | Record<number, number>;

export interface BlockEvent {
  hash: string;
  height: number;
  /** Connected as part of a reorganisation. */
  reorg: boolean;
}

export interface ReorgEvent {
  forkHeight: number;
  disconnected: string[];
  connected: string[];
}

/**
 * A regtest Bitcoin node in-process: chain, mempool, miner, the devnet wallet and the filler
 * traffic, with the controls tests use. Emits "block" (BlockEvent), "reorg" (ReorgEvent), "tx"
 * (a txid accepted), "removed" ({txid, reason}) and "change" (anything the servers may show).
 */
export class BitcoinNode extends EventEmitter {
  readonly chain = new Chain(genesisBlock());
  readonly mempool = new Mempool();
  readonly wallet: DevnetWallet;
  readonly pressure: FeePressure;
  readonly policy: PolicySettings;
  maxBlockVsize: number;
  maxFeeRate: number;
  feeEstimateMode: FeeEstimateMode = "mempool";
  /** Bumped on every change; caches key on it. */
  version = 0;
  private coinbaseScript: Uint8Array;
  private extraNonce = 0;
  private readonly clock: () => number;
  private autoMine: NodeJS.Timeout | undefined;
  private estimateCache: { version: number; rates: Map<number, number> } | undefined;

  constructor(o: BitcoinNodeOptions = {}) {
    super();
    this.clock = o.clock ?? (() => Math.floor(Date.now() / 1000));
    this.policy = { minRelayFeePerKvB: satPerVbToKvB(o.minRelayFeeRate ?? 1), incrementalRelayFeePerKvB: satPerVbToKvB(o.incrementalRelayFeeRate ?? 1), fullRbf: o.fullRbf ?? true };
    this.maxBlockVsize = o.maxBlockVsize ?? 1_000_000;
    this.maxFeeRate = o.maxFeeRate ?? 10_000;
    const host = { chain: this.chain, mempool: this.mempool, broadcast: (hex: string) => this.broadcast(hex) };
    this.wallet = new DevnetWallet(host);
    this.pressure = new FeePressure(this.mempool, new DevnetWallet(host, "keepctl devnet bitcoin filler traffic - PUBLIC TEST KEY"), this.wallet, () => this.blockCapacity());
    this.coinbaseScript = o.coinbaseTo ? (isHex(o.coinbaseTo) ? fromHex(o.coinbaseTo) : addressScript(o.coinbaseTo)) : this.wallet.script;
    this.chain.noteScript(this.coinbaseScript);
  }

  get height(): number {
    return this.chain.height;
  }
  get tipHash(): string {
    return this.chain.tip.block.hash;
  }

  /** Mempool acceptance with sendrawtransaction's rules; returns the txid or throws TxRejected. */
  broadcast(hex: string): string {
    if (!isHex(hex)) throw new TxRejected(-22, "TX decode failed. Make sure the tx has at least one input.");
    const r = acceptTransaction(fromHex(hex), this.chain, this.mempool, this.policy, { time: this.clock(), maxFeeRatePerKvB: satPerVbToKvB(this.maxFeeRate) });
    if (!r.alreadyKnown) {
      for (const e of r.replaced) this.emit("removed", { txid: e.tx.txid, reason: "replaced" });
      this.emit("tx", r.tx.txid);
      this.changed();
    }
    return r.tx.txid;
  }

  /** Mines `n` blocks on the tip from the mempool; returns their hashes. */
  mine(n = 1, payTo?: string): string[] {
    const script = payTo ? (isHex(payTo) ? fromHex(payTo) : addressScript(payTo)) : this.coinbaseScript;
    const hashes: string[] = [];
    for (let i = 0; i < n; i++) {
      const block = mineBlock(this.chain, this.mempool, { payTo: script, maxBlockVsize: this.maxBlockVsize, now: this.clock(), extraNonce: ++this.extraNonce });
      this.afterChange(this.chain.addBlock(block), true);
      hashes.push(block.hash);
    }
    return hashes;
  }

  /** Mines until `done()` holds (checked before each block), at most `max` blocks. */
  mineUntil(done: () => boolean, max = 1000): string[] {
    const hashes: string[] = [];
    while (!done()) {
      if (hashes.length >= max) throw new Error(`mineUntil: condition still false after ${max} blocks`);
      hashes.push(...this.mine(1));
    }
    return hashes;
  }

  /** Mines one block every `ms` (0 stops). */
  setAutoMine(ms: number): void {
    if (this.autoMine) clearInterval(this.autoMine);
    this.autoMine = undefined;
    if (ms > 0) {
      this.autoMine = setInterval(() => {
        try {
          this.mine(1);
        } catch (e) {
          this.emit("error", e);
        }
      }, ms);
      this.autoMine.unref?.();
    }
  }

  /**
   * Disconnects the last `depth` blocks and mines a longer competing branch of `replaceWith`
   * (default depth + 1) empty blocks from the fork. The disconnected transactions go back to the
   * mempool (keepTxs, default) or are forgotten (keepTxs false).
   */
  reorg(depth: number, o: { replaceWith?: number; keepTxs?: boolean } = {}): ReorgEvent {
    const replaceWith = o.replaceWith ?? depth + 1;
    if (!Number.isInteger(depth) || depth < 1 || depth > this.height) throw new Error(`reorg depth must be 1..${this.height}`);
    if (!Number.isInteger(replaceWith) || replaceWith <= depth) throw new Error("the competing branch must be longer than the blocks it replaces (replaceWith > depth)");
    const forkHeight = this.height - depth;
    let parent = this.chain.entryAt(forkHeight)!.block.hash;
    let change: ChainChange | undefined;
    for (let i = 0; i < replaceWith; i++) {
      const block = mineBlock(this.chain, this.mempool, { payTo: this.coinbaseScript, maxBlockVsize: this.maxBlockVsize, now: this.clock(), extraNonce: ++this.extraNonce, parentHash: parent });
      const c = this.chain.addBlock(block);
      parent = block.hash;
      if (!change && c.connected.length) change = c;
      else if (change) change.connected.push(...c.connected);
    }
    const event: ReorgEvent = { forkHeight, disconnected: change!.disconnected.map((b) => b.hash), connected: change!.connected.map((b) => b.hash) };
    this.afterChange(change!, o.keepTxs ?? true, event);
    return event;
  }

  /** Forgets a mempool transaction and its descendants, as if it fell out of every mempool. */
  dropTransaction(txid: string): string[] {
    const gone = this.mempool.removeWithDescendants([txid]).map((e) => e.tx.txid);
    for (const t of gone) this.emit("removed", { txid: t, reason: "dropped" });
    if (gone.length) this.changed();
    return gone;
  }

  setMaxBlockVsize(vsize: number): void {
    if (!Number.isInteger(vsize) || vsize < 1000) throw new Error("max block vsize must be an integer ≥ 1000 vB");
    this.maxBlockVsize = vsize;
    this.changed();
  }
  setMinRelayFee(satPerVb: number): void {
    this.policy.minRelayFeePerKvB = satPerVbToKvB(satPerVb);
    this.changed();
  }
  setFeePressure(s: FeePressureSettings | undefined): void {
    this.pressure.set(s);
    this.changed();
  }
  setFeeEstimates(mode: FeeEstimateMode): void {
    this.feeEstimateMode = mode;
    this.changed();
  }

  /** sat/vB per confirmation target; a target missing from the map has no estimate. */
  feeEstimates(targets: number[]): Map<number, number> {
    const mode = this.feeEstimateMode;
    if (mode === "unavailable") return new Map();
    if (mode !== "mempool") return new Map(targets.filter((t) => mode[t] !== undefined).map((t) => [t, mode[t]]));
    if (this.estimateCache?.version !== this.version) {
      const capacity = this.blockCapacity();
      const all = [...Array(25).keys()].map((i) => i + 1).concat([144, 504, 1008]);
      this.estimateCache = { version: this.version, rates: estimateFeeRates(this.mempool, capacity, all, kvBToSatPerVb(this.policy.minRelayFeePerKvB), kvBToSatPerVb(this.policy.incrementalRelayFeePerKvB)) };
    }
    const rates = this.estimateCache.rates;
    return new Map(targets.map((t) => [t, rates.get(t) ?? rates.get(1008)!]));
  }

  /** The transaction, from the best chain or the mempool. */
  findTx(txid: string): { tx: Tx; entry?: MempoolEntry; block?: { hash: string; height: number; time: number; pos: number } } | undefined {
    const c = this.chain.findTx(txid);
    if (c) return { tx: c.tx, block: { hash: c.entry.block.hash, height: c.entry.height, time: c.entry.block.header.time, pos: c.pos } };
    const m = this.mempool.get(txid);
    return m ? { tx: m.tx, entry: m } : undefined;
  }

  /** vB left for transactions in the next block (the limit minus header and coinbase). */
  blockCapacity(): number {
    return this.maxBlockVsize - reservedVsize(this.height + 1, this.coinbaseScript);
  }

  close(): void {
    this.setAutoMine(0);
    this.removeAllListeners();
  }

  private changed(): void {
    this.version++;
    this.emit("change");
  }

  /** After blocks connect (or a reorg): rebuild the mempool against the new UTXO set, refill fillers, announce. */
  private afterChange(change: ChainChange, returnTxs: boolean, reorg?: ReorgEvent): void {
    const old = this.mempool.clear();
    const candidates: Array<{ tx: Tx; time: number }> = [];
    if (returnTxs) for (const b of [...change.disconnected].reverse()) for (const tx of b.txs.slice(1)) candidates.push({ tx, time: this.clock() });
    for (const e of old) candidates.push({ tx: e.tx, time: e.time });
    const confirmed = new Set(change.connected.flatMap((b: Block) => b.txs.map((t) => t.txid)));
    for (const c of candidates) {
      if (confirmed.has(c.tx.txid)) continue;
      try {
        acceptTransaction(c.tx, this.chain, this.mempool, this.policy, { bypassLimits: true, time: c.time });
      } catch (e) {
        this.emit("removed", { txid: c.tx.txid, reason: e instanceof Error ? e.message : String(e) });
      }
    }
    this.version++;
    this.pressure.refill();
    if (reorg) this.emit("reorg", reorg);
    for (const b of change.connected) this.emit("block", { hash: b.hash, height: this.chain.entry(b.hash)!.height, reorg: !!reorg } satisfies BlockEvent);
    this.changed();
  }
}

const satPerVbToKvB = (r: number): bigint => {
  if (!(r >= 0) || !Number.isFinite(r)) throw new Error(`not a fee rate: ${r}`);
  return BigInt(Math.round(r * 1000));
};
const kvBToSatPerVb = (r: bigint): number => Number(r) / 1000;
