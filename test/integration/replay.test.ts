import fs from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { runReplay, type ReplayReport, type ReplayTrace } from "../../src/devnet/replay";
import { svgChart } from "../../src/devnet/replay-chart";
import { findGaps, parsePortfolio, parsePriceCsv, samplePoints, selectWindow } from "../../src/devnet/replay-data";
import { tbtcAbi } from "../../src/devnet/artifacts";

/**
 * `keepctl replay` on a short slice of the real series (2020-12-20 .. 12-28, ETH/BTC's fall to
 * 0.0231), every 3rd hour. What should happen is computed here from the CSV alone (bond at 150 %
 * of the opening price, the contracts' 130/125/110 % lines, the 6 h courtesy period); what did
 * happen is read from TBTCSystem's events after each walk.
 */
const CSV = path.resolve(__dirname, "../../data/ethbtc-2020-11_2021-06.csv");
const FROM = Date.parse("2020-12-20T00:00:00Z") / 1000;
const TO = Date.parse("2020-12-28T23:00:00Z") / 1000;
const STEP = 3;
const H = 3600;
// Bonded at the November high, in mid-December, and at the window's first hour.
const PORTFOLIO = '[{"label":"nov-high-5btc","lotBtc":5,"openAt":"2020-11-24T00:00:00Z"},{"label":"dec17-10btc","lotBtc":10,"openAt":"2020-12-17T00:00:00Z"},{"label":"dec20-1btc","lotBtc":1}]';

interface Seen { courtesy: number[]; requested: Array<{ t: number; by: string }>; redeemed: number[]; liquidation: number[]; provenBy?: string[] }
const seen: Record<string, Record<string, Seen>> = { bot: {}, none: {}, seed: {} };
let report: ReplayReport;
let trace: ReplayTrace;
let again: ReplayReport;
let everyPoint: ReplayReport;
let operator = "";

// Independent arithmetic: the medianizer's value, wei per satoshi, the bond, the integer percentage.
const median = (p: number) => ethers.parseUnits(p.toFixed(18), 18);
const wps = (p: number) => 10n ** 28n / median(p);
const bondOf = (lotSats: bigint, p: number) => (lotSats * wps(p) * 15000n + 9999n) / 10000n;
const pctOf = (bond: bigint, lotSats: bigint, p: number) => Number((bond * 100n) / (lotSats * wps(p)));

const series = parsePriceCsv(fs.readFileSync(CSV, "utf8"), "ethbtc.csv");
const window = selectWindow(series, FROM, TO);
const walked = samplePoints(window, STEP);
const portfolio = parsePortfolio(PORTFOLIO, "pf", walked[0].t);

/** Per deposit: the points (series time) where the bot should redeem, and the no-bot world's calls. */
function expected(label: string) {
  const e = portfolio.find((x) => x.label === label)!;
  const lot = BigInt(e.lotBtc * 1e8);
  const bondPrice = series.find((p) => p.t === e.openAt)!.ethBtc;
  const bond = bondOf(lot, bondPrice);
  const pcts = walked.map((p) => ({ t: p.t, pct: pctOf(bond, lot, p.ethBtc) }));
  const below130 = pcts.find((x) => x.pct < 130)?.t;
  // The world without a bot: courtesy call below 125 %, exit at or above it, liquidation below
  // 110 % or 6 h after the call.
  let cc: number | undefined;
  const courtesy: number[] = [];
  let liquidation: number | undefined;
  for (const x of pcts) {
    if (x.pct < 110) { liquidation = x.t; break; }
    if (cc === undefined && x.pct < 125) { cc = x.t; courtesy.push(x.t); }
    else if (cc !== undefined && x.pct >= 125) cc = undefined;
    else if (cc !== undefined && x.t >= cc + 6 * H) { liquidation = x.t; break; }
  }
  // The seed's policy: the world courtesy-calls below 125 %, the operator redeems in the same pass.
  const seedCall = pcts.find((x) => x.pct < 125);
  const seed = seedCall && seedCall.pct < 110 ? { liquidation: seedCall.t } : seedCall ? { courtesyAndRedeem: seedCall.t } : {};
  return { below130, courtesy, liquidation, seed, lowest: Math.min(...pcts.map((x) => x.pct)) };
}

const options = () => ({
  points: walked, series, gaps: findGaps(window), step: STEP, windowPoints: window.length, portfolio, tbtc: 20, eth: 10,
  policy: { warnBelowPct: 130, redeemBelowPct: 130, notifyCourtesy: false, feeSats: 10_000n, minEthWei: 10n ** 17n, maxBlockAgeSec: 365 * 86400 },
});

beforeAll(async () => {
  ({ report, trace } = await runReplay({
    ...options(),
    onWalkEnd: async ({ walk, devnet, fromBlock, seriesOf, operator: op, deposits }) => {
      operator = op;
      const system = new ethers.Contract(devnet.deployment.addresses.TBTCSystem, tbtcAbi("TBTCSystem"), devnet.provider);
      const hourOf = async (e: ethers.EventLog) => Math.floor(seriesOf((await e.getBlock()).timestamp) / H) * H;
      for (const d of deposits) {
        const q = async (name: string) => (await system.queryFilter(system.filters[name](d.deposit), fromBlock)) as ethers.EventLog[];
        const s: Seen = { courtesy: [], requested: [], redeemed: [], liquidation: [] };
        for (const e of await q("CourtesyCalled")) s.courtesy.push(await hourOf(e));
        for (const e of await q("RedemptionRequested")) s.requested.push({ t: await hourOf(e), by: (e.args[1] as string).toLowerCase() });
        for (const e of await q("Redeemed")) {
          s.redeemed.push(await hourOf(e));
          (s.provenBy ??= []).push((await e.getTransaction()).from.toLowerCase());
        }
        for (const e of await q("StartedLiquidation")) s.liquidation.push(await hourOf(e));
        seen[walk][d.label] = s;
      }
    },
  }));
  // The same inputs again, for determinism (a fresh devnet: other addresses are the same, as is every time).
  again = (await runReplay(options())).report;
  everyPoint = (await runReplay({ ...options(), everyPoint: true })).report;
}, 420_000);

describe("keepctl replay on 2020-12-20 .. 12-28 (real ETH/BTC, every 3rd hour)", () => {
  it("the slice has deposits that cross 125 % and one that does not (the test can tell them apart)", () => {
    expect(expected("nov-high-5btc").courtesy.length).toBeGreaterThan(0);
    expect(expected("dec17-10btc").liquidation).toBeDefined();
    expect(expected("dec20-1btc").lowest).toBeGreaterThanOrEqual(125);
  });

  it("with the bot: each deposit below 130 % is redeemed by the operator in the pass that sees it, and none is courtesy-called or liquidated", () => {
    for (const e of portfolio) {
      const want = expected(e.label);
      const got = seen.bot[e.label];
      expect(got.liquidation, e.label).toEqual([]);
      expect(got.courtesy, e.label).toEqual([]);
      if (want.below130 === undefined) {
        expect(got.requested, e.label).toEqual([]);
      } else {
        expect(got.requested, e.label).toEqual([{ t: want.below130, by: operator.toLowerCase() }]);
        // Signed by the world in that pass, broadcast by the loop's next pass, confirmed by the
        // next point's Bitcoin blocks and proven by the operator's own keepctl at that point.
        expect(got.redeemed, e.label).toEqual([want.below130 + STEP * H]);
        expect(got.provenBy, e.label).toEqual([operator.toLowerCase()]);
      }
    }
  });

  it("without the bot: the same deposits are courtesy-called and liquidated when the contracts say so; the safe one survives", () => {
    for (const e of portfolio) {
      const want = expected(e.label);
      const got = seen.none[e.label];
      expect(got.requested, e.label).toEqual([]);
      expect(got.courtesy, e.label).toEqual(want.courtesy);
      expect(got.liquidation, e.label).toEqual(want.liquidation === undefined ? [] : [want.liquidation]);
    }
    expect(seen.none["dec20-1btc"]).toEqual({ courtesy: [], requested: [], redeemed: [], liquidation: [] });
  });

  it("reports lowest collateralization, the gap, and the bonds saved as the events show them", () => {
    expect(report.gaps).toEqual([{ from: "2020-12-21T15:00:00Z", to: "2020-12-21T17:00:00Z", missingHours: 3 }]);
    expect(report.window).toEqual({ from: "2020-12-20T00:00:00Z", to: "2020-12-28T23:00:00Z", points: window.length, walked: walked.length, step: STEP });
    const [bot, nobot] = report.runs;
    expect(report.runs.map((r) => r.walk)).toEqual(["bot", "none", "seed"]);
    for (const d of nobot.deposits) expect(d.lowestCollateralPct, d.label).toBeGreaterThanOrEqual(expected(d.label).lowest);
    const seizedNoBot = nobot.deposits.filter((d) => d.bondLost).map((d) => d.label).sort();
    expect(seizedNoBot).toEqual(portfolio.filter((e) => expected(e.label).liquidation !== undefined).map((e) => e.label).sort());
    expect(bot.liquidated).toBe(0);
    expect(Number(report.saved!.bondsEth)).toBeCloseTo(Number(nobot.bondsSeizedEth), 9);
    expect(Number(report.saved!.bondsEth)).toBeGreaterThan(0);
    expect(Number(bot.operatorEthSpent)).toBeGreaterThan(0);
    expect(Number(bot.operatorEthSpent)).toBeLessThan(1);
  });

  it("the seed's policy: the operator redeems exactly the deposits the world courtesy-calls, in that pass, and nothing else", () => {
    let called = 0;
    for (const e of portfolio) {
      const want = expected(e.label).seed;
      const got = seen.seed[e.label];
      if ("courtesyAndRedeem" in want) {
        called++;
        expect(got.courtesy, e.label).toEqual([want.courtesyAndRedeem]);
        expect(got.requested, e.label).toEqual([{ t: want.courtesyAndRedeem, by: operator.toLowerCase() }]);
        // Signed at the next point (the world acts before the seed's pass), broadcast in that
        // pass, proven one point later: within the 6 h, so no timeout liquidation.
        expect(got.redeemed, e.label).toEqual([want.courtesyAndRedeem + 2 * STEP * H]);
        expect(got.provenBy, e.label).toEqual([operator.toLowerCase()]);
        expect(got.liquidation, e.label).toEqual([]);
      } else if ("liquidation" in want) {
        expect(got.liquidation, e.label).toEqual([want.liquidation]);
      } else {
        expect(got, e.label).toEqual({ courtesy: [], requested: [], redeemed: [], liquidation: [] });
      }
    }
    expect(called).toBeGreaterThan(0);
    const seedRun = report.runs.find((r) => r.walk === "seed")!;
    expect(seedRun.redeemedByBot).toBe(called);
    expect(seedRun.courtesyCalled).toBe(called);
  });

  it("the actions list is the events of all three walks", () => {
    const count = (w: string) => Object.values(seen[w]).reduce((n, s) => n + s.courtesy.length + s.requested.length + s.liquidation.length, 0);
    for (const w of ["bot", "none", "seed"]) expect(report.actions.filter((a) => a.walk === w), w).toHaveLength(count(w));
    expect(report.actions.length).toBeGreaterThan(0);
  });

  it("two runs with the same inputs give the identical JSON report, all three walks included", () => {
    expect(JSON.stringify(again)).toBe(JSON.stringify(report));
  });

  it("quiet points change nothing: touching the chain at every point gives the same report (gas units too)", () => {
    // The ETH paid for gas follows the devnet's base fee, which follows how many blocks were mined.
    const withoutChainPoints = (r: ReplayReport) => JSON.stringify({ ...r, runs: r.runs.map((x) => ({ ...x, chainPoints: 0, operatorEthSpent: "-" })) });
    expect(everyPoint.runs.map((r) => r.chainPoints)).toEqual([walked.length, walked.length, walked.length]);
    for (const r of report.runs) expect(r.chainPoints, r.walk).toBeLessThan(walked.length);
    expect(withoutChainPoints(everyPoint)).toBe(withoutChainPoints(report));
  });

  it("the SVG has one polyline per deposit and one marker per action of the report", () => {
    const svg = svgChart(report, trace);
    expect(svg.match(/<polyline class="deposit"/g)).toHaveLength(portfolio.length);
    expect(svg.match(/class="action"/g)).toHaveLength(report.actions.length);
    // Each deposit's line follows the contract's readings: one of its points is its lowest.
    for (const d of report.runs[1].deposits) expect(trace.collateral[d.label]).toContain(d.lowestCollateralPct);
  });
});
