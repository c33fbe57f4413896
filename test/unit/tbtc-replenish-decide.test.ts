import { describe, expect, it } from "vitest";
import { mintedTbtc, planReplenish, type ReplenishInput } from "../../src/lib/tbtc/mint/replenish-decide";

/**
 * The replenishing plan against its rules, with the amounts worked out here: a lot of L BTC mints
 * L × 10^18 − L × 10^18 / 2000 TBTC (VendingMachine.tdtToTbtc withholds the 0.05 % signer fee),
 * lots are taken largest first while what they mint stays under the target, unfinished orders
 * count as minted, the wallet's BTC (less the fee reserve) bounds the lots.
 */
const E18 = 10n ** 18n;
const BTC = 100_000_000n;
const LOTS = [BTC / 100n, BTC / 10n, BTC / 5n, BTC / 2n, BTC, 5n * BTC, 10n * BTC];
const base: ReplenishInput = { balanceTbtc: 0n, targetTbtc: 10n * E18, inFlightTbtc: 0n, allowedLotsSats: LOTS, signerFeeDivisor: 2000n, spendableSats: 100n * BTC, btcFeeReserveSats: 100_000n, redemptionNeedsMeans: false };
const plan = (o: Partial<ReplenishInput>) => planReplenish({ ...base, ...o });
const net = (btc: number) => (BigInt(Math.round(btc * 100)) * E18) / 100n - (BigInt(Math.round(btc * 100)) * E18) / 100n / 2000n;

describe("mintedTbtc", () => {
  it("lot minus the signer fee", () => {
    expect(mintedTbtc(BTC, 2000n)).toBe(E18 - 5n * 10n ** 14n);
    expect(mintedTbtc(10n * BTC, 2000n)).toBe(10n * E18 - 5n * 10n ** 15n);
    expect(mintedTbtc(BTC, 1000n)).toBe(E18 - 10n ** 15n);
  });
});

describe("planReplenish", () => {
  it("nothing at or above the target", () => {
    expect(plan({ balanceTbtc: 10n * E18 })).toEqual({ lotsSats: [], mintsTbtc: 0n });
    expect(plan({ balanceTbtc: 11n * E18 })).toEqual({ lotsSats: [], mintsTbtc: 0n });
  });
  it("10 TBTC from nothing: 10 BTC mints 9.995, too much? no — it fits; then the small lots that still fit", () => {
    // 10 BTC mints 9.995 (fits under 10); the 0.005 left takes no lot (0.01 BTC mints 0.009995).
    const p = plan({});
    expect(p.lotsSats).toEqual([10n * BTC]);
    expect(p.mintsTbtc).toBe(net(10));
    expect(p).toEqual({ lotsSats: [10n * BTC], mintsTbtc: net(10) });
  });
  it("largest first, never above the target", () => {
    const p = plan({ targetTbtc: 7n * E18 });
    // 5 BTC mints 4.9975 (2.0025 left), 1 BTC twice 1.999 (0.0035 left): no lot mints that little.
    expect(p.lotsSats).toEqual([5n * BTC, BTC, BTC]);
    expect(p.mintsTbtc).toBe(net(5) + 2n * net(1));
    expect(7n * E18 - p.mintsTbtc).toBeLessThan(mintedTbtc(BTC / 100n, 2000n));
  });
  it("down to the small lots when they fit", () => {
    // 1.5 TBTC: 1 BTC (0.9995, 0.5005 left), 0.5 BTC (0.49975, 0.00075 left).
    expect(plan({ targetTbtc: (3n * E18) / 2n }).lotsSats).toEqual([BTC, BTC / 2n]);
    // 0.25 TBTC: 0.2 BTC (0.1999, 0.0501 left), 0.01 BTC × 5 (0.049975, 0.000125 left).
    expect(plan({ targetTbtc: E18 / 4n }).lotsSats).toEqual([BTC / 5n, BTC / 100n, BTC / 100n, BTC / 100n, BTC / 100n, BTC / 100n]);
  });
  it("a shortfall exactly what a lot mints takes that lot", () => {
    expect(plan({ targetTbtc: net(1), allowedLotsSats: [BTC / 2n, BTC] }).lotsSats).toEqual([BTC]);
    expect(plan({ targetTbtc: net(1) - 1n, allowedLotsSats: [BTC / 2n, BTC] }).lotsSats).toEqual([BTC / 2n]);
    // A lot listed twice is one size.
    expect(plan({ targetTbtc: net(1), allowedLotsSats: [BTC, BTC] }).lotsSats).toEqual([BTC]);
  });
  it("two lots of 1 for a target of 2 TBTC", () => {
    const p = plan({ targetTbtc: 2n * E18, allowedLotsSats: [BTC, 5n * BTC, 10n * BTC] });
    expect(p.lotsSats).toEqual([BTC, BTC]);
    expect(p.mintsTbtc).toBe(2n * net(1));
  });
  it("what unfinished mints will bring counts: the same shortfall is never minted twice", () => {
    const lots = [BTC, 5n * BTC, 10n * BTC];
    expect(plan({ targetTbtc: 2n * E18, allowedLotsSats: lots, inFlightTbtc: 2n * net(1) })).toEqual({ lotsSats: [], mintsTbtc: 0n });
    expect(plan({ targetTbtc: 2n * E18, allowedLotsSats: lots, inFlightTbtc: net(1) }).lotsSats).toEqual([BTC]);
    expect(plan({ targetTbtc: 3n * E18, allowedLotsSats: lots, balanceTbtc: E18, inFlightTbtc: net(1) }).lotsSats).toEqual([BTC]);
  });
  it("the wallet's BTC less the fee reserve bounds the lots", () => {
    const lots = [BTC, 5n * BTC, 10n * BTC];
    // 10 BTC + reserve exactly: the 10 BTC lot.
    expect(plan({ targetTbtc: 20n * E18, allowedLotsSats: lots, spendableSats: 10n * BTC + 100_000n }).lotsSats).toEqual([10n * BTC]);
    // One satoshi short of it: 5 + 1 + 1 + 1 + 1 instead, and the reason says the wallet stopped it.
    const p = plan({ targetTbtc: 20n * E18, allowedLotsSats: lots, spendableSats: 10n * BTC + 99_999n });
    expect(p.lotsSats).toEqual([5n * BTC, BTC, BTC, BTC, BTC]);
    expect(p.reason).toBe("the Bitcoin wallet holds too little for the rest of the shortfall");
    const none = plan({ targetTbtc: 2n * E18, allowedLotsSats: lots, spendableSats: BTC });
    expect(none).toEqual({ lotsSats: [], mintsTbtc: 0n, reason: "the Bitcoin wallet holds too little for any lot that fits the shortfall" });
  });
  it("a shortfall smaller than the smallest lot's mint: nothing, and no complaint (the target is a ceiling)", () => {
    expect(plan({ targetTbtc: E18 / 200n })).toEqual({ lotsSats: [], mintsTbtc: 0n });
  });
  it("not while the loop's means go to a redemption", () => {
    expect(plan({ redemptionNeedsMeans: true })).toEqual({ lotsSats: [], mintsTbtc: 0n, reason: "a redemption needs this loop's means first (a courtesy call open or TBTC short for an at-risk deposit)" });
    // At the target it says nothing at all.
    expect(plan({ redemptionNeedsMeans: true, balanceTbtc: 10n * E18 })).toEqual({ lotsSats: [], mintsTbtc: 0n });
  });
  it("the order of the allowed lots does not matter", () => {
    expect(plan({ targetTbtc: 7n * E18, allowedLotsSats: [...LOTS].reverse() })).toEqual(plan({ targetTbtc: 7n * E18 }));
    expect(plan({ targetTbtc: 7n * E18, allowedLotsSats: [BTC, 10n * BTC, BTC / 100n, 5n * BTC, BTC / 2n, BTC / 5n, BTC / 10n] })).toEqual(plan({ targetTbtc: 7n * E18 }));
  });
});
