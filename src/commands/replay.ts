import fs from "node:fs";
import type { Command } from "commander";
import { ConfigError, UsageError } from "../lib/errors";
import { echo } from "../lib/redact";
import type { Output } from "../lib/output";
import path from "node:path";
import type { ReplayReport, RunResult } from "../devnet/replay";
import type { RatesReplayReport } from "../devnet/replay-rates";
import { assertPortFree, globalsOf, outputOf, parseIntOption, parseNumberOption, shutdown } from "./common";

/**
 * `keepctl replay --prices FILE`: a real ETH/BTC history through the real tBTC contracts on an
 * in-process devnet, with the watch loop acting for one operator (docs/replay.md). The engine
 * lives in src/devnet/replay.ts and is loaded only here, lazily, like `keepctl devnet`'s.
 */

/** Same packages as `keepctl devnet` (Hardhat and the published artifacts): a checkout's devDependencies. */
function assertDevInstall(): void {
  const missing = ["hardhat", "@keep-network/tbtc"].filter((p) => {
    try {
      require.resolve(`${p}/package.json`);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length) {
    throw new ConfigError(`keepctl replay needs the development install, and ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not installed`, {
      code: "DEV_INSTALL",
      hint: "run `npm install` (devDependencies included) in a checkout of keepctl, then `npm run build`",
    });
  }
}

function readInput(flag: string, file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`${flag}: cannot read ${echo(file)} (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

const pad = (s: string, n: number) => (s.length >= n ? s : s + " ".repeat(n - s.length));
const short = (iso: string | null) => (iso ? iso.slice(5, 16).replace("T", " ") : "-");

const WALK_TITLE = { bot: "WITH the bot (watch loop, real sender)", "no-replenish": "the bot WITHOUT --replenish-to (same TBTC, same hot wallet float)", none: "WITHOUT a bot (baseline)", seed: "the SEED's policy (redeem only once courtesy-called)" } as const;
const WALK_SHORT = { bot: "bot", "no-replenish": "bot, no replenish", none: "no bot", seed: "seed policy" } as const;

/** --replenish-to: the bot with and without minting back, side by side. */
function printReplenish(out: Output, rep: ReplayReport): void {
  const c = rep.replenish;
  if (!c) return;
  out.line(`--replenish-to ${c.targetTbtc} TBTC (hot wallet float ${c.hotBtc} BTC per walk), from the chains' events:`);
  const w = 20;
  out.line(`  ${pad("", 34)} ${pad("with replenish", w)} ${pad("without", w)} difference`);
  const row = (name: string, a: string | number, b: string | number, d: string | number) => out.line(`  ${pad(name, 34)} ${pad(String(a), w)} ${pad(String(b), w)} ${d}`);
  const signed = (n: number | string) => (Number(n) > 0 ? `+${n}` : String(n));
  row("deposits saved (redeemed by bot)", c.with.depositsSaved, c.without.depositsSaved, signed(c.difference.depositsSaved));
  row("deposits lost (liquidation)", c.with.depositsLost, c.without.depositsLost, signed(c.difference.depositsLost));
  row("mint deposits funded", c.with.depositsFunded, c.without.depositsFunded, signed(c.difference.depositsFunded));
  row("TBTC minted", c.with.tbtcMinted, c.without.tbtcMinted, signed(c.difference.tbtcMinted));
  row("BTC spent (funding: lots + fees)", c.with.btcSpent, c.without.btcSpent, signed(c.difference.btcSpent));
  row("BTC received (redemptions)", c.with.btcReceived, c.without.btcReceived, signed(c.difference.btcReceived));
  if (c.with.mints.length) out.line(`  minted back (created -> funded, series time): ${c.with.mints.map((m) => `${m.lotBtc} BTC ${short(m.createdAt)} -> ${short(m.fundedAt)}`).join("; ")}`);
}

function printRun(out: Output, r: RunResult): void {
  out.line(`${WALK_TITLE[r.walk]}:`);
  out.line(`  ${pad("deposit", 14)} ${pad("lot", 4)} ${pad("bonded@", 9)} ${pad("lowest", 13)} ${pad("courtesy", 12)} ${pad("redeem req", 16)} ${pad("liquidated", 12)} outcome`);
  for (const d of r.deposits) {
    const low = d.lowestCollateralPct === null ? "-" : `${d.lowestCollateralPct}% ${short(d.lowestAt).slice(0, 5)}`;
    const req = d.redemptionRequestedAt ? `${short(d.redemptionRequestedAt)} ${d.redemptionRequestedBy}` : "-";
    out.line(`  ${pad(d.label, 14)} ${pad(String(d.lotBtc), 4)} ${pad(d.bondedAtEthBtc.toFixed(6), 9)} ${pad(low, 13)} ${pad(short(d.courtesyCalledAt), 12)} ${pad(req, 16)} ${pad(short(d.liquidationStartedAt), 12)} ${d.outcome}${d.bondLost ? ` (bond ${Number(d.bondEth).toFixed(2)} ETH seized)` : ""}${d.botSkipped ? ` (bot skipped it: ${d.botSkipped})` : ""}`);
  }
}

/** The walks side by side: per deposit the outcome, then the totals. */
function printComparison(out: Output, rep: ReplayReport): void {
  const cols = rep.runs.map((r) => WALK_SHORT[r.walk]);
  const w = 26;
  out.line(`side by side:`);
  out.line(`  ${pad("", 26)} ${cols.map((c) => pad(c, w)).join(" ")}`);
  const row = (name: string, cells: string[]) => out.line(`  ${pad(name, 26)} ${cells.map((c) => pad(c, w)).join(" ")}`);
  rep.runs[0].deposits.forEach((d, i) => row(`${d.label} (${d.lotBtc} BTC)`, rep.runs.map((r) => {
    const x = r.deposits[i];
    const at = x.outcome === "liquidated" || x.outcome === "redemption-timed-out" ? x.liquidationStartedAt : x.outcome === "redeemed" || x.outcome === "redeeming" ? x.redemptionRequestedAt : null;
    return `${x.outcome}${at ? ` ${short(at)}` : ""}`;
  })));
  row("courtesy-called", rep.runs.map((r) => String(r.courtesyCalled)));
  row("redeemed by operator", rep.runs.map((r) => String(r.redeemedByBot)));
  row("liquidated", rep.runs.map((r) => String(r.liquidated)));
  row("bonds seized, ETH", rep.runs.map((r) => Number(r.bondsSeizedEth).toFixed(4)));
  row("  operator's third, ETH", rep.runs.map((r) => Number(r.operatorBondsSeizedEth).toFixed(4)));
  row("TBTC spent (redemptions)", rep.runs.map((r) => Number(r.operatorTbtcSpent).toFixed(4)));
  row("points on the chain", rep.runs.map((r) => `${r.chainPoints} of ${rep.window.walked}`));
  row("gas: ETH / txs", rep.runs.map((r) => `${Number(r.operatorEthSpent).toFixed(6)} / ${r.operatorTxs}`));
}

function printReport(out: Output, rep: ReplayReport, chart: string[]): void {
  out.line(`replay ${rep.window.from} .. ${rep.window.to}: ${rep.window.points} hourly points, ${rep.window.walked} walked (step ${rep.window.step})`);
  out.line(rep.gaps.length ? `gaps (price held, clock jumps): ${rep.gaps.map((g) => `${g.from} .. ${g.to} (${g.missingHours} h)`).join("; ")}` : "gaps: none in the window");
  out.line(`policy: warn < ${rep.policy.warnBelowPct}%, redeem < ${rep.policy.redeemBelowPct}%${rep.policy.notifyCourtesy ? ", notify courtesy calls" : ""}; operator budget ${rep.budget.tbtc} TBTC, ${rep.budget.eth} ETH`);
  for (const r of rep.runs) printRun(out, r);
  if (rep.runs.length > 1) printComparison(out, rep);
  if (rep.saved) out.line(`the bot saved ${Number(rep.saved.bondsEth).toFixed(4)} ETH of bonds from seizure (operator's third ${Number(rep.saved.operatorEth).toFixed(4)} ETH) against no bot`);
  if (rep.savedVsSeed) out.line(`the bot saved ${Number(rep.savedVsSeed.bondsEth).toFixed(4)} ETH of bonds from seizure (operator's third ${Number(rep.savedVsSeed.operatorEth).toFixed(4)} ETH) against the seed's policy`);
  printReplenish(out, rep);
  out.line("(all outcomes read from the contracts' events)");
  out.line("");
  for (const l of chart) out.line(l);
}

/** The RAI walk's report: every liquidation with the price it was made at, its dispute, its payout. */
function printRatesReport(out: Output, rep: RatesReplayReport): void {
  const w = rep.window;
  out.line(`replay of RAI redemption rates ${w.from} .. ${w.to}: ${w.updates} updates${w.carriedIn ? ` (the one of ${w.carriedIn} carried in)` : ""}; bots pass ${w.passOffsetSec / 3600} h after each update, TWAP ${w.twapSec / 3600} h`);
  out.line(`EMP: collateral requirement ${rep.setup.collateralRequirement}, liquidation liveness ${rep.setup.liquidationLivenessSec / 3600} h, dispute bond ${rep.setup.disputeBondPct} %; bots' price shading ${rep.setup.crThreshold}; subgraph ${rep.setup.subgraphLagBlocks} blocks behind`);
  out.line(`sponsors: ${rep.setup.sponsors.length}, ${[...new Set(rep.setup.sponsors.map((s) => s.openedAt.slice(0, 10)))].length} batches at collateral ratios ${[...new Set(rep.setup.sponsors.map((s) => s.ratio))].join(", ")} of the price of the moment`);
  out.line(`careless liquidator: ${rep.setup.careless}`);
  out.line("liquidations (price = what the liquidator priced it at; check = the feed's price vs the recomputation from the CSV):");
  out.line(`  ${pad("at", 17)} ${pad("sponsor", 10)} ${pad("by", 9)} ${pad("price", 22)} ${pad("true price", 22)} ${pad("ratio@true", 10)} ${pad("check", 6)} ${pad("dispute", 30)} outcome`);
  for (const l of rep.liquidations) {
    const p = l.price;
    const [price, truePrice, ok] = "careless" in p ? [p.careless, p.truth ?? "-", "-"] : [p.feed ?? "none", p.recomputed ?? "-", p.match ? "ok" : "DIFFER"];
    const d = l.dispute ? `${short(l.dispute.at)} bond ${Number(l.dispute.bond).toFixed(2)} ${l.dispute.price.match ? "ok" : "DIFFER"}` : "-";
    const s = l.settlement;
    const outcome = !s ? l.state : `${s.disputeSucceeded === true ? "dispute won" : s.disputeSucceeded === false ? "dispute lost" : "undisputed"}: sponsor ${Number(s.paidToSponsor).toFixed(2)}, liquidator ${Number(s.paidToLiquidator).toFixed(2)}, disputer ${Number(s.paidToDisputer).toFixed(2)}${s.oraclePrice ? ` (oracle ${s.oraclePrice})` : ""}`;
    out.line(`  ${pad(l.at.slice(0, 16), 17)} ${pad(l.sponsor, 10)} ${pad(l.by, 9)} ${pad(price, 22)} ${pad(truePrice, 22)} ${pad(l.ratioAtTruePrice ?? "-", 10)} ${pad(ok, 6)} ${pad(d, 30)} ${outcome}`);
  }
  const t = rep.totals;
  out.line(`totals: ${t.liquidationsByBot} liquidations by the bot, ${t.liquidationsByCareless} by the careless liquidator (${t.carelessLeftUndisputed} left undisputed), ${t.disputes} disputes (${t.disputesSucceeded} won)`);
  out.line(`paid out: sponsors ${t.paidToSponsors}, liquidators ${t.paidToLiquidators}, disputer ${t.paidToDisputer} (collateral)`);
  out.line(`passes: the liquidator ran at ${rep.passes.liquidator} and the disputer at ${rep.passes.disputer} of ${rep.passes.points} points (the rest were quiet: nothing either could act on)`);
  const c = rep.checks;
  out.line(`price checks: ${c.liquidatorPrices} liquidator passes and ${c.disputerPrices} disputer look-ups compared with the recomputation from the CSV: ${c.differ === 0 ? "all equal" : `${c.differ} DIFFER`}`);
  out.line("(all outcomes read from the EMP's events)");
}

/** `--plot-out` is checked before any node starts: an existing, writable directory and not a directory itself. */
function checkPlotOut(file: string): string {
  const abs = path.resolve(file);
  const dir = path.dirname(abs);
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(abs);
  } catch {
    // absent: fine, it will be created
  }
  if (st?.isDirectory()) throw new UsageError(`--plot-out: ${echo(file)} is a directory; give a file name (e.g. replay.svg)`);
  try {
    if (!fs.statSync(dir).isDirectory()) throw new Error("ENOTDIR");
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (e) {
    throw new UsageError(`--plot-out: cannot write into ${echo(path.dirname(file) || ".")} (${(e as NodeJS.ErrnoException).code ?? "not a directory"}); give a file in an existing, writable directory`);
  }
  return abs;
}

/** Flags of the tBTC walk that the RAI walk does not take: refused rather than ignored. */
const PRICES_ONLY = ["step", "portfolio", "tbtc", "eth", "replenishTo", "hotBtc", "threshold", "redeemBelow", "notifyCourtesy", "feeSats", "plotOut", "maxGap"];

async function replayRates(g: Record<string, unknown>, out: Output): Promise<void> {
  const stray = PRICES_ONLY.filter((k) => g[k] !== undefined).concat(g.redeem === false ? ["redeem"] : [], g.baseline === false ? ["baseline"] : [], g.seed === false ? ["seed"] : []);
  if (stray.length) throw new UsageError(`--rates does not take --${stray[0].replace(/[A-Z]/g, (c) => "-" + c.toLowerCase()).replace(/^(redeem|baseline|seed)$/, "no-$1")} (a --prices option)`);
  const data = await import("../devnet/replay-rates-data");
  const { parseTimeOption } = await import("../devnet/replay-data");
  const file = g.rates as string;
  const series = data.parseRatesCsv(readInput("--rates", file), echo(file));
  const from = g.from === undefined ? undefined : parseTimeOption("--from", g.from as string);
  const to = g.to === undefined ? undefined : parseTimeOption("--to", g.to as string);
  const { walk, carryIn } = data.selectRateWindow(series, from, to);
  const port = g.port as number | undefined;
  if (port !== undefined) await assertPortFree(port);
  const { runRatesReplay } = await import("../devnet/replay-rates");
  const { report, stats } = await runRatesReplay({ port, walk, carryIn, series, everyPoint: !!g.everyPoint, onProgress: (m) => out.info(m), signal: shutdown.signal });
  if (out.json) out.document(report);
  else printRatesReport(out, report);
  out.info(`replayed ${stats.points} rate updates in ${stats.seconds} s: ${stats.pointsPerSecond} updates/s; peak RSS ${stats.peakRssMiB} MiB${stats.nodePeakRssMiB === null ? "" : ` (Hardhat node ${stats.nodePeakRssMiB} MiB)`}; the subgraph was behind (newest rate appended from events) in ${stats.subgraphBehindUpdates} feed updates`);
}

export function register(program: Command): void {
  program
    .command("replay")
    .description("walk a real ETH/BTC history through the real tBTC contracts (or RAI rates through the real EMP) on a devnet, with the bots in the loop")
    .option("--prices <file>", "CSV of timestamp,iso_time,eth_btc (e.g. data/ethbtc-2020-11_2021-06.csv)")
    .option("--rates <file>", "instead: CSV of timestamp,block,per_second_rate_ray (e.g. data/rai-redemption-rates-2022.csv): the RAI side, with the EMP bots")
    .option("--port <n>", "the Hardhat node's JSON-RPC port on 127.0.0.1 (default: a free one)", parseIntOption("--port", 1, 65535))
    .option("--from <time>", "first point: unix seconds or ISO 8601 with a zone, e.g. 2020-12-20T00:00:00Z (default: the file's first)")
    .option("--to <time>", "last point, same forms (default: the file's last)")
    .option("--step <n>", "walk every Nth point (default 1)", parseIntOption("--step", 1, 1000))
    .option("--portfolio <file>", 'JSON array of {"lotBtc": 5, "openAt": "2020-11-24T00:00:00Z", "label": "a"} (default: 1/5/10 BTC lots over the first two days)')
    .option("--tbtc <n>", "TBTC the operator holds for redemptions (default 20)", parseNumberOption("--tbtc", 0, 1000))
    .option("--eth <n>", "ETH the operator holds for gas (default 10)", parseNumberOption("--eth", 0, 100000))
    .option("--replenish-to <tbtc>", "the bot redeems to a hot Bitcoin wallet of its own and mints TBTC lots back (the real mint flow) while below this; also walks the same bot without it (docs/replay.md)", parseNumberOption("--replenish-to", 0.01, 1000))
    .option("--hot-btc <n>", "with --replenish-to: BTC in the hot wallet at the start of each walk, besides what redemptions pay into it (default 0.01)", parseNumberOption("--hot-btc", 0, 1000))
    .option("--threshold <pct>", "watch: alert below this collateralization % (default 130)", parseNumberOption("--threshold", 100, 1000))
    .option("--redeem-below <pct>", "watch: redeem deposits below this collateralization % (default 130)", parseNumberOption("--redeem-below", 100, 1000))
    .option("--notify-courtesy", "watch: call notifyCourtesyCall on deposits below the courtesy-call threshold")
    .option("--no-redeem", "watch: never redeem (the bot only alerts and courtesy-calls)")
    .option("--fee-sats <sats>", "watch: BTC fee left to redemption transactions (default 10000)", parseIntOption("--fee-sats", 2000, 10_000_000))
    .option("--no-baseline", "skip the walk without the bot")
    .option("--no-seed", "skip the walk with the seed's policy (redeem only once courtesy-called)")
    .option("--max-gap <hours>", "refuse a window with more than this many hours missing in a row (default 24; shorter gaps are held over with a warning)", parseIntOption("--max-gap", 1, 100_000))
    .option("--every-point", "touch the chain at every point, also where no deposit is near a line (slower; same outcomes)")
    .option("--plot-out <file>", "also write the chart (price, collateralization vs 150/125/110 %, actions) as an SVG file")
    .addHelpText("after", "\nStarts a local Hardhat node with the real tBTC v1.1.0 contracts, opens the portfolio for\noperator account 1, and walks the points: at each point where a deposit is near a line it sets\nthe medianizer, moves the chain clock to the point's time and runs one pass of the watch loop,\nthen other accounts courtesy-call and liquidate as on mainnet (quiet points are computed; see\n--every-point). The same walk runs again without the bot and with the seed's policy (redeem\nonly once courtesy-called); the report puts the three side by side, with a chart. Speed and\npeak memory go to stderr.\n\nWith --rates instead of --prices: RAI's redemption-rate updates go through the devnet's\nRateSetter (indexed by a lagging loopback subgraph), sponsors open positions in UMA's real EMP\nalong the way, and the emp-liquidate and emp-dispute passes run after each update, beside a\ncareless liquidator at a stale, marked-up price; the mock oracle settles disputes at the true\nprice. Only --from, --to, --port, --every-point and --json apply. See docs/replay.md.")
    .action(async (_opts: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const out = outputOf(cmd);
      if ((g.prices === undefined) === (g.rates === undefined)) throw new UsageError("replay: give either --prices FILE (tBTC) or --rates FILE (RAI)");
      assertDevInstall();
      if (g.rates !== undefined) return replayRates(g, out);
      const lib = await import("../devnet/replay-data");
      const pricesFile = g.prices as string;
      const series = lib.parsePriceCsv(readInput("--prices", pricesFile), echo(pricesFile));
      const from = g.from === undefined ? undefined : lib.parseTimeOption("--from", g.from as string);
      const to = g.to === undefined ? undefined : lib.parseTimeOption("--to", g.to as string);
          const window = lib.selectWindow(series, from, to);
      const step = (g.step as number | undefined) ?? 1;
      const points = lib.samplePoints(window, step);
      const portfolio = g.portfolio === undefined ? lib.defaultPortfolio(points[0].t) : lib.parsePortfolio(readInput("--portfolio", g.portfolio as string), echo(g.portfolio as string), points[0].t);
      // A bond set before the window must be priced by the file; checked before any node starts.
      for (const e of portfolio) if (e.openAt < points[0].t) lib.priceAt(series, e.openAt, e.label);
      const plotOut = g.plotOut === undefined ? undefined : checkPlotOut(g.plotOut as string);
      if (g.hotBtc !== undefined && g.replenishTo === undefined) throw new UsageError("--hot-btc is the hot wallet of --replenish-to; give --replenish-to TBTC too (or drop --hot-btc)");
      const gaps = lib.findGaps(window);
      lib.refuseLongGaps(gaps, (g.maxGap as number | undefined) ?? 24);
      for (const gap of gaps) out.warn(`gap in the series: ${lib.isoTime(gap.from)} .. ${lib.isoTime(gap.to)} (${gap.missing} h missing; the price holds, the clock jumps)`);

      const port = g.port as number | undefined;
      if (port !== undefined) await assertPortFree(port);
      const { runReplay } = await import("../devnet/replay");
      const { report, trace, stats } = await runReplay({
        port,
        points, series, gaps, step, windowPoints: window.length, portfolio,
        tbtc: (g.tbtc as number | undefined) ?? 20, eth: (g.eth as number | undefined) ?? 10,
        policy: {
          warnBelowPct: (g.threshold as number | undefined) ?? 130,
          redeemBelowPct: (g.redeemBelow as number | undefined) ?? 130,
          notifyCourtesy: !!g.notifyCourtesy,
          feeSats: BigInt((g.feeSats as number | undefined) ?? 10_000),
          minEthWei: 10n ** 17n,
          maxBlockAgeSec: 365 * 86400,
        },
        redeem: g.redeem !== false,
        baseline: g.baseline !== false,
        seed: g.seed !== false,
        everyPoint: !!g.everyPoint,
        replenishTo: g.replenishTo as number | undefined,
        hotBtc: g.hotBtc as number | undefined,
        onProgress: (m) => out.info(m),
        signal: shutdown.signal,
      });
      const chart = await import("../devnet/replay-chart");
      if (plotOut) {
        try {
          fs.writeFileSync(plotOut, chart.svgChart(report, trace));
        } catch (e) {
          throw new UsageError(`--plot-out: cannot write ${echo(g.plotOut as string)} (${(e as NodeJS.ErrnoException).code ?? "error"})`);
        }
      }
      if (out.json) out.document(report);
      else printReport(out, report, chart.textChart(report, trace));
      if (plotOut) out.info(`chart written to ${echo(g.plotOut as string)}`);
      // Speed and memory on stderr: the report itself is identical for identical inputs.
      out.info(`replayed ${stats.walks} walk${stats.walks > 1 ? "s" : ""} of ${points.length} points (${stats.points} points, ${report.runs.reduce((a, r) => a + r.chainPoints, 0)} of them on the chain) in ${stats.seconds} s: ${stats.pointsPerSecond} points/s; peak RSS ${stats.peakRssMiB} MiB${stats.nodePeakRssMiB === null ? "" : ` (Hardhat node ${stats.nodePeakRssMiB} MiB)`}`);
    });
}
