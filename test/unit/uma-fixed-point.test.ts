import { describe, expect, it } from "vitest";
import { FP_ONE, fpDiv, fpMul } from "../../src/lib/uma/fixed-point";

// Text in and out (parseFixedStrict, formatFixedTrimmed): test/unit/fixed-point.test.ts.
describe("UMA fixed point", () => {
  it("floors products and quotients", () => {
    expect(fpMul(3n, FP_ONE / 2n)).toBe(1n); // 1.5 wei floors to 1
    expect(fpDiv(1n, 3n * FP_ONE)).toBe(0n);
    expect(fpDiv(2n * FP_ONE, 3n * FP_ONE)).toBe(666_666_666_666_666_666n);
    expect(() => fpDiv(1n, 0n)).toThrow(/division by zero/);
  });
});
