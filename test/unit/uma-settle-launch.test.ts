import { describe, expect, it } from "vitest";
import { expectedSettlePayout } from "../../src/lib/uma/settle-math";
import { creatorParamsOf, LAUNCH_PRESETS, launchProblems, presetName, presetSymbol, RR_RAI_PRESET, type CreatorParams } from "../../src/lib/uma/launch-params";

const E18 = 10n ** 18n;
const wad = (n: number | string) => {
  const [i, f = ""] = String(n).split(".");
  return BigInt(i) * E18 + BigInt((f + "0".repeat(18)).slice(0, 18));
};

describe("expectedSettlePayout (settleExpired's formula)", () => {
  const base = { rawTotalPositionCollateral: wad(1000), cumulativeFeeMultiplier: E18 };
  it("a sponsor with tokens: balance × price + (collateral − debt × price)", () => {
    // 200 collateral, 100 tokens of debt, holds all 100 tokens, price 0.99: 99 + (200 − 99) = 200
    const r = expectedSettlePayout({ ...base, expiryPrice: wad("0.99"), tokenBalance: wad(100), position: { rawCollateral: wad(200), tokensOutstanding: wad(100) } });
    expect(r).toMatchObject({ payout: wad(200), forTokens: wad(99), forPosition: wad(101), capped: false, tokensBurned: wad(100), price: wad("0.99") });
    // holding 40 of the 100 tokens: 39.6 + 101
    expect(expectedSettlePayout({ ...base, expiryPrice: wad("0.99"), tokenBalance: wad(40), position: { rawCollateral: wad(200), tokensOutstanding: wad(100) } }).payout).toBe(wad("140.6"));
  });
  it("a token holder only: balance × price, floored", () => {
    expect(expectedSettlePayout({ ...base, expiryPrice: wad("0.999999999999999999"), tokenBalance: 3n, position: null }).payout).toBe(2n);
    expect(expectedSettlePayout({ ...base, expiryPrice: wad("1.01"), tokenBalance: wad(50), position: { rawCollateral: 0n, tokensOutstanding: 0n } }).forPosition).toBe(0n);
  });
  it("a position under water gets nothing for it; a negative price counts as 0", () => {
    expect(expectedSettlePayout({ ...base, expiryPrice: wad(3), tokenBalance: 0n, position: { rawCollateral: wad(200), tokensOutstanding: wad(100) } }).payout).toBe(0n);
    expect(expectedSettlePayout({ ...base, expiryPrice: wad(2), tokenBalance: 0n, position: { rawCollateral: wad(200), tokensOutstanding: wad(100) } }).payout).toBe(0n);
    const neg = expectedSettlePayout({ ...base, expiryPrice: -5n, tokenBalance: wad(10), position: { rawCollateral: wad(200), tokensOutstanding: wad(100) } });
    expect(neg).toMatchObject({ price: 0n, forTokens: 0n, forPosition: wad(200), payout: wad(200) });
  });
  it("a price of exactly 0 pays the position its collateral and the tokens nothing", () => {
    expect(expectedSettlePayout({ ...base, expiryPrice: 0n, tokenBalance: wad(10), position: { rawCollateral: wad(200), tokensOutstanding: wad(100) } })).toMatchObject({ payout: wad(200), forTokens: 0n });
    expect(expectedSettlePayout({ ...base, expiryPrice: 1n, tokenBalance: E18, position: null })).toMatchObject({ payout: 1n, price: 1n });
  });
  it("an undercapitalised pool pays what it has", () => {
    const r = expectedSettlePayout({ rawTotalPositionCollateral: wad(150), cumulativeFeeMultiplier: E18, expiryPrice: wad(1), tokenBalance: wad(100), position: { rawCollateral: wad(150), tokensOutstanding: wad(40) } });
    expect(r).toMatchObject({ forTokens: wad(100), forPosition: wad(110), payout: wad(150), capped: true });
    expect(expectedSettlePayout({ rawTotalPositionCollateral: wad(100), cumulativeFeeMultiplier: E18, expiryPrice: wad(1), tokenBalance: wad(100), position: null })).toMatchObject({ payout: wad(100), capped: false });
  });
  it("fee-adjusts collateral and the pool by the multiplier, and pays what the raw pool drops by", () => {
    const r = expectedSettlePayout({ rawTotalPositionCollateral: wad(1000), cumulativeFeeMultiplier: wad("0.9"), expiryPrice: wad(1), tokenBalance: 0n, position: { rawCollateral: wad(200), tokensOutstanding: wad(100) } });
    expect(r.forPosition).toBe(wad(80)); // 180 − 100
    expect(r.payout).toBe(wad(80));
    // rounding: raw pool 10 wei at 1/3 holds 3 wei; paying 1 wei removes raw 3 -> pool 2 wei: paid 1
    const odd = expectedSettlePayout({ rawTotalPositionCollateral: 10n, cumulativeFeeMultiplier: wad("0.333333333333333333"), expiryPrice: E18, tokenBalance: 1n, position: null });
    const raw = 10n - (1n * E18) / wad("0.333333333333333333");
    expect(odd.payout).toBe((10n * wad("0.333333333333333333")) / E18 - (raw * wad("0.333333333333333333")) / E18);
    expect(odd.owedOrPool).toBe(1n);
  });
});

describe("launch parameters", () => {
  it("the rr-rai preset is the seed's deployment", () => {
    expect(RR_RAI_PRESET).toEqual({ priceIdentifier: "RaiRedemptionRate", collateralRequirement: "1.25", disputeBondPercentage: "0.1", sponsorDisputeRewardPercentage: "0.05", disputerDisputeRewardPercentage: "0.2", minSponsorTokens: "100", withdrawalLiveness: 7200, liquidationLiveness: 7200 });
    // --preset's choices: rr-rai, and nothing else
    expect(LAUNCH_PRESETS).toEqual({ "rr-rai": RR_RAI_PRESET });
  });
  it("names the synthetic after the expiry month, as RR-RAI-APR21", () => {
    const apr21 = BigInt(Date.UTC(2021, 3, 30, 22) / 1000);
    expect(presetSymbol(apr21)).toBe("RR-RAI-APR21");
    expect(presetName(apr21)).toBe("RAI Redemption Rate APR 2021");
    expect(presetSymbol(BigInt(Date.UTC(2030, 11, 31) / 1000))).toBe("RR-RAI-DEC30");
    expect(presetSymbol(BigInt(Date.UTC(2105, 0, 1) / 1000))).toBe("RR-RAI-JAN05");
    // Every month, against the platform's own English month names (Intl), at the month's first and last second (UTC).
    for (let m = 0; m < 12; m++) {
      const want = new Date(Date.UTC(2027, m, 1)).toLocaleString("en-US", { month: "short", timeZone: "UTC" }).toUpperCase();
      expect(presetSymbol(BigInt(Date.UTC(2027, m, 1) / 1000))).toBe(`RR-RAI-${want}27`);
      expect(presetName(BigInt(Date.UTC(2027, m + 1, 1) / 1000 - 1))).toBe(`RAI Redemption Rate ${want} 2027`);
    }
  });
  const params = (over: Partial<CreatorParams> = {}): CreatorParams => ({
    ...creatorParamsOf(RR_RAI_PRESET, { expirationTimestamp: 2000n, collateralAddress: "0x00000000000000000000000000000000000000c0", collateralDecimals: 18, syntheticName: "n", syntheticSymbol: "s", identifierHex: "0x" + "00".repeat(32) }),
    ...over,
  });
  it("builds the Creator's struct: FixedPoint at 18 decimals, minSponsorTokens at the collateral's", () => {
    const p = params();
    expect(p).toMatchObject({ collateralRequirement: wad("1.25"), disputeBondPercentage: wad("0.1"), sponsorDisputeRewardPercentage: wad("0.05"), disputerDisputeRewardPercentage: wad("0.2"), minSponsorTokens: wad(100), withdrawalLiveness: 7200n, liquidationLiveness: 7200n, expirationTimestamp: 2000n });
    expect(p.financialProductLibraryAddress).toBe("0x0000000000000000000000000000000000000000");
    expect([p.syntheticName, p.syntheticSymbol, p.collateralAddress, p.priceFeedIdentifier]).toEqual(["n", "s", "0x00000000000000000000000000000000000000c0", "0x" + "00".repeat(32)]);
    expect(creatorParamsOf(RR_RAI_PRESET, { expirationTimestamp: 1n, collateralAddress: "0x00000000000000000000000000000000000000c0", collateralDecimals: 6, syntheticName: "n", syntheticSymbol: "s", identifierHex: "0x" }).minSponsorTokens).toBe(100_000_000n);
  });
  it("lists what the Creator would refuse, in words", () => {
    expect(launchProblems(params(), 1999n)).toEqual([]);
    expect(launchProblems(params(), 2000n)).toEqual(["the expiry 1970-01-01T00:33:20.000Z is not after the chain's time 1970-01-01T00:33:20.000Z"]);
    expect(launchProblems(params({ syntheticName: " ", syntheticSymbol: "" }), 0n)).toEqual(["the synthetic token needs a name", "the synthetic token needs a symbol"]);
    expect(launchProblems(params({ syntheticSymbol: "  " }), 0n)).toEqual(["the synthetic token needs a symbol"]);
    expect(launchProblems(params({ withdrawalLiveness: 0n }), 0n)).toEqual(["the withdrawal liveness must be more than 0 s and less than 5200 weeks, not 0 s"]);
    expect(launchProblems(params({ liquidationLiveness: 5200n * 7n * 86400n }), 0n)).toEqual([`the liquidation liveness must be more than 0 s and less than 5200 weeks, not ${5200 * 7 * 86400} s`]);
    expect(launchProblems(params({ liquidationLiveness: 5200n * 7n * 86400n - 1n }), 0n)).toEqual([]);
    expect(launchProblems(params({ collateralRequirement: E18 }), 0n)).toEqual(["the collateral requirement must be above 1"]);
    expect(launchProblems(params({ collateralRequirement: E18 + 1n }), 0n)).toEqual([]);
    expect(launchProblems(params({ sponsorDisputeRewardPercentage: wad("0.5"), disputerDisputeRewardPercentage: wad("0.5") }), 0n)).toEqual(["the sponsor and disputer dispute rewards must add up to less than 1"]);
    expect(launchProblems(params({ sponsorDisputeRewardPercentage: wad("0.5"), disputerDisputeRewardPercentage: wad("0.5") - 1n }), 0n)).toEqual([]);
    expect(launchProblems(params({ minSponsorTokens: 0n }), 0n)).toEqual(["the minimum sponsor position must be more than 0 tokens"]);
  });
});
