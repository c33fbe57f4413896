/**
 * Independent oracles for the RAI feed's math, written differently from src/lib/rai on purpose.
 *
 * annualize: the contract rounds every product of its square-and-multiply to 27 decimals (half
 * up). Here the power is taken with 90 decimals, truncating, so the result is the exact
 * x^31536000 to far better than a wei; the contract's rounding moves the true value by well under
 * 1e-24, so both truncate to the same 18 decimals unless the exact value sits within 1e-24 of a
 * wei boundary — `referenceAnnualize` refuses those rather than guess.
 */
const P = 10n ** 90n;
const SCALE_IN = 10n ** 63n; // RAY (27 decimals) -> 90 decimals
const TO_WEI = 10n ** 72n; // 90 decimals -> 18
const MARGIN = 10n ** 66n; // 1e-24 at 90 decimals

function powHigh(x: bigint, n: bigint): bigint {
  let result = P;
  let b = x;
  while (n > 0n) {
    if (n & 1n) result = (result * b) / P;
    b = (b * b) / P;
    n >>= 1n;
  }
  return result;
}

export function referenceAnnualize(perSecondRay: bigint, seconds = 31_536_000n): bigint {
  const exact = powHigh(perSecondRay * SCALE_IN, seconds);
  const rem = exact % TO_WEI;
  if (rem < MARGIN || TO_WEI - rem < MARGIN) throw new Error(`reference: ${perSecondRay} lands within 1e-24 of a wei boundary; pick another rate`);
  return exact / TO_WEI;
}

/** Time-weighted average by walking the window second by second (time before the first point left out). */
export function referenceTwap(points: { timestamp: number; price: bigint; block?: number }[], start: number, end: number): bigint | null {
  let sum = 0n;
  let covered = 0n;
  for (let s = start; s < end; s++) {
    // the point in force at second s: the latest at or before s; on a tie, the higher block
    let best: { timestamp: number; price: bigint; block?: number } | undefined;
    for (const p of points) {
      if (p.timestamp > s) continue;
      if (!best || p.timestamp > best.timestamp || (p.timestamp === best.timestamp && (p.block ?? 0) > (best.block ?? 0))) best = p;
    }
    if (!best) continue;
    sum += best.price;
    covered++;
  }
  if (covered === 0n) return null;
  const q = sum / covered;
  return sum < 0n && q * covered !== sum ? q - 1n : q; // floor, also for negative prices
}
