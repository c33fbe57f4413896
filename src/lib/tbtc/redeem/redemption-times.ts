import { State } from "../abis";
import { REDEMPTION_PROOF_TIMEOUT_SEC, REDEMPTION_SIGNATURE_TIMEOUT_SEC } from "./redeem-abi";

/** Which of a redemption's two deadlines has passed in its current state (none: null). */
export type Overdue = "signature" | "proof" | null;

export interface RedemptionTimes {
  signatureDeadline: number;
  proofDeadline: number;
  overdue: Overdue;
}

/**
 * Pure: the deadlines that apply in `state` given the request's block time (tBTC v1.1.0: the
 * signature 2 h and the proof 6 h after the request; past one, anyone may call the matching
 * notify…TimedOut).
 */
export function redemptionTimes(state: number, requestedAt: number, now: number): RedemptionTimes {
  const signatureDeadline = requestedAt + REDEMPTION_SIGNATURE_TIMEOUT_SEC;
  const proofDeadline = requestedAt + REDEMPTION_PROOF_TIMEOUT_SEC;
  let overdue: Overdue = null;
  if (state === State.AWAITING_WITHDRAWAL_SIGNATURE && now > signatureDeadline) overdue = "signature";
  if (state === State.AWAITING_WITHDRAWAL_PROOF && now > proofDeadline) overdue = "proof";
  return { signatureDeadline, proofDeadline, overdue };
}
