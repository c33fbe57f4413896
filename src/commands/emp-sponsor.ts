import { Command, Option } from "commander";
import { AuditLog, auditTransaction } from "../lib/audit";
import { checkKeyFilePerms } from "../lib/chain/wallet";
import { TxPendingError } from "../lib/chain/tx";
import { ExitCode, UsageError } from "../lib/errors";
import { eventWriter, type KeepctlEvent } from "../lib/events";
import { formatFixedTrimmed, parseFixedStrict } from "../lib/fixed-point";
import type { Output } from "../lib/output";
import type { SourceChoice } from "../lib/rai/feed";
import { FP_DECIMALS } from "../lib/uma/fixed-point";
import type { SponsorPlan, SponsorRequest } from "../lib/uma/sponsor-plan";
import type { SponsorOutcome } from "../lib/uma/sponsor-actions";
import { openSponsorSession, type SponsorSession } from "../lib/uma/sponsor-session";
import { settleFlow, sponsorActionFlow, withdrawLiquidationsFlow, type FlowIo } from "../lib/uma/sponsor-flows";
import {
  addSigningOptions, confirmOnTerminal, decimalArg, globalsOf, loadCommandConfig, onTerminal, outputOf, parseIntOption, requireYesOffTerminal, runState, shutdown,
} from "./common";

const fx = (v: bigint) => formatFixedTrimmed(v, FP_DECIMALS);
const amount = (what: string, raw: string) => parseFixedStrict(decimalArg(what)(raw), FP_DECIMALS);

/** Options of every emp-sponsor action. */
function actionOptions(cmd: Command): Command {
  return addSigningOptions(cmd)
    .option("--emp <address>", "ExpiringMultiParty address (env KEEPCTL_EMP_ADDRESS; else contracts.ExpiringMultiParty)")
    .option("-y, --yes", "do not ask for confirmation (required when not on a terminal)")
    .option("--dry-run", "check and simulate; send nothing")
    .option("--price <decimal>", "fixed price for the warnings instead of the RAI feed")
    .option("--cr-threshold <decimal>", "the liquidators' price shading for the warnings, in [0, 1) (default 0.02)")
    .option("--rate-setter <address>", "RAI RateSetter for the feed (else contracts.RateSetter)")
    .option("--subgraph-url <url>", "Reflexer subgraph for the feed (env KEEPCTL_SUBGRAPH_URL; visible in ps: prefer --subgraph-url-file)")
    .option("--subgraph-url-file <file>", "file holding the subgraph URL (env KEEPCTL_SUBGRAPH_URL_FILE)")
    .addOption(new Option("--source <source>", "where the feed reads rates (default auto)").choices(["auto", "subgraph", "events"]));
}

const EXIT_HELP = "\nExit codes: 0 done (also nothing to do, or done by an earlier run), 2 bad flag or no --yes off a terminal,\n3 missing setting or key, no EMP at --emp, 4 RPC unreachable, 5 the contract would revert (said in words\nbefore anything is sent) or reverted, 6 not enough collateral, synthetic tokens or ETH, 7 no expiry price yet\n(settle), 8 another sender uses the key, 9 sent but not mined yet. See docs/exit-codes.md.";

export function register(program: Command): void {
  const sponsor = program.command("emp-sponsor").description("manage a UMA EMP position: create, deposit, withdraw, redeem, repay, settle after expiry");
  const simple = (name: string, description: string, args: string[], toRequest: (a: string[], o: Record<string, unknown>) => SponsorRequest, more?: (c: Command) => Command) => {
    let c = actionOptions(sponsor.command(name).description(description));
    for (const a of args) c = c.argument(a.startsWith("[") ? a : `<${a}>`);
    if (more) c = more(c);
    c.addHelpText("after", EXIT_HELP).action(async (...all: unknown[]) => {
      const cmd = all[all.length - 1] as Command;
      const positional = all.slice(0, args.length) as string[];
      // Parsed before anything else: a bad amount sends nothing and touches no key.
      const req = toRequest(positional, globalsOf(cmd));
      await runAction(cmd, name, req);
    });
  };
  simple("create", "mint TOKENS synthetic tokens against COLLATERAL more collateral (opens a position or adds to one)", ["collateral", "tokens"],
    ([c, t]) => ({ action: "create", collateral: amount("collateral", c), tokens: amount("tokens", t) }));
  simple("deposit", "add COLLATERAL to the position", ["collateral"], ([c]) => ({ action: "deposit", collateral: amount("collateral", c) }));
  simple("withdraw", "take COLLATERAL out at once (above the GCR), or start a request with --request, or carry a passed one out with --passed", ["[collateral]"],
    ([c], o) => {
      if (o.passed) {
        if (c !== undefined || o.request) throw new UsageError("--passed takes no amount and no --request: it withdraws the amount of the passed request");
        return { action: "withdraw-passed" };
      }
      if (c === undefined) throw new UsageError("withdraw needs an amount of collateral (or --passed)");
      return { action: o.request ? "request-withdrawal" : "withdraw", collateral: amount("collateral", c) };
    },
    (c) => c.option("--request", "start a withdrawal request (passes after the EMP's withdrawal liveness; no GCR check)").option("--passed", "withdraw a request whose liveness has passed"));
  simple("cancel-withdrawal", "cancel the pending withdrawal request", [], () => ({ action: "cancel-withdrawal" }));
  simple("redeem", "burn TOKENS (or \"all\") for their share of the collateral", ["tokens"],
    ([t]) => ({ action: "redeem", tokens: t === "all" ? "all" : amount("tokens", t) }));
  simple("repay", "burn TOKENS to lower the debt, returning no collateral (raises the ratio)", ["tokens"], ([t]) => ({ action: "repay", tokens: amount("tokens", t) }));

  actionOptions(sponsor.command("settle").description("after expiry: expire() when needed, wait for the Optimistic Oracle's price, then settleExpired() (says what it will pay first)"))
    .option("--wait <seconds>", "wait this long for the expiry price (default 0: do not wait)", parseIntOption("--wait", 0, 86_400 * 7))
    .addHelpText("after", EXIT_HELP)
    .action(async (_o: unknown, cmd: Command) => runFlow(cmd, "settle"));
  actionOptions(sponsor.command("withdraw-liquidation").description("collect what a liquidation of the position pays the sponsor (a dispute that succeeded)"))
    .option("--id <n>", "only this liquidation id", parseIntOption("--id", 0))
    .addHelpText("after", EXIT_HELP)
    .action(async (_o: unknown, cmd: Command) => runFlow(cmd, "withdraw-liquidation"));
}

interface Opened {
  out: Output;
  session: SponsorSession;
  dryRun: boolean;
  yes: boolean;
  log: (ev: KeepctlEvent) => void;
}

async function open(cmd: Command, name: string): Promise<Opened> {
  const g = globalsOf(cmd);
  const out = outputOf(cmd);
  requireYesOffTerminal(`emp-sponsor ${name}`, g);
  const cfg = loadCommandConfig(g, out, { writesDataDir: true });
  checkKeyFilePerms(cfg.signing, (m) => out.warn(m));
  const audit = AuditLog.open(cfg.dataDir);
  const human = eventWriter(out, { stream: "stderr", ndjson: false });
  const log = (ev: KeepctlEvent) => {
    const tx = ev as Parameters<typeof auditTransaction>[1];
    // Keys are `${emp}:${sponsor}:${action}:${amounts}`; approvals and withdrawals end in their action.
    const parts = tx.key?.split(":") ?? [];
    const last = parts[parts.length - 1];
    auditTransaction(audit, { ...tx, action: last === "approve" || last === "sponsor-withdraw" ? last : parts[2] }, { command: `emp-sponsor ${name}` });
    human(ev);
  };
  const session = await openSponsorSession(cfg, {
    key: "sign", dryRun: !!g.dryRun, interactive: onTerminal(), price: "optional", source: g.source as SourceChoice | undefined,
    signal: shutdown.signal, onEvent: (ev) => log(ev as KeepctlEvent), onWarning: (m) => out.warn(m),
  });
  try {
    for (const w of (await session.preflight()).warnings) out.warn(w);
  } catch (e) {
    session.close();
    throw e;
  }
  return { out, session, dryRun: !!g.dryRun, yes: !!g.yes, log };
}

async function runAction(cmd: Command, name: string, req: SponsorRequest): Promise<void> {
  const { out, session, dryRun, yes } = await open(cmd, name);
  try {
    const r = await sponsorActionFlow(session, req, {
      confirm: yes ? async () => true : (m) => confirmOnTerminal(m),
      onPlan: (plan, price) => showPlan(out, plan, price),
    });
    report(out, { action: req.action, key: r.key, sponsor: session.sponsor, dryRun, plan: r.plan }, r.outcome);
  } finally {
    session.close();
  }
}

function showPlan(out: Output, plan: SponsorPlan, price: bigint | null): void {
  if (out.json) return;
  out.info(`${plan.label}`);
  for (const a of plan.approvals) out.info(`  first approves exactly ${fx(a.amount)} ${a.token} to the EMP`);
  const r = plan.after.ratio;
  out.info(`  afterwards: ${fx(plan.after.collateral)} collateral${plan.after.netCollateral !== plan.after.collateral ? ` (${fx(plan.after.netCollateral)} net of the pending withdrawal)` : ""}, ${fx(plan.after.tokens)} tokens${r === null ? "" : `, ratio ${fx(r)} at price ${fx(price!)}`}`);
  for (const w of plan.warnings) out.warn(w);
}

type Reported = SponsorOutcome | { status: "cancelled" };

function report(out: Output, ctx: { action: string; key: string; sponsor: string; dryRun: boolean; plan?: SponsorPlan }, o: Reported): void {
  if (o.status === "pending") runState.exitCode = ExitCode.TX_PENDING;
  if (out.json) {
    out.document({
      action: ctx.action, sponsor: ctx.sponsor, key: ctx.key, dryRun: ctx.dryRun, status: o.status,
      ...(ctx.plan ? { plan: { label: ctx.plan.label, approvals: ctx.plan.approvals, moves: ctx.plan.moves, after: ctx.plan.after, warnings: ctx.plan.warnings } } : {}),
      ...(o.status === "mined" ? { hash: o.hash, blockNumber: o.blockNumber, gasUsed: o.gasUsed, events: o.events } : {}),
      ...(o.status === "dry-run" ? { simulated: o.simulated, gasLimit: o.gasLimit ?? null, worstCaseFeeWei: o.worstCaseFeeWei ?? null } : {}),
      ...(o.status === "done-earlier" ? { hash: o.hash ?? null } : {}),
      ...(o.status === "pending" ? { hashes: o.hashes } : {}),
    });
    if (o.status === "pending") out.error(new TxPendingError("sent, not mined yet", o.hashes, 0).message, "run the same command again later: the journal settles it, never signing a second one");
    return;
  }
  switch (o.status) {
    case "mined":
      out.line(`${ctx.action}: mined in block ${o.blockNumber} ${o.hash}`);
      for (const e of o.events) {
        const args = Object.entries(e.args).filter(([k]) => k !== "sponsor" && k !== "caller").map(([k, v]) => `${k}=${typeof v === "bigint" ? fx(v) : String(v)}`);
        out.line(`  ${[e.name, ...args].join(" ")}`);
      }
      return;
    case "dry-run":
      return out.info(o.simulated ? `dry run: simulated ok (gas limit ${o.gasLimit}); nothing was sent` : "dry run: the approval comes first, so the call itself was not simulated; nothing was sent");
    case "done-earlier":
      return out.info(`${ctx.action}: an earlier run's transaction for this was in flight and is now mined${o.hash ? ` (${o.hash})` : ""}; nothing more sent`);
    case "pending":
      return out.warn(`${ctx.action}: sent, not mined yet (${o.hashes.join(", ")}); run the same command again later: the journal settles it, never signing a second one`);
    case "cancelled":
      return out.info("cancelled: nothing was sent");
  }
}

async function runFlow(cmd: Command, name: "settle" | "withdraw-liquidation"): Promise<void> {
  const g = globalsOf(cmd);
  const { out, session, dryRun, yes } = await open(cmd, name);
  try {
    const io: FlowIo = {
      info: (m) => { if (!out.json) out.info(m); },
      warn: (m) => out.warn(m),
      confirm: dryRun || yes ? async () => true : (m) => confirmOnTerminal(m),
      signal: shutdown.signal,
    };
    const result = name === "settle"
      ? await settleFlow(session, io, { dryRun, waitSec: (g.wait as number | undefined) ?? 0 })
      : await withdrawLiquidationsFlow(session, io, { dryRun, id: g.id === undefined ? undefined : BigInt(g.id as number) });
    if (result.pending) runState.exitCode = ExitCode.TX_PENDING;
    if (out.json) out.document({ action: name, sponsor: session.sponsor, dryRun, ...result.json });
    else for (const l of result.lines) out.line(l);
  } finally {
    session.close();
  }
}
