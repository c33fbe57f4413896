import { describe, expect, it } from "vitest";
import { formatFixedPadded } from "../../src/lib/fixed-point";
import { RAY, SECONDS_PER_YEAR, WAD, annualize, rpower } from "../../src/lib/rai/math";
import { referenceAnnualize } from "../helpers/rai-reference";

describe("rpower", () => {
  it("matches the reference check values after annualizing", () => {
    expect(formatFixedPadded(annualize(999999999848547411861463422n), 18)).toBe("0.995235179127827689");
    expect(formatFixedPadded(annualize(RAY), 18)).toBe("1.000000000000000000");
  });

  it("handles the zero cases like the contract", () => {
    expect(rpower(0n, 0n)).toBe(RAY);
    expect(rpower(0n, 5n)).toBe(0n);
    expect(rpower(123n * RAY, 0n)).toBe(RAY);
    expect(rpower(3n * RAY, 1n)).toBe(3n * RAY);
  });

  it("refuses a negative base value, exponent or a base unit that is not positive", () => {
    const msg = /^rpower: x, n and base must be non-negative \(base > 0\)$/;
    expect(() => rpower(-1n, 2n)).toThrow(msg);
    expect(() => rpower(RAY, -1n)).toThrow(msg);
    expect(() => rpower(RAY, 2n, 0n)).toThrow(msg);
    expect(() => rpower(RAY, 2n, -10n)).toThrow(msg);
    expect(() => rpower(-1n, -1n, -1n)).toThrow(RangeError);
    expect(rpower(2n, 3n, 1n)).toBe(8n); // base 1: plain integers
  });

  it("is exact for integer powers and rounds each product half up", () => {
    expect(rpower(2n * RAY, 10n)).toBe(1024n * RAY);
    expect(rpower(3n, 2n, 10n)).toBe(1n); // (3*3 + 5) / 10 = 1: 0.09 rounds up to 0.1
    expect(rpower(14n, 2n, 10n)).toBe(20n); // 1.4^2 = 1.96 -> 2.0 (half up)
    // 1.5^3 = 3.375, but the contract squares first: x=(225+5)/10=23, z=(15*23+5)/10=35
    expect(rpower(15n, 3n, 10n)).toBe(35n);
  });

  it("agrees with naive repeated multiplication when no rounding happens", () => {
    for (let n = 0n; n < 40n; n++) expect(rpower(2n * RAY, n)).toBe(2n ** n * RAY);
  });

  it("above 1 RAY annualizes above 1, below gives below", () => {
    const up = annualize(RAY + 1_000_000_000_000_000n);
    const down = annualize(RAY - 1_000_000_000_000_000n);
    expect(up > 10n ** 18n).toBe(true);
    expect(down < 10n ** 18n).toBe(true);
  });

  it("agrees to the wei with an independent 90-decimal power, over rates from -60 % to +80 % a year", () => {
    // a year is 365 days
    expect(SECONDS_PER_YEAR).toBe(365n * 24n * 3600n);
    expect(WAD).toBe(10n ** 18n);
    let seed = 12345n;
    const next = () => (seed = (seed * 6364136223846793005n + 1442695040888963407n) % 2n ** 64n);
    const rates = [999999999848547411861463422n]; // (RAY itself is exact: checked above)
    // per-second deltas up to ±2e-8 (roughly -47 % .. +88 % a year)
    for (let i = 0; i < 60; i++) rates.push(RAY + (next() % (4n * 10n ** 19n)) - 2n * 10n ** 19n);
    for (const r of rates) expect(annualize(r), String(r)).toBe(referenceAnnualize(r));
  });
});
