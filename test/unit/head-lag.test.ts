import { describe, expect, it } from "vitest";
import { freshestFirst, isLagging, judgeLag } from "../../src/lib/chain/head-lag";

describe("head-lag: the freshest head wins, a laggard is named", () => {
  it("finds the best head and everyone more than maxLag behind it", () => {
    expect(judgeLag([{ index: 0, number: 950 }, { index: 1, number: 1000 }, { index: 2, number: 997 }], 3)).toEqual({ best: 1000, laggards: [{ index: 0, lag: 50 }] });
    expect(judgeLag([{ index: 0, number: 996 }, { index: 1, number: 1000 }], 3)).toEqual({ best: 1000, laggards: [{ index: 0, lag: 4 }] });
    expect(judgeLag([{ index: 0 }, { index: 1, number: 7 }], 3)).toEqual({ best: 7, laggards: [] });
    expect(judgeLag([{ index: 0 }, { index: 1 }], 3)).toEqual({ best: undefined, laggards: [] });
    expect(judgeLag([{ index: 0, number: 0 }, { index: 1, number: 10 }], 3)).toEqual({ best: 10, laggards: [{ index: 0, lag: 10 }] });
    expect(judgeLag([{ index: 0, number: 1 }, { index: 1, number: 100 }], 0)).toEqual({ best: 100, laggards: [] }); // 0: off
  });

  it("isLagging: strictly more than maxLag behind a known best", () => {
    expect(isLagging(96, 100, 3)).toBe(true);
    expect(isLagging(97, 100, 3)).toBe(false);
    expect(isLagging(1, undefined, 3)).toBe(false);
    expect(isLagging(1, 100, 0)).toBe(false);
    expect(isLagging(0, 4, 3)).toBe(true);
  });

  it("freshestFirst: highest head first, configured order among equals and for unknown heads", () => {
    const order = (xs: { index: number; head?: number }[]) => freshestFirst(xs).map((x) => x.index);
    expect(order([{ index: 0, head: 5 }, { index: 1, head: 9 }, { index: 2, head: 9 }])).toEqual([1, 2, 0]);
    expect(order([{ index: 0 }, { index: 1 }, { index: 2 }])).toEqual([0, 1, 2]);
    expect(order([{ index: 0 }, { index: 1, head: 0 }])).toEqual([1, 0]);
    expect(order([{ index: 2, head: 3 }, { index: 0, head: 3 }])).toEqual([0, 2]);
  });
});
