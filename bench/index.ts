import { benchTbtc, formatTbtcBench } from "./tbtc";
import { benchRai } from "./rai";
import { benchReplay } from "./replay";
import { benchReplayRates } from "./replay-rates";
import { benchTbtcScale, formatTbtcScale } from "./tbtc-scale";
import { benchWatchIdle, formatWatchIdle } from "./watch-idle";
import { benchRedemptionProof, formatRedemptionProof } from "./redemption-proof";
import { benchReaction, formatReaction } from "./reaction";
import { benchEmpScale, formatEmpScale } from "./emp-scale";
import { benchRaiYear, formatRaiYear } from "./rai-year";
import { benchBuy, formatBuy } from "./buy";
import { benchEmpPosition, formatEmpPosition } from "./emp-position";
import { benchEmpGuard, formatEmpGuard } from "./emp-guard";
import { benchHa, formatHa } from "./ha";
import { benchMint, formatMint } from "./mint";

/**
 * `npm run bench`: the performance figures the project promises, measured on a fresh local node.
 * Flags: --deposits N (tBTC deposits, default 200), --only tbtc|scale|watch|proof|reaction|buy|mint|emp|emp-position|emp-guard|ha|rai|rai-year|replay.
 * ha bench (PostgreSQL state store): --ha-reps N (short-lease takeovers, 5).
 * EMP bench: --sponsors N (1000), --emp-span BLOCKS (1,000,000), --rtt MS, --skip-baseline.
 * rai-year bench: --hours N (8,760), --rtt MS.
 * Scale bench (docs/performance.md): --keeps N (3500), --op-deposits N (300), --span BLOCKS
 * (3,000,000), --head-after BLOCKS (10,000,000), --rtt MS (80), --skip-baseline.
 */
function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<number> {
  const only = flag("--only");
  const deposits = Number(flag("--deposits") ?? 200);
  if (!Number.isInteger(deposits) || deposits < 1) {
    process.stderr.write(`--deposits must be a positive whole number\n`);
    return 2;
  }
  let allMet = true;
  if (!only || only === "tbtc") {
    const r = await benchTbtc({ deposits });
    process.stdout.write(formatTbtcBench(r) + "\n");
    allMet &&= r.targets.every((t) => t.met);
  }
  if (!only || only === "scale") {
    const num = (name: string, dflt: number) => {
      const v = Number(flag(name) ?? dflt);
      if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a whole number`);
      return v;
    };
    const r = await benchTbtcScale({
      totalKeeps: num("--keeps", 3500),
      operatorDeposits: num("--op-deposits", 300),
      keepSpanBlocks: num("--span", 3_000_000),
      headAfterDeploy: num("--head-after", 10_000_000),
      proxy: { rttMs: num("--rtt", 80) },
      skipBaseline: process.argv.includes("--skip-baseline"),
    });
    process.stdout.write(formatTbtcScale(r) + "\n");
    allMet &&= r.targets.every((t) => t.met);
  }
  if (!only || only === "watch") {
    const r = await benchWatchIdle();
    process.stdout.write(formatWatchIdle(r) + "\n");
    allMet &&= r.target.met && r.btcTarget.met;
  }
  if (!only || only === "proof") {
    const r = await benchRedemptionProof();
    process.stdout.write(formatRedemptionProof(r) + "\n");
    allMet &&= r.targets.every((t) => t.met);
  }
  if (!only || only === "reaction") {
    const r = await benchReaction();
    process.stdout.write(formatReaction(r) + "\n");
    allMet &&= r.target.met && (r.redemptionTarget?.met ?? true);
  }
  if (!only || only === "buy") {
    const r = await benchBuy();
    process.stdout.write(formatBuy(r) + "\n");
    allMet &&= r.targets.every((t) => t.met);
  }
  if (!only || only === "mint") {
    const r = await benchMint();
    process.stdout.write(formatMint(r) + "\n");
    allMet &&= r.targets.every((t) => t.met);
  }
  if (!only || only === "emp") {
    const sponsors = Number(flag("--sponsors") ?? 1000);
    const span = Number(flag("--emp-span") ?? 1_000_000);
    const rtt = Number(flag("--rtt") ?? 80);
    if (![sponsors, span, rtt].every((v) => Number.isInteger(v) && v >= 0) || sponsors < 1) throw new Error("--sponsors, --emp-span and --rtt must be whole numbers");
    const r = await benchEmpScale({ sponsors, spanBlocks: span, proxy: { rttMs: rtt }, skipBaseline: process.argv.includes("--skip-baseline") });
    process.stdout.write(formatEmpScale(r) + "\n");
    allMet &&= r.targets.every((t) => t.met);
  }
  if (!only || only === "emp-position") {
    const r = await benchEmpPosition();
    process.stdout.write(formatEmpPosition(r) + "\n");
    allMet &&= r.target.met;
  }
  if (!only || only === "emp-guard") {
    const r = await benchEmpGuard();
    process.stdout.write(formatEmpGuard(r) + "\n");
    allMet &&= r.target.met;
  }
  if (!only || only === "ha") {
    const reps = Number(flag("--ha-reps") ?? 5);
    if (!Number.isInteger(reps) || reps < 1) throw new Error("--ha-reps must be a positive whole number");
    const r = await benchHa({ reps });
    process.stdout.write(formatHa(r) + "\n");
    allMet &&= r.targets.every((t) => t.met);
  }
  if (!only || only === "rai") {
    const met = await benchRai();
    allMet &&= met !== false;
  }
  if (!only || only === "rai-year") {
    const hours = Number(flag("--hours") ?? 8760);
    const rtt = Number(flag("--rtt") ?? 80);
    if (![hours, rtt].every((v) => Number.isInteger(v) && v >= 0) || hours < 2) throw new Error("--hours (>= 2) and --rtt must be whole numbers");
    const r = await benchRaiYear({ hours, proxy: { rttMs: rtt } });
    process.stdout.write(formatRaiYear(r) + "\n");
    allMet &&= r.targets.every((t) => t.met);
  }
  if (!only || only === "replay") {
    const r = await benchReplay();
    process.stdout.write(r.lines.join("\n") + "\n");
    allMet &&= r.met;
  }
  if (!only || only === "replay-rates") {
    const r = await benchReplayRates();
    process.stdout.write(r.lines.join("\n") + "\n");
    allMet &&= r.met;
  }
  return allMet ? 0 : 1;
}

main().then(
  (code) => { process.exitCode = code; },
  (e) => { process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`); process.exitCode = 1; },
);
