import { describe, expect, it } from "vitest";
import { belowThreshold, positionFigures, type PositionFiguresInput } from "../../src/lib/uma/position-figures";

const E18 = 10n ** 18n;
const wad = (n: number | string) => {
  const [i, f = ""] = String(n).split(".");
  return BigInt(i) * E18 + BigInt((f + "0".repeat(18)).slice(0, 18));
};
const NOW = 1_700_000_000n;

function input(over: Partial<{ raw: bigint; tokens: bigint; pending: bigint; passAt: bigint; price: bigint | null; state: number; now: bigint; m: bigint }> = {}): PositionFiguresInput {
  return {
    position: { rawCollateral: over.raw ?? wad(200), tokensOutstanding: over.tokens ?? wad(100), withdrawalRequestAmount: over.pending ?? 0n, withdrawalRequestPassTimestamp: over.passAt ?? 0n },
    totals: { rawTotalPositionCollateral: wad(650), totalTokensOutstanding: wad(500), cumulativeFeeMultiplier: over.m ?? E18 },
    params: { collateralRequirement: wad("1.25"), minSponsorTokens: wad(5), expirationTimestamp: NOW + 86400n },
    contractState: over.state ?? 0,
    now: over.now ?? NOW,
    price: over.price === undefined ? E18 : over.price,
    crThreshold: wad("0.02"),
  };
}

describe("positionFigures", () => {
  it("the seed's position (200 / 100, 100 pending) at price 1: ratio 1.0 net, liquidatable, nothing to mint or withdraw", () => {
    const f = positionFigures(input({ pending: wad(100), passAt: NOW + 7200n }));
    expect(f).toMatchObject({
      exists: true, expired: false, collateral: wad(200), netCollateral: wad(100), tokens: wad(100),
      pendingWithdrawal: { amount: wad(100), passTimestamp: NOW + 7200n, passed: false },
      collateralPerToken: wad(2), gcr: wad("1.3"), atOrAboveGcr: true, ratio: wad(1), gcrAtPrice: wad("1.3"),
      collateralRequirement: wad("1.25"), liquidationPrice: wad("0.8"), liquidatorTriggerRatio: wad("1.225"), liquidatable: true,
      maxMintable: 0n, maxMintableAtRequirement: 0n, maxInstantWithdrawal: 0n, maxWithdrawalAtRequirement: 0n,
    });
    expect(f.liquidatorTriggerPrice).toBe(816326530612244899n);
    expect(positionFigures(input({ pending: wad(100), passAt: NOW })).pendingWithdrawal!.passed).toBe(true);
  });

  it("without a pending request: ratio 2, the GCR limits minting and instant withdrawal, the requirement limits them more at a higher price", () => {
    const f = positionFigures(input());
    expect(f).toMatchObject({ pendingWithdrawal: null, ratio: wad(2), liquidatable: false, maxInstantWithdrawal: wad(70), maxWithdrawalAtRequirement: wad(75) });
    expect(f.maxMintable).toBe((wad(200) * E18) / wad("1.3") - wad(100));
    // at price 1 the requirement would allow 60 more (200 / 1.25 = 160): the GCR's 53.8 binds
    expect(f.maxMintableAtRequirement).toBe(f.maxMintable);
    const dear = positionFigures(input({ price: wad("1.5") }));
    expect(dear.maxMintableAtRequirement).toBe((wad(200) * E18 * E18) / (wad("1.5") * wad("1.25")) - wad(100));
    expect(dear.gcrAtPrice).toBe((wad("1.3") * E18) / wad("1.5"));
    const cheap = positionFigures(input({ price: wad("0.5") }));
    expect(cheap.maxMintableAtRequirement).toBe(cheap.maxMintable);
  });

  it("without a price: no ratio, no priced figures; the GCR figures stand", () => {
    const f = positionFigures(input({ price: null }));
    expect(f).toMatchObject({ ratio: null, gcrAtPrice: null, liquidatable: false, maxWithdrawalAtRequirement: null, maxInstantWithdrawal: wad(70) });
    expect(f.maxMintableAtRequirement).toBe(f.maxMintable);
    expect(positionFigures(input({ price: 0n })).gcrAtPrice).toBeNull();
  });

  it("after expiry nothing can be minted or withdrawn", () => {
    for (const f of [positionFigures(input({ now: NOW + 86400n })), positionFigures(input({ state: 2 }))]) {
      expect(f).toMatchObject({ expired: true, maxMintable: 0n, maxInstantWithdrawal: 0n, maxWithdrawalAtRequirement: null });
    }
    expect(positionFigures(input({ now: NOW + 86399n })).expired).toBe(false);
  });

  it("below the GCR and liquidatable at a higher price; an empty position", () => {
    const f = positionFigures(input({ raw: wad(120), price: wad("0.99") }));
    expect(f).toMatchObject({ atOrAboveGcr: false, maxMintable: 0n, maxInstantWithdrawal: 0n, liquidatable: true });
    // 130 / 100 at 1.0: above the trigger 1.225 though below nothing: not liquidatable
    expect(positionFigures(input({ raw: wad(130) })).liquidatable).toBe(false);
    // 123 / 100 at 1.0 is liquidated by the shaded liquidator (1.23 > 1.225? no: 100 × 0.98 × 1.25 = 122.5 < 123)
    expect(positionFigures(input({ raw: wad(123) })).liquidatable).toBe(false);
    expect(positionFigures(input({ raw: wad("122.4") })).liquidatable).toBe(true);
    const empty = positionFigures(input({ raw: 0n, tokens: 0n }));
    expect(empty).toMatchObject({ exists: false, ratio: null, liquidationPrice: null, liquidatorTriggerPrice: null, liquidatable: false });
  });

  it("with no tokens outstanding anywhere (GCR 0) only the requirement limits minting", () => {
    const f = positionFigures({ ...input(), totals: { rawTotalPositionCollateral: 0n, totalTokensOutstanding: 0n, cumulativeFeeMultiplier: E18 } });
    expect(f.maxMintable).toBeNull();
    expect(f.maxMintableAtRequirement).toBe(wad(60));
    expect(positionFigures({ ...input({ price: null }), totals: { rawTotalPositionCollateral: 0n, totalTokensOutstanding: 0n, cumulativeFeeMultiplier: E18 } }).maxMintableAtRequirement).toBeNull();
  });

  it("fee-adjusts the collateral by the multiplier", () => {
    expect(positionFigures(input({ m: wad("0.5") }))).toMatchObject({ collateral: wad(100), ratio: wad(1), gcr: wad("0.65") });
  });

  it("belowThreshold: the ratio strictly below; no ratio is not below", () => {
    expect(belowThreshold({ ratio: wad("1.5") }, wad("1.5"))).toBe(false);
    expect(belowThreshold({ ratio: wad("1.5") - 1n }, wad("1.5"))).toBe(true);
    expect(belowThreshold({ ratio: null }, wad("1.5"))).toBe(false);
  });
});
