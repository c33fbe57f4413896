import { describe, expect, it } from "vitest";
import { Interface } from "ethers";
import { depositWriteInterface, erc20Interface, erc721Interface, keepSignatureInterface, redemptionEventsInterface, vendingMachineInterface } from "../../src/lib/tbtc/redeem/redeem-abi";
import {
  type Candidate,
  DEFAULT_REDEMPTION_FEE_SATS,
  State,
  chooseRedemptionPath,
  feeProblem,
  byRisk,
  outputValueBytes8LE,
  planRedemptions,
} from "../../src/lib/tbtc/redeem/planner";

const BTC = 100_000_000n;
const TBTC = 10n ** 18n;
/** signer fee = lot / 2000 (the system's default divisor) */
const signerFee = (lotBtc: bigint) => (lotBtc * TBTC) / 2000n;

let n = 0;
function dep(lotBtc: bigint, pct: number, extra: Partial<Candidate> = {}): Candidate {
  n++;
  return {
    address: "0x" + n.toString(16).padStart(40, "0"),
    state: State.ACTIVE,
    lotSats: lotBtc * BTC,
    utxoSats: lotBtc * BTC,
    collateralPct: pct,
    courtesyDeadline: null,
    costTbtc: lotBtc * TBTC + signerFee(lotBtc),
    path: "vending-machine",
    ...extra,
  };
}
const policy = { redeemBelowPct: 130, feeSats: DEFAULT_REDEMPTION_FEE_SATS };
const wallet = 10n * TBTC + signerFee(10n); // 10 TBTC plus the signer fees

describe("planRedemptions with 10 TBTC (plus fees)", () => {
  it("1×10 BTC: funds the one deposit, nothing left", () => {
    const p = planRedemptions([dep(10n, 120)], wallet, policy);
    expect(p.funded.map((f) => f.lotSats)).toEqual([10n * BTC]);
    expect(p.remainingTbtc).toBe(0n);
    expect(p.funded[0].outputValueSats).toBe(10n * BTC - DEFAULT_REDEMPTION_FEE_SATS);
  });

  it("an overfunded deposit: the output pays the whole funded UTXO less the fee, not the lot", () => {
    // 1 BTC lot funded with 1.00037 BTC: paying from the lot would give 37 000 sat to the miners
    const over = dep(1n, 120, { utxoSats: BTC + 37_000n });
    const p = planRedemptions([over], wallet, policy);
    expect(p.funded).toHaveLength(1);
    expect(p.funded[0]).toMatchObject({ lotSats: BTC, utxoSats: BTC + 37_000n });
    expect(p.funded[0].outputValueSats).toBe(100_037_000n - 10_000n);
    // the fee limit is half the UTXO, not half the lot: 0.0002 BTC lot overfunded to 0.0005 BTC
    const small = dep(0n, 120, { lotSats: 20_000n, utxoSats: 50_000n, costTbtc: 0n });
    const q = planRedemptions([small], 0n, { ...policy, feeSats: 20_000n });
    expect(q.skipped).toEqual([]);
    expect(q.funded[0].outputValueSats).toBe(30_000n);
    // and an underfunded one is judged by its UTXO too
    const thin = dep(0n, 120, { lotSats: 50_000n, utxoSats: 30_000n, costTbtc: 0n });
    expect(planRedemptions([thin], 0n, { ...policy, feeSats: 20_000n }).skipped.map((x) => x.reason)).toEqual([
      "fee 20000 sat must be less than half the deposit's UTXO (30000 sat)",
    ]);
  });

  it("2×5 BTC: funds both", () => {
    const p = planRedemptions([dep(5n, 120), dep(5n, 121)], wallet, policy);
    expect(p.funded).toHaveLength(2);
    expect(p.unfunded).toHaveLength(0);
    expect(p.totalCostTbtc).toBe(wallet);
  });

  it("10×1 BTC: funds all ten, most at risk first", () => {
    const ds = Array.from({ length: 10 }, (_, i) => dep(1n, 100 + ((i * 7) % 10)));
    const p = planRedemptions(ds, wallet, policy);
    expect(p.funded).toHaveLength(10);
    const pcts = p.funded.map((f) => f.collateralPct);
    expect(pcts).toEqual([...pcts].sort((a, b) => a - b));
  });

  it("one wei short: the last does not fit and its shortfall is exact", () => {
    const p = planRedemptions([dep(5n, 120), dep(5n, 121)], wallet - 1n, policy);
    expect(p.funded).toHaveLength(1);
    expect(p.funded[0].collateralPct).toBe(120);
    expect(p.unfunded[0].shortfallTbtc).toBe(1n);
  });
});

describe("ordering under insufficient funds", () => {
  it("funds the riskiest, skips one that does not fit and tries a smaller one", () => {
    const big = dep(10n, 112);
    const riskiest = dep(5n, 111);
    const small = dep(1n, 125);
    const p = planRedemptions([small, big, riskiest], 7n * TBTC, policy);
    expect(p.funded.map((f) => f.address)).toEqual([riskiest.address, small.address]);
    expect(p.unfunded.map((f) => f.address)).toEqual([big.address]);
    expect(p.unfunded[0].shortfallTbtc).toBe(big.costTbtc - (7n * TBTC - riskiest.costTbtc));
    expect(p.remainingTbtc).toBe(7n * TBTC - riskiest.costTbtc - small.costTbtc);
  });

  it("with nothing available everything is unfunded, in risk order", () => {
    const a = dep(1n, 120);
    const b = dep(1n, 110);
    const p = planRedemptions([a, b], 0n, policy);
    expect(p.funded).toEqual([]);
    expect(p.unfunded.map((u) => u.address)).toEqual([b.address, a.address]);
  });
});

describe("ties", () => {
  it("equal collateralization: nearer courtesy deadline first, no deadline last", () => {
    const none = dep(1n, 120);
    const late = dep(1n, 120, { courtesyDeadline: 2000, state: State.COURTESY_CALL, path: "request-redemption" });
    const soon = dep(1n, 120, { courtesyDeadline: 1000, state: State.COURTESY_CALL, path: "request-redemption" });
    const p = planRedemptions([none, late, soon], 1n * TBTC + signerFee(1n), policy);
    expect(p.funded.map((f) => f.address)).toEqual([soon.address]);
    expect(p.unfunded.map((f) => f.address)).toEqual([late.address, none.address]);
  });

  it("equal risk and deadline: larger lot first, then address (stable regardless of input order)", () => {
    const x = dep(1n, 120);
    const y = dep(5n, 120);
    const z = dep(1n, 120);
    const p1 = planRedemptions([x, y, z], 100n * TBTC, policy);
    const p2 = planRedemptions([z, y, x], 100n * TBTC, policy);
    expect(p1.funded.map((f) => f.address)).toEqual([y.address, x.address, z.address]);
    expect(p2.funded.map((f) => f.address)).toEqual(p1.funded.map((f) => f.address));
  });
});

describe("eligibility", () => {
  it("skips deposits at or above the threshold unless named explicitly", () => {
    const d = dep(1n, 130);
    expect(planRedemptions([d], wallet, policy).skipped[0].reason).toMatch(/130.00% is not below 130%/);
    expect(planRedemptions([d], wallet, { ...policy, ignoreThreshold: true }).funded).toHaveLength(1);
  });

  it("reports why a deposit without a path is skipped, and dedupes addresses", () => {
    const d = dep(1n, 100, { path: null, whyNot: "redemption already requested (AWAITING_WITHDRAWAL_SIGNATURE)" });
    const p = planRedemptions([d, { ...d, address: d.address.toUpperCase().replace("0X", "0x") }], wallet, policy);
    expect(p.skipped).toEqual([{ address: d.address, reason: "redemption already requested (AWAITING_WITHDRAWAL_SIGNATURE)" }]);
  });

  it("enforces the contract's fee limits per UTXO", () => {
    expect(feeProblem(1999n, BTC)).toMatch(/below the contract's minimum of 2000/);
    expect(feeProblem(2000n, BTC)).toBeUndefined();
    expect(feeProblem(5000n, 10000n)).toMatch(/less than half/);
    expect(feeProblem(4999n, 10000n)).toBeUndefined();
    const tiny = dep(0n, 100, { utxoSats: 15_000n, costTbtc: 0n });
    expect(planRedemptions([tiny], wallet, policy).skipped[0].reason).toMatch(/half the deposit's UTXO \(15000 sat\)/);
  });
});

describe("chooseRedemptionPath", () => {
  const me = "0x00000000000000000000000000000000000000aa";
  const vm = "0x00000000000000000000000000000000000000bb";
  const other = "0x00000000000000000000000000000000000000cc";
  const base = { remainingTermSec: 1000n, tdtHolder: vm, vendingMachine: vm, redeemer: me };
  it("courtesy call and at-term -> requestRedemption", () => {
    expect(chooseRedemptionPath({ ...base, state: State.COURTESY_CALL, tdtHolder: other }).path).toBe("request-redemption");
    expect(chooseRedemptionPath({ ...base, state: State.ACTIVE, tdtHolder: other, remainingTermSec: 0 }).path).toBe("request-redemption");
  });
  it("ACTIVE: VendingMachine holder -> tbtcToBtc; own TDT -> requestRedemption; other holder -> why not", () => {
    expect(chooseRedemptionPath({ ...base, state: State.ACTIVE }).path).toBe("vending-machine");
    expect(chooseRedemptionPath({ ...base, state: State.ACTIVE, tdtHolder: me.toUpperCase().replace("0X", "0x") }).path).toBe("request-redemption");
    const r = chooseRedemptionPath({ ...base, state: State.ACTIVE, tdtHolder: other });
    expect(r.path).toBeNull();
    expect(r.whyNot).toContain(other);
  });
  it("final and in-flight states say why", () => {
    expect(chooseRedemptionPath({ ...base, state: State.AWAITING_WITHDRAWAL_SIGNATURE }).whyNot).toMatch(/already requested/);
    expect(chooseRedemptionPath({ ...base, state: State.LIQUIDATION_IN_PROGRESS }).whyNot).toMatch(/liquidation/);
    expect(chooseRedemptionPath({ ...base, state: State.REDEEMED }).whyNot).toMatch(/REDEEMED cannot be redeemed/);
    const why = (state: number) => chooseRedemptionPath({ ...base, state });
    expect(why(State.AWAITING_WITHDRAWAL_SIGNATURE)).toEqual({ path: null, whyNot: "redemption already requested (AWAITING_WITHDRAWAL_SIGNATURE)" });
    expect(why(State.AWAITING_WITHDRAWAL_PROOF)).toEqual({ path: null, whyNot: "redemption already requested (AWAITING_WITHDRAWAL_PROOF)" });
    expect(why(State.LIQUIDATION_IN_PROGRESS)).toEqual({ path: null, whyNot: "already in liquidation (LIQUIDATION_IN_PROGRESS): too late to redeem" });
    expect(why(State.FRAUD_LIQUIDATION_IN_PROGRESS)).toEqual({ path: null, whyNot: "already in liquidation (FRAUD_LIQUIDATION_IN_PROGRESS): too late to redeem" });
  });
});

describe("byRisk and the plan's totals", () => {
  const c = (address: string, pct: number, deadline: number | null, lotBtc: bigint): Candidate => ({ ...dep(lotBtc, pct), address, courtesyDeadline: deadline });
  it("same collateral: nearest courtesy deadline first, none last; then the larger lot; then the address", () => {
    const a = c("0x00000000000000000000000000000000000000a1", 120, 5000, 1n);
    const b = c("0x00000000000000000000000000000000000000a2", 120, 4000, 1n);
    const none = c("0x00000000000000000000000000000000000000a3", 120, null, 5n);
    const big = c("0x00000000000000000000000000000000000000a4", 120, 5000, 3n);
    const twinHigh = c("0x00000000000000000000000000000000000000Fe", 120, 5000, 1n);
    const twinLow = c("0x000000000000000000000000000000000000009F", 120, 5000, 1n);
    const want = [b, big, twinLow, a, twinHigh, none].map((x) => x.address);
    for (const input of [[a, b, none, big, twinHigh, twinLow], [twinLow, twinHigh, big, none, b, a]]) {
      expect([...input].sort(byRisk).map((x) => x.address)).toEqual(want);
    }
    expect(byRisk(a, { ...a })).toBe(0);
    expect(byRisk(twinHigh, twinLow)).toBe(1);
    expect(byRisk(twinLow, twinHigh)).toBe(-1);
    expect(byRisk(a, { ...a, address: a.address.toUpperCase().replace("0X", "0x") })).toBe(0);
  });
  it("totals: what was spent and what is left", () => {
    const p = planRedemptions([dep(1n, 120), dep(2n, 121)], 5n * TBTC, policy);
    const spent = TBTC + signerFee(1n) + 2n * TBTC + signerFee(2n);
    expect(p.totalCostTbtc).toBe(spent);
    expect(p.remainingTbtc).toBe(5n * TBTC - spent);
    expect(p.availableTbtc).toBe(5n * TBTC);
  });
  it("a deposit without a path and no reason given is skipped by its state", () => {
    const p = planRedemptions([dep(1n, 100, { state: State.REDEEMED, path: null })], wallet, policy);
    expect(p.skipped.map((x) => x.reason)).toEqual(["state REDEEMED cannot be redeemed"]);
  });
});

describe("outputValueBytes8LE", () => {
  it("takes exactly the 8-byte range", () => {
    expect(outputValueBytes8LE(0n)).toBe("0x0000000000000000");
    expect(outputValueBytes8LE((1n << 64n) - 1n)).toBe("0xffffffffffffffff");
    expect(() => outputValueBytes8LE(1n << 64n)).toThrow(`output value ${1n << 64n} does not fit 8 bytes`);
    expect(() => outputValueBytes8LE(-1n)).toThrow("output value -1 does not fit 8 bytes");
  });
  it("encodes little-endian", () => {
    expect(outputValueBytes8LE(1n)).toBe("0x0100000000000000");
    expect(outputValueBytes8LE(99_990_000n)).toBe("0xf0b9f50500000000"); // 0x05f5b9f0
    expect(outputValueBytes8LE(0x0102030405060708n)).toBe("0x0807060504030201");
    expect(() => outputValueBytes8LE(-1n)).toThrow();
  });
});

describe("redemption ABI fragments match the tBTC v1.1.0 / keep-ecdsa 1.2.1 artifacts", () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const artifact = (pkg: string, name: string) => new Interface(require(`@keep-network/${pkg}/artifacts/${name}.json`).abi);
  const same = (ours: Interface, theirs: Interface) => {
    ours.forEachFunction((f) => expect(theirs.getFunction(f.name)?.selector, f.name).toBe(f.selector));
    ours.forEachEvent((e) => expect(theirs.getEvent(e.name)?.topicHash, e.name).toBe(e.topicHash));
  };
  it("Deposit, VendingMachine, TBTCSystem events, keep events, tokens", () => {
    same(depositWriteInterface, artifact("tbtc", "Deposit"));
    same(vendingMachineInterface, artifact("tbtc", "VendingMachine"));
    same(redemptionEventsInterface, artifact("tbtc", "TBTCSystem"));
    same(keepSignatureInterface, artifact("keep-ecdsa", "BondedECDSAKeep"));
    same(erc20Interface, artifact("tbtc", "TBTCToken"));
    same(erc721Interface, artifact("tbtc", "TBTCDepositToken"));
  });
});
