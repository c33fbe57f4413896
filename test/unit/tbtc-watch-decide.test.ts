import { describe, expect, it } from "vitest";
import { blockTimeSec, courtesyCallable, decideLoop, dropRedeemedAlerts, needsCandidateRead, newBlockClock, nextPollDelayMs, observeHead, seedBlockClock, type WatchPolicy, type WatchReadings, type WatchedDeposit } from "../../src/lib/tbtc/watch/watch-decide";
import { State } from "../../src/lib/tbtc/redeem/planner";
import { redemptionTimes } from "../../src/lib/tbtc/redeem/redemption-times";

const ETH = 10n ** 18n;
const policy: WatchPolicy = { warnBelowPct: 135, redeemBelowPct: 130, notifyCourtesy: true, feeSats: 10_000n, minEthWei: ETH / 10n, maxBlockAgeSec: 300 };

function dep(address: string, collateralPct: number | undefined, extra: Partial<WatchedDeposit> = {}): WatchedDeposit {
  return { address, state: State.ACTIVE, collateralPct, undercollateralizedPct: 125, severePct: 110, courtesyDeadline: null, ...extra };
}
function readings(over: Partial<WatchReadings> = {}): WatchReadings {
  return { now: 10_000, chainNow: 10_000, lastNewBlockAt: 9_990, deposits: [], ethBalance: ETH, ...over };
}
const keys = (r: { alerts: { key: string }[] }) => r.alerts.map((a) => a.key).sort();

describe("decideLoop alerts by collateralization", () => {
  it("150% ok, 133% warn, 124.5% courtesy, 109% liquidation", () => {
    const d = decideLoop(readings({ deposits: [dep("0xa", 150), dep("0xb", 133), dep("0xc", 124.5), dep("0xd", 109)] }), policy);
    expect(keys(d)).toEqual(["courtesy:0xc", "liquidation:0xd", "warn:0xb"]);
    expect(d.alerts.find((a) => a.key === "warn:0xb")!.level).toBe("warning");
    expect(d.alerts.find((a) => a.key === "liquidation:0xd")!.level).toBe("critical");
  });

  it("exactly at the warn threshold is not a warning; just below is", () => {
    expect(keys(decideLoop(readings({ deposits: [dep("0xa", 135)] }), policy))).toEqual([]);
    expect(keys(decideLoop(readings({ deposits: [dep("0xa", 134.99)] }), policy))).toEqual(["warn:0xa"]);
  });

  it("a courtesy call says how long is left, or that it expired", () => {
    const live = decideLoop(readings({ deposits: [dep("0xa", 120, { state: State.COURTESY_CALL, courtesyDeadline: 10_000 + 3600 })] }), policy);
    expect(live.alerts[0].text).toMatch(/expires in 60 min/);
    const expired = decideLoop(readings({ deposits: [dep("0xa", 120, { state: State.COURTESY_CALL, courtesyDeadline: 9_000 })] }), policy);
    expect(expired.alerts[0].text).toMatch(/expired/);
  });

  it("ignores finished deposits", () => {
    expect(decideLoop(readings({ deposits: [dep("0xa", 50, { state: State.REDEEMED })] }), policy).alerts).toEqual([]);
  });
});

describe("courtesy calls", () => {
  it("notifies ACTIVE deposits whose integer % is below the threshold only", () => {
    expect(courtesyCallable(dep("0xa", 124.99))).toBe(true);
    expect(courtesyCallable(dep("0xa", 125.4))).toBe(false); // the contract floors to 125, not < 125
    expect(courtesyCallable(dep("0xa", 120, { state: State.COURTESY_CALL }))).toBe(false);
    expect(courtesyCallable(dep("0xa", undefined))).toBe(false);
    const d = decideLoop(readings({ deposits: [dep("0xa", 124), dep("0xb", 126)] }), policy);
    expect(d.notifyCourtesy).toEqual(["0xa"]);
    expect(decideLoop(readings({ deposits: [dep("0xa", 124)] }), { ...policy, notifyCourtesy: false }).notifyCourtesy).toEqual([]);
  });
});

describe("redemption decisions", () => {
  it("reads candidates only below the redeem threshold or in courtesy call", () => {
    expect(needsCandidateRead(dep("0xa", 129.9), policy)).toBe(true);
    expect(needsCandidateRead(dep("0xa", 130), policy)).toBe(false);
    expect(needsCandidateRead(dep("0xa", 140, { state: State.COURTESY_CALL }), policy)).toBe(true);
    expect(needsCandidateRead(dep("0xa", 100, { state: State.AWAITING_WITHDRAWAL_SIGNATURE }), policy)).toBe(false);
  });
});

describe("account and liveness alerts", () => {
  it("ETH below the minimum warns; read-only mode (no balance) does not", () => {
    expect(keys(decideLoop(readings({ ethBalance: ETH / 10n - 1n }), policy))).toEqual(["eth-low"]);
    expect(keys(decideLoop(readings({ ethBalance: ETH / 10n }), policy))).toEqual([]);
    expect(keys(decideLoop(readings({ ethBalance: undefined }), policy))).toEqual([]);
  });
  it("no new block for longer than the limit is critical", () => {
    expect(keys(decideLoop(readings({ now: 10_000, lastNewBlockAt: 10_000 - 301 }), policy))).toEqual(["stale-chain"]);
    expect(keys(decideLoop(readings({ now: 10_000, lastNewBlockAt: 10_000 - 300 }), policy))).toEqual([]);
  });
});

describe("redemption timeouts", () => {
  it("signature after 2 h in AWAITING_WITHDRAWAL_SIGNATURE, proof after 6 h in AWAITING_WITHDRAWAL_PROOF", () => {
    expect(redemptionTimes(State.AWAITING_WITHDRAWAL_SIGNATURE, 0, 7200).overdue).toBeNull();
    expect(redemptionTimes(State.AWAITING_WITHDRAWAL_SIGNATURE, 0, 7201).overdue).toBe("signature");
    expect(redemptionTimes(State.AWAITING_WITHDRAWAL_PROOF, 0, 7201).overdue).toBeNull();
    expect(redemptionTimes(State.AWAITING_WITHDRAWAL_PROOF, 0, 21600).overdue).toBeNull();
    expect(redemptionTimes(State.AWAITING_WITHDRAWAL_PROOF, 0, 21601).overdue).toBe("proof");
    // Past 6 h in state 5 it is the signature that is overdue, never the proof; other states: nothing.
    expect(redemptionTimes(State.AWAITING_WITHDRAWAL_SIGNATURE, 0, 21601).overdue).toBe("signature");
    expect(redemptionTimes(State.REDEEMED, 0, 21601).overdue).toBeNull();
    expect(redemptionTimes(State.AWAITING_WITHDRAWAL_PROOF, 100, 0)).toEqual({ signatureDeadline: 7300, proofDeadline: 21700, overdue: null });
    const d = decideLoop(readings({ chainNow: 8000, deposits: [dep("0xa", undefined, { state: State.AWAITING_WITHDRAWAL_SIGNATURE, requestedAt: 0 })] }), policy);
    expect(keys(d)).toEqual(["sig-timeout:0xa"]);
  });
});

describe("dropRedeemedAlerts", () => {
  it("drops collateral alerts of deposits just redeemed, keeps the rest", () => {
    const d = decideLoop(readings({ deposits: [dep("0xa", 109), dep("0xb", 109)], ethBalance: 0n }), policy);
    const kept = dropRedeemedAlerts(d.alerts, [
      { deposit: "0xa", path: "vending-machine", status: "requested", hash: "0x1" },
      { deposit: "0xb", path: "vending-machine", status: "failed", reason: "x" },
    ]);
    expect(kept.map((a) => a.key).sort()).toEqual(["eth-low", "liquidation:0xb"]);
  });
});

describe("BlockClock: when --on-block polls the head", () => {
  it("measures the pace from the heads seen and polls just after the next block is due", () => {
    const c = newBlockClock();
    // Blocks every 12 s, each first seen here 0.4-1.5 s after its timestamp.
    observeHead(c, { number: 100, timestamp: 1_000 }, 1_000.9);
    observeHead(c, { number: 101, timestamp: 1_012 }, 1_012.4);
    observeHead(c, { number: 102, timestamp: 1_024 }, 1_025.5);
    expect(blockTimeSec(c)).toBe(12);
    // Due at 1024 + 12 + 0.4 (smallest lag) + 1 (whole-second timestamps) = 1037.4.
    expect(nextPollDelayMs(c, 1_026_000)).toBe(11_400);
    // Past due without a block (a missed slot): a short retry, not another block time.
    expect(nextPollDelayMs(c, 1_038_000)).toBe(3_000);
  });

  it("a head seen again, or an older one, changes nothing", () => {
    const c = newBlockClock();
    observeHead(c, { number: 10, timestamp: 100 }, 101);
    observeHead(c, { number: 11, timestamp: 112 }, 113);
    observeHead(c, { number: 11, timestamp: 112 }, 150);
    observeHead(c, { number: 9, timestamp: 90 }, 151);
    expect(c.samples).toEqual([12]);
    expect(c.lags).toEqual([1, 1]);
  });

  it("a skipped block counts as two block times, not one long one", () => {
    const c = newBlockClock();
    observeHead(c, { number: 10, timestamp: 100 }, 101);
    observeHead(c, { number: 12, timestamp: 124 }, 125);
    expect(blockTimeSec(c)).toBe(12);
  });

  it("the median of recent samples: one slow block does not stretch the wait", () => {
    const c = newBlockClock();
    seedBlockClock(c, { number: 0, timestamp: 0 }, { number: 8, timestamp: 96 });
    observeHead(c, { number: 8, timestamp: 96 }, 97);
    observeHead(c, { number: 9, timestamp: 108 }, 109);
    observeHead(c, { number: 10, timestamp: 150 }, 151);
    expect(blockTimeSec(c)).toBe(12);
  });

  it("an unknown or sub-2-second pace (an automining devnet) polls every 2 s, as before", () => {
    expect(nextPollDelayMs(newBlockClock(), 0)).toBe(2_000);
    const c = newBlockClock();
    seedBlockClock(c, { number: 0, timestamp: 100 }, { number: 8, timestamp: 101 });
    expect(blockTimeSec(c)).toBe(2);
    observeHead(c, { number: 8, timestamp: 101 }, 101);
    expect(nextPollDelayMs(c, 200_000)).toBe(2_000);
  });
});
