import { describe, expect, it } from "vitest";
import { computeTwap, sortPoints, type PricePoint } from "../../src/lib/rai/twap";
import { referenceTwap } from "../helpers/rai-reference";

const pts = (...pairs: [number, number][]): PricePoint[] => pairs.map(([timestamp, p]) => ({ timestamp, price: BigInt(p) }));

describe("computeTwap reference checks", () => {
  it("(2,2),(3,4) over [1,4] -> 3 (time before the first point left out)", () => {
    expect(computeTwap(pts([2, 2], [3, 4]), 1, 4)).toBe(3n);
  });
  it("(2,2),(3,3) over [4,5] -> 3 (last point before the window carried in)", () => {
    expect(computeTwap(pts([2, 2], [3, 3]), 4, 5)).toBe(3n);
  });
  it("no points -> null", () => {
    expect(computeTwap([], 1, 4)).toBeNull();
  });
});

describe("computeTwap properties", () => {
  it("a constant rate gives that rate whatever the window", () => {
    const p = 995235179127827689n;
    const points = [0, 10800, 21600, 32400].map((timestamp) => ({ timestamp, price: p }));
    for (const [s, e] of [[0, 28800], [5, 7], [20000, 50000], [32400, 32401]]) expect(computeTwap(points, s, e)).toBe(p);
  });

  it("page order does not matter", () => {
    const points = pts([100, 7], [50, 3], [400, 11], [250, 5], [10, 1]);
    const sorted = [...points].sort((a, b) => a.timestamp - b.timestamp);
    const reversed = [...sorted].reverse();
    for (const [s, e] of [[0, 500], [60, 300], [260, 260 + 17]]) {
      const want = referenceTwap(points, s, e);
      expect(want).not.toBeNull();
      expect(computeTwap(sorted, s, e)).toBe(want);
      expect(computeTwap(points, s, e)).toBe(want);
      expect(computeTwap(reversed, s, e)).toBe(want);
    }
  });

  it("a window entirely before the first point is null, not zero", () => {
    expect(computeTwap(pts([100, 5]), 10, 90)).toBeNull();
    expect(computeTwap(pts([100, 5]), 10, 100)).toBeNull();
    expect(computeTwap(pts([100, 5]), 10, 101)).toBe(5n);
  });

  it("points after the window end are ignored and a point exactly at start is in force", () => {
    expect(computeTwap(pts([0, 1], [10, 9], [20, 1000]), 10, 20)).toBe(9n);
  });

  it("floors the division", () => {
    // 1 for 2 s, 2 for 1 s -> 4/3 = 1.33 -> 1
    expect(computeTwap(pts([0, 1], [2, 2]), 0, 3)).toBe(1n);
    // 1 for 1 s, 2 for 2 s -> 5/3 -> 1
    expect(computeTwap(pts([0, 1], [1, 2]), 0, 3)).toBe(1n);
  });

  it("the later of two points with the same timestamp wins", () => {
    const points: PricePoint[] = [
      { timestamp: 5, price: 2n, block: 8 },
      { timestamp: 5, price: 9n, block: 7 },
    ];
    expect(computeTwap(points, 5, 10)).toBe(2n);
  });

  it("weights by seconds, exactly", () => {
    // 10 for 3 s, 40 for 1 s -> 70 / 4 = 17
    expect(computeTwap(pts([0, 10], [3, 40]), 0, 4)).toBe(17n);
  });

  it("rejects a window that ends before it starts", () => {
    expect(() => computeTwap([], 5, 4)).toThrow(/before its start/);
  });

  it("agrees with a second-by-second average on random step functions and windows", () => {
    let seed = 42n;
    // 64-bit LCG, high bits (the low bits of a power-of-two LCG cycle too quickly to be random)
    const rnd = (n: number) => { seed = (seed * 6364136223846793005n + 1442695040888963407n) % 2n ** 64n; return Number((seed >> 33n) % BigInt(n)); };
    let negativeInexact = 0;
    for (let round = 0; round < 300; round++) {
      const points: PricePoint[] = Array.from({ length: rnd(6) }, (_, i) => ({ timestamp: rnd(60), price: BigInt(rnd(2000) - 1000), block: i }));
      const start = rnd(70);
      const end = start + rnd(40);
      const want = referenceTwap(points, start, end);
      if (want !== null && want < 0n) negativeInexact++;
      expect(computeTwap(points, start, end), JSON.stringify({ points: points.map((p) => [p.timestamp, String(p.price), p.block]), start, end })).toBe(want);
    }
    expect(negativeInexact).toBeGreaterThan(20); // the floor of negative averages was exercised
  });

  it("a negative average floors toward minus infinity, not toward zero", () => {
    // -1 for 2 s, -2 for 1 s -> -4/3 = -1.33 -> -2
    expect(computeTwap(pts([0, -1], [2, -2]), 0, 3)).toBe(-2n);
    // exact division is not moved
    expect(computeTwap(pts([0, -3], [1, -3]), 0, 3)).toBe(-3n);
  });

  it("same time and block: the higher log index wins, whatever the input order", () => {
    const later = { timestamp: 5, price: 2n, block: 7, logIndex: 5 };
    const earlier = { timestamp: 5, price: 9n, block: 7, logIndex: 1 };
    expect(computeTwap([later, earlier], 5, 10)).toBe(2n);
    expect(computeTwap([earlier, later], 5, 10)).toBe(2n);
  });

  it("sorts by time, then block, then log index, and keeps an already sorted list as is", () => {
    const a = { timestamp: 5, price: 1n, block: 9, logIndex: 2 };
    const b = { timestamp: 5, price: 2n, block: 9, logIndex: 1 };
    const c = { timestamp: 5, price: 3n, block: 8, logIndex: 7 };
    const d = { timestamp: 4, price: 4n, block: 10, logIndex: 0 };
    expect(sortPoints([a, b, c, d])).toEqual([d, c, b, a]);
    const sorted = [d, c, b, a];
    const out = sortPoints(sorted);
    expect(out).toEqual(sorted);
    expect(out).not.toBe(sorted); // a copy: the caller's array is never reordered
    expect(sorted).toEqual([d, c, b, a]);
  });

  it("rejects fractional seconds", () => {
    expect(() => computeTwap([], 1.5, 4)).toThrow("computeTwap: start and end must be whole seconds");
    expect(() => computeTwap([], 1, 4.5)).toThrow(RangeError);
  });
});
