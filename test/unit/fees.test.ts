import { describe, expect, it } from "vitest";
import { bumpFees, formatGwei, gweiToWei, raiseByPct, worstCaseFeeWei } from "../../src/lib/chain/fees";

const G = 1_000_000_000n;

describe("fee math", () => {
  it("converts decimal gwei exactly", () => {
    expect(gweiToWei(30)).toBe(30n * G);
    expect(gweiToWei("1.5")).toBe(1_500_000_000n);
    expect(gweiToWei("0.000000001")).toBe(1n);
    expect(gweiToWei(0.1)).toBe(100_000_000n);
    expect(() => gweiToWei("-1")).toThrow(/not a fee in gwei/);
    expect(() => gweiToWei("abc")).toThrow(/not a fee in gwei/);
  });

  it("raises by a percentage rounding up", () => {
    expect(raiseByPct(100n, 12.5)).toBe(113n); // 112.5 -> 113, never under the bump
    expect(raiseByPct(8n, 12.5)).toBe(9n);
    expect(raiseByPct(1000n, 12.5)).toBe(1125n);
    expect(raiseByPct(1000n, 0)).toBe(1000n);
  });

  it("bumps both fields by at least the percentage", () => {
    const r = bumpFees({ maxFeePerGas: 40n * G, maxPriorityFeePerGas: 2n * G }, 12.5, 100n * G)!;
    expect(r).toEqual({ maxFeePerGas: 45n * G, maxPriorityFeePerGas: 2_250_000_000n });
  });

  it("never steps by less than the node's replacement rule (10% by default, configurable)", () => {
    const r = bumpFees({ maxFeePerGas: 40n * G, maxPriorityFeePerGas: 2n * G }, 5, 100n * G)!;
    expect(r).toEqual({ maxFeePerGas: 44n * G, maxPriorityFeePerGas: 2_200_000_000n });
    const r2 = bumpFees({ maxFeePerGas: 40n * G, maxPriorityFeePerGas: 2n * G }, 5, 100n * G, 20)!;
    expect(r2).toEqual({ maxFeePerGas: 48n * G, maxPriorityFeePerGas: 2_400_000_000n });
  });

  it("raises tiny values by at least one wei", () => {
    const r = bumpFees({ maxFeePerGas: 3n, maxPriorityFeePerGas: 0n }, 12.5, 100n)!;
    expect(r.maxFeePerGas).toBe(4n);
    expect(r.maxPriorityFeePerGas).toBe(1n);
  });

  it("no replacement when the next valid step would exceed the cap (a step clipped to the cap would be refused)", () => {
    expect(bumpFees({ maxFeePerGas: 95n * G, maxPriorityFeePerGas: 94n * G }, 12.5, 100n * G)).toBeNull();
    // exactly at the cap is allowed
    expect(bumpFees({ maxFeePerGas: 80n * G, maxPriorityFeePerGas: 2n * G }, 12.5, 90n * G)).toEqual({ maxFeePerGas: 90n * G, maxPriorityFeePerGas: 2_250_000_000n });
    expect(bumpFees({ maxFeePerGas: 80n * G, maxPriorityFeePerGas: 2n * G }, 12.5, 90n * G - 1n)).toBeNull();
  });

  it("keeps the tip under the max fee", () => {
    const r = bumpFees({ maxFeePerGas: 10n, maxPriorityFeePerGas: 10n }, 12.5, 100n)!;
    expect(r.maxPriorityFeePerGas).toBeLessThanOrEqual(r.maxFeePerGas);
  });

  it("returns null at the cap: nothing can rise any more", () => {
    expect(bumpFees({ maxFeePerGas: 100n * G, maxPriorityFeePerGas: 2n * G }, 12.5, 100n * G)).toBeNull();
    expect(bumpFees({ maxFeePerGas: 101n * G, maxPriorityFeePerGas: 2n * G }, 12.5, 100n * G)).toBeNull();
  });

  it("a repeated bump sequence climbs geometrically, each step valid, and stops below the cap", () => {
    let fees = { maxFeePerGas: 10n * G, maxPriorityFeePerGas: 1n * G };
    const seen: bigint[] = [];
    for (let i = 0; i < 50; i++) {
      const next = bumpFees(fees, 12.5, 30n * G);
      if (!next) break;
      expect(next.maxFeePerGas * 100n).toBeGreaterThanOrEqual(fees.maxFeePerGas * 110n);
      expect(next.maxPriorityFeePerGas * 100n).toBeGreaterThanOrEqual(fees.maxPriorityFeePerGas * 110n);
      fees = next;
      seen.push(next.maxFeePerGas);
    }
    expect(seen.length).toBe(9); // 10 * 1.125^9 = 28.87 <= 30; 1.125^10 = 32.5 > 30
    expect(seen.at(-1)! <= 30n * G).toBe(true);
    expect(seen.at(-1)! * 1125n / 1000n > 30n * G).toBe(true);
  });


  it("worst-case fee is gas limit times max fee", () => {
    expect(worstCaseFeeWei(250_000n, 50n * G)).toBe(12_500_000n * G);
  });

  it("formats gwei without trailing zeros", () => {
    expect(formatGwei(50n * G)).toBe("50");
    expect(formatGwei(1_500_000_000n)).toBe("1.5");
    expect(formatGwei(1n)).toBe("0.000000001");
  });
});
