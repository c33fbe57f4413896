import type { Command } from "commander";
import { formatEther, formatUnits, parseUnits } from "ethers";
import { checkKeyFilePerms } from "../lib/chain/wallet";
import { echo } from "../lib/redact";
import { ExitCode, UsageError } from "../lib/errors";
import type { Output } from "../lib/output";
import { AuditLog } from "../lib/audit";
import { channelAlert } from "../lib/alert";
import { eventWriter } from "../lib/events";
import { openRedeemSession } from "../lib/tbtc/redeem/redeem-session";
import { settleJournal } from "../lib/tbtc/redeem/redeemer";
import { preflightTbtcFromConfig } from "../lib/tbtc/read/report";
import { openBuyDeps } from "../lib/tbtc/buy/buy-session";
import { BuyRefusedError, executeBuy, quoteBuy, reportBuy, reportRefusals, type Quote, type SwapOutcome } from "../lib/tbtc/buy/buyer";
import { formatBp, type BuyOrder } from "../lib/tbtc/buy/buy-decide";
import { TxPendingError } from "../lib/chain/tx";
import { addBuyBoundOptions, addSigningOptions, globalsOf, loadCommandConfig, outputOf, runState } from "./common";

/** TBTC as typed: plain digits with up to 18 decimals, more than zero. */
function parseAmount(raw: string): bigint {
  if (!/^\d+(\.\d{1,18})?$/.test(raw)) throw new UsageError(`--amount must be a TBTC amount with at most 18 decimals, got "${echo(raw)}"`, { hint: "e.g. --amount 0.25" });
  const v = parseUnits(raw, 18);
  if (v === 0n) throw new UsageError("--amount must be more than 0");
  return v;
}

export function register(program: Command): void {
  addBuyBoundOptions(addSigningOptions(program.command("buy-tbtc")))
    .description("buy TBTC from the Uniswap V2 TBTC/WETH pool with ETH, bounded by price and slippage (shows the quote, confirms, sends)")
    .requiredOption("--amount <tbtc>", "TBTC to buy, exactly (e.g. 0.25)")
    .option("-y, --yes", "do not ask for confirmation (required when not on a terminal)")
    .option("--dry-run", "read the pool and show the quote and its bounds; send nothing")
    .addHelpText("after", "\nThe pool is the TBTC/WETH pair of contracts.UniswapV2Router02's factory. Exit codes: 0 bought (also\n--dry-run, or an earlier buy that was in flight is now mined), 2 bad flag or no --yes off a terminal,\n3 no pool / not a router / the router does not price the pool, 4 RPC, 5 revert, 6 refused by a bound\n(--max-price, the bond, --max-eth-per-day, KEEPCTL_MIN_ETH) or not enough liquidity, 8 another sender\nuses the key, 9 the swap is sent but not mined yet. See docs/exit-codes.md.")
    .action(async (_opts, cmd: Command) => {
      const g = globalsOf(cmd);
      const out = outputOf(cmd);
      const amount = parseAmount(String(g.amount));
      const dryRun = !!g.dryRun;
      const interactive = !!process.stdin.isTTY && !!process.stderr.isTTY;
      if (!dryRun && !g.yes && !interactive) {
        throw new UsageError("keepctl buy-tbtc sends a transaction and needs --yes when not run on a terminal", { hint: "add --yes, or --dry-run to only see the quote" });
      }
      const cfg = loadCommandConfig(g, out, { writesDataDir: true });
      checkKeyFilePerms(cfg.signing, (m) => out.warn(m));
      const alert = channelAlert(cfg.alerts, (channel, error) => out.warn(`alert via ${channel} failed: ${error}`));
      const log = eventWriter(out, { stream: "stderr", ndjson: false });
      const session = await openRedeemSession(cfg, { interactive, dryRun, alert, onEvent: log, onRpcWarning: (m) => out.warn(m) });
      try {
        await preflightTbtcFromConfig(session.provider, cfg);
        const me = session.wallet.address;
        const audit = AuditLog.open(cfg.dataDir);
        const deps = await openBuyDeps(cfg, session.fresh, session.sender, { audit, alert, emit: log });
        // A buy an earlier run left in flight is finished, not repeated: running again after a
        // crash or a timeout must not buy twice.
        const earlier = session.journal.resume(me).filter((e) => e.key.startsWith(`${me}:buy-tbtc:`)).map((e) => e.key);
        if (!dryRun) await settleJournal(session.sender);
        for (const key of earlier) {
          const e = session.journal.get(key);
          if (e?.state === "sent" || e?.state === "sending") throw new TxPendingError(`an earlier buy-tbtc (${key}) is sent but not mined yet; not buying again`, e.attempts.map((a) => a.hash), e.attempts.at(-1)?.nonce ?? 0);
          if (e?.state === "mined" && e.status === 1) {
            if (out.json) out.document({ account: me, amountTbtc: amount, result: { status: "bought-earlier", hash: e.minedHash } });
            else out.info(`an earlier buy-tbtc that was in flight is now mined (tx ${e.minedHash}); not buying again — run again to buy more`);
            return;
          }
        }
        const quote = await quoteBuy(session.sender, deps, [{ amountTbtc: amount }], []);
        const order = quote.decision.order;
        if (!out.json) showQuote(out, quote, me);
        if (!order) {
          await reportRefusals(session.sender, deps, quote.decision.refused);
          throw new BuyRefusedError(quote.decision.refused[0]);
        }
        if (dryRun) {
          if (out.json) out.document({ account: me, dryRun, quote: quoteJson(order, quote), result: null });
          else out.info("dry run: nothing was sent");
          return;
        }
        if (!g.yes && !(await confirm(`Buy ${formatUnits(amount, 18)} TBTC for at most ${formatEther(order.maxEthWei)} ETH from ${me}?`))) {
          if (out.json) out.document({ account: me, quote: quoteJson(order, quote), result: null, cancelled: true });
          else out.info("cancelled: nothing was sent");
          return;
        }
        const res = await executeBuy(session.sender, deps, { ...quote, decision: { ...quote.decision, order } }, { owner: me, action: `buy-tbtc:${Date.now()}` }, []);
        await reportBuy(session.sender, deps, res);
        if (out.json) out.document({ account: me, quote: quoteJson(order, quote), result: resultJson(res) });
        else showResult(out, res);
        if (res.status === "refused") throw new BuyRefusedError(res.refusal);
        if (res.status === "failed") throw res.error;
        if (res.status === "pending") runState.exitCode = ExitCode.TX_PENDING;
      } finally {
        session.close();
      }
    });
}

async function confirm(message: string): Promise<boolean> {
  const { default: ask } = await import("@inquirer/confirm");
  return ask({ message, default: false }, { output: process.stderr });
}

function quoteJson(o: BuyOrder, q: Quote) {
  return { block: q.market.block, amountTbtc: o.amountTbtc, expectedEthWei: o.expectedEthWei, maxEthWei: o.maxEthWei, fairEthWei: o.fairEthWei, premiumBp: o.premiumBp, boundBy: o.boundBy, reserveWeth: q.market.reserveWeth, reserveTbtc: q.market.reserveTbtc, weiPerSat: q.market.weiPerSat };
}

function resultJson(r: SwapOutcome) {
  if (r.status === "bought") return { status: r.status, hash: r.hash, tbtcOut: r.tbtcOut, ethPaidWei: r.ethPaidWei, premiumBp: r.premiumBp, attempts: r.attempts };
  if (r.status === "refused") return { status: r.status, code: r.refusal.code, reason: r.refusal.reason };
  if (r.status === "pending") return { status: r.status, hashes: r.hashes };
  if (r.status === "failed") return { status: r.status, reason: r.reason };
  return { status: r.status, hash: r.hash ?? null };
}

function showQuote(out: Output, q: Quote, me: string): void {
  const m = q.market;
  out.info(`account ${me}: ${formatEther(m.ethBalanceWei)} ETH, ${formatUnits(m.tbtcBalance, 18)} TBTC; pool at block ${m.block}: ${formatEther(m.reserveWeth)} WETH / ${formatUnits(m.reserveTbtc, 18)} TBTC`);
  const o = q.decision.order;
  if (!o) return;
  out.table([o], [
    { header: "TBTC", align: "right", value: (x) => formatUnits(x.amountTbtc, 18) },
    { header: "ETH now", align: "right", value: (x) => formatEther(x.expectedEthWei) },
    { header: "ETH at most", align: "right", value: (x) => formatEther(x.maxEthWei) },
    { header: "Bound by", value: (x) => x.boundBy },
    { header: "System price ETH", align: "right", value: (x) => formatEther(x.fairEthWei) },
    { header: "Premium", align: "right", value: (x) => formatBp(x.premiumBp) },
  ]);
}

function showResult(out: Output, r: SwapOutcome): void {
  if (r.status === "bought") out.info(`bought ${formatUnits(r.tbtcOut, 18)} TBTC for ${formatEther(r.ethPaidWei)} ETH (${formatBp(r.premiumBp)} over the system's ETH/BTC price), tx ${r.hash}`);
  else if (r.status === "pending") out.warn(`the swap is sent, not mined yet (${r.hashes.join(", ")}): the next run settles it`);
  else if (r.status === "bought-earlier") out.info(`the journal records this buy as mined (tx ${r.hash ?? "?"})`);
}
