import { blockSubsidy, COINBASE_MATURITY, findWitnessCommitment, MAX_BLOCK_WEIGHT, pushNumber, txMerkleRoot, witnessCommitment, type Block } from "./block";
import { equalBytes, sha256Bytes, toHex } from "./bytes";
import { hasValidPow, medianTimePast, REGTEST_BITS, workFromBits } from "./header";
import { isFinalTx, meetsRelativeLocks } from "./locktime";
import { ChainIndex } from "./chain-index";
import { verifyInputs } from "./sigcheck";
import { outpointKey, totalOut, type Tx, type TxOut } from "./tx";

/** An unspent output of the best chain. */
export interface Coin extends TxOut {
  height: number;
  coinbase: boolean;
}

export interface BlockEntry {
  block: Block;
  height: number;
  /** Accumulated work of the chain ending here (Core's nChainWork). */
  chainWork: bigint;
  /** Median of this block's time and its 10 ancestors'. */
  mtp: number;
  invalid?: string;
}

export interface ChainChange {
  disconnected: Block[];
  connected: Block[];
}

/** A block the chain refuses, with Core's reject reason ("bad-txnmrklroot", "time-too-old", …). */
export class BlockRejected extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/**
 * The block tree from the regtest genesis, its best chain by accumulated work, and that chain's
 * UTXO set. A block with more work than the tip activates its branch: blocks back to the fork are
 * disconnected (their spent coins restored from undo data), the branch connected and validated.
 */
export class Chain {
  private readonly entries = new Map<string, BlockEntry>();
  private readonly active: string[] = [];
  private readonly utxos = new Map<string, Coin>();
  private readonly undo = new Map<string, Array<[string, Coin]>>();
  readonly index = new ChainIndex();
  /** wtxids whose scripts already verified (Core's signature cache): a block need not verify them again. */
  readonly verified = new Set<string>();

  constructor(genesis: Block) {
    const entry: BlockEntry = { block: genesis, height: 0, chainWork: workFromBits(genesis.header.bits), mtp: genesis.header.time };
    this.entries.set(genesis.hash, entry);
    this.active.push(genesis.hash);
    // The genesis coinbase is unspendable and unindexed, as in Core and ElectrumX.
  }

  get tip(): BlockEntry {
    return this.entries.get(this.active[this.active.length - 1])!;
  }
  get height(): number {
    return this.active.length - 1;
  }
  entryAt(height: number): BlockEntry | undefined {
    const h = this.active[height];
    return h === undefined ? undefined : this.entries.get(h);
  }
  entry(hash: string): BlockEntry | undefined {
    return this.entries.get(hash);
  }
  isActive(hash: string): boolean {
    const e = this.entries.get(hash);
    return !!e && this.active[e.height] === hash;
  }
  coin(txid: string, vout: number): Coin | undefined {
    return this.utxos.get(outpointKey(txid, vout));
  }
  /** The confirmed transaction, its block entry and position, on the best chain. */
  findTx(txid: string): { tx: Tx; entry: BlockEntry; pos: number } | undefined {
    const at = this.index.txLocation(txid);
    if (!at) return undefined;
    const entry = this.entries.get(at.block)!;
    return { tx: entry.block.txs[at.pos], entry, pos: at.pos };
  }
  /** The MTP the next block's locktimes are judged by (the tip's). */
  nextBlockMtp(): number {
    return this.tip.mtp;
  }
  mtpBefore(height: number): number {
    return this.entryAt(Math.max(0, height - 1))!.mtp;
  }

  /** Stores a block and, when its branch has the most work, makes it the best chain. */
  addBlock(block: Block): ChainChange {
    if (this.entries.has(block.hash)) throw new BlockRejected("duplicate");
    const parent = this.entries.get(block.header.prevHash);
    if (!parent) throw new BlockRejected("prev-blk-not-found");
    if (parent.invalid) throw new BlockRejected("bad-prevblk");
    this.checkStandalone(block, parent);
    const entry: BlockEntry = {
      block,
      height: parent.height + 1,
      chainWork: parent.chainWork + workFromBits(block.header.bits),
      mtp: medianTimePast([...this.ancestorTimes(parent, 10), block.header.time]),
    };
    this.entries.set(block.hash, entry);
    if (entry.chainWork <= this.tip.chainWork) return { disconnected: [], connected: [] };
    return this.activate(entry);
  }

  private ancestorTimes(from: BlockEntry, n: number): number[] {
    const times: number[] = [];
    for (let e: BlockEntry | undefined = from; e && times.length < n; e = this.entries.get(e.block.header.prevHash)) times.unshift(e.block.header.time);
    return times;
  }

  /** Checks that need no UTXO set: work, links, time, merkle root, coinbase shape, witness commitment. */
  private checkStandalone(block: Block, parent: BlockEntry): void {
    const height = parent.height + 1;
    if (!hasValidPow(block.headerBytes)) throw new BlockRejected("high-hash");
    if (block.header.bits !== REGTEST_BITS) throw new BlockRejected("bad-diffbits");
    if (block.header.time <= parent.mtp) throw new BlockRejected("time-too-old");
    if (block.txs.length === 0 || !block.txs[0].isCoinbase) throw new BlockRejected("bad-cb-missing");
    if (block.txs.slice(1).some((t) => t.isCoinbase)) throw new BlockRejected("bad-cb-multiple");
    if (txMerkleRoot(block.txs) !== block.header.merkleRoot) throw new BlockRejected("bad-txnmrklroot");
    if (new Set(block.txs.map((t) => t.txid)).size !== block.txs.length) throw new BlockRejected("bad-txns-duplicate");
    if (block.weight > MAX_BLOCK_WEIGHT) throw new BlockRejected("bad-blk-weight");
    const heightPush = pushNumber(height);
    if (!equalBytes(block.txs[0].inputs[0].scriptSig.subarray(0, heightPush.length), heightPush)) throw new BlockRejected("bad-cb-height");
    const commitment = findWitnessCommitment(block.txs[0]);
    if (commitment) {
      const reserved = block.txs[0].inputs[0].witness;
      if (reserved.length !== 1 || reserved[0].length !== 32) throw new BlockRejected("bad-witness-nonce-size");
      if (!equalBytes(witnessCommitment(block.txs, reserved[0]), commitment)) throw new BlockRejected("bad-witness-merkle-match");
    } else if (block.txs.some((t) => t.hasWitness)) throw new BlockRejected("unexpected-witness");
  }

  private activate(newTip: BlockEntry): ChainChange {
    const path: BlockEntry[] = [];
    for (let e: BlockEntry = newTip; !this.isActive(e.block.hash); e = this.entries.get(e.block.header.prevHash)!) path.unshift(e);
    const forkHeight = path[0].height - 1;
    const disconnected: Block[] = [];
    while (this.height > forkHeight) disconnected.push(this.disconnectTip());
    const connected: Block[] = [];
    for (const e of path) {
      try {
        this.connect(e);
        connected.push(e.block);
      } catch (err) {
        e.invalid = err instanceof BlockRejected ? err.reason : String(err);
        while (this.height > forkHeight) this.disconnectTip();
        for (const b of [...disconnected].reverse()) this.connect(this.entries.get(b.hash)!);
        throw err;
      }
    }
    return { disconnected, connected };
  }

  /** Validates a block's transactions against the UTXO set, then applies them. */
  private connect(e: BlockEntry): void {
    const { block, height } = e;
    const created = new Map<string, Coin>();
    const spent = new Map<string, Coin>();
    const view = (k: string) => (spent.has(k) ? undefined : created.get(k) ?? this.utxos.get(k));
    const mtp = this.tip.mtp;
    let fees = 0n;
    block.txs.forEach((tx, pos) => {
      if (!isFinalTx(tx, height, mtp)) throw new BlockRejected("bad-txns-nonfinal");
      if (tx.outputs.some((_, n) => view(outpointKey(tx.txid, n)))) throw new BlockRejected("bad-txns-BIP30");
      if (pos > 0) {
        const prevouts: Coin[] = [];
        for (const input of tx.inputs) {
          const k = outpointKey(input.prevTxid, input.vout);
          const coin = view(k);
          if (!coin) throw new BlockRejected("bad-txns-inputs-missingorspent");
          if (coin.coinbase && height - coin.height < COINBASE_MATURITY) throw new BlockRejected("bad-txns-premature-spend-of-coinbase");
          prevouts.push(coin);
          spent.set(k, coin);
        }
        const inValue = prevouts.reduce((s, c) => s + c.value, 0n);
        if (inValue < totalOut(tx)) throw new BlockRejected("bad-txns-in-belowout");
        const ages = prevouts.map((c) => ({ height: c.height, mtpBefore: this.mtpBefore(c.height) }));
        if (!meetsRelativeLocks(tx, ages, height, mtp)) throw new BlockRejected("bad-txns-nonfinal");
        if (!this.verified.has(tx.wtxid)) {
          const failure = verifyInputs(tx, prevouts, false);
          if (failure) throw new BlockRejected(`block-script-verify-flag-failed (${failure.reason})`);
          this.verified.add(tx.wtxid);
        }
        fees += inValue - totalOut(tx);
      }
      tx.outputs.forEach((o, n) => {
        if (o.script[0] !== 0x6a && o.script.length <= 10_000) created.set(outpointKey(tx.txid, n), { ...o, height, coinbase: pos === 0 });
      });
    });
    if (totalOut(block.txs[0]) > blockSubsidy(height) + fees) throw new BlockRejected("bad-cb-amount");
    // Coins created and spent inside the block never reach the UTXO set (nor its undo data).
    const spentBefore = [...spent].filter(([k]) => !created.has(k));
    for (const [k, coin] of spentBefore) {
      this.utxos.delete(k);
      this.index.removeUtxo(k, coin.script);
    }
    for (const [k, coin] of created) {
      if (spent.has(k)) continue;
      this.utxos.set(k, coin);
      this.index.addUtxo(k, coin.script);
    }
    this.undo.set(block.hash, spentBefore);
    this.active.push(block.hash);
    this.index.connect(block, height, (k) => spent.get(k));
  }

  private disconnectTip(): Block {
    const e = this.tip;
    const { block, height } = e;
    for (const tx of block.txs) {
      tx.outputs.forEach((o, n) => {
        const k = outpointKey(tx.txid, n);
        if (this.utxos.delete(k)) this.index.removeUtxo(k, o.script);
      });
    }
    for (const [k, coin] of this.undo.get(block.hash) ?? []) {
      this.utxos.set(k, coin);
      this.index.addUtxo(k, coin.script);
    }
    this.undo.delete(block.hash);
    this.index.disconnect(block, height);
    this.active.pop();
    return block;
  }

  /** sha256 of an output script (natural order, as Esplora takes it) to the script, for scripts seen. */
  noteScript(script: Uint8Array): void {
    this.index.noteScript(toHex(sha256Bytes(script)), script);
  }
}
