/**
 * The RAI replay's independent check of every price the bots were given: plain bigint math from
 * the CSV's rates, written apart from src/lib/rai on purpose (and never calling it), so a bug in
 * the feed cannot hide behind the same bug here.
 *
 * The feed's price at t is the time-weighted average, over [t - twap, t], of each rate's
 * annualized value. "Annualized" is defined by the chain: Reflexer's OracleRelayer raises a RAY
 * to a power by square-and-multiply with every product rounded half up to 27 decimals, and the
 * result is cut to 18 decimals. That rounding is part of the definition: the exact power differs
 * from it by up to ~1e-20 (each rounding error is raised to the rest of the exponent), which
 * changes the 18th decimal of about one rate in a hundred (one of the 228 shipped ones). So the
 * power is re-derived here from the contract's algorithm, bit by bit of the exponent.
 */
const SECONDS_PER_YEAR = 31_536_000n;
const RAY = 10n ** 27n;
const HALF_RAY = RAY / 2n;

/** base^exp in RAY, the OracleRelayer's way: odd exponent starts from base, then square, multiply on set bits. */
function contractPow(base: bigint, exp: bigint): bigint {
  const bits = exp.toString(2);
  let square = base;
  let result = bits.endsWith("1") ? base : RAY;
  // bits[length-1] is the lowest bit (already used); walk the rest from low to high.
  for (let i = bits.length - 2; i >= 0; i--) {
    square = (square * square + HALF_RAY) / RAY;
    if (bits[i] === "1") result = (result * square + HALF_RAY) / RAY;
  }
  return result;
}

const yearly = new Map<bigint, bigint>();

/** The annualized rate in wei (18 decimals). */
export function annualizedWei(rateRay: bigint): bigint {
  let v = yearly.get(rateRay);
  if (v === undefined) {
    v = contractPow(rateRay, SECONDS_PER_YEAR) / 10n ** 9n;
    yearly.set(rateRay, v);
  }
  return v;
}

/**
 * The price at series time `t`: each rate holds from its timestamp until the next one; the seconds
 * of [t - twap, t] covered by some rate are averaged, time before the first rate is left out, and
 * the sum is floor-divided. Null when no second is covered.
 */
export function expectedPrice(rates: ReadonlyArray<{ t: number; rate: bigint }>, t: number, twapSec: number): bigint | null {
  const start = t - twapSec;
  let sum = 0n;
  let seconds = 0n;
  for (let k = 0; k < rates.length; k++) {
    const from = Math.max(rates[k].t, start);
    const until = Math.min(k + 1 < rates.length ? rates[k + 1].t : Infinity, t);
    if (until <= from) continue;
    sum += annualizedWei(rates[k].rate) * BigInt(until - from);
    seconds += BigInt(until - from);
  }
  return seconds === 0n ? null : sum / seconds;
}
