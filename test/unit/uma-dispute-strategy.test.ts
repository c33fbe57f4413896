import { describe, expect, it } from "vitest";
import { decideDispute, LiquidationState, planDisputes, withdrawalCandidates, type LiquidationSnapshot } from "../../src/lib/uma/dispute-strategy";
import { parseFixedStrict } from "../../src/lib/fixed-point";
import { FP_DECIMALS, FP_ONE } from "../../src/lib/uma/fixed-point";

const fp = (text: string | number): bigint => parseFixedStrict(text, FP_DECIMALS);

const LIQUIDATOR = "0x00000000000000000000000000000000000000C1";
const DISPUTER = "0x00000000000000000000000000000000000000D1";
const ZERO = "0x0000000000000000000000000000000000000000";
const params = { collateralRequirement: fp("1.25"), liquidationLiveness: 7200n, disputeBondPercentage: fp("0.1") };
const T = 1_000_000n;

function liq(tokens: string, liquidated: string, over: Partial<LiquidationSnapshot> = {}): LiquidationSnapshot {
  return {
    sponsor: "0x00000000000000000000000000000000000000A1", id: 0n, state: LiquidationState.NotDisputed, liquidator: LIQUIDATOR, disputer: ZERO,
    liquidationTime: T, tokensOutstanding: fp(tokens), lockedCollateral: fp("200"), liquidatedCollateral: fp(liquidated), ...over,
  };
}

describe("dispute strategy", () => {
  it("leaves the reference liquidation (100 tokens, 100 liquidated collateral) undisputed at price ~1", () => {
    expect(decideDispute({ liquidation: liq("100", "100"), priceAtLiquidation: 999999999988993697n, now: T + 60n, params })).toMatchObject({ action: "skip", reason: "correct-liquidation" });
  });
  it("disputes a liquidation of a position that was collateralized, with the bond it will cost", () => {
    expect(decideDispute({ liquidation: liq("100", "200"), priceAtLiquidation: FP_ONE, now: T + 60n, params })).toMatchObject({
      action: "dispute", reason: "wrong-liquidation", bond: fp("20"), price: fp("1.02"), liquidationId: 0n, liquidationTime: T,
    });
  });
  it("judges at the boundary as the liquidator does: exactly at the requirement is disputable", () => {
    // 100 × 1.0 × 1.25 = 125: not undercollateralized -> dispute
    expect(decideDispute({ liquidation: liq("100", "125"), priceAtLiquidation: FP_ONE, now: T + 60n, params, config: { scalePrice: false } }).action).toBe("dispute");
    expect(decideDispute({ liquidation: { ...liq("100", "125"), liquidatedCollateral: fp("125") - 1n }, priceAtLiquidation: FP_ONE, now: T + 60n, params, config: { scalePrice: false } }).action).toBe("skip");
  });
  it("scales the price up by crThreshold so a liquidation right within rounding is not disputed", () => {
    // 127 collateral: 100 × 1.25 = 125 says wrong, 100 × 1.02 × 1.25 = 127.5 says right.
    expect(decideDispute({ liquidation: liq("100", "127"), priceAtLiquidation: FP_ONE, now: T + 60n, params, config: { scalePrice: false } }).action).toBe("dispute");
    expect(decideDispute({ liquidation: liq("100", "127"), priceAtLiquidation: FP_ONE, now: T + 60n, params }).reason).toBe("correct-liquidation");
    expect(decideDispute({ liquidation: liq("100", "127"), priceAtLiquidation: FP_ONE, now: T + 60n, params, config: { crThreshold: 0n } }).action).toBe("dispute");
  });
  it("waits disputeDelay after the liquidation", () => {
    expect(decideDispute({ liquidation: liq("100", "200"), priceAtLiquidation: FP_ONE, now: T + 59n, params }).reason).toBe("too-early");
    expect(decideDispute({ liquidation: liq("100", "200"), priceAtLiquidation: FP_ONE, now: T + 10n, params, config: { disputeDelay: 10n } }).action).toBe("dispute");
  });
  it("skips once liveness has passed, when already disputed, and without a price", () => {
    expect(decideDispute({ liquidation: liq("100", "200"), priceAtLiquidation: FP_ONE, now: T + 7200n, params }).reason).toBe("liveness-passed");
    expect(decideDispute({ liquidation: liq("100", "200"), priceAtLiquidation: FP_ONE, now: T + 7199n, params }).action).toBe("dispute");
    expect(decideDispute({ liquidation: liq("100", "200", { state: LiquidationState.Disputed }), priceAtLiquidation: FP_ONE, now: T + 60n, params }).reason).toBe("not-disputable-state");
    expect(decideDispute({ liquidation: liq("100", "200"), priceAtLiquidation: null, now: T + 60n, params })).toMatchObject({ action: "skip", reason: "outside-lookback", price: null });
  });
  it("planDisputes asks the feed only for liquidations it could dispute, at their liquidation time", () => {
    const asked: bigint[] = [];
    const ds = planDisputes({
      liquidations: [liq("100", "200", { id: 0n }), liq("100", "200", { id: 1n, state: LiquidationState.Disputed }), liq("100", "200", { id: 2n, liquidationTime: T - 100_000n })],
      priceAt: (t) => { asked.push(t); return t === T ? FP_ONE : null; },
      now: T + 60n, params,
    });
    expect(ds.map((d) => d.reason)).toEqual(["wrong-liquidation", "not-disputable-state", "liveness-passed"]);
    expect(asked).toEqual([T]);
    const ds2 = planDisputes({ liquidations: [liq("100", "200", { liquidationTime: T - 100n })], priceAt: () => null, now: T, params });
    expect(ds2[0].reason).toBe("outside-lookback");
  });
});

describe("withdrawalCandidates", () => {
  const list = [
    liq("1", "1", { id: 0n, state: LiquidationState.NotDisputed }),
    liq("1", "1", { id: 1n, state: LiquidationState.NotDisputed, liquidationTime: T - 7200n }),
    liq("1", "1", { id: 2n, state: LiquidationState.Disputed, disputer: DISPUTER }),
    liq("1", "1", { id: 3n, state: LiquidationState.DisputeSucceeded, disputer: DISPUTER }),
    liq("1", "1", { id: 4n, state: LiquidationState.Uninitialized, liquidator: ZERO }),
    liq("1", "1", { id: 5n, state: LiquidationState.Disputed, disputer: "0x00000000000000000000000000000000000000D2" }),
  ];
  it("as liquidator: expired undisputed and any disputed one it made", () => {
    expect(withdrawalCandidates(list, LIQUIDATOR.toLowerCase(), "liquidator", T, 7200n).map((l) => l.id)).toEqual([1n, 2n, 3n, 5n]);
  });
  it("as disputer: only its own disputes", () => {
    expect(withdrawalCandidates(list, DISPUTER, "disputer", T, 7200n).map((l) => l.id)).toEqual([2n, 3n]);
  });
});

// Edges found by mutation testing (docs/testing.md).
describe("dispute strategy: edges", () => {
  it("treats a feed answering undefined like one answering null: outside its lookback, no dispute", () => {
    expect(decideDispute({ liquidation: liq("100", "200"), priceAtLiquidation: undefined, now: T + 60n, params })).toMatchObject({ action: "skip", reason: "outside-lookback", price: null });
    const ds = planDisputes({ liquidations: [liq("100", "200")], priceAt: () => undefined, now: T + 60n, params });
    expect(ds[0]).toMatchObject({ action: "skip", reason: "outside-lookback" });
  });
  it("withdrawal candidates: other liquidators' liquidations are never ours, a failed dispute is still collectable, a deleted one never", () => {
    const OTHER = "0x00000000000000000000000000000000000000C2";
    const list = [
      liq("1", "1", { id: 0n, state: LiquidationState.NotDisputed, liquidationTime: T - 7200n, liquidator: OTHER }),
      liq("1", "1", { id: 1n, state: LiquidationState.Disputed, liquidator: OTHER, disputer: DISPUTER }),
      liq("1", "1", { id: 2n, state: LiquidationState.DisputeFailed, disputer: DISPUTER }),
      // Uninitialized: an entry the contract deleted after paying out; whatever addresses a reader
      // reports for it, there is nothing left to collect
      liq("1", "1", { id: 3n, state: LiquidationState.Uninitialized, disputer: DISPUTER }),
    ];
    expect(withdrawalCandidates(list, LIQUIDATOR, "liquidator", T, 7200n).map((l) => l.id)).toEqual([2n]);
    expect(withdrawalCandidates(list, OTHER, "liquidator", T, 7200n).map((l) => l.id)).toEqual([0n, 1n]);
    expect(withdrawalCandidates(list, DISPUTER, "disputer", T, 7200n).map((l) => l.id)).toEqual([1n, 2n]);
  });
});
