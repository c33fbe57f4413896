/**
 * Uniswap V2's constant-product pricing, done locally on plain numbers: what a swap through one
 * pair costs given its reserves. The pair charges 0.3 % of the input (a factor of 997/1000 on what
 * counts against the curve), and the router rounds the input up by one unit so the curve never
 * loses to rounding. Same integer arithmetic as the router's getAmountIn / getAmountOut, so a
 * local answer can be checked against the router's own quote at the same block.
 */
export const FEE_NUMERATOR = 997n;
export const FEE_DENOMINATOR = 1000n;

/** Why a swap cannot be priced on these reserves, or undefined when it can. */
export function amountInProblem(amountOut: bigint, reserveIn: bigint, reserveOut: bigint): string | undefined {
  if (amountOut <= 0n) return "nothing to buy";
  if (reserveIn <= 0n || reserveOut <= 0n) return "the pool holds no liquidity";
  if (amountOut >= reserveOut) return `the pool holds only ${reserveOut} units of the token bought, ${amountOut} asked`;
  return undefined;
}

/** Input needed to take exactly `amountOut` out of a pair holding (reserveIn, reserveOut). */
export function getAmountIn(amountOut: bigint, reserveIn: bigint, reserveOut: bigint): bigint {
  const problem = amountInProblem(amountOut, reserveIn, reserveOut);
  if (problem) throw new RangeError(problem);
  return (reserveIn * amountOut * FEE_DENOMINATOR) / ((reserveOut - amountOut) * FEE_NUMERATOR) + 1n;
}

/** Output a pair gives for exactly `amountIn` (the other direction; used to check getAmountIn). */
export function getAmountOut(amountIn: bigint, reserveIn: bigint, reserveOut: bigint): bigint {
  if (amountIn <= 0n) throw new RangeError("nothing to sell");
  if (reserveIn <= 0n || reserveOut <= 0n) throw new RangeError("the pool holds no liquidity");
  const withFee = amountIn * FEE_NUMERATOR;
  return (withFee * reserveOut) / (reserveIn * FEE_DENOMINATOR + withFee);
}

/** A pair's reserves as (in, out) for a swap from `tokenIn`; token0 is the lower address. */
export function orientReserves(r: { token0: string; reserve0: bigint; reserve1: bigint }, tokenIn: string): { reserveIn: bigint; reserveOut: bigint } {
  return r.token0.toLowerCase() === tokenIn.toLowerCase() ? { reserveIn: r.reserve0, reserveOut: r.reserve1 } : { reserveIn: r.reserve1, reserveOut: r.reserve0 };
}
