import { describe, expect, it } from "vitest";
import { State } from "../../src/lib/tbtc/abis";
import {
  decidePreapprovals,
  depositsStillAtRisk,
  inPreapprovalZone,
  leftoverPreapprovals,
  needsPreapprovalRead,
  preapprovalAction,
  PREAPPROVAL_ACTION,
  setDigest,
  type PreapprovalCandidate,
  type PreapprovalPolicy,
} from "../../src/lib/tbtc/watch/preapprove-decide";

const P: PreapprovalPolicy = { enabled: true, warnBelowPct: 140, redeemBelowPct: 130 };
const VM = "0xVeNdInG000000000000000000000000000000001";
const A = "0xaaaa000000000000000000000000000000000001";
const B = "0xBBBB000000000000000000000000000000000002";
const C = "0xcccc000000000000000000000000000000000003";
const TBTC = 10n ** 18n;

const cand = (address: string, o: Partial<PreapprovalCandidate> = {}): PreapprovalCandidate => ({
  address, state: State.ACTIVE, collateralPct: 135, path: "request-redemption", costTbtc: 1n * TBTC, ...o,
});
const none = new Map<string, bigint>();

describe("inPreapprovalZone", () => {
  it("is the half-open band [redeem line, warn level)", () => {
    expect(inPreapprovalZone(130, P)).toBe(true); // at the redeem line: not redeemed yet
    expect(inPreapprovalZone(139.99, P)).toBe(true);
    expect(inPreapprovalZone(140, P)).toBe(false); // at the warn level: not at risk
    expect(inPreapprovalZone(129.99, P)).toBe(false); // below the line: the pipeline redeems it now
    expect(inPreapprovalZone(undefined, P)).toBe(false);
  });
  it("is empty when the two levels coincide (the default 130/130)", () => {
    for (const pct of [129, 129.99, 130, 130.01]) expect(inPreapprovalZone(pct, { warnBelowPct: 130, redeemBelowPct: 130 })).toBe(false);
  });
});

describe("needsPreapprovalRead", () => {
  it("reads ACTIVE and COURTESY_CALL deposits in the zone only, and only when enabled", () => {
    expect(needsPreapprovalRead({ state: State.ACTIVE, collateralPct: 135 }, P)).toBe(true);
    expect(needsPreapprovalRead({ state: State.COURTESY_CALL, collateralPct: 135 }, P)).toBe(true);
    expect(needsPreapprovalRead({ state: State.AWAITING_WITHDRAWAL_SIGNATURE, collateralPct: 135 }, P)).toBe(false);
    expect(needsPreapprovalRead({ state: State.LIQUIDATION_IN_PROGRESS, collateralPct: 135 }, P)).toBe(false);
    expect(needsPreapprovalRead({ state: State.ACTIVE, collateralPct: 145 }, P)).toBe(false);
    expect(needsPreapprovalRead({ state: State.ACTIVE }, P)).toBe(false);
    expect(needsPreapprovalRead({ state: State.ACTIVE, collateralPct: 135 }, { ...P, enabled: false })).toBe(false);
  });
});

describe("decidePreapprovals", () => {
  it("approves a requestRedemption deposit's exact requirement to the deposit itself", () => {
    const out = decidePreapprovals([cand(A, { costTbtc: 1_000_500_000_000_000_000n })], none, VM, P);
    expect(out).toEqual([{ spender: A, amount: 1_000_500_000_000_000_000n, from: 0n, deposits: [A.toLowerCase()] }]);
  });

  it("approves the VendingMachine the exact total of the zone's VendingMachine deposits, once", () => {
    const out = decidePreapprovals(
      [cand(A, { path: "vending-machine", costTbtc: 3n * TBTC }), cand(B, { path: "vending-machine", costTbtc: 2n * TBTC + 7n }), cand(C, { costTbtc: 5n })],
      none, VM, P,
    );
    expect(out).toEqual([
      { spender: C, amount: 5n, from: 0n, deposits: [C.toLowerCase()] },
      { spender: VM, amount: 5n * TBTC + 7n, from: 0n, deposits: [A.toLowerCase(), B.toLowerCase()].sort() },
    ].sort((x, y) => (x.spender.toLowerCase() < y.spender.toLowerCase() ? -1 : 1)));
  });

  it("sends nothing when the allowance standing already covers the need (a restart, or an earlier loop)", () => {
    const al = new Map([[A.toLowerCase(), 1n * TBTC], [VM.toLowerCase(), 4n * TBTC]]);
    expect(decidePreapprovals([cand(A), cand(B, { path: "vending-machine", costTbtc: 4n * TBTC })], al, VM, P)).toEqual([]);
    // more than needed is also covered: never lowered
    expect(decidePreapprovals([cand(A)], new Map([[A.toLowerCase(), 2n * TBTC]]), VM, P)).toEqual([]);
  });

  it("re-approves the full exact amount when the allowance is one unit short, recording what stood before", () => {
    const al = new Map([[VM.toLowerCase(), 3n * TBTC - 1n]]);
    const out = decidePreapprovals([cand(A, { path: "vending-machine", costTbtc: 2n * TBTC }), cand(B, { path: "vending-machine", costTbtc: 1n * TBTC })], al, VM, P);
    expect(out).toEqual([{ spender: VM, amount: 3n * TBTC, from: 3n * TBTC - 1n, deposits: [A.toLowerCase(), B.toLowerCase()].sort() }]);
  });

  it("reads allowances by lower-case spender whatever the case of the addresses", () => {
    const out = decidePreapprovals([cand(B)], new Map([[B.toLowerCase(), 1n * TBTC]]), VM, P);
    expect(out).toEqual([]);
  });

  it("leaves out deposits outside the zone, not redeemable, without a path, or with nothing to pull", () => {
    const skipped = [
      cand(A, { collateralPct: 140 }),
      cand(A.replace("1", "4"), { collateralPct: 129.5 }),
      cand(A.replace("1", "5"), { state: State.AWAITING_WITHDRAWAL_PROOF }),
      cand(A.replace("1", "6"), { state: State.REDEEMED }),
      cand(A.replace("1", "7"), { path: null }),
      cand(A.replace("1", "8"), { costTbtc: 0n }),
    ];
    expect(decidePreapprovals(skipped, none, VM, P)).toEqual([]);
    expect(decidePreapprovals([cand(A, { state: State.COURTESY_CALL })], none, VM, P)).toHaveLength(1);
    expect(decidePreapprovals([cand(A, { collateralPct: 130 })], none, VM, P)).toHaveLength(1);
  });

  it("counts a deposit listed twice once (its cost is not doubled)", () => {
    const out = decidePreapprovals([cand(A, { path: "vending-machine", costTbtc: 2n }), cand(A.toUpperCase().replace("0X", "0x"), { path: "vending-machine", costTbtc: 2n })], none, VM, P);
    expect(out).toEqual([{ spender: VM, amount: 2n, from: 0n, deposits: [A.toLowerCase()] }]);
  });

  it("decides nothing when disabled (--no-preapprove)", () => {
    expect(decidePreapprovals([cand(A)], none, VM, { ...P, enabled: false })).toEqual([]);
  });

  it("lists a spender's deposits sorted whatever the order they came in", () => {
    const out = decidePreapprovals([cand(C, { path: "vending-machine" }), cand(A, { path: "vending-machine" })], none, VM, P);
    expect(out[0].deposits).toEqual([A.toLowerCase(), C.toLowerCase()]);
  });

  it("orders the approvals by spender (a stable order of sends)", () => {
    const out = decidePreapprovals([cand(C), cand(A), cand(B)], none, VM, P);
    expect(out.map((o) => o.spender)).toEqual([A, B, C]);
  });
});

describe("preapprovalAction and setDigest", () => {
  it("setDigest is FNV-1a (32 bit) of the sorted, lower-cased, comma-joined set (published vectors)", () => {
    // FNV-1a 32-bit test vectors (Fowler/Noll/Vo): "" -> 811c9dc5, "a" -> e40c292c, "foobar" -> bf9cf968
    expect(setDigest([])).toBe("811c9dc5");
    expect(setDigest(["a"])).toBe("e40c292c");
    expect(setDigest(["foobar"])).toBe("bf9cf968");
    expect(setDigest(["FOOBAR"])).toBe("bf9cf968");
  });
  it("keeps the leading zeros of an 8-hex-digit digest, and separates the members", () => {
    // FNV-1a 32 of "akd" is 0x0d368b73 (computed with an independent implementation)
    expect(setDigest(["akd"])).toBe("0d368b73");
    expect(setDigest(["a", "b"])).not.toBe(setDigest(["ab"]));
  });
  it("does not depend on order or case, and tells different sets apart", () => {
    expect(setDigest([B, A])).toBe(setDigest([A.toUpperCase(), B.toLowerCase()]));
    expect(setDigest([A, B])).not.toBe(setDigest([A]));
    expect(setDigest([A, B])).not.toBe(setDigest([A, C]));
  });
  it("names the amount, the allowance it replaces and the set: the same decision is the same action", () => {
    const a = { amount: 5n, from: 1n, deposits: [A] };
    expect(preapprovalAction(a)).toBe(`preapprove:5:1:${setDigest([A])}`);
    expect(preapprovalAction({ ...a, deposits: [A.toUpperCase()] })).toBe(preapprovalAction(a));
    expect(preapprovalAction({ ...a, amount: 6n })).not.toBe(preapprovalAction(a));
    expect(preapprovalAction({ ...a, from: 0n })).not.toBe(preapprovalAction(a));
    expect(PREAPPROVAL_ACTION.test(preapprovalAction(a))).toBe(true);
    expect(PREAPPROVAL_ACTION.test("approve")).toBe(false);
    expect(PREAPPROVAL_ACTION.test("redeem:preapprove:1")).toBe(false);
  });
});

describe("leftoverPreapprovals", () => {
  it("counts a standing allowance whose deposits are no longer at risk", () => {
    const out = leftoverPreapprovals([{ spender: A, deposits: [A] }], new Map([[A.toLowerCase(), 7n]]), new Set());
    expect(out).toEqual([{ spender: A, allowance: 7n, deposits: [A.toLowerCase()] }]);
  });
  it("does not count one that was spent (allowance 0 or unknown), or whose deposit is still at risk", () => {
    expect(leftoverPreapprovals([{ spender: A, deposits: [A] }], new Map([[A.toLowerCase(), 0n]]), new Set())).toEqual([]);
    expect(leftoverPreapprovals([{ spender: A, deposits: [A] }], new Map(), new Set())).toEqual([]);
    expect(leftoverPreapprovals([{ spender: A, deposits: [A] }], new Map([[A.toLowerCase(), 1n]]), new Set([A.toLowerCase()]))).toEqual([]);
  });
  it("merges the grants of one spender: needed while any of their deposits is at risk", () => {
    const grants = [{ spender: VM, deposits: [A, B] }, { spender: VM.toLowerCase(), deposits: [C, A.toUpperCase()] }];
    const al = new Map([[VM.toLowerCase(), 9n]]);
    expect(leftoverPreapprovals(grants, al, new Set([C.toLowerCase()]))).toEqual([]);
    expect(leftoverPreapprovals(grants, al, new Set())).toEqual([{ spender: VM, allowance: 9n, deposits: [A, B, C].map((x) => x.toLowerCase()).sort() }]);
  });
  it("lists the deposits sorted whatever the order of the grants", () => {
    const out = leftoverPreapprovals([{ spender: VM, deposits: [C] }, { spender: VM, deposits: [A] }], new Map([[VM.toLowerCase(), 1n]]), new Set());
    expect(out[0].deposits).toEqual([A.toLowerCase(), C.toLowerCase()]);
  });
  it("one row per spender, each judged on its own", () => {
    const out = leftoverPreapprovals([{ spender: A, deposits: [A] }, { spender: B, deposits: [B] }], new Map([[A.toLowerCase(), 1n], [B.toLowerCase(), 2n]]), new Set([B.toLowerCase()]));
    expect(out.map((o) => o.spender)).toEqual([A]);
  });
});

describe("depositsStillAtRisk", () => {
  it("redeemable deposits strictly below the warn level, by lower-case address", () => {
    const out = depositsStillAtRisk([
      { address: A, state: State.ACTIVE, collateralPct: 139.99 },
      { address: B, state: State.COURTESY_CALL, collateralPct: 120 },
      { address: C, state: State.ACTIVE, collateralPct: 140 },
      { address: "0xd1", state: State.AWAITING_WITHDRAWAL_SIGNATURE, collateralPct: 100 },
      { address: "0xd2", state: State.ACTIVE },
      { address: "0xd3", collateralPct: 100 },
    ], 140);
    expect([...out].sort()).toEqual([A.toLowerCase(), B.toLowerCase()].sort());
  });
});
