import type { KeepctlError } from "../../errors";
import { ExitCode } from "../../errors";
import { planRedemptions, type Candidate, type Plan, type PlanPolicy } from "../redeem/planner";
import type { JournaledSender, RequestGate } from "../redeem/redeemer";
import { buyNeedsOf, type BuyOrder, type BuyRefusal } from "./buy-decide";
import { BuyRefusedError, boughtEarlier, executeBuy, quoteBuy, reportBuy, reportRefusals, type BuyDeps, type Quote, type SwapOutcome } from "./buyer";

/**
 * The buy step of one redemption pass (`redeem --buy-shortfall`, `watch --buy-shortfall`): after
 * the plan, the TBTC the unfunded at-risk deposits lack is priced at one block and bounded; the
 * plan is made again with the TBTC the swap will bring, and the swap is started first. Each
 * redemption it pays for waits for it only right before its request (the approval goes out beside
 * the swap), so the swap and the requests land in consecutive blocks.
 */
export interface BuyRound {
  /** Deposits the buy cannot cover, and why (the plan still lists them unfunded). */
  refused: BuyRefusal[];
  order?: BuyOrder;
  quote?: Quote;
  /** The plan with the bought TBTC: the deposits the order covers are funded. */
  plan: Plan;
  paths: ("request-redemption" | "vending-machine")[];
}

export async function planBuyRound(s: JournaledSender, d: BuyDeps, plan: Plan, candidates: Candidate[], balance: bigint, policy: PlanPolicy): Promise<BuyRound> {
  const { needs, refused: already } = buyNeedsOf(plan, boughtEarlier(s));
  if (!needs.length) return { refused: already, plan, paths: [] };
  const byAddress = new Map(plan.unfunded.map((u) => [u.address, u]));
  const paths = needs.map((n) => byAddress.get(n.deposit)!.path);
  const quote = await quoteBuy(s, d, needs, paths);
  const refused = [...quote.decision.refused, ...already];
  const order = quote.decision.order;
  if (!order) return { refused, plan, quote, paths };
  const after = planRedemptions(candidates, balance + order.amountTbtc, policy);
  const funded = new Set(after.funded.map((f) => f.address));
  if (!order.deposits.every((x) => funded.has(x))) {
    // Cannot happen for a prefix of the needs (see buyNeedsOf); if it ever does, buying would not redeem what it is for.
    return { refused: [...order.deposits.map((x): BuyRefusal => ({ deposit: x, code: "NO_LIQUIDITY", reason: "the plan with the bought TBTC would not fund this deposit; not buying", amountTbtc: order.amountTbtc })), ...refused], plan, quote, paths };
  }
  return { refused, order, quote, plan: after, paths: paths.slice(0, order.deposits.length) };
}

/** What the redemptions paid for by the swap wait on: the swap's outcome, as the redeemer reads it. */
export function gateOf(swap: Promise<SwapOutcome>): RequestGate {
  return swap.then((o) => {
    if (o.status === "bought" || o.status === "bought-earlier") return { ok: true as const };
    if (o.status === "pending") return { ok: false as const, status: "pending" as const, reason: "the TBTC swap is sent but not mined yet; still tracked" };
    if (o.status === "refused") return { ok: false as const, status: "failed" as const, reason: `the TBTC for it was not bought: ${o.refusal.reason}`, error: new BuyRefusedError(o.refusal) };
    const err: KeepctlError = o.error;
    return { ok: false as const, status: err.exitCode === ExitCode.RPC ? ("deferred" as const) : ("failed" as const), reason: `the TBTC swap failed: ${o.reason}`, error: err };
  });
}

/** Starts the swap of `round` (nothing else waits for it) and the gates of the deposits it covers. */
export function startBuy(s: JournaledSender, d: BuyDeps, round: BuyRound & { order: BuyOrder; quote: Quote }): { swap: Promise<SwapOutcome>; gates: Map<string, RequestGate> } {
  const swap = executeBuy(s, d, { ...round.quote, decision: { ...round.quote.decision, order: round.order } }, { owner: round.order.deposits[0], action: "buy-tbtc" }, round.paths);
  const gate = gateOf(swap);
  gate.catch(() => undefined);
  return { swap, gates: new Map(round.order.deposits.map((x) => [x.toLowerCase(), gate])) };
}

export { reportBuy, reportRefusals };
