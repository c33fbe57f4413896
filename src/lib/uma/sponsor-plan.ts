import { ExitCode, InsufficientFundsError, KeepctlError } from "../errors";
import { formatFixedTrimmed } from "../fixed-point";
import { FP_DECIMALS } from "./fixed-point";
import type { SponsorCall } from "./emp-calls";
import { isUndercollateralized, scalePrice } from "./liquidation-strategy";
import { feeAdjusted, liquidatorTriggerRatio, netOfPending, ratioAtPrice } from "./position-math";
import {
  checkCancelWithdrawal, checkCreate, checkDeposit, checkRedeem, checkRepay, checkRequestWithdrawal, checkWithdraw, checkWithdrawPassed,
  ratioPair, redeemPayout, type Refusal, type SponsorState,
} from "./sponsor-rules";
import type { SponsorSnapshot, WalletBalances } from "./sponsor-reader";

/**
 * One sponsor action from a snapshot of the chain: the contract's rule checked first (a refusal
 * in words, exit 5, before anything is signed), the wallet's funds (exit 6), the exact approvals
 * it needs, what it moves, and warnings when the result would be liquidatable at the feed's price.
 */
export type SponsorRequest =
  | { action: "create"; collateral: bigint; tokens: bigint }
  | { action: "deposit"; collateral: bigint }
  | { action: "withdraw"; collateral: bigint }
  | { action: "request-withdrawal"; collateral: bigint }
  | { action: "withdraw-passed" }
  | { action: "cancel-withdrawal" }
  | { action: "redeem"; tokens: bigint | "all" }
  | { action: "repay"; tokens: bigint };

/** The contract would revert: said in words before anything is sent. Exit 5. */
export class RuleRefusedError extends KeepctlError {
  readonly revert?: string;
  constructor(r: Refusal) {
    super("WOULD_REVERT", ExitCode.REVERT, r.message, { hint: r.hint, details: r.revert ? { revert: r.revert } : undefined });
    this.revert = r.revert;
  }
}

export interface Approval {
  token: "collateral" | "synthetic";
  address: string;
  amount: bigint;
}

export interface SponsorPlan {
  action: SponsorRequest["action"];
  /** The journal key: stable for this request, so a crashed run's transaction is settled, never signed twice. */
  key: string;
  call: SponsorCall;
  label: string;
  approvals: Approval[];
  /** What leaves the wallet and what comes back (collateral and synthetic tokens). */
  moves: { collateralIn: bigint; collateralOut: bigint; tokensMinted: bigint; tokensBurned: bigint };
  /** The position after the action (collateral fee-adjusted; net of a pending request). */
  after: { collateral: bigint; netCollateral: bigint; tokens: bigint; ratio: bigint | null };
  warnings: string[];
}

const text = (v: bigint) => formatFixedTrimmed(v, FP_DECIMALS);

/** `${emp}:${sponsor}:${action}[:amounts]` — the same request gives the same key. */
export function sponsorKey(emp: string, sponsor: string, req: SponsorRequest): string {
  const amounts = "collateral" in req ? (req.action === "create" ? [req.collateral, req.tokens] : [req.collateral]) : "tokens" in req ? [req.tokens] : [];
  return [emp, sponsor, req.action, ...amounts.map(String)].join(":");
}

export function sponsorStateOf(s: SponsorSnapshot): SponsorState {
  return { position: s.position, totals: s.totals, params: s.params, contractState: s.contractState, now: s.currentTime };
}

export interface PlanOptions {
  /** The feed's price for the warnings; null: no priced warnings. */
  price: bigint | null;
  crThreshold: bigint;
}

export function planSponsorAction(snap: SponsorSnapshot, wallet: WalletBalances, req: SponsorRequest, o: PlanOptions): SponsorPlan {
  const st = sponsorStateOf(snap);
  const p = snap.position;
  const m = snap.totals.cumulativeFeeMultiplier;
  const collateral = feeAdjusted(p.rawCollateral, m);
  const pending = p.withdrawalRequestPassTimestamp === 0n ? 0n : p.withdrawalRequestAmount;
  const none = { collateralIn: 0n, collateralOut: 0n, tokensMinted: 0n, tokensBurned: 0n };
  let refusal: Refusal | null;
  let call: SponsorCall;
  let label: string;
  let moves = none;
  let after = { collateral, pending, tokens: p.tokensOutstanding };
  const approvals: Approval[] = [];
  const needs = (token: Approval["token"], amount: bigint) => {
    const have = token === "collateral" ? wallet.collateral : wallet.synthetic;
    if (have < amount) {
      throw new InsufficientFundsError(`the wallet holds ${text(have)} ${token === "collateral" ? "collateral" : "synthetic tokens"}; ${label} needs ${text(amount)}`, {
        hint: token === "collateral" ? "fund the wallet with the EMP's collateral token first" : "buy or borrow the synthetic tokens first",
      });
    }
    const allowance = token === "collateral" ? wallet.collateralAllowance : wallet.syntheticAllowance;
    if (allowance < amount) approvals.push({ token, address: token === "collateral" ? snap.params.collateralCurrency : snap.params.tokenCurrency, amount });
  };

  switch (req.action) {
    case "create":
      refusal = checkCreate(st, req.collateral, req.tokens);
      call = { fn: "create", collateral: req.collateral, tokens: req.tokens };
      label = `create: ${text(req.collateral)} collateral for ${text(req.tokens)} new tokens`;
      moves = { ...none, collateralIn: req.collateral, tokensMinted: req.tokens };
      after = { collateral: collateral + req.collateral, pending, tokens: p.tokensOutstanding + req.tokens };
      if (!refusal && req.collateral > 0n) needs("collateral", req.collateral);
      break;
    case "deposit":
      refusal = checkDeposit(st, req.collateral);
      call = { fn: "deposit", collateral: req.collateral };
      label = `deposit ${text(req.collateral)} collateral`;
      moves = { ...none, collateralIn: req.collateral };
      after = { ...after, collateral: collateral + req.collateral };
      if (!refusal) needs("collateral", req.collateral);
      break;
    case "withdraw":
      refusal = checkWithdraw(st, req.collateral);
      call = { fn: "withdraw", collateral: req.collateral };
      label = `withdraw ${text(req.collateral)} collateral now`;
      moves = { ...none, collateralOut: req.collateral };
      after = { ...after, collateral: collateral - (req.collateral < collateral ? req.collateral : collateral) };
      break;
    case "request-withdrawal":
      refusal = checkRequestWithdrawal(st, req.collateral);
      call = { fn: "requestWithdrawal", collateral: req.collateral };
      label = `request a withdrawal of ${text(req.collateral)} collateral`;
      after = { ...after, pending: req.collateral };
      break;
    case "withdraw-passed": {
      refusal = checkWithdrawPassed(st);
      call = { fn: "withdrawPassedRequest" };
      const out = pending < collateral ? pending : collateral;
      label = `withdraw the passed request of ${text(out)} collateral`;
      moves = { ...none, collateralOut: out };
      after = { collateral: collateral - out, pending: 0n, tokens: p.tokensOutstanding };
      break;
    }
    case "cancel-withdrawal":
      refusal = checkCancelWithdrawal(st);
      call = { fn: "cancelWithdrawal" };
      label = `cancel the withdrawal request of ${text(pending)}`;
      after = { ...after, pending: 0n };
      break;
    case "redeem": {
      const tokens = req.tokens === "all" ? p.tokensOutstanding : req.tokens;
      refusal = checkRedeem(st, tokens);
      call = { fn: "redeem", tokens };
      const back = refusal ? 0n : redeemPayout(st, tokens);
      label = `redeem ${text(tokens)} tokens for ${text(back)} collateral`;
      moves = { ...none, collateralOut: back, tokensBurned: tokens };
      after = { collateral: collateral - back, pending, tokens: p.tokensOutstanding - (tokens < p.tokensOutstanding ? tokens : p.tokensOutstanding) };
      if (!refusal) needs("synthetic", tokens);
      break;
    }
    case "repay":
      refusal = checkRepay(st, req.tokens);
      call = { fn: "repay", tokens: req.tokens };
      label = `repay ${text(req.tokens)} tokens (no collateral back)`;
      moves = { ...none, tokensBurned: req.tokens };
      after = { ...after, tokens: p.tokensOutstanding - (req.tokens < p.tokensOutstanding ? req.tokens : p.tokensOutstanding) };
      if (!refusal) needs("synthetic", req.tokens);
      break;
  }
  if (refusal) throw new RuleRefusedError(refusal);
  const net = netOfPending(after.collateral, after.pending);
  const ratio = o.price === null ? null : ratioAtPrice(net, after.tokens, o.price);
  return {
    action: req.action, key: sponsorKey(snap.emp, snap.sponsor, req), call, label, approvals, moves,
    after: { collateral: after.collateral, netCollateral: net, tokens: after.tokens, ratio },
    warnings: pricedWarnings(snap, net, after.tokens, ratio, o),
  };
}

/** Said before sending, not refused: the sponsor may mean it (the seed's own story does). */
function pricedWarnings(snap: SponsorSnapshot, net: bigint, tokens: bigint, ratio: bigint | null, o: PlanOptions): string[] {
  if (o.price === null || ratio === null) return [];
  const cr = snap.params.collateralRequirement;
  const price = text(o.price);
  if (isUndercollateralized(tokens, net, scalePrice(o.price, o.crThreshold), cr)) {
    const [r, t] = ratioPair(ratio, liquidatorTriggerRatio(cr, o.crThreshold));
    return [`afterwards the position's ratio at the feed's price ${price} would be ${r}, below the liquidators' trigger ${t} (a pending withdrawal counts as gone): keepctl's and UMA's liquidators would liquidate it`];
  }
  if (isUndercollateralized(tokens, net, o.price, cr)) {
    const [r, c] = ratioPair(ratio, cr);
    return [`afterwards the position's ratio at the feed's price ${price} would be ${r}, below the collateral requirement ${c}: a liquidation would stand if disputed`];
  }
  return [];
}
