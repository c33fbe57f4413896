import { concatBytes, u32le } from "./bytes";
import type { Mempool } from "./mempool";
import type { DevnetWallet, WalletUtxo } from "./wallet";

export interface FeePressureSettings {
  /** Fee rate of the filler transactions, sat/vB. */
  feeRate: number;
  /** Keep at least this much filler vsize in the mempool (e.g. a few blocks' worth). */
  vsize: number;
  /** Largest filler (default and cap 99 000 vB: standard transactions stop at 100 kvB). */
  chunkVsize?: number;
}

/** Smallest filler: one P2WPKH input and its change (the smallest P2WPKH spend a client can make too). */
const SMALLEST = 110;
/** From this size on a filler carries an OP_RETURN sized to reach it. */
const WITH_DATA = 121;

/** An OP_RETURN of `n` data bytes (one push; Core 30's policy takes data carriers up to the weight limit). */
function dataCarrier(n: number): Uint8Array {
  const data = new Uint8Array(n).fill(0x46);
  if (n <= 75) return concatBytes(Uint8Array.of(0x6a, n), data);
  if (n <= 0xff) return concatBytes(Uint8Array.of(0x6a, 0x4c, n), data);
  if (n <= 0xffff) return concatBytes(Uint8Array.of(0x6a, 0x4d, n & 0xff, n >>> 8), data);
  return concatBytes(Uint8Array.of(0x6a, 0x4e), u32le(n), data);
}

/**
 * Filler sizes that pack one block's capacity: large chunks, then a tail of the smallest
 * transactions, so whatever space a higher-paying transaction leaves is still filled and a
 * lower-paying one finds less than one small transaction's room.
 */
export function fillerSizes(capacity: number, chunk: number): number[] {
  const sizes: number[] = [];
  let rest = capacity;
  while (rest > 1200) {
    const s = Math.min(chunk, rest - 1000);
    sizes.push(s);
    rest -= s;
  }
  while (rest >= SMALLEST + WITH_DATA) sizes.push(SMALLEST), (rest -= SMALLEST);
  if (rest >= WITH_DATA) sizes.push(rest);
  else if (rest >= SMALLEST) sizes.push(SMALLEST);
  return sizes.length ? sizes : [SMALLEST];
}

/**
 * Someone else's traffic: keeps the mempool holding `vsize` of transactions at `feeRate`, so a
 * transaction paying less waits while the backlog outlasts the blocks. Fillers are ordinary
 * signed transactions of a second public test key (one input, its change, an OP_RETURN sized to
 * the filler), funded from the devnet wallet in fan-outs of 20 coins. A filler never spends
 * another filler's unconfirmed change, so Core's 25-transaction chain limits are never reached.
 * Refilled after every block.
 */
export class FeePressure {
  private settings: FeePressureSettings | undefined;
  private readonly fillers = new Set<string>();
  private readonly fanouts = new Set<string>();
  private cursor = 0;
  /** Filler vsize that could not be added (the wallet ran dry): visible to tests. */
  shortfall = 0;

  constructor(private readonly mempool: Mempool, private readonly spam: DevnetWallet, private readonly funder: DevnetWallet, private readonly capacity: () => number) {}

  set(s: FeePressureSettings | undefined): void {
    if (s && (!(s.feeRate > 0) || !(s.vsize >= 0))) throw new Error("fee pressure needs a positive feeRate (sat/vB) and a vsize ≥ 0");
    this.settings = s && s.vsize > 0 ? s : undefined;
    this.refill();
  }

  get active(): FeePressureSettings | undefined {
    return this.settings;
  }

  /** Filler vsize in the mempool now. */
  pendingVsize(): number {
    let total = 0;
    for (const t of [...this.fillers]) {
      const e = this.mempool.get(t);
      if (e) total += e.vsize;
      else this.fillers.delete(t);
    }
    return total;
  }

  isFiller(txid: string): boolean {
    return this.fillers.has(txid) || this.fanouts.has(txid);
  }

  refill(): void {
    const s = this.settings;
    this.shortfall = 0;
    if (!s) return;
    const sizes = fillerSizes(this.capacity(), Math.max(SMALLEST, Math.min(s.chunkVsize ?? 99_000, 99_000)));
    for (let guard = 0; guard < 500; guard++) {
      const missing = s.vsize - this.pendingVsize();
      if (missing <= 0) return;
      try {
        this.fillers.add(this.sendFiller(sizes[this.cursor++ % sizes.length], s.feeRate));
      } catch {
        this.shortfall = missing;
        return;
      }
    }
  }

  private usableCoin(need: bigint): WalletUtxo | undefined {
    return this.spam.utxos().find((u) => u.value >= need && (u.height > 0 || this.fanouts.has(u.txid)));
  }

  private sendFiller(vsize: number, baseRate: number): string {
    // Large chunks pay a hair more than the small tail, so a miner takes a block's chunk before its
    // tail: taken in the other order, the tail could leave the chunk no room and a gap behind it.
    const feeRate = vsize > 10 * SMALLEST ? baseRate * 1.01 : baseRate;
    const need = BigInt(Math.ceil(feeRate * vsize * 1.1)) + 1000n;
    let coin = this.usableCoin(need);
    if (!coin) {
      const each = BigInt(Math.ceil(feeRate * 99_000 * 1.1)) + 10_000n;
      const fanout = this.funder.send(Array.from({ length: 20 }, () => ({ script: this.spam.script, value: each })), feeRate, { confirmedOnly: true });
      this.fanouts.add(fanout.txid);
      coin = this.usableCoin(need);
      if (!coin) throw new Error("the filler's funding did not arrive");
    }
    if (vsize < WITH_DATA) return this.spam.send([], feeRate, { inputs: [coin] }).txid;
    // One input, its change and the OP_RETURN's framing take about 120 vB; adjust to the exact size.
    let data = Math.max(1, vsize - 120);
    for (let attempt = 0; ; attempt++) {
      const outputs = [{ script: dataCarrier(data), value: 0 }];
      const built = this.spam.build(outputs, feeRate, { inputs: [coin] });
      if (built.vsize === vsize || attempt === 3) return this.spam.send(outputs, feeRate, { inputs: [coin] }).txid;
      data = Math.max(1, data + vsize - built.vsize);
    }
  }
}
