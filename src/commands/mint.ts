import type { Command } from "commander";
import { formatUnits } from "ethers";
import { parseAddress, type Config } from "../lib/config";
import { btcNetworkForChain, decodeBtcAddress } from "../lib/tbtc/btc-address";
import { checkKeyFilePerms } from "../lib/chain/wallet";
import { echo } from "../lib/redact";
import { ConfigError, ExitCode, UsageError } from "../lib/errors";
import type { Output } from "../lib/output";
import { eventWriter } from "../lib/events";
import { mintNeedsLocalStateError } from "../lib/state/errors";
import { openRedeemSession } from "../lib/tbtc/redeem/redeem-session";
import { settleJournal } from "../lib/tbtc/redeem/redeemer";
import { mintContractsOf, mintDepsOf, openMintWallet } from "../lib/tbtc/mint/mint-session";
import { mintUntilDone, type SlotReport } from "../lib/tbtc/mint/mint-flow";
import { requestFunderAbort } from "../lib/tbtc/mint/funder-abort";
import { acceptFundingPsbt } from "../lib/tbtc/mint/funding-psbt";
import { readPsbtFile } from "../lib/btc/wallet";
import { preflightMint, tbtcBalance } from "../lib/tbtc/mint/mint-preflight";
import { addBitcoinOptions, addSigningOptions, confirmOnTerminal, globalsOf, loadCommandConfig, onTerminal, outputOf, parseIntOption, requireYesOffTerminal, runState, shutdown } from "./common";

/**
 * `keepctl mint --lot BTC [--count N]`: BTC from the operator's hot Bitcoin wallet into TBTC in
 * the signing account, exactly once per deposit (docs/mint.md). Thin: settings, the flow in
 * src/lib/tbtc/mint, rendering here.
 */
export function register(program: Command): void {
  addBitcoinOptions(addSigningOptions(program.command("mint")))
    .description("mint TBTC from the Bitcoin wallet: open deposits, fund them on Bitcoin, prove, turn the TDT into TBTC (resumes an unfinished mint)")
    .option("--lot <btc>", "lot size in BTC, one the system allows (1, 5 or 10 on mainnet-like devnets); omitted: only resume unfinished mints")
    .option("--count <n>", "deposits of that lot (default 1)", parseIntOption("--count", 1, 50))
    .option("--btc-keystore <file>", "the hot Bitcoin wallet that funds the deposits (env KEEPCTL_BTC_KEYSTORE)")
    .option("--btc-password-file <file>", "file holding the Bitcoin keystore password (env KEEPCTL_BTC_PASSWORD_FILE; else a hidden prompt on a terminal)")
    .option("--max-btc-fee-rate <sat/vB>", "hard cap on the funding transaction's fee rate, never signed above (env KEEPCTL_MAX_BTC_FEE_RATE; default 200)")
    .option("--btc-confirmations <n>", "Bitcoin confirmations before the funding proof is sent (env KEEPCTL_BTC_CONFIRMATIONS; default 6)")
    .option("--abort <deposit>", "ask the signers of a deposit that failed after we funded it to return the BTC (requestFunderAbort); needs --btc-address")
    .option("--btc-address <address>", "with --abort: where the signers should return the BTC")
    .option("--psbt-out <file>", "watch-only wallet: write the funding transaction as a PSBT (BIP174) to this new file for a hardware wallet or Bitcoin Core to sign")
    .option("--psbt-in <file>", "the signed PSBT of a funding keepctl wrote: checked to be the same transaction, then the mint goes on")
    .option("-y, --yes", "do not ask for confirmation (required when not on a terminal)")
    .option("--dry-run", "check the lot, the ETH and the BTC, show the plan; send nothing")
    .addHelpText("after", "\nExit codes: 0 every deposit minted (or nothing to resume), 2 bad flag, a lot the system does not\nallow, or no --yes off a terminal, 3 missing wallet/key/server or a fee above the cap, 4 RPC or\nBitcoin servers, 6 not enough ETH or BTC (nothing sent), 8 another sender uses the key, 10 a deposit\nended without TBTC (signer setup failed, funding timed out, window too short, address already paid),\n11 the same step kept failing (the next run resumes), 130 interrupted (the next run resumes).\nSee docs/mint.md and docs/exit-codes.md.")
    .action(async (_opts, cmd: Command) => {
      const g = globalsOf(cmd);
      const out = outputOf(cmd);
      const dryRun = !!g.dryRun;
      requireYesOffTerminal("mint", g);
      const lotSats = g.lot === undefined ? undefined : parseLot(String(g.lot));
      const count = (g.count as number | undefined) ?? 1;
      if (lotSats === undefined && g.count !== undefined) throw new UsageError("--count needs --lot", { hint: "give --lot <btc>, or neither to resume unfinished mints" });
      const cfg = loadCommandConfig(g, out, { writesDataDir: true });
      if (cfg.signing.stateUrl) throw mintNeedsLocalStateError("keepctl mint");
      checkKeyFilePerms(cfg.signing, (m) => out.warn(m));
      if (g.abort !== undefined) return abort(cfg, out, String(g.abort), dryRun);
      const log = eventWriter(out, { stream: "stderr", ndjson: false });
      const psbtIn = g.psbtIn as string | undefined;
      const psbtOut = g.psbtOut as string | undefined;
      const w = await openMintWallet(cfg, { interactive: onTerminal(), warn: (m) => out.warn(m), what: "keepctl mint", psbt: psbtIn || psbtOut ? { out: psbtOut } : undefined });
      try {
        const session = await openRedeemSession(cfg, { interactive: onTerminal(), dryRun, onEvent: log, onRpcWarning: (m) => out.warn(m) });
        try {
          const me = session.wallet.address;
          const deps = mintDepsOf(cfg, session, w, (text) => log({ type: "notice", text }));
          const { journal, contracts } = deps;
          if (!dryRun) await settleJournal(session.sender);
          if (psbtIn && !dryRun) {
            const r = acceptFundingPsbt(journal, readPsbtFile(psbtIn), psbtIn);
            out.info(`signed funding ${r.txid} accepted from ${psbtIn} for ${r.deposits.length} deposit(s): the same transaction keepctl wrote, every signature valid`);
          }
          const resumed = journal.unfinished(me);
          let orderIds = resumed.map((o) => o.id);
          const same = lotSats === undefined ? undefined : resumed.find((o) => o.lotSats === lotSats && o.count === count);
          if (lotSats !== undefined && !same) {
            const plan = await preflightMint(deps, { lotSats, count, reservedInputs: new Set([...journal.read().fundings.values()].flatMap((f) => f.inputs)) });
            showPlan(out, me, lotSats, count, plan);
            if (dryRun) {
              if (out.json) out.document({ account: me, dryRun: true, lotSats, count, ...plan });
              else out.info("dry run: nothing was sent");
              return;
            }
            if (!g.yes && !(await confirmOnTerminal(`Open ${count} deposit(s) of ${formatUnits(lotSats, 8)} BTC and fund them from the Bitcoin wallet?`))) {
              out.info("cancelled: nothing was sent");
              return;
            }
            orderIds = [...orderIds, journal.newOrder(me, lotSats, count).id];
          } else if (dryRun) {
            out.info(resumed.length ? `dry run: ${resumed.length} unfinished mint order(s) would be resumed` : "dry run: nothing to resume");
            return;
          }
          for (const o of resumed) out.info(`resuming mint order ${o.id} (${o.count} × ${formatUnits(o.lotSats, 8)} BTC)`);
          if (!orderIds.length) {
            if (out.json) out.document({ account: me, orders: [] });
            else out.info("nothing to mint: no --lot given and no unfinished mint to resume");
            return;
          }
          const before = await tbtcBalance(session.fresh, contracts.token, me);
          const results: { id: string; reports: SlotReport[]; gaveUp: boolean }[] = [];
          let interrupted = false;
          let awaitingPsbt = false;
          for (const id of orderIds) {
            const r = await mintUntilDone(deps, id, {
              intervalSec: Math.min(cfg.watch.interval, 30), signal: shutdown.signal,
              onPass: (rs) => { for (const x of rs) for (const a of x.alerts) log(a.level === "info" ? { type: "notice", text: `${a.title}: ${a.text}` } : { type: "warning", deposit: x.deposit, message: `${a.title}: ${a.text}` }); },
            });
            results.push({ id, reports: r.reports, gaveUp: r.gaveUp });
            if (r.awaitingPsbt) awaitingPsbt = true;
            if (r.interrupted) {
              interrupted = true;
              break;
            }
          }
          const after = await tbtcBalance(session.fresh, contracts.token, me);
          const all = results.flatMap((r) => r.reports);
          if (out.json) out.document({ account: me, tbtcBefore: before, tbtcAfter: after, orders: results.map((r) => ({ id: r.id, gaveUp: r.gaveUp, deposits: r.reports.map(reportJson) })) });
          else showResults(out, all, before, after);
          if (interrupted) runState.exitCode = ExitCode.INTERRUPTED;
          else if (results.some((r) => r.gaveUp)) runState.exitCode = ExitCode.LOOP_FAILING;
          else if (awaitingPsbt && !all.some((r) => r.outcome && r.outcome !== "minted")) out.info("waiting for the signed PSBT: sign it, then run keepctl mint --psbt-in <signed file> (the deposits' funding clock has not started)");
          else if (all.some((r) => r.outcome !== "minted")) runState.exitCode = ExitCode.UNHEALTHY;
        } finally {
          session.close();
        }
      } finally {
        await w.close();
      }
    });
}

/** `--abort DEPOSIT --btc-address ADDR`: requestFunderAbort, nothing else. */
async function abort(cfg: Config, out: Output, raw: string, dryRun: boolean): Promise<void> {
  let deposit: string;
  try {
    deposit = parseAddress(raw).toLowerCase();
  } catch {
    throw new UsageError(`--abort: invalid deposit address "${echo(raw)}"`);
  }
  if (!cfg.tbtc.btcAddress) throw new UsageError("--abort needs --btc-address: where the signers should return the BTC");
  const script = decodeBtcAddress(cfg.tbtc.btcAddress, btcNetworkForChain(cfg.chainId)).redeemerOutputScript;
  const contracts = mintContractsOf(cfg);
  const log = eventWriter(out, { stream: "stderr", ndjson: false });
  const session = await openRedeemSession(cfg, { interactive: onTerminal(), dryRun, onEvent: log, onRpcWarning: (m) => out.warn(m) });
  try {
    if (!dryRun) await settleJournal(session.sender);
    const r = await requestFunderAbort({ sender: session.sender, provider: session.fresh, contracts, fromBlock: cfg.startBlock }, deposit, script);
    if (out.json) out.document({ deposit, btcAddress: cfg.tbtc.btcAddress, ...r });
    else out.info(r.status === "pending" ? `requestFunderAbort for ${deposit} sent, not mined yet: the next run settles it` : `requestFunderAbort for ${deposit} ${r.status === "sent" ? "sent" : "was sent by an earlier run"}${r.hash ? ` (${r.hash})` : ""}; the signers may now return the BTC to ${cfg.tbtc.btcAddress} (they are not obliged to)`);
    if (r.status === "pending") runState.exitCode = ExitCode.TX_PENDING;
  } finally {
    session.close();
  }
}

/** BTC with at most 8 decimals -> satoshis. */
export function parseLot(raw: string): bigint {
  const m = /^(\d+)(?:\.(\d{1,8}))?$/.exec(raw.trim());
  const sats = m ? BigInt(m[1]) * 100_000_000n + BigInt((m[2] ?? "").padEnd(8, "0") || "0") : 0n;
  if (!m || sats <= 0n) throw new UsageError(`--lot must be a positive amount of BTC with at most 8 decimals, got "${echo(raw)}"`, { hint: "e.g. --lot 1 (the lot sizes the system allows: 0.01 … 10 BTC on the devnet)" });
  return sats;
}

const btc = (sats: bigint) => formatUnits(sats, 8);
const tbtc = (wei: bigint) => formatUnits(wei, 18);
const iso = (t?: number) => (t === undefined ? null : new Date(t * 1000).toISOString().replace(".000Z", "Z"));

function reportJson(r: SlotReport) {
  return { slot: r.slot, deposit: r.deposit ?? null, state: r.state ?? null, step: r.step, outcome: r.outcome ?? null, fundingTxid: r.fundingTxid ?? null, confirmations: r.confirmations ?? null, setupDeadline: iso(r.setupDeadline), fundingDeadline: iso(r.fundingDeadline), error: r.error ?? null, alerts: r.alerts.map((a) => ({ level: a.level, title: a.title, text: a.text })) };
}

function showPlan(out: Output, me: string, lotSats: bigint, count: number, p: Awaited<ReturnType<typeof preflightMint>>): void {
  if (out.json) return;
  out.info(`account ${me}: ${count} deposit(s) of ${btc(lotSats)} BTC; opening fee ${formatUnits(p.openingFeeWei, 18)} ETH each, at most ${formatUnits(p.worstCaseEthWei, 18)} ETH with gas (balance ${formatUnits(p.ethBalanceWei, 18)} ETH)`);
  out.info(`Bitcoin: ${btc(lotSats * BigInt(count))} BTC to the deposits + about ${p.btcFeeSats} sat fee at ${p.btcFeeRateSatVb.toFixed(1)} sat/vB; TBTC expected: ${tbtc(p.expectedTbtcWei)} (the lots minus the signer fee the VendingMachine withholds)`);
}

function showResults(out: Output, rs: SlotReport[], before: bigint, after: bigint): void {
  out.table(rs, [
    { header: "Slot", align: "right", value: (r) => String(r.slot + 1) },
    { header: "Deposit", value: (r) => r.deposit ?? "-" },
    { header: "State", value: (r) => r.state ?? "-" },
    { header: "Outcome", value: (r) => r.outcome ?? r.step, color: (r, t) => out.paint(r.outcome === "minted" ? "ok" : r.outcome ? "bad" : "warn", t) },
    { header: "Funding tx", value: (r) => r.fundingTxid ?? "-" },
    { header: "Note", value: (r) => r.error ?? r.alerts.at(-1)?.title ?? "" },
  ]);
  out.info(`TBTC balance ${tbtc(before)} -> ${tbtc(after)} (+${tbtc(after - before)})`);
}
