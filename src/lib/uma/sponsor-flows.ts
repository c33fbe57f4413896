import { sleep } from "../chain/sleep";
import { decodeRevertReason } from "../chain/errors-rpc";
import { formatFixedTrimmed } from "../fixed-point";
import { FP_DECIMALS } from "./fixed-point";
import { decodeWithdrawLiquidationResult, empInterface, encodeSponsorCall, encodeWithdrawLiquidation } from "./emp-calls";
import { LiquidationState } from "./dispute-strategy";
import { expectedSettlePayout, type SettlePayout } from "./settle-math";
import { CONTRACT_STATE, NoExpiryPriceError, readExpiryPrice } from "./sponsor-expiry";
import { readSponsorSnapshot, readWallet, type SponsorSnapshot } from "./sponsor-reader";
import { checkExpire } from "./sponsor-rules";
import { planSponsorAction, RuleRefusedError, sponsorKey, type SponsorPlan, type SponsorRequest } from "./sponsor-plan";
import { approveForSponsor, doneByEarlierRun, executeSponsorPlan, outcomeOf, startSponsorRun, type SponsorOutcome, type SponsorRun } from "./sponsor-actions";
import type { SponsorSession } from "./sponsor-session";

/**
 * The two sponsor actions of several steps: settling an expired EMP (expire() if nobody has, the
 * Optimistic Oracle's price, then settleExpired() for the whole token balance and the position),
 * and collecting what a position's liquidations pay the sponsor. Progress goes through `io`;
 * results come back as data for the command to render.
 */
export interface FlowIo {
  info(message: string): void;
  warn(message: string): void;
  /** false: the operator said no (nothing more is sent). */
  confirm(message: string): Promise<boolean>;
  signal?: AbortSignal;
}

export interface FlowResult {
  /** Something sent is not mined yet (exit 9). */
  pending: boolean;
  json: Record<string, unknown>;
  lines: string[];
}

const fx = (v: bigint) => formatFixedTrimmed(v, FP_DECIMALS);
/** How often --wait looks at the oracle. */
export const PRICE_POLL_MS = 2000;

export type ActionResult = { key: string; plan?: SponsorPlan; price: bigint | null; outcome: SponsorOutcome | { status: "cancelled" } };

/**
 * One single-call action: settle an earlier crashed run's transaction first (if it was this very
 * request and it mined, that is the answer: nothing more is sent), read the position, the wallet
 * and the price, plan (the rule in words, exit 5; the funds, exit 6), show, confirm, send.
 */
export async function sponsorActionFlow(s: SponsorSession, req: SponsorRequest, io: { confirm(message: string): Promise<boolean>; onPlan?(plan: SponsorPlan, price: bigint | null): void }): Promise<ActionResult> {
  const sender = s.account!.sender;
  const { run, recovered } = await startSponsorRun(sender, s.emp);
  const key = sponsorKey(s.emp, s.sponsor, req);
  const earlier = doneByEarlierRun(sender, recovered, key);
  if (earlier) return { key, price: null, outcome: { status: "done-earlier", hash: earlier.hash } };
  const [snap, price] = await Promise.all([
    readSponsorSnapshot(s.provider, s.emp, s.sponsor),
    s.price ? s.price.update().then(() => s.price!.current()) : Promise.resolve(null),
  ]);
  const wallet = await readWallet(s.provider, snap, s.sponsor);
  const plan = planSponsorAction(snap, wallet, req, { price, crThreshold: s.crThreshold });
  io.onPlan?.(plan, price);
  if (!sender.dryRun && !(await io.confirm(`${plan.label} from ${s.sponsor}?`))) return { key, plan, price, outcome: { status: "cancelled" } };
  return { key, plan, price, outcome: await executeSponsorPlan(run, plan) };
}

function sendOutcomeJson(o: SponsorOutcome): Record<string, unknown> {
  return { status: o.status, ...(o.status === "mined" ? { hash: o.hash, blockNumber: o.blockNumber, events: o.events } : o.status === "pending" ? { hashes: o.hashes } : o.status === "done-earlier" ? { hash: o.hash ?? null } : {}) };
}

async function send(run: SponsorRun, key: string, call: Parameters<typeof encodeSponsorCall>[1], label: string, repeatable: boolean): Promise<SponsorOutcome> {
  const sent = await run.sender.send(key, { ...encodeSponsorCall(run.emp, call), label, abi: empInterface }, { repeatable, round: run.round, meta: { action: call.fn } });
  return outcomeOf(sent, run.emp);
}

export async function settleFlow(s: SponsorSession, io: FlowIo, o: { dryRun: boolean; waitSec: number }): Promise<FlowResult> {
  const me = s.sponsor;
  const { run } = await startSponsorRun(s.account!.sender, s.emp);
  let snap = await readSponsorSnapshot(s.provider, s.emp, me);
  const early = checkExpire({ now: snap.currentTime, params: snap.params, contractState: snap.contractState });
  if (early) throw new RuleRefusedError(early);
  const lines: string[] = [];
  const json: Record<string, unknown> = {};

  if (snap.contractState === CONTRACT_STATE.Open) {
    io.info("the EMP has expired and nobody has called expire() yet: it asks the Optimistic Oracle for the expiry price (the final fee, if any, comes out of the EMP's collateral)");
    if (!(await io.confirm(`call expire() on ${s.emp}?`))) return { pending: false, json: { status: "cancelled" }, lines: ["cancelled: nothing was sent"] };
    const expired = await send(run, `${s.emp}:${me}:expire`, { fn: "expire" }, "expire the EMP (request the expiry price)", false);
    json.expire = sendOutcomeJson(expired);
    if (expired.status === "dry-run") {
      lines.push(`dry run: expire() simulated ok (gas limit ${expired.gasLimit}); settleExpired() needs the price it requests, so it was not simulated; nothing was sent`);
      return { pending: false, json: { ...json, status: "dry-run" }, lines };
    }
    if (expired.status === "pending") return { pending: true, json: { ...json, status: "pending" }, lines: [`expire() sent, not mined yet (${expired.hashes.join(", ")}); run settle again later`] };
    if (expired.status === "mined") lines.push(`expire: mined in block ${expired.blockNumber} ${expired.hash}`);
    snap = await readSponsorSnapshot(s.provider, s.emp, me);
  }

  let price = await readExpiryPrice(s.provider, snap);
  const deadline = Date.now() + o.waitSec * 1000;
  while (!price.available && Date.now() < deadline && !io.signal?.aborted) {
    await sleep(Math.min(PRICE_POLL_MS, Math.max(0, deadline - Date.now())), io.signal);
    snap = await readSponsorSnapshot(s.provider, s.emp, me);
    price = await readExpiryPrice(s.provider, snap);
  }
  if (!price.available) throw new NoExpiryPriceError(price, snap.currentTime);

  const wallet = await readWallet(s.provider, snap, me);
  const expected = expectedSettlePayout({
    expiryPrice: price.price, tokenBalance: wallet.synthetic,
    position: snap.position.collateral > 0n ? snap.position : null,
    rawTotalPositionCollateral: snap.totals.rawTotalPositionCollateral, cumulativeFeeMultiplier: snap.totals.cumulativeFeeMultiplier,
  });
  json.price = price.price;
  json.expected = payoutJson(expected);
  if (wallet.synthetic === 0n && snap.position.collateral === 0n) {
    return { pending: false, json: { ...json, status: "nothing-to-settle" }, lines: [...lines, `nothing to settle: ${me} holds no synthetic tokens and no position`] };
  }
  io.info(settleText(expected, snap));
  if (!(await io.confirm(`settle: burn ${fx(wallet.synthetic)} tokens and receive ${fx(expected.payout)} collateral?`))) {
    return { pending: false, json: { ...json, status: "cancelled" }, lines: [...lines, "cancelled: nothing more was sent"] };
  }
  let approved = true;
  if (wallet.syntheticAllowance < wallet.synthetic) approved = await approveForSponsor(run, { token: "synthetic", address: snap.params.tokenCurrency, amount: wallet.synthetic });
  if (o.dryRun && !approved) {
    return { pending: false, json: { ...json, status: "dry-run", simulated: false }, lines: [...lines, "dry run: the approval of the synthetic tokens comes first, so settleExpired() was not simulated; nothing was sent"] };
  }
  const settled = await send(run, `${s.emp}:${me}:settle`, { fn: "settleExpired" }, `settle ${fx(wallet.synthetic)} tokens and the position`, true);
  json.settle = sendOutcomeJson(settled);
  if (settled.status === "dry-run") return { pending: false, json: { ...json, status: "dry-run", simulated: true }, lines: [...lines, `dry run: settleExpired() simulated ok (gas limit ${settled.gasLimit}); nothing was sent`] };
  if (settled.status === "pending") return { pending: true, json: { ...json, status: "pending" }, lines: [...lines, `settleExpired() sent, not mined yet (${settled.hashes.join(", ")}); run settle again later`] };
  if (settled.status === "mined") {
    const ev = settled.events.find((e) => e.name === "SettleExpiredPosition");
    const paid = ev ? (ev.args.collateralReturned as bigint) : undefined;
    json.paid = paid ?? null;
    lines.push(`settle: mined in block ${settled.blockNumber} ${settled.hash}: paid ${paid === undefined ? "?" : fx(paid)} collateral for ${ev ? fx(ev.args.tokensBurned as bigint) : "?"} tokens (expected ${fx(expected.payout)})`);
  } else {
    lines.push(`settle: an earlier run's settlement is mined${settled.hash ? ` (${settled.hash})` : ""}; nothing more sent`);
  }
  return { pending: false, json: { ...json, status: settled.status === "mined" ? "settled" : settled.status }, lines };
}

function payoutJson(p: SettlePayout) {
  return { payout: p.payout, forTokens: p.forTokens, forPosition: p.forPosition, tokensBurned: p.tokensBurned, capped: p.capped, price: p.price };
}

function settleText(p: SettlePayout, snap: SponsorSnapshot): string {
  const parts = [`expiry price ${fx(p.price)}: settleExpired() pays ${fx(p.payout)} collateral`, `${fx(p.forTokens)} for ${fx(p.tokensBurned)} tokens (all of the wallet's, burned)`];
  if (snap.position.collateral > 0n) parts.push(`${fx(p.forPosition)} for the position (${fx(snap.position.collateral)} collateral less ${fx(snap.position.tokensOutstanding)} tokens of debt at the price)`);
  if (p.capped) parts.push("capped: the EMP's pool holds less than that");
  return parts.join("; ");
}

export async function withdrawLiquidationsFlow(s: SponsorSession, io: FlowIo, o: { dryRun: boolean; id?: bigint }): Promise<FlowResult> {
  const me = s.sponsor;
  const { run } = await startSponsorRun(s.account!.sender, s.emp);
  const snap = await readSponsorSnapshot(s.provider, s.emp, me);
  const records = snap.liquidations.filter((l) => l.state !== LiquidationState.Uninitialized && (o.id === undefined || l.id === o.id));
  if (o.id !== undefined && records.length === 0) throw new RuleRefusedError({ revert: "Invalid liquidation ID", message: `the position has no liquidation ${o.id} to withdraw (none, or already withdrawn)` });
  const items: Record<string, unknown>[] = [];
  const lines: string[] = [];
  let pending = false;
  for (const l of records) {
    if (io.signal?.aborted) break;
    const req = { ...encodeWithdrawLiquidation(s.emp, l.id, me), label: `withdraw liquidation ${l.id} (sponsor's share)`, abi: empInterface };
    let paidToSponsor: bigint;
    try {
      paidToSponsor = decodeWithdrawLiquidationResult(await s.provider.call({ ...req, from: me })).paidToSponsor;
    } catch (e) {
      const reason = decodeRevertReason(e, empInterface) ?? "reverts";
      const why = reason === "Liquidation not withdrawable" ? `its liveness ends at ${new Date(Number(l.liquidationTime + snap.params.liquidationLiveness) * 1000).toISOString()} and it is not disputed` : reason === "Unresolved oracle price" ? "the dispute waits for the oracle's price" : reason;
      if (o.id !== undefined) throw new RuleRefusedError({ revert: reason, message: `liquidation ${l.id} cannot be withdrawn yet: ${why}` });
      items.push({ id: l.id, status: "skipped", reason: why });
      lines.push(`liquidation ${l.id}: not withdrawable yet (${why})`);
      continue;
    }
    if (paidToSponsor === 0n) {
      const why = "it pays the sponsor nothing (no dispute, or the dispute failed); the liquidator collects it";
      if (o.id !== undefined) throw new RuleRefusedError({ message: `liquidation ${l.id}: ${why}` });
      items.push({ id: l.id, status: "skipped", reason: why });
      lines.push(`liquidation ${l.id}: ${why}`);
      continue;
    }
    io.info(`liquidation ${l.id} pays the sponsor ${fx(paidToSponsor)} collateral (a dispute succeeded)`);
    if (!(await io.confirm(`withdraw liquidation ${l.id} for ${fx(paidToSponsor)}?`))) { lines.push("cancelled: nothing more was sent"); break; }
    const sent = outcomeOf(await run.sender.send(`${s.emp}:${me}:${l.id}:sponsor-withdraw`, req, { repeatable: false, round: run.round, meta: { expected: paidToSponsor.toString() } }), s.emp);
    pending ||= sent.status === "pending";
    const ev = sent.status === "mined" ? sent.events.find((e) => e.name === "LiquidationWithdrawn") : undefined;
    items.push({ id: l.id, expected: paidToSponsor, paidToSponsor: ev ? ev.args.paidToSponsor : null, ...sendOutcomeJson(sent) });
    lines.push(sent.status === "mined" ? `liquidation ${l.id}: withdrawn in block ${sent.blockNumber} ${sent.hash}, ${fx(ev ? (ev.args.paidToSponsor as bigint) : paidToSponsor)} to the sponsor`
      : sent.status === "dry-run" ? `liquidation ${l.id}: dry run: simulated ok, would pay ${fx(paidToSponsor)}; nothing was sent`
        : `liquidation ${l.id}: ${sent.status}`);
  }
  if (records.length === 0) lines.push(`no liquidations of ${me} to withdraw`);
  return { pending, json: { liquidations: items }, lines };
}

