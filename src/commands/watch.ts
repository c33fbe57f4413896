import type { Command } from "commander";
import { formatUnits, parseEther } from "ethers";
import { requireOperators } from "../lib/config";
import { checkKeyFilePerms } from "../lib/chain/wallet";
import { ExitCode, KeepctlError, shortMessageOf } from "../lib/errors";
import type { Output } from "../lib/output";
import { AuditLog } from "../lib/audit";
import { AlertHub, createNotifiers } from "../lib/alert";
import type { Alert } from "../lib/alert/types";
import type { RedeemEvent } from "../lib/tbtc/redeemer";
import { hasSigningKey, openRedeemSession, payoutScriptOf, tbtcContractsOf, type RedeemSession } from "../lib/tbtc/redeem-session";
import { connectFromConfig } from "../lib/tbtc/report";
import { runWatch, unfinishedExitCode, type WatchEvent } from "../lib/watch";
import { addSigningOptions, collect, globalsOf, loadCommandConfig, outputOf, runState, shutdown } from "./common";

export function register(program: Command): void {
  addSigningOptions(program.command("watch"))
    .description("loop: check the operators' deposits, courtesy-call, redeem by policy, submit signatures, alert, heartbeat")
    .option("--operator <address>", "operator address; repeat or comma-separate (env KEEPCTL_OPERATORS)", collect)
    .option("--interval <seconds>", "seconds between loops (env KEEPCTL_INTERVAL; default 60)")
    .option("--on-block", "also start a loop as soon as a new block arrives")
    .option("--once", "run one loop and exit (for cron)")
    .option("--threshold <pct>", "alert below this collateralization % (env KEEPCTL_WARN_THRESHOLD; default 130)")
    .option("--redeem-below <pct>", "redeem deposits below this collateralization % (env KEEPCTL_REDEEM_BELOW; default 130)")
    .option("--notify-courtesy", "call notifyCourtesyCall on ACTIVE deposits below the courtesy-call threshold")
    .option("--no-redeem", "never redeem; alert only")
    .option("--btc-address <address>", "BTC address redemptions pay to (env KEEPCTL_BTC_ADDRESS)")
    .option("--fee-sats <sats>", "BTC fee left to the redemption tx (env KEEPCTL_REDEMPTION_FEE_SATS)")
    .option("--heartbeat-url <url>", "URL pinged after every loop that succeeded (env KEEPCTL_HEARTBEAT_URL; visible in ps: prefer --heartbeat-url-file)")
    .option("--heartbeat-url-file <file>", "file holding the heartbeat URL (env KEEPCTL_HEARTBEAT_URL_FILE)")
    .option("--max-failed-passes <n>", "exit 11 after this many failed loops in a row, after a critical alert; 0 = never (env KEEPCTL_MAX_FAILED_PASSES; default 5)")
    .option("--dry-run", "decide and report, send nothing")
    .action(async (_opts, cmd: Command) => {
      const g = globalsOf(cmd);
      const out = outputOf(cmd);
      const cfg = loadCommandConfig(g, out, { writesDataDir: true });
      const operators = requireOperators(cfg);
      const redeem = g.redeem !== false;
      const script = redeem ? payoutScriptOf(cfg, false) : undefined;
      const emit = (ev: WatchEvent) => render(out, ev);
      // The log notifier makes every alert "delivered" even with no channel configured, so the
      // hub's de-duplication also keeps the log quiet (alert events are rendered below).
      const hub = new AlertHub([
        { name: "log", send: async () => undefined },
        ...createNotifiers({
          console: false,
          slackWebhookUrl: cfg.alerts.slackWebhookUrl,
          discordWebhookUrl: cfg.alerts.discordWebhookUrl,
          telegramBotToken: cfg.alerts.telegramBotToken,
          telegramChatId: cfg.alerts.telegramChatId,
          webhookUrl: cfg.alerts.webhookUrl,
        }),
      ]);
      const provider = await connectFromConfig(cfg, { onWarning: (m) => out.warn(m) });
      let session: RedeemSession | undefined;
      try {
        if (hasSigningKey(cfg)) {
          checkKeyFilePerms(cfg.signing, (m) => out.warn(m));
          const interactive = !!process.stdin.isTTY && !!process.stderr.isTTY;
          const onEvent = (ev: RedeemEvent) => {
            renderTx(out, ev);
            // "sent" is worth a message of its own: mining can take a while on a busy chain.
            if (ev.type === "sent" && ev.action === "redeem") {
              void hub.notify({ key: `redeem-sent:${ev.deposit}`, level: "info", title: "redemption sent", text: `redemption of ${ev.deposit} sent (nonce ${ev.nonce}, tx ${ev.hash})` }).catch(() => undefined);
            }
          };
          // Engine alerts (fee cap, another keepctl holding the account's lock) reach the operator's channels too.
          const alert = async (a: Alert) => void (await hub.notify(a));
          session = await openRedeemSession(cfg, { interactive, dryRun: !!g.dryRun, provider, onEvent, alert });
        } else {
          emit({ type: "notice", text: "no signing key configured: watching and alerting only (no courtesy calls, redemptions or signatures)" });
        }
        if (session && redeem && !script) emit({ type: "notice", text: "no BTC address configured: redemptions disabled (set --btc-address or KEEPCTL_BTC_ADDRESS)" });
        const res = await runWatch({
          cfg,
          provider,
          contracts: tbtcContractsOf(cfg),
          operators,
          sender: session?.sender,
          script: script?.redeemerOutputScript,
          hub,
          audit: AuditLog.open(cfg.dataDir),
          policy: {
            warnBelowPct: cfg.tbtc.warnThreshold,
            redeemBelowPct: cfg.tbtc.redeemBelow,
            notifyCourtesy: !!g.notifyCourtesy,
            feeSats: BigInt(cfg.tbtc.feeSats),
            minEthWei: parseEther(cfg.watch.minEthBalance),
            maxBlockAgeSec: cfg.watch.maxBlockAgeSec,
          },
          emit,
          signal: shutdown.signal,
          intervalSec: cfg.watch.interval,
          once: !!g.once,
          onBlock: !!g.onBlock,
          heartbeatUrl: cfg.alerts.heartbeatUrl,
          maxFailedLoops: cfg.watch.maxFailedPasses,
          dryRun: !!g.dryRun,
        });
        // --once is for cron: a failed loop must show in the exit code (its own; RPC if unknown).
        // Another sender on the key ends the loop (runWatch breaks on it): exit 8 in every mode, so
        // a supervisor sees the stop and does not take it for a clean shutdown.
        const conflict = res.lastError instanceof KeepctlError && res.lastError.exitCode === ExitCode.ACCOUNT_CONFLICT;
        if ((g.once && res.failures > 0) || conflict) {
          runState.exitCode = res.lastError instanceof KeepctlError ? res.lastError.exitCode : ExitCode.RPC;
          // The log above is stdout (a daemon's log); the failure also ends on stderr like every
          // command's, `error:` and its hint, so cron mail and `2>` capture what went wrong.
          if (!out.json) out.error(res.lastError instanceof KeepctlError ? res.lastError.message : shortMessageOf(res.lastError), res.lastError instanceof KeepctlError ? res.lastError.hint : undefined);
        }
        else if (g.once) runState.exitCode = unfinishedExitCode(res.last) ?? runState.exitCode;
      } finally {
        session?.close();
        provider.destroy();
      }
    });
}

function stamp(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, "Z");
}

/** NDJSON with --json; otherwise one human log line per event on stdout (a daemon's log). */
function render(out: Output, ev: WatchEvent): void {
  if (out.json) return out.event({ at: new Date().toISOString(), ...ev });
  const line = (text: string) => out.line(`${stamp()} ${text}`);
  switch (ev.type) {
    case "deposit":
      return;
    case "heartbeat":
      return line(`heartbeat loop=${ev.loop} ok=${ev.ok} block=${ev.block ?? "-"} deposits=${ev.deposits ?? "-"} at-risk=${ev.atRisk ?? "-"} ${ev.ms}ms${ev.ping ? ` ping=${ev.ping}` : ""}`);
    case "alert":
      return line(`ALERT [${String(ev.level).toUpperCase()}] ${ev.title}: ${ev.text}`);
    case "alert-resolved":
      return line(`resolved ${ev.key}`);
    case "redemption":
      return line(`redemption ${ev.deposit}: ${ev.status}${ev.hash ? ` ${ev.hash}` : ""}${ev.reason ? ` (${ev.reason})` : ""}`);
    case "redemption-progress":
      if (ev.action === "nothing") return;
      return line(`redemption ${ev.deposit}: ${ev.action}${ev.hash ? ` ${ev.hash}` : ""}${ev.error ? ` (${ev.error})` : ""}`);
    case "courtesy-call":
      return line(`courtesy call sent for ${ev.deposit} ${ev.hash}`);
    case "loop-error":
      return line(`loop ${ev.loop} failed: ${ev.error}`);
    case "redeem-planned":
      return line(`redeem ${ev.deposit} via ${ev.path} for ${formatUnits(ev.costTbtc as bigint, 18)} TBTC (collateralization ${Number(ev.collateralPct).toFixed(2)}%)`);
    case "redeem-skipped":
      return line(`cannot redeem ${ev.deposit}: ${ev.reason}`);
    case "tx-sent":
    case "tx-replaced":
      return line(`${ev.type === "tx-sent" ? "sent" : "replaced"} ${ev.label} nonce=${ev.nonce} ${ev.hash}`);
    case "tx-mined":
      return line(`mined ${ev.label} block=${ev.blockNumber} status=${ev.status} ${ev.hash}`);
    default: {
      const { type, ...rest } = ev;
      return line(`${type} ${Object.entries(rest).map(([k, v]) => `${k}=${typeof v === "bigint" ? v.toString() : typeof v === "object" ? JSON.stringify(v) : String(v)}`).join(" ")}`);
    }
  }
}

function renderTx(out: Output, ev: RedeemEvent): void {
  if (ev.type === "warning") return render(out, { type: "warning", deposit: ev.deposit, text: ev.message });
  if (ev.type === "recovered") return render(out, { type: "journal-recovered", deposit: ev.deposit, key: ev.key, status: ev.status });
  if (ev.type === "sent" || ev.type === "mined" || ev.type === "replaced" || ev.type === "fee-cap-reached" || ev.type === "failed") {
    const { type, ...rest } = ev;
    render(out, { type: `tx-${type}`, ...rest });
  }
}
