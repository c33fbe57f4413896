import { describe, expect, it } from "vitest";
import {
  checkCancelWithdrawal, checkCreate, checkDeposit, checkExpire, checkRedeem, checkRepay, checkRequestWithdrawal, checkWithdraw, checkWithdrawPassed,
  durationText, isExpired, minCreateCollateral, ratioPair, redeemPayout, type SponsorState,
} from "../../src/lib/uma/sponsor-rules";

const E18 = 10n ** 18n;
const wad = (n: number | string) => {
  const [i, f = ""] = String(n).split(".");
  return BigInt(i) * E18 + BigInt((f + "0".repeat(18)).slice(0, 18));
};
const NOW = 1_700_000_000n;
const EXPIRY = NOW + 86400n;

/** One sponsor with 200 collateral / 100 tokens in an EMP whose totals are 650 / 500 (GCR 1.3). */
function state(over: Partial<{ raw: bigint; tokens: bigint; pending: bigint; passAt: bigint; total: bigint; totalTokens: bigint; m: bigint; now: bigint; contractState: number; min: bigint }> = {}): SponsorState {
  return {
    position: {
      rawCollateral: over.raw ?? wad(200),
      tokensOutstanding: over.tokens ?? wad(100),
      withdrawalRequestAmount: over.pending ?? 0n,
      withdrawalRequestPassTimestamp: over.passAt ?? 0n,
    },
    totals: { rawTotalPositionCollateral: over.total ?? wad(650), totalTokensOutstanding: over.totalTokens ?? wad(500), cumulativeFeeMultiplier: over.m ?? E18 },
    params: { minSponsorTokens: over.min ?? wad(5), withdrawalLiveness: 7200n, expirationTimestamp: EXPIRY },
    contractState: over.contractState ?? 0,
    now: over.now ?? NOW,
  };
}
const none = (s: SponsorState): SponsorState => ({ ...s, position: { rawCollateral: 0n, tokensOutstanding: 0n, withdrawalRequestAmount: 0n, withdrawalRequestPassTimestamp: 0n } });
const pendingState = () => state({ pending: wad(50), passAt: NOW + 3600n });

describe("text helpers", () => {
  it("ratioPair shows the fewest places (at least 2) that tell two ratios apart, rounded to nearest", () => {
    expect(ratioPair(wad("1.2949"), wad("1.3"))).toEqual(["1.29", "1.30"]);
    expect(ratioPair(wad("1.295"), wad("1.3"))).toEqual(["1.295", "1.300"]);
    expect(ratioPair(wad("1.21"), wad("1.3"))).toEqual(["1.21", "1.30"]);
    expect(ratioPair(wad("1.299"), wad("1.3"))).toEqual(["1.299", "1.300"]);
    expect(ratioPair(wad("1.2999"), wad("1.3"))).toEqual(["1.2999", "1.3000"]);
    expect(ratioPair(wad("1.3") - 1n, wad("1.3"))).toEqual(["1.299999999999999999", "1.300000000000000000"]);
    expect(ratioPair(wad("1.3"), wad("1.3"))).toEqual(["1.300000000000000000", "1.300000000000000000"]);
    expect(ratioPair(wad("12.345"), wad("0.05"))).toEqual(["12.35", "0.05"]);
  });
  it("durationText: the two largest units", () => {
    expect(durationText(7200n)).toBe("2 h");
    expect(durationText(5400n)).toBe("1 h 30 min");
    expect(durationText(90n)).toBe("1 min 30 s");
    expect(durationText(3n * 86400n + 7200n + 5n)).toBe("3 d 2 h");
    expect(durationText(59n)).toBe("59 s");
    expect(durationText(0n)).toBe("0 s");
    expect(durationText(-5n)).toBe("0 s");
  });
  it("isExpired: at the expiry time or once the state left Open", () => {
    expect(isExpired(state())).toBe(false);
    expect(isExpired(state({ now: EXPIRY }))).toBe(true);
    expect(isExpired(state({ now: EXPIRY - 1n }))).toBe(false);
    expect(isExpired(state({ contractState: 1 }))).toBe(true);
  });
});

describe("create", () => {
  it("passes exactly at the GCR (the resulting position at 1.3), and refuses one wei less with the figures and the least collateral", () => {
    // 200 + 60 collateral for 100 + 100 tokens = 1.3 per token: exactly the GCR.
    expect(checkCreate(state(), wad(60), wad(100))).toBeNull();
    const r = checkCreate(state(), wad(60) - 1n, wad(100))!;
    expect(r.revert).toBe("Insufficient collateral");
    expect(r.message).toBe("collateral per token after this mint 1.299999999999999999 is below the GCR 1.300000000000000000 (nor does the mint's own 0.60 reach it): the contract would revert");
    expect(r.hint).toBe("minting 100 tokens needs at least 60 collateral");
  });
  it("passes on the transaction's own ratio when the position is below the GCR", () => {
    const low = state({ raw: wad(120) }); // 1.2 per token, below the GCR 1.3
    expect(checkCreate(low, wad(13), wad(10))).toBeNull(); // the mint itself is at 1.3
    expect(checkCreate(low, wad(13) - 1n, wad(10))!.revert).toBe("Insufficient collateral");
    expect(minCreateCollateral(low, wad(10))).toBe(wad(13));
    expect(minCreateCollateral(state(), wad(100))).toBe(wad(60));
    expect(minCreateCollateral(state({ raw: wad(1000) }), wad(10))).toBe(0n);
  });
  it("checks the GCR before the pending withdrawal and that before the minimum (the contract's order)", () => {
    expect(checkCreate(pendingState(), 0n, wad(100))!.revert).toBe("Insufficient collateral");
    const p = checkCreate(pendingState(), wad(200), wad(100))!;
    expect(p.revert).toBe("Pending withdrawal");
    expect(p.message).toMatch(/^a withdrawal request of 50 is pending \(it passes at 2023-11-14T23:13:20Z\): the contract refuses minting until it is cancelled or carried out$/);
    expect(p.hint).toMatch(/cancel-withdrawal/);
    const passed = checkCreate(state({ pending: wad(50), passAt: NOW }), wad(200), wad(100))!;
    expect(passed.message).toContain("(it has passed)");
  });
  it("a new position must mint at least minSponsorTokens", () => {
    expect(checkCreate(none(state()), wad(10), wad(5))).toBeNull();
    const r = checkCreate(none(state()), wad(10), wad(5) - 1n)!;
    expect(r.revert).toBe("Below minimum sponsor position");
    expect(r.message).toBe("a new position must mint at least 5 tokens (minSponsorTokens), not 4.999999999999999999");
    // an existing position may add fewer
    expect(checkCreate(state(), wad(2), wad(1))).toBeNull();
  });
  it("is refused after expiry", () => {
    const r = checkCreate(state({ now: EXPIRY }), wad(60), wad(100))!;
    expect(r.revert).toBe("Only callable pre-expiry");
    expect(r.message).toBe("the EMP expired at 2023-11-15T22:13:20Z: minting is only possible before expiry");
    expect(r.hint).toBe("after expiry, `emp-sponsor settle` pays out the position and the tokens");
    expect(checkCreate(state({ now: EXPIRY - 1n }), wad(60), wad(100))).toBeNull();
  });
});

describe("deposit, withdraw and the withdrawal request", () => {
  it("deposit needs an open position, no pending request and more than 0", () => {
    expect(checkDeposit(state(), 1n)).toBeNull();
    expect(checkDeposit(state(), 0n)).toEqual({ revert: "Invalid collateral amount", message: "the deposit must be more than 0" });
    expect(checkDeposit(state({ now: EXPIRY }), wad(1))!.message).toMatch(/: a deposit is only possible before expiry$/);
    expect(checkDeposit(pendingState(), wad(1))!.message).toMatch(/the contract refuses a deposit until/);
    expect(checkDeposit(none(state()), wad(1))!.hint).toBe("open one with `emp-sponsor create COLLATERAL TOKENS`");
    expect(checkDeposit(none(state()), wad(1))!.revert).toBe("Position has no collateral");
    expect(checkDeposit(none(state()), wad(1))!.message).toBe("this account has no position in the EMP");
    expect(checkDeposit(pendingState(), wad(1))!.revert).toBe("Pending withdrawal");
    expect(checkDeposit(state({ now: EXPIRY }), wad(1))!.revert).toBe("Only callable pre-expiry");
  });

  it("an instant withdrawal passes to exactly the GCR and is refused one wei past it, in the issue's words", () => {
    expect(checkWithdraw(state(), wad(70))).toBeNull(); // 130 / 100 = GCR 1.3
    const r = checkWithdraw(state(), wad(70) + 1n)!;
    expect(r.revert).toBe("CR below GCR");
    expect(r.message).toBe("collateral ratio after the withdrawal 1.299999999999999999 is below the GCR 1.300000000000000000: an instant withdrawal would revert; --request starts a 2 h withdrawal request instead");
    expect(r.hint).toBe("at most 70 can be withdrawn at once");
    expect(checkWithdraw(state(), wad(79))!.message).toMatch(/^collateral ratio after the withdrawal 1\.21 is below the GCR 1\.30: /);
    expect(checkWithdraw(state(), wad(500))!.message).toMatch(/after the withdrawal 0\.00 is below the GCR 1\.30/);
  });
  it("an instant withdrawal needs more than 0, a position, no pending request, and no expiry", () => {
    expect(checkWithdraw(state(), 0n)).toEqual({ revert: "Invalid collateral amount", message: "the withdrawal must be more than 0" });
    expect(checkWithdraw(state({ now: EXPIRY }), wad(1))!.message).toMatch(/: a withdrawal is only possible before expiry$/);
    expect(checkWithdraw(none(state()), wad(1))!.revert).toBe("Position has no collateral");
    expect(checkWithdraw(pendingState(), wad(1))!.message).toMatch(/refuses an instant withdrawal until/);
    expect(checkWithdraw(state({ now: EXPIRY }), wad(1))!.revert).toBe("Only callable pre-expiry");
  });

  it("a withdrawal request: 0 < amount ≤ collateral, one at a time, passing before expiry; no GCR check", () => {
    expect(checkRequestWithdrawal(state(), wad(200))).toBeNull();
    const big = checkRequestWithdrawal(state(), wad(200) + 1n)!;
    expect(big.revert).toBe("Invalid collateral amount");
    expect(big.message).toBe("a withdrawal request must be more than 0 and at most the position's collateral 200, not 200.000000000000000001");
    expect(checkRequestWithdrawal(state(), 0n)!.revert).toBe("Invalid collateral amount");
    expect(checkRequestWithdrawal(pendingState(), wad(1))!.message).toMatch(/refuses a second withdrawal request/);
    expect(checkRequestWithdrawal(none(state()), wad(1))!.revert).toBe("Position has no collateral");
    const late = checkRequestWithdrawal(state({ now: EXPIRY - 7200n }), wad(1))!;
    expect(late.revert).toBe("Request expires post-expiry");
    expect(late.message).toBe("the request would pass at 2023-11-15T22:13:20Z, at or after the EMP's expiry 2023-11-15T22:13:20Z: the contract refuses it");
    expect(checkRequestWithdrawal(state({ now: EXPIRY - 7201n }), wad(1))).toBeNull();
    expect(checkRequestWithdrawal(state({ now: EXPIRY }), wad(1))!.message).toMatch(/: a withdrawal request is only possible before expiry$/);
    expect(late.hint).toBe("after expiry, `emp-sponsor settle` pays the position out");
  });

  it("withdraw --passed: only once the request's time has come", () => {
    expect(checkWithdrawPassed(state({ pending: wad(50), passAt: NOW }))).toBeNull();
    const early = checkWithdrawPassed(state({ pending: wad(50), passAt: NOW + 3600n }))!;
    expect(early.revert).toBe("Invalid withdraw request");
    expect(early.message).toBe("the withdrawal request passes at 2023-11-14T23:13:20Z, in 1 h: it cannot be carried out yet");
    expect(checkWithdrawPassed(state({ pending: wad(50), passAt: NOW, now: EXPIRY }))!.message).toMatch(/: carrying out a withdrawal request is only possible before expiry$/);
    const nothing = checkWithdrawPassed(state())!;
    expect(nothing.revert).toBe("Invalid withdraw request");
    expect(nothing.message).toBe("no withdrawal request is pending");
    expect(nothing.hint).toMatch(/--request/);
    expect(checkWithdrawPassed(none(state()))!.revert).toBe("Position has no collateral");
    expect(checkWithdrawPassed(state({ pending: wad(50), passAt: NOW, now: EXPIRY }))!.revert).toBe("Only callable pre-expiry");
  });

  it("cancel-withdrawal: any time, when one is pending", () => {
    expect(checkCancelWithdrawal(pendingState())).toBeNull();
    expect(checkCancelWithdrawal({ ...pendingState(), now: EXPIRY + 10n })).toBeNull();
    expect(checkCancelWithdrawal(state())).toEqual({ revert: "No pending withdrawal", message: "no withdrawal request is pending: nothing to cancel" });
    expect(checkCancelWithdrawal(none(state()))!.revert).toBe("Position has no collateral");
  });
});

describe("redeem and repay", () => {
  it("redeem: all, or a part that leaves at least minSponsorTokens (refused before sending)", () => {
    expect(checkRedeem(state(), wad(100))).toBeNull();
    expect(checkRedeem(state(), wad(95))).toBeNull();
    const r = checkRedeem(state(), wad(96))!;
    expect(r.revert).toBe("Below minimum sponsor position");
    expect(r.message).toBe("redeeming 96 of 100 tokens would leave 4, below the EMP's minimum position of 5 tokens: the contract would revert");
    expect(r.hint).toBe("redeem all 100, or at most 95");
    const over = checkRedeem(state(), wad(101))!;
    expect(over.revert).toBe("Invalid token amount");
    expect(over.message).toBe("the position has 100 tokens outstanding, fewer than the 101 to redeem");
    expect(checkRedeem(pendingState(), wad(10))!.message).toMatch(/the contract refuses a redemption until/);
    expect(checkRedeem(none(state()), wad(1))!.revert).toBe("Position has no collateral");
    // allowed after expiry
    expect(checkRedeem(state({ now: EXPIRY + 1n }), wad(100))).toBeNull();
  });
  it("repay: at most down to minSponsorTokens, before expiry", () => {
    expect(checkRepay(state(), wad(95))).toBeNull();
    const r = checkRepay(state(), wad(95) + 1n)!;
    expect(r.revert).toBeUndefined();
    expect(r.message).toBe("repaying 95.000000000000000001 tokens would leave 4.999999999999999999, below the EMP's minimum position of 5 tokens: the contract would revert");
    expect(r.hint).toBe("repay at most 95, or redeem the whole position");
    expect(checkRepay(state(), wad(100))!.message).toMatch(/would leave 0, below/);
    expect(checkRepay(state(), wad(101))!.message).toBe("the position has 100 tokens outstanding, fewer than the 101 to repay");
    expect(checkRepay(state({ now: EXPIRY }), wad(1))!.message).toMatch(/: repaying is only possible before expiry$/);
    expect(checkRepay(pendingState(), wad(1))!.message).toMatch(/the contract refuses repaying until/);
  });
  it("redeemPayout: the fraction of the collateral, or the whole position, as the contract pays it", () => {
    expect(redeemPayout(state(), wad(100))).toBe(wad(200));
    expect(redeemPayout(state(), wad(50))).toBe(wad(100));
    // 1/3 of 200 with the contract's floors: fraction 0.333.. × 200
    const third = (((wad(100) / 3n) * E18) / wad(100)) * wad(200) / E18;
    expect(redeemPayout(state(), wad(100) / 3n)).toBe(third);
    // at a multiplier of 0.5 raw 200 is worth 100
    expect(redeemPayout(state({ m: wad("0.5") }), wad(100))).toBe(wad(100));
    expect(redeemPayout(state({ m: wad("0.5") }), wad(50))).toBe(wad(50));
    // all of a position whose fee-adjusted value does not divide back exactly: the whole raw amount
    // leaves the pool (the contract deletes the position), not the fraction's re-converted value
    const m = wad("0.333333333333333333");
    const adj = (raw: bigint) => (raw * m) / E18;
    const s = state({ raw: 10n, tokens: wad(1), total: 1000n, m });
    expect(redeemPayout(s, wad(1))).toBe(adj(1000n) - adj(990n));
    const share = adj(10n); // fraction 1 × collateral
    expect(redeemPayout(s, wad(1))).not.toBe(adj(1000n) - adj(1000n - (share * E18) / m));
  });
});

describe("expire", () => {
  it("only from the expiry time on", () => {
    expect(checkExpire(state({ now: EXPIRY }))).toBeNull();
    const r = checkExpire(state({ now: EXPIRY - 3600n }))!;
    expect(r.revert).toBe("Only callable post-expiry");
    expect(r.message).toBe("the EMP expires at 2023-11-15T22:13:20Z, in 1 h: it cannot be settled yet");
  });
});
