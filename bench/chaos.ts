import { CHAOS_COMMANDS, CHAOS_TWISTS, TBTC_CHAOS_COMMANDS, runChaosCase, runFollowChaosCase, startEmpWorld, startTbtcWorld, type ChaosCaseResult, type ChaosCommand, type ChaosTwist, type EmpWorld, type TbtcWorld } from "../src/devnet/chaos";
import { FAULT_KINDS } from "../src/devnet/fault-proxy";

/**
 * `npm run chaos`: exactly once under a lossy RPC (and, for redeem-follow, lossy Bitcoin servers), at scale. For each command, one fault-free run
 * and N seeded runs at the fault rate, each counted from the chain. Seed s also carries the twist
 * CHAOS_TWISTS[s % 6] (none, a reorg at depth 1, 3 or 13, a lagging first or second endpoint; not
 * for redeem-follow, whose world is fresh per case), so a seed replays with its twist. Flags:
 * --seeds N (default 20), --rate R (default 0.3), --first S (first seed, default 1), --only
 * COMMAND, --twist NAME (every seed gets that one; "cycle" default).
 * Exit 0 only when every run finished every action with 0 duplicate and 0 reverted transactions.
 */
function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function sum(rs: ChaosCaseResult[], f: (r: ChaosCaseResult) => number): number {
  return rs.reduce((a, r) => a + f(r), 0);
}

async function main(): Promise<number> {
  const seeds = Number(flag("--seeds") ?? 20);
  const rate = Number(flag("--rate") ?? 0.3);
  const first = Number(flag("--first") ?? 1);
  const only = flag("--only") as ChaosCommand | undefined;
  const twistFlag = flag("--twist") ?? "cycle";
  if (twistFlag !== "cycle" && !CHAOS_TWISTS.includes(twistFlag as ChaosTwist)) {
    process.stderr.write(`--twist must be "cycle" or one of ${CHAOS_TWISTS.join(", ")}\n`);
    return 2;
  }
  const twistOf = (s: number): ChaosTwist => (twistFlag === "cycle" ? CHAOS_TWISTS[s % CHAOS_TWISTS.length] : (twistFlag as ChaosTwist));
  if (!Number.isInteger(seeds) || seeds < 1 || !(rate >= 0 && rate < 1) || !Number.isInteger(first)) {
    process.stderr.write(`usage: npm run chaos -- [--seeds N] [--rate 0..1] [--first SEED] [--only watch|redeem|redeem-follow|emp-liquidate|emp-dispute] [--twist cycle|${CHAOS_TWISTS.join("|")}]\n`);
    return 2;
  }
  const commands = CHAOS_COMMANDS.filter((c) => !only || c === only);
  if (commands.length === 0) {
    process.stderr.write(`--only must be one of ${CHAOS_COMMANDS.join(", ")}\n`);
    return 2;
  }
  const needTbtc = commands.some((c) => TBTC_CHAOS_COMMANDS.has(c));
  const needEmp = commands.some((c) => c === "emp-liquidate" || c === "emp-dispute");
  const tbtc: TbtcWorld | undefined = needTbtc ? await startTbtcWorld() : undefined;
  const emp: EmpWorld | undefined = needEmp ? await startEmpWorld() : undefined;
  const started = Date.now();
  const rows: string[] = [];
  let ok = true;
  try {
    for (const command of commands) {
      // redeem-follow spends the deposits' Bitcoin: a fresh world per case (see runFollowChaosCase).
      const run = (seed: number, r: number) => (command === "redeem-follow" ? runFollowChaosCase({ seed, rate: r }) : runChaosCase(TBTC_CHAOS_COMMANDS.has(command) ? tbtc! : emp!, command, { seed, rate: r, twist: r === 0 ? "none" : twistOf(seed) }));
      const clean = await run(0, 0);
      const runs: ChaosCaseResult[] = [];
      for (let s = first; s < first + seeds; s++) {
        const r = await run(s, rate);
        runs.push(r);
        const bad = r.done !== r.required || r.duplicates > 0 || r.reverted > 0 || r.exitCodes.at(-1) !== 0;
        process.stderr.write(`${command} seed ${s} (${r.twist}): runs ${r.runs} (exits ${r.exitCodes.join(",")}), done ${r.done}/${r.required}, duplicates ${r.duplicates}, reverted ${r.reverted}, faults ${sum([r], (x) => Object.values(x.faults).reduce((a, b) => a + b, 0))} (${r.broadcastFaults} on broadcasts)${command === "redeem-follow" ? `, Bitcoin faults ${r.btcFaults}` : ""}, ${r.ms} ms${bad ? "  <-- " + (r.stderrTail ?? "") : ""}\n`);
      }
      const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, sum(runs, (r) => r.faults[k])]));
      const required = sum(runs, (r) => r.required);
      const done = sum(runs, (r) => r.done);
      const duplicates = sum(runs, (r) => r.duplicates);
      const reverted = sum(runs, (r) => r.reverted);
      const falseAlerts = sum(runs, (r) => r.falseFailureAlerts);
      const meanMs = Math.round(sum(runs, (r) => r.ms) / runs.length);
      const met = done === required && duplicates === 0 && reverted === 0 && falseAlerts === 0 && runs.every((r) => r.exitCodes.at(-1) === 0);
      ok &&= met && clean.done === clean.required && clean.duplicates === 0;
      const row = (
        [
          `${command}: ${seeds} seeds at ${Math.round(rate * 100)}% faults (seeds ${first}..${first + seeds - 1})`,
          `  faults injected: ${Object.entries(faults).map(([k, v]) => `${k} ${v}`).join(", ")}; on broadcasts ${sum(runs, (r) => r.broadcastFaults)}${command === "redeem-follow" ? `; on the Bitcoin servers ${sum(runs, (r) => r.btcFaults)}` : ""}`,
          `  twists: ${CHAOS_TWISTS.map((t) => `${t} ${runs.filter((r) => r.twist === t).length}`).join(", ")}`,
          `  actions required ${required}, done exactly once ${done}; duplicate transactions ${duplicates}; reverted ${reverted}; false "failed" alerts ${falseAlerts}`,
          `  invocations (cron-style re-runs) ${sum(runs, (r) => r.runs)} for ${seeds} seeds; transactions ${sum(runs, (r) => r.transactions)}`,
          `  wall time per seed ${meanMs} ms vs fault-free ${clean.ms} ms (${(meanMs / Math.max(1, clean.ms)).toFixed(1)}x)   ${met ? "[met]" : "[missed]"}`,
        ].join("\n")
      );
      rows.push(row);
      // Printed as each command finishes: a long run that dies later keeps what it measured.
      process.stdout.write(`${rows.length === 1 ? "\nkeepctl chaos: exactly once under a lossy RPC, reorgs and a lagging endpoint (counted from the chain)\n\n" : ""}${row}\n\n`);
    }
  } finally {
    await tbtc?.close();
    await emp?.close();
  }
  process.stdout.write(`total ${Math.round((Date.now() - started) / 1000)} s\n`);
  return ok ? 0 : 1;
}

main().then(
  (code) => { process.exitCode = code; },
  (e) => { process.stderr.write(`chaos failed: ${e instanceof Error ? e.stack : String(e)}\n`); process.exitCode = 1; },
);
