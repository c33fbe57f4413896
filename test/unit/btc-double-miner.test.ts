import { describe, expect, it } from "vitest";
import { Mempool } from "../../src/devnet/bitcoin/mempool";
import { selectPackages } from "../../src/devnet/bitcoin/miner";
import type { Tx } from "../../src/devnet/bitcoin/tx";

/**
 * The Bitcoin double's block template against Bitcoin Core's rule (miner.cpp, "ancestor feerate"
 * selection): the next transaction taken is the one whose not-yet-included ancestors and itself
 * pay the best fee rate together, so a child pays for its parent (CPFP); once a package is in, the
 * scores of what depends on it drop those ancestors; a package that does not fit is skipped.
 * First worked by hand, then against an independent implementation here — Core's own approach of
 * keeping each transaction's ancestor totals and subtracting what gets included (its
 * mapModifiedTx), where the double recomputes ancestor sets — over random dependency graphs.
 */
interface Spec { id: string; fee: number; vsize: number; parents?: string[] }

const txidOf = (id: string) => Buffer.from(id.padEnd(32, "_")).toString("hex");
const idOf = new Map<string, string>();
/** Each transaction also spends a confirmed coin of its own (outside the mempool). */
let coinCounter = 0;

function mempoolOf(specs: Spec[]): Mempool {
  const m = new Mempool();
  for (const s of specs) {
    const txid = txidOf(s.id);
    idOf.set(txid, s.id);
    const tx = { txid, inputs: (s.parents ?? []).map((p) => ({ prevTxid: txidOf(p), vout: 0, scriptSig: new Uint8Array(), sequence: 0xfffffffd, witness: [] })).concat([{ prevTxid: "ee".repeat(32), vout: ++coinCounter, scriptSig: new Uint8Array(), sequence: 0xfffffffd, witness: [] }]), outputs: [{ value: 1000n, script: Uint8Array.of(0x51) }] } as unknown as Tx;
    m.add({ tx, fee: BigInt(s.fee), vsize: s.vsize, prevouts: [], time: 0 });
  }
  return m;
}

const ids = (entries: { tx: { txid: string } }[]) => entries.map((e) => idOf.get(e.tx.txid)!);

describe("the double's block template: ancestor fee rate (CPFP)", () => {
  it("a high-fee child pulls its low-fee parent in ahead of transactions paying more than the parent alone", () => {
    const specs: Spec[] = [
      { id: "P", fee: 400, vsize: 400 }, // 1 sat/vB alone
      { id: "X", fee: 1200, vsize: 300 }, // 4
      { id: "Y", fee: 900, vsize: 300 }, // 3
      { id: "Z", fee: 300, vsize: 150 }, // 2
      { id: "C", fee: 2100, vsize: 100, parents: ["P"] }, // P + C: 2500 / 500 = 5
    ];
    // By hand, 1000 vB: P+C (5, 500 vB), X (4, 800), Y does not fit (1100), Z (2, 950).
    const { packages, leftover } = selectPackages(mempoolOf(specs), 1000);
    expect(packages.map((p) => ids(p.entries))).toEqual([["P", "C"], ["X"], ["Z"]]);
    expect(leftover).toBe(true);
    // Without the child the parent waits: X, Y, Z fill 750 vB and P (400) no longer fits.
    const alone = selectPackages(mempoolOf(specs.filter((s) => s.id !== "C")), 1000);
    expect(ids(alone.entries)).toEqual(["X", "Y", "Z"]);
  });

  it("after a package is in, a sibling is scored without the parent it no longer carries", () => {
    const specs: Spec[] = [
      { id: "P", fee: 1000, vsize: 1000 },
      { id: "C1", fee: 5000, vsize: 100, parents: ["P"] }, // with P: 6000 / 1100 = 5.45
      { id: "C2", fee: 300, vsize: 100, parents: ["P"] }, // with P: 1300 / 1100 = 1.18; alone once P is in: 3
      { id: "Q", fee: 800, vsize: 200 }, // 4
      { id: "R", fee: 200, vsize: 100 }, // 2
    ];
    // 1400 vB: P+C1 (1100), Q (1300), then C2 at 3 beats R at 2 for the last 100 vB.
    const { packages } = selectPackages(mempoolOf(specs), 1400);
    expect(packages.map((p) => [ids(p.entries), Number(p.fee), p.vsize])).toEqual([[["P", "C1"], 6000, 1100], [["Q"], 800, 200], [["C2"], 300, 100]]);
  });

  it("a grandchild lifts a chain of two cheap ancestors; a package too big is skipped, smaller ones still fill the block", () => {
    const specs: Spec[] = [
      { id: "A", fee: 100, vsize: 100 },
      { id: "B", fee: 100, vsize: 100, parents: ["A"] },
      { id: "G", fee: 2800, vsize: 100, parents: ["B"] }, // A+B+G: 3000 / 300 = 10
      { id: "BIG", fee: 20000, vsize: 900 }, // 22.2, but 900 vB
      { id: "S", fee: 500, vsize: 100 }, // 5
    ];
    const { packages } = selectPackages(mempoolOf(specs), 500);
    expect(packages.map((p) => ids(p.entries))).toEqual([["A", "B", "G"], ["S"]]);
  });

  it("matches an independent ancestor-score selection (Core's bookkeeping) on random dependency graphs", () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let round = 0; round < 200; round++) {
      const n = 3 + Math.floor(rand() * 12);
      const specs: Spec[] = [];
      for (let i = 0; i < n; i++) {
        const parents = specs.filter(() => rand() < 0.25).map((s) => s.id).slice(0, 3);
        specs.push({ id: `t${round}_${i}`, fee: 100 + Math.floor(rand() * 100_000), vsize: 100 + Math.floor(rand() * 900), parents });
      }
      const capacity = 300 + Math.floor(rand() * 6000);
      const expected = coreSelection(specs, capacity);
      const got = selectPackages(mempoolOf(specs), capacity);
      expect(got.packages.map((p) => ids(p.entries)), `round ${round}`).toEqual(expected);
    }
  });
});

/**
 * Core's way: every transaction starts with its full ancestor totals (fee, size, set); including
 * a package subtracts its members from the totals of every transaction that had them as
 * ancestors. Each step takes the best (fee × other size, ties to the earlier arrival of the
 * candidate itself); one that does not fit is failed for good.
 */
function coreSelection(specs: Spec[], capacity: number): string[][] {
  const byId = new Map(specs.map((s, i) => [s.id, { ...s, seq: i }]));
  const ancestorsOf = (id: string): Set<string> => {
    const out = new Set<string>();
    const stack = [...(byId.get(id)!.parents ?? [])];
    while (stack.length) {
      const p = stack.pop()!;
      if (out.has(p)) continue;
      out.add(p);
      stack.push(...(byId.get(p)!.parents ?? []));
    }
    return out;
  };
  const state = new Map(specs.map((s) => {
    const anc = ancestorsOf(s.id);
    const members = [...anc, s.id];
    return [s.id, { anc, fee: members.reduce((a, m) => a + byId.get(m)!.fee, 0), vsize: members.reduce((a, m) => a + byId.get(m)!.vsize, 0) }];
  }));
  const inBlock = new Set<string>();
  const failed = new Set<string>();
  const out: string[][] = [];
  let used = 0;
  for (;;) {
    let best: string | undefined;
    for (const [id, s] of state) {
      if (inBlock.has(id) || failed.has(id)) continue;
      if (!best) { best = id; continue; }
      const b = state.get(best)!;
      const l = s.fee * b.vsize;
      const r = b.fee * s.vsize;
      if (l > r || (l === r && byId.get(id)!.seq < byId.get(best)!.seq)) best = id;
    }
    if (!best) return out;
    const s = state.get(best)!;
    if (used + s.vsize > capacity) {
      failed.add(best);
      continue;
    }
    used += s.vsize;
    const pkg = [...s.anc, best].sort((a, b) => byId.get(a)!.seq - byId.get(b)!.seq);
    out.push(pkg);
    for (const m of pkg) inBlock.add(m);
    for (const [id, o] of state) {
      if (inBlock.has(id)) continue;
      for (const m of pkg) if (o.anc.has(m)) {
        o.anc.delete(m);
        o.fee -= byId.get(m)!.fee;
        o.vsize -= byId.get(m)!.vsize;
      }
    }
  }
}
