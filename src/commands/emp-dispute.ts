import type { Command } from "commander";
import type { Output } from "../lib/output";
import { EmpDisputer, type DisputerPassSummary } from "../lib/uma/disputer";
import { formatFixedTrimmed } from "../lib/fixed-point";
import { FP_DECIMALS } from "../lib/uma/fixed-point";
import { addBotOptions, runBot } from "./bot-common";

function renderDisputerSummary(out: Output, s: DisputerPassSummary): void {
  const count = (st: string) => s.disputes.filter((d) => d.status === st).length;
  out.line(`pass ${s.pass}: block ${s.block}, ${s.liquidations} liquidations${s.expired ? " (EMP expired: no new liquidations; disputes and withdrawals go on)" : ""}`);
  out.line(`disputed ${count("disputed")}, lost races ${count("lost-race")}, dry-run ${count("dry-run")}, withdrawn ${s.withdrawals.filter((w) => w.status === "withdrawn").length}`);
  for (const d of s.disputes) out.line(`  ${d.status}\t${d.sponsor}#${d.liquidationId}\tbond ${formatFixedTrimmed(d.bond, FP_DECIMALS)}${d.hash ? `\t${d.hash}` : ""}`);
  for (const w of s.withdrawals) out.line(`  ${w.status}\t${w.sponsor}#${w.liquidationId}\t${formatFixedTrimmed(w.paidToDisputer, FP_DECIMALS)} collateral${w.hash ? `\t${w.hash}` : ""}`);
}

export function register(program: Command): void {
  addBotOptions(
    program
      .command("emp-dispute")
      .description("UMA ExpiringMultiParty disputer bot: dispute wrong liquidations, withdraw rewards"),
  )
    .option("--dispute-delay <seconds>", "seconds after a liquidation before disputing it (default 60)")
    .option("--lookback <seconds>", "how far back the feed prices liquidations (default: the EMP's liquidationLiveness)")
    .action(async (_opts: unknown, cmd: Command) => {
      await runBot(cmd, "disputer", (s) => {
        const bot = new EmpDisputer(s.ctx, s.dispute);
        return (n) => bot.runPass(n);
      }, renderDisputerSummary);
    });
}
