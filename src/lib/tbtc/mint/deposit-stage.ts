import { State } from "../abis";
import { FORMATION_TIMEOUT_SEC, FUNDING_TIMEOUT_SEC } from "./mint-decide";

/**
 * Where one of the operator's minting deposits stands, for `keepctl deposits`: the Deposit
 * contract's state joined with what the mint journal knows (a funding transaction journaled,
 * broadcast, a PSBT out) and the TDT's owner. Pure: plain facts in, a stage and the deadlines out.
 */
export type DepositStage =
  /** createDeposit not mined yet (no deposit address in the journal). */
  | "opening"
  /** AWAITING_SIGNER_SETUP, the keep has not published its key. */
  | "awaiting-signers"
  /** The key is published; no funding transaction journaled yet. */
  | "key-published"
  /** The funding transaction went out as a PSBT and waits for the cold signer. */
  | "awaiting-psbt"
  /** The funding transaction is journaled; the funding clock has not started. */
  | "funding-prepared"
  /** AWAITING_BTC_FUNDING_PROOF, our funding not broadcast yet (or none journaled). */
  | "funding-clock-started"
  /** AWAITING_BTC_FUNDING_PROOF, our funding handed to the Bitcoin servers. */
  | "funding-broadcast"
  /** ACTIVE (or later), the TDT still ours, not approved. */
  | "proven"
  /** The TDT approved to the VendingMachine, tdtToTbtc not mined yet. */
  | "tdt-approved"
  /** The TDT is the VendingMachine's: the TBTC was minted. */
  | "minted"
  /** FAILED_SETUP before any funding of ours was broadcast. */
  | "setup-failed"
  /** FAILED_SETUP after our funding was broadcast (notifyFundingTimedOut): the BTC is with the signers. */
  | "funding-timed-out"
  /** ACTIVE or later with the TDT held by someone else. */
  | "tdt-elsewhere";

export interface DepositStageFacts {
  /** undefined: the deposit is not known yet (createDeposit not mined). */
  state?: number;
  keyPublished: boolean;
  createdAt?: number;
  fundingTimerStart?: number;
  fundingJournaled: boolean;
  fundingBroadcast: boolean;
  psbtPending: boolean;
  tdtOwner: "us" | "vending-machine" | "other";
  tdtApproved: boolean;
}

export interface DepositStageView {
  stage: DepositStage;
  /** createdAt + 3 h: after it anyone may call notifySignerSetupFailed (while no key is published). */
  signerSetupDeadline?: number;
  /** retrieveSignerPubkey's time + 3 h: after it anyone may call notifyFundingTimedOut. */
  fundingDeadline?: number;
  /** True while the deposit can still change on our account (not minted, not failed). */
  live: boolean;
}

export function depositStage(f: DepositStageFacts): DepositStageView {
  const signerSetupDeadline = f.createdAt === undefined ? undefined : f.createdAt + FORMATION_TIMEOUT_SEC;
  const fundingDeadline = f.fundingTimerStart === undefined ? undefined : f.fundingTimerStart + FUNDING_TIMEOUT_SEC;
  const stage = stageOf(f);
  const live = stage !== "minted" && stage !== "setup-failed" && stage !== "funding-timed-out" && stage !== "tdt-elsewhere";
  return { stage, signerSetupDeadline, fundingDeadline, live };
}

function stageOf(f: DepositStageFacts): DepositStage {
  if (f.state === undefined || f.state === State.START) return "opening";
  if (f.state === State.FAILED_SETUP) return f.fundingBroadcast ? "funding-timed-out" : "setup-failed";
  if (f.state === State.AWAITING_SIGNER_SETUP) {
    if (!f.keyPublished) return "awaiting-signers";
    if (f.fundingJournaled) return "funding-prepared";
    return f.psbtPending ? "awaiting-psbt" : "key-published";
  }
  if (f.state === State.AWAITING_BTC_FUNDING_PROOF) return f.fundingBroadcast ? "funding-broadcast" : "funding-clock-started";
  if (f.tdtOwner === "vending-machine") return "minted";
  if (f.tdtOwner === "other") return "tdt-elsewhere";
  return f.tdtApproved ? "tdt-approved" : "proven";
}
