import { assembleBlock, blockSubsidy, buildCoinbase, txMerkleRoot, type Block } from "./block";
import type { Chain } from "./chain";
import { mineHeader, REGTEST_BITS } from "./header";
import type { Mempool, MempoolEntry } from "./mempool";

interface Package {
  entries: MempoolEntry[];
  fee: bigint;
  vsize: number;
}

/** Is a's fee rate above b's (cross-multiplied, no rounding)? Ties go to the earlier arrival. */
const better = (a: Package, b: Package) => {
  const l = a.fee * BigInt(b.vsize);
  const r = b.fee * BigInt(a.vsize);
  return l !== r ? l > r : a.entries[a.entries.length - 1].seq < b.entries[b.entries.length - 1].seq;
};

/**
 * Core's package selection: repeatedly take the transaction whose not-yet-included ancestors and
 * itself pay the best fee rate together (so a high-fee child pulls in its low-fee parent: CPFP),
 * while it fits in `maxVsize`; packages that do not fit are skipped. `done` holds txids treated
 * as already mined (for simulating the blocks after this one).
 */
export function selectPackages(mempool: Mempool, maxVsize: number, done: ReadonlySet<string> = new Set()): { entries: MempoolEntry[]; leftover: boolean; packages: Package[] } {
  const included = new Set<string>();
  const skipped = new Set<string>();
  const out: MempoolEntry[] = [];
  const packages: Package[] = [];
  let used = 0;
  const candidates = mempool.all().filter((e) => !done.has(e.tx.txid));
  for (;;) {
    let best: Package | undefined;
    for (const e of candidates) {
      const t = e.tx.txid;
      if (included.has(t) || skipped.has(t)) continue;
      const members = [...mempool.ancestors(t)].filter((a) => !included.has(a) && !done.has(a)).map((a) => mempool.get(a)!);
      members.push(e);
      members.sort((x, y) => x.seq - y.seq);
      const p: Package = { entries: members, fee: members.reduce((s, m) => s + m.fee, 0n), vsize: members.reduce((s, m) => s + m.vsize, 0) };
      if (!best || better(p, best)) best = p;
    }
    if (!best) break;
    const top = best.entries[best.entries.length - 1].tx.txid;
    if (used + best.vsize > maxVsize) {
      skipped.add(top);
      continue;
    }
    used += best.vsize;
    packages.push(best);
    for (const m of best.entries) {
      included.add(m.tx.txid);
      out.push(m);
    }
  }
  return { entries: out, leftover: skipped.size > 0, packages };
}

export interface BlockRecipe {
  payTo: Uint8Array;
  maxBlockVsize: number;
  /** Wall-clock seconds; the block's time is at least the tip's MTP + 1. */
  now: number;
  extraNonce: number;
  /** Mine on this block instead of the tip (a competing branch), with no mempool transactions. */
  parentHash?: string;
}

/** Header, coinbase and varint allowance, computed from a coinbase with a witness commitment. */
export function reservedVsize(height: number, payTo: Uint8Array): number {
  const dummy = buildCoinbase({ height, value: 0n, payTo, extraNonce: 0xffffffff, txs: [{ hasWitness: true, wtxid: "00".repeat(32) } as never] });
  return 80 + 3 + dummy.vsize + 2;
}

/** Builds and mines the next block from the mempool (or an empty one on `parentHash`). */
export function mineBlock(chain: Chain, mempool: Mempool, r: BlockRecipe): Block {
  const parent = r.parentHash ? chain.entry(r.parentHash)! : chain.tip;
  const height = parent.height + 1;
  const selected = r.parentHash ? [] : selectPackages(mempool, r.maxBlockVsize - reservedVsize(height, r.payTo)).entries;
  const fees = selected.reduce((s, e) => s + e.fee, 0n);
  const txs = selected.map((e) => e.tx);
  const coinbase = buildCoinbase({ height, value: blockSubsidy(height) + fees, payTo: r.payTo, extraNonce: r.extraNonce, txs });
  const all = [coinbase, ...txs];
  const headerBytes = mineHeader({ version: 0x20000000, prevHash: parent.block.hash, merkleRoot: txMerkleRoot(all), time: Math.max(r.now, parent.mtp + 1), bits: REGTEST_BITS, nonce: 0 });
  return assembleBlock(headerBytes, all);
}

/**
 * Fee rate (sat/vB) to confirm within `target` blocks, from the mempool alone: simulate the next
 * blocks; when the mempool outlasts block `target`, pay that block's lowest package rate plus the
 * incremental relay fee, else the minimum relay fee.
 */
export function estimateFeeRates(mempool: Mempool, maxBlockVsize: number, targets: number[], minRelaySatPerVb: number, incrementalSatPerVb: number): Map<number, number> {
  const done = new Set<string>();
  const cutoffs: number[] = [];
  const maxTarget = Math.max(...targets);
  for (let n = 1; n <= maxTarget; n++) {
    const sel = selectPackages(mempool, maxBlockVsize, done);
    if (!sel.leftover || sel.packages.length === 0) break;
    const lowest = sel.packages.reduce((lo, p) => Math.min(lo, Number(p.fee) / p.vsize), Infinity);
    cutoffs.push(lowest);
    for (const e of sel.entries) done.add(e.tx.txid);
  }
  const out = new Map<number, number>();
  for (const t of targets) {
    const cut = cutoffs[t - 1];
    out.set(t, cut === undefined ? minRelaySatPerVb : Math.max(minRelaySatPerVb, Math.ceil((cut + incrementalSatPerVb) * 1000) / 1000));
  }
  return out;
}
