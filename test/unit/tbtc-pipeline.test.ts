import { describe, expect, it } from "vitest";
import { ExitCode, InsufficientFundsError, RevertError } from "../../src/lib/errors";
import { planRedemptions, State, type Candidate } from "../../src/lib/tbtc/redeem/planner";
import { outcomeAlerts, outcomeExitCode, shortfallAlerts, shortfallError, shortfallTbtc } from "../../src/lib/tbtc/redeem/pipeline";
import type { RedemptionOutcome } from "../../src/lib/tbtc/redeem/redeemer";

const TBTC = 10n ** 18n;
const policy = { redeemBelowPct: 130, feeSats: 10_000n };
function cand(address: string, collateralPct: number, costBtc: bigint): Candidate {
  return { address, state: State.ACTIVE, lotSats: costBtc * 100_000_000n, utxoSats: costBtc * 100_000_000n, collateralPct, courtesyDeadline: null, costTbtc: costBtc * TBTC, path: "vending-machine" };
}
const out = (deposit: string, status: RedemptionOutcome["status"], extra: Partial<RedemptionOutcome> = {}): RedemptionOutcome => ({ deposit, path: "vending-machine", status, ...extra });

describe("the pipeline's shortfall (what one-shot redeem and the watch loop alert)", () => {
  it("plans what the balance covers and alerts the shortfall of the rest", () => {
    const plan = planRedemptions([cand("0xa", 120, 5n), cand("0xb", 115, 5n), cand("0xc", 125, 1n)], 7n * TBTC, policy);
    expect(plan.funded.map((f) => f.address)).toEqual(["0xb", "0xc"]);
    expect(shortfallTbtc(plan)).toBe(4n * TBTC);
    const [a] = shortfallAlerts(plan);
    expect(a).toMatchObject({ key: "tbtc-short", level: "critical", title: "not enough TBTC to redeem" });
    expect(a.text).toMatch(/^1 at-risk deposit\(s\) cannot be redeemed: 4\.0000 TBTC short \(0xa\)$/);
  });

  it("nothing unfunded: no alert, no error", () => {
    const plan = planRedemptions([cand("0xa", 120, 5n)], 5n * TBTC, policy);
    expect(plan.funded).toHaveLength(1);
    expect(shortfallAlerts(plan)).toEqual([]);
    expect(shortfallError(plan)).toBeUndefined();
    expect(shortfallTbtc(plan)).toBe(0n);
  });

  it("a one-shot run that can fund nothing ends with a funds error naming the amount", () => {
    const plan = planRedemptions([cand("0xa", 120, 5n), cand("0xb", 110, 3n)], 1n * TBTC, policy);
    const e = shortfallError(plan)!;
    expect(e).toBeInstanceOf(InsufficientFundsError);
    expect(e.exitCode).toBe(ExitCode.FUNDS);
    expect(e.message).toBe("not enough TBTC: 2 deposit(s) need 2.0 TBTC more at least");
  });
});

describe("outcomeAlerts", () => {
  it("maps outcomes to levels and keys", () => {
    const a = outcomeAlerts([out("0xa", "requested", { hash: "0x1" }), out("0xb", "failed", { reason: "boom" }), out("0xc", "lost-race", { reason: "someone else" }), out("0xd", "pending"), out("0xe", "deferred")]);
    expect(a.map((x) => [x.key, x.level])).toEqual([
      ["redeemed:0xa", "info"],
      ["redeem-failed:0xb", "critical"],
      ["redeem-race:0xc", "warning"],
      ["redeem-pending:0xd", "warning"],
      ["redeem-deferred:0xe", "warning"],
    ]);
    expect(a[1].text).toContain("boom");
  });
});

describe("outcomeExitCode", () => {
  it("a failure's own code first, then deferred (4), pending (9), unfunded (6); done is undefined", () => {
    const revert = new RevertError("reverted");
    expect(outcomeExitCode([out("0xa", "pending"), out("0xb", "failed", { error: revert })])).toBe(ExitCode.REVERT);
    expect(outcomeExitCode([out("0xa", "failed")])).toBe(ExitCode.INTERNAL);
    expect(outcomeExitCode([out("0xa", "pending"), out("0xb", "deferred")])).toBe(ExitCode.RPC);
    expect(outcomeExitCode([out("0xa", "pending")], { unfunded: true })).toBe(ExitCode.TX_PENDING);
    expect(outcomeExitCode([out("0xa", "requested")], { signaturePending: true })).toBe(ExitCode.TX_PENDING);
    expect(outcomeExitCode([out("0xa", "requested")], { unfunded: true })).toBe(ExitCode.FUNDS);
    expect(outcomeExitCode([out("0xa", "requested"), out("0xb", "lost-race"), out("0xc", "already-requested")])).toBeUndefined();
  });
});
