import fs from "node:fs";
import path from "node:path";
import { runRatesReplay } from "../src/devnet/replay-rates";
import { parseRatesCsv, selectRateWindow } from "../src/devnet/replay-rates-data";

/**
 * `keepctl replay --rates` over the whole shipped series (228 real UpdateRedemptionRate events,
 * 2022-02-18 .. 2022-06-15) with the EMP bots in the loop. Target (issue 11): under a minute on
 * this 2-core machine. Prints updates per second and peak memory, like the command.
 */
const CSV = path.resolve(__dirname, "../../data/rai-redemption-rates-2022.csv");
const LIMIT_SEC = 60;

export async function benchReplayRates(o: { log?: (m: string) => void } = {}): Promise<{ lines: string[]; met: boolean }> {
  const log = o.log ?? ((m: string) => process.stderr.write(m + "\n"));
  const series = parseRatesCsv(fs.readFileSync(CSV, "utf8"), "rai-redemption-rates-2022.csv");
  const { walk, carryIn } = selectRateWindow(series, undefined, undefined);
  const { report, stats } = await runRatesReplay({ walk, carryIn, series, everyPoint: false, onProgress: log });
  const c = report.checks;
  const lines = [
    `replay --rates (RAI): ${stats.points} rate updates, real EMP, emp-liquidate + emp-dispute in the loop`,
    `  ${stats.seconds} s, ${stats.pointsPerSecond} updates/s; peak RSS ${stats.peakRssMiB} MiB${stats.nodePeakRssMiB === null ? "" : ` (Hardhat node ${stats.nodePeakRssMiB} MiB)`}`,
    `  feed prices checked against the exact recomputation: ${c.liquidatorPrices} liquidator, ${c.disputerPrices} disputer, ${c.differ} differ`,
    `  ${stats.seconds < LIMIT_SEC ? "[met]" : "[missed]"} the ${stats.points}-update RAI replay in under ${LIMIT_SEC} s: ${stats.seconds} s`,
  ];
  return { lines, met: stats.seconds < LIMIT_SEC && c.differ === 0 };
}
