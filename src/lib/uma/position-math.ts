import { FP_ONE, fpDiv, fpMul } from "./fixed-point";

/**
 * A sponsor's position in figures: the contract's own rules replicated exactly (fee-adjusted
 * collateral, the GCR and its comparison, what an instant withdrawal or a mint may take), and the
 * priced figures the contract never sees (the ratio at the feed's price, the liquidation price, the
 * price at which the liquidators act). Numbers in, numbers out; every product and quotient floors
 * as UMA's FixedPoint does, so each figure matches the contract to the wei.
 */

/** The EMP-wide totals the GCR is made of. */
export interface EmpTotals {
  rawTotalPositionCollateral: bigint;
  totalTokensOutstanding: bigint;
  cumulativeFeeMultiplier: bigint;
}

/** positions(sponsor) as stored: raw collateral (before the fee multiplier), tokens, the pending request. */
export interface RawPosition {
  rawCollateral: bigint;
  tokensOutstanding: bigint;
  withdrawalRequestAmount: bigint;
  /** 0 when no withdrawal is pending. */
  withdrawalRequestPassTimestamp: bigint;
}

/** The contract's _getFeeAdjustedCollateral: raw × multiplier, floored. */
export function feeAdjusted(raw: bigint, cumulativeFeeMultiplier: bigint): bigint {
  return fpMul(raw, cumulativeFeeMultiplier);
}

/**
 * Fee-adjusted collateral left after _removeCollateral(amount): the raw value drops by
 * amount ÷ multiplier (floored), then is fee-adjusted again.
 */
export function collateralAfterRemoval(raw: bigint, amount: bigint, cumulativeFeeMultiplier: bigint): bigint {
  const rawRemoved = fpDiv(amount, cumulativeFeeMultiplier);
  return rawRemoved > raw ? 0n : feeAdjusted(raw - rawRemoved, cumulativeFeeMultiplier);
}

/** The contract's _getCollateralizationRatio: collateral per token, floored; 0 with no tokens. */
export function collateralPerToken(collateral: bigint, tokens: bigint): bigint {
  return tokens > 0n ? fpDiv(collateral, tokens) : 0n;
}

/** The global collateralization ratio (GCR): all position collateral per outstanding token. No price in it. */
export function globalCollateralRatio(t: EmpTotals): bigint {
  return collateralPerToken(feeAdjusted(t.rawTotalPositionCollateral, t.cumulativeFeeMultiplier), t.totalTokensOutstanding);
}

/** The contract's _checkCollateralization: `!(GCR > collateral/tokens)`, so exactly at the GCR passes. */
export function meetsGcr(collateral: bigint, tokens: bigint, gcr: bigint): boolean {
  return gcr <= collateralPerToken(collateral, tokens);
}

/** Pending withdrawals count as already gone (the liquidators net them out); never negative. */
export function netOfPending(collateral: bigint, pending: bigint): bigint {
  return collateral > pending ? collateral - pending : 0n;
}

/** collateral ÷ (tokens × price), floored; null when there are no tokens or no price. */
export function ratioAtPrice(collateral: bigint, tokens: bigint, price: bigint): bigint | null {
  if (tokens === 0n || price === 0n) return null;
  return (collateral * FP_ONE * FP_ONE) / (tokens * price);
}

/**
 * The liquidation price: the highest price at which the position still meets the collateral
 * requirement (tokens × price × CR ≤ collateral). Above it the position is undercollateralized.
 * emp-tools' collateral ÷ tokens ÷ CR, in one floor. Null with no tokens.
 */
export function liquidationPrice(collateral: bigint, tokens: bigint, collateralRequirement: bigint): bigint | null {
  if (tokens === 0n) return null;
  return (collateral * FP_ONE * FP_ONE) / (tokens * collateralRequirement);
}

/**
 * The lowest feed price at which a liquidator shading the price by `crThreshold` (keepctl's and
 * UMA's bots: 0.02) liquidates: tokens × floor(price × (1 − t)) × CR > collateral. Null with no tokens.
 */
export function liquidatorTriggerPrice(collateral: bigint, tokens: bigint, collateralRequirement: bigint, crThreshold: bigint): bigint | null {
  const safe = liquidationPrice(collateral, tokens, collateralRequirement);
  if (safe === null) return null;
  const keep = FP_ONE - crThreshold;
  // the least price whose shaded value exceeds `safe`: ceil((safe + 1) × 1e18 / (1 − t))
  return ((safe + 1n) * FP_ONE + keep - 1n) / keep;
}

/** The ratio at the current price below which the liquidators act: CR × (1 − crThreshold). */
export function liquidatorTriggerRatio(collateralRequirement: bigint, crThreshold: bigint): bigint {
  return fpMul(collateralRequirement, FP_ONE - crThreshold);
}

/**
 * The most tokens `create(0, n)` mints now: the resulting collateral per token must stay at or
 * above the GCR (the contract's first rule; with no new collateral the second never passes).
 * Null when the GCR is 0 (no tokens outstanding anywhere): that rule sets no limit.
 */
export function maxMintable(collateral: bigint, tokens: bigint, gcr: bigint): bigint | null {
  if (gcr === 0n) return null;
  const most = (collateral * FP_ONE) / gcr - tokens;
  return most > 0n ? most : 0n;
}

/** The most tokens that can be minted without the position falling below the requirement at `price`. */
export function maxMintableAtRequirement(netCollateral: bigint, tokens: bigint, price: bigint, collateralRequirement: bigint): bigint | null {
  if (price === 0n) return null;
  const most = (netCollateral * FP_ONE * FP_ONE) / (price * collateralRequirement) - tokens;
  return most > 0n ? most : 0n;
}

/** Would withdraw(amount) pass the contract's GCR check (position after removal vs the GCR before it)? */
export function instantWithdrawalPasses(p: Pick<RawPosition, "rawCollateral" | "tokensOutstanding">, amount: bigint, gcr: bigint, cumulativeFeeMultiplier: bigint): boolean {
  if (amount <= 0n || fpDiv(amount, cumulativeFeeMultiplier) > p.rawCollateral) return false;
  return meetsGcr(collateralAfterRemoval(p.rawCollateral, amount, cumulativeFeeMultiplier), p.tokensOutstanding, gcr);
}

/**
 * The most collateral withdraw() takes at once: collateral − ⌈GCR × tokens⌉ with the multiplier at
 * 1.0, then nudged by the wei the multiplier's roundings move (a wei or two).
 */
export function maxInstantWithdrawal(p: Pick<RawPosition, "rawCollateral" | "tokensOutstanding">, gcr: bigint, cumulativeFeeMultiplier: bigint): bigint {
  const collateral = feeAdjusted(p.rawCollateral, cumulativeFeeMultiplier);
  const keep = (gcr * p.tokensOutstanding + FP_ONE - 1n) / FP_ONE;
  let most = collateral > keep ? collateral - keep : 0n;
  while (most > 0n && !instantWithdrawalPasses(p, most, gcr, cumulativeFeeMultiplier)) most--;
  while (instantWithdrawalPasses(p, most + 1n, gcr, cumulativeFeeMultiplier)) most++;
  return most;
}

/** The most collateral that can leave (netted of a pending request) with the ratio at `price` still at the requirement. */
export function maxWithdrawalAtRequirement(netCollateral: bigint, tokens: bigint, price: bigint, collateralRequirement: bigint): bigint {
  const keep = (tokens * price * collateralRequirement + FP_ONE * FP_ONE - 1n) / (FP_ONE * FP_ONE);
  return netCollateral > keep ? netCollateral - keep : 0n;
}
