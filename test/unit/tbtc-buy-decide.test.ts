import { describe, expect, it } from "vitest";
import {
  BUY_GAS_FALLBACK,
  costPerDeposit,
  buyNeedsOf,
  decideBuy,
  depositsBoughtFor,
  ethSpentSince,
  fairEthWei,
  feeNowWei,
  swapDeadline,
  formatBp,
  gasReserveWei,
  isBuyKey,
  pctToBp,
  premiumBp,
  type BuyJournalEntry,
  type BuyMarket,
  type BuyNeed,
  type BuyPolicy,
} from "../../src/lib/tbtc/buy/buy-decide";
import { State, planRedemptions, type Candidate } from "../../src/lib/tbtc/redeem/planner";

const E18 = 10n ** 18n;
const TBTC = E18;
const ETH = E18;
/** ETH/BTC 0.03 through SatWeiPriceFeed: floor(1e28 / 3e16). */
const WEI_PER_SAT = 333_333_333_333n;
const A = "0x00000000000000000000000000000000000000a1";
const B = "0x00000000000000000000000000000000000000b2";
const C = "0x00000000000000000000000000000000000000c3";

/** The pair's K rule, bisected (the same independent oracle as uniswap-v2-math.test.ts), plus the router's +1. */
function routerAnswer(out: bigint, rIn: bigint, rOut: bigint): bigint {
  const ok = (x: bigint) => ((rIn + x) * 1000n - x * 3n) * ((rOut - out) * 1000n) >= rIn * rOut * 1_000_000n;
  let lo = 0n;
  let hi = 1n;
  while (!ok(hi)) hi *= 2n;
  while (lo + 1n < hi) {
    const mid = (lo + hi) / 2n;
    if (ok(mid)) hi = mid;
    else lo = mid;
  }
  const least = ok(lo) ? lo : hi;
  return (rIn * out * 1000n) % ((rOut - out) * 997n) === 0n ? least + 1n : least;
}

/** 20 TBTC and the ETH they are worth at the system's price: a pool that follows the medianizer. */
const RT = 20n * TBTC;
const RW = (RT * WEI_PER_SAT) / 10n ** 10n;

function market(needs: readonly BuyNeed[], over: Partial<BuyMarket> = {}): BuyMarket {
  const rw = over.reserveWeth ?? RW;
  const rt = over.reserveTbtc ?? RT;
  let t = 0n;
  const quotes = needs.map((n) => {
    t += n.amountTbtc;
    return t > 0n && t < rt ? routerAnswer(t, rw, rt) : undefined;
  });
  return { reserveWeth: rw, reserveTbtc: rt, routerQuotes: quotes, weiPerSat: WEI_PER_SAT, ethBalanceWei: 1000n * ETH, gasReserveWei: ETH / 10n, spentTodayWei: 0n, ...over };
}

const POLICY: BuyPolicy = { maxPremiumBp: 500n, maxSlippageBp: 50n, maxEthPerDayWei: 100n * ETH, minEthWei: ETH / 10n };

describe("fair price, premium and percentages", () => {
  it("fairEthWei: TBTC × wei per satoshi / 1e10", () => {
    expect(fairEthWei(TBTC, WEI_PER_SAT)).toBe(33_333_333_333_300_000_000n);
    expect(fairEthWei(10n ** 10n, WEI_PER_SAT)).toBe(WEI_PER_SAT); // one satoshi's worth
    expect(fairEthWei(10n ** 10n - 1n, 7n)).toBe(6n);
  });

  it("premiumBp rounds away from zero and keeps its sign", () => {
    expect(premiumBp(10_500n, 10_000n)).toBe(500n);
    expect(premiumBp(10_501n, 10_000n)).toBe(501n); // 500.1 bp -> 501
    expect(premiumBp(10_000n, 10_000n)).toBe(0n);
    expect(premiumBp(9_500n, 10_000n)).toBe(-500n);
    expect(premiumBp(9_499n, 10_000n)).toBe(-501n); // -500.1 bp -> -501
    expect(premiumBp(3n, 2n)).toBe(5000n);
    expect(premiumBp(1n, 3n)).toBe(-6667n);
    expect(() => premiumBp(1n, 0n)).toThrow("no fair price to compare with");
    expect(() => premiumBp(1n, -1n)).toThrow(RangeError);
  });

  it("pctToBp to 0.01 %, refusing what is not a percentage", () => {
    expect(pctToBp(5)).toBe(500n);
    expect(pctToBp(0.5)).toBe(50n);
    expect(pctToBp(0)).toBe(0n);
    expect(pctToBp(12.345)).toBe(1235n);
    expect(() => pctToBp(-0.01)).toThrow("not a percentage: -0.01");
    expect(() => pctToBp(Number.NaN)).toThrow(RangeError);
    expect(() => pctToBp(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });

  it("formatBp", () => {
    expect(formatBp(50n)).toBe("0.50%");
    expect(formatBp(0n)).toBe("0.00%");
    expect(formatBp(12_345n)).toBe("123.45%");
    expect(formatBp(-1_234n)).toBe("-12.34%");
    expect(formatBp(-5n)).toBe("-0.05%");
  });

  it("swapDeadline: the window counts from the later of the head's stamp and the clock", () => {
    // A fresh head: from its stamp.
    expect(swapDeadline(1_000_000, 999_990, 36)).toBe(1_000_036);
    // A head older than the window (a quiet chain): from the clock, or the router sees it expired.
    expect(swapDeadline(1_000_000, 1_000_100, 36)).toBe(1_000_136);
    expect(swapDeadline(1_000_000, 1_000_000, 12)).toBe(1_000_012);
  });

  it("feeNowWei: 2 × base + tip, never above the cap", () => {
    expect(feeNowWei(10n, 3n, 100n)).toBe(23n);
    expect(feeNowWei(50n, 1n, 100n)).toBe(100n);
    expect(feeNowWei(49n, 2n, 100n)).toBe(100n);
    expect(feeNowWei(49n, 1n, 100n)).toBe(99n);
  });

  it("gasReserveWei: the swap plus an approval and a request per redemption", () => {
    expect(gasReserveWei([], 2n)).toBe(BUY_GAS_FALLBACK.swap * 2n);
    expect(gasReserveWei(["request-redemption"], 1n)).toBe(250_000n + 60_000n + 450_000n);
    expect(gasReserveWei(["vending-machine", "request-redemption"], 3n)).toBe((250_000n + 60_000n + 600_000n + 60_000n + 450_000n) * 3n);
  });
});

// ---- which deposits, how much ------------------------------------------------------------------

let n = 0;
function cand(lotTbtc: bigint, pct: number, extra: Partial<Candidate> = {}): Candidate {
  n++;
  return {
    address: "0x" + n.toString(16).padStart(40, "0"),
    state: State.COURTESY_CALL,
    lotSats: lotTbtc / 10n ** 10n,
    utxoSats: lotTbtc / 10n ** 10n,
    collateralPct: pct,
    courtesyDeadline: 1_000 + n,
    costTbtc: lotTbtc,
    path: "request-redemption",
    ...extra,
  };
}
const PLAN_POLICY = { redeemBelowPct: 130, feeSats: 10_000n };

describe("buyNeedsOf: the TBTC each unfunded deposit lacks", () => {
  it("the leftover goes to the most at-risk unfunded deposit, the next ones need their whole cost", () => {
    const cs = [cand(TBTC, 118), cand(TBTC, 120), cand(TBTC / 10n, 129)];
    // 1.3 TBTC: the 118 % deposit is not funded (1.3 >= 1 — it is: 0.3 left), the 120 % one is not, the 129 % one is.
    const plan = planRedemptions(cs, (13n * TBTC) / 10n, PLAN_POLICY);
    expect(plan.funded.map((f) => f.address)).toEqual([cs[0].address, cs[2].address]);
    expect(plan.remainingTbtc).toBe((2n * TBTC) / 10n);
    const { needs, refused } = buyNeedsOf(plan, new Set());
    expect(needs).toEqual([{ deposit: cs[1].address, amountTbtc: (8n * TBTC) / 10n }]);
    expect(refused).toEqual([]);
  });

  it("two unfunded: leftover to the first, the whole lot for the second", () => {
    const cs = [cand(TBTC, 110), cand(2n * TBTC, 111)];
    const plan = planRedemptions(cs, TBTC / 4n, PLAN_POLICY);
    const { needs } = buyNeedsOf(plan, new Set());
    expect(needs).toEqual([
      { deposit: cs[0].address, amountTbtc: (3n * TBTC) / 4n },
      { deposit: cs[1].address, amountTbtc: 2n * TBTC },
    ]);
  });

  it("nothing unfunded: nothing to buy", () => {
    const plan = planRedemptions([cand(TBTC, 110)], 2n * TBTC, PLAN_POLICY);
    expect(buyNeedsOf(plan, new Set())).toEqual({ needs: [], refused: [] });
  });

  it("a deposit bought for earlier ends the list (case-insensitive)", () => {
    const cs = [cand(TBTC, 110), cand(TBTC, 111), cand(TBTC, 112)];
    const plan = planRedemptions(cs, 0n, PLAN_POLICY);
    const { needs, refused } = buyNeedsOf(plan, new Set([cs[1].address.toUpperCase().replace("0X", "0x").toLowerCase()]));
    expect(needs.map((x) => x.deposit)).toEqual([cs[0].address]);
    expect(refused.map((r) => [r.deposit, r.code, r.amountTbtc])).toEqual([[cs[1].address, "ALREADY_BOUGHT", 0n], [cs[2].address, "ALREADY_BOUGHT", 0n]]);
    expect(refused[0].reason).toBe(`TBTC was already bought for ${cs[1].address} (journal) and is not in the wallet any more; not buying twice`);
  });

  it("leftover larger than an unfunded cost (a later, cheaper one) never goes negative", () => {
    const plan = { unfunded: [{ address: A, costTbtc: 5n }, { address: B, costTbtc: 1n }] as never, remainingTbtc: 3n };
    expect(buyNeedsOf(plan, new Set()).needs).toEqual([{ deposit: A, amountTbtc: 2n }, { deposit: B, amountTbtc: 1n }]);
    const plan2 = { unfunded: [{ address: A, costTbtc: 2n }, { address: B, costTbtc: 5n }] as never, remainingTbtc: 3n };
    expect(buyNeedsOf(plan2, new Set()).needs).toEqual([{ deposit: A, amountTbtc: 0n }, { deposit: B, amountTbtc: 4n }]);
  });

  it("property: buying for any prefix makes the planner fund the prefix and everything it funded before", () => {
    let seed = 7;
    const rnd = (k: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % k);
    for (let round = 0; round < 300; round++) {
      const cs = Array.from({ length: 1 + rnd(7) }, () => cand(BigInt(1 + rnd(40)) * (TBTC / 10n), 100 + rnd(29)));
      const balance = BigInt(rnd(60)) * (TBTC / 10n);
      const plan = planRedemptions(cs, balance, PLAN_POLICY);
      const { needs } = buyNeedsOf(plan, new Set());
      const before = plan.funded.map((f) => f.address);
      let bought = 0n;
      for (const [k, need] of needs.entries()) {
        bought += need.amountTbtc;
        const after = new Set(planRedemptions(cs, balance + bought, PLAN_POLICY).funded.map((f) => f.address));
        for (const a of [...before, ...needs.slice(0, k + 1).map((x) => x.deposit)]) expect(after.has(a), `round ${round} prefix ${k + 1}: ${a}`).toBe(true);
      }
    }
  });
});

// ---- the bounds ---------------------------------------------------------------------------------

describe("decideBuy", () => {
  const need = (amountTbtc: bigint, deposit = A, bondWei: bigint | undefined = 50n * ETH): BuyNeed => ({ deposit, amountTbtc, bondWei });

  it("a pool at the system's price: buys, the swap's value is the expected price + slippage", () => {
    const needs = [need(TBTC / 10n)];
    const m = market(needs);
    const expected = routerAnswer(TBTC / 10n, RW, RT);
    const d = decideBuy(needs, m, POLICY);
    expect(d.refused).toEqual([]);
    const fair = fairEthWei(TBTC / 10n, WEI_PER_SAT);
    expect(d.order).toEqual({
      deposits: [A],
      amountTbtc: TBTC / 10n,
      expectedEthWei: expected,
      maxEthWei: (expected * 10_050n + 9_999n) / 10_000n,
      fairEthWei: fair,
      premiumBp: premiumBp(expected, fair),
      bondWei: 50n * ETH,
      boundBy: "slippage",
      perDeposit: [{ deposit: A, amountTbtc: TBTC / 10n, bondWei: 50n * ETH }],
    });
    // 0.3 % fee + 0.5 % price impact: about 0.81 %
    expect(d.order!.premiumBp).toBe(81n);
  });

  it("--max-price caps the swap's value when it is tighter than the slippage bound", () => {
    const needs = [need(TBTC / 10n)];
    const d = decideBuy(needs, market(needs), { ...POLICY, maxPremiumBp: 100n, maxSlippageBp: 500n });
    const fair = fairEthWei(TBTC / 10n, WEI_PER_SAT);
    expect(d.order!.maxEthWei).toBe((fair * 10_100n) / 10_000n);
    expect(d.order!.boundBy).toBe("max-price");
  });

  it("--max-slippage 0: the swap's value is exactly the quote, not a wei more", () => {
    const needs = [need(TBTC / 10n)];
    const d = decideBuy(needs, market(needs), { ...POLICY, maxSlippageBp: 0n });
    expect(d.order!.maxEthWei).toBe(routerAnswer(TBTC / 10n, RW, RT));
    expect(d.order!.boundBy).toBe("slippage");
  });

  it("a price exactly at the system's passes --max-price 0", () => {
    // One satoshi's worth (1e10 units): the fair price is weiPerSat itself; make it the pool's quote.
    const needs = [need(10n ** 10n)];
    const expected = routerAnswer(10n ** 10n, RW, RT);
    const d = decideBuy(needs, market(needs, { weiPerSat: expected }), { ...POLICY, maxPremiumBp: 0n });
    expect(d.refused).toEqual([]);
    expect(d.order!.premiumBp).toBe(0n);
    expect(d.order!.maxEthWei).toBe(expected);
    expect(decideBuy(needs, market(needs, { weiPerSat: expected - 1n }), { ...POLICY, maxPremiumBp: 0n }).refused[0].code).toBe("PRICE_LIMIT");
  });

  it("BOND_LIMIT and ETH_RESERVE refusals carry the quote and the premium", () => {
    const expected = routerAnswer(TBTC / 10n, RW, RT);
    const bond = decideBuy([need(TBTC / 10n, A, expected - 1n)], market([need(TBTC / 10n)]), POLICY).refused[0];
    expect(bond).toMatchObject({ code: "BOND_LIMIT", expectedEthWei: expected, premiumBp: 81n });
    const poor = decideBuy([need(TBTC / 10n)], market([need(TBTC / 10n)], { ethBalanceWei: ETH }), POLICY).refused[0];
    expect(poor).toMatchObject({ code: "ETH_RESERVE", expectedEthWei: expected, premiumBp: 81n });
  });

  it("the bond caps the swap's value when it is tightest", () => {
    const expected = routerAnswer(TBTC / 10n, RW, RT);
    const needs = [need(TBTC / 10n, A, expected + 1n)];
    const d = decideBuy(needs, market(needs), { ...POLICY, maxPremiumBp: 1000n, maxSlippageBp: 1000n });
    expect(d.order!.maxEthWei).toBe(expected + 1n);
    expect(d.order!.boundBy).toBe("bond");
  });

  it("exactly at --max-price is allowed; one wei more is refused (PRICE_LIMIT), with the numbers", () => {
    const needs = [need(TBTC / 10n)];
    const expected = routerAnswer(TBTC / 10n, RW, RT);
    const fair = fairEthWei(TBTC / 10n, WEI_PER_SAT);
    // the premium that makes fair × (1 + p) land exactly on or just under `expected`
    const exactBp = ((expected - fair) * 10_000n) / fair;
    const atCap = decideBuy(needs, market(needs), { ...POLICY, maxPremiumBp: exactBp + 1n });
    expect(atCap.order).toBeDefined();
    const over = decideBuy(needs, market(needs), { ...POLICY, maxPremiumBp: exactBp });
    expect(over.order).toBeUndefined();
    expect(over.refused).toEqual([{ deposit: A, code: "PRICE_LIMIT", amountTbtc: TBTC / 10n, expectedEthWei: expected, premiumBp: 81n,
      reason: `0.100000 TBTC costs 3.360164 ETH, 0.81% above the system's ETH/BTC price (3.333333 ETH): more than --max-price 0.80%` }]);
  });

  it("a pool priced far above the medianizer: refused whatever the amount", () => {
    const needs = [need(TBTC / 100n)];
    const m = market(needs, { reserveWeth: RW * 2n });
    const d = decideBuy(needs, m, POLICY);
    expect(d.refused.map((r) => r.code)).toEqual(["PRICE_LIMIT"]);
    expect(d.refused[0].premiumBp).toBeGreaterThan(10_000n);
  });

  it("a cheaper pool is a negative premium and is bought", () => {
    const needs = [need(TBTC / 100n)];
    const d = decideBuy(needs, market(needs, { reserveWeth: RW / 2n }), POLICY);
    expect(d.order!.premiumBp).toBeLessThan(-4_000n);
  });

  it("costing more than the bond it protects is refused as a loss (BOND_LIMIT), even under a generous --max-price", () => {
    const needs = [need(TBTC, A, 30n * ETH)];
    const d = decideBuy(needs, market(needs), { ...POLICY, maxPremiumBp: 10_000n });
    expect(d.refused).toHaveLength(1);
    expect(d.refused[0]).toMatchObject({ code: "BOND_LIMIT", deposit: A, amountTbtc: TBTC });
    expect(d.refused[0].reason).toMatch(/^1\.000000 TBTC costs 35\.\d{6} ETH, more than the 30\.000000 ETH bond it protects: buying would be a loss$/);
  });

  it("a bond equal to the expected price is not a loss", () => {
    const expected = routerAnswer(TBTC, RW, RT);
    const needs = [need(TBTC, A, expected)];
    const d = decideBuy(needs, market(needs), { ...POLICY, maxPremiumBp: 10_000n });
    expect(d.order?.maxEthWei).toBe(expected);
  });

  it("a plain buy (no deposit) has no bond bound", () => {
    const needs: BuyNeed[] = [{ amountTbtc: TBTC }];
    const d = decideBuy(needs, market(needs), { ...POLICY, maxPremiumBp: 10_000n });
    expect(d.order).toMatchObject({ deposits: [], bondWei: 0n, boundBy: "slippage", perDeposit: [] });
  });

  it("a bond bound needs every covered deposit's bond: one unknown bond drops it", () => {
    const needs: BuyNeed[] = [need(TBTC / 10n, A, 1n), { deposit: B, amountTbtc: TBTC / 10n }];
    const d = decideBuy(needs, market(needs), POLICY);
    // the first alone is refused by its 1-wei bond; nothing is bought
    expect(d.refused.map((r) => [r.deposit, r.code])).toEqual([[A, "BOND_LIMIT"], [B, "BOND_LIMIT"]]);
  });

  it("sums the bonds of the deposits one swap covers", () => {
    // 4 ETH of bond each: the first alone (3.36 ETH) fits, so does the pair (6.8 ETH < 8)
    const needs = [need(TBTC / 10n, A, 4n * ETH), need(TBTC / 10n, B, 4n * ETH)];
    const d = decideBuy(needs, market(needs), POLICY);
    expect(d.order!.bondWei).toBe(8n * ETH);
    expect(d.order!.deposits).toEqual([A, B]);
    expect(d.order!.amountTbtc).toBe(TBTC / 5n);
    expect(d.order!.expectedEthWei).toBe(routerAnswer(TBTC / 5n, RW, RT));
  });

  it("the largest prefix within the bounds: the price impact of the third deposit is too much", () => {
    const needs = [need(TBTC / 4n, A), need(TBTC / 4n, B), need(3n * TBTC, C)];
    const d = decideBuy(needs, market(needs), POLICY);
    expect(d.order!.deposits).toEqual([A, B]);
    expect(d.order!.perDeposit.map((p) => p.amountTbtc)).toEqual([TBTC / 4n, TBTC / 4n]);
    expect(d.refused.map((r) => [r.deposit, r.code, r.amountTbtc])).toEqual([[C, "PRICE_LIMIT", (7n * TBTC) / 2n]]);
  });

  it("a refusal covers every later deposit too", () => {
    const needs = [need(3n * TBTC, A), need(TBTC / 10n, B)];
    const d = decideBuy(needs, market(needs), POLICY);
    expect(d.order).toBeUndefined();
    expect(d.refused.map((r) => [r.deposit, r.code])).toEqual([[A, "PRICE_LIMIT"], [B, "PRICE_LIMIT"]]);
  });

  it("an empty pool and a thin one: NO_LIQUIDITY with the pool's words", () => {
    const needs = [need(TBTC)];
    const empty = decideBuy(needs, market(needs, { reserveWeth: 0n, reserveTbtc: 0n, routerQuotes: [undefined] }), POLICY);
    expect(empty.refused[0]).toMatchObject({ code: "NO_LIQUIDITY", reason: "the TBTC/WETH pool cannot sell 1.000000 TBTC: the pool holds no liquidity" });
    const thin = decideBuy(needs, market(needs, { reserveTbtc: TBTC / 2n, reserveWeth: RW / 40n }), POLICY);
    expect(thin.refused[0]).toMatchObject({ code: "NO_LIQUIDITY", reason: `the TBTC/WETH pool cannot sell 1.000000 TBTC: the pool holds only ${TBTC / 2n} units of the token bought, ${TBTC} asked` });
  });

  it("a router whose quote differs from the reserves' (QUOTE_MISMATCH), or that reverts", () => {
    const needs = [need(TBTC / 10n)];
    const expected = routerAnswer(TBTC / 10n, RW, RT);
    const off = decideBuy(needs, market(needs, { routerQuotes: [expected + 1n] }), POLICY);
    expect(off.refused[0]).toMatchObject({ code: "QUOTE_MISMATCH", reason: `the router quotes 3.360164 ETH for 0.100000 TBTC, the pool's reserves say 3.360164 ETH: the router does not price this pool` });
    const under = decideBuy(needs, market(needs, { routerQuotes: [expected - 1n] }), POLICY);
    expect(under.refused[0].code).toBe("QUOTE_MISMATCH");
    const none = decideBuy(needs, market(needs, { routerQuotes: [undefined] }), POLICY);
    expect(none.refused[0].reason).toBe("the router quotes nothing (it reverted) for 0.100000 TBTC, the pool's reserves say 3.360164 ETH: the router does not price this pool");
    const missing = decideBuy(needs, market(needs, { routerQuotes: [] }), POLICY);
    expect(missing.refused[0].code).toBe("QUOTE_MISMATCH");
  });

  it("the day's cap counts what was spent and the swap's worst case (DAILY_CAP); exactly at the cap is allowed", () => {
    const needs = [need(TBTC / 10n)];
    const maxEth = decideBuy(needs, market(needs), POLICY).order!.maxEthWei;
    const at = decideBuy(needs, market(needs, { spentTodayWei: ETH }), { ...POLICY, maxEthPerDayWei: ETH + maxEth });
    expect(at.order).toBeDefined();
    const over = decideBuy(needs, market(needs, { spentTodayWei: ETH + 1n }), { ...POLICY, maxEthPerDayWei: ETH + maxEth });
    expect(over.order).toBeUndefined();
    expect(over.refused[0]).toMatchObject({ code: "DAILY_CAP", expectedEthWei: routerAnswer(TBTC / 10n, RW, RT) });
    expect(over.refused[0].reason).toMatch(/^buying 0\.100000 TBTC may spend 3\.37\d{4} ETH; with 1\.000000 ETH spent in the last 24 h that is over --max-eth-per-day 4\.37\d{4}$/);
  });

  it("never the ETH kept back for gas and KEEPCTL_MIN_ETH (ETH_RESERVE); exactly what is left is allowed", () => {
    const needs = [need(TBTC / 10n)];
    const maxEth = decideBuy(needs, market(needs), POLICY).order!.maxEthWei;
    const gas = ETH / 10n;
    const exact = maxEth + POLICY.minEthWei + gas;
    expect(decideBuy(needs, market(needs, { ethBalanceWei: exact, gasReserveWei: gas }), POLICY).order).toBeDefined();
    const short = decideBuy(needs, market(needs, { ethBalanceWei: exact - 1n, gasReserveWei: gas }), POLICY);
    expect(short.order).toBeUndefined();
    expect(short.refused[0].code).toBe("ETH_RESERVE");
    expect(short.refused[0].reason).toMatch(/^buying 0\.100000 TBTC may spend 3\.37\d{4} ETH; the account holds 3\.57\d{4} ETH, of which 0\.100000 \(KEEPCTL_MIN_ETH\) and 0\.100000 for gas are not for buying$/);
  });

  it("nothing needed: no order, no refusal", () => {
    expect(decideBuy([], market([]), POLICY)).toEqual({ order: undefined, refused: [] });
  });
});

// ---- the journal ---------------------------------------------------------------------------------

describe("the daily window and the deposits bought for, from the journal", () => {
  const acct = "0xAbC0000000000000000000000000000000000001";
  const at = (iso: string) => iso;
  const entry = (key: string, state: string, maxEthWei: string | undefined, updatedAt: string, extra: Partial<BuyJournalEntry> = {}): BuyJournalEntry => ({
    key, state, status: state === "mined" ? 1 : undefined, account: acct.toLowerCase(), updatedAt, meta: { ...(maxEthWei ? { maxEthWei } : {}), deposits: [A] }, ...extra,
  });
  const now = Date.parse("2026-01-02T12:00:00Z");
  const since = now - 24 * 3600 * 1000;

  it("isBuyKey: a deposit's buy, an account's manual buys, nothing else", () => {
    expect(isBuyKey(`${A}:buy-tbtc`)).toBe(true);
    expect(isBuyKey(`${A}:buy-tbtc:1700000000000`)).toBe(true);
    expect(isBuyKey(`${A}:redeem`)).toBe(false);
    expect(isBuyKey(`${A}:buy-tbtcx`)).toBe(false);
    expect(isBuyKey(`buy-tbtc`)).toBe(false);
  });

  it("counts mined and in-flight swaps of the last 24 h at their ETH value; not reverted, failed or older ones", () => {
    const entries = [
      entry(`${A}:buy-tbtc`, "mined", "100", at("2026-01-02T11:00:00Z")),
      entry(`${B}:buy-tbtc`, "sent", "20", at("2026-01-02T10:00:00Z")),
      entry(`${C}:buy-tbtc`, "sending", "3", at("2026-01-01T12:00:00Z")), // exactly 24 h ago: counts
      entry(`${acct}:buy-tbtc:1`, "mined", "4000", at("2026-01-01T11:59:59Z")), // older
      entry(`${acct}:buy-tbtc:2`, "mined", "50000", at("2026-01-02T09:00:00Z"), { status: 0 }), // reverted
      entry(`${acct}:buy-tbtc:3`, "failed", "600000", at("2026-01-02T09:00:00Z")),
      entry(`${acct}:buy-tbtc:4`, "planned", "7000000", at("2026-01-02T09:00:00Z")),
      entry(`${A}:redeem`, "mined", "80000000", at("2026-01-02T09:00:00Z")),
      entry(`${acct}:buy-tbtc:5`, "mined", "900000000", at("2026-01-02T09:00:00Z"), { account: "0x0000000000000000000000000000000000000009" }),
      entry(`${acct}:buy-tbtc:6`, "mined", undefined, at("2026-01-02T09:00:00Z")),
      entry(`${acct}:buy-tbtc:7`, "mined", "1e3" as string, at("2026-01-02T09:00:00Z")),
    ];
    expect(ethSpentSince(entries, acct, since)).toBe(123n);
  });

  it("deposits bought for: mined or in flight, from each swap's meta", () => {
    const entries: BuyJournalEntry[] = [
      { key: `${A}:buy-tbtc`, state: "mined", status: 1, account: acct, updatedAt: "x", meta: { deposits: [A.toUpperCase().replace("0X", "0x"), B] } },
      { key: `${C}:buy-tbtc`, state: "sent", account: acct, updatedAt: "x", meta: { deposits: [C] } },
      { key: `0x1:buy-tbtc`, state: "mined", status: 0, account: acct, updatedAt: "x", meta: { deposits: ["0x1"] } },
      { key: `0x2:buy-tbtc`, state: "failed", account: acct, updatedAt: "x", meta: { deposits: ["0x2"] } },
      { key: `0x3:buy-tbtc`, state: "mined", status: 1, account: "0x9", updatedAt: "x", meta: { deposits: ["0x3"] } },
      { key: `0x4:redeem`, state: "mined", status: 1, account: acct, updatedAt: "x", meta: { deposits: ["0x4"] } },
      { key: `0x5:buy-tbtc`, state: "mined", status: 1, account: acct, updatedAt: "x", meta: { deposits: "0x5" } },
      { key: `0x6:buy-tbtc`, state: "mined", status: 1, account: acct, updatedAt: "x", meta: { deposits: [6] } },
      { key: `0x7:buy-tbtc`, state: "mined", status: 1, account: acct, updatedAt: "x" },
    ];
    expect([...depositsBoughtFor(entries, acct.toUpperCase().replace("0X", "0x"))].sort()).toEqual([A, B, C].map((x) => x.toLowerCase()).sort());
  });

  it("entries without an account or a meta (older journal lines) are skipped, not a crash", () => {
    const entries: BuyJournalEntry[] = [
      { key: `${A}:buy-tbtc`, state: "mined", status: 1, updatedAt: "2026-01-02T11:00:00Z", meta: { maxEthWei: "5", deposits: [A] } },
      { key: `${B}:buy-tbtc`, state: "mined", status: 1, account: acct, updatedAt: "2026-01-02T11:00:00Z" },
      { key: `${C}:buy-tbtc`, state: "mined", status: 1, account: acct, updatedAt: "2026-01-02T11:00:00Z", meta: { maxEthWei: "7", deposits: [C] } },
    ];
    expect(ethSpentSince(entries, acct, since)).toBe(7n);
    expect([...depositsBoughtFor(entries, acct)]).toEqual([C.toLowerCase()]);
  });
});

describe("costPerDeposit", () => {
  it("splits the ETH pro rata to the TBTC, the last taking the rounding", () => {
    const order = { amountTbtc: 3n, perDeposit: [{ deposit: A, amountTbtc: 1n, bondWei: 5n }, { deposit: B, amountTbtc: 2n, bondWei: 7n }] };
    expect(costPerDeposit(order, 10n)).toEqual([
      { deposit: A, amountTbtc: 1n, ethWei: 3n, bondWei: 5n },
      { deposit: B, amountTbtc: 2n, ethWei: 7n, bondWei: 7n },
    ]);
    expect(costPerDeposit({ amountTbtc: 0n, perDeposit: [{ deposit: A, amountTbtc: 0n, bondWei: 1n }, { deposit: B, amountTbtc: 0n, bondWei: 1n }] }, 4n).map((c) => c.ethWei)).toEqual([0n, 4n]);
    expect(costPerDeposit({ amountTbtc: 1n, perDeposit: [] }, 4n)).toEqual([]);
    const three = { amountTbtc: 10n, perDeposit: [{ deposit: A, amountTbtc: 2n, bondWei: 1n }, { deposit: B, amountTbtc: 5n, bondWei: 1n }, { deposit: C, amountTbtc: 3n, bondWei: 1n }] };
    expect(costPerDeposit(three, 100n).map((c) => c.ethWei)).toEqual([20n, 50n, 30n]);
  });
});
