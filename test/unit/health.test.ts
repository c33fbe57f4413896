import { describe, expect, it } from "vitest";
import { State } from "../../src/lib/tbtc/abis";
import {
  collateralBasisPoints,
  courtesyDeadlineOf,
  formatDuration,
  formatPercentBp,
  judgeDeposit,
  worstHealth,
  type HealthFacts,
} from "../../src/lib/tbtc/read/health";

const NOW = 1_700_000_000;
const base = (over: Partial<HealthFacts> = {}): HealthFacts => ({
  state: State.ACTIVE,
  collateralBp: 15000n,
  undercollateralizedThresholdPercent: 125,
  severelyUndercollateralizedThresholdPercent: 110,
  ...over,
});
const judge = (over: Partial<HealthFacts>, warn?: number) => judgeDeposit(base(over), { now: NOW, warnThresholdPct: warn });

describe("collateralBasisPoints", () => {
  it("computes bond / (lot * price) in hundredths of a percent, rounded down", () => {
    // 1 BTC lot, 30 ETH per BTC => 3e11 wei per sat; bond 45 ETH => 150 %
    expect(collateralBasisPoints(45n * 10n ** 18n, 100_000_000n, 300_000_000_000n)).toBe(15000n);
    // 1/3 of the above bond: 50 % exactly? 15 ETH / 30 ETH = 50.00
    expect(collateralBasisPoints(15n * 10n ** 18n, 100_000_000n, 300_000_000_000n)).toBe(5000n);
    // 10 ETH / 30 ETH = 33.333.. -> 33.33
    expect(collateralBasisPoints(10n * 10n ** 18n, 100_000_000n, 300_000_000_000n)).toBe(3333n);
  });
  it("returns undefined without a price or lot", () => {
    expect(collateralBasisPoints(1n, 0n, 5n)).toBeUndefined();
    expect(collateralBasisPoints(1n, 5n, 0n)).toBeUndefined();
  });
  it("agrees with the contract's integer percent when floored", () => {
    const bp = collateralBasisPoints(37_123_456_789_000_000_000n, 100_000_000n, 300_000_000_000n)!;
    const contractPct = (37_123_456_789_000_000_000n * 100n) / (100_000_000n * 300_000_000_000n);
    expect(bp / 100n).toBe(contractPct);
    expect(formatPercentBp(bp)).toBe("123.74");
  });
});

describe("formatting", () => {
  it("formats percent and durations", () => {
    expect(formatPercentBp(12907n)).toBe("129.07");
    expect(formatPercentBp(5n)).toBe("0.05");
    expect(formatDuration(3 * 86400 + 5 * 3600 + 10)).toBe("3d 5h");
    expect(formatDuration(2 * 3600 + 30 * 60)).toBe("2h 30m");
    expect(formatDuration(20)).toBe("1m");
    expect(formatDuration(0)).toBe("0m");
    expect(courtesyDeadlineOf(1000)).toBe(1000 + 6 * 3600);
  });
});

describe("judgeDeposit", () => {
  it("is ok at and above the warning threshold", () => {
    expect(judge({ collateralBp: 13000n }).health).toBe("ok");
    expect(judge({ collateralBp: 15000n }).health).toBe("ok");
  });
  it("warns just below the warning threshold, and honours a custom one", () => {
    const j = judge({ collateralBp: 12999n });
    expect(j.health).toBe("warn");
    expect(j.reason).toContain("129.99%");
    expect(judge({ collateralBp: 13999n }, 140).health).toBe("warn");
    expect(judge({ collateralBp: 14000n }, 140).health).toBe("ok");
    expect(judge({ collateralBp: 13049n }, 130.5).health).toBe("warn");
    expect(judge({ collateralBp: 13050n }, 130.5).health).toBe("ok");
  });
  it("flags a courtesy call strictly below the deposit's undercollateralized threshold", () => {
    expect(judge({ collateralBp: 12500n }).health).toBe("warn");
    const j = judge({ collateralBp: 12499n });
    expect(j.health).toBe("courtesy-call");
    expect(j.reason).toContain("125%");
    // thresholds come from the deposit, not from constants
    expect(judge({ collateralBp: 12900n, undercollateralizedThresholdPercent: 130 }).health).toBe("courtesy-call");
  });
  it("flags liquidation risk strictly below the severe threshold", () => {
    expect(judge({ collateralBp: 11000n }).health).toBe("courtesy-call");
    expect(judge({ collateralBp: 10999n }).health).toBe("liquidation-risk");
    expect(judge({ state: State.COURTESY_CALL, collateralBp: 10999n, courtesyDeadline: NOW + 5 * 3600 }).health).toBe("liquidation-risk");
  });
  it("judges COURTESY_CALL by its deadline", () => {
    const far = judge({ state: State.COURTESY_CALL, collateralBp: 12000n, courtesyDeadline: NOW + 3601 });
    expect(far.health).toBe("courtesy-call");
    expect(far.reason).toContain("expires in 1h");
    expect(judge({ state: State.COURTESY_CALL, collateralBp: 12000n, courtesyDeadline: NOW + 3600 }).health).toBe("liquidation-risk");
    const gone = judge({ state: State.COURTESY_CALL, collateralBp: 12000n, courtesyDeadline: NOW - 60 });
    expect(gone.health).toBe("liquidation-risk");
    expect(gone.reason).toContain("expired");
    // even when collateral recovered, the state alone is a courtesy call until someone exits it
    expect(judge({ state: State.COURTESY_CALL, collateralBp: 16000n }).health).toBe("courtesy-call");
    const margin = judgeDeposit(base({ state: State.COURTESY_CALL, courtesyDeadline: NOW + 7000 }), { now: NOW, courtesyMarginSec: 7200 });
    expect(margin.health).toBe("liquidation-risk");
  });
  it("treats liquidation in progress as a risk and non-collateralized states as ok", () => {
    expect(judge({ state: State.LIQUIDATION_IN_PROGRESS, collateralBp: 9000n }).health).toBe("liquidation-risk");
    expect(judge({ state: State.FRAUD_LIQUIDATION_IN_PROGRESS }).health).toBe("liquidation-risk");
    for (const s of [State.AWAITING_WITHDRAWAL_SIGNATURE, State.REDEEMED, State.AWAITING_BTC_FUNDING_PROOF, State.LIQUIDATED]) {
      expect(judge({ state: s, collateralBp: 5000n }).health).toBe("ok");
    }
  });
  it("says why, in words an operator reads (each branch's exact reason)", () => {
    const cc = State.COURTESY_CALL;
    const cases: [Partial<HealthFacts>, string, string][] = [
      [{ state: State.LIQUIDATION_IN_PROGRESS }, "liquidation-risk", "LIQUIDATION_IN_PROGRESS: the bond is being seized"],
      [{ state: State.REDEEMED }, "ok", "REDEEMED: no collateral call possible"],
      [{ collateralBp: 10999n }, "liquidation-risk", "collateralization 109.99% below the 110% liquidation threshold"],
      [{ state: cc, collateralBp: 12000n, courtesyDeadline: NOW }, "liquidation-risk", "courtesy call expired 0m ago; liquidation can start now"],
      [{ state: cc, collateralBp: 12000n, courtesyDeadline: NOW - 2 * 3600 }, "liquidation-risk", "courtesy call expired 2h 0m ago; liquidation can start now"],
      [{ state: cc, collateralBp: 12000n, courtesyDeadline: NOW + 1800 }, "liquidation-risk", "courtesy call expires in 30m"],
      [{ state: cc, collateralBp: 12000n, courtesyDeadline: NOW + 5 * 3600 }, "courtesy-call", "in courtesy call (collateralization 120.00%); expires in 5h 0m"],
      [{ state: cc, collateralBp: 12000n }, "courtesy-call", "in courtesy call (collateralization 120.00%)"],
      [{ state: cc, collateralBp: undefined }, "courtesy-call", "in courtesy call (collateralization unknown)"],
      [{ collateralBp: undefined }, "warn", "collateralization unknown (no price)"],
      [{ collateralBp: 12499n }, "courtesy-call", "collateralization 124.99% below the 125% courtesy-call threshold"],
      [{ collateralBp: 12999n }, "warn", "collateralization 129.99% below the 130.00% warning threshold"],
      [{ collateralBp: 15000n }, "ok", "collateralization 150.00%"],
    ];
    for (const [facts, health, reason] of cases) expect(judge(facts), reason).toEqual({ health, reason });
  });
  it("formats a negative percentage with its sign (a bond below zero cannot happen, a bad read can)", () => {
    expect(formatPercentBp(-12907n)).toBe("-129.07");
    expect(formatPercentBp(-5n)).toBe("-0.05");
    expect(formatPercentBp(0n)).toBe("0.00");
  });
  it("warns when the collateral is unknown for an ACTIVE deposit", () => {
    expect(judge({ collateralBp: undefined }).health).toBe("warn");
  });
});

describe("worstHealth", () => {
  it("orders ok < warn < courtesy-call < liquidation-risk", () => {
    expect(worstHealth([])).toBe("ok");
    expect(worstHealth(["ok", "warn"])).toBe("warn");
    expect(worstHealth(["liquidation-risk", "courtesy-call", "ok"])).toBe("liquidation-risk");
  });
});

describe("remainingTerm", () => {
  it("is fundedAt + 180 days - now, floored at zero, and zero when never funded", async () => {
    const { remainingTerm } = await import("../../src/lib/tbtc/read/scan");
    const term = 180 * 86400;
    expect(remainingTerm(NOW, NOW)).toBe(BigInt(term));
    expect(remainingTerm(NOW - 1000, NOW)).toBe(BigInt(term - 1000));
    expect(remainingTerm(NOW - term, NOW)).toBe(0n);
    expect(remainingTerm(NOW - term - 5, NOW)).toBe(0n);
    expect(remainingTerm(undefined, NOW)).toBe(0n);
  });
});

describe("decodeDepositSlots", () => {
  const word = (parts: [bigint, number][]) => "0x" + parts.reduce((w, [v, off]) => w | (v << BigInt(off * 8)), 0n).toString(16).padStart(64, "0");
  const vm = 0x526c08e5532a9308b3fb33b7968ef78a5005d2acn;
  it("unpacks state, lot and thresholds from the packed Deposit slots", async () => {
    const { decodeDepositSlots } = await import("../../src/lib/tbtc/read/deposit-slots");
    const s5 = word([[vm, 0], [100_000_000n, 20], [8n, 28], [200n, 29]]);
    const s6 = word([[150n, 0], [125n, 2], [110n, 4]]);
    expect(decodeDepositSlots(s5, s6)).toEqual({
      state: 8, lotSizeSatoshis: 100_000_000n,
      initialCollateralizedPercent: 150, undercollateralizedThresholdPercent: 125, severelyUndercollateralizedThresholdPercent: 110,
    });
    expect(decodeDepositSlots(s5)).toEqual({ state: 8, lotSizeSatoshis: 100_000_000n });
  });
  it("refuses words that are not a deposit's", async () => {
    const { decodeDepositSlots } = await import("../../src/lib/tbtc/read/deposit-slots");
    const s6 = word([[150n, 0], [125n, 2], [110n, 4]]);
    expect(decodeDepositSlots(word([[vm, 0], [1n, 20], [12n, 28]]), s6)).toBeUndefined(); // no state 12
    expect(decodeDepositSlots(word([[vm, 0], [0n, 20], [4n, 28]]), s6)).toBeUndefined(); // no lot
    expect(decodeDepositSlots(word([[0n, 0], [1n, 20], [4n, 28]]), s6)).toBeUndefined(); // no vending machine
    const ok5 = word([[vm, 0], [1n, 20], [4n, 28]]);
    expect(decodeDepositSlots(ok5, word([[125n, 0], [150n, 2], [110n, 4]]))).toBeUndefined(); // thresholds out of order
    expect(decodeDepositSlots(ok5, word([[150n, 0], [125n, 2], [110n, 4], [1n, 10]]))).toBeUndefined(); // extra bits
    expect(decodeDepositSlots("0x" + "0".repeat(64))).toBeUndefined();
  });
});
