import { benchTbtc, formatTbtcBench } from "./tbtc";
import { benchRai } from "./rai";
import { benchReplay } from "./replay";

/**
 * `npm run bench`: the performance figures the project promises, measured on a fresh local node.
 * Flags: --deposits N (tBTC deposits, default 200), --only tbtc|rai|replay.
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
  if (!only || only === "rai") {
    const met = await benchRai();
    allMet &&= met !== false;
  }
  if (!only || only === "replay") {
    const r = await benchReplay();
    process.stdout.write(r.lines.join("\n") + "\n");
    allMet &&= r.met;
  }
  return allMet ? 0 : 1;
}

main().then(
  (code) => { process.exitCode = code; },
  (e) => { process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`); process.exitCode = 1; },
);
