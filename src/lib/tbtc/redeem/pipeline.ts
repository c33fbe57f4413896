import { formatUnits } from "ethers";
import { ExitCode, InsufficientFundsError } from "../../errors";
import type { Alert } from "../../alert/types";
import type { AuditLog } from "../../audit";
import { planRedemptions, type Candidate, type Plan, type PlanPolicy } from "./planner";
import { readCandidates, readTbtc, type KnownRisk, type TbtcContracts } from "./redeem-facts";
import { reorgAlerts } from "./reorg-alerts";
import { estimatePlanGas, executePlan, settleJournal, type JournaledSender, type RedemptionOutcome } from "./redeemer";
import type { BuyDeps, SwapOutcome } from "../buy/buyer";
import { planBuyRound, reportBuy, reportRefusals, startBuy, type BuyRound } from "../buy/buy-round";

/**
 * The one tBTC redemption pipeline, used by `redeem` (once) and `watch` (every loop):
 * settle in-flight -> read candidates -> plan -> execute -> audit -> alert. The command around it
 * only parses, confirms and renders; --dry-run is decided here once (nothing settled or sent).
 * The pure parts (shortfall, outcome alerts, exit codes) are exported for unit tests.
 */
export type GasInfo = Awaited<ReturnType<typeof estimatePlanGas>>[number];

export interface PipelineDeps {
  sender: JournaledSender;
  contracts: TbtcContracts;
  /** Length-prefixed payout script. */
  script: string;
  audit: AuditLog;
  dryRun: boolean;
  /** Where the pipeline's alerts go (a shortfall, what the redeemer did); none: only returned. */
  alert?: (a: Alert) => Promise<unknown>;
  signal?: AbortSignal;
  /** --buy-shortfall: buy what the at-risk deposits lack from the pool, within its bounds (../buy/). */
  buy?: BuyDeps;
}

export interface PipelineInput {
  deposits: readonly string[];
  /** Collateralization and deadlines from an operator scan (saves reads). */
  known?: ReadonlyMap<string, KnownRisk>;
  policy: PlanPolicy;
  /** Settle what earlier runs left in flight first (watch settles at the top of its loop instead). */
  settle?: boolean;
  /** Worst-case gas per planned item, for a plan shown before confirming. */
  estimateGas?: boolean;
  /** Sees every plan (to show it), before anything is sent. */
  onPlan?: (plan: Plan, gas: Map<string, GasInfo>, buy?: BuyRound) => void;
  /** Asked before anything is sent; false cancels (the TTY prompt). */
  confirm?: (plan: Plan, gas: Map<string, GasInfo>, buy?: BuyRound) => Promise<boolean>;
}

export interface PipelineResult {
  settled: string[];
  account: string;
  plan: Plan;
  gas: Map<string, GasInfo>;
  outcomes: RedemptionOutcome[];
  /** The confirm callback said no: nothing was sent. */
  cancelled: boolean;
  alerts: Alert[];
  /** The buy step (with --buy-shortfall and a shortfall): its order, refusals and the swap's outcome. */
  buy?: BuyRound & { swap?: SwapOutcome };
}

export async function runRedemptionPipeline(d: PipelineDeps, input: PipelineInput): Promise<PipelineResult> {
  const s = d.sender;
  // 1. A crashed run's transactions first: rebroadcast or confirm them, never sign twice.
  const settled = input.settle !== false && !d.dryRun ? await settleJournal(s) : [];
  // 2. Facts read without a response cache (reads right after a send must see it).
  const [candidates, tbtc] = await Promise.all([
    input.deposits.length ? readCandidates(s.provider, d.contracts, input.deposits, s.address, input.known) : Promise.resolve([] as Candidate[]),
    readTbtc(s.provider, d.contracts.token, s.address),
  ]);
  // 3. Plan (pure).
  let plan = planRedemptions(candidates, tbtc.balance, input.policy);
  // 3b. --buy-shortfall: price what the unfunded at-risk deposits lack, bound it, plan again with it.
  const buyAlerts: Alert[] = [];
  const buyDeps = d.buy && { ...d.buy, alert: async (a: Alert) => void buyAlerts.push(a) };
  const buy: PipelineResult["buy"] = buyDeps && plan.unfunded.length ? await planBuyRound(s, buyDeps, plan, candidates, tbtc.balance, input.policy) : undefined;
  if (buy) plan = buy.plan;
  const gas = new Map<string, GasInfo>();
  if (input.estimateGas && plan.funded.length) for (const g of await estimatePlanGas(s, d.contracts, plan, d.script)) gas.set(g.deposit, g);
  input.onPlan?.(plan, gas, buy);
  // 4. Execute, unless dry-run, aborted or not confirmed. The swap goes first; the requests it pays
  // for wait for it (their approvals do not).
  let outcomes: RedemptionOutcome[] = [];
  let cancelled = false;
  if (plan.funded.length && !d.dryRun && !d.signal?.aborted) {
    cancelled = input.confirm ? !(await input.confirm(plan, gas, buy)) : false;
    if (!cancelled) {
      const started = buyDeps && buy?.order && buy.quote ? startBuy(s, buyDeps, { ...buy, order: buy.order, quote: buy.quote }) : undefined;
      outcomes = await executePlan(s, d.contracts, plan, d.script, d.signal, started?.gates);
      if (started) buy!.swap = await started.swap;
    }
  }
  if (buy && buyDeps && !d.dryRun && !cancelled) {
    if (buy.swap) await reportBuy(s, buyDeps, buy.swap);
    await reportRefusals(s, buyDeps, buy.refused);
  }
  // 5. Audit what was done.
  for (const o of outcomes) d.audit.record("redeem", { deposit: o.deposit, path: o.path, status: o.status, hash: o.hash, reason: o.reason, account: s.address });
  // 6. Alert: a shortfall is news even in a one-shot or dry run (a fact about the balance, not an
  // action: the operator must top up before it matters).
  // Corrections first: a "requested" that a reorg took back is retracted before what is true now.
  const alerts = [...reorgAlerts(s.sender.takeReorgs()), ...shortfallAlerts(plan), ...buyAlerts, ...outcomeAlerts(outcomes)];
  if (d.alert) for (const a of alerts) await d.alert(a).catch(() => undefined);
  return { settled, account: s.address, plan, gas, outcomes, cancelled, alerts, buy };
}

export const formatTbtc = (wei: bigint) => {
  const whole = wei / 10n ** 18n;
  const frac = (wei % 10n ** 18n).toString().padStart(18, "0").slice(0, 4);
  return `${whole}.${frac}`;
};

/** TBTC missing to redeem every eligible deposit (0 when all are funded). */
export function shortfallTbtc(plan: Plan): bigint {
  if (!plan.unfunded.length) return 0n;
  const missing = plan.unfunded.reduce((s, u) => s + u.costTbtc, 0n) - plan.remainingTbtc;
  return missing > 0n ? missing : 0n;
}

export function shortfallAlerts(plan: Plan): Alert[] {
  if (!plan.unfunded.length) return [];
  return [{ key: "tbtc-short", level: "critical", title: "not enough TBTC to redeem", text: `${plan.unfunded.length} at-risk deposit(s) cannot be redeemed: ${formatTbtc(shortfallTbtc(plan))} TBTC short (${plan.unfunded.map((u) => u.address).join(", ")})` }];
}

/** The error a one-shot run ends with when nothing could be funded. */
export function shortfallError(plan: Plan): InsufficientFundsError | undefined {
  if (!plan.unfunded.length) return undefined;
  return new InsufficientFundsError(`not enough TBTC: ${plan.unfunded.length} deposit(s) need ${formatUnits(plan.unfunded[0].shortfallTbtc, 18)} TBTC more at least`, { hint: "top up the account's TBTC and run again" });
}

/** Alerts for what the redeemer did (sent once per deposit and outcome). */
export function outcomeAlerts(outcomes: RedemptionOutcome[]): Alert[] {
  return outcomes.map((o): Alert => {
    if (o.status === "requested") return { key: `redeemed:${o.deposit}`, level: "info", fields: { deposit: o.deposit }, title: "redemption requested", text: `redemption of ${o.deposit} mined (tx ${o.hash})` };
    if (o.status === "failed") return { key: `redeem-failed:${o.deposit}`, level: "critical", fields: { deposit: o.deposit }, title: "redemption failed", text: `redemption of ${o.deposit} failed: ${o.reason}` };
    if (o.status === "deferred") return { key: `redeem-deferred:${o.deposit}`, level: "warning", fields: { deposit: o.deposit }, title: "redemption deferred", text: `${o.deposit}: the RPC failed before it could be sent (${o.reason ?? "unknown"}); tried again next loop` };
    if (o.status === "pending") return { key: `redeem-pending:${o.deposit}`, level: "warning", fields: { deposit: o.deposit }, title: "redemption sent, not mined yet", text: `${o.deposit}: ${o.reason ?? "sent; outcome not known yet"} (tracked; never sent twice)` };
    if (o.status === "lost-race") return { key: `redeem-race:${o.deposit}`, level: "warning", fields: { deposit: o.deposit }, title: "redeemed by someone else", text: o.reason ?? `${o.deposit} was redeemed by someone else` };
    return { key: `redeemed:${o.deposit}`, level: "info", fields: { deposit: o.deposit }, title: "redemption already requested", text: `${o.deposit}: ${o.reason ?? "already requested"}` };
  });
}

/**
 * What a finished run exits with when an action did not end: a failed redemption (its own code),
 * one deferred by a failing RPC (4), one sent but not mined yet (9); `unfunded` adds 6. Cron
 * re-runs on non-zero; the journal makes the re-run finish, never repeat, what was sent.
 */
export function outcomeExitCode(outcomes: readonly RedemptionOutcome[], o: { signaturePending?: boolean; unfunded?: boolean } = {}): number | undefined {
  const failed = outcomes.find((r) => r.status === "failed");
  if (failed) return failed.error?.exitCode ?? ExitCode.INTERNAL;
  if (outcomes.some((r) => r.status === "deferred")) return ExitCode.RPC;
  if (outcomes.some((r) => r.status === "pending") || o.signaturePending) return ExitCode.TX_PENDING;
  if (o.unfunded) return ExitCode.FUNDS;
  return undefined;
}
