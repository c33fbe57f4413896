/**
 * UMA's FixedPoint: unsigned 18-decimal integers where 1e18 means 1.0. Every product and quotient
 * floors, as the contracts do, so off-chain decisions match on-chain checks to the wei.
 */
export const FP_ONE = 10n ** 18n;

/** floor(a × b / 1e18) */
export function fpMul(a: bigint, b: bigint): bigint {
  return (a * b) / FP_ONE;
}

/** floor(a × 1e18 / b) */
export function fpDiv(a: bigint, b: bigint): bigint {
  if (b === 0n) throw new RangeError("fixed-point division by zero");
  return (a * FP_ONE) / b;
}

const DECIMAL_RE = /^(\d+)(?:\.(\d+))?$/;

/**
 * Exact decimal text -> 18-decimal fixed point ("1.25" -> 1250000000000000000n). Refuses more than
 * 18 fractional digits instead of rounding silently; numbers are accepted only via their
 * shortest decimal text, which is exact for the usual config values (0.02, 1.25, ...).
 */
export function parseFixed(value: string | number): bigint {
  const text = typeof value === "number" ? numberText(value) : value.trim();
  const m = DECIMAL_RE.exec(text);
  if (!m) throw new RangeError(`not a non-negative decimal number: "${value}"`);
  const frac = m[2] ?? "";
  if (frac.length > 18) throw new RangeError(`more than 18 decimals: "${value}"`);
  return BigInt(m[1]) * FP_ONE + BigInt(frac.padEnd(18, "0") || "0");
}

function numberText(n: number): string {
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`not a non-negative decimal number: ${n}`);
  const s = String(n);
  if (/e/i.test(s)) return n.toFixed(18).replace(/\.?0+$/, "");
  return s;
}

/** 18-decimal fixed point -> shortest exact decimal text (1250000000000000000n -> "1.25"). */
export function formatFixed(value: bigint): string {
  const neg = value < 0n;
  const abs = neg ? -value : value;
  const whole = abs / FP_ONE;
  const frac = (abs % FP_ONE).toString().padStart(18, "0").replace(/0+$/, "");
  return (neg ? "-" : "") + whole.toString() + (frac ? "." + frac : "");
}
