import { describe, expect, it } from "vitest";
import { depositStage, type DepositStageFacts } from "../../src/lib/tbtc/mint/deposit-stage";

/**
 * `keepctl deposits`' stage of a minting deposit, against the tBTC v1.1.0 state numbers
 * (DepositStates.States: 0 START … 11 LIQUIDATED) and the two 3 h timers (TBTCConstants:
 * signingGroupFormationTimeout and fundingTimeout, 10 800 s each).
 */
const S = { START: 0, AWAITING_SIGNER_SETUP: 1, AWAITING_BTC_FUNDING_PROOF: 2, FAILED_SETUP: 3, ACTIVE: 4, REDEEMED: 7, COURTESY_CALL: 8, LIQUIDATED: 11 };
const base: DepositStageFacts = { state: S.AWAITING_SIGNER_SETUP, keyPublished: false, fundingJournaled: false, fundingBroadcast: false, psbtPending: false, tdtOwner: "us", tdtApproved: false };
const stage = (o: Partial<DepositStageFacts>) => depositStage({ ...base, ...o });

describe("depositStage", () => {
  it("no deposit yet, or START: opening, live", () => {
    expect(stage({ state: undefined })).toEqual({ stage: "opening", live: true, signerSetupDeadline: undefined, fundingDeadline: undefined });
    expect(stage({ state: S.START }).stage).toBe("opening");
  });
  it("awaiting signer setup: no key, the key, a PSBT out, the funding journaled", () => {
    expect(stage({}).stage).toBe("awaiting-signers");
    expect(stage({ keyPublished: true }).stage).toBe("key-published");
    expect(stage({ keyPublished: true, psbtPending: true }).stage).toBe("awaiting-psbt");
    expect(stage({ keyPublished: true, fundingJournaled: true }).stage).toBe("funding-prepared");
    expect(stage({ keyPublished: true, fundingJournaled: true, psbtPending: true }).stage).toBe("funding-prepared");
    // A journaled funding without a key cannot happen in the flow; the key decides.
    expect(stage({ keyPublished: false, fundingJournaled: true }).stage).toBe("awaiting-signers");
    for (const o of [{}, { keyPublished: true }, { keyPublished: true, fundingJournaled: true }]) expect(stage(o).live).toBe(true);
  });
  it("awaiting the funding proof: broadcast or not", () => {
    expect(stage({ state: S.AWAITING_BTC_FUNDING_PROOF, keyPublished: true, fundingJournaled: true }).stage).toBe("funding-clock-started");
    expect(stage({ state: S.AWAITING_BTC_FUNDING_PROOF, keyPublished: true }).stage).toBe("funding-clock-started");
    const b = stage({ state: S.AWAITING_BTC_FUNDING_PROOF, keyPublished: true, fundingJournaled: true, fundingBroadcast: true });
    expect(b.stage).toBe("funding-broadcast");
    expect(b.live).toBe(true);
  });
  it("failed setup: before our broadcast it cost the fee; after it, the funding timed out", () => {
    expect(stage({ state: S.FAILED_SETUP })).toMatchObject({ stage: "setup-failed", live: false });
    expect(stage({ state: S.FAILED_SETUP, fundingJournaled: true })).toMatchObject({ stage: "setup-failed", live: false });
    expect(stage({ state: S.FAILED_SETUP, fundingJournaled: true, fundingBroadcast: true })).toMatchObject({ stage: "funding-timed-out", live: false });
  });
  it("active and later: where the TDT is", () => {
    for (const state of [S.ACTIVE, S.COURTESY_CALL, S.REDEEMED, S.LIQUIDATED]) {
      expect(stage({ state, tdtOwner: "us" })).toMatchObject({ stage: "proven", live: true });
      expect(stage({ state, tdtOwner: "us", tdtApproved: true })).toMatchObject({ stage: "tdt-approved", live: true });
      expect(stage({ state, tdtOwner: "vending-machine" })).toMatchObject({ stage: "minted", live: false });
      expect(stage({ state, tdtOwner: "vending-machine", tdtApproved: true }).stage).toBe("minted");
      expect(stage({ state, tdtOwner: "other", tdtApproved: true })).toMatchObject({ stage: "tdt-elsewhere", live: false });
    }
  });
  it("deadlines: creation + 10 800 s and the funding clock's start + 10 800 s, in chain time", () => {
    const v = stage({ createdAt: 1_600_000_000, fundingTimerStart: 1_600_001_234 });
    expect(v.signerSetupDeadline).toBe(1_600_010_800);
    expect(v.fundingDeadline).toBe(1_600_012_034);
    expect(stage({ createdAt: 0 }).signerSetupDeadline).toBe(10_800);
    expect(stage({ fundingTimerStart: 0 }).fundingDeadline).toBe(10_800);
    expect(stage({}).fundingDeadline).toBeUndefined();
  });
});
