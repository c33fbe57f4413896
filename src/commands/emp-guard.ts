import type { Command } from "commander";
import { ConfigError, UsageError } from "../lib/errors";
import { formatFixedTrimmed } from "../lib/fixed-point";
import type { Output } from "../lib/output";
import { FP_DECIMALS } from "../lib/uma/fixed-point";
import { EmpGuard, type GuardPassSummary } from "../lib/uma/guard";
import { guardFloor } from "../lib/uma/guard-strategy";
import { addBotOptions, runBot } from "./bot-common";
import { decimalArg } from "./common";

const fx = (v: bigint | null) => (v === null ? "none" : formatFixedTrimmed(v, FP_DECIMALS));

function renderGuardSummary(out: Output, s: GuardPassSummary): void {
  const d = s.decision;
  const state = s.expired ? " (expired: nothing to guard; settle with emp-sponsor settle)" : "";
  out.line(`pass ${s.pass}: block ${s.block}, price ${fx(s.price)}, ratio ${fx(d.ratio)}, target ${fx(d.target)} (floor ${fx(d.floor)}, liquidators' trigger ${fx(d.trigger)})${state}`);
  if (d.action === "top-up") {
    // Said as done only when something was mined; a dry run or a pending send is not a top-up yet.
    const verb = s.sent.some((t) => t.status === "mined" || t.status === "done-earlier") ? "topped up" : s.sent.some((t) => t.status === "dry-run") ? "would top up (dry run)" : "top-up";
    out.line(`${verb}: ${[d.cancelWithdrawal ? "cancelled the pending withdrawal" : "", d.deposit > 0n ? `deposit ${fx(d.deposit)}` : "", d.repay > 0n ? `repay ${fx(d.repay)}` : ""].filter(Boolean).join(", ") || "nothing the wallet can do"}; ratio after ${fx(d.ratioAfter)}${d.shortfall > 0n ? `, ${fx(d.shortfall)} collateral short of the target` : ""}`);
  } else {
    out.line(`${d.action}: ${d.reason}`);
  }
  for (const t of s.sent) out.line(`  ${t.status}\t${t.step}${t.hash ? `\t${t.hash}` : ""}`);
}

export function register(program: Command): void {
  addBotOptions(
    program
      .command("emp-guard")
      .description("UMA EMP position guard: keep your position's ratio at or above --target (deposit or repay), priced like the liquidators"),
  )
    .option("--target <ratio>", "the ratio to keep, e.g. 1.5; at least the collateral requirement × (1 + --margin) (env KEEPCTL_GUARD_TARGET)", decimalArg("--target"))
    .option("--prefer <how>", "deposit (collateral first) or repay (synthetic tokens first) (env KEEPCTL_GUARD_PREFER; default deposit)")
    .option("--margin <decimal>", "the floor's margin over the collateral requirement, in [0, 1) (env KEEPCTL_GUARD_MARGIN; default 0.05)")
    .option("--alert-runway <decimal>", "warn when the wallet could not hold the target through a price rise of this share (env KEEPCTL_GUARD_ALERT_RUNWAY; default 0.1)")
    .action(async (_opts: unknown, cmd: Command) => {
      await runBot(cmd, "guard", (s) => {
        if (!s.guard) throw new ConfigError("emp-guard needs a target ratio: pass --target RATIO", { hint: "or set KEEPCTL_GUARD_TARGET; e.g. --target 1.5" });
        const floor = guardFloor(s.ctx.params.collateralRequirement, s.guard.margin);
        if (s.guard.target < floor) {
          throw new UsageError(`--target ${fx(s.guard.target)} is below the floor ${fx(floor)} (the EMP's collateral requirement ${fx(s.ctx.params.collateralRequirement)} × (1 + margin ${fx(s.guard.margin ?? 0n)})): the liquidators act too close to it`, { hint: `pass --target ${fx(floor)} or more` });
        }
        const guard = new EmpGuard(s.ctx, s.guard);
        return (n) => guard.runPass(n);
      }, renderGuardSummary);
    });
}
