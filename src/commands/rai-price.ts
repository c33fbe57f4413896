import { Command, Option } from "commander";
import { redact } from "../lib/redact";
import { parseTimeInput } from "../lib/time-input";
import { formatFixedPadded } from "../lib/fixed-point";
import { raiPriceFromConfig, plotRates, type RaiPriceResult, type SourceChoice } from "../lib/rai";
import { globalsOf, loadCommandConfig, outputOf, parseIntOption } from "./common";

/** --at: unix seconds, or ISO 8601 with its zone (lib/time-input.ts: never this machine's local time). */
export function parseAt(raw: string): number {
  return parseTimeInput("--at", raw);
}

const iso = (t: number) => new Date(t * 1000).toISOString().replace(".000Z", "Z");

export function register(program: Command): void {
  program
    .command("rai-price")
    .description("RAI redemption-rate price: the annualized redemption rate, time-weighted over a window")
    .option("--rate-setter <addr>", "RateSetter address (default: contracts.RateSetter of the network/deployment)")
    .option("--subgraph-url <url>", "Reflexer subgraph GraphQL endpoint (env KEEPCTL_SUBGRAPH_URL; visible in ps: prefer --subgraph-url-file)")
    .option("--subgraph-url-file <file>", "file holding the subgraph URL (env KEEPCTL_SUBGRAPH_URL_FILE)")
    .option("--at <time>", "price at this time: unix seconds or ISO 8601 with a zone, e.g. 2021-06-01T00:00:00Z (default: latest block)", parseAt)
    .option("--window <seconds>", "TWAP length in seconds (default 28800)", parseIntOption("--window", 1, 31_536_000))
    .addOption(new Option("--source <source>", "where rates come from (default auto)").choices(["auto", "subgraph", "events"]))
    .option("--points", "list the rate observations the TWAP used")
    .option("--plot", "ASCII chart of the annualized rate over the window")
    .addHelpText("after", "\nExit codes: 0 price printed, 2 bad flag, 3 missing setting or no contract at the RateSetter\naddress, 4 RPC/subgraph unreachable, 7 no redemption rate known anywhere in the window.")
    .action(async (_opts: unknown, cmd: Command) => {
      const flags = globalsOf(cmd);
      const out = outputOf(cmd);
      const cfg = loadCommandConfig(flags, out, { requireRpc: false });
      // --source and --window are this command's own flags; the settings table holds env/file values.
      const result = await raiPriceFromConfig(cfg.rai, cfg.rpc, { source: flags.source as SourceChoice | undefined, at: flags.at as number | undefined, windowSec: flags.window as number | undefined, onRpcWarning: (m) => out.warn(m) });
      render(result, out, { points: !!flags.points, plot: !!flags.plot });
    });
}

function render(r: RaiPriceResult, out: ReturnType<typeof outputOf>, show: { points: boolean; plot: boolean }): void {
  r.warnings = r.warnings.map((w) => redact(w));
  for (const w of r.warnings) out.warn(w);
  const points = r.observations.map((o) => ({
    timestamp: o.timestamp, time: iso(o.timestamp), block: o.block, source: o.source,
    perSecondRate: o.perSecondRate.toString(), annualized: formatFixedPadded(o.price, 18),
  }));
  if (out.json) {
    out.document({
      price: r.priceDecimal, priceWei: r.price.toString(), decimals: 18,
      window: { start: r.window.start, end: r.window.end, seconds: r.window.end - r.window.start, startTime: iso(r.window.start), endTime: iso(r.window.end) },
      source: r.sourceUsed, warnings: r.warnings, points,
    });
    return;
  }
  out.line(`price   ${r.priceDecimal}`);
  out.line(`wei     ${r.price}`);
  out.line(`window  ${iso(r.window.start)} .. ${iso(r.window.end)} (${r.window.end - r.window.start} s)`);
  out.line(`source  ${r.sourceUsed}`);
  if (show.points) {
    out.line();
    out.table(points, [
      { header: "Time", value: (p) => p.time },
      { header: "Timestamp", value: (p) => String(p.timestamp), align: "right" },
      { header: "Block", value: (p) => String(p.block), align: "right" },
      { header: "Per-second rate", value: (p) => p.perSecondRate, align: "right" },
      { header: "Annualized", value: (p) => p.annualized, align: "right" },
    ]);
  }
  if (show.plot) {
    out.line();
    for (const l of plotRates(r.observations, r.window)) out.line(l);
  }
}
