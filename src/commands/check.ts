import type { Command } from "commander";
import { ExitCode } from "../lib/errors";
import { formatPercentBp, worstHealth, type Health } from "../lib/tbtc/read/health";
import { requireOperators } from "../lib/config";
import { judgeLive, loadTbtcRun, scanScope, tbtcReportHeader, type JudgedDeposit } from "../lib/tbtc/read/report";
import { addCacheOption, addOperatorOption, globalsOf, loadCommandConfig, outputOf, runState, withScanProgress } from "./common";

export function register(program: Command): void {
  const cmd = program
    .command("check")
    .description("judge the operators' live deposits against thresholds; exit 10 when any is not ok");
  addCacheOption(addOperatorOption(cmd).option("--threshold <pct>", "warn below this collateralization % (env KEEPCTL_WARN_THRESHOLD; default 130)"))
    .action(async (_opts, cmd: Command) => {
      const g = globalsOf(cmd);
      const out = outputOf(cmd);
      const cfg = loadCommandConfig(g, out, { writesDataDir: g.cache !== false });
      const operators = requireOperators(cfg);
      const run = await withScanProgress(out, (hooks) => loadTbtcRun(cfg, { operators, useCache: g.cache !== false, staleHead: "error", ...hooks }));
      const judged = judgeLive(run, { warnThresholdPct: cfg.warnThreshold });
      const worst = worstHealth(judged.map((j) => j.health));
      if (worst !== "ok") runState.exitCode = ExitCode.UNHEALTHY;

      if (out.json) {
        return out.document({
          ...tbtcReportHeader(cfg, run),
          warnThreshold: cfg.warnThreshold,
          healthy: worst === "ok",
          worst,
          deposits: judged.map(judgedJson),
        });
      }
      if (judged.length === 0) {
        out.info(`no live deposits for ${cfg.operators.join(", ")} ${scanScope(run)}`);
        return;
      }
      const paint = (h: Health, t: string) => out.paint(h === "ok" ? "ok" : h === "warn" ? "warn" : "bad", t);
      out.table(judged, [
        { header: "Deposit", value: (j) => j.deposit.deposit },
        { header: "State", value: (j) => j.deposit.stateName },
        { header: "Collat %", align: "right", value: (j) => (j.deposit.collateralBp === undefined ? "-" : formatPercentBp(j.deposit.collateralBp)) },
        { header: "Health", value: (j) => j.health, color: (j, t) => paint(j.health, t) },
        { header: "Reason", value: (j) => j.reason },
      ]);
      const bad = judged.filter((j) => j.health !== "ok").length;
      if (bad > 0) out.warn(`${bad} of ${judged.length} live deposits need attention (worst: ${worst})`);
      else out.info(`all ${judged.length} live deposits are ok`);
    });
}

function judgedJson(j: JudgedDeposit) {
  const d = j.deposit;
  return {
    deposit: d.deposit,
    keep: d.keep,
    operators: d.operators,
    state: d.stateName,
    collateralization: d.collateralBp === undefined ? null : formatPercentBp(d.collateralBp),
    undercollateralizedThresholdPercent: d.undercollateralizedThresholdPercent ?? null,
    severelyUndercollateralizedThresholdPercent: d.severelyUndercollateralizedThresholdPercent ?? null,
    courtesyCallDeadline: d.courtesyDeadline === undefined ? null : new Date(d.courtesyDeadline * 1000).toISOString(),
    health: j.health,
    reason: j.reason,
  };
}
