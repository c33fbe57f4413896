import { describe, expect, it } from "vitest";
import { FEE_DENOMINATOR, FEE_NUMERATOR, amountInProblem, getAmountIn, getAmountOut, orientReserves } from "../../src/lib/uniswap/v2-math";

/**
 * The oracle is the pair's own rule, not the router's formula: UniswapV2Pair.swap accepts a trade
 * when (balanceIn·1000 − amountIn·3) · balanceOut·1000 ≥ reserveIn · reserveOut · 1000². The least
 * input it accepts is found here by bisection; the router's getAmountIn is that least input, or one
 * more when the division is exact (it always adds 1). The router's answers on the devnet are the
 * second oracle (test/integration/buy.test.ts).
 */
function pairAccepts(amountIn: bigint, amountOut: bigint, rIn: bigint, rOut: bigint): boolean {
  const balIn = rIn + amountIn;
  const balOut = rOut - amountOut;
  return (balIn * 1000n - amountIn * 3n) * (balOut * 1000n) >= rIn * rOut * 1_000_000n;
}

function leastInput(amountOut: bigint, rIn: bigint, rOut: bigint): bigint {
  let lo = 0n;
  let hi = 1n;
  while (!pairAccepts(hi, amountOut, rIn, rOut)) hi *= 2n;
  while (lo + 1n < hi) {
    const mid = (lo + hi) / 2n;
    if (pairAccepts(mid, amountOut, rIn, rOut)) hi = mid;
    else lo = mid;
  }
  return pairAccepts(lo, amountOut, rIn, rOut) ? lo : hi;
}

/** Largest output the pair gives for `amountIn`, by bisection on the same rule. */
function mostOutput(amountIn: bigint, rIn: bigint, rOut: bigint): bigint {
  let lo = 0n;
  let hi = rOut;
  while (lo < hi) {
    const mid = (lo + hi + 1n) / 2n;
    if (pairAccepts(amountIn, mid, rIn, rOut)) lo = mid;
    else hi = mid - 1n;
  }
  return lo;
}

const E18 = 10n ** 18n;
// A spread of pools: deep and thin, balanced and lopsided, tiny and huge (uint112 reserves).
const POOLS: [bigint, bigint][] = [
  [666n * E18, 20n * E18],
  [16n * E18, E18 / 2n],
  [1000n, 1000n],
  [45_851_931_234n, 125_682_033_533n],
  [(1n << 112n) - 1n, (1n << 100n) + 12345n],
  [7n, 1_000_000_007n],
];

describe("getAmountIn (the pair's K rule as the oracle)", () => {
  for (const [rIn, rOut] of POOLS) {
    it(`reserves ${rIn}/${rOut}`, () => {
      for (const out of [1n, 2n, rOut / 1000n + 1n, rOut / 3n, rOut / 2n, rOut - rOut / 10n, rOut - 1n].filter((o) => o > 0n && o < rOut)) {
        const x = getAmountIn(out, rIn, rOut);
        const least = leastInput(out, rIn, rOut);
        expect(pairAccepts(x, out, rIn, rOut), `out ${out}`).toBe(true);
        const exact = (rIn * out * 1000n) % ((rOut - out) * 997n) === 0n;
        expect(x, `out ${out}`).toBe(exact ? least + 1n : least);
      }
    });
  }

  it("a published vector: 27328 out of 45851931234/125682033533 needs 10000 in", () => {
    expect(getAmountOut(10_000n, 45_851_931_234n, 125_682_033_533n)).toBe(27_328n);
    expect(getAmountIn(27_328n, 45_851_931_234n, 125_682_033_533n)).toBe(10_000n);
  });

  it("the fee is 0.3 %: 997/1000", () => {
    expect([FEE_NUMERATOR, FEE_DENOMINATOR]).toEqual([997n, 1000n]);
    // With no price impact to speak of, the input is the output / (1 - 0.3 %), rounded up.
    expect(getAmountIn(1_000_000n, 10n ** 30n, 10n ** 30n)).toBe(1_003_010n);
  });

  it("refuses what the pair cannot do, saying why", () => {
    expect(amountInProblem(0n, 10n, 10n)).toBe("nothing to buy");
    expect(amountInProblem(-1n, 10n, 10n)).toBe("nothing to buy");
    expect(amountInProblem(1n, 0n, 10n)).toBe("the pool holds no liquidity");
    expect(amountInProblem(1n, 10n, 0n)).toBe("the pool holds no liquidity");
    expect(amountInProblem(1n, -5n, 10n)).toBe("the pool holds no liquidity");
    expect(amountInProblem(10n, 10n, 10n)).toBe("the pool holds only 10 units of the token bought, 10 asked");
    expect(amountInProblem(11n, 10n, 10n)).toBe("the pool holds only 10 units of the token bought, 11 asked");
    expect(amountInProblem(9n, 10n, 10n)).toBeUndefined();
    expect(amountInProblem(1n, 1n, 2n)).toBeUndefined();
    expect(() => getAmountIn(10n, 10n, 10n)).toThrow(RangeError);
    expect(() => getAmountIn(10n, 10n, 10n)).toThrow("the pool holds only 10 units of the token bought, 10 asked");
    expect(() => getAmountIn(0n, 10n, 10n)).toThrow("nothing to buy");
  });
});

describe("getAmountOut (the same oracle, the other way)", () => {
  for (const [rIn, rOut] of POOLS) {
    it(`reserves ${rIn}/${rOut}`, () => {
      for (const amountIn of [1n, 3n, 1000n, rIn / 100n + 1n, rIn, rIn * 5n]) {
        expect(getAmountOut(amountIn, rIn, rOut), `in ${amountIn}`).toBe(mostOutput(amountIn, rIn, rOut));
      }
    });
  }
  it("refuses nothing in and empty pools", () => {
    expect(() => getAmountOut(0n, 10n, 10n)).toThrow("nothing to sell");
    expect(() => getAmountOut(1n, 0n, 10n)).toThrow("the pool holds no liquidity");
    expect(() => getAmountOut(1n, 10n, 0n)).toThrow("the pool holds no liquidity");
    expect(getAmountOut(1n, 10n, 10n)).toBe(0n);
  });
});

describe("orientReserves", () => {
  const r = { token0: "0x00000000000000000000000000000000000000Aa", reserve0: 5n, reserve1: 7n };
  it("token0 in: (reserve0, reserve1), case-insensitive", () => {
    expect(orientReserves(r, "0x00000000000000000000000000000000000000aA")).toEqual({ reserveIn: 5n, reserveOut: 7n });
  });
  it("token1 in: swapped", () => {
    expect(orientReserves(r, "0x00000000000000000000000000000000000000Bb")).toEqual({ reserveIn: 7n, reserveOut: 5n });
  });
});
