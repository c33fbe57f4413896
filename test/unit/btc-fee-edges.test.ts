import { describe, expect, it } from "vitest";
import { planCpfp, planRbf, type StuckTx } from "../../src/lib/btc/wallet/fee-bump";
import { isWitnessProgram, toMilliSatPerVb } from "../../src/lib/btc/wallet/tx-size";

/**
 * The edges of the fee-bump planners and the size rules, worked by hand: a P2WPKH 1-in-2-out
 * transaction is 141 vB, 1-in-1-out 110 vB (BIP141 weights); P2WPKH dust is 294 sat (Core's
 * GetDustThreshold at 3 sat/vB: (31 + 67) × 3); a replacement pays max(target × size, old fee +
 * 1 sat/vB × size) (BIP125 rules 3-4); a child pays target × (parent + child) − the parent's fee.
 * Each case sits exactly on a boundary, so an off-by-one in a comparison flips it.
 */
const PAY = "0014" + "11".repeat(20);
const CHANGE = "0014" + "22".repeat(20);
const PAY_SATS = 600_000n;

/** A 141 vB parent paying 141 sat (1 sat/vB), one payment and a change; `available` = inputs − the payment. */
function parent(available: bigint): StuckTx {
  return { vsize: 141, feeSats: 141n, inputsSats: PAY_SATS + available, inputCount: 1, payments: [{ scriptHex: PAY, valueSats: PAY_SATS }], change: { vout: 1, scriptHex: CHANGE, valueSats: available - 141n } };
}

describe("planRbf at its boundaries", () => {
  it("a target equal to --max-btc-fee-rate is allowed (only above it is refused)", () => {
    expect(planRbf(parent(100_000n), 10, 10)).toMatchObject({ feasible: true, feeSats: 1410n });
    expect(planRbf(parent(100_000n), 10.001, 10)).toMatchObject({ feasible: false });
  });

  it("change left at exactly the dust threshold is kept", () => {
    // 10 sat/vB × 141 = 1410 (more than 141 + 141): 1704 − 1410 = 294 left, not dust.
    expect(planRbf(parent(1704n), 10, 100)).toEqual({ feasible: true, feeSats: 1410n, vsize: 141, change: { scriptHex: CHANGE, valueSats: 294n }, addedFeeSats: 1269n, feeRateSatVb: 10 });
    // One satoshi less: 293 would be dust; the change is dropped and all 1703 go to the fee of a 110 vB replacement.
    expect(planRbf(parent(1703n), 10, 100)).toEqual({ feasible: true, feeSats: 1703n, vsize: 110, addedFeeSats: 1562n, feeRateSatVb: 15.482 });
  });

  it("without change: exactly the fee the rules ask is enough", () => {
    // 110 vB at 10 sat/vB = 1100 (more than 141 + 110).
    expect(planRbf(parent(1100n), 10, 100)).toMatchObject({ feasible: true, feeSats: 1100n, vsize: 110 });
    expect(planRbf(parent(1099n), 10, 100)).toMatchObject({ feasible: false, reason: "the change (958 sat) cannot pay the replacement's fee of 1100 sat; more inputs would be needed" });
  });

  it("without change: a remainder paying exactly the cap is allowed, one satoshi more is not", () => {
    // Cap 12 sat/vB on 110 vB: 1320.
    expect(planRbf(parent(1320n), 10, 12)).toMatchObject({ feasible: true, feeSats: 1320n, feeRateSatVb: 12 });
    expect(planRbf(parent(1321n), 10, 12)).toEqual({ feasible: false, reason: "dropping the change would pay 12.009 sat/vB, above --max-btc-fee-rate 12 sat/vB" });
  });
});

describe("planCpfp at its boundaries", () => {
  it("a child output of exactly 294 sat is kept; the package rate is parent + child over both sizes", () => {
    // 10 × (141 + 110) − 141 = 2369: a change of 2663 leaves 294.
    const p = parent(2663n + 141n);
    expect(p.change!.valueSats).toBe(2663n);
    expect(planCpfp(p, CHANGE, 10, 100)).toEqual({ feasible: true, childFeeSats: 2369n, childVsize: 110, childValueSats: 294n, packageFeeRateSatVb: 10 });
    expect(planCpfp(parent(2662n + 141n), CHANGE, 10, 100)).toEqual({ feasible: false, reason: "the change output (2662 sat) cannot pay a child fee of 2369 sat and keep 294 sat" });
  });

  it("the package rate reported is what parent and child pay together", () => {
    // 10 × 251 − 141 = 2369 → (141 + 2369) / 251 = 10; at 3 sat/vB: 753 − 141 = 612 → 753 / 251 = 3.
    expect(planCpfp(parent(100_000n), CHANGE, 3, 100)).toMatchObject({ feasible: true, childFeeSats: 612n, packageFeeRateSatVb: 3 });
    // A parent of 400 vB at 1 sat/vB lifted to 1.5: 1.5 × 510 − 400 = 365 → 765 / 510 = 1.5.
    expect(planCpfp({ ...parent(100_000n), vsize: 400, feeSats: 400n }, CHANGE, 1.5, 100)).toMatchObject({ feasible: true, childFeeSats: 365n, packageFeeRateSatVb: 1.5 });
  });

  it("a target equal to the cap is allowed", () => {
    expect(planCpfp(parent(100_000n), CHANGE, 10, 10)).toMatchObject({ feasible: true, childFeeSats: 2369n });
  });
});

describe("sizes", () => {
  it("a zero fee rate is a rate (0 msat/vB); a negative one is not", () => {
    expect(toMilliSatPerVb(0)).toBe(0n);
    expect(() => toMilliSatPerVb(-0.001)).toThrow(/not a rate/);
  });

  it("witness programs (BIP141): OP_0 or OP_1..OP_16, then one push of 2 to 40 bytes, nothing else", () => {
    const s = (...b: number[]) => Uint8Array.from(b);
    const push = (version: number, n: number, extra = 0) => Uint8Array.from([version, n, ...new Array(n + extra).fill(0xab)]);
    expect(isWitnessProgram(push(0x00, 2))).toBe(true); // 4 bytes: the shortest
    expect(isWitnessProgram(s(0x00, 0x01, 0xab))).toBe(false); // a 1-byte program
    expect(isWitnessProgram(push(0x51, 40))).toBe(true); // 42 bytes: the longest
    expect(isWitnessProgram(push(0x51, 41))).toBe(false); // 43 bytes
    expect(isWitnessProgram(push(0x60, 2))).toBe(true); // OP_16
    expect(isWitnessProgram(push(0x61, 2))).toBe(false); // OP_NOP is no version
    expect(isWitnessProgram(push(0x50, 2))).toBe(false); // OP_RESERVED
    expect(isWitnessProgram(push(0x51, 32))).toBe(true); // P2TR
    expect(isWitnessProgram(push(0x00, 20, -1))).toBe(false); // the push claims 20 bytes, 19 follow
    expect(isWitnessProgram(push(0x00, 20, 1))).toBe(false); // a byte after the push
  });
});
