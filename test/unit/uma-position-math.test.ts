import { describe, expect, it } from "vitest";
import {
  collateralAfterRemoval, collateralPerToken, feeAdjusted, globalCollateralRatio, instantWithdrawalPasses, liquidationPrice,
  liquidatorTriggerPrice, liquidatorTriggerRatio, maxInstantWithdrawal, maxMintable, maxMintableAtRequirement, maxWithdrawalAtRequirement,
  meetsGcr, netOfPending, ratioAtPrice,
} from "../../src/lib/uma/position-math";

const E18 = 10n ** 18n;
const wad = (n: number | string) => {
  const [i, f = ""] = String(n).split(".");
  return BigInt(i) * E18 + BigInt((f + "0".repeat(18)).slice(0, 18));
};

/**
 * An independent model of the contract's arithmetic, written from the Solidity (FixedPoint.mul and
 * .div floor; _removeCollateral; _checkCollateralization), step by step as the contract does it.
 */
const model = {
  mul: (a: bigint, b: bigint) => (a * b) / E18,
  div: (a: bigint, b: bigint) => (a * E18) / b,
  ratio(c: bigint, t: bigint) { return t === 0n ? 0n : this.div(c, t); },
  passesGcr(c: bigint, t: bigint, gcr: bigint) { return !(gcr > this.ratio(c, t)); },
  withdrawOk(raw: bigint, t: bigint, w: bigint, gcr: bigint, m: bigint) {
    const adj = this.div(w, m);
    if (w === 0n || adj > raw) return false;
    return this.passesGcr(this.mul(raw - adj, m), t, gcr);
  },
  /** the liquidator's test at a feed price p with shading s */
  liquidates(t: bigint, c: bigint, p: bigint, cr: bigint, s: bigint) { return t * this.mul(p, E18 - s) * cr > c * E18 * E18; },
  undercollateralized(t: bigint, c: bigint, p: bigint, cr: bigint) { return t * p * cr > c * E18 * E18; },
};

describe("fee-adjusted collateral and the GCR", () => {
  it("fee-adjusts by the multiplier, flooring, and removes as _removeCollateral does", () => {
    expect(feeAdjusted(wad(200), E18)).toBe(wad(200));
    expect(feeAdjusted(wad(200), wad("0.9"))).toBe(wad(180));
    expect(feeAdjusted(3n, wad("0.5"))).toBe(1n);
    expect(collateralAfterRemoval(wad(200), wad(50), E18)).toBe(wad(150));
    // raw 100 at 0.9 holds 90; removing 45 takes raw 50 (45 / 0.9), leaving raw 50 = 45.
    expect(collateralAfterRemoval(wad(100), wad(45), wad("0.9"))).toBe(wad(45));
    expect(collateralAfterRemoval(wad(100), wad(100), E18)).toBe(0n);
    expect(collateralAfterRemoval(wad(100), wad(100) + 1n, E18)).toBe(0n);
    // floor of the raw removal: 1 wei at 0.3 is raw 3, leaving raw 7 -> 2 wei fee-adjusted
    expect(collateralAfterRemoval(10n, 1n, wad("0.3"))).toBe(model.mul(10n - model.div(1n, wad("0.3")), wad("0.3")));
  });

  it("collateral per token floors and is 0 with no tokens; the GCR is the totals' ratio", () => {
    expect(collateralPerToken(wad(200), wad(100))).toBe(wad(2));
    expect(collateralPerToken(wad(1), wad(3))).toBe(333333333333333333n);
    expect(collateralPerToken(wad(5), 0n)).toBe(0n);
    expect(globalCollateralRatio({ rawTotalPositionCollateral: wad(650), totalTokensOutstanding: wad(500), cumulativeFeeMultiplier: E18 })).toBe(wad("1.3"));
    expect(globalCollateralRatio({ rawTotalPositionCollateral: wad(650), totalTokensOutstanding: wad(500), cumulativeFeeMultiplier: wad("0.5") })).toBe(wad("0.65"));
    expect(globalCollateralRatio({ rawTotalPositionCollateral: wad(650), totalTokensOutstanding: 0n, cumulativeFeeMultiplier: E18 })).toBe(0n);
  });

  it("exactly at the GCR passes, one wei below fails, and no tokens means a ratio of 0", () => {
    const gcr = wad("1.3");
    expect(meetsGcr(wad(130), wad(100), gcr)).toBe(true);
    expect(meetsGcr(wad(130) - 1n, wad(100), gcr)).toBe(false);
    expect(meetsGcr(wad(131), wad(100), gcr)).toBe(true);
    expect(meetsGcr(wad(5), 0n, gcr)).toBe(false);
    expect(meetsGcr(wad(5), 0n, 0n)).toBe(true);
  });

  it("nets a pending withdrawal out, never below 0", () => {
    expect(netOfPending(wad(200), wad(100))).toBe(wad(100));
    expect(netOfPending(wad(100), wad(100))).toBe(0n);
    expect(netOfPending(wad(100), wad(150))).toBe(0n);
    expect(netOfPending(wad(100), 0n)).toBe(wad(100));
  });
});

describe("priced figures", () => {
  it("ratio at a price: collateral / (tokens × price), floored; null without tokens or price", () => {
    expect(ratioAtPrice(wad(200), wad(100), E18)).toBe(wad(2));
    expect(ratioAtPrice(wad(150), wad(100), wad("1.2"))).toBe(wad("1.25"));
    expect(ratioAtPrice(wad(1), wad(3), E18)).toBe(333333333333333333n);
    expect(ratioAtPrice(wad(1), 0n, E18)).toBeNull();
    expect(ratioAtPrice(wad(1), wad(1), 0n)).toBeNull();
  });

  it("liquidation price: the highest price still at the requirement (seed case: 100 net, 100 tokens, CR 1.25 -> 0.8)", () => {
    expect(liquidationPrice(wad(100), wad(100), wad("1.25"))).toBe(wad("0.8"));
    expect(liquidationPrice(wad(100), 0n, wad("1.25"))).toBeNull();
    for (const [c, t, cr] of [[wad(123), wad(77), wad("1.25")], [wad("0.000001"), wad(3), wad("1.2")], [7n, 3n, wad("1.05")], [wad(999), 11n, wad(2)]]) {
      const lp = liquidationPrice(c, t, cr)!;
      expect(model.undercollateralized(t, c, lp, cr)).toBe(false);
      expect(model.undercollateralized(t, c, lp + 1n, cr)).toBe(true);
    }
  });

  it("liquidator trigger price: the least feed price the shaded liquidator acts at, to the wei", () => {
    // 100 net, 100 tokens, CR 1.25, shading 2 %: safe up to 0.8 / 0.98 = 0.816326530612244898 (feed price)
    const p = liquidatorTriggerPrice(wad(100), wad(100), wad("1.25"), wad("0.02"))!;
    expect(model.liquidates(wad(100), wad(100), p, wad("1.25"), wad("0.02"))).toBe(true);
    expect(model.liquidates(wad(100), wad(100), p - 1n, wad("1.25"), wad("0.02"))).toBe(false);
    expect(p).toBe(816326530612244899n);
    for (const [c, t, cr, s] of [[wad(123), wad(77), wad("1.25"), wad("0.02")], [wad(5), wad(3), wad("1.2"), 0n], [7n, 3n, wad("1.05"), wad("0.5")], [wad(200), wad(100), wad("1.25"), 1n]]) {
      const trigger = liquidatorTriggerPrice(c, t, cr, s)!;
      expect(model.liquidates(t, c, trigger, cr, s)).toBe(true);
      expect(model.liquidates(t, c, trigger - 1n, cr, s)).toBe(false);
    }
    expect(liquidatorTriggerPrice(wad(1), 0n, wad("1.25"), wad("0.02"))).toBeNull();
    // no shading: one wei above the liquidation price
    expect(liquidatorTriggerPrice(wad(100), wad(100), wad("1.25"), 0n)).toBe(wad("0.8") + 1n);
  });

  it("trigger ratio: CR × (1 − crThreshold)", () => {
    expect(liquidatorTriggerRatio(wad("1.25"), wad("0.02"))).toBe(wad("1.225"));
    expect(liquidatorTriggerRatio(wad("1.25"), 0n)).toBe(wad("1.25"));
  });
});

describe("the most a position can mint or withdraw", () => {
  it("maxMintable keeps collateral per token at the GCR (n passes, n + 1 does not)", () => {
    const cases: [bigint, bigint, bigint][] = [[wad(200), wad(100), wad("1.3")], [wad(130), wad(100), wad("1.3")], [wad(7), wad(3), wad(2)], [wad(100) + 3n, wad(3), wad("1.7")]];
    for (const [c, t, gcr] of cases) {
      const n = maxMintable(c, t, gcr)!;
      expect(model.passesGcr(c, t + n, gcr)).toBe(true);
      expect(model.passesGcr(c, t + n + 1n, gcr)).toBe(false);
    }
    expect(maxMintable(wad(200), wad(100), wad("1.3"))).toBe(wad(200) * E18 / wad("1.3") - wad(100));
    expect(maxMintable(wad(100), wad(100), wad("1.3"))).toBe(0n);
    expect(maxMintable(wad(130), wad(100), wad("1.3"))).toBe(0n);
    expect(maxMintable(wad(100), wad(100), 0n)).toBeNull();
  });

  it("maxMintableAtRequirement keeps tokens × price × CR ≤ net collateral", () => {
    const n = maxMintableAtRequirement(wad(200), wad(100), E18, wad("1.25"))!;
    expect(n).toBe(wad(60));
    expect(model.undercollateralized(wad(100) + n, wad(200), E18, wad("1.25"))).toBe(false);
    expect(model.undercollateralized(wad(100) + n + 1n, wad(200), E18, wad("1.25"))).toBe(true);
    const odd = maxMintableAtRequirement(wad(7), 3n, wad("0.7"), wad("1.3"))!;
    expect(model.undercollateralized(3n + odd, wad(7), wad("0.7"), wad("1.3"))).toBe(false);
    expect(model.undercollateralized(3n + odd + 1n, wad(7), wad("0.7"), wad("1.3"))).toBe(true);
    expect(maxMintableAtRequirement(wad(100), wad(100), E18, wad("1.25"))).toBe(0n);
    expect(maxMintableAtRequirement(wad(100), wad(100), 0n, wad("1.25"))).toBeNull();
  });

  it("maxInstantWithdrawal leaves the position exactly at the GCR, at a multiplier of 1 and below it", () => {
    const gcr = wad("1.3");
    expect(maxInstantWithdrawal({ rawCollateral: wad(200), tokensOutstanding: wad(100) }, gcr, E18)).toBe(wad(70));
    expect(maxInstantWithdrawal({ rawCollateral: wad(130), tokensOutstanding: wad(100) }, gcr, E18)).toBe(0n);
    expect(maxInstantWithdrawal({ rawCollateral: wad(120), tokensOutstanding: wad(100) }, gcr, E18)).toBe(0n);
    for (const m of [E18, wad("0.9"), wad("0.999999999999999999"), wad("0.333333333333333333"), 777777777777777777n]) {
      for (const [raw, t, g] of [[wad(200), wad(100), gcr], [wad(1000) + 7n, wad(333), wad("1.234567")], [wad(13), 7n, wad(2)], [wad(50), wad(10), wad("1.1")]]) {
        const w = maxInstantWithdrawal({ rawCollateral: raw, tokensOutstanding: t }, g, m);
        if (w > 0n) expect(model.withdrawOk(raw, t, w, g, m)).toBe(true);
        expect(model.withdrawOk(raw, t, w + 1n, g, m)).toBe(false);
        expect(model.withdrawOk(raw, t, w + 2n, g, m)).toBe(false);
      }
    }
  });

  it("with no tokens and a GCR of 0 every wei can leave; an amount of 0 never passes", () => {
    expect(maxInstantWithdrawal({ rawCollateral: wad(5), tokensOutstanding: 0n }, 0n, E18)).toBe(wad(5));
    expect(instantWithdrawalPasses({ rawCollateral: wad(5), tokensOutstanding: wad(1) }, 0n, 0n, E18)).toBe(false);
    expect(instantWithdrawalPasses({ rawCollateral: wad(5), tokensOutstanding: wad(1) }, wad(5), 0n, E18)).toBe(true);
    expect(instantWithdrawalPasses({ rawCollateral: wad(5), tokensOutstanding: wad(1) }, wad(5) + 1n, 0n, E18)).toBe(false);
  });

  it("maxWithdrawalAtRequirement leaves exactly tokens × price × CR", () => {
    expect(maxWithdrawalAtRequirement(wad(200), wad(100), E18, wad("1.25"))).toBe(wad(75));
    expect(maxWithdrawalAtRequirement(wad(100), wad(100), E18, wad("1.25"))).toBe(0n);
    const w = maxWithdrawalAtRequirement(wad(7), 3n, wad("0.7"), wad("1.3"));
    expect(model.undercollateralized(3n, wad(7) - w, wad("0.7"), wad("1.3"))).toBe(false);
    expect(model.undercollateralized(3n, wad(7) - w - 1n, wad("0.7"), wad("1.3"))).toBe(true);
  });
});
