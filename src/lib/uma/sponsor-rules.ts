import { formatFixedTrimmed } from "../fixed-point";
import { FP_DECIMALS, FP_ONE, fpDiv, fpMul } from "./fixed-point";
import { CONTRACT_STATE_OPEN } from "./liquidation-strategy";
import {
  collateralAfterRemoval, collateralPerToken, feeAdjusted, globalCollateralRatio, instantWithdrawalPasses, maxInstantWithdrawal, meetsGcr,
  type EmpTotals, type RawPosition,
} from "./position-math";

/**
 * The contract's rule for each sponsor action, checked before anything is sent, in the order the
 * contract checks them, so that the refusal names the require that would revert — in words, with
 * the figures and what to do instead. Pure: a snapshot in, null (it would pass) or a refusal out.
 */
export interface SponsorState {
  position: RawPosition;
  totals: EmpTotals;
  params: { minSponsorTokens: bigint; withdrawalLiveness: bigint; expirationTimestamp: bigint };
  contractState: number;
  /** Contract time. */
  now: bigint;
}

export interface Refusal {
  /** The contract's revert string, when the contract has one for it. */
  revert?: string;
  message: string;
  hint?: string;
}

const amount = (v: bigint) => formatFixedTrimmed(v, FP_DECIMALS);

/**
 * Two ratios with as few decimals as tell them apart (at least 2), each rounded to nearest: "1.21
 * is below 1.30", and a ratio one wei below 1.3 in full rather than as a misleading "1.30" or "1.29".
 */
export function ratioPair(a: bigint, b: bigint): [string, string] {
  for (let places = 2; places < FP_DECIMALS; places++) {
    const [x, y] = [roundedPlaces(a, places), roundedPlaces(b, places)];
    if (x !== y) return [x, y];
  }
  return [roundedPlaces(a, FP_DECIMALS), roundedPlaces(b, FP_DECIMALS)];
}

function roundedPlaces(v: bigint, places: number): string {
  const unit = 10n ** BigInt(FP_DECIMALS - places);
  const cut = (v + unit / 2n) / unit;
  const scale = 10n ** BigInt(places);
  return `${cut / scale}.${(cut % scale).toString().padStart(places, "0")}`;
}

/** 7200 -> "2 h", 5400 -> "1 h 30 min", 90 -> "1 min 30 s". */
export function durationText(seconds: bigint): string {
  const s = seconds;
  const parts: [bigint, string][] = [[s / 86400n, "d"], [(s % 86400n) / 3600n, "h"], [(s % 3600n) / 60n, "min"], [s % 60n, "s"]];
  const shown = parts.filter(([n]) => n > 0n).slice(0, 2).map(([n, u]) => `${n} ${u}`);
  return shown.length ? shown.join(" ") : "0 s";
}

const isoTime = (t: bigint) => new Date(Number(t) * 1000).toISOString().replace(/\.\d+Z$/, "Z");

export function isExpired(s: Pick<SponsorState, "contractState" | "now" | "params">): boolean {
  return s.contractState !== CONTRACT_STATE_OPEN || s.now >= s.params.expirationTimestamp;
}

function preExpiry(s: SponsorState, what: string): Refusal | null {
  if (s.now < s.params.expirationTimestamp) return null;
  return { revert: "Only callable pre-expiry", message: `the EMP expired at ${isoTime(s.params.expirationTimestamp)}: ${what} is only possible before expiry`, hint: "after expiry, `emp-sponsor settle` pays out the position and the tokens" };
}

function collateralOf(s: SponsorState): bigint {
  return feeAdjusted(s.position.rawCollateral, s.totals.cumulativeFeeMultiplier);
}

function positionExists(s: SponsorState): Refusal | null {
  if (collateralOf(s) > 0n) return null;
  return { revert: "Position has no collateral", message: "this account has no position in the EMP", hint: "open one with `emp-sponsor create COLLATERAL TOKENS`" };
}

function noPendingWithdrawal(s: SponsorState, what: string): Refusal | null {
  if (s.position.withdrawalRequestPassTimestamp === 0n) return null;
  const p = s.position;
  const passes = p.withdrawalRequestPassTimestamp <= s.now ? "it has passed" : `it passes at ${isoTime(p.withdrawalRequestPassTimestamp)}`;
  return {
    revert: "Pending withdrawal",
    message: `a withdrawal request of ${amount(p.withdrawalRequestAmount)} is pending (${passes}): the contract refuses ${what} until it is cancelled or carried out`,
    hint: "`emp-sponsor cancel-withdrawal`, or `emp-sponsor withdraw --passed` once it has passed",
  };
}

/** Least collateral that lets create(·, tokens) pass either of the contract's two GCR rules. */
export function minCreateCollateral(s: Pick<SponsorState, "position" | "totals">, tokens: bigint): bigint {
  const gcr = globalCollateralRatio(s.totals);
  const ceilMul = (a: bigint) => (a * gcr + FP_ONE - 1n) / FP_ONE;
  const forPosition = ceilMul(s.position.tokensOutstanding + tokens) - feeAdjusted(s.position.rawCollateral, s.totals.cumulativeFeeMultiplier);
  const forTransaction = ceilMul(tokens);
  const least = forPosition < forTransaction ? forPosition : forTransaction;
  return least > 0n ? least : 0n;
}

export function checkCreate(s: SponsorState, collateralAmount: bigint, numTokens: bigint): Refusal | null {
  const expired = preExpiry(s, "minting");
  if (expired) return expired;
  const gcr = globalCollateralRatio(s.totals);
  const c = collateralOf(s);
  const t = s.position.tokensOutstanding;
  if (!meetsGcr(c + collateralAmount, t + numTokens, gcr) && !meetsGcr(collateralAmount, numTokens, gcr)) {
    const [mine, global] = ratioPair(collateralPerToken(c + collateralAmount, t + numTokens), gcr);
    return {
      revert: "Insufficient collateral",
      message: `collateral per token after this mint ${mine} is below the GCR ${global} (nor does the mint's own ${ratioPair(collateralPerToken(collateralAmount, numTokens), gcr)[0]} reach it): the contract would revert`,
      hint: `minting ${amount(numTokens)} tokens needs at least ${amount(minCreateCollateral(s, numTokens))} collateral`,
    };
  }
  const pending = noPendingWithdrawal(s, "minting");
  if (pending) return pending;
  if (t === 0n && numTokens < s.params.minSponsorTokens) {
    return { revert: "Below minimum sponsor position", message: `a new position must mint at least ${amount(s.params.minSponsorTokens)} tokens (minSponsorTokens), not ${amount(numTokens)}` };
  }
  return null;
}

export function checkDeposit(s: SponsorState, collateralAmount: bigint): Refusal | null {
  return preExpiry(s, "a deposit") ?? positionExists(s) ?? noPendingWithdrawal(s, "a deposit")
    ?? (collateralAmount > 0n ? null : { revert: "Invalid collateral amount", message: "the deposit must be more than 0" });
}

export function checkWithdraw(s: SponsorState, collateralAmount: bigint): Refusal | null {
  const first = preExpiry(s, "a withdrawal") ?? positionExists(s) ?? noPendingWithdrawal(s, "an instant withdrawal");
  if (first) return first;
  if (collateralAmount <= 0n) return { revert: "Invalid collateral amount", message: "the withdrawal must be more than 0" };
  const gcr = globalCollateralRatio(s.totals);
  const m = s.totals.cumulativeFeeMultiplier;
  if (instantWithdrawalPasses(s.position, collateralAmount, gcr, m)) return null;
  const after = collateralAfterRemoval(s.position.rawCollateral, collateralAmount, m);
  const [mine, global] = ratioPair(collateralPerToken(after, s.position.tokensOutstanding), gcr);
  return {
    revert: "CR below GCR",
    message: `collateral ratio after the withdrawal ${mine} is below the GCR ${global}: an instant withdrawal would revert; --request starts a ${durationText(s.params.withdrawalLiveness)} withdrawal request instead`,
    hint: `at most ${amount(maxInstantWithdrawal(s.position, gcr, m))} can be withdrawn at once`,
  };
}

export function checkRequestWithdrawal(s: SponsorState, collateralAmount: bigint): Refusal | null {
  const first = preExpiry(s, "a withdrawal request") ?? positionExists(s) ?? noPendingWithdrawal(s, "a second withdrawal request");
  if (first) return first;
  const c = collateralOf(s);
  if (collateralAmount <= 0n || collateralAmount > c) {
    return { revert: "Invalid collateral amount", message: `a withdrawal request must be more than 0 and at most the position's collateral ${amount(c)}, not ${amount(collateralAmount)}` };
  }
  const passes = s.now + s.params.withdrawalLiveness;
  if (passes >= s.params.expirationTimestamp) {
    return {
      revert: "Request expires post-expiry",
      message: `the request would pass at ${isoTime(passes)}, at or after the EMP's expiry ${isoTime(s.params.expirationTimestamp)}: the contract refuses it`,
      hint: "after expiry, `emp-sponsor settle` pays the position out",
    };
  }
  return null;
}

export function checkWithdrawPassed(s: SponsorState): Refusal | null {
  const first = preExpiry(s, "carrying out a withdrawal request") ?? positionExists(s);
  if (first) return first;
  const p = s.position;
  if (p.withdrawalRequestPassTimestamp === 0n) return { revert: "Invalid withdraw request", message: "no withdrawal request is pending", hint: "start one with `emp-sponsor withdraw AMOUNT --request`" };
  if (p.withdrawalRequestPassTimestamp > s.now) {
    return {
      revert: "Invalid withdraw request",
      message: `the withdrawal request passes at ${isoTime(p.withdrawalRequestPassTimestamp)}, in ${durationText(p.withdrawalRequestPassTimestamp - s.now)}: it cannot be carried out yet`,
    };
  }
  return null;
}

export function checkCancelWithdrawal(s: SponsorState): Refusal | null {
  const none = positionExists(s);
  if (none) return none;
  if (s.position.withdrawalRequestPassTimestamp === 0n) return { revert: "No pending withdrawal", message: "no withdrawal request is pending: nothing to cancel" };
  return null;
}

function tokensLeft(s: SponsorState, numTokens: bigint, what: string): Refusal | null {
  const t = s.position.tokensOutstanding;
  if (numTokens > t) return { revert: "Invalid token amount", message: `the position has ${amount(t)} tokens outstanding, fewer than the ${amount(numTokens)} to ${what}` };
  return null;
}

/** redeem: allowed before and after expiry; a partial redeem must leave at least minSponsorTokens. */
export function checkRedeem(s: SponsorState, numTokens: bigint): Refusal | null {
  const first = positionExists(s) ?? noPendingWithdrawal(s, "a redemption") ?? tokensLeft(s, numTokens, "redeem");
  if (first) return first;
  const left = s.position.tokensOutstanding - numTokens;
  if (left > 0n && left < s.params.minSponsorTokens) {
    return {
      revert: "Below minimum sponsor position",
      message: `redeeming ${amount(numTokens)} of ${amount(s.position.tokensOutstanding)} tokens would leave ${amount(left)}, below the EMP's minimum position of ${amount(s.params.minSponsorTokens)} tokens: the contract would revert`,
      hint: `redeem all ${amount(s.position.tokensOutstanding)}, or at most ${amount(s.position.tokensOutstanding - s.params.minSponsorTokens)}`,
    };
  }
  return null;
}

/** repay burns tokens and returns no collateral; the rest must stay at or above minSponsorTokens. */
export function checkRepay(s: SponsorState, numTokens: bigint): Refusal | null {
  const first = preExpiry(s, "repaying") ?? positionExists(s) ?? noPendingWithdrawal(s, "repaying") ?? tokensLeft(s, numTokens, "repay");
  if (first) return first;
  const left = s.position.tokensOutstanding - numTokens;
  if (left < s.params.minSponsorTokens) {
    return {
      message: `repaying ${amount(numTokens)} tokens would leave ${amount(left)}, below the EMP's minimum position of ${amount(s.params.minSponsorTokens)} tokens: the contract would revert`,
      hint: `repay at most ${amount(s.position.tokensOutstanding - s.params.minSponsorTokens)}, or redeem the whole position`,
    };
  }
  return null;
}

/** expire(): after expiry, once, by anyone. */
export function checkExpire(s: Pick<SponsorState, "now" | "params" | "contractState">): Refusal | null {
  if (s.now < s.params.expirationTimestamp) {
    return { revert: "Only callable post-expiry", message: `the EMP expires at ${isoTime(s.params.expirationTimestamp)}, in ${durationText(s.params.expirationTimestamp - s.now)}: it cannot be settled yet` };
  }
  return null;
}

/** Collateral a redeem of `numTokens` returns: the contract's fraction × collateral, or the whole position. */
export function redeemPayout(s: Pick<SponsorState, "position" | "totals">, numTokens: bigint): bigint {
  const m = s.totals.cumulativeFeeMultiplier;
  const raw = s.position.rawCollateral;
  const total = s.totals.rawTotalPositionCollateral;
  const removedFromTotal = (rawRemoved: bigint) => feeAdjusted(total, m) - feeAdjusted(total - rawRemoved, m);
  if (numTokens === s.position.tokensOutstanding) return removedFromTotal(raw);
  const share = fpMul(fpDiv(numTokens, s.position.tokensOutstanding), feeAdjusted(raw, m));
  return removedFromTotal(fpDiv(share, m));
}
