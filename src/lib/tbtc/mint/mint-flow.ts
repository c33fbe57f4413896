import { ethers } from "ethers";
import fs from "node:fs";
import { ConfigError, ExitCode, KeepctlError, RevertError, shortMessageOf } from "../../errors";
import { psbtBase64, unsignedTxid, writePsbtFile } from "../../btc/wallet";
import { AccountConflictError } from "../../chain/nonce";
import { sleep } from "../../chain/sleep";
import { fromHex, type BitcoinClient } from "../../btc";
import { stateName } from "../abis";
import type { JournaledSender } from "../redeem/redeemer";
import { redemptionBitcoinOf } from "../redeem/bitcoin";
import { headersNeeded, requiredDifficulty, TX_PROOF_DIFFICULTY_FACTOR } from "../redeem/proof-check";
import { decideMint, fundingTargetBlocks, FUNDING_TIMEOUT_SEC, type MintAlert, type MintDecision, type MintOutcome, type MintStep } from "./mint-decide";
import { depositFactoryInterface, DEPOSIT_CLONE_CREATED_TOPIC, mintDepositInterface, mintVendingMachineInterface, tdtInterface } from "./mint-abi";
import { fundingScriptOf, readDepositFacts, readRelayDifficulties, readSystemFacts, type DepositChainFacts, type MintAddresses } from "./mint-facts";
import { buildDepositFunding, type MintWallet } from "./mint-funding";
import { bumpOnce } from "./funding-bump";
import { fundingOf, fundingsOf, pendingPsbtOf, type FundingOutput, type FundingRecord, type MintJournal, type MintJournalState, type MintOrder } from "./mint-journal";

/**
 * One pass over a mint order's deposits: each one's facts read from both chains, its next step
 * decided by mint-decide.ts, and acted on — every Ethereum call through the one journaled sender
 * under a stable key (`mint:<order>:<slot>:create`, `<deposit>:retrieve-pubkey`,
 * `<deposit>:funding-proof`, `<deposit>:approve-tdt`, `<deposit>:tdt-to-tbtc`, ...), every funding
 * transaction journaled in the mint journal before the funding clock starts or anything is
 * broadcast. Deposits whose keys are ready in the same pass share one funding transaction.
 */
export interface MintDeps {
  sender: JournaledSender;
  provider: ethers.JsonRpcProvider;
  contracts: MintAddresses;
  journal: MintJournal;
  btc: BitcoinClient;
  wallet: MintWallet;
  /** Bitcoin confirmations before the funding proof (the relay's work rule is checked on top). */
  confirmations: number;
  /** First block of the log scans (the deployment's). */
  fromBlock: number;
  onNote?: (text: string) => void;
}

export interface SlotReport {
  order: string;
  slot: number;
  deposit?: string;
  state?: string;
  step: MintStep | "pending" | "failed" | "awaiting-psbt";
  outcome?: MintOutcome;
  fundingAddressScript?: string;
  fundingTxid?: string;
  confirmations?: number;
  setupDeadline?: number;
  fundingDeadline?: number;
  alerts: MintAlert[];
  error?: string;
}

const EXTRA_HEADERS = 4;
const SKIP = Symbol("skip");
/** How long deposits of one order wait for each other's keys to share one funding transaction. */
export const FUNDING_BATCH_WAIT_SEC = 600;

export async function mintPass(d: MintDeps, orderId: string): Promise<{ reports: SlotReport[]; progressed: boolean }> {
  let js = d.journal.read();
  const order = js.orders.get(orderId);
  if (!order) throw new KeepctlError("MINT_ORDER_UNKNOWN", ExitCode.INTERNAL, `mint order ${orderId} is not in ${d.journal.file}`);
  const head = await d.provider.getBlock("latest");
  const chainNow = head!.timestamp;
  const reports: SlotReport[] = [];
  let progressed = false;

  // 1. Every slot without a deposit gets one (createDeposit, journaled; a crash settles it).
  for (let slot = 0; slot < order.count; slot++) {
    if (order.ended.has(slot) || order.deposits.has(slot)) continue;
    const r = await ensureDeposit(d, order, slot).catch((e) => failed(order, slot, e));
    if (typeof r === "string") progressed = true;
    else reports.push(r);
  }
  js = d.journal.read();
  const live = js.orders.get(orderId)!;

  // 2. Facts and decisions for every deposit still in flight.
  const slots: { slot: number; deposit: string; facts: DepositChainFacts; decision: MintDecision; script?: string; funding?: { record: FundingRecord; output: FundingOutput }; marketFeeRate?: number; report: SlotReport }[] = [];
  await Promise.all([...live.deposits.entries()].filter(([slot]) => !live.ended.has(slot)).map(async ([slot, deposit]) => {
    try {
      const { facts, decision: decided, script, funding, fundingTxid, confirmations, marketFeeRate } = await decide(d, js, live, deposit, chainNow);
      // A PSBT out for this deposit: nothing happens until the signed one comes back (--psbt-in).
      const waiting = pendingPsbtOf(js, deposit);
      const decision: MintDecision = waiting && (decided.step === "prepare-funding" || decided.step === "retrieve-pubkey") ? { ...decided, step: "stop" } : decided;
      const report: SlotReport = { order: live.id, slot, deposit, state: stateName(facts.state), step: waiting && decision !== decided ? "awaiting-psbt" : decision.step, outcome: decision.outcome, fundingAddressScript: script, fundingTxid: fundingTxid ?? (decision !== decided ? waiting?.txid : undefined), confirmations, setupDeadline: decision.setupDeadline, fundingDeadline: decision.fundingDeadline, alerts: decision.alerts };
      slots.push({ slot, deposit, facts, decision, script, funding, marketFeeRate, report });
    } catch (e) {
      reports.push(failed(live, slot, e, deposit));
    }
  }));
  slots.sort((a, b) => a.slot - b.slot);

  // 3. The deposits ready for funding: one transaction for all of them, journaled before anything else.
  // Siblings whose keys are still coming (within FUNDING_BATCH_WAIT_SEC of their creation) are waited
  // for, so that one transaction funds them all; a clock already running is never held up.
  const youngWaiting = slots.some((s) => s.decision.step === "wait-signers" && s.facts.createdAt !== undefined && chainNow - s.facts.createdAt < FUNDING_BATCH_WAIT_SEC);
  const toFund = slots.filter((s) => s.decision.step === "prepare-funding" && (!youngWaiting || s.facts.fundingTimerStart !== undefined));
  for (const s of slots) if (s.decision.step === "prepare-funding" && !toFund.includes(s)) s.report.step = "wait-signers";
  if (toFund.length) {
    try {
      const reserved = new Set([...js.fundings.values()].flatMap((f) => f.inputs).concat([...js.children.values()].map((c) => c.input)));
      // The tightest window among them sets the fee target (3 h from now for those whose clock has not started).
      const deadline = Math.min(...toFund.map((s) => s.decision.fundingDeadline ?? chainNow + FUNDING_TIMEOUT_SEC));
      for (const p of js.psbts.values()) if (!js.fundings.has(p.txid)) for (const i of p.inputs) reserved.add(i);
      const f = await buildDepositFunding(d.wallet, toFund.map((s) => ({ deposit: s.deposit, scriptHex: s.script!, lotSats: live.lotSats })), { targetBlocks: fundingTargetBlocks(chainNow, deadline, d.confirmations), reserved });
      if (f.unsigned) {
        // Watch-only: the PSBT goes to the cold signer; these deposits wait for it (--psbt-in), the clock not started.
        const file = d.wallet.psbtOut;
        if (!file) throw new ConfigError("the Bitcoin wallet is watch-only: the funding transaction must go out as a PSBT", { hint: "pass --psbt-out FILE, sign it, then run keepctl mint --psbt-in SIGNED" });
        if (fs.existsSync(file)) throw new ConfigError(`PSBT file ${file} already exists; keepctl never writes over it`, { hint: "give --psbt-out a new path (or sign the pending one and pass it with --psbt-in)" });
        const txid = unsignedTxid(f.unsigned);
        d.journal.recordPsbt({ txid, psbt: psbtBase64(f.unsigned), file, deposits: toFund.map((s) => s.deposit.toLowerCase()), inputs: f.inputs });
        writePsbtFile(file, f.unsigned);
        progressed = true;
        d.onNote?.(`funding transaction ${txid} for ${toFund.length} deposit(s) written as a PSBT to ${file} (${f.feeRateSatVb.toFixed(1)} sat/vB): sign it, then run keepctl mint --psbt-in <signed file>`);
        for (const s of toFund) Object.assign(s.report, { step: "awaiting-psbt", fundingTxid: txid });
        throw SKIP;
      }
      d.journal.recordFunding(f);
      progressed = true;
      d.onNote?.(`funding transaction ${f.txid} prepared for ${toFund.length} deposit(s) (${f.feeSats} sat fee, ${f.feeRateSatVb.toFixed(1)} sat/vB); journaled before the funding clock starts${f.notes.length ? `; ${f.notes.join("; ")}` : ""}`);
      for (const s of toFund) s.report.fundingTxid = f.txid;
    } catch (e) {
      if (e === SKIP) { /* the PSBT is out */ } else {
        if (e instanceof AccountConflictError) throw e;
        for (const s of toFund) Object.assign(s.report, { step: "failed", error: messageOf(e) });
      }
    }
  }

  // 4. Every other step, per deposit (a funding transaction shared by several is bumped once).
  const bumped = new Map<string, Promise<boolean>>();
  await Promise.all(slots.filter((s) => s.decision.step !== "prepare-funding").map(async (s) => {
    try {
      const acted = s.decision.step === "bump-fee" ? await bumpOnce(d, s.funding!.record, s.marketFeeRate!, s.deposit, s.report, bumped) : await act(d, js, live, s.deposit, s.decision, s.facts, s.report, s.funding);
      if (acted) progressed = true;
    } catch (e) {
      if (e instanceof AccountConflictError) throw e;
      Object.assign(s.report, { step: "failed", error: messageOf(e) });
    }
    if (s.report.outcome) {
      d.journal.recordEnded(live.id, s.slot, s.report.outcome);
      progressed = true;
    }
  }));
  reports.push(...slots.map((s) => s.report));
  reports.sort((a, b) => a.slot - b.slot);
  return { reports, progressed };
}

/** Passes over the order until every deposit has ended (minted or otherwise); the last report of each. */
export async function mintUntilDone(d: MintDeps, orderId: string, o: { intervalSec: number; signal: AbortSignal; onPass?: (r: SlotReport[]) => void; maxFailedPasses?: number }): Promise<{ reports: SlotReport[]; interrupted: boolean; gaveUp: boolean; awaitingPsbt?: boolean }> {
  const last = new Map<number, SlotReport>();
  const sorted = () => [...last.values()].sort((a, b) => a.slot - b.slot);
  let failing = 0;
  for (;;) {
    const { reports, progressed } = await mintPass(d, orderId);
    for (const r of reports) last.set(r.slot, r);
    o.onPass?.(reports);
    const order = d.journal.read().orders.get(orderId)!;
    if (order.ended.size >= order.count) return { reports: sorted(), interrupted: false, gaveUp: false };
    // Everything left waits for the cold signer: nothing more this run can do.
    const open = sorted().filter((r) => !order.ended.has(r.slot));
    if (open.length && open.every((r) => r.step === "awaiting-psbt")) return { reports: sorted(), interrupted: false, gaveUp: false, awaitingPsbt: true };
    // A failure that repeats without progress (a revert, a refused funding) is the operator's to look at; the journal keeps the place.
    failing = !progressed && reports.some((r) => r.step === "failed") ? failing + 1 : 0;
    if (failing >= (o.maxFailedPasses ?? 3)) return { reports: sorted(), interrupted: false, gaveUp: true };
    if (o.signal.aborted) return { reports: sorted(), interrupted: true, gaveUp: false };
    await sleep(progressed ? 50 : o.intervalSec * 1000, o.signal);
    if (o.signal.aborted) return { reports: sorted(), interrupted: true, gaveUp: false };
  }
}

/** The create action: settled when an earlier run sent it, else sent now. Returns the deposit, or a report while pending. */
async function ensureDeposit(d: MintDeps, order: MintOrder, slot: number): Promise<string | SlotReport> {
  const key = `mint:${order.id}:${slot}:create`;
  const s = d.sender.sender;
  const prior = await s.settle(key);
  let hash: string | undefined;
  if (prior.status === "mined") hash = prior.hash;
  else if (prior.status === "pending") return { order: order.id, slot, step: "pending", alerts: [] };
  else {
    const { feeWei, allowedLots } = await readSystemFacts(d.provider, d.contracts);
    if (!allowedLots.includes(order.lotSats)) throw new KeepctlError("LOT_NOT_SUPPORTED", ExitCode.USAGE, `the system does not allow a lot of ${order.lotSats} sat (allowed: ${allowedLots.join(", ")})`);
    const data = depositFactoryInterface.encodeFunctionData("createDeposit", [order.lotSats]);
    const r = await s.send(key, { to: d.contracts.depositFactory, data, value: feeWei, label: `createDeposit ${order.lotSats} sat`, abi: depositFactoryInterface }, { meta: { order: order.id, slot, lotSats: order.lotSats.toString(), feeWei: feeWei.toString() } });
    if (r.status === "pending") return { order: order.id, slot, step: "pending", alerts: [] };
    if (r.status === "mined") hash = r.hash;
    else if (r.status === "done-earlier") hash = r.hash;
  }
  if (!hash) throw new KeepctlError("MINT_CREATE_LOST", ExitCode.INTERNAL, `the journal records createDeposit for ${key} without a transaction hash`);
  const receipt = await d.provider.getTransactionReceipt(hash);
  if (!receipt) return { order: order.id, slot, step: "pending", alerts: [] };
  const log = receipt.logs.find((l) => l.address.toLowerCase() === d.contracts.depositFactory.toLowerCase() && l.topics[0] === DEPOSIT_CLONE_CREATED_TOPIC);
  if (!log) throw new KeepctlError("MINT_CREATE_NO_DEPOSIT", ExitCode.INTERNAL, `createDeposit ${hash} emitted no DepositCloneCreated`);
  const deposit = (depositFactoryInterface.parseLog(log)!.args[0] as string).toLowerCase();
  d.journal.recordDeposit(order.id, slot, deposit);
  d.onNote?.(`slot ${slot + 1}/${order.count}: deposit ${deposit} opened (createDeposit ${hash})`);
  return deposit;
}

async function decide(d: MintDeps, js: MintJournalState, order: MintOrder, deposit: string, chainNow: number) {
  const facts = await readDepositFacts(d.provider, d.contracts, deposit, d.fromBlock, d.sender.address);
  // The first funding and its RBF replacements are all ours; the one Bitcoin knows is the one followed.
  const all = fundingsOf(js, deposit);
  let ours = all.at(-1);
  let script: string | undefined;
  let foreignHistory = 0;
  let confirmations: number | undefined;
  let marketFeeRate: number | undefined;
  let packageRate: number | undefined;
  if (facts.pubkey64) {
    script = fundingScriptOf(facts.pubkey64);
    if (ours && ours.output.scriptHex !== script) throw new KeepctlError("MINT_SCRIPT_MISMATCH", ExitCode.INTERNAL, `${deposit}: the journaled funding pays ${ours.output.scriptHex}, not the deposit's script ${script}`);
    const [history, tip] = await Promise.all([d.btc.history(fromHex(script, "script")), d.btc.tip()]);
    for (const h of history) {
      const mine = all.find((f) => f.record.txid === h.txid);
      if (!mine) {
        foreignHistory++;
        continue;
      }
      const c = h.height > 0 ? Math.max(0, tip.height - h.height + 1) : 0;
      if (confirmations === undefined || c > confirmations) {
        confirmations = c;
        ours = mine;
      }
    }
    // A funding waiting in the mempool: what the blocks the window leaves cost now (for a bump).
    if (confirmations === 0 && facts.fundingTimerStart !== undefined) {
      const target = fundingTargetBlocks(chainNow, facts.fundingTimerStart + FUNDING_TIMEOUT_SEC, d.confirmations);
      marketFeeRate = await d.btc.feeRate(target).catch(() => undefined);
      // Our CPFP child, if the servers know it, pays for this funding too: the package's rate is the one judged.
      const child = ours ? js.children.get(ours.record.txid) : undefined;
      if (child && marketFeeRate !== undefined) {
        const seen = (await d.btc.history(fromHex(child.output.scriptHex, "script"))).some((h) => h.txid === child.txid);
        if (seen) packageRate = Number(ours!.record.feeSats + child.feeSats) / (ours!.record.vsize + child.vsize);
      }
    }
  }
  const me = d.sender.address.toLowerCase();
  const owner = facts.tdtOwner.toLowerCase();
  const decision = decideMint({
    created: true, state: facts.state, keyPublished: !!facts.pubkey64, chainNow, createdAt: facts.createdAt, fundingTimerStart: facts.fundingTimerStart,
    funding: ours ? { broadcast: all.some((f) => f.record.broadcast), confirmations, feeRateSatVb: packageRate ?? Number(ours.record.feeSats) / ours.record.vsize } : undefined,
    marketFeeRate, foreignHistory, confirmationsRequired: d.confirmations,
    tdtOwner: owner === me ? "us" : owner === d.contracts.vendingMachine.toLowerCase() ? "vending-machine" : "other",
    tdtApproved: facts.tdtApproved.toLowerCase() === d.contracts.vendingMachine.toLowerCase(),
    withdrawableWei: facts.withdrawableWei,
  }, deposit);
  return { facts, decision, script, funding: ours, fundingTxid: ours?.record.txid, confirmations, marketFeeRate };
}

/** Acts on one decision; true when something was sent or recorded. */
async function act(d: MintDeps, js: MintJournalState, order: MintOrder, deposit: string, decision: MintDecision, facts: DepositChainFacts, report: SlotReport, funding?: { record: FundingRecord; output: FundingOutput }): Promise<boolean> {
  const call = (action: string, iface: ethers.Interface, fn: string, args: unknown[], to = deposit) => once(d, report, deposit, action, { to, data: iface.encodeFunctionData(fn, args), abi: iface }, facts.state);
  switch (decision.step) {
    case "notify-setup-failed":
      return call("notify-setup-failed", mintDepositInterface, "notifySignerSetupFailed", []);
    case "retrieve-pubkey":
      return call("retrieve-pubkey", mintDepositInterface, "retrieveSignerPubkey", []);
    case "withdraw-fee":
      return call("withdraw-fee", mintDepositInterface, "withdrawFunds", []).then((x) => { report.outcome = "setup-failed"; return x; });
    case "approve-tdt":
      return call("approve-tdt", tdtInterface, "approve", [d.contracts.vendingMachine, BigInt(deposit)], d.contracts.depositToken);
    case "tdt-to-tbtc":
      return call("tdt-to-tbtc", mintVendingMachineInterface, "tdtToTbtc", [BigInt(deposit)], d.contracts.vendingMachine);
    case "broadcast":
      return broadcast(d, js, deposit, report);
    case "prove":
      return prove(d, funding!, order, deposit, facts, report);
    default:
      return false;
  }
}

/**
 * One journaled Ethereum action: an earlier run's transaction is settled first (never signed
 * twice); a revert because the deposit moved on meanwhile (someone else called it) is no failure.
 */
async function once(d: MintDeps, report: SlotReport, deposit: string, action: string, req: { to: string; data: string; abi: ethers.Interface }, stateBefore: number): Promise<boolean> {
  const s = d.sender;
  let prior = await s.settle(deposit, action);
  if (prior.status === "mined") prior = await s.sender.verifyMined(`${deposit}:${action}`);
  if (prior.status === "mined") return false; // mined: the state catches up next pass
  if (prior.status === "pending") {
    report.step = "pending";
    return false;
  }
  try {
    const r = await s.send(deposit, action, req, { meta: { deposit } });
    if (r.status === "pending") report.step = "pending";
    return r.status === "mined" || r.status === "done-earlier";
  } catch (e) {
    if (e instanceof AccountConflictError) throw e;
    if (e instanceof RevertError || (e instanceof KeepctlError && e.exitCode === ExitCode.REVERT)) {
      const now = Number((await readDepositFacts(d.provider, d.contracts, deposit, d.fromBlock, d.sender.address)).state);
      if (now !== stateBefore) {
        s.journal.recordSkipped(`${deposit}:${action}`, `the deposit moved on to ${stateName(now)} first`);
        return true;
      }
    }
    throw e;
  }
}

async function broadcast(d: MintDeps, js: MintJournalState, deposit: string, report: SlotReport): Promise<boolean> {
  const f = fundingOf(js, deposit)!.record;
  // Recorded first: a crash during the send may have sent it.
  if (!f.broadcast) d.journal.recordBroadcast(f.txid);
  try {
    const r = await d.btc.broadcast(fromHex(f.rawHex, "transaction"));
    if (r.txid !== f.txid) throw new KeepctlError("BTC_BAD_DATA", ExitCode.RPC, `a Bitcoin server answered txid ${r.txid} for funding transaction ${f.txid}`);
    d.onNote?.(`${deposit}: funding transaction ${f.txid} broadcast (${r.results.filter((x) => x.ok).length} of ${r.results.length} server(s) took it)`);
    return true;
  } catch (e) {
    report.alerts.push({ key: `btc-broadcast:${deposit}`, level: "warning", title: "funding broadcast refused", text: `${deposit}: no Bitcoin server took funding transaction ${f.txid}: ${messageOf(e)}` });
    return false;
  }
}

async function prove(d: MintDeps, funding: { record: FundingRecord; output: FundingOutput }, order: MintOrder, deposit: string, facts: DepositChainFacts, report: SlotReport): Promise<boolean> {
  const { record, output } = funding;
  const key = `${deposit}:funding-proof`;
  let prior = await d.sender.settle(deposit, "funding-proof");
  if (prior.status === "mined") prior = await d.sender.sender.verifyMined(key);
  if (prior.status === "mined") return false;
  if (prior.status === "pending") {
    report.step = "pending";
    return false;
  }
  const wanted = Math.max(d.confirmations, Number(TX_PROOF_DIFFICULTY_FACTOR)) + EXTRA_HEADERS;
  const [proof, relay] = await Promise.all([
    redemptionBitcoinOf(d.btc).proof(record.txid, output.scriptHex, { min: d.confirmations, max: wanted }, record.rawHex),
    readRelayDifficulties(d.provider, d.contracts.system),
  ]);
  if (!proof) return false;
  const first = proof.difficulties[0] ?? 0n;
  const required = requiredDifficulty(first, { relayCurrentDifficulty: relay.current, relayPreviousDifficulty: relay.previous });
  if (required === undefined) {
    report.alerts.push({ key: `proof-difficulty:${deposit}`, level: "warning", title: "funding proof not yet acceptable", text: `${deposit}: the funding block's difficulty ${first} is neither the relay's current (${relay.current}) nor previous (${relay.previous}); waiting` });
    return false;
  }
  const count = headersNeeded(proof.difficulties, required, d.confirmations);
  if (count === undefined) return false;
  const data = mintDepositInterface.encodeFunctionData("provideBTCFundingProof", [proof.version, proof.inputVector, proof.outputVector, proof.locktime, output.vout, proof.merkleProof, proof.indexInBlock, "0x" + proof.headers.slice(0, count).join("")]);
  const acted = await once(d, report, deposit, "funding-proof", { to: deposit, data, abi: mintDepositInterface }, facts.state);
  if (acted) d.onNote?.(`${deposit}: funding proven (${count} headers, lot ${order.lotSats} sat in output ${output.vout} of transaction ${record.txid})`);
  return acted;
}

function failed(order: MintOrder, slot: number, e: unknown, deposit?: string): SlotReport {
  if (e instanceof AccountConflictError) throw e;
  return { order: order.id, slot, deposit, step: "failed", alerts: [], error: messageOf(e) };
}

function messageOf(e: unknown): string {
  return e instanceof KeepctlError ? e.message : shortMessageOf(e);
}

