import { KeepctlError, RevertError, shortMessageOf } from "../errors";
import { redact } from "../redact";
import type { Alert } from "../alert/types";
import { LookbackError } from "../rai/types";
import type { RaiFeed } from "../rai/feed";
import { isFatal, runLoop } from "../loop";
import type { BotEmit, BotSender } from "./bot-sender";
import { empInterface, encodeApprove, encodeWithdrawLiquidation, erc20Interface, decodeWithdrawLiquidationResult, type EmpClient, type EmpParams, type ScanOptions } from "./emp-client";
import type { LiquidationSnapshot, RewardRole } from "./dispute-strategy";

/**
 * What both bots share: the price source, the context a pass runs in, reward withdrawal, and the
 * loop itself (update -> act -> withdraw, each pass wrapped in retries with backoff).
 */

/** Where a pass gets its price: the RAI feed, or an operator's fixed --price. */
export interface PriceSource {
  readonly label: string;
  update(): Promise<void>;
  /** Current price (1e18 = 1.0); null when none is known. */
  current(): bigint | null;
  /** Historical price at `t`; null when `t` is outside what the source can look back to. */
  at(t: bigint): bigint | null;
  /** The chain time current() prices at (the last update's), when the source has one. */
  pricedAt?(): number | undefined;
}

export function fixedPrice(price: bigint): PriceSource {
  return { label: "--price", update: async () => undefined, current: () => price, at: () => price };
}

export function raiFeedPrice(feed: RaiFeed, onWarning?: (msg: string) => void): PriceSource {
  return {
    label: "RAI redemption-rate feed",
    update: async () => {
      const s = await feed.update();
      for (const w of s.warnings) onWarning?.(w);
    },
    current: () => feed.currentPrice(),
    pricedAt: () => feed.lastUpdate?.now,
    at: (t) => {
      try {
        return feed.historicalPrice(Number(t));
      } catch (e) {
        if (e instanceof LookbackError) return null; // the strategy skips it as outside-lookback
        throw e;
      }
    },
  };
}

/** Reads and sends must go through a provider without ethers' response cache (KeepctlProvider has none). */
export interface BotContext {
  client: EmpClient;
  params: EmpParams;
  sender: BotSender;
  price: PriceSource;
  emit: BotEmit;
  /** fromBlock (the EMP's deployment) and chunk size for event scans. */
  scan: ScanOptions;
  alert?: (a: Alert) => Promise<void>;
  signal?: AbortSignal;
  /** Called between update and act (tests use it to stage races). */
  beforeAct?: () => Promise<void>;
}

/**
 * Correction alerts for what a reorg took back (findings of the pass's reconcile): a liquidation,
 * dispute or withdrawal the bot reported is followed by the truth under the same alert key.
 */
export async function alertReorgs(ctx: BotContext): Promise<void> {
  for (const f of ctx.sender.action.takeReorgs()) {
    if (f.outcome === "re-mined") continue; // still in the chain: nothing reported was false
    const verb = f.key.split(":").at(-1) ?? "action";
    const key = verb === "liquidate" ? `liquidated:${f.key}` : verb === "withdraw" ? `withdrawn:${f.key}` : `reorged:${f.key}`;
    const what = f.outcome === "rebroadcast" ? `left the chain; the same signed transaction was sent again${f.detail ? ` (${f.detail})` : ""}` : `left the chain and is no longer possible: ${f.detail}`;
    await ctx.alert?.({ key, level: "warning", title: `correction: EMP ${verb} reorged away`, text: `${f.key} mined in block ${f.blockNumber ?? "?"} (tx ${f.hash}) ${what}`, fields: { nonce: f.nonce } }).catch(() => undefined);
  }
}

/** Approves `amount` of `token` to the EMP (journaled `${emp}:${token}:approve`); true when only simulated (dry-run). */
export async function approveExactly(ctx: BotContext, token: string, which: string, amount: bigint): Promise<boolean> {
  const { params, sender, emit } = ctx;
  const req = { ...encodeApprove(token, params.address, amount), label: `approve ${which} for ${params.address}`, abi: erc20Interface };
  const r = await sender.send(`${params.address}:${token}:approve`, req, { repeatable: true, meta: { amount: amount.toString() } });
  if (r.status !== "dry-run") return false;
  emit({ type: "skipped", action: "approve", token: which, amount, reason: "dry-run" });
  return true;
}

export interface WithdrawalOutcome {
  sponsor: string;
  liquidationId: bigint;
  status: "withdrawn" | "dry-run" | "lost-race";
  hash?: string;
  paidToLiquidator: bigint;
  paidToDisputer: bigint;
  paidToSponsor: bigint;
}

/**
 * Collects what `role` is owed: simulates withdrawLiquidation for each candidate and sends only
 * when it would succeed and pay this account something (a dispute waits for the oracle's price).
 */
export async function withdrawRewards(ctx: BotContext, candidates: LiquidationSnapshot[], role: RewardRole): Promise<WithdrawalOutcome[]> {
  const me = ctx.sender.address.toLowerCase();
  const out: WithdrawalOutcome[] = [];
  for (const l of candidates) {
    if (ctx.signal?.aborted) break;
    const req = { ...encodeWithdrawLiquidation(ctx.params.address, l.id, l.sponsor), label: `withdraw ${l.sponsor}#${l.id}`, abi: empInterface };
    let payout;
    try {
      payout = decodeWithdrawLiquidationResult(await ctx.sender.provider.call({ ...req, from: ctx.sender.address }));
    } catch {
      ctx.emit({ type: "skipped", action: "withdraw", sponsor: l.sponsor, liquidationId: l.id, reason: "not-withdrawable-yet" });
      continue;
    }
    const mine = (l.liquidator.toLowerCase() === me ? payout.paidToLiquidator : 0n) + (l.disputer.toLowerCase() === me ? payout.paidToDisputer : 0n);
    if (mine === 0n) {
      ctx.emit({ type: "skipped", action: "withdraw", sponsor: l.sponsor, liquidationId: l.id, reason: "nothing-owed" });
      continue;
    }
    const key = `${ctx.params.address}:${l.sponsor}:${l.id}:withdraw`;
    try {
      const sent = await ctx.sender.send(key, req, { repeatable: false, meta: { role, expected: mine.toString() } });
      if (sent.status === "dry-run") {
        ctx.emit({ type: "skipped", action: "withdraw", sponsor: l.sponsor, liquidationId: l.id, reason: "dry-run", role, ...payout, gasLimit: sent.prepared.gasLimit });
        out.push({ sponsor: l.sponsor, liquidationId: l.id, status: "dry-run", ...payout });
        continue;
      }
      if (sent.status === "done-earlier") continue;
      if (sent.status === "pending") continue; // sent, not mined yet: the next pass settles it
      const ev = sent.receipt.logs.map((x) => safeParse(x)).find((e) => e?.name === "LiquidationWithdrawn");
      const paid = ev
        ? { paidToLiquidator: ev.args.paidToLiquidator as bigint, paidToDisputer: ev.args.paidToDisputer as bigint, paidToSponsor: ev.args.paidToSponsor as bigint }
        : payout;
      ctx.emit({ type: "withdrawn", sponsor: l.sponsor, liquidationId: l.id, role, hash: sent.hash, ...paid });
      await ctx.alert?.({ key: `withdrawn:${key}`, level: "info", title: `EMP reward withdrawn (${role})`, text: `liquidation ${l.id} of ${l.sponsor}`, fields: { ...paid, tx: sent.hash } });
      out.push({ sponsor: l.sponsor, liquidationId: l.id, status: "withdrawn", hash: sent.hash, ...paid });
    } catch (e) {
      // Anyone may call withdrawLiquidation and it pays every party: if the record is gone, we were paid.
      const [now] = (await ctx.client.readLiquidations(l.sponsor)).filter((x) => x.id === l.id);
      if (e instanceof RevertError && (!now || now.state === 0)) {
        const message = `liquidation ${l.id} of ${l.sponsor} was withdrawn by someone else first (it pays every party); skipped`;
        ctx.sender.journal.recordSkipped(key, message);
        ctx.emit({ type: "warning", action: "withdraw", sponsor: l.sponsor, liquidationId: l.id, reason: "lost-race", message });
        out.push({ sponsor: l.sponsor, liquidationId: l.id, status: "lost-race", ...payout });
        continue;
      }
      throw e;
    }
  }
  return out;
}

function safeParse(log: { topics: readonly string[]; data: string }) {
  try {
    return empInterface.parseLog(log);
  } catch {
    return null;
  }
}

export interface LoopOptions {
  /** Seconds between passes; 0 means one pass. */
  intervalSec: number;
  once: boolean;
  /** Retries of a failed pass before it counts as failed (default 3). */
  retries: number;
  /** First backoff delay, doubling per retry (default 1000 ms). */
  backoffMs?: number;
  signal: AbortSignal;
  emit: BotEmit;
  /** Pinged after each pass that succeeded, never after a failed one (it is a dead-man switch). */
  heartbeatUrl?: string;
  alert?: (a: Alert) => Promise<void>;
  /** Failed passes in a row after which a long-running bot alerts and exits 11; 0 = never (default 5). */
  maxFailedPasses?: number;
  /** After every pass, good or bad (the metrics exporter). */
  onPassEnd?: (end: { pass: number; ok: boolean; ms: number }) => void;
}

/**
 * Runs `pass` once, or every `intervalSec` until the signal aborts, through the one loop runner
 * (src/lib/loop.ts). A pass that still fails after its retries ends a one-shot run with that
 * error; a long-running bot reports it and goes on, until `maxFailedPasses` in a row end it with
 * LoopFailingError (exit 11) after a critical alert. Fatal errors (usage, config, account
 * conflict, interrupt) end it at once.
 */
export async function runBotLoop<T>(pass: (n: number) => Promise<T>, o: LoopOptions): Promise<{ passes: number; last?: T }> {
  const once = o.once || o.intervalSec === 0;
  const run = await runLoop(pass, {
    once, intervalSec: o.intervalSec, signal: o.signal, retries: o.retries, backoffMs: o.backoffMs,
    maxFailedPasses: o.maxFailedPasses, heartbeatUrl: o.heartbeatUrl, unit: "passes", name: "EMP bot",
    onError: (e, i) => {
      if (!i.fatal) o.emit({ type: "error", pass: i.pass, attempt: i.attempt, willRetry: i.willRetry, message: redact(shortMessageOf(e)), code: e instanceof KeepctlError ? e.code : "INTERNAL" });
    },
    onPassFailed: async (e) => {
      if (isFatal(e)) return; // the error itself is the report (and the sender alerted a conflict)
      await o.alert?.({ key: "emp-bot-pass-failed", level: "critical", title: "EMP bot pass failed", text: redact(shortMessageOf(e)) });
    },
    onPassEnd: (end) => {
      o.onPassEnd?.({ pass: end.pass, ok: end.ok, ms: end.ms });
      if (end.ping !== undefined && end.ping !== "ok") o.emit({ type: "warning", message: end.ping });
    },
    onGiveUp: async (text) => {
      await o.alert?.({ key: "emp-bot-stopping", level: "critical", title: "EMP bot stopping", text });
    },
  });
  if (run.fatal) throw run.fatal;
  if (once && run.lastError !== undefined) throw run.lastError;
  return { passes: run.passes, last: run.last };
}
