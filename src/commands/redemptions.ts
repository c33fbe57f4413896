import path from "node:path";
import type { Command } from "commander";
import { formatUnits } from "ethers";
import { Journal } from "../lib/chain/journal";
import { readStandingPreapprovals, type StandingPreapproval } from "../lib/tbtc/watch/preapprove";
import { depositsStillAtRisk } from "../lib/tbtc/watch/preapprove-decide";
import { parseAddress, requireOperators } from "../lib/config";
import { ExitCode, UsageError } from "../lib/errors";
import { echo } from "../lib/redact";
import type { Output } from "../lib/output";
import { connectFromConfig, loadTbtcRun, tbtcReportHeader } from "../lib/tbtc/read/report";
import { redemptionTargets, readRedemptionReports, type RedemptionRow } from "../lib/tbtc/redeem/redemptions-view";
import { addBitcoinOptions, addCacheOption, addOperatorOption, addRedemptionFollowOptions, collect, globalsOf, loadCommandConfig, outputOf, runState, splitOption, withScanProgress } from "./common";

export function register(program: Command): void {
  const cmd = program
    .command("redemptions")
    .description("every redemption of the operators' deposits: stage, Bitcoin transaction, confirmations, deadlines, fee against the market");
  addBitcoinOptions(addRedemptionFollowOptions(addCacheOption(
    addOperatorOption(cmd)
      .option("--deposit <address>", "only these deposits; repeat or comma-separate", collect)
      .option("--all", "also redemptions that ended (proven, or liquidated after a timeout)"),
  )))
    .addHelpText("after", "\nExit codes: 0 nothing needs attention, 10 a redemption in progress needs it (proof deadline near or past,\nno Bitcoin server, a spend no version explains, the fee at its cap), 2/3/4 as every command. See docs/exit-codes.md.")
    .action(async (_opts, cmd: Command) => {
      const g = globalsOf(cmd);
      const out = outputOf(cmd);
      const cfg = loadCommandConfig(g, out, { writesDataDir: g.cache !== false });
      const only = splitOption("--deposit", (g.deposit as string[] | undefined) ?? []).map((a) => {
        try {
          return parseAddress(a).toLowerCase();
        } catch {
          throw new UsageError(`--deposit: invalid address "${echo(a)}"`);
        }
      });
      const operators = requireOperators(cfg);
      const provider = await connectFromConfig(cfg, { onWarning: (m) => out.warn(m) });
      let rows: RedemptionRow[];
      let left: StandingPreapproval[];
      let run: Awaited<ReturnType<typeof loadTbtcRun>>;
      try {
        run = await withScanProgress(out, (hooks) => loadTbtcRun(cfg, { operators, useCache: g.cache !== false, staleHead: "error", provider, ...hooks }));
        const targets = redemptionTargets(run.deposits, cfg.startBlock).filter((t) => !only.length || only.includes(t.deposit.toLowerCase()));
        rows = (await readRedemptionReports(cfg, provider, targets, { number: run.block, timestamp: run.blockTime }, { onWarning: (m) => out.warn(m) })).filter((r) => g.all || r.live);
        // watch's pre-approvals that no deposit needs any more: left standing, counted here (read only).
        const atRisk = depositsStillAtRisk(run.deposits.map((x) => ({ address: x.deposit, state: x.state, collateralPct: x.collateralBp === undefined ? undefined : Number(x.collateralBp) / 100 })), cfg.tbtc.warnThreshold);
        left = cfg.contracts.TBTCToken ? await readStandingPreapprovals(provider, new Journal(path.join(cfg.dataDir, "journal.jsonl")), cfg.contracts.TBTCToken, atRisk) : [];
      } finally {
        provider.destroy();
      }
      if (rows.some((r) => r.needsAttention)) runState.exitCode = ExitCode.UNHEALTHY;
      const preapprovalsLeft = left.map((l) => ({ account: l.account, spender: l.spender, allowanceTbtc: formatUnits(l.allowance, 18), deposits: l.deposits }));
      if (out.json) return out.document({ ...tbtcReportHeader(cfg, run), redemptions: rows.map((r) => r.json), preapprovalsLeft });
      if (left.length) out.info(`${left.length} pre-approval(s) no longer needed, left standing (they can only pull TBTC into a redemption this account asks for): ${left.map((l) => `${formatUnits(l.allowance, 18)} TBTC to ${l.spender}`).join(", ")}`);
      if (!rows.length) return out.info(g.all ? "no redemptions of these operators' deposits" : "no redemption in progress (--all shows the ended ones)");
      render(out, rows, run.blockTime);
      for (const r of rows) for (const a of r.report.alerts) (a.level === "info" ? out.info : out.warn).call(out, `${a.title}: ${a.text}`);
    });
}

function render(out: Output, rows: RedemptionRow[], now: number): void {
  const left = (t?: number) => (t === undefined ? "-" : t <= now ? "passed" : `${Math.ceil((t - now) / 60)} min`);
  out.table(rows, [
    { header: "Deposit", value: (r) => r.report.deposit },
    { header: "State", value: (r) => r.report.state },
    { header: "Stage", value: (r) => r.stageText, color: (r, t) => out.paint(r.needsAttention ? "bad" : r.live ? "warn" : "ok", t) },
    { header: "Bumps", align: "right", value: (r) => String(r.report.feeIncreases) },
    { header: "Fee sat/vB", align: "right", value: (r) => (r.report.feeRateSatVb === undefined ? "-" : r.report.feeRateSatVb.toFixed(1)) },
    { header: "Market", align: "right", value: (r) => (r.report.marketFeeRate === undefined ? "-" : r.report.marketFeeRate.toFixed(1)) },
    { header: "Proof due", align: "right", value: (r) => (r.live ? left(r.report.proofDeadline) : "-") },
    { header: "Bitcoin tx", value: (r) => r.report.btcTxid ?? r.report.redeemedTxid ?? "-" },
  ]);
}
