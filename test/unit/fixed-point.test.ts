import { describe, expect, it } from "vitest";
import { formatFixedPadded, formatFixedTrimmed, parseFixedLenient, parseFixedStrict } from "../../src/lib/fixed-point";

describe("formatFixedPadded: every decimal place", () => {
  it("keeps trailing zeros", () => {
    expect(formatFixedPadded(1500n, 3)).toBe("1.500");
    expect(formatFixedPadded(2000n, 3)).toBe("2.000");
    expect(formatFixedPadded(1n, 3)).toBe("0.001");
    expect(formatFixedPadded(0n, 2)).toBe("0.00");
    expect(formatFixedPadded(10n ** 18n, 18)).toBe("1.000000000000000000");
  });
  it("signs and zero decimals", () => {
    expect(formatFixedPadded(-1500n, 3)).toBe("-1.500");
    expect(formatFixedPadded(-1n, 3)).toBe("-0.001");
    expect(formatFixedPadded(42n, 0)).toBe("42");
  });
});

describe("formatFixedTrimmed: the shortest exact text", () => {
  it("drops trailing zeros and a bare point", () => {
    expect(formatFixedTrimmed(1500n, 3)).toBe("1.5");
    expect(formatFixedTrimmed(2000n, 3)).toBe("2");
    expect(formatFixedTrimmed(1n, 3)).toBe("0.001");
    expect(formatFixedTrimmed(0n, 18)).toBe("0");
    expect(formatFixedTrimmed(100n, 0)).toBe("100"); // zeros of the integer part stay
    expect(formatFixedTrimmed(1_250_000_000_000_000_000n, 18)).toBe("1.25");
  });
  it("signs", () => {
    expect(formatFixedTrimmed(-500n, 3)).toBe("-0.5");
    expect(formatFixedTrimmed(-3000n, 3)).toBe("-3");
  });
  it("differs from the padded form only by trailing zeros", () => {
    for (const [v, d] of [[123456789n, 4], [100n, 2], [7n, 5], [-10n, 1]] as const) {
      const padded = formatFixedPadded(v, d);
      expect(formatFixedTrimmed(v, d)).toBe(padded.replace(/\.?0+$/, "") || "0");
    }
  });
});

describe("parseFixedLenient: numbers as others publish them", () => {
  it("reads plain, signed and exponent text exactly", () => {
    expect(parseFixedLenient("0.999999999848547411861463422", 27)).toBe(999_999_999_848_547_411_861_463_422n);
    expect(parseFixedLenient("1", 27)).toBe(10n ** 27n);
    expect(parseFixedLenient("1.5e-3", 4)).toBe(15n);
    expect(parseFixedLenient("1000e-3", 0)).toBe(1n);
    expect(parseFixedLenient("-2.5", 1)).toBe(-25n);
    expect(parseFixedLenient(".5", 2)).toBe(50n);
  });
  it("refuses more precision than the target holds, and non-numbers", () => {
    expect(() => parseFixedLenient("0.1234", 3)).toThrow(/more than 3 decimals/);
    expect(() => parseFixedLenient("abc", 3)).toThrow(/not a decimal/);
    expect(() => parseFixedLenient("", 3)).toThrow(/not a decimal/);
  });
  it("the whole text must be a number: nothing before or after it but blanks", () => {
    expect(() => parseFixedLenient("x1.5", 1)).toThrow(/not a decimal number: "x1.5"/);
    expect(() => parseFixedLenient("1.5x", 1)).toThrow(/not a decimal number/);
    expect(() => parseFixedLenient("1.5 x", 1)).toThrow(/not a decimal number/);
    expect(parseFixedLenient(" 1.5 ", 1)).toBe(15n);
    expect(parseFixedLenient("\t-1.5\n", 1)).toBe(-15n);
  });
  it("exponents: unsigned, signed, several digits", () => {
    expect(parseFixedLenient("1.5e3", 0)).toBe(1500n);
    expect(parseFixedLenient("1.5E+3", 0)).toBe(1500n);
    expect(parseFixedLenient("1e10", 0)).toBe(10_000_000_000n);
    expect(parseFixedLenient("25e-12", 12)).toBe(25n);
    expect(parseFixedLenient("2000e-3", 0)).toBe(2n);
    expect(parseFixedLenient("0e-5", 0)).toBe(0n);
    expect(parseFixedLenient("0.000", 0)).toBe(0n);
    expect(() => parseFixedLenient("1e", 0)).toThrow(/not a decimal number/);
  });
  it("round-trips with formatFixedPadded", () => {
    for (const s of ["0.001", "12.340", "-7.000"]) expect(formatFixedPadded(parseFixedLenient(s, 3), 3)).toBe(s);
  });
});

describe("parseFixedStrict: values a person wrote", () => {
  it("reads non-negative plain decimals", () => {
    expect(parseFixedStrict("1.25", 18)).toBe(1_250_000_000_000_000_000n);
    expect(parseFixedStrict("0.02", 18)).toBe(20_000_000_000_000_000n);
    expect(parseFixedStrict(" 5 ", 2)).toBe(500n);
    expect(parseFixedStrict("0.000000000000000001", 18)).toBe(1n);
    expect(parseFixedStrict(0.1, 18)).toBe(100_000_000_000_000_000n);
    expect(parseFixedStrict(1e-7, 18)).toBe(100_000_000_000n); // String(1e-7) is "1e-7"
    expect(parseFixedStrict(3, 0)).toBe(3n);
  });
  it("refuses signs, exponents and excess precision (no silent rounding)", () => {
    expect(() => parseFixedStrict("-1", 18)).toThrow(/non-negative/);
    expect(() => parseFixedStrict("1e3", 18)).toThrow(/non-negative/);
    expect(() => parseFixedStrict("0.0000000000000000001", 18)).toThrow(/more than 18 decimals/);
    expect(() => parseFixedStrict("0.5", 0)).toThrow(/more than 0 decimals/);
    expect(() => parseFixedStrict(Number.NaN, 18)).toThrow(/non-negative/);
    expect(() => parseFixedStrict(-1, 18)).toThrow(/non-negative/);
  });
  it("a JS number in exponent form is read by its exact decimal digits, never rounded to fit", () => {
    expect(parseFixedStrict(1.5e-7, 18)).toBe(150_000_000_000n);
    expect(parseFixedStrict(1.5e-7, 8)).toBe(15n);
    expect(() => parseFixedStrict(1.5e-7, 6)).toThrow(/more than 6 decimals: "1.5e-7"/);
    expect(() => parseFixedStrict(1e-7, 0)).toThrow(/more than 0 decimals/);
    expect(parseFixedStrict(1e21, 0)).toBe(10n ** 21n);
    expect(parseFixedStrict(1.25e22, 2)).toBe(125n * 10n ** 22n);
    expect(parseFixedStrict(0, 2)).toBe(0n);
  });
  it("a negative or non-finite number is refused by its own value", () => {
    expect(() => parseFixedStrict(-1, 18)).toThrow(/^not a non-negative decimal number: -1$/);
    expect(() => parseFixedStrict(Number.NaN, 18)).toThrow(/^not a non-negative decimal number: NaN$/);
    expect(() => parseFixedStrict(Number.POSITIVE_INFINITY, 18)).toThrow(/^not a non-negative decimal number: Infinity$/);
    expect(() => parseFixedStrict(-1e-7, 18)).toThrow(/^not a non-negative decimal number: -1e-7$/);
  });
  it("round-trips with formatFixedTrimmed", () => {
    for (const s of ["1.25", "0.02", "5", "1224.999999999986517278", "0"]) expect(formatFixedTrimmed(parseFixedStrict(s, 18), 18)).toBe(s);
  });
  it("refuses a negative or fractional decimals count", () => {
    expect(() => parseFixedStrict("1", -1)).toThrow(/decimals/);
    expect(() => formatFixedTrimmed(1n, 1.5)).toThrow(/decimals/);
  });
});
