import type { Command } from "commander";
import type { Output } from "../lib/output";
import { formatFixedTrimmed } from "../lib/fixed-point";
import { FP_DECIMALS } from "../lib/uma/fixed-point";
import { EmpLiquidator, type LiquidatorPassSummary } from "../lib/uma/liquidator";
import { addBotOptions, runBot } from "./bot-common";

function renderLiquidatorSummary(out: Output, s: LiquidatorPassSummary): void {
  const price = s.price === null ? "none" : formatFixedTrimmed(s.price, FP_DECIMALS);
  const count = (st: string) => s.liquidations.filter((l) => l.status === st).length;
  out.line(`pass ${s.pass}: block ${s.block}, price ${price}, ${s.positions} positions${s.expired ? " (EMP expired: no new liquidations; withdrawals go on)" : ""}`);
  out.line(`liquidated ${count("liquidated")}, lost races ${count("lost-race")}, dry-run ${count("dry-run")}, withdrawn ${s.withdrawals.filter((w) => w.status === "withdrawn").length}`);
  for (const l of s.liquidations) {
    const detail = l.lockedCollateral !== undefined ? ` locked ${formatFixedTrimmed(l.lockedCollateral, FP_DECIMALS)} liquidated ${formatFixedTrimmed(l.liquidatedCollateral!, FP_DECIMALS)}` : "";
    out.line(`  ${l.status}\t${l.sponsor}\t${formatFixedTrimmed(l.tokens, FP_DECIMALS)} tokens${detail}${l.hash ? `\t${l.hash}` : ""}`);
  }
  for (const w of s.withdrawals) out.line(`  ${w.status}\t${w.sponsor}#${w.liquidationId}\t${formatFixedTrimmed(w.paidToLiquidator, FP_DECIMALS)} collateral${w.hash ? `\t${w.hash}` : ""}`);
}

export function register(program: Command): void {
  addBotOptions(
    program
      .command("emp-liquidate")
      .description("UMA ExpiringMultiParty liquidator bot: liquidate undercollateralized positions, withdraw rewards"),
  )
    .option("--liquidation-deadline <seconds>", "seconds a liquidation may wait to be mined (default 300)")
    .option("--max-tokens <decimal>", "most synthetic tokens per liquidation (default: the bot's balance)")
    .option("--defense-activation-percent <pct>", "whale defence: % of a withdrawal's liveness after which to liquidate minSponsorTokens")
    .action(async (_opts: unknown, cmd: Command) => {
      await runBot(cmd, "liquidator", (s) => {
        const bot = new EmpLiquidator(s.ctx, s.liquidation);
        return (n) => bot.runPass(n);
      }, renderLiquidatorSummary);
    });
}
