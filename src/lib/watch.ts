import type { Config } from "./config";
import { ExitCode, KeepctlError, RpcError, shortMessageOf } from "./errors";
import { redact } from "./redact";
import type { AlertHub } from "./alert/hub";
import type { Alert } from "./alert/types";
import { pingHeartbeat } from "./alert/heartbeat";
import { DEFAULT_MAX_FAILED_PASSES, FailureStreak, LoopFailingError } from "./loop";
import type { AuditLog } from "./audit";
import type { KeepctlProvider } from "./chain/provider";
import { AccountConflictError } from "./chain/nonce";
import { State, stateName } from "./tbtc/abis";
import { depositWriteInterface } from "./tbtc/redeem-abi";
import { headBlock, readCandidates, readTbtc, type KnownRisk, type TbtcContracts } from "./tbtc/redeem-facts";
import { executePlan, settleJournal, type JournaledSender, type RedemptionOutcome } from "./tbtc/redeemer";
import { advanceRedemption, type RedemptionProgress } from "./tbtc/progress";
import { loadTbtcRun } from "./tbtc/report";
import { decideLoop, depositAlerts, dropRedeemedAlerts, needsCandidateRead, outcomeAlerts, type WatchPolicy, type WatchedDeposit } from "./watch-decide";

/**
 * The `keepctl watch` loop: refresh -> judge -> courtesy calls -> redeem by policy -> submit
 * redemption signatures -> alerts -> heartbeat. Each step is isolated per deposit; a failing
 * RPC becomes an alert and the next loop tries again. Decisions are made in watch-decide.ts.
 */
export type WatchEvent = { type: string; [k: string]: unknown };

export interface WatchDeps {
  cfg: Config;
  provider: KeepctlProvider;
  contracts: TbtcContracts;
  operators: string[];
  /** Undefined: read-only (no key configured): alerts only. */
  sender?: JournaledSender;
  /** Length-prefixed payout script; undefined disables redemption (alerts only). */
  script?: string;
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
}

/** Keys whose condition is re-evaluated every loop (resolved when absent). */
const CONDITION_KEY = /^(warn|courtesy|liquidation|sig-timeout|proof-timeout):|^(tbtc-short|eth-low|stale-chain|rpc-failing)$/;

export interface LoopState {
  loop: number;
  lastHead: number;
  lastNewBlockAt: number;
}

export interface LoopSummary {
  block: number;
  deposits: number;
  atRisk: number;
  courtesyCalls: string[];
  redemptions: RedemptionOutcome[];
  signatures: RedemptionProgress[];
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
  // What an earlier run left in flight is finished before anything is planned again.
  if (d.sender && !d.dryRun) {
    const settled = await settleJournal(d.sender);
    if (settled.length) d.emit({ type: "journal-settled", keys: settled });
  }
  const run = await loadTbtcRun(d.cfg, { operators: d.operators, useCache: true, provider: d.provider });
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
  const firstLook = decideLoop({ now: now(), chainNow: run.blockTime, lastNewBlockAt: st.lastNewBlockAt, deposits: watched, candidates: [], tbtcBalance: 0n }, d.policy);
  const courtesyCalls: string[] = [];
  if (s && !d.dryRun) {
    for (const addr of firstLook.notifyCourtesy) {
      if (d.signal.aborted) break;
      try {
        // Journaled like every other action: a crash or a lost answer is settled, never sent twice.
        // Repeatable: a deposit that left its courtesy call may fall again later.
        const res = await s.send(addr, "courtesy-call", { to: addr, data: depositWriteInterface.encodeFunctionData("notifyCourtesyCall"), abi: depositWriteInterface }, { repeatable: true });
        if (res.status === "pending") {
          d.emit({ type: "courtesy-call-pending", deposit: addr, hashes: res.hashes });
          continue;
        }
        const hash = res.status === "mined" ? res.hash : undefined;
        courtesyCalls.push(addr);
        d.audit.record("courtesy-call", { deposit: addr, hash, status: "mined" });
        d.emit({ type: "courtesy-call", deposit: addr, hash });
      } catch (e) {
        if (e instanceof AccountConflictError) throw e; // another sender on this key: stop acting
        d.audit.record("courtesy-call", { deposit: addr, status: "failed", error: shortMessageOf(e) });
        d.emit({ type: "courtesy-call-failed", deposit: addr, error: shortMessageOf(e) });
      }
    }
  }

  // 2. Redemption facts for the deposits that qualify, balances, the decision.
  const known = new Map<string, KnownRisk>(live.map((x) => [x.deposit.toLowerCase(), { collateralBp: x.collateralBp, courtesyDeadline: x.courtesyDeadline }]));
  // Without a payout script nothing can be redeemed: skip the redemption reads altogether.
  const toRead = d.script ? watched.filter((w) => needsCandidateRead(w, d.policy)).map((w) => w.address) : [];
  const account = s?.address;
  const rp = s?.provider ?? d.provider; // uncached when we have a sender
  const [candidates, tbtc, eth] = await Promise.all([
    account && toRead.length ? readCandidates(rp, d.contracts, toRead, account, known) : Promise.resolve([]),
    account ? readTbtc(rp, d.contracts.token, account) : Promise.resolve({ balance: 0n, allowance: 0n }),
    account ? rp.getBalance(account) : Promise.resolve(undefined),
  ]);
  const decision = decideLoop(
    { now: now(), chainNow: run.blockTime, lastNewBlockAt: st.lastNewBlockAt, deposits: watched, candidates, tbtcBalance: tbtc.balance, ethBalance: eth },
    d.policy,
  );
  for (const f of decision.plan.funded) d.emit({ type: "redeem-planned", deposit: f.address, path: f.path, costTbtc: f.costTbtc, collateralPct: f.collateralPct });
  for (const k of decision.plan.skipped) d.emit({ type: "redeem-skipped", deposit: k.address, reason: k.reason });

  // 3. Redeem.
  let redemptions: RedemptionOutcome[] = [];
  if (s && d.script && !d.dryRun && !d.signal.aborted && decision.plan.funded.length) {
    redemptions = await executePlan(s, d.contracts, decision.plan, d.script, d.signal);
    for (const o of redemptions) {
      d.audit.record("redeem", { deposit: o.deposit, path: o.path, status: o.status, hash: o.hash, reason: o.reason });
      d.emit({ type: "redemption", deposit: o.deposit, path: o.path, status: o.status, hash: o.hash ?? null, reason: o.reason ?? null });
    }
  }

  // 4. Redemption signatures for deposits being redeemed (ours just now, or found in the scan).
  const inFlight = new Set(live.filter((x) => x.state === State.AWAITING_WITHDRAWAL_SIGNATURE || x.state === State.AWAITING_WITHDRAWAL_PROOF).map((x) => x.deposit));
  for (const o of redemptions) if (o.status === "requested" || o.status === "already-requested") inFlight.add(o.deposit);
  const signatures: RedemptionProgress[] = [];
  const timeoutAlerts: Alert[] = [];
  if (s) {
    for (const addr of inFlight) {
      if (d.signal.aborted) break;
      const p = await advanceRedemption(s, d.contracts, addr, run.blockTime, { dryRun: d.dryRun });
      signatures.push(p);
      if (p.action === "signature-submitted" && p.hash) d.audit.record("provide-redemption-signature", { deposit: addr, digest: p.digest, hash: p.hash });
      d.emit({ type: "redemption-progress", ...p });
      if (p.requestedAt !== undefined) {
        const st2 = p.state === "AWAITING_WITHDRAWAL_PROOF" ? State.AWAITING_WITHDRAWAL_PROOF : State.AWAITING_WITHDRAWAL_SIGNATURE;
        timeoutAlerts.push(...depositAlerts({ address: addr, state: st2, undercollateralizedPct: 0, severePct: 0, courtesyDeadline: null, requestedAt: p.requestedAt }, { chainNow: run.blockTime }, d.policy));
      }
    }
  }

  // 5. Alerts (deduped by the hub), then resolve conditions that cleared.
  const alerts = [...dropRedeemedAlerts(decision.alerts, redemptions), ...outcomeAlerts(redemptions), ...timeoutAlerts];
  const seen = new Set<string>();
  await alertAll(d, alerts, seen);
  await resolveCleared(d, seen);
  const atRisk = watched.filter((w) => w.state === State.COURTESY_CALL || (w.collateralPct !== undefined && w.collateralPct < d.policy.warnBelowPct)).length;
  return { block: run.block, deposits: watched.length, atRisk, courtesyCalls, redemptions, signatures, alerts };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Waits `intervalSec`, or less when `onBlock` and the head moves; returns early on abort. */
async function waitNext(d: WatchDeps, lastHead: number): Promise<void> {
  const until = Date.now() + d.intervalSec * 1000;
  if (!d.onBlock) return sleep(d.intervalSec * 1000, d.signal);
  while (!d.signal.aborted && Date.now() < until) {
    await sleep(Math.min(2000, until - Date.now()), d.signal);
    const head = await headBlock(d.provider).then((b) => b.number, () => lastHead);
    if (head > lastHead) return;
  }
}

/**
 * Runs loops until `once` or the abort signal; returns the number of loops that failed and the
 * last failure (so `--once` can exit with its code). `maxFailedLoops` failures in a row end a
 * long-running watch with LoopFailingError (exit 11) after a critical alert.
 */
export async function runWatch(d: WatchDeps): Promise<{ loops: number; failures: number; lastError?: unknown; last?: LoopSummary }> {
  const st: LoopState = { loop: 0, lastHead: -1, lastNewBlockAt: Math.floor(Date.now() / 1000) };
  let failures = 0;
  let lastError: unknown;
  let last: LoopSummary | undefined;
  const streak = new FailureStreak(d.maxFailedLoops ?? DEFAULT_MAX_FAILED_PASSES);
  while (!d.signal.aborted) {
    st.loop++;
    const started = Date.now();
    let ok = true;
    let summary: LoopSummary | undefined;
    try {
      summary = await watchOnce(d, st);
      last = summary;
      for (const key of ["rpc-failing", "loop-error"]) await d.hub.resolve(key).catch(() => null);
    } catch (e) {
      ok = false;
      failures++;
      lastError = e;
      if (e instanceof AccountConflictError) {
        // Acting on would risk doing everything twice: alert and end the loop (exit 8).
        d.emit({ type: "loop-error", loop: st.loop, error: redact(e.message), code: e.code });
        await alertAll(d, [{ key: `account-conflict:${d.sender?.address ?? ""}`, level: "critical", title: "another sender uses this account", text: redact(e.message) }], new Set()).catch(() => undefined);
        break;
      }
      // Alerts leave the machine (Slack, webhooks): never a key or RPC URL in them.
      const msg = redact(e instanceof KeepctlError ? e.message : shortMessageOf(e));
      d.emit({ type: "loop-error", loop: st.loop, error: msg, code: e instanceof KeepctlError ? e.code : "INTERNAL" });
      const rpc = e instanceof RpcError;
      await alertAll(d, [{ key: rpc ? "rpc-failing" : "loop-error", level: "critical", title: rpc ? "RPC failing" : "watch loop failed", text: msg }], new Set()).catch(() => undefined);
    }
    const beat: WatchEvent = { type: "heartbeat", loop: st.loop, ok, ms: Date.now() - started, block: summary?.block ?? null, deposits: summary?.deposits ?? null, atRisk: summary?.atRisk ?? null };
    if (d.heartbeatUrl && ok) {
      const hb = await pingHeartbeat(d.heartbeatUrl);
      beat.ping = hb.ok ? "ok" : hb.error;
    }
    d.emit(beat);
    if (ok) streak.succeeded();
    else if (streak.failed() && !d.once && !d.signal.aborted) {
      const text = streak.describe("loops", lastError);
      await alertAll(d, [{ key: "watch-stopping", level: "critical", title: "watch stopping", text }], new Set()).catch(() => undefined);
      d.emit({ type: "stopped", reason: "failing", loops: st.loop, failedInRow: streak.count });
      throw new LoopFailingError(`watch stopped: ${text}`, { cause: lastError, details: { failedLoops: streak.count } });
    }
    if (d.once) break;
    await waitNext(d, st.lastHead);
  }
  if (d.signal.aborted) d.emit({ type: "stopped", reason: "signal", loops: st.loop });
  return { loops: st.loop, failures, lastError, last };
}

/**
 * What `watch --once` should exit with when its loop ran but an action did not end: a redemption
 * that failed (its own code), one deferred by a failing RPC (4), one sent but not mined yet (9).
 * Cron re-runs on non-zero; the journal makes the re-run finish, never repeat, what was sent.
 */
export function unfinishedExitCode(s: LoopSummary | undefined): number | undefined {
  const r = s?.redemptions ?? [];
  const failed = r.find((o) => o.status === "failed");
  if (failed) return failed.error?.exitCode ?? ExitCode.INTERNAL;
  if (r.some((o) => o.status === "deferred")) return ExitCode.RPC;
  if (r.some((o) => o.status === "pending") || s?.signatures.some((p) => p.action === "signature-pending")) return ExitCode.TX_PENDING;
  return undefined;
}
