/**
 * Fixed-point integers <-> decimal text, the one place for it (RAI's RAY/WAD values, UMA's
 * 18-decimal FixedPoint, token amounts). All exact: bigint in, bigint out, no floating point,
 * and a text that holds more precision than the target is refused rather than rounded, because a
 * silently rounded rate or amount would change a price or a transaction.
 */

function splitSign(value: bigint): { sign: string; abs: bigint } {
  return value < 0n ? { sign: "-", abs: -value } : { sign: "", abs: value };
}

function checkDecimals(decimals: number): bigint {
  if (!Number.isInteger(decimals) || decimals < 0) throw new RangeError(`decimals must be a whole number >= 0, got ${decimals}`);
  return 10n ** BigInt(decimals);
}

/**
 * Every one of `decimals` places, trailing zeros kept (formatFixedPadded(1500n, 3) -> "1.500"):
 * for values whose width is part of the meaning (a price to the wei, reproducible by anyone).
 */
export function formatFixedPadded(value: bigint, decimals: number): string {
  const unit = checkDecimals(decimals);
  const { sign, abs } = splitSign(value);
  const frac = (abs % unit).toString().padStart(decimals, "0");
  return `${sign}${abs / unit}${decimals > 0 ? "." + frac : ""}`;
}

/**
 * The shortest exact text: trailing zeros and a bare point dropped (formatFixedTrimmed(1500n, 3)
 * -> "1.5", 2000n -> "2"). For amounts shown to people and config-style values.
 */
export function formatFixedTrimmed(value: bigint, decimals: number): string {
  const unit = checkDecimals(decimals);
  const { sign, abs } = splitSign(value);
  const frac = (abs % unit).toString().padStart(decimals, "0").replace(/0+$/, "");
  return `${sign}${abs / unit}${frac ? "." + frac : ""}`;
}

/**
 * A number as published by others (a subgraph's "0.99999999984", "-1", "1.5e-3"): sign and
 * exponent allowed. Throws when the text has more precision than `decimals` can hold.
 */
export function parseFixedLenient(text: string, decimals: number): bigint {
  checkDecimals(decimals);
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

const PLAIN_DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/**
 * A value a person wrote (a flag, a config entry: "1.25", 0.02): non-negative plain decimal text
 * only, no sign or exponent. A JS number is taken by its shortest decimal text, which is exact for
 * the usual config values. Throws on more than `decimals` fractional digits.
 */
export function parseFixedStrict(value: string | number, decimals: number): bigint {
  const unit = checkDecimals(decimals);
  const text = typeof value === "number" ? numberText(value, decimals) : value.trim();
  const m = PLAIN_DECIMAL.exec(text);
  if (!m) throw new RangeError(`not a non-negative decimal number: "${value}"`);
  const frac = m[2] ?? "";
  if (frac.length > decimals) throw new RangeError(`more than ${decimals} decimals: "${value}"`);
  return BigInt(m[1]) * unit + BigInt(frac.padEnd(decimals, "0") || "0");
}

function numberText(n: number, decimals: number): string {
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`not a non-negative decimal number: ${n}`);
  const s = String(n);
  // 1e-7, 1.5e-7, 1e+21: the same shortest digits with the point moved. (toFixed(decimals) would
  // round 1.5e-7 to "0.000000" at 6 decimals: a silent rounding the caller asked to refuse.)
  const m = /^(\d+)(?:\.(\d+))?e([+-]?\d+)$/i.exec(s);
  if (!m) return s;
  const digits = m[1] + (m[2] ?? "");
  const point = m[1].length + Number(m[3]);
  if (point <= 0) return "0." + "0".repeat(-point) + digits;
  if (point >= digits.length) return digits + "0".repeat(point - digits.length);
  return digits.slice(0, point) + "." + digits.slice(point);
}
