import { describe, expect, it } from "vitest";
import { decideFundingBump, type FundingBumpInput } from "../../src/lib/tbtc/mint/funding-bump-decide";

/**
 * RBF or CPFP for a stuck funding, against sizes and fees worked out here from BIP141/BIP125:
 * a P2WPKH transaction's vsize is ceil((4 × base + witness) / 4) with base = 10 + 41 per input +
 * 31 per P2WPKH output (one-byte counts) and witness = 2 + 108 per input; a replacement pays at
 * least the old fee + the child's + 1 sat/vB of its own size (rules 3 and 4); a child pays the
 * target on parent + child less what the parent paid, at least 1 sat/vB of its own size.
 */
const vsizeOf = (inputs: number, outputs: number) => Math.ceil((4 * (10 + 41 * inputs + 31 * outputs) + 2 + 108 * inputs) / 4);
const P2WPKH = (n: number) => "0014" + n.toString(16).padStart(2, "0").repeat(20);
const LOT = 100_000_000n;

/** A funding of `deposits` lots from one coin, with a change output, paying `rate` sat/vB. */
function funding(deposits: number, rate: number, changeSats = 50_000_000n): FundingBumpInput["funding"] {
  const vsize = vsizeOf(1, deposits + 1);
  const feeSats = BigInt(Math.ceil(vsize * rate));
  const payments = Array.from({ length: deposits }, (_, i) => ({ scriptHex: P2WPKH(i + 1), valueSats: LOT }));
  return { vsize, feeSats, inputsSats: LOT * BigInt(deposits) + changeSats + feeSats, inputCount: 1, payments, change: { vout: deposits, scriptHex: P2WPKH(200), valueSats: changeSats } };
}
const decide = (o: Partial<FundingBumpInput> & Pick<FundingBumpInput, "funding">) => decideFundingBump({ targetRate: 1.2, maxRate: 100, watchOnly: false, ...o });
const CHILD = vsizeOf(1, 1);

describe("decideFundingBump", () => {
  it("the sizes this test uses", () => {
    expect(vsizeOf(1, 11)).toBe(420);
    expect(vsizeOf(1, 2)).toBe(141);
    expect(CHILD).toBe(110);
  });

  it("a large funding a little under the target: CPFP (the gap plus a child) beats RBF (1 sat/vB of the whole again)", () => {
    const f = funding(10, 1);
    const d = decide({ funding: f, targetRate: 1.2 });
    // RBF: max(1.2 × 420, 420 + 420) = 840, 420 more. CPFP: 1.2 × (420 + 110) − 420 = 216.
    expect(d).toMatchObject({ action: "cpfp", costSats: 216n, cpfp: { childFeeSats: 216n, childVsize: CHILD, childValueSats: 50_000_000n - 216n } });
  });

  it("a small funding far under the target: RBF (no second transaction to pay for)", () => {
    const f = funding(1, 1);
    const d = decide({ funding: f, targetRate: 10 });
    // RBF: 10 × 141 = 1410, 1269 more. CPFP: 10 × 251 − 141 = 2369.
    expect(d).toMatchObject({ action: "rbf", costSats: 1269n, rbf: { feeSats: 1410n, vsize: 141, change: { valueSats: 50_000_000n + 141n - 1410n } } });
  });

  it("already paying the target (alone, or with its child): nothing to do", () => {
    expect(decide({ funding: funding(10, 1.2), targetRate: 1.2 })).toEqual({ action: "none", packageRateSatVb: 1.2 });
    // The child of the first case lifts the package to exactly 1.2.
    expect(decide({ funding: funding(10, 1), child: { feeSats: 216n, vsize: CHILD }, targetRate: 1.2 })).toEqual({ action: "none", packageRateSatVb: 1.2 });
    // One satoshi short of it is not enough.
    expect(decide({ funding: funding(10, 1), child: { feeSats: 215n, vsize: CHILD }, targetRate: 1.2 }).action).not.toBe("none");
    expect(decide({ funding: funding(10, 1), targetRate: 1 }).action).toBe("none");
  });

  it("a child already journaled and the market up again: RBF, paying for the child it evicts", () => {
    const d = decide({ funding: funding(10, 1), child: { feeSats: 216n, vsize: CHILD }, targetRate: 2 });
    // max(2 × 420, 420 + 216 + 420) = 1056.
    expect(d).toMatchObject({ action: "rbf", costSats: 636n, rbf: { feeSats: 1056n } });
  });

  it("a child journaled and no replacement possible: stuck, both reasons named", () => {
    const d = decide({ funding: { ...funding(10, 1), change: undefined }, child: { feeSats: 1n, vsize: CHILD }, targetRate: 2 });
    expect(d).toEqual({ action: "stuck", reason: "RBF: it has no change output to take a higher fee from; CPFP: a child already spends the change output" });
  });

  it("watch-only: stuck (the cold signer would be needed)", () => {
    expect(decide({ funding: funding(10, 1), watchOnly: true })).toEqual({ action: "stuck", reason: "the wallet is watch-only: a bump would need the cold signer" });
    // Watch-only but already paid: nothing to do, no alert.
    expect(decide({ funding: funding(10, 1.2), watchOnly: true }).action).toBe("none");
  });

  it("no change output: neither can be done", () => {
    expect(decide({ funding: { ...funding(10, 1), change: undefined } })).toEqual({ action: "stuck", reason: "RBF: it has no change output to take a higher fee from; CPFP: it has no change output for a child to spend" });
  });

  it("a target above the cap: stuck with the cap named", () => {
    expect(decide({ funding: funding(1, 1), targetRate: 30, maxRate: 20 })).toEqual({ action: "stuck", reason: "the target 30 sat/vB is above --max-btc-fee-rate 20 sat/vB" });
  });

  it("a change too small for the child but RBF possible: RBF even where a child would be cheaper", () => {
    const f = funding(10, 1, 1_000n);
    const d = decide({ funding: f, targetRate: 1.2 });
    // RBF: 840 sat with the change (1000 + 420 − 840 = 580 ≥ 294 dust): 420 more. CPFP: 1000 − 216 = 784 ≥ 294, still cheaper.
    expect(d).toMatchObject({ action: "cpfp", costSats: 216n });
    const tiny = funding(10, 1, 400n);
    // CPFP: 400 − 216 = 184 < 294 dust: not possible. RBF: 400 + 420 − 840 < 294, so no change: the whole
    // 820 as the fee of a 389 vB replacement (at least 420 + 389 = 809 by the rules): 400 more.
    expect(vsizeOf(1, 10)).toBe(389);
    expect(decide({ funding: tiny, targetRate: 1.2 })).toMatchObject({ action: "rbf", costSats: 400n, rbf: { feeSats: 820n, vsize: 389 } });
  });
});
