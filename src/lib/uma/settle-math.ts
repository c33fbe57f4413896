import { fpDiv, fpMul } from "./fixed-point";
import { feeAdjusted } from "./position-math";

/**
 * What settleExpired() pays its caller, by the contract's formula (PricelessPositionManager):
 * the caller's whole synthetic balance × the expiry price, plus, for a sponsor, the position's
 * collateral less its debt at that price (never below 0), all capped at the collateral left in
 * the positions' pool. A pending withdrawal is not subtracted; liquidated collateral is not in
 * the pool. Numbers in, numbers out.
 */
export interface SettleInput {
  /** The oracle's price (int256): a negative price counts as 0. */
  expiryPrice: bigint;
  /** synth.balanceOf(caller): all of it is burned. */
  tokenBalance: bigint;
  /** The caller's position, if any (raw values as stored). */
  position: { rawCollateral: bigint; tokensOutstanding: bigint } | null;
  rawTotalPositionCollateral: bigint;
  cumulativeFeeMultiplier: bigint;
}

export interface SettlePayout {
  /** Collateral paid: what the raw pool drops by, fee-adjusted (the contract's _removeCollateral). */
  payout: bigint;
  /** min(owed, pool) before that rounding. */
  owedOrPool: bigint;
  /** tokenBalance × price. */
  forTokens: bigint;
  /** max(0, position collateral − tokensOutstanding × price); 0 without a position. */
  forPosition: bigint;
  /** The pool held less than was owed: the payout is what is left. */
  capped: boolean;
  tokensBurned: bigint;
  price: bigint;
}

export function expectedSettlePayout(i: SettleInput): SettlePayout {
  const price = i.expiryPrice < 0n ? 0n : i.expiryPrice;
  const m = i.cumulativeFeeMultiplier;
  const forTokens = fpMul(i.tokenBalance, price);
  // No position reads as 0 / 0 (the contract's deleted record): nothing for it.
  const position = i.position ?? { rawCollateral: 0n, tokensOutstanding: 0n };
  const collateral = feeAdjusted(position.rawCollateral, m);
  const debt = fpMul(position.tokensOutstanding, price);
  const forPosition = debt < collateral ? collateral - debt : 0n;
  const owed = forTokens + forPosition;
  const pool = feeAdjusted(i.rawTotalPositionCollateral, m);
  // One comparison decides both the cap and what is paid from the pool.
  const capped = owed > pool;
  const target = capped ? pool : owed;
  const payout = pool - feeAdjusted(i.rawTotalPositionCollateral - fpDiv(target, m), m);
  return { payout, owedOrPool: target, forTokens, forPosition, capped, tokensBurned: i.tokenBalance, price };
}
