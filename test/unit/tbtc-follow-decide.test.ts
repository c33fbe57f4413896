import { describe, expect, it } from "vitest";
import { decideFollow, targetBlocks, type FollowInput, type FollowPolicy, type FollowVersion } from "../../src/lib/tbtc/redeem/follow-decide";

/** Plain numbers in, decisions out: the timers are tBTC's (2 h / 4 h / 6 h from the latest request). */
const T = 1_800_000_000;
const H = 3600;
const policy: FollowPolicy = { confirmations: 6, maxFeeSats: 100_000n };
const v = (index: number, feeSats: bigint, o: Partial<FollowVersion> = {}): FollowVersion => ({ index, feeSats, signed: true, provided: true, txid: `tx${index}`, ...o });
const base = (o: Partial<FollowInput> = {}): FollowInput => ({
  deposit: "0xD",
  state: 6,
  chainNow: T + 600,
  requestedAt: T,
  utxoValueSats: 100_000_000n,
  versions: [v(0, 10_000n)],
  vsize: 110,
  btc: { tipHeight: 100 },
  ...o,
});

describe("decideFollow: deadlines", () => {
  it("computes the three deadlines from the latest request, not the first", () => {
    const d = decideFollow(base(), policy);
    expect([d.signatureDeadline, d.feeIncreaseFrom, d.proofDeadline]).toEqual([T + 2 * H, T + 4 * H, T + 6 * H]);
  });

  it("a deposit that left redemption needs nothing", () => {
    for (const state of [4, 7, 10, 11]) {
      const d = decideFollow(base({ state, btc: { tipHeight: 100, spender: { txid: "tx0", height: 90 } } }), policy);
      expect(d.stage).toBe("ended");
      expect(d.prove ?? d.broadcast ?? d.increaseFee).toBeUndefined();
      expect(d.alerts).toEqual([]);
    }
  });

  it("critical alert in the last hour before the proof deadline when nothing is provable", () => {
    const near = decideFollow(base({ chainNow: T + 6 * H - 3599, btc: { tipHeight: 100, spender: { txid: "tx0", height: 100 } } }), policy);
    expect(near.alerts.map((a) => a.key)).toContain("proof-deadline:0xD");
    const notYet = decideFollow(base({ chainNow: T + 5 * H - 1, btc: { tipHeight: 100, spender: { txid: "tx0", height: 100 } } }), policy);
    expect(notYet.alerts.map((a) => a.key)).not.toContain("proof-deadline:0xD");
    // provable: the deadline is no worry, the proof goes now
    const ok = decideFollow(base({ chainNow: T + 6 * H - 60, btc: { tipHeight: 105, spender: { txid: "tx0", height: 100 } } }), policy);
    expect(ok.prove).toBe(0);
    expect(ok.alerts).toEqual([]);
  });

  it("past the proof deadline: says a timeout is possible, and never proposes calling it", () => {
    const d = decideFollow(base({ chainNow: T + 6 * H + 1 }), policy);
    const a = d.alerts.find((x) => x.key === "proof-timeout:0xD");
    expect(a?.level).toBe("critical");
    expect(a?.text).toMatch(/keepctl never does on its own keeps/);
    expect(decideFollow(base({ chainNow: T + 6 * H }), policy).alerts.map((x) => x.key)).toContain("proof-deadline:0xD");
  });

  it("signature timeout only in state 5 and only after 2 h", () => {
    const s5 = (now: number) => decideFollow(base({ state: 5, chainNow: now, versions: [v(0, 10_000n, { signed: false, provided: false, txid: undefined })] }), policy);
    expect(s5(T + 2 * H).alerts.map((a) => a.key)).not.toContain("sig-timeout:0xD");
    expect(s5(T + 2 * H + 1).alerts.map((a) => a.key)).toContain("sig-timeout:0xD");
    expect(decideFollow(base({ chainNow: T + 2 * H + 1 }), policy).alerts.map((a) => a.key)).not.toContain("sig-timeout:0xD");
  });
});

describe("decideFollow: signature, broadcast, proof", () => {
  it("hands the keep's signature to the deposit in state 5, only once the keep signed", () => {
    expect(decideFollow(base({ state: 5, versions: [v(0, 10_000n, { provided: false })] }), policy).provideSignature).toBe(0);
    expect(decideFollow(base({ state: 5, versions: [v(0, 10_000n, { signed: false, provided: false, txid: undefined })] }), policy).provideSignature).toBeUndefined();
    expect(decideFollow(base({ state: 6 }), policy).provideSignature).toBeUndefined();
    // after a fee increase: the new version's signature, even while the old one is in the mempool
    const d = decideFollow(base({ state: 5, versions: [v(0, 10_000n), v(1, 20_000n, { provided: false })], btc: { tipHeight: 100, spender: { txid: "tx0" } } }), policy);
    expect(d.provideSignature).toBe(1);
    expect(d.broadcast).toBe(1); // and its transaction replaces the old one
  });

  it("broadcasts the latest signed version when no server sees a spend, also before the deposit has the signature", () => {
    const d = decideFollow(base({ state: 5, versions: [v(0, 10_000n, { provided: false })] }), policy);
    expect(d.stage).toBe("broadcast-needed");
    expect(d.broadcast).toBe(0);
    const two = decideFollow(base({ versions: [v(0, 10_000n), v(1, 20_000n)] }), policy);
    expect(two.broadcast).toBe(1);
    // nothing signed yet: nothing to broadcast
    const none = decideFollow(base({ state: 5, versions: [v(0, 10_000n, { signed: false, provided: false, txid: undefined })] }), policy);
    expect(none.broadcast).toBeUndefined();
    expect(none.stage).toBe("requested");
  });

  it("counts confirmations from the tip and proves at exactly the policy's depth", () => {
    const at = (tip: number) => decideFollow(base({ btc: { tipHeight: tip, spender: { txid: "tx0", height: 100 } } }), policy);
    expect(at(104).prove).toBeUndefined();
    expect(at(104).confirmations).toBe(5);
    expect(at(104).stage).toBe("confirming");
    expect(at(105).prove).toBe(0);
    expect(at(105).stage).toBe("provable");
    expect(at(105).confirmations).toBe(6);
    expect(decideFollow(base({ btc: { tipHeight: 105, spender: { txid: "tx0", height: 100 } } }), { ...policy, confirmations: 1 }).prove).toBe(0);
  });

  it("in the mempool: waits, and does not rebroadcast the same version", () => {
    const d = decideFollow(base({ btc: { tipHeight: 100, spender: { txid: "tx0" } } }), policy);
    expect(d.stage).toBe("in-mempool");
    expect(d.confirmations).toBe(0);
    expect(d.broadcast).toBeUndefined();
    expect(decideFollow(base({ btc: { tipHeight: 100, spender: { txid: "tx0", height: 0 } } }), policy).stage).toBe("in-mempool");
  });

  it("proves an older version that confirmed, even in state 5 after a fee increase", () => {
    const d = decideFollow(base({ state: 5, versions: [v(0, 10_000n), v(1, 20_000n, { signed: false, provided: false, txid: undefined })], btc: { tipHeight: 110, spender: { txid: "tx0", height: 101 } } }), policy);
    expect(d.prove).toBe(0);
    expect(d.spentBy).toBe(0);
    expect(d.broadcast).toBeUndefined();
  });

  it("a spend that is no version of ours is a critical alert, nothing is proven or broadcast", () => {
    const d = decideFollow(base({ btc: { tipHeight: 110, spender: { txid: "evil", height: 100 } } }), policy);
    expect(d.stage).toBe("unknown-spender");
    expect(d.prove ?? d.broadcast ?? d.increaseFee).toBeUndefined();
    expect(d.alerts.map((a) => [a.key, a.level])).toContainEqual(["unknown-spender:0xD", "critical"]);
  });

  it("without Bitcoin servers: a critical alert once something is signed, and no Bitcoin action", () => {
    const d = decideFollow(base({ btc: undefined }), policy);
    expect(d.alerts.map((a) => a.key)).toContain("btc-unreachable:0xD");
    expect(d.broadcast ?? d.prove ?? d.increaseFee).toBeUndefined();
    const unsigned = decideFollow(base({ state: 5, btc: undefined, versions: [v(0, 10_000n, { signed: false, provided: false, txid: undefined })] }), policy);
    expect(unsigned.alerts.map((a) => a.key)).not.toContain("btc-unreachable:0xD");
    // the signature is still handed over: it needs no Bitcoin server
    expect(decideFollow(base({ state: 5, btc: undefined, versions: [v(0, 10_000n, { provided: false })] }), policy).provideSignature).toBe(0);
  });
});

describe("decideFollow: fee increases", () => {
  const stuck = (o: Partial<FollowInput> = {}) => base({ chainNow: T + 4 * H, btc: { tipHeight: 100, spender: { txid: "tx0" }, marketFeeRate: 200 }, ...o });

  it("at 4 h, unconfirmed and below the market rate: the step is the initial fee, computed from the events", () => {
    const d = decideFollow(stuck(), policy);
    expect(d.increaseFee).toEqual({ previousOutputSats: 99_990_000n, newOutputSats: 99_980_000n, step: 1 });
    // second increase: previous = utxo − latest fee, new = previous − initial fee (tbtc.js got this wrong)
    const d2 = decideFollow(stuck({ versions: [v(0, 10_000n), v(1, 20_000n)], btc: { tipHeight: 100, spender: { txid: "tx1" }, marketFeeRate: 200 } }), policy);
    expect(d2.increaseFee).toEqual({ previousOutputSats: 99_980_000n, newOutputSats: 99_970_000n, step: 2 });
  });

  it("not before 4 h, not in state 5, not once confirmed, not when the fee rate is at the market", () => {
    expect(decideFollow(stuck({ chainNow: T + 4 * H - 1 }), policy).increaseFee).toBeUndefined();
    expect(decideFollow(stuck({ state: 5, versions: [v(0, 10_000n), v(1, 20_000n, { signed: false, provided: false, txid: undefined })] }), policy).increaseFee).toBeUndefined();
    expect(decideFollow(stuck({ btc: { tipHeight: 100, spender: { txid: "tx0", height: 100 }, marketFeeRate: 200 } }), policy).increaseFee).toBeUndefined();
    const atMarket = 10_000 / 110;
    expect(decideFollow(stuck({ btc: { tipHeight: 100, spender: { txid: "tx0" }, marketFeeRate: atMarket } }), policy).increaseFee).toBeUndefined();
    expect(decideFollow(stuck({ btc: { tipHeight: 100, spender: { txid: "tx0" }, marketFeeRate: atMarket + 0.01 } }), policy).increaseFee).toBeDefined();
    // no estimate and still time for the confirmations: wait
    expect(decideFollow(stuck({ btc: { tipHeight: 100, spender: { txid: "tx0" } } }), policy).increaseFee).toBeUndefined();
  });

  it("without an estimate, raises the fee once the time left is shorter than the confirmations need", () => {
    const late = T + 6 * H - 6 * 600 + 1;
    expect(decideFollow(stuck({ chainNow: late, btc: { tipHeight: 100 } }), policy).increaseFee?.step).toBe(1);
    expect(decideFollow(stuck({ chainNow: late - 1, btc: { tipHeight: 100 } }), policy).increaseFee).toBeUndefined();
  });

  it("a transaction nobody sees is raised too (it may have been dropped for its fee)", () => {
    const d = decideFollow(stuck({ btc: { tipHeight: 100, marketFeeRate: 200 } }), policy);
    expect(d.broadcast).toBe(0);
    expect(d.increaseFee?.step).toBe(1);
  });

  it("caps the cumulative fee, and alerts at the cap", () => {
    const capped = decideFollow(stuck(), { ...policy, maxFeeSats: 19_999n });
    expect(capped.increaseFee).toBeUndefined();
    expect(capped.alerts.map((a) => [a.key, a.level])).toContainEqual(["btc-fee-cap:0xD", "critical"]);
    expect(decideFollow(stuck(), { ...policy, maxFeeSats: 20_000n }).increaseFee?.newOutputSats).toBe(99_980_000n);
  });

  it("never asks for an output below the contract's 2000 sat minimum", () => {
    const small = (utxo: bigint) => decideFollow(stuck({ utxoValueSats: utxo, versions: [v(0, 10_000n)] }), { ...policy, maxFeeSats: 10n ** 9n });
    expect(small(22_000n).increaseFee?.newOutputSats).toBe(2_000n);
    expect(small(21_999n).increaseFee).toBeUndefined();
    expect(small(21_999n).alerts.map((a) => a.key)).toContain("btc-fee-cap:0xD");
  });
});

describe("targetBlocks", () => {
  it("the blocks left before the deadline minus the confirmations still to gather, at least 1", () => {
    expect(targetBlocks(0, 2 * H, 6)).toBe(7);
    expect(targetBlocks(0, 2 * H - 1, 6)).toBe(6);
    expect(targetBlocks(0, 600, 6)).toBe(1);
    expect(targetBlocks(0, 0, 1)).toBe(1);
    expect(targetBlocks(0, 6000, 1)).toBe(10);
  });
});

/** What each alert says, and the edges the first tests left open (found by `npm run mutate`). */
describe("decideFollow: the words of every alert, and the edges", () => {
  const alertOf = (d: ReturnType<typeof decideFollow>, key: string) => d.alerts.find((a) => a.key === key);
  const iso = (t: number) => new Date(t * 1000).toISOString().replace(".000Z", "Z");

  it("targetBlocks: ten-minute blocks left before the deadline, less the confirmations after the first", () => {
    expect(targetBlocks(T, T + 6 * H, 6)).toBe(31);
    expect(targetBlocks(T + 5 * H, T + 6 * H, 1)).toBe(6);
    expect(targetBlocks(T + 6 * H - 60, T + 6 * H, 6)).toBe(1);
  });

  it("a redemption with no version read yet is 'requested', in either state, with nothing to do", () => {
    for (const state of [5, 6]) {
      const d = decideFollow(base({ state, versions: [] }), policy);
      expect(d.stage).toBe("requested");
      expect(d.provideSignature ?? d.broadcast ?? d.prove ?? d.increaseFee).toBeUndefined();
    }
  });

  it("a signature the deposit has not taken is handed over only in state 5", () => {
    const pending = [v(0, 10_000n, { provided: false })];
    expect(decideFollow(base({ state: 5, versions: pending }), policy).provideSignature).toBe(0);
    expect(decideFollow(base({ state: 6, versions: pending }), policy).provideSignature).toBeUndefined();
  });

  it("no Bitcoin server: a signed redemption is 'signed' with a critical alert naming the deadline, and the deadline alerts still come", () => {
    const d = decideFollow(base({ btc: undefined, chainNow: T + 6 * H - 1800 }), policy);
    expect(d.stage).toBe("signed");
    expect(alertOf(d, "btc-unreachable:0xD")).toEqual({
      key: "btc-unreachable:0xD", level: "critical", title: "redemption cannot be finished on Bitcoin",
      text: `0xD: the signed redemption transaction cannot be broadcast or proven: no Bitcoin server configured or answering (the proof deadline is ${iso(T + 6 * H)})`,
    });
    expect(alertOf(d, "proof-deadline:0xD")).toBeDefined();
    expect(decideFollow(base({ btc: undefined, versions: [v(0, 10_000n, { signed: false, txid: undefined })] }), policy).stage).toBe("requested");
  });

  it("an unknown spender: critical alert with the spender's txid and the remedy, and the deadline alerts still come", () => {
    const d = decideFollow(base({ chainNow: T + 6 * H - 1800, btc: { tipHeight: 100, spender: { txid: "evil", height: 99 } } }), policy);
    expect(d.stage).toBe("unknown-spender");
    expect(alertOf(d, "unknown-spender:0xD")).toEqual({
      key: "unknown-spender:0xD", level: "critical", title: "deposit UTXO spent by an unknown transaction",
      text: "0xD: Bitcoin tx evil spends the deposit's UTXO but is no signed version of this redemption (signer fraud? provideECDSAFraudProof is the remedy)",
    });
    expect(alertOf(d, "proof-deadline:0xD")).toBeDefined();
  });

  it("a newer signed version is broadcast only while the older one is in the mempool", () => {
    const two = [v(0, 10_000n), v(1, 20_000n)];
    expect(decideFollow(base({ versions: two, btc: { tipHeight: 100, spender: { txid: "tx0" } } }), policy).broadcast).toBe(1);
    expect(decideFollow(base({ versions: two, btc: { tipHeight: 100, spender: { txid: "tx0", height: 99 } } }), policy).broadcast).toBeUndefined();
    expect(decideFollow(base({ btc: { tipHeight: 100, spender: { txid: "tx0" } } }), policy).broadcast).toBeUndefined();
  });

  it("no fee increase: the decision carries no increaseFee key at all", () => {
    const d = decideFollow(base({ btc: { tipHeight: 100, spender: { txid: "tx0" } } }), policy);
    expect("increaseFee" in d).toBe(false);
  });

  it("the fee-cap alerts say why, with the figures", () => {
    const cheap = decideFollow(base({ chainNow: T + 4 * H, btc: { tipHeight: 100, spender: { txid: "tx0" }, marketFeeRate: 200 } }), { ...policy, maxFeeSats: 15_000n });
    expect(alertOf(cheap, "btc-fee-cap:0xD")).toEqual({
      key: "btc-fee-cap:0xD", level: "critical", title: "redemption fee at its cap",
      text: "0xD: the redemption transaction is unconfirmed and its fee rate 90.9 sat/vB is below the market's 200.0 sat/vB, but the next fee (20000 sat) would exceed --max-btc-fee-sats 15000",
    });
    const slow = decideFollow(base({ chainNow: T + 6 * H - 3540, btc: { tipHeight: 100, spender: { txid: "tx0" } } }), { ...policy, maxFeeSats: 15_000n });
    expect(alertOf(slow, "btc-fee-cap:0xD")?.text).toBe("0xD: the redemption transaction is unconfirmed and 59 min are left, less than 6 confirmations need, but the next fee (20000 sat) would exceed --max-btc-fee-sats 15000");
    const floor = decideFollow(base({ chainNow: T + 4 * H, utxoValueSats: 21_000n, btc: { tipHeight: 100, spender: { txid: "tx0" }, marketFeeRate: 200 } }), policy);
    expect(alertOf(floor, "btc-fee-cap:0xD")).toEqual({
      key: "btc-fee-cap:0xD", level: "critical", title: "redemption fee cannot rise further",
      text: "0xD: the next fee step would leave 1000 sat, below the contract's minimum output of 2000 sat",
    });
  });

  it("the deadline alerts: their words, the last hour's edge, and state 5 gets no proof alert", () => {
    const mempool = { tipHeight: 100, spender: { txid: "tx0" } };
    const near = decideFollow(base({ chainNow: T + 6 * H - 1800, btc: mempool }), policy);
    expect(alertOf(near, "proof-deadline:0xD")).toEqual({
      key: "proof-deadline:0xD", level: "critical", title: "redemption proof deadline near",
      text: `0xD: 30 min left before the 6 h proof deadline (${iso(T + 6 * H)}) and the transaction is not provable yet`,
    });
    expect(alertOf(decideFollow(base({ chainNow: T + 5 * H, btc: mempool }), policy), "proof-deadline:0xD")).toBeUndefined();
    expect(alertOf(decideFollow(base({ chainNow: T + 5 * H + 1, btc: mempool }), policy), "proof-deadline:0xD")).toBeDefined();
    const late = decideFollow(base({ chainNow: T + 6 * H + 1, btc: mempool }), policy);
    expect(alertOf(late, "proof-timeout:0xD")).toEqual({
      key: "proof-timeout:0xD", level: "critical", title: "redemption proof timed out",
      text: "0xD: no proof within 6 h of the request; anyone may now call notifyRedemptionProofTimedOut and start the liquidation of the keep's bond (keepctl never does on its own keeps)",
    });
    const s5 = decideFollow(base({ state: 5, chainNow: T + 6 * H - 1800, versions: [v(0, 10_000n, { signed: false, provided: false, txid: undefined })] }), policy);
    expect(s5.alerts.map((a) => a.key)).toEqual(["sig-timeout:0xD"]);
    expect(alertOf(s5, "sig-timeout:0xD")).toEqual({
      key: "sig-timeout:0xD", level: "critical", title: "redemption signature timed out",
      text: "0xD: the keep did not sign within 2 h of the request; the signers can be liquidated (notifyRedemptionSignatureTimedOut)",
    });
  });
});
