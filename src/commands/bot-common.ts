import { Command, Option } from "commander";
import type { Output } from "../lib/output";
import type { SourceChoice } from "../lib/rai/feed";
import { runBotLoop } from "../lib/uma/bot-loop";
import type { BotEvent } from "../lib/uma/bot-sender";
import { openBotSession, type BotName, type BotSession } from "../lib/uma/bot-session";
import { eventLine, stampLine } from "../lib/events";
import { FP_DECIMALS } from "../lib/uma/fixed-point";
import type { LoopMetrics } from "../lib/metrics";
import { AuditLog, auditTransaction } from "../lib/audit";
import { checkKeyFilePerms } from "../lib/chain/wallet";
import { formatEther } from "ethers";
import { KeepctlError, shortMessageOf } from "../lib/errors";
import type { LeaseHooks } from "../lib/chain/session";
import { addMetricsOptions, addSigningOptions, globalsOf, loadCommandConfig, outputOf, parseIntOption, shutdown, startLoopMetrics } from "./common";

/*
 * What the two EMP bots (emp-liquidate, emp-dispute) share: their options, the run (config ->
 * session -> loop) and the rendering of the events both emit. Each bot's own pass summary is
 * rendered by its command.
 */

/** Options both EMP bots take (the disputer adds its own). */
export function addBotOptions(cmd: Command): Command {
  return addMetricsOptions(addSigningOptions(cmd))
    .option("--emp <address>", "ExpiringMultiParty address (env KEEPCTL_EMP_ADDRESS; else contracts.ExpiringMultiParty)")
    .option("--price <decimal>", "fixed price instead of the RAI feed (decimal, up to 18 places)")
    .option("--cr-threshold <decimal>", "price shading, in [0, 1) (default 0.02)")
    .option("--interval <seconds>", "seconds between passes; 0 = one pass (default 60)", parseIntOption("--interval", 0, 86_400))
    .option("--once", "one pass, then exit")
    .option("--dry-run", "decide and simulate, send nothing")
    .option("--retries <n>", "retries of a failed pass, with backoff (default 3)")
    .option("--rate-setter <address>", "RAI RateSetter for the feed (else contracts.RateSetter)")
    .option("--subgraph-url <url>", "Reflexer subgraph for the feed (env KEEPCTL_SUBGRAPH_URL; visible in ps: prefer --subgraph-url-file)")
    .option("--subgraph-url-file <file>", "file holding the subgraph URL (env KEEPCTL_SUBGRAPH_URL_FILE)")
    .addOption(new Option("--source <source>", "where the feed reads rates (default auto)").choices(["auto", "subgraph", "events"]))
    .option("--heartbeat-url <url>", "URL pinged after every pass that succeeded (env KEEPCTL_HEARTBEAT_URL; visible in ps: prefer --heartbeat-url-file)")
    .option("--heartbeat-url-file <file>", "file holding the heartbeat URL (env KEEPCTL_HEARTBEAT_URL_FILE)")
    .option("--max-failed-passes <n>", "exit 11 after this many failed passes in a row, after a critical alert; 0 = never (env KEEPCTL_MAX_FAILED_PASSES; default 5)")
    .addHelpText("after", "\nExit codes: 0 done (also nothing to do, or a race lost to another bot), 2 bad flag, 3 missing\nsetting or no contract at --emp, 4 RPC unreachable, 5 revert, 6 insufficient funds, 8 another sender\nuses the key, 9 a transaction is still pending, 11 gave up after --max-failed-passes failed passes\nin a row, 14 another keepctl took the --state-url lease, 130 interrupted.");
}

/** Loads config, opens the bot and runs its loop; `makePass` builds the bot's pass function. */
export async function runBot<S>(
  cmd: Command,
  bot: BotName,
  makePass: (s: BotSession) => (n: number) => Promise<S>,
  render: (out: Output, summary: S) => void,
): Promise<void> {
  const flags = { ...globalsOf(cmd) };
  const out = outputOf(cmd);
  // A loop's log: every human line carries its ISO time and level (journald, files, grep).
  out.stampLines();
  // --interval 0 means one pass; the shared interval setting starts at 1 s.
  const once = !!flags.once || flags.interval === 0;
  if (flags.interval === 0) delete flags.interval;
  const cfg = loadCommandConfig(flags, out, { writesDataDir: true });
  checkKeyFilePerms(cfg.signing, (m) => out.warn(m));
  const exporter = await startLoopMetrics(flags, bot === "liquidator" ? "emp-liquidate" : bot === "disputer" ? "emp-dispute" : "emp-guard", { intervalSec: cfg.watch.interval, out });
  const metrics = exporter?.metrics;
  // Every transaction a bot ends goes to the audit log, like watch's actions.
  const audit = AuditLog.open(cfg.dataDir);
  const emit = (ev: Omit<BotEvent, "bot">) => {
    metrics?.observe(ev as BotEvent);
    auditTransaction(audit, ev as BotEvent & { type: string }, { bot });
    return out.json ? out.event({ ...ev, bot }) : renderEvent(out, ev);
  };
  // A looping bot on a shared state store (--state-url) waits as the standby, like watch, and
  // stops at once when its lease is lost. A one-shot pass refuses a held lease (exit 8).
  const fence = new AbortController();
  const tell = (ev: BotEvent) => emit(ev);
  let leaseLost: KeepctlError | undefined;
  const lease: LeaseHooks | undefined = cfg.signing.stateUrl && !once
    ? {
        wait: true,
        maxRpcMs: cfg.rpc.timeoutMs,
        signal: shutdown.signal,
        onStandby: (row) => {
          metrics?.setLease("standby");
          tell({ type: "notice", text: `standby: another keepctl holds the account's lease${row ? ` (pid ${row.pid} on ${row.host}, epoch ${row.epoch}, until ${row.expiresAt.toISOString()} by the database's clock)` : ""}; waiting to take over when it expires` });
        },
        onHeld: (epoch) => {
          metrics?.setLease("held");
          tell({ type: "notice", text: `holding the account's lease (epoch ${epoch}): settling the shared journal, then running` });
        },
        onLost: (e) => {
          leaseLost = e;
          tell({ type: "warning", message: `${e.message}; stopping (exit ${e.exitCode})` });
          metrics?.setLease("standby");
          fence.abort();
        },
        onRenewError: (e) => tell({ type: "notice", text: `lease renewal failed (retrying every refresh; no signing once the lease is not confirmed): ${shortMessageOf(e)}` }),
      }
    : undefined;
  const signal = lease ? AbortSignal.any([shutdown.signal, fence.signal]) : shutdown.signal;
  let session: BotSession;
  try {
    session = await openBotSession(cfg, {
      bot, dryRun: !!flags.dryRun, emit, signal, source: flags.source as SourceChoice | undefined,
      interactive: !!process.stdin.isTTY && !!process.stderr.isTTY, onRpcWarning: (m) => out.warn(m), lease,
    });
  } catch (e) {
    await exporter?.close();
    throw e;
  }
  try {
    const pass = makePass(session);
    const { sender } = session.ctx;
    if (metrics) {
      metrics.watchPool(session.provider.pool);
      metrics.watchJournal(() => sender.journal.resume(sender.address).length);
    }
    await runBotLoop(async (n) => {
      if (leaseLost) throw leaseLost;
      const summary = await pass(n);
      if (metrics) await observeSummary(metrics, summary, () => session.provider.getBalance(sender.address));
      if (!out.json) render(out, summary);
      return summary;
    }, {
      intervalSec: cfg.watch.interval, once, retries: cfg.emp.retries,
      signal, emit, heartbeatUrl: cfg.alerts.heartbeatUrl, alert: session.alert,
      maxFailedPasses: cfg.watch.maxFailedPasses,
      onPassEnd: metrics ? (end) => metrics.passEnded(end.ok, end.ms) : undefined,
    }).catch((e: unknown) => {
      // Stopped by the fence: the lost lease is the reason (exit 14), not the interrupt it caused.
      throw leaseLost ?? e;
    });
    if (leaseLost) throw leaseLost;
  } finally {
    session.close();
    await session.closeState();
    await exporter?.close();
  }
}

/** A good pass's gauges: the liquidator's positions and worst ratio, the disputer's liquidations, the ETH left. */
async function observeSummary(metrics: LoopMetrics, s: unknown, eth: () => Promise<bigint>): Promise<void> {
  const sum = s as { positions?: unknown; minCollateralRatio?: number | null; liquidations?: unknown };
  if (typeof sum.positions === "number") metrics.setEmpPositions(sum.positions, sum.minCollateralRatio ?? null);
  if (typeof sum.liquidations === "number") metrics.setEmpLiquidations(sum.liquidations);
  // A balance read that fails must not fail the pass: the gauge keeps its last value.
  await eth().then((wei) => metrics.setBalance("ETH", Number(formatEther(wei))), () => undefined);
}

/**
 * Human mode: one stamped stderr line per event an operator wants to see (routine skips stay
 * quiet), drawn by the one event renderer shared with watch and redeem (src/lib/events.ts).
 */
export function renderEvent(out: Output, ev: Omit<BotEvent, "bot">): void {
  // runBot hands over the BotEvent the bot emitted; Omit<> of a union only widened its type.
  const line = eventLine(ev as BotEvent);
  if (line) out.log(stampLine(line), { stderr: true, warn: !!line.warn });
}
