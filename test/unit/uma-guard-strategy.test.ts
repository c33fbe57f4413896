import { describe, expect, it } from "vitest";
import { decideGuard, guardFloor, type GuardInput } from "../../src/lib/uma/guard-strategy";

const E18 = 10n ** 18n;
const wad = (n: number | string) => {
  const [i, f = ""] = String(n).split(".");
  return BigInt(i) * E18 + BigInt((f + "0".repeat(18)).slice(0, 18));
};
const NOW = 1_700_000_000n;

/** Exact, independent of the module: c / (t × p) ≥ target, cross-multiplied. */
const atTarget = (c: bigint, t: bigint, p: bigint, target: bigint) => c * E18 * E18 >= target * t * p;

function input(over: Partial<{ collateral: bigint; tokens: bigint; pending: bigint; passAt: bigint; price: bigint | null; walletColl: bigint; walletSyn: bigint; target: bigint; prefer: "deposit" | "repay"; state: number; now: bigint; min: bigint; runway: bigint; margin: bigint; crThreshold: bigint }> = {}): GuardInput {
  return {
    position: { collateral: over.collateral ?? wad(150), tokensOutstanding: over.tokens ?? wad(100), withdrawalRequestAmount: over.pending ?? 0n, withdrawalRequestPassTimestamp: over.passAt ?? 0n },
    price: over.price === undefined ? E18 : over.price,
    params: { collateralRequirement: wad("1.25"), minSponsorTokens: over.min ?? wad(5), expirationTimestamp: NOW + 86400n },
    contractState: over.state ?? 0,
    now: over.now ?? NOW,
    wallet: { collateral: over.walletColl ?? wad(1000), synthetic: over.walletSyn ?? 0n },
    config: { target: over.target ?? wad("1.5"), prefer: over.prefer ?? "deposit", runway: over.runway, margin: over.margin, crThreshold: over.crThreshold },
  };
}

describe("guard floor", () => {
  it("is CR × (1 + margin), 5 % by default", () => {
    expect(guardFloor(wad("1.25"))).toBe(wad("1.3125"));
    expect(guardFloor(wad("1.25"), 0n)).toBe(wad("1.25"));
    expect(guardFloor(wad(2), wad("0.1"))).toBe(wad("2.2"));
  });
});

describe("decideGuard", () => {
  it("holds exactly at the target, with the floor and the liquidators' trigger reported", () => {
    const d = decideGuard(input());
    expect(d).toMatchObject({ action: "hold", reason: "at-target", ratio: wad("1.5"), ratioAfter: wad("1.5"), deposit: 0n, repay: 0n, floor: wad("1.3125"), trigger: wad("1.225"), target: wad("1.5"), cancelWithdrawal: false });
    expect(d.alert).toBeUndefined();
  });

  it("deposits exactly what brings the ratio back to the target after a price rise", () => {
    const price = wad("1.2"); // 150 / 120 = 1.25 < 1.5: need 180 -> deposit 30
    const d = decideGuard(input({ price }));
    expect(d).toMatchObject({ action: "top-up", reason: "below-target", deposit: wad(30), repay: 0n, shortfall: 0n, ratio: wad("1.25"), ratioAfter: wad("1.5"), cancelWithdrawal: false });
    expect(atTarget(wad(150) + d.deposit, wad(100), price, wad("1.5"))).toBe(true);
    expect(atTarget(wad(150) + d.deposit - 1n, wad(100), price, wad("1.5"))).toBe(false);
  });

  it("rounds a deposit up to the wei, never short of the target", () => {
    const price = 1_234_567_890_123_456_789n;
    const d = decideGuard(input({ price, collateral: wad(101) + 7n, tokens: wad(77) + 3n }));
    expect(atTarget(wad(101) + 7n + d.deposit, wad(77) + 3n, price, wad("1.5"))).toBe(true);
    expect(atTarget(wad(101) + 7n + d.deposit - 1n, wad(77) + 3n, price, wad("1.5"))).toBe(false);
  });

  it("prefers repaying when told to, burning the fewest tokens that reach the target", () => {
    const price = wad("1.2");
    const d = decideGuard(input({ price, prefer: "repay", walletSyn: wad(50) }));
    expect(d.deposit).toBe(0n);
    // 150 / (t × 1.2) ≥ 1.5 -> t ≤ 83.33..: repay 100 − 83.333333333333333333
    expect(d.repay).toBe(wad(100) - (wad(150) * E18 * E18) / (wad("1.5") * price));
    expect(atTarget(wad(150), wad(100) - d.repay, price, wad("1.5"))).toBe(true);
    expect(atTarget(wad(150), wad(100) - d.repay + 1n, price, wad("1.5"))).toBe(false);
  });

  it("repays what it holds, then deposits the rest (prefer repay); deposits, then repays (prefer deposit)", () => {
    const price = wad("1.2");
    const r = decideGuard(input({ price, prefer: "repay", walletSyn: wad(10) }));
    expect(r.repay).toBe(wad(10));
    expect(r.deposit).toBe(wad(12)); // 1.5 × 90 × 1.2 = 162 - 150
    expect(r.shortfall).toBe(0n);
    const d = decideGuard(input({ price, prefer: "deposit", walletColl: wad(12), walletSyn: wad(50) }));
    expect(d.deposit).toBe(wad(12));
    expect(d.repay).toBe(wad(10)); // 162 / (1.5 × 1.2) = 90
    expect(d.ratioAfter).toBe(wad("1.5"));
  });

  it("never repays below minSponsorTokens", () => {
    const d = decideGuard(input({ price: wad(2), prefer: "repay", walletSyn: wad(1000), walletColl: 0n, min: wad(60) }));
    expect(d.repay).toBe(wad(40));
    expect(d.shortfall).toBeGreaterThan(0n);
    const tiny = decideGuard(input({ tokens: wad(5), collateral: wad(5), price: wad(2), prefer: "repay", walletSyn: wad(1000), walletColl: 0n, min: wad(5) }));
    expect(tiny.repay).toBe(0n);
    // a position already below the minimum (the contract cannot get there, but never repay "negative")
    const below = decideGuard(input({ tokens: wad(4), collateral: wad(4), price: wad(2), prefer: "repay", walletSyn: wad(1000), walletColl: 0n, min: wad(5) }));
    expect(below.repay).toBe(0n);
    expect(below.shortfall).toBe(wad(8));
  });

  it("without enough funds: uses all it has, reports the shortfall and alerts (critical when the liquidators would still act)", () => {
    const price = wad("1.2");
    const warn = decideGuard(input({ price, walletColl: wad(20) })); // 170 / 120 = 1.4166 > trigger
    expect(warn).toMatchObject({ deposit: wad(20), shortfall: wad(10), alert: { level: "warning", reason: "unfunded" } });
    const crit = decideGuard(input({ price: wad("1.3"), walletColl: wad(1) })); // 151 / 130 = 1.16 < 1.225
    expect(crit.alert).toEqual({ level: "critical", reason: "unfunded" });
    expect(crit.deposit).toBe(wad(1));
    expect(crit.shortfall).toBe(wad(195) - wad(151));
    // the trigger test itself is the liquidators' (shaded price): 151 at 1.3 is liquidated with 2 % shading...
    const unshaded = decideGuard(input({ price: wad("1.3"), walletColl: wad(1), crThreshold: 0n }));
    expect(unshaded.trigger).toBe(wad("1.25"));
    expect(unshaded.alert!.level).toBe("critical");
    // ...but 160 at 1.3 (1.2307) is safe from a 2 % shaded liquidator (trigger 1.225)
    expect(decideGuard(input({ price: wad("1.3"), collateral: wad(160), walletColl: 0n })).alert).toEqual({ level: "warning", reason: "unfunded" });
    expect(decideGuard(input({ price: wad("1.3"), collateral: wad(160), walletColl: 0n, crThreshold: 0n })).alert).toEqual({ level: "critical", reason: "unfunded" });
  });

  it("warns before the funds run out: when a 10 % price rise could not be defended", () => {
    // 150 + 10 in the wallet holds 1.5 up to price 160 / 150 = 1.0666.. < 1.1
    const low = decideGuard(input({ walletColl: wad(10) }));
    expect(low).toMatchObject({ action: "hold", alert: { level: "warning", reason: "low-funds" } });
    expect(low.fundedUpTo).toBe((wad(160) * E18 * E18) / (wad("1.5") * wad(100)));
    // 150 + 15 holds up to exactly 1.1: no warning
    expect(decideGuard(input({ walletColl: wad(15) })).alert).toBeUndefined();
    expect(decideGuard(input({ walletColl: wad(15) - 1n })).alert).toEqual({ level: "warning", reason: "low-funds" });
    expect(decideGuard(input({ walletColl: wad(15), runway: wad("0.2") })).alert).toEqual({ level: "warning", reason: "low-funds" });
    // funded top-up with little left afterwards also warns
    expect(decideGuard(input({ price: wad("1.2"), walletColl: wad(31) })).alert).toEqual({ level: "warning", reason: "low-funds" });
    // repayable tokens count too: repaying down to 5 tokens defends any price up to 160 / (1.5 × 5)
    const withTokens = decideGuard(input({ walletColl: wad(10), walletSyn: wad(95) }));
    expect(withTokens.alert).toBeUndefined();
    expect(withTokens.fundedUpTo).toBe((wad(160) * E18 * E18) / (wad("1.5") * wad(5)));
  });

  it("with every token repayable (no minimum) the wallet defends any price: no limit, no warning", () => {
    const d = decideGuard(input({ min: 0n, walletSyn: wad(100), walletColl: 0n }));
    expect(d.fundedUpTo).toBeNull();
    expect(d.alert).toBeUndefined();
  });

  it("takes a custom margin for the floor", () => {
    expect(decideGuard(input({ margin: wad("0.1") })).floor).toBe(wad("1.375"));
    expect(decideGuard(input({ margin: 0n })).floor).toBe(wad("1.25"));
  });

  it("counts a pending withdrawal as gone, and cancels it first when it is what drags the ratio down", () => {
    // 200 collateral, 60 pending: net 140 / 100 = 1.4 < 1.5
    const d = decideGuard(input({ collateral: wad(200), pending: wad(60), passAt: NOW + 100n }));
    expect(d).toMatchObject({ action: "top-up", ratio: wad("1.4"), cancelWithdrawal: true, deposit: 0n, repay: 0n, ratioAfter: wad(2) });
    // cancelling alone is not enough: 200 at 1.5 needs 300 at price 2/1.. (price 1.6: need 240)
    const more = decideGuard(input({ collateral: wad(200), pending: wad(60), passAt: NOW + 100n, price: wad("1.6") }));
    expect(more).toMatchObject({ cancelWithdrawal: true, deposit: wad(40), ratioAfter: wad("1.5") });
    // a pending request that leaves the ratio at the target is left alone
    expect(decideGuard(input({ collateral: wad(210), pending: wad(60), passAt: NOW + 100n }))).toMatchObject({ action: "hold", cancelWithdrawal: false });
    // pending more than the collateral: net 0
    expect(decideGuard(input({ collateral: wad(100), pending: wad(150), passAt: NOW + 100n })).ratio).toBe(0n);
  });

  it("skips when expired, without a position or a price; holds with no debt", () => {
    expect(decideGuard(input({ state: 1 }))).toMatchObject({ action: "skip", reason: "expired" });
    expect(decideGuard(input({ now: NOW + 86400n }))).toMatchObject({ action: "skip", reason: "expired" });
    expect(decideGuard(input({ now: NOW + 86399n, price: wad("1.2") }))).toMatchObject({ action: "top-up" });
    expect(decideGuard(input({ collateral: 0n }))).toMatchObject({ action: "skip", reason: "no-position" });
    expect(decideGuard(input({ price: null }))).toMatchObject({ action: "skip", reason: "no-price" });
    expect(decideGuard(input({ price: 0n }))).toMatchObject({ action: "skip", reason: "no-price" });
    expect(decideGuard(input({ tokens: 0n }))).toMatchObject({ action: "hold", reason: "no-debt" });
  });
});
