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

/** Exact decimal text of a fixed-point integer (e.g. wei with 18 decimals -> "0.995235179127827689"). */
export function formatFixed(value: bigint, decimals: number): string {
  const neg = value < 0n;
  const abs = neg ? -value : value;
  const unit = 10n ** BigInt(decimals);
  const int = abs / unit;
  const frac = (abs % unit).toString().padStart(decimals, "0");
  return `${neg ? "-" : ""}${int}${decimals > 0 ? "." + frac : ""}`;
}

/**
 * Parses a decimal string ("0.99999999984", "1", "1.5e-3") into a fixed-point integer with
 * `decimals` places. Throws when the text has more precision than `decimals` can hold, because
 * silently rounding a rate would change the price.
 */
export function parseFixed(text: string, decimals: number): bigint {
  const m = /^\s*(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$/.exec(text);
  if (!m || (m[2] === "" && (m[3] ?? "") === "")) throw new RangeError(`not a decimal number: "${text}"`);
  const digits = (m[2] || "0") + (m[3] ?? "");
  // position of the decimal point after applying the exponent
  const scale = (m[3] ?? "").length - Number(m[4] ?? 0);
  const shift = decimals - scale;
  let v: bigint;
  if (shift >= 0) v = BigInt(digits) * 10n ** BigInt(shift);
  else {
    const cut = digits.slice(0, digits.length + shift) || "0";
    const rest = digits.slice(digits.length + shift);
    if (/[1-9]/.test(rest)) throw new RangeError(`"${text}" has more than ${decimals} decimals`);
    v = BigInt(cut);
  }
  return m[1] === "-" ? -v : v;
}
