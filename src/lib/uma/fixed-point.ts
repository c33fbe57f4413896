/**
 * UMA's FixedPoint: unsigned 18-decimal integers where 1e18 means 1.0. Every product and quotient
 * floors, as the contracts do, so off-chain decisions match on-chain checks to the wei. Text in
 * and out goes through src/lib/fixed-point.ts with FP_DECIMALS.
 */
export const FP_DECIMALS = 18;
export const FP_ONE = 10n ** BigInt(FP_DECIMALS);

/** floor(a × b / 1e18) */
export function fpMul(a: bigint, b: bigint): bigint {
  return (a * b) / FP_ONE;
}

/** floor(a × 1e18 / b) */
export function fpDiv(a: bigint, b: bigint): bigint {
  if (b === 0n) throw new RangeError("fixed-point division by zero");
  return (a * FP_ONE) / b;
}
