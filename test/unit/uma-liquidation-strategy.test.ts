import { describe, expect, it } from "vitest";
import {
  collateralNetOfWithdrawal, decideLiquidation, isUndercollateralized, maxCollateralPerToken, planLiquidations, scalePrice, tokensToLiquidate,
  type DecideLiquidationInput, type PositionSnapshot,
} from "../../src/lib/uma/liquidation-strategy";
import { parseFixedStrict } from "../../src/lib/fixed-point";
import { FP_DECIMALS, FP_ONE } from "../../src/lib/uma/fixed-point";

const fp = (text: string | number): bigint => parseFixedStrict(text, FP_DECIMALS);

const BOT = "0x00000000000000000000000000000000000000B0";
const SPONSOR = "0x00000000000000000000000000000000000000A1";
const params = { collateralRequirement: fp("1.25"), minSponsorTokens: fp("5"), withdrawalLiveness: 7200n, expirationTimestamp: 2_000_000n };

function position(tokens: string, collateral: string, pending = "0", passTs = 0n, sponsor = SPONSOR): PositionSnapshot {
  return { sponsor, tokensOutstanding: fp(tokens), collateral: fp(collateral), withdrawalRequestAmount: fp(pending), withdrawalRequestPassTimestamp: passTs };
}

function decide(p: PositionSnapshot, over: Partial<DecideLiquidationInput> = {}) {
  return decideLiquidation({ position: p, price: FP_ONE, now: 1_000_000n, params, botAddress: BOT, syntheticBalance: fp("1000"), ...over });
}

describe("liquidation strategy: reference check vector", () => {
  const price = 999999999988993697n;
  it("scales the price and derives maxCollateralPerToken with floor division", () => {
    const scaled = scalePrice(price);
    expect(scaled).toBe(979999999989213823n);
    expect(maxCollateralPerToken(scaled, fp("1.25"))).toBe(1224999999986517278n);
  });
  it("liquidates the 100-token / 200-collateral sponsor with 100 pending withdrawal", () => {
    const d = decide(position("100", "200", "100", 1_003_000n), { price });
    expect(d).toMatchObject({ action: "liquidate", reason: "undercollateralized", tokens: fp("100"), maxCollateralPerToken: 1224999999986517278n, minCollateralPerToken: 0n, deadline: 1_000_300n, collateralNetOfWithdrawal: fp("100") });
  });
  it("leaves the same sponsor alone without the pending withdrawal", () => {
    expect(decide(position("100", "200"), { price })).toMatchObject({ action: "skip", reason: "collateralized", tokens: 0n });
  });
});

describe("liquidation strategy: boundaries and rules", () => {
  it("a position exactly at scaledPrice × CR is not undercollateralized; one wei less is", () => {
    // 100 tokens × 0.98 × 1.25 = 122.5 collateral
    expect(decide(position("100", "122.5")).action).toBe("skip");
    expect(decide({ ...position("100", "122.5"), collateral: fp("122.5") - 1n }).action).toBe("liquidate");
    expect(isUndercollateralized(2n, 2n, FP_ONE, FP_ONE)).toBe(false);
    expect(isUndercollateralized(2n, 1n, FP_ONE, FP_ONE)).toBe(true);
  });
  it("honours crThreshold, funding multiplier, deadline and minCollateralPerToken from config", () => {
    const d = decide(position("100", "124"), { config: { crThreshold: 0n, liquidationDeadline: 60n, minCollateralPerToken: 7n, fundingMultiplier: fp("1.1") } });
    expect(d).toMatchObject({ action: "liquidate", maxCollateralPerToken: fp("1.375"), deadline: 1_000_060n, minCollateralPerToken: 7n });
    expect(decide(position("100", "124")).action).toBe("skip"); // 124 > 122.5 with the default 2 % shading
    expect(() => scalePrice(FP_ONE, FP_ONE)).toThrow(/crThreshold/);
  });
  it("caps tokens by balance, leaving at least minSponsorTokens", () => {
    expect(decide(position("100", "100"), { syntheticBalance: fp("40") })).toMatchObject({ action: "liquidate", reason: "partial", tokens: fp("40") });
    // 100 − 97 = 3 < 5 would be refused by the contract: liquidate 95 instead
    expect(decide(position("100", "100"), { syntheticBalance: fp("97") })).toMatchObject({ action: "liquidate", reason: "partial", tokens: fp("95") });
    expect(decide(position("100", "100"), { syntheticBalance: fp("100") })).toMatchObject({ reason: "undercollateralized", tokens: fp("100") });
    expect(decide(position("100", "100"), { syntheticBalance: 0n })).toMatchObject({ action: "skip", reason: "insufficient-balance" });
    expect(decide(position("5", "1"), { syntheticBalance: fp("4") })).toMatchObject({ action: "skip", reason: "insufficient-balance" });
  });
  it("caps tokens by maxTokensToLiquidate as well", () => {
    expect(decide(position("100", "100"), { config: { maxTokensToLiquidate: fp("30") } })).toMatchObject({ tokens: fp("30"), reason: "partial" });
    expect(tokensToLiquidate({ positionTokens: 10n, available: 20n, minSponsorTokens: 5n })).toBe(10n);
    expect(tokensToLiquidate({ positionTokens: 10n, available: 6n, minSponsorTokens: 5n })).toBe(5n);
  });
  it("never liquidates the bot's own position, in any address case", () => {
    expect(decide(position("100", "1", "0", 0n, BOT.toLowerCase()))).toMatchObject({ action: "skip", reason: "own-position" });
  });
  it("makes no new liquidations at or after expiry, or once the contract left Open", () => {
    expect(decide(position("100", "1"), { now: params.expirationTimestamp }).reason).toBe("contract-expired");
    expect(decide(position("100", "1"), { now: params.expirationTimestamp - 1n }).action).toBe("liquidate");
    expect(decide(position("100", "1"), { params: { ...params, contractState: 1 } }).reason).toBe("contract-expired");
  });
  it("skips empty positions", () => {
    expect(decide(position("0", "0")).reason).toBe("empty-position");
  });
});

describe("liquidation strategy: whale defence", () => {
  // Withdrawal requested at 1_000_000 with 7200 s liveness -> passes at 1_007_200; 50 % is 1_003_600.
  const whale = position("1000", "1000", "500", 1_007_200n);
  const cfg = { defenseActivationPercent: 50 };
  it("liquidates exactly minSponsorTokens once the activation share of liveness has run", () => {
    expect(decide(whale, { now: 1_003_600n, syntheticBalance: fp("100"), config: cfg })).toMatchObject({ action: "liquidate", reason: "whale-defense", tokens: fp("5") });
  });
  it("waits before the activation point", () => {
    expect(decide(whale, { now: 1_003_599n, syntheticBalance: fp("100"), config: cfg })).toMatchObject({ action: "skip", reason: "insufficient-balance" });
  });
  it("liquidates fully when the balance allows, defence or not", () => {
    expect(decide(whale, { now: 1_003_600n, syntheticBalance: fp("1000"), config: cfg })).toMatchObject({ reason: "undercollateralized", tokens: fp("1000") });
  });
  it("does a normal partial liquidation when the defence is off", () => {
    expect(decide(whale, { now: 1_003_600n, syntheticBalance: fp("100") })).toMatchObject({ reason: "partial", tokens: fp("100") });
  });
  it("rejects a percentage outside 0–100", () => {
    expect(() => decide(whale, { syntheticBalance: fp("100"), config: { defenseActivationPercent: 150 } })).toThrow(/defenseActivationPercent/);
  });
});

describe("planLiquidations", () => {
  it("spends the balance across positions in order", () => {
    const a = position("60", "1", "0", 0n, "0x00000000000000000000000000000000000000A1");
    const b = position("60", "1", "0", 0n, "0x00000000000000000000000000000000000000A2");
    const ok = position("10", "100", "0", 0n, "0x00000000000000000000000000000000000000A3");
    const ds = planLiquidations({ positions: [a, ok, b], price: FP_ONE, now: 1_000_000n, params, botAddress: BOT, syntheticBalance: fp("100") });
    expect(ds.map((d) => [d.action, d.reason, d.tokens])).toEqual([
      ["liquidate", "undercollateralized", fp("60")],
      ["skip", "collateralized", 0n],
      ["liquidate", "partial", fp("40")],
    ]);
  });
});

// Edges found by mutation testing (docs/testing.md). Each expectation is worked out by hand from
// the EMP's rules (a remainder below minSponsorTokens is refused; a pending withdrawal's collateral
// counts as gone), not from the strategy's own output.
describe("liquidation strategy: edges", () => {
  it("refuses a negative crThreshold as well as one of 1 or more", () => {
    expect(() => scalePrice(FP_ONE, -1n)).toThrow(/crThreshold/);
    expect(scalePrice(FP_ONE, 0n)).toBe(FP_ONE);
  });
  it("counts a withdrawal larger than the collateral as leaving nothing, never a negative amount", () => {
    expect(collateralNetOfWithdrawal({ collateral: fp("5"), withdrawalRequestAmount: fp("10") })).toBe(0n);
    expect(collateralNetOfWithdrawal({ collateral: fp("10"), withdrawalRequestAmount: fp("4") })).toBe(fp("6"));
    // 100 tokens, 50 collateral, 80 pending: net 0, undercollateralized at any positive price
    expect(decide(position("100", "50", "80", 2_000_000n), { config: { defenseActivationPercent: 50 } }).collateralNetOfWithdrawal).toBe(0n);
  });
  it("liquidates nothing when the position is smaller than the minimum it must leave", () => {
    // 3 tokens, 1 available, minimum 5: any partial leaves less than 5, and 3 − 5 < 0
    expect(tokensToLiquidate({ positionTokens: 3n, available: 1n, minSponsorTokens: 5n })).toBe(0n);
  });
  it("uses a configured crThreshold other than zero (10 % shading: 100 × 0.9 × 1.25 = 112.5)", () => {
    const cfg = { crThreshold: fp("0.1") };
    expect(decide(position("100", "112.5"), { config: cfg }).action).toBe("skip");
    expect(decide(position("100", "112"), { config: cfg })).toMatchObject({ action: "liquidate", maxCollateralPerToken: fp("1.125") });
    // with the default 2 % shading 112 is far below 122.5 either way; 120 tells the two apart
    expect(decide(position("100", "120"), { config: cfg }).action).toBe("skip");
    expect(decide(position("100", "120")).action).toBe("liquidate");
  });
  it("never caps at a maxTokensToLiquidate above the balance", () => {
    expect(decide(position("100", "100"), { syntheticBalance: fp("40"), config: { maxTokensToLiquidate: fp("200") } }))
      .toMatchObject({ action: "liquidate", reason: "partial", tokens: fp("40") });
  });
  it("with the defence configured, a sponsor without a pending withdrawal gets a normal partial liquidation", () => {
    expect(decide(position("100", "100"), { syntheticBalance: fp("40"), config: { defenseActivationPercent: 50 } }))
      .toMatchObject({ action: "liquidate", reason: "partial", tokens: fp("40") });
  });
  describe("whale defence bounds", () => {
    // withdrawal passes at 1_007_200 after 7200 s liveness: requested at 1_000_000
    const whale = position("1000", "1000", "500", 1_007_200n);
    it("accepts 0 % (active from the request) and 100 % (active when the withdrawal passes)", () => {
      expect(decide(whale, { now: 1_000_000n, syntheticBalance: fp("100"), config: { defenseActivationPercent: 0 } }).reason).toBe("whale-defense");
      expect(decide(whale, { now: 1_007_199n, syntheticBalance: fp("100"), config: { defenseActivationPercent: 100 } }).reason).toBe("insufficient-balance");
      expect(decide(whale, { now: 1_007_200n, syntheticBalance: fp("100"), config: { defenseActivationPercent: 100 } }).reason).toBe("whale-defense");
    });
    it("rejects a negative percentage", () => {
      expect(() => decide(whale, { syntheticBalance: fp("100"), config: { defenseActivationPercent: -1 } })).toThrow(/defenseActivationPercent/);
    });
    it("needs a balance of at least minSponsorTokens: 5 is enough, 4 is not", () => {
      const at = { now: 1_003_600n, config: { defenseActivationPercent: 50 } };
      expect(decide(whale, { ...at, syntheticBalance: fp("5") })).toMatchObject({ action: "liquidate", reason: "whale-defense", tokens: fp("5") });
      expect(decide(whale, { ...at, syntheticBalance: fp("4") })).toMatchObject({ action: "skip", reason: "insufficient-balance" });
    });
    it("needs the position to keep minSponsorTokens after the minimal liquidation: 10 tokens yes, 8 no", () => {
      const at = { now: 1_003_600n, config: { defenseActivationPercent: 50 } };
      // 10 − 5 = 5 left: allowed
      expect(decide(position("10", "1", "5", 1_007_200n), { ...at, syntheticBalance: fp("6") })).toMatchObject({ reason: "whale-defense", tokens: fp("5") });
      // 8 − 5 = 3 left: the contract would refuse; wait instead
      expect(decide(position("8", "1", "5", 1_007_200n), { ...at, syntheticBalance: fp("5") })).toMatchObject({ action: "skip", reason: "insufficient-balance" });
    });
  });
});
