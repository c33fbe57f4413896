import { describe, expect, it } from "vitest";
import { FP_ONE, formatFixed, fpDiv, fpMul, parseFixed } from "../../src/lib/uma/fixed-point";

describe("UMA fixed point", () => {
  it("parses decimal text exactly", () => {
    expect(parseFixed("1.25")).toBe(1_250_000_000_000_000_000n);
    expect(parseFixed("0.02")).toBe(20_000_000_000_000_000n);
    expect(parseFixed(0.1)).toBe(100_000_000_000_000_000n);
    expect(parseFixed("5")).toBe(5n * FP_ONE);
    expect(parseFixed("0.000000000000000001")).toBe(1n);
  });
  it("refuses what it cannot represent", () => {
    expect(() => parseFixed("-1")).toThrow(/non-negative/);
    expect(() => parseFixed("1e3")).toThrow(/non-negative/);
    expect(() => parseFixed("0.0000000000000000001")).toThrow(/more than 18 decimals/);
    expect(() => parseFixed(Number.NaN)).toThrow();
  });
  it("floors products and quotients", () => {
    expect(fpMul(3n, FP_ONE / 2n)).toBe(1n); // 1.5 wei floors to 1
    expect(fpDiv(1n, 3n * FP_ONE)).toBe(0n);
    expect(fpDiv(2n * FP_ONE, 3n * FP_ONE)).toBe(666_666_666_666_666_666n);
    expect(() => fpDiv(1n, 0n)).toThrow(/division by zero/);
  });
  it("formats back to the shortest decimal", () => {
    for (const s of ["1.25", "0.02", "5", "1224.999999999986517278", "0"]) expect(formatFixed(parseFixed(s))).toBe(s);
    expect(formatFixed(-parseFixed("0.5"))).toBe("-0.5");
  });
});
