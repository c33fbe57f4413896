/**
 * Exact RAY arithmetic for the RAI redemption rate. Everything is bigint: the price must be
 * reproducible to the wei by anyone (UMA voters), so no floating point anywhere.
 */
export const RAY = 10n ** 27n;
export const WAD = 10n ** 18n;
/** 365 * 24 * 3600 — one (non-leap) year in seconds. */
export const SECONDS_PER_YEAR = 31_536_000n;

/**
 * x^n in fixed point with `base` as one, by squaring. Every product is rounded half up
 * ((a*b + base/2) / base), in exactly the order Reflexer's OracleRelayer.rpower uses, so the
 * result matches the contract bit for bit (the rounding order changes the last digits).
 */
export function rpower(x: bigint, n: bigint | number, base: bigint = RAY): bigint {
  let e = BigInt(n);
  if (x < 0n || e < 0n || base <= 0n) throw new RangeError("rpower: x, n and base must be non-negative (base > 0)");
  if (x === 0n) return e === 0n ? base : 0n;
  const half = base / 2n;
  let z = e % 2n === 1n ? x : base;
  for (e /= 2n; e > 0n; e /= 2n) {
    x = (x * x + half) / base;
    if (e % 2n === 1n) z = (z * x + half) / base;
  }
  return z;
}

/** perSecondRate (RAY) ^ one year, truncated from 27 to 18 decimals: the feed's price in wei. */
export function annualize(perSecondRay: bigint): bigint {
  return rpower(perSecondRay, SECONDS_PER_YEAR, RAY) / 10n ** 9n;
}
