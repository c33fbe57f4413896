import type { Command } from "commander";
import { formatEther, parseEther } from "ethers";
import { requireOperators } from "../lib/config";
import { checkKeyFilePerms } from "../lib/chain/wallet";
import { ConfigError, ExitCode, KeepctlError, shortMessageOf } from "../lib/errors";
import { mintDepsOf, openMintWallet, type MintWalletHandle } from "../lib/tbtc/mint/mint-session";
import type { Replenisher } from "../lib/tbtc/mint/replenish";
import { AuditLog, auditTransaction } from "../lib/audit";
import { AlertHub, createNotifiers } from "../lib/alert";
import type { Alert } from "../lib/alert/types";
import type { RedeemEvent } from "../lib/tbtc/redeem/redeemer";
import { hasSigningKey, openRedeemSession, payoutScriptOf, tbtcContractsOf, type RedeemSession } from "../lib/tbtc/redeem/redeem-session";
import { connectFromConfig } from "../lib/tbtc/read/report";
import { runWatch, unfinishedExitCode } from "../lib/tbtc/watch/watch-loop";
import { eventWriter, type WatchEvent } from "../lib/events";
import { readTbtc } from "../lib/tbtc/redeem/redeem-facts";
import { openBuyDeps } from "../lib/tbtc/buy/buy-session";
import type { BuyDeps } from "../lib/tbtc/buy/buyer";
import { openRedemptionBitcoin, type RedemptionBitcoinHandle } from "../lib/tbtc/redeem/bitcoin";
import { followPolicyOf } from "../lib/tbtc/redeem/follow-policy";
import { addBitcoinOptions, addBuyShortfallOptions, addMetricsOptions, addOperatorOption, addRedemptionFollowOptions, addSigningOptions, globalsOf, loadCommandConfig, outputOf, runState, shutdown, startLoopMetrics } from "./common";

export function register(program: Command): void {
  addBuyShortfallOptions(addBitcoinOptions(addRedemptionFollowOptions(addMetricsOptions(addOperatorOption(addSigningOptions(program.command("watch")))))))
    .description("loop: check the operators' deposits, courtesy-call, redeem by policy, finish redemptions on Bitcoin, alert, heartbeat")
    .option("--interval <seconds>", "seconds between loops (env KEEPCTL_INTERVAL; default 60)")
    .option("--on-block", "also start a loop as soon as a new block arrives")
    .option("--once", "run one loop and exit (for cron)")
    .option("--threshold <pct>", "alert below this collateralization % (env KEEPCTL_WARN_THRESHOLD; default 130)")
    .option("--redeem-below <pct>", "redeem deposits below this collateralization % (env KEEPCTL_REDEEM_BELOW; default 130)")
    .option("--notify-courtesy", "call notifyCourtesyCall on ACTIVE deposits below the courtesy-call threshold")
    .option("--no-redeem", "never redeem; alert only")
    .option("--no-preapprove", "do not approve a deposit's exact redemption requirement while it is between --threshold and --redeem-below (env KEEPCTL_PREAPPROVE=false)")
    .option("--btc-address <address>", "BTC address redemptions pay to (env KEEPCTL_BTC_ADDRESS)")
    .option("--fee-sats <sats>", "BTC fee left to the redemption tx (env KEEPCTL_REDEMPTION_FEE_SATS)")
    .option("--heartbeat-url <url>", "URL pinged after every loop that succeeded (env KEEPCTL_HEARTBEAT_URL; visible in ps: prefer --heartbeat-url-file)")
    .option("--heartbeat-url-file <file>", "file holding the heartbeat URL (env KEEPCTL_HEARTBEAT_URL_FILE)")
    .option("--max-failed-passes <n>", "exit 11 after this many failed loops in a row, after a critical alert; 0 = never (env KEEPCTL_MAX_FAILED_PASSES; default 5)")
    .option("--replenish-to <tbtc>", "mint TBTC lots from the hot Bitcoin wallet while the balance is below this (env KEEPCTL_REPLENISH_TO; off by default; docs/mint.md)")
    .option("--btc-keystore <file>", "the hot Bitcoin wallet --replenish-to funds deposits from (env KEEPCTL_BTC_KEYSTORE)")
    .option("--btc-password-file <file>", "file holding the Bitcoin keystore password (env KEEPCTL_BTC_PASSWORD_FILE)")
    .option("--dry-run", "decide and report, send nothing")
    .action(async (_opts, cmd: Command) => {
      const g = globalsOf(cmd);
      const out = outputOf(cmd);
      // A loop's log: every human line carries its ISO time and level (journald, files, grep).
      out.stampLines();
      const cfg = loadCommandConfig(g, out, { writesDataDir: true });
      const operators = requireOperators(cfg);
      // Refused before anything runs: minting sends transactions.
      if (cfg.watch.replenishTo !== undefined && !g.dryRun && !hasSigningKey(cfg)) throw new ConfigError("--replenish-to needs a signing key: minting sends transactions", { hint: "configure --keystore or KEEPCTL_PRIVATE_KEY" });
      const redeem = g.redeem !== false;
      const script = redeem ? await payoutScriptOf(cfg, false, (m) => out.info(m)) : undefined;
      // A daemon's log: stamped lines on stdout, or NDJSON with --json (the one event renderer).
      const write: (ev: WatchEvent) => void = eventWriter(out, { stream: "stdout" });
      const exporter = await startLoopMetrics(g, "watch", { intervalSec: cfg.watch.interval, warnBelowPct: cfg.tbtc.warnThreshold, out });
      let refreshBalances: (() => Promise<void>) | undefined;
      const emit = (ev: WatchEvent): void => {
        exporter?.metrics.observe(ev);
        // Balances after each good pass: what the pass left, read once, not at every scrape.
        if (ev.type === "heartbeat" && ev.ok) void refreshBalances?.().catch(() => undefined);
        write(ev);
      };
      // The log notifier makes every alert "delivered" even with no channel configured, so the
      // hub's de-duplication also keeps the log quiet (alert events are rendered below).
      const hub = new AlertHub([
        { name: "log", send: async () => undefined },
        ...createNotifiers({ ...cfg.alerts, console: false }),
      ]);
      const audit = AuditLog.open(cfg.dataDir);
      let provider;
      try {
        provider = await connectFromConfig(cfg, { onWarning: (m) => out.warn(m) });
      } catch (e) {
        await exporter?.close();
        throw e;
      }
      exporter?.metrics.watchPool(provider.pool);
      let session: RedeemSession | undefined;
      let bitcoin: RedemptionBitcoinHandle | undefined;
      let mintWallet: MintWalletHandle | undefined;
      // A shared state store (--state-url): wait as the standby, and stop at once when the lease is lost.
      const fence = new AbortController();
      let leaseLost: KeepctlError | undefined;
      const lease = cfg.signing.stateUrl
        ? {
            wait: true,
            maxRpcMs: cfg.rpc.timeoutMs,
            signal: shutdown.signal,
            onStandby: (row?: { host: string; pid: number; epoch: number; expiresAt: Date }) => {
              exporter?.metrics.setLease("standby");
              emit({ type: "notice", text: `standby: another keepctl holds the account's lease${row ? ` (pid ${row.pid} on ${row.host}, epoch ${row.epoch}, until ${row.expiresAt.toISOString()} by the database's clock)` : ""}; waiting to take over when it expires` });
            },
            onHeld: (epoch: number) => {
              exporter?.metrics.setLease("held");
              emit({ type: "notice", text: `holding the account's lease (epoch ${epoch}): settling the shared journal, then watching` });
            },
            onLost: (e: KeepctlError) => {
              leaseLost = e;
              emit({ type: "warning", message: `${e.message}; stopping (exit ${e.exitCode})` });
              exporter?.metrics.setLease("standby");
              fence.abort();
            },
            onRenewError: (e: unknown) => emit({ type: "notice", text: `lease renewal failed (retrying every refresh; no signing once the lease is not confirmed): ${shortMessageOf(e)}` }),
          }
        : undefined;
      try {
        bitcoin = await openRedemptionBitcoin(cfg, { onWarning: (m) => out.warn(m) });
        if (!bitcoin) emit({ type: "notice", text: "no Bitcoin server configured: redemptions cannot be broadcast or proven (set --btc-electrum-url or --btc-esplora-url)" });
        if (hasSigningKey(cfg)) {
          checkKeyFilePerms(cfg.signing, (m) => out.warn(m));
          const interactive = !!process.stdin.isTTY && !!process.stderr.isTTY;
          const onEvent = (ev: RedeemEvent) => {
            emit(ev);
            // The pipeline audits redemptions; the approvals before them only show here.
            if ("action" in ev && ev.action === "approve") auditTransaction(audit, ev);
            // A pre-approval's action names its amount and set (its journal key keeps them): one audit action.
            if ("action" in ev && ev.action?.startsWith("preapprove:")) auditTransaction(audit, { ...ev, action: "preapprove" });
            // "sent" is worth a message of its own: mining can take a while on a busy chain.
            if (ev.type === "sent" && ev.action === "redeem") {
              void hub.notify({ key: `redeem-sent:${ev.deposit}`, level: "info", title: "redemption sent", text: `redemption of ${ev.deposit} sent (nonce ${ev.nonce}, tx ${ev.hash})` }).catch(() => undefined);
            }
          };
          // Engine alerts (fee cap, another keepctl holding the account's lock) reach the operator's channels too.
          const alert = async (a: Alert) => void (await hub.notify(a));
          session = await openRedeemSession(cfg, { interactive, dryRun: !!g.dryRun, provider, onEvent, alert, lease });
        } else {
          emit({ type: "notice", text: "no signing key configured: watching and alerting only (no courtesy calls, redemptions or signatures)" });
        }
        if (session && exporter) {
          const { journal, wallet, fresh, contracts } = session;
          exporter.metrics.watchPool(fresh.pool);
          exporter.metrics.watchJournal(() => journal.resume(wallet.address).length);
          refreshBalances = async () => {
            const [eth, tbtc] = await Promise.all([fresh.getBalance(wallet.address), readTbtc(fresh, contracts.token, wallet.address)]);
            exporter.metrics.setBalance("ETH", Number(formatEther(eth)));
            exporter.metrics.setBalance("TBTC", Number(formatEther(tbtc.balance)));
          };
        }
        if (session && redeem && !script) emit({ type: "notice", text: "no BTC address configured: redemptions disabled (set --btc-address or KEEPCTL_BTC_ADDRESS)" });
        // --buy-shortfall: the pool behind contracts.UniswapV2Router02 is checked once, before the first loop.
        let buy: BuyDeps | undefined;
        if (cfg.tbtc.buyShortfall) {
          if (session && script) buy = await openBuyDeps(cfg, session.fresh, session.sender, { audit });
          else emit({ type: "notice", text: "--buy-shortfall needs a signing key and a BTC address: not buying" });
        }
        // --replenish-to: the hot wallet and its servers are opened (and unlocked) before the first loop.
        let replenish: Replenisher | undefined;
        if (cfg.watch.replenishTo !== undefined && !g.dryRun && session) {
          mintWallet = await openMintWallet(cfg, { interactive: !!process.stdin.isTTY && !!process.stderr.isTTY, warn: (m) => out.warn(m), what: "watch --replenish-to" });
          replenish = { targetTbtc: parseEther(cfg.watch.replenishTo), deps: mintDepsOf(cfg, session, mintWallet, (text) => emit({ type: "notice", text: `replenish: ${text}` })) };
        }
        const res = await runWatch({
          cfg,
          provider,
          contracts: tbtcContractsOf(cfg),
          operators,
          sender: session?.sender,
          script: script?.redeemerOutputScript,
          bitcoin: bitcoin?.client,
          follow: followPolicyOf(cfg),
          hub,
          audit,
          policy: {
            warnBelowPct: cfg.tbtc.warnThreshold,
            redeemBelowPct: cfg.tbtc.redeemBelow,
            notifyCourtesy: !!g.notifyCourtesy,
            feeSats: BigInt(cfg.tbtc.feeSats),
            minEthWei: parseEther(cfg.watch.minEthBalance),
            maxBlockAgeSec: cfg.watch.maxBlockAgeSec,
          },
          emit,
          signal: lease ? AbortSignal.any([shutdown.signal, fence.signal]) : shutdown.signal,
          intervalSec: cfg.watch.interval,
          once: !!g.once,
          onBlock: !!g.onBlock,
          heartbeatUrl: cfg.alerts.heartbeatUrl,
          maxFailedLoops: cfg.watch.maxFailedPasses,
          dryRun: !!g.dryRun,
          buy,
          replenish,
          preapprove: g.preapprove !== false && cfg.tbtc.preapprove,
        });
        // --once is for cron: a failed loop must show in the exit code (its own; RPC if unknown).
        // A fatal error (another sender on the key: 8, a config error: 3) ends the loop in every
        // mode, so a supervisor sees the stop and does not take it for a clean shutdown.
        const failed = leaseLost ?? res.fatal ?? (g.once && res.failures > 0 ? res.lastError : undefined);
        if (failed !== undefined) {
          runState.exitCode = failed instanceof KeepctlError ? failed.exitCode : ExitCode.RPC;
          // The log above is stdout (a daemon's log); the failure also ends on stderr like every
          // command's, `error:` and its hint, so cron mail and `2>` capture what went wrong.
          if (!out.json) out.error(failed instanceof KeepctlError ? failed.message : shortMessageOf(failed), failed instanceof KeepctlError ? failed.hint : undefined);
        }        else if (g.once) runState.exitCode = unfinishedExitCode(res.last) ?? runState.exitCode;
      } finally {
        session?.close();
        await mintWallet?.close();
        await session?.closeState();
        await bitcoin?.close();
        provider.destroy();
        await exporter?.close();
      }
    });
}
