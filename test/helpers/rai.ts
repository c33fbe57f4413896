import { annualize } from "../../src/lib/rai";

/**
 * The time-weighted price computed independently of `computeTwap`: walk the window second by
 * second and average the annualized rate in force at each one. Slow on purpose; tests only.
 * (`annualize` itself is checked against the OracleRelayer's Solidity rpower on chain.)
 */
export function bruteTwap(rates: { timestamp: number; perSecondRate: bigint }[], start: number, end: number): bigint | null {
  const sorted = [...rates].sort((a, b) => a.timestamp - b.timestamp);
  let sum = 0n;
  let covered = 0n;
  let i = -1;
  for (let s = start; s < end; s++) {
    while (i + 1 < sorted.length && sorted[i + 1].timestamp <= s) i++;
    if (i < 0) continue;
    sum += annualize(sorted[i].perSecondRate);
    covered++;
  }
  return covered === 0n ? null : sum / covered;
}
