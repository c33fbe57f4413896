import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseRatesCsv, selectRateWindow } from "../../src/devnet/replay-rates-data";
import { annualizedWei, expectedPrice } from "../../src/devnet/replay-rates-check";
import { annualize } from "../../src/lib/rai/math";
import { computeTwap } from "../../src/lib/rai/twap";
import { KeepctlError } from "../../src/lib/errors";

const CSV = fs.readFileSync(path.resolve(__dirname, "../../data/rai-redemption-rates-2022.csv"), "utf8");
const HEADER = "timestamp,block,per_second_rate_ray\n";

describe("replay --rates: the CSV", () => {
  it("reads the shipped series: 228 updates, exact RAY integers, in order", () => {
    const u = parseRatesCsv(CSV);
    expect(u).toHaveLength(228);
    expect(u[0]).toEqual({ t: 1645158362, block: 14227921, rate: 999999999340827030001673352n, line: 2 });
    expect(u[227].rate).toBe(999999995503100052360050185n);
  });

  it.each([
    ["a decimal rate", "1645158362,1,0.999999999340827030001673352", /per_second_rate_ray must be a RAY integer/],
    ["a WAD-scaled rate", "1645158362,1,999999999340827030", /per_second_rate_ray must be a RAY integer/],
    ["a rate of 2 RAY", "1645158362,1,2000000000000000000000000000", /per_second_rate_ray must be a RAY integer/],
    ["a short row", "1645158362,999999999340827030001673352", /expected 3 columns, got 2/],
    ["a bad timestamp", "2022-02-18,1,999999999340827030001673352", /timestamp must be unix seconds/],
  ])("refuses %s with its line, exit 2", (_what, row, re) => {
    let err: unknown;
    try {
      parseRatesCsv(HEADER + row + "\n", "r.csv");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KeepctlError);
    expect((err as KeepctlError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(/^r\.csv:2: /);
    expect((err as Error).message).toMatch(re);
  });

  it("refuses unsorted, duplicate and too-close updates", () => {
    const r = (t: number, b: number) => `${t},${b},999999999340827030001673352\n`;
    expect(() => parseRatesCsv(HEADER + r(2000, 2) + r(1000, 3), "r.csv")).toThrow(/r\.csv:3: timestamps must increase/);
    expect(() => parseRatesCsv(HEADER + r(1000, 2) + r(1000, 3), "r.csv")).toThrow(/r\.csv:3: duplicate timestamp 1000/);
    expect(() => parseRatesCsv(HEADER + r(1000, 2) + r(9000, 2), "r.csv")).toThrow(/r\.csv:3: blocks must increase/);
    const close = parseRatesCsv(HEADER + r(1000, 2) + r(2000, 3) + r(9000, 4), "r.csv");
    expect(() => selectRateWindow(close)).toThrow(/1000 s apart; the replay needs at least 3600 s/);
  });

  it("carries in the update before the window", () => {
    const u = parseRatesCsv(CSV);
    const { walk, carryIn } = selectRateWindow(u, u[10].t, u[20].t);
    expect(walk).toEqual(u.slice(10, 21));
    expect(carryIn).toBe(u[9]);
    expect(selectRateWindow(u).carryIn).toBeNull();
    expect(() => selectRateWindow(u, u[227].t + 1)).toThrow(/outside the data/);
  });
});

describe("replay --rates: the independent check", () => {
  const u = parseRatesCsv(CSV);
  it("annualizes every shipped rate as the feed does, to the wei", () => {
    for (const x of u) expect(annualizedWei(x.rate)).toBe(annualize(x.rate));
  });

  it("prices a moment as the feed's TWAP does, including a window that straddles an update", () => {
    const points = u.map((x) => ({ timestamp: x.t, price: annualize(x.rate) }));
    for (const t of [u[0].t + 100, u[5].t + 4 * 3600, u[100].t, u[227].t + 9 * 3600]) {
      expect(expectedPrice(u, t, 28_800)).toBe(computeTwap(points, t - 28_800, t));
    }
    expect(expectedPrice(u, u[0].t - 1, 28_800)).toBeNull();
  });
});
