import type { Command } from "commander";
import { formatEther, formatUnits } from "ethers";
import { parseAddress, requireOperators, type Config } from "../lib/config";
import { checkKeyFilePerms } from "../lib/chain/wallet";
import { echo } from "../lib/redact";
import { ConfigError, ExitCode, UsageError } from "../lib/errors";
import type { Output } from "../lib/output";
import { AuditLog } from "../lib/audit";
import type { Plan } from "../lib/tbtc/redeem/planner";
import { depositsInRedemption, type KnownRisk } from "../lib/tbtc/redeem/redeem-facts";
import type { RedemptionOutcome } from "../lib/tbtc/redeem/redeemer";
import { outcomeExitCode, runRedemptionPipeline, shortfallError, type GasInfo } from "../lib/tbtc/redeem/pipeline";
import { eventWriter } from "../lib/events";
import { openRedeemSession, payoutScriptOf, type RedeemSession } from "../lib/tbtc/redeem/redeem-session";
import { openRedemptionBitcoin } from "../lib/tbtc/redeem/bitcoin";
import { followUntilDone } from "../lib/tbtc/redeem/follow-until";
import { followPolicyOf } from "../lib/tbtc/redeem/follow-policy";
import type { FollowReport } from "../lib/tbtc/redeem/follow";
import { reportJson } from "../lib/tbtc/redeem/redemptions-view";
import { channelAlert } from "../lib/alert";
import { loadTbtcRun, preflightTbtcFromConfig } from "../lib/tbtc/read/report";
import { State } from "../lib/tbtc/abis";
import { openBuyDeps } from "../lib/tbtc/buy/buy-session";
import type { BuyRound } from "../lib/tbtc/buy/buy-round";
import type { SwapOutcome } from "../lib/tbtc/buy/buyer";
import { costPerDeposit, formatBp } from "../lib/tbtc/buy/buy-decide";
import { addBitcoinOptions, addBuyShortfallOptions, addOperatorOption, addRedemptionFollowOptions, addSigningOptions, collect, confirmOnTerminal, globalsOf, loadCommandConfig, onTerminal, outputOf, requireYesOffTerminal, runState, shutdown, splitOption } from "./common";

export function register(program: Command): void {
  addBuyShortfallOptions(addBitcoinOptions(addRedemptionFollowOptions(addOperatorOption(addSigningOptions(program.command("redeem")), "operator whose at-risk deposits to redeem"))))
    .description("redeem at-risk deposits with the wallet's TBTC (shows the plan, confirms, sends)")
    .option("--deposit <address>", "deposit to redeem; repeat or comma-separate (default: at-risk deposits of --operator)", collect)
    .option("--btc-address <address>", "BTC address the redemption pays to (env KEEPCTL_BTC_ADDRESS)")
    .option("--redeem-below <pct>", "redeem deposits below this collateralization % (env KEEPCTL_REDEEM_BELOW; default 130)")
    .option("--fee-sats <sats>", "BTC fee left to the redemption tx (env KEEPCTL_REDEMPTION_FEE_SATS; default 10000)")
    .option("-y, --yes", "do not ask for confirmation (required when not on a terminal)")
    .option("--dry-run", "simulate and show the plan; send nothing")
    .option("--follow", "stay until each redemption requested is proven on Bitcoin: broadcast, prove, raise the fee (needs a Bitcoin server)")
    .addHelpText("after", "\nExit codes: 0 done (also nothing to do, or a deposit redeemed by someone else first), 2 bad flag or\nno --yes off a terminal, 3 missing key/BTC address, 4 RPC (also a redemption deferred by it), 5 revert,\n6 not enough TBTC/ETH (also a TBTC buy refused by its bounds), 8 another sender uses the key, 9 a\ntransaction sent but not mined yet (the next run settles it), 10 with --follow: a followed\nredemption ended without its proof. See docs/exit-codes.md.")
    .action(async (_opts, cmd: Command) => {
      const g = globalsOf(cmd);
      const out = outputOf(cmd);
      const dryRun = !!g.dryRun;
      const interactive = onTerminal();
      // Refuse before touching the chain or the key: nothing can be sent without a yes.
      requireYesOffTerminal("redeem", g);
      const cfg = loadCommandConfig(g, out, { writesDataDir: true });
      const explicit = splitOption("--deposit", (g.deposit as string[] | undefined) ?? []).map((a) => {
        try {
          return parseAddress(a);
        } catch {
          throw new UsageError(`--deposit: invalid address "${echo(a)}"`);
        }
      });
      checkKeyFilePerms(cfg.signing, (m) => out.warn(m));
      // Refused before anything is sent: a redemption that cannot be followed is not started with --follow.
      if (g.follow && !dryRun && !cfg.btc.electrumUrls.length && !cfg.btc.esploraUrls.length) throw noBitcoinServer();
      const script = (await payoutScriptOf(cfg, true, (m) => out.info(m)))!;
      // Engine alerts (fee cap reached, another sender on the key) and the pipeline's (a TBTC
      // shortfall, what was redeemed) go to the configured channels, like the watch loop's.
      const alert = channelAlert(cfg.alerts, (channel, error) => out.warn(`alert via ${channel} failed: ${error}`));
      // Transaction events as stamped stderr lines; --json prints one document, so none there.
      const log = eventWriter(out, { stream: "stderr", ndjson: false });
      const session = await openRedeemSession(cfg, { interactive, dryRun, alert, onEvent: log, onRpcWarning: (m) => out.warn(m) });
      try {
        await preflightTbtcFromConfig(session.provider, cfg, explicit);
        const me = session.wallet.address;
        const audit = AuditLog.open(cfg.dataDir);
        // --buy-shortfall: the pool is resolved (and checked) before anything is read or sent.
        const buy = cfg.tbtc.buyShortfall ? await openBuyDeps(cfg, session.fresh, session.sender, { audit, emit: log }) : undefined;
        const { deposits, known, inFlight } = explicit.length ? await explicitDeposits(session, explicit, !!g.follow) : await operatorDeposits(cfg, session.provider);
        const res = await runRedemptionPipeline(
          { sender: session.sender, contracts: session.contracts, script: script.redeemerOutputScript, audit, dryRun, alert, signal: shutdown.signal, buy },
          {
            deposits, known, estimateGas: true,
            policy: { redeemBelowPct: cfg.tbtc.redeemBelow, feeSats: BigInt(cfg.tbtc.feeSats), ignoreThreshold: explicit.length > 0 },
            onPlan: (plan, gas, round) => { if (!out.json) showPlan(out, plan, gas, me, script.address, round); },
            confirm: g.yes ? undefined : (plan, _gas, round) => confirmOnTerminal(round?.order
              ? `Buy ${tbtcStr(round.order.amountTbtc)} TBTC for at most ${formatEther(round.order.maxEthWei)} ETH and send ${plan.funded.length} redemption(s) from ${me}?`
              : `Send ${plan.funded.length} redemption(s) from ${me}?`),
          },
        );
        const { plan, gas } = res;
        const doc = { account: me, btcAddress: script.address, dryRun, ...planJson(plan, gas), ...(res.buy ? { buy: buyJson(res.buy) } : {}) };
        // --follow also finishes what is already in flight on these deposits (a crashed run's
        // redemption, or anyone's: the operator's bond is at stake whoever requested it).
        if (plan.funded.length === 0 && !dryRun && !res.cancelled && g.follow && inFlight.length) {
          const followed = await followRequested(cfg, session, inFlight, out);
          if (out.json) out.document({ ...doc, results: [], followed: followed.map(reportJson) });
          if (followed.some((r) => r.state !== "REDEEMED")) runState.exitCode = shutdown.signal.aborted ? ExitCode.INTERRUPTED : ExitCode.UNHEALTHY;
          const short = shortfallError(plan);
          if (short) {
            if (out.json) out.error(short.message, short.hint);
            else out.warn(short.message);
            runState.exitCode = Math.max(runState.exitCode ?? 0, short.exitCode);
          }
          return;
        }
        if (plan.funded.length === 0) {
          const short = shortfallError(plan);
          // --json prints exactly one document: the plan with the error inside (same shape as the
          // error document, so `.error` is there either way), and the exit code of the error.
          if (out.json) {
            out.document({ ...doc, results: [], ...(short ? { error: { code: short.code, message: short.message, hint: short.hint } } : {}) });
            if (short) {
              out.error(short.message, short.hint);
              runState.exitCode = short.exitCode;
            }
            return;
          }
          if (short) throw short;
          out.info("nothing to redeem");
          return;
        }
        if (dryRun) {
          if (out.json) out.document({ ...doc, results: [] });
          else out.info("dry run: nothing was sent");
          return;
        }
        if (res.cancelled) {
          if (out.json) out.document({ ...doc, results: [], cancelled: true });
          else out.info("cancelled: nothing was sent");
          return;
        }
        const requested = res.outcomes.filter((o) => o.status === "requested" || o.status === "already-requested");
        if (!out.json && res.buy?.swap) showSwap(out, res.buy.swap);
        let followed: FollowReport[] | undefined;
        const toFollow = [...new Set([...requested.map((o) => o.deposit.toLowerCase()), ...inFlight.map((d) => d.toLowerCase())])];
        if (g.follow && toFollow.length) {
          if (!out.json) showResults(out, res.outcomes);
          followed = await followRequested(cfg, session, toFollow, out);
        }
        if (out.json) out.document({ ...doc, results: res.outcomes.map(resultJson), ...(followed ? { followed: followed.map(reportJson) } : {}) });
        else if (!followed) showResults(out, res.outcomes);
        runState.exitCode = outcomeExitCode(res.outcomes, { unfunded: plan.unfunded.length > 0 }) ?? runState.exitCode;
        if (followed?.some((r) => r.state !== "REDEEMED")) runState.exitCode = shutdown.signal.aborted ? ExitCode.INTERRUPTED : ExitCode.UNHEALTHY;
      } finally {
        session.close();
      }
    });
}

function noBitcoinServer(): ConfigError {
  return new ConfigError("--follow needs a Bitcoin server to broadcast and prove the redemption", { hint: "set --btc-electrum-url or --btc-esplora-url (or KEEPCTL_BTC_ELECTRUM_URLS / KEEPCTL_BTC_ESPLORA_URLS)" });
}

/** `--follow`: the redemptions just requested, followed until proven (or ended otherwise), with progress on stderr. */
async function followRequested(cfg: Config, session: RedeemSession, deposits: string[], out: Output): Promise<FollowReport[]> {
  const bitcoin = await openRedemptionBitcoin(cfg, { onWarning: (m) => out.warn(m) });
  if (!bitcoin) throw noBitcoinServer();
  try {
    const log = eventWriter(out, { stream: "stderr", ndjson: false });
    const { reports } = await followUntilDone(
      { provider: session.fresh, sender: session.sender, system: session.contracts.system, bitcoin: bitcoin.client, policy: followPolicyOf(cfg), logChunkSize: cfg.logChunkSize, onNote: (d, text) => log({ type: "notice", text: `${d}: ${text}` }) },
      deposits.map((d) => ({ deposit: d, fromBlock: cfg.startBlock })),
      { intervalSec: Math.min(cfg.watch.interval, 30), signal: shutdown.signal, onPass: (rs) => { for (const r of rs) { log({ type: "redemption-progress", ...r }); for (const a of r.alerts) log(a.level === "info" ? { type: "notice", text: `${a.title}: ${a.text}` } : { type: "warning", deposit: r.deposit, message: `${a.title}: ${a.text}` }); } } },
    );
    return reports;
  } finally {
    await bitcoin.close();
  }
}

const IN_REDEMPTION = new Set<number>([State.AWAITING_WITHDRAWAL_SIGNATURE, State.AWAITING_WITHDRAWAL_PROOF]);

async function operatorDeposits(cfg: Config, provider: Parameters<typeof loadTbtcRun>[1]["provider"]) {
  const run = await loadTbtcRun(cfg, { operators: requireOperators(cfg), useCache: true, provider });
  const live = run.deposits.filter((d) => !d.finished && (d.state === State.ACTIVE || d.state === State.COURTESY_CALL));
  const known = new Map<string, KnownRisk>(live.map((d) => [d.deposit.toLowerCase(), { collateralBp: d.collateralBp, courtesyDeadline: d.courtesyDeadline }]));
  const inFlight = run.deposits.filter((d) => !d.finished && d.state !== undefined && IN_REDEMPTION.has(d.state)).map((d) => d.deposit);
  return { deposits: live.map((d) => d.deposit), known, inFlight };
}

/** `--deposit`s: redeemed whatever their collateralization; with --follow, the ones already in redemption are followed. */
async function explicitDeposits(session: RedeemSession, explicit: string[], follow: boolean) {
  return { deposits: explicit, known: new Map<string, KnownRisk>(), inFlight: follow ? await depositsInRedemption(session.fresh, explicit) : [] };
}

const btc = (sats: bigint) => formatUnits(sats, 8);
const tbtcStr = (wei: bigint) => formatUnits(wei, 18);

function planJson(plan: Plan, gas: Map<string, GasInfo>) {
  return {
    availableTbtc: plan.availableTbtc,
    totalCostTbtc: plan.totalCostTbtc,
    worstCaseGasWei: [...gas.values()].reduce((s, g) => s + g.worstCaseFeeWei, 0n),
    plan: plan.funded.map((f) => ({ deposit: f.address, path: f.path, lotSats: f.lotSats, costTbtc: f.costTbtc, feeSats: f.feeSats, outputValueSats: f.outputValueSats, collateralPct: f.collateralPct, gasLimit: gas.get(f.address)?.gasLimit ?? null, worstCaseGasWei: gas.get(f.address)?.worstCaseFeeWei ?? null, simulationError: gas.get(f.address)?.error ?? null })),
    unfunded: plan.unfunded.map((u) => ({ deposit: u.address, costTbtc: u.costTbtc, shortfallTbtc: u.shortfallTbtc })),
    skipped: plan.skipped.map((s) => ({ deposit: s.address, reason: s.reason })),
  };
}

function resultJson(r: RedemptionOutcome) {
  return { deposit: r.deposit, path: r.path, status: r.status, hash: r.hash ?? null, reason: r.reason ?? null, ...(r.error ? { error: { code: r.error.code, message: r.error.message } } : {}) };
}

function buyJson(b: BuyRound & { swap?: SwapOutcome }) {
  const o = b.order;
  const s = b.swap;
  return {
    order: o ? {
      deposits: o.deposits, amountTbtc: o.amountTbtc, expectedEthWei: o.expectedEthWei, maxEthWei: o.maxEthWei, fairEthWei: o.fairEthWei, premiumBp: o.premiumBp, bondWei: o.bondWei, boundBy: o.boundBy,
      block: b.quote?.market.block ?? null,
      perDeposit: costPerDeposit(o, o.expectedEthWei).map((c) => ({ deposit: c.deposit, amountTbtc: c.amountTbtc, expectedEthWei: c.ethWei, bondWei: c.bondWei })),
    } : null,
    refused: b.refused.map((r) => ({ deposit: r.deposit ?? null, code: r.code, reason: r.reason })),
    swap: !s ? null : s.status === "bought" ? { status: s.status, hash: s.hash, ethPaidWei: s.ethPaidWei, premiumBp: s.premiumBp, attempts: s.attempts }
      : s.status === "refused" ? { status: s.status, code: s.refusal.code, reason: s.refusal.reason }
      : s.status === "failed" ? { status: s.status, reason: s.reason }
      : s.status === "pending" ? { status: s.status, hashes: s.hashes } : { status: s.status, hash: s.hash ?? null },
  };
}

/** The cost table of a buy: per deposit the TBTC bought, the ETH it costs, the premium, the bond it protects. */
function showBuy(out: Output, b: BuyRound): void {
  const o = b.order;
  if (o) {
    out.info(`buy ${tbtcStr(o.amountTbtc)} TBTC from the Uniswap V2 pool at block ${b.quote?.market.block}: ${formatEther(o.expectedEthWei)} ETH now, at most ${formatEther(o.maxEthWei)} (bound by ${o.boundBy}); the system's price says ${formatEther(o.fairEthWei)} ETH`);
    out.table(costPerDeposit(o, o.expectedEthWei), [
      { header: "Deposit", value: (c) => c.deposit },
      { header: "TBTC bought", align: "right", value: (c) => tbtcStr(c.amountTbtc) },
      { header: "ETH paid", align: "right", value: (c) => formatEther(c.ethWei) },
      { header: "Premium", align: "right", value: () => formatBp(o.premiumBp) },
      { header: "Bond protected ETH", align: "right", value: (c) => formatEther(c.bondWei) },
    ]);
  }
  for (const r of b.refused) out.warn(`TBTC not bought${r.deposit ? ` for ${r.deposit}` : ""}: ${r.reason}`);
}

function showSwap(out: Output, s: SwapOutcome): void {
  if (s.status === "bought") out.info(`bought ${tbtcStr(s.tbtcOut)} TBTC for ${formatEther(s.ethPaidWei)} ETH (${formatBp(s.premiumBp)} over the system's ETH/BTC price), tx ${s.hash}`);
  else if (s.status === "refused") out.warn(`TBTC not bought: ${s.refusal.reason}`);
  else if (s.status === "failed") out.warn(`TBTC buy failed: ${s.reason}`);
  else if (s.status === "pending") out.warn(`TBTC swap sent, not mined yet (${s.hashes.join(", ")}): the next run settles it`);
}

function showPlan(out: Output, plan: Plan, gas: Map<string, GasInfo>, me: string, btcAddress: string, buy?: BuyRound): void {
  const toBuy = buy?.order?.amountTbtc ?? 0n;
  out.info(`account ${me}: ${tbtcStr(plan.availableTbtc - toBuy)} TBTC held${toBuy ? ` + ${tbtcStr(toBuy)} to buy` : " available"}; paying out to ${btcAddress}`);
  if (buy) showBuy(out, buy);
  if (plan.funded.length) {
    out.table(plan.funded, [
      { header: "Deposit", value: (f) => f.address },
      { header: "Path", value: (f) => f.path },
      { header: "Lot BTC", align: "right", value: (f) => btc(f.lotSats) },
      { header: "Collat %", align: "right", value: (f) => f.collateralPct.toFixed(2) },
      { header: "TBTC cost", align: "right", value: (f) => tbtcStr(f.costTbtc) },
      { header: "Max gas ETH", align: "right", value: (f) => { const g = gas.get(f.address); return g ? `${formatEther(g.worstCaseFeeWei)}${g.simulated ? "" : " (est.)"}` : "-"; } },
    ]);
  }
  for (const f of plan.funded) { const e = gas.get(f.address)?.error; if (e) out.warn(`simulation: ${e}`); }
  for (const u of plan.unfunded) out.warn(`${u.address}: needs ${tbtcStr(u.costTbtc)} TBTC, ${tbtcStr(u.shortfallTbtc)} more than is left`);
  for (const s of plan.skipped) out.info(`skip ${s.address}: ${s.reason}`);
}

function showResults(out: Output, results: RedemptionOutcome[]): void {
  out.table(results, [
    { header: "Deposit", value: (r) => r.deposit },
    { header: "Status", value: (r) => r.status, color: (r, t) => out.paint(r.status === "requested" || r.status === "already-requested" ? "ok" : r.status === "lost-race" ? "warn" : "bad", t) },
    { header: "Tx", value: (r) => r.hash ?? "-" },
    { header: "Note", value: (r) => r.reason ?? "" },
  ]);
}
