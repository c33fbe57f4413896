import { describe, expect, it } from "vitest";
import { estimateForTarget, median, satPerVbFromBtcPerKb } from "../../src/lib/btc/fees";
import { NETWORK_PARAMS, type NetworkParams } from "../../src/lib/btc/networks";
import { chainWork, chooseChain, type ChainView } from "../../src/lib/btc/tip-choice";
import { VerifiedChain } from "../../src/lib/btc/verified-chain";
import { bitsTarget, disp, dsha, internal } from "../helpers/btc-chain";

// Headers mined here with node:crypto, not with the module under test.
function mine(prevHash: string, bits = 0x207fffff, salt = 0): Buffer {
  const h = Buffer.alloc(80);
  h.writeUInt32LE(0x20000000, 0);
  internal(prevHash).copy(h, 4);
  h.writeUInt32LE(salt, 36);
  h.writeUInt32LE(1_600_000_000 + salt, 68);
  h.writeUInt32LE(bits, 72);
  for (let n = 0; ; n++) {
    h.writeUInt32LE(n, 76);
    if (BigInt("0x" + disp(dsha(h))) <= bitsTarget(bits)) return h;
  }
}
function mineChain(prevHash: string, n: number, o: { bits?: (i: number) => number; salt?: number } = {}): Buffer[] {
  const out: Buffer[] = [];
  let prev = prevHash;
  for (let i = 0; i < n; i++) {
    const h = mine(prev, o.bits?.(i) ?? 0x207fffff, (o.salt ?? 0) * 1000 + i);
    out.push(h);
    prev = disp(dsha(h));
  }
  return out;
}
const hashOf = (h: Buffer) => disp(dsha(h));
const ZERO = "00".repeat(32);
const regtest = NETWORK_PARAMS.regtest;
const strict: NetworkParams = { ...regtest, bitsFixedWithinEpoch: true };

describe("chooseChain: most work wins", () => {
  const view = (key: string, hashes: string[], works: bigint[], start = 10): ChainView => ({ key, start, hashes, works });

  it("more work beats more headers", () => {
    const long = view("long", ["a", "b", "c", "d"], [2n, 2n, 2n, 2n]);
    const heavy = view("heavy", ["x", "y"], [65537n, 65537n]);
    expect(chooseChain([long, heavy])).toEqual({ winner: "heavy", behind: [], forks: ["long"] });
    expect(chooseChain([heavy, long])).toEqual({ winner: "heavy", behind: [], forks: ["long"] });
    expect(chainWork(long)).toBe(8n);
  });

  it("equal work: the incumbent stays, else the first view", () => {
    const a = view("a", ["a1"], [5n]);
    const b = view("b", ["b1"], [5n]);
    expect(chooseChain([a, b]).winner).toBe("a");
    expect(chooseChain([a, b], "b").winner).toBe("b");
    expect(chooseChain([a, b], "nobody").winner).toBe("a");
    // One more unit of work is enough to replace the incumbent.
    expect(chooseChain([a, view("b", ["b1"], [6n])], "a").winner).toBe("b");
  });

  it("a view whose tip is on the winner's chain is behind, not a fork; an empty view is behind", () => {
    const best = view("best", ["h10", "h11", "h12"], [2n, 2n, 2n]);
    const lagging = view("lag", ["h10", "h11"], [2n, 2n]);
    const same = view("same", ["h10", "h11", "h12"], [2n, 2n, 2n]);
    const empty = view("empty", [], []);
    const fork = view("fork", ["h10", "f11"], [2n, 2n]);
    expect(chooseChain([best, lagging, same, empty, fork])).toEqual({ winner: "best", behind: ["lag", "same", "empty"], forks: ["fork"] });
    // Longer than the winner but lighter: its tip is past the winner's end, so it is a fork.
    const longLight = view("ll", ["h10", "h11", "h12", "h13"], [1n, 1n, 1n, 1n]);
    expect(chooseChain([best, longLight]).forks).toEqual(["ll"]);
    // One header: on the winner's chain or not.
    expect(chooseChain([best, view("one", ["h10"], [1n]), view("other", ["g10"], [1n])])).toEqual({ winner: "best", behind: ["one"], forks: ["other"] });
  });

  it("refuses views that do not start at one height or lack a work per hash", () => {
    expect(() => chooseChain([])).toThrow(/at least one chain/);
    expect(() => chooseChain([view("a", ["x"], [1n], 1), view("b", ["y"], [1n], 2)])).toThrow(/one height/);
    expect(() => chooseChain([view("a", ["x", "y"], [1n])])).toThrow(/one work per hash/);
  });
});

describe("VerifiedChain", () => {
  const base = mineChain(ZERO, 12);

  it("empty, one header, ranges", () => {
    const c = new VerifiedChain(regtest);
    expect([c.tip, c.base, c.size]).toEqual([undefined, undefined, 0]);
    const one = c.check(7, [base[7]]);
    if (one.ok) c.adopt(one);
    expect([c.tip?.height, c.base, c.size]).toEqual([7, 7, 1]);
    const more = c.check(8, base.slice(8, 11));
    if (more.ok) c.adopt(more);
    expect(c.range(7, 7)!.map((h) => h.height)).toEqual([7]);
    expect(c.range(7, 10)!.map((h) => h.height)).toEqual([7, 8, 9, 10]);
    expect(c.range(6, 8)).toBeUndefined();
    expect(c.range(8, 11)).toBeUndefined();
    expect(c.range(9, 8)).toBeUndefined();
    // An empty segment is no change.
    const none = c.check(3, []);
    expect(none).toEqual({ ok: true, segment: { start: 3, headers: [] }, joinsBelow: false, joinsAbove: false });
    if (none.ok) c.adopt(none);
    expect([c.base, c.tip?.height]).toEqual([7, 10]);
  });

  it("joins: a parent that is not the stored header is no join, below or above; genesis joins only a store from 0", () => {
    const c = new VerifiedChain(regtest);
    const s = c.check(5, base.slice(5, 9));
    if (s.ok) c.adopt(s);
    const stranger = mineChain(ZERO, 2, { salt: 11 });
    expect(c.check(9, [stranger[0]])).toMatchObject({ ok: true, joinsBelow: false, joinsAbove: false });
    expect(c.check(3, stranger)).toMatchObject({ ok: true, joinsBelow: false, joinsAbove: false });
    expect(c.check(0, base.slice(0, 2))).toMatchObject({ ok: true, joinsBelow: false, joinsAbove: false });
    expect(new VerifiedChain(regtest).check(0, [base[0]])).toMatchObject({ ok: true, joinsBelow: false });
    // A single header that does not join starts the store over at its own height.
    const solo = c.check(40, [stranger[1]]);
    if (solo.ok) c.adopt(solo);
    expect([c.base, c.tip?.height, c.size]).toEqual([40, 40, 1]);
  });

  it("checks a segment: work within the limit, links, and how it joins the store", () => {
    const c = new VerifiedChain(regtest);
    const first = c.check(100, base.slice(0, 6));
    expect(first).toMatchObject({ ok: true, joinsBelow: false, joinsAbove: false, forkHeight: undefined });
    if (first.ok) c.adopt(first);
    expect([c.base, c.tip?.height, c.size]).toEqual([100, 105, 6]);
    expect(c.at(103)?.header.hash).toBe(hashOf(base[3]));
    const next = c.check(106, base.slice(6, 8));
    expect(next).toMatchObject({ ok: true, joinsBelow: true });
    const below = c.check(98, []);
    expect(below).toMatchObject({ ok: true, joinsBelow: false, joinsAbove: false });
    // A broken link inside the segment, a header above its target, one past the network's limit.
    expect(c.check(106, [base[6], base[8]])).toMatchObject({ ok: false, index: 1, height: 107, reason: "link" });
    const bad = Buffer.from(base[7]);
    bad.writeUInt32LE(0x1d00ffff, 72);
    expect(c.check(106, [base[6], bad])).toMatchObject({ ok: false, index: 1, reason: "work" });
    const onMainnet = new VerifiedChain(NETWORK_PARAMS.mainnet);
    expect(onMainnet.check(0, [base[0]])).toMatchObject({ ok: false, reason: "pow-limit" });
  });

  it("extends, then reorganises to a fork (dropping what no longer links), keeping the shared part", () => {
    const c = new VerifiedChain(regtest);
    const s = c.check(0, base.slice(0, 10));
    if (s.ok) c.adopt(s);
    const fork = mineChain(hashOf(base[5]), 3, { salt: 7 });
    const f = c.check(6, fork);
    expect(f).toMatchObject({ ok: true, joinsBelow: true, forkHeight: 6 });
    if (f.ok) c.adopt(f);
    expect(c.tip).toMatchObject({ height: 8 });
    expect(c.tip!.header.hash).toBe(hashOf(fork[2]));
    expect(c.at(9)).toBeUndefined();
    expect(c.at(5)!.header.hash).toBe(hashOf(base[5]));
    expect(c.range(4, 8)!.map((h) => h.height)).toEqual([4, 5, 6, 7, 8]);
    expect(c.range(4, 9)).toBeUndefined();
  });

  it("re-adopting headers it already has changes nothing; a segment below the base that joins above is prepended", () => {
    const c = new VerifiedChain(regtest);
    const s = c.check(5, base.slice(5, 10));
    if (s.ok) c.adopt(s);
    const again = c.check(6, base.slice(6, 8));
    expect(again).toMatchObject({ ok: true, joinsBelow: true, forkHeight: undefined });
    if (again.ok) c.adopt(again);
    expect([c.base, c.tip?.height]).toEqual([5, 9]);
    const pre = c.check(1, base.slice(1, 5));
    expect(pre).toMatchObject({ ok: true, joinsBelow: false, joinsAbove: true });
    if (pre.ok) c.adopt(pre);
    expect([c.base, c.tip?.height, c.size]).toEqual([1, 9, 9]);
    // From genesis: joins a store that starts at 0.
    const g = c.check(0, [base[0]]);
    expect(g).toMatchObject({ ok: true, joinsAbove: true });
    if (g.ok) c.adopt(g);
    expect(c.base).toBe(0);
    const fromZero = c.check(0, base.slice(0, 3));
    expect(fromZero).toMatchObject({ ok: true, joinsBelow: true, forkHeight: undefined });
  });

  it("a segment that joins nothing starts the store over; the store keeps only its capacity", () => {
    const c = new VerifiedChain(regtest, 4);
    const s = c.check(0, base.slice(0, 10));
    if (s.ok) c.adopt(s);
    expect([c.base, c.tip?.height, c.size]).toEqual([6, 9, 4]);
    const other = mineChain(ZERO, 2, { salt: 3 });
    const o = c.check(50, other);
    expect(o).toMatchObject({ ok: true, joinsBelow: false, joinsAbove: false });
    if (o.ok) c.adopt(o);
    expect([c.base, c.tip?.height, c.size]).toEqual([50, 51, 2]);
  });

  it("sums work over a height range", () => {
    const c = new VerifiedChain(regtest);
    const s = c.check(0, base.slice(0, 4));
    if (s.ok) c.adopt(s);
    const w = c.at(0)!.work;
    expect(w).toBe((1n << 256n) / (bitsTarget(0x207fffff) + 1n));
    expect(c.workBetween(1, 2)).toBe(2n * w);
    expect(c.workBetween(-5, 100)).toBe(4n * w);
  });

  it("where the network fixes nBits within a period: a change is refused inside it, allowed at a retarget height", () => {
    const c = new VerifiedChain(strict);
    const start = 2014; // heights 2014, 2015 | 2016 (retarget), 2017
    const hs = mineChain(ZERO, 4, { bits: (i) => (i < 2 ? 0x207fffff : 0x207ffffe) });
    const ok = c.check(start, hs.slice(0, 3));
    expect(ok.ok).toBe(true);
    const changeInside = mineChain(ZERO, 2, { bits: (i) => (i === 0 ? 0x207fffff : 0x207ffffe), salt: 9 });
    expect(c.check(100, changeInside)).toMatchObject({ ok: false, index: 1, height: 101, reason: "bits-changed", message: "header at height 101 changes nBits inside a difficulty period (0x207fffff to 0x207ffffe)" });
    // Against the stored parent too.
    if (ok.ok) c.adopt(ok);
    const child = mine(hashOf(hs[2]), 0x207fffff, 77);
    expect(c.check(2017, [child])).toMatchObject({ ok: false, reason: "bits-changed" });
    expect(c.check(2017, [hs[3]]).ok).toBe(true);
    // Regtest itself has no such rule.
    expect(new VerifiedChain(regtest).check(100, changeInside).ok).toBe(true);
  });
});

describe("fee units", () => {
  it("Electrum's BTC/kB to sat/vB; -1 (no estimate) and junk are none", () => {
    expect(satPerVbFromBtcPerKb(0.00101079)).toBe(101.079);
    expect(satPerVbFromBtcPerKb(0.0001)).toBe(10);
    expect(satPerVbFromBtcPerKb(1e-5)).toBe(1);
    expect(satPerVbFromBtcPerKb(0)).toBe(0);
    expect(satPerVbFromBtcPerKb(-1)).toBeUndefined();
    expect(satPerVbFromBtcPerKb(Number.NaN)).toBeUndefined();
    expect(satPerVbFromBtcPerKb(Number.POSITIVE_INFINITY)).toBeUndefined();
  });

  it("the estimate for a target: the largest target not above it, else the fastest", () => {
    const m = new Map([[2, 20], [6, 10], [144, 1]]);
    expect(estimateForTarget(m, 6)).toBe(10);
    expect(estimateForTarget(m, 5)).toBe(20);
    expect(estimateForTarget(m, 1000)).toBe(1);
    expect(estimateForTarget(m, 1)).toBe(20);
    expect(estimateForTarget(new Map(), 6)).toBeUndefined();
  });

  it("median", () => {
    expect(median([])).toBeUndefined();
    expect(median([7])).toBe(7);
    expect(median([30, 4, 7])).toBe(7);
    expect(median([30, 4])).toBe(17);
    expect(median([1, 10, 2, 9])).toBe(5.5);
  });
});
