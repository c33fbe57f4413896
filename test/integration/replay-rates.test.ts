import fs from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runRatesReplay, type RatesReplayReport } from "../../src/devnet/replay-rates";
import { parseRatesCsv, selectRateWindow } from "../../src/devnet/replay-rates-data";

/**
 * `keepctl replay --rates` on a short real slice (2022-05-10 .. 05-20: RAI's rate fell hard, then
 * recovered). The prices the bots were given are checked against a recomputation written HERE, from
 * the CSV's text, without the project's RAI code or the replay's own check module: the
 * OracleRelayer's power (square-and-multiply, each product rounded half up to 27 decimals),
 * annualized and cut to 18 decimals, averaged second by second over the 8 h before the moment.
 */
const CSV = path.resolve(__dirname, "../../data/rai-redemption-rates-2022.csv");
const FROM = Date.parse("2022-05-10T00:00:00Z") / 1000;
const TO = Date.parse("2022-05-20T23:59:59Z") / 1000;

// ---- the test's own arithmetic, from the CSV's text
const RAY = 10n ** 27n;
const rows = fs.readFileSync(CSV, "utf8").trim().split("\n").slice(1).map((l) => {
  const [t, , r] = l.split(",");
  return { t: Number(t), rate: BigInt(r) };
});
function rpowHalfUp(x: bigint, n: number): bigint {
  let z = n % 2 === 1 ? x : RAY;
  for (n = Math.floor(n / 2); n > 0; n = Math.floor(n / 2)) {
    x = (x * x + RAY / 2n) / RAY;
    if (n % 2 === 1) z = (z * x + RAY / 2n) / RAY;
  }
  return z;
}
const yearly = new Map<bigint, bigint>();
const annual = (rate: bigint) => {
  if (!yearly.has(rate)) yearly.set(rate, rpowHalfUp(rate, 31_536_000) / 10n ** 9n);
  return yearly.get(rate)!;
};
/** Price at `t`: every second of [t - 8 h, t) priced by the rate in force, summed, floor-divided. */
function priceAt(t: number): bigint {
  let k = -1;
  let sum = 0n;
  let n = 0n;
  for (let s = t - 28_800; s < t; s++) {
    while (k + 1 < rows.length && rows[k + 1].t <= s) k++;
    if (k < 0) continue;
    sum += annual(rows[k].rate);
    n++;
  }
  return sum / n;
}
const wad = (text: string) => {
  const [i, f = ""] = text.split(".");
  return BigInt(i) * 10n ** 18n + BigInt((f + "0".repeat(18)).slice(0, 18));
};
const unix = (iso: string) => Date.parse(iso) / 1000;

let report: RatesReplayReport;
let again: RatesReplayReport;
let everyPoint: RatesReplayReport;
let seconds = 0;

beforeAll(async () => {
  const series = parseRatesCsv(fs.readFileSync(CSV, "utf8"), "rai.csv");
  const { walk, carryIn } = selectRateWindow(series, FROM, TO);
  const run = (all = false) => runRatesReplay({ walk, carryIn, series, sponsorEvery: 4, everyPoint: all });
  const first = await run();
  report = first.report;
  seconds = first.stats.seconds;
  again = (await run()).report;
  everyPoint = (await run(true)).report;
}, 400_000);

describe("keepctl replay --rates (2022-05-10 .. 05-20)", () => {
  it("walks the window's updates with the one before carried in", () => {
    const iso = (t: number) => new Date(t * 1000).toISOString().replace(".000Z", "Z");
    const firstIn = rows.findIndex((r) => r.t >= FROM);
    expect(report.window.from).toBe(iso(rows[firstIn].t));
    expect(report.window.carriedIn).toBe(iso(rows[firstIn - 1].t));
    expect(report.window.updates).toBe(rows.filter((r) => r.t >= FROM && r.t <= TO).length);
    expect(seconds).toBeLessThan(60);
  });

  it("gave the liquidator bot, at every liquidation, exactly the price recomputed from the CSV", () => {
    const byBot = report.liquidations.filter((l) => l.by === "bot");
    expect(byBot.length).toBeGreaterThan(0);
    for (const l of byBot) {
      const p = l.price as { at: string; feed: string; recomputed: string; match: boolean };
      expect(wad(p.feed)).toBe(priceAt(unix(p.at)));
      expect(p.recomputed).toBe(p.feed);
      // A bot liquidation is right: below the 1.25 line at the true price (with its 2 % shading).
      expect(wad(l.lockedCollateral) * 10n ** 18n < wad(l.tokens) * priceAt(unix(p.at)) * 125n / 100n).toBe(true);
    }
    expect(report.checks.differ).toBe(0);
    expect(report.checks.liquidatorPrices).toBeGreaterThan(0);
  });

  it("disputes exactly the careless liquidator's wrong liquidations, at the CSV's price, and wins them at the oracle", () => {
    const careless = report.liquidations.filter((l) => l.by === "careless");
    expect(careless.length).toBeGreaterThan(0);
    let disputes = 0;
    for (const l of careless) {
      const lt = unix((l.price as { at: string }).at);
      const truth = priceAt(lt);
      // The disputer's rule: wrong if collateral >= tokens × price × 1.02 × 1.25 (its margin).
      const wrong = wad(l.lockedCollateral) * 10n ** 18n * 10000n >= wad(l.tokens) * truth * 102n * 125n;
      expect(l.dispute !== null).toBe(wrong);
      if (!l.dispute) continue;
      disputes++;
      expect(l.dispute.price.at).toBe((l.price as { at: string }).at);
      expect(wad(l.dispute.price.feed!)).toBe(truth);
      expect(l.settlement).not.toBeNull();
      expect(wad(l.settlement!.oraclePrice!)).toBe(truth);
      expect(l.settlement!.disputeSucceeded).toBe(true);
      expect(wad(l.settlement!.paidToDisputer)).toBeGreaterThan(wad(l.dispute.bond));
      expect(wad(l.settlement!.paidToSponsor)).toBeGreaterThan(0n);
    }
    expect(disputes).toBeGreaterThan(0);
    expect(report.totals.disputesSucceeded).toBe(disputes);
  });

  it("is deterministic: a second run gives the same report", () => {
    expect(JSON.stringify(again)).toBe(JSON.stringify(report));
  });

  it("skips only quiet passes: with every pass run, the same liquidations, disputes and payouts", () => {
    expect(everyPoint.passes.liquidator).toBe(everyPoint.passes.points);
    expect(report.passes.liquidator).toBeLessThan(everyPoint.passes.liquidator);
    expect(everyPoint.liquidations).toEqual(report.liquidations);
    expect(everyPoint.totals).toEqual(report.totals);
    expect(everyPoint.checks.differ).toBe(0);
  });
});
