import type { Config } from "../../config";
import { KeepctlError, RpcError, shortMessageOf } from "../../errors";
import { redact } from "../../redact";
import type { AlertHub } from "../../alert/hub";
import type { Alert } from "../../alert/types";
import { DEFAULT_MAX_FAILED_PASSES, runLoop } from "../../loop";
import { sleep } from "../../chain/sleep";
import type { AuditLog } from "../../audit";
import type { KeepctlProvider } from "../../chain/provider";
import { AccountConflictError } from "../../chain/nonce";
import { State, stateName } from "../abis";
import { depositWriteInterface } from "../redeem/redeem-abi";
import { headBlock, type KnownRisk, type TbtcContracts } from "../redeem/redeem-facts";
import { settleJournal, type JournaledSender, type RedemptionOutcome } from "../redeem/redeemer";
import { reorgAlerts } from "../redeem/reorg-alerts";
import { followRedemptions, type FollowReport, type RedemptionBitcoin } from "../redeem/follow";
import { HistoryCache } from "../redeem/redemption-history";
import type { FollowPolicy } from "../redeem/follow-decide";
import { DEFAULT_FOLLOW_POLICY } from "../redeem/follow-policy";
import { loadTbtcRun } from "../read/report";
import { decideLoop, dropRedeemedAlerts, needsCandidateRead, newBlockClock, nextPollDelayMs, observeHead, seedBlockClock, type BlockClock, type WatchPolicy, type WatchedDeposit } from "./watch-decide";
import { parseBlockHeader, readHead, type BlockHeader } from "../../chain/preflight";
import { formatUnits, toQuantity } from "ethers";
import { outcomeExitCode, runRedemptionPipeline } from "../redeem/pipeline";
import { replenishPass, type Replenisher } from "../mint/replenish";
import type { WatchEvent } from "../../events";
import type { BuyDeps } from "../buy/buyer";
import { depositsStillAtRisk, needsPreapprovalRead } from "./preapprove-decide";
import { readLeftoverPreapprovals, runPreapprovals, type PreapprovalOutcome } from "./preapprove";

/**
 * The `keepctl watch` loop: refresh -> judge -> courtesy calls -> redeem by policy -> submit
 * redemption signatures -> alerts -> heartbeat. Each step is isolated per deposit; a failing
 * RPC becomes an alert and the next loop tries again. Decisions are made in watch-decide.ts.
 */
export type { WatchEvent };

export interface WatchDeps {
  cfg: Config;
  provider: KeepctlProvider;
  contracts: TbtcContracts;
  operators: string[];
  /** Undefined: read-only (no key configured): alerts only. */
  sender?: JournaledSender;
  /** Length-prefixed payout script; undefined disables redemption (alerts only). */
  script?: string;
  /** The Bitcoin side of redemptions (broadcast, proof, fee); undefined: no Bitcoin server configured. */
  bitcoin?: RedemptionBitcoin;
  /** Confirmations before a proof and the fee cap (defaults: 6, 100,000 sat). */
  follow?: FollowPolicy;
  hub: AlertHub;
  audit: AuditLog;
  policy: WatchPolicy;
  emit: (ev: WatchEvent) => void;
  signal: AbortSignal;
  intervalSec: number;
  once: boolean;
  /** Also wake up as soon as a new block arrives. */
  onBlock?: boolean;
  /** Pinged after each loop that succeeded, never after a failed one (a dead-man switch). */
  heartbeatUrl?: string;
  /** Failed loops in a row after which watch alerts and exits 11; 0 = never (default 5). */
  maxFailedLoops?: number;
  dryRun?: boolean;
  /** Wall clock in seconds (tests). */
  now?: () => number;
  /** --buy-shortfall: the pool, its bounds and the relay (../buy/); undefined: never buy. */
  buy?: BuyDeps;
  /** --replenish-to: mint lots back to the target with the Bitcoin wallet (../mint/); undefined: never mint. */
  replenish?: Replenisher;
  /**
   * Approve a zone deposit's exact redemption requirement while it is between the warn level and
   * the redeem line, so its redemption is one transaction when it crosses (preapprove.ts). The
   * command turns it on (--no-preapprove off); library callers opt in.
   */
  preapprove?: boolean;
}

/** Keys whose condition is re-evaluated every loop (resolved when absent). */
const CONDITION_KEY = /^(warn|courtesy|liquidation|sig-timeout|proof-timeout|proof-deadline|btc-unreachable|btc-read|btc-broadcast|btc-proof|btc-fee-cap|unknown-spender|proof-refused|bad-signature|buy-refused):|^(tbtc-short|eth-low|stale-chain|rpc-failing)$/;

export interface LoopState {
  loop: number;
  lastHead: number;
  lastNewBlockAt: number;
  /** The chain's pace, for --on-block polling. */
  clock?: BlockClock;
  /** The history read that seeds `clock` was made. */
  seeded?: boolean;
  /** The head the last poll found: the next loop starts from it instead of reading it again. */
  polledHead?: BlockHeader;
  /** Redemption events read by earlier loops. */
  history?: HistoryCache;
  /** New heads pushed by a ws:// endpoint (null: none configured, poll). */
  heads?: ReturnType<KeepctlProvider["headFeed"]> | null;
}

/** Blocks back from the first head whose timestamp gives the chain's pace. */
const BLOCK_CLOCK_HISTORY = 8;

export interface LoopSummary {
  block: number;
  deposits: number;
  atRisk: number;
  courtesyCalls: string[];
  redemptions: RedemptionOutcome[];
  /** Every redemption in progress this loop followed (signature, Bitcoin broadcast, proof, fee). */
  signatures: FollowReport[];
  /** Pre-approvals decided this loop (sent, or found done by an earlier run). */
  preapprovals: PreapprovalOutcome[];
  /** Pre-approvals standing that no deposit below the warn level needs; undefined when not counted. */
  preapprovalsLeft?: number;
  alerts: Alert[];
}

async function alertAll(d: WatchDeps, alerts: Alert[], conditionKeysSeen: Set<string>): Promise<void> {
  for (const a of alerts) {
    if (CONDITION_KEY.test(a.key)) conditionKeysSeen.add(a.key);
    const r = await d.hub.notify(a);
    if (!r.suppressed) d.emit({ type: "alert", key: a.key, level: a.level, title: a.title, text: a.text, delivered: r.delivered, failed: r.failed });
  }
}

async function resolveCleared(d: WatchDeps, seen: Set<string>): Promise<void> {
  for (const key of d.hub.activeKeys()) {
    if (!CONDITION_KEY.test(key) || seen.has(key)) continue;
    const r = await d.hub.resolve(key);
    if (r) d.emit({ type: "alert-resolved", key });
  }
}

export async function watchOnce(d: WatchDeps, st: LoopState): Promise<LoopSummary> {
  const now = d.now ?? (() => Math.floor(Date.now() / 1000));
  // A new pass: every endpoint's head is asked in the first batch (the freshest wins).
  d.provider.beginPass?.();
  // What an earlier run left in flight is finished before anything is planned again.
  if (d.sender && !d.dryRun) {
    const settled = await settleJournal(d.sender);
    if (settled.length) d.emit({ type: "journal-settled", keys: settled });
  }
  const knownHead = st.polledHead;
  st.polledHead = undefined;
  const run = await loadTbtcRun(d.cfg, { operators: d.operators, useCache: true, provider: d.provider, knownHead });
  // Real wall time (d.now may be a test's clock): how late after its timestamp a block shows up here.
  if (st.clock) observeHead(st.clock, { number: run.block, timestamp: run.blockTime }, Date.now() / 1000);
  if (run.block !== st.lastHead) {
    st.lastHead = run.block;
    st.lastNewBlockAt = now();
  }
  const live = run.deposits.filter((x) => !x.finished && x.state !== undefined);
  const watched: WatchedDeposit[] = live.map((x) => ({
    address: x.deposit,
    state: x.state!,
    collateralPct: x.collateralBp === undefined ? undefined : Number(x.collateralBp) / 100,
    undercollateralizedPct: x.undercollateralizedThresholdPercent ?? 125,
    severePct: x.severelyUndercollateralizedThresholdPercent ?? 110,
    courtesyDeadline: x.courtesyDeadline ?? null,
  }));
  for (const w of watched) d.emit({ type: "deposit", deposit: w.address, state: stateName(w.state), collateralPct: w.collateralPct ?? null });

  const s = d.sender;
  // 1. Courtesy calls first: a courtesy-called deposit is cheaper to redeem (no VendingMachine premium).
  const firstLook = decideLoop({ now: now(), chainNow: run.blockTime, lastNewBlockAt: st.lastNewBlockAt, deposits: watched }, d.policy);
  const courtesyCalls: string[] = [];
  if (s && !d.dryRun && !d.signal.aborted && firstLook.notifyCourtesy.length) {
    // Every courtesy call of the pass is broadcast before any is waited for: the sender picks
    // consecutive nonces one at a time (its SerialQueue) and settles the receipts side by side,
    // so all of them can land in the next block, not one block per at-risk deposit. Each is
    // journaled under its own key before broadcast, like every other action: a crash or a lost
    // answer is settled, never sent twice. Repeatable: a deposit that left its courtesy call may
    // fall again later.
    const sends = firstLook.notifyCourtesy.map((addr) =>
      s.send(addr, "courtesy-call", { to: addr, data: depositWriteInterface.encodeFunctionData("notifyCourtesyCall"), abi: depositWriteInterface }, { repeatable: true }),
    );
    const results = await Promise.allSettled(sends);
    let conflict: unknown;
    for (const [i, r] of results.entries()) {
      const addr = firstLook.notifyCourtesy[i];
      if (r.status === "rejected") {
        const e = r.reason;
        if (e instanceof AccountConflictError) {
          conflict ??= e; // another sender on this key: stop acting (after reporting the rest)
          continue;
        }
        d.audit.record("courtesy-call", { deposit: addr, status: "failed", error: shortMessageOf(e) });
        d.emit({ type: "courtesy-call-failed", deposit: addr, error: shortMessageOf(e) });
        continue;
      }
      const res = r.value;
      if (res.status === "pending") {
        d.emit({ type: "courtesy-call-pending", deposit: addr, hashes: res.hashes });
        continue;
      }
      const hash = res.status === "mined" ? res.hash : undefined;
      courtesyCalls.push(addr);
      d.audit.record("courtesy-call", { deposit: addr, hash, status: "mined" });
      d.emit({ type: "courtesy-call", deposit: addr, hash });
    }
    if (conflict) throw conflict;
  }

  // 2-3. The redemption pipeline (read candidates -> plan -> execute -> audit) for the deposits
  // that qualify; its alerts join this loop's (the hub de-duplicates them).
  const known = new Map<string, KnownRisk>(live.map((x) => [x.deposit.toLowerCase(), { collateralBp: x.collateralBp, courtesyDeadline: x.courtesyDeadline }]));
  // Without a payout script nothing can be redeemed: skip the redemption reads altogether.
  const toRead = d.script ? watched.filter((w) => needsCandidateRead(w, d.policy)).map((w) => w.address) : [];
  const account = s?.address;
  const rp = s?.provider ?? d.provider; // uncached when we have a sender
  const [eth, pipe] = await Promise.all([
    account ? rp.getBalance(account) : Promise.resolve(undefined),
    s && d.script && toRead.length
      ? runRedemptionPipeline(
          { sender: s, contracts: d.contracts, script: d.script, audit: d.audit, dryRun: !!d.dryRun, signal: d.signal, buy: d.buy && { ...d.buy, emit: d.emit } },
          {
            deposits: toRead, known, settle: false, policy: { redeemBelowPct: d.policy.redeemBelowPct, feeSats: d.policy.feeSats },
            onPlan: (plan) => {
              for (const f of plan.funded) d.emit({ type: "redeem-planned", deposit: f.address, path: f.path, costTbtc: f.costTbtc, collateralPct: f.collateralPct });
              for (const k of plan.skipped) d.emit({ type: "redeem-skipped", deposit: k.address, reason: k.reason });
            },
          },
        )
      : Promise.resolve(undefined),
  ]);
  const decision = decideLoop({ now: now(), chainNow: run.blockTime, lastNewBlockAt: st.lastNewBlockAt, deposits: watched, ethBalance: eth }, d.policy);
  const redemptions: RedemptionOutcome[] = pipe?.outcomes ?? [];
  for (const o of redemptions) d.emit({ type: "redemption", deposit: o.deposit, path: o.path, status: o.status, hash: o.hash ?? null, reason: o.reason ?? null });

  // 3b. Pre-approval: the deposits between the warn level and the redeem line get their exact
  // allowance now, so crossing the line costs one transaction (the request), in the next block.
  const preapprovals: PreapprovalOutcome[] = [];
  let preapprovalsLeft: number | undefined;
  if (s && d.script && d.preapprove && !d.dryRun && !d.signal.aborted) {
    const policy = { enabled: true, warnBelowPct: d.policy.warnBelowPct, redeemBelowPct: d.policy.redeemBelowPct };
    const zone = watched.filter((w) => needsPreapprovalRead(w, policy)).map((w) => w.address);
    try {
      preapprovals.push(...(await runPreapprovals(s, d.contracts, zone, policy, known)));
      const left = await readLeftoverPreapprovals(rp, s.journal, d.contracts.token, s.address, depositsStillAtRisk(watched, d.policy.warnBelowPct));
      preapprovalsLeft = left.length;
      d.emit({ type: "preapprovals-left", count: left.length, tbtc: left.reduce((t, l) => t + l.allowance, 0n), spenders: left.map((l) => l.spender) });
    } catch (e) {
      if (e instanceof AccountConflictError) throw e;
      // A pre-approval is an optimisation: its failure never fails the loop (the redeem line still approves).
      d.emit({ type: "notice", text: `pre-approval skipped this loop: ${redact(shortMessageOf(e))}` });
    }
    for (const p of preapprovals) d.emit({ type: "preapproval", spender: p.spender, amountTbtc: p.amount, deposits: p.deposits, status: p.status, hash: p.hash ?? null, error: p.error ?? null });
  }

  // 4. Every redemption in progress, ours or not (the operator's bond is at risk whoever redeemed):
  // the keep's signature to the deposit, the Bitcoin transaction broadcast, proven, its fee raised.
  const inFlight = new Set(live.filter((x) => x.state === State.AWAITING_WITHDRAWAL_SIGNATURE || x.state === State.AWAITING_WITHDRAWAL_PROOF).map((x) => x.deposit));
  for (const o of redemptions) if (o.status === "requested" || o.status === "already-requested") inFlight.add(o.deposit);
  const signatures: FollowReport[] = [];
  const timeoutAlerts: Alert[] = [];
  if (inFlight.size && !d.signal.aborted) {
    const byAddress = new Map(run.deposits.map((x) => [x.deposit.toLowerCase(), x]));
    const targets = [...inFlight].map((addr) => {
      const x = byAddress.get(addr.toLowerCase());
      return { deposit: addr, keep: x?.keep, fromBlock: x?.createdBlock ?? d.contracts.startBlock };
    });
    // A request mined in this loop is after the scan's head: read the head again.
    const head = redemptions.some((o) => o.status === "requested") ? await headBlock(rp) : { number: run.block, timestamp: run.blockTime };
    const reports = await followRedemptions(
      { provider: rp, sender: s, system: d.contracts.system, bitcoin: d.bitcoin, policy: d.follow ?? DEFAULT_FOLLOW_POLICY, dryRun: d.dryRun, logChunkSize: d.cfg.logChunkSize, historyCache: (st.history ??= new HistoryCache()), onNote: (deposit, text) => d.emit({ type: "notice", text: `${deposit}: ${text}` }) },
      targets,
      head,
    );
    for (const p of reports) {
      signatures.push(p);
      if (p.actions.includes("signature-submitted") && p.hash) d.audit.record("provide-redemption-signature", { deposit: p.deposit, digest: p.digest, hash: p.hash });
      if (p.actions.includes("proof-submitted") && p.hash) d.audit.record("provide-redemption-proof", { deposit: p.deposit, btcTxid: p.btcTxid, hash: p.hash });
      if (p.actions.includes("fee-increased") && p.hash) d.audit.record("increase-redemption-fee", { deposit: p.deposit, step: p.feeIncreases + 1, hash: p.hash });
      if (p.actions.includes("broadcast")) d.audit.record("btc-broadcast", { deposit: p.deposit, btcTxid: p.btcTxid });
      d.emit({ type: "redemption-progress", ...p });
      for (const a of p.alerts) timeoutAlerts.push({ ...a, fields: { deposit: p.deposit } });
    }
  }

  // 4b. --replenish-to: the mint flow moves on, and new lots are opened while TBTC is below the target —
  // not while this loop's means are needed for a redemption (a courtesy call open, TBTC short).
  const mintAlerts: Alert[] = [];
  if (d.replenish && s && !d.dryRun && !d.signal.aborted) {
    const needsMeans = watched.some((w) => w.state === State.COURTESY_CALL) || (pipe?.plan.unfunded.length ?? 0) > 0;
    const r = await replenishPass(d.replenish, { redemptionNeedsMeans: needsMeans });
    for (const o of r.opened) d.emit({ type: "notice", text: `replenish: opened mint order ${o.order} (${o.count} × ${formatUnits(o.lotSats, 8)} BTC) toward ${formatUnits(d.replenish.targetTbtc, 18)} TBTC` });
    for (const x of r.reports) if (x.outcome) d.emit({ type: "notice", text: `replenish: deposit ${x.deposit ?? "-"} ${x.outcome}` });
    mintAlerts.push(...r.alerts);
  }

  // 5. Alerts (deduped by the hub), then resolve conditions that cleared.
  const alerts = [...reorgAlerts(s?.sender.takeReorgs() ?? []), ...dropRedeemedAlerts(decision.alerts, redemptions), ...(pipe?.alerts ?? []), ...timeoutAlerts, ...mintAlerts];
  const seen = new Set<string>();
  await alertAll(d, alerts, seen);
  await resolveCleared(d, seen);
  const atRisk = watched.filter((w) => w.state === State.COURTESY_CALL || (w.collateralPct !== undefined && w.collateralPct < d.policy.warnBelowPct)).length;
  return { block: run.block, deposits: watched.length, atRisk, courtesyCalls, redemptions, signatures, preapprovals, preapprovalsLeft, alerts };
}

/**
 * Waits `intervalSec`, or less when `onBlock` and the head moves; returns early on abort. With a
 * ws:// endpoint the head is pushed (eth_subscribe) and polled only while its socket is down. The
 * head is polled about once per block time (BlockClock), not every few seconds; the head a poll
 * finds is handed to the next loop, which then reads the new block's logs and the live deposits
 * in one batch (loadTbtcRun's knownHead): an idle block costs the poll and that one batch.
 */
async function waitNext(d: WatchDeps, st: LoopState): Promise<void> {
  if (!d.onBlock) return sleep(d.intervalSec * 1000, d.signal);
  const until = Date.now() + d.intervalSec * 1000;
  const clock = (st.clock ??= newBlockClock());
  if (st.heads === undefined) st.heads = d.provider.headFeed((text) => d.emit({ type: "notice", text })) ?? null;
  if (!st.seeded && clock.last) {
    // The pace of the chain so far, from one older block's timestamp (one call, once).
    st.seeded = true;
    const from = Math.max(0, clock.last.number - BLOCK_CLOCK_HISTORY);
    const older = await d.provider.send("eth_getBlockByNumber", [toQuantity(from), false]).then((raw) => parseBlockHeader(raw, `block ${from}`)).catch(() => null); // no history: the heads seen will do
    if (older) seedBlockClock(clock, older, clock.last);
  }
  while (!d.signal.aborted && Date.now() < until) {
    // Pushed over a WebSocket: woken by the head itself. Polled while the socket is down.
    const push = st.heads;
    if (push?.feed.pushing) {
      const head = await push.feed.next(st.lastHead, until, d.signal);
      if (head) {
        observeHead(clock, head, Date.now() / 1000);
        // A head from an endpoint the pool set aside (lagging, failing) only wakes the loop: the pass reads its own.
        if (push.trusted()) st.polledHead = head;
        return;
      }
      continue;
    }
    await sleep(Math.min(nextPollDelayMs(clock, Date.now()), until - Date.now()), d.signal);
    if (d.signal.aborted) return;
    const head = await readHead(d.provider).catch(() => undefined);
    if (head && head.number > st.lastHead) {
      observeHead(clock, head, Date.now() / 1000);
      st.polledHead = head;
      return;
    }
  }
}

/**
 * Runs loops until `once` or the abort signal, through the one loop runner (src/lib/loop.ts);
 * returns the number of loops that failed and the last failure (so `--once` can exit with its
 * code). A fatal error (another sender on the key, a config error) ends the loop and is returned
 * as `fatal`; `maxFailedLoops` failures in a row end a long-running watch with LoopFailingError
 * (exit 11) after a critical alert.
 */
export async function runWatch(d: WatchDeps): Promise<{ loops: number; failures: number; lastError?: unknown; fatal?: KeepctlError; last?: LoopSummary }> {
  const st: LoopState = { loop: 0, lastHead: -1, lastNewBlockAt: Math.floor(Date.now() / 1000), clock: newBlockClock() };
  const run = await runLoop(
    async (n) => {
      st.loop = n;
      const summary = await watchOnce(d, st);
      for (const key of ["rpc-failing", "loop-error"]) await d.hub.resolve(key).catch(() => null);
      return summary;
    },
    {
      once: d.once, intervalSec: d.intervalSec, signal: d.signal, maxFailedPasses: d.maxFailedLoops ?? DEFAULT_MAX_FAILED_PASSES,
      heartbeatUrl: d.heartbeatUrl, unit: "loops", name: "watch",
      wait: () => waitNext(d, st),
      onError: (e, i) => {
        // Alerts leave the machine (Slack, webhooks): never a key or RPC URL in them.
        const msg = redact(e instanceof KeepctlError ? e.message : shortMessageOf(e));
        d.emit({ type: "loop-error", loop: i.pass, error: msg, code: e instanceof KeepctlError ? e.code : "INTERNAL" });
      },
      onPassFailed: async (e) => {
        const msg = redact(e instanceof KeepctlError ? e.message : shortMessageOf(e));
        // Acting on would risk doing everything twice: alert, and the runner ends the loop (exit 8).
        const a: Alert =
          e instanceof AccountConflictError
            ? { key: `account-conflict:${d.sender?.address ?? ""}`, level: "critical", title: "another sender uses this account", text: msg }
            : e instanceof RpcError
              ? { key: "rpc-failing", level: "critical", title: "RPC failing", text: msg }
              : { key: "loop-error", level: "critical", title: "watch loop failed", text: msg };
        await alertAll(d, [a], new Set());
      },
      onPassEnd: (end) => {
        const s = end.result;
        d.emit({ type: "heartbeat", loop: end.pass, ok: end.ok, ms: end.ms, block: s?.block ?? null, deposits: s?.deposits ?? null, atRisk: s?.atRisk ?? null, ...(end.ping !== undefined ? { ping: end.ping } : {}) });
      },
      onGiveUp: async (text, failedInRow, loops) => {
        await alertAll(d, [{ key: "watch-stopping", level: "critical", title: "watch stopping", text }], new Set());
        d.emit({ type: "stopped", reason: "failing", loops, failedInRow });
      },
    },
  );
  if (d.signal.aborted) d.emit({ type: "stopped", reason: "signal", loops: run.passes });
  return { loops: run.passes, failures: run.failures, lastError: run.lastError, fatal: run.fatal, last: run.last };
}

/**
 * What `watch --once` should exit with when its loop ran but an action did not end (see
 * outcomeExitCode): a redemption that failed, was deferred, or is pending, or a signature pending.
 */
export function unfinishedExitCode(s: LoopSummary | undefined): number | undefined {
  // A pre-approval sent but not mined is an action in flight too (cron re-runs to settle it); a failed one is not: it is only an optimisation.
  const pending = s?.signatures.some((p) => p.actions.some((a) => a === "signature-pending" || a === "proof-pending" || a === "fee-increase-pending")) || s?.preapprovals.some((p) => p.status === "pending");
  return outcomeExitCode(s?.redemptions ?? [], { signaturePending: pending });
}
