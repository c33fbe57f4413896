import { State } from "../abis";

/**
 * The pure half of minting one deposit: given what the chains say about it (plain numbers), the
 * next step — open the deposit, wait for the signers' key, prepare the funding transaction, start
 * the funding clock (retrieveSignerPubkey), broadcast, wait for confirmations, prove, turn the TDT
 * into TBTC — or why it stops, and what to alert. mint-flow.ts reads the facts and acts.
 *
 * Timers (TBTCConstants v1.1.0): the signing group has 3 h from createDeposit to publish its key
 * (then anyone may call notifySignerSetupFailed); the funder has 3 h from retrieveSignerPubkey to
 * prove the funding (then anyone may call notifyFundingTimedOut, and the BTC stays with the signers).
 */
export const FORMATION_TIMEOUT_SEC = 3 * 3600;
export const FUNDING_TIMEOUT_SEC = 3 * 3600;
/** Bitcoin's target block interval. */
export const BTC_BLOCK_SEC = 600;
/**
 * A funding transaction goes out only when the funding window still holds this many times the
 * average time its confirmations take (2 × 6 × 10 min = 2 h of the 3 h): a slow block run must
 * not turn it into BTC given away.
 */
export const FUNDING_TIME_MARGIN = 2;
/** Less than this left of the funding window and not yet provable: critical. */
export const FUNDING_DEADLINE_WARNING_SEC = 3600;

export type MintStep =
  /** createDeposit with the opening fee. */
  | "create"
  /** The keep has not published its key yet. */
  | "wait-signers"
  /** No key 3 h after creation: notifySignerSetupFailed (the opening fee comes back where the contract allows). */
  | "notify-setup-failed"
  /** Build, sign and journal the funding transaction (not broadcast yet). */
  | "prepare-funding"
  /** The journaled funding transaction is ready: start the funding clock. */
  | "retrieve-pubkey"
  /** Send the journaled funding transaction to the Bitcoin servers. */
  | "broadcast"
  | "wait-confirmations"
  /** Our funding (with its CPFP child, if any) sits in the mempool below the rate the blocks left need: RBF or CPFP, the cheaper (funding-bump.ts). */
  | "bump-fee"
  | "prove"
  /** ERC721 approval of exactly this TDT to the VendingMachine. */
  | "approve-tdt"
  | "tdt-to-tbtc"
  /** FAILED_SETUP with the setup fee withdrawable: withdrawFunds. */
  | "withdraw-fee"
  /** Nothing more to do: see `outcome`. */
  | "stop";

export type MintOutcome =
  | "minted"
  | "setup-failed"
  | "funding-timed-out"
  /** The window left too little time to fund: nothing was sent to Bitcoin. */
  | "window-too-short"
  /** The deposit's address has Bitcoin history that is not our funding transaction: never funded by us. */
  | "foreign-funding"
  /** The TDT is neither ours nor the VendingMachine's, or the deposit left ACTIVE before the mint. */
  | "not-mintable";

export interface MintFacts {
  /** The deposit exists (its createDeposit is mined and its address known). */
  created: boolean;
  state?: number;
  /** The keep's 64-byte key is published (getPublicKey). */
  keyPublished: boolean;
  /** Ethereum chain time of the head: every deadline is judged by it. */
  chainNow: number;
  /** Block time of the deposit's creation (signingGroupRequestedAt). */
  createdAt?: number;
  /** Block time of RegisteredPubkey (fundingProofTimerStart). */
  fundingTimerStart?: number;
  /** Our funding transaction for this deposit, as the mint journal records it. */
  funding?: {
    /** It was handed to a Bitcoin server at least once. */
    broadcast: boolean;
    /** undefined: no server knows it; 0: in the mempool; n: confirmations. */
    confirmations?: number;
    /** What it pays, sat/vB. */
    feeRateSatVb?: number;
  };
  /** The servers' rate for confirmation within the blocks the window leaves (asked only for a funding in the mempool). */
  marketFeeRate?: number;
  /** Transactions paying the deposit's address that are not our journaled funding. */
  foreignHistory: number;
  /** Confirmations the proof needs (the policy; the relay's work rule is checked at proof time). */
  confirmationsRequired: number;
  tdtOwner: "us" | "vending-machine" | "other";
  /** The TDT is approved to the VendingMachine (getApproved). */
  tdtApproved: boolean;
  /** withdrawableAmount() for us after a failed setup (wei). */
  withdrawableWei?: bigint;
}

export interface MintAlert {
  key: string;
  level: "info" | "warning" | "critical";
  title: string;
  text: string;
}

export interface MintDecision {
  step: MintStep;
  outcome?: MintOutcome;
  /** Chain time after which anyone may call notifySignerSetupFailed (state 1). */
  setupDeadline?: number;
  /** Chain time after which anyone may call notifyFundingTimedOut (state 2). */
  fundingDeadline?: number;
  alerts: MintAlert[];
}

/** Seconds the funding window must still hold before a funding transaction may be broadcast. */
export function fundingTimeNeeded(confirmations: number): number {
  return FUNDING_TIME_MARGIN * confirmations * BTC_BLOCK_SEC;
}

/** Blocks Bitcoin has, on average, before `deadline` with `confirmations` to gather: the fee target. */
export function fundingTargetBlocks(chainNow: number, deadline: number, confirmations: number): number {
  const blocks = Math.floor((deadline - chainNow) / BTC_BLOCK_SEC);
  return Math.max(1, blocks - confirmations);
}

export function decideMint(f: MintFacts, deposit: string): MintDecision {
  if (!f.created) return { step: "create", alerts: [] };
  switch (f.state) {
    case State.AWAITING_SIGNER_SETUP:
      return awaitingSetup(f, deposit);
    case State.AWAITING_BTC_FUNDING_PROOF:
      return awaitingFunding(f, deposit);
    case State.FAILED_SETUP:
      return failedSetup(f, deposit);
    case State.ACTIVE:
      return active(f, deposit);
    default:
      return afterActive(f, deposit);
  }
}

function awaitingSetup(f: MintFacts, a: string): MintDecision {
  const setupDeadline = f.createdAt === undefined ? undefined : f.createdAt + FORMATION_TIMEOUT_SEC;
  const d: MintDecision = { step: "wait-signers", setupDeadline, alerts: [] };
  if (f.keyPublished) {
    // Someone else's BTC at the address would be proven against our deposit as an overfunding.
    if (f.foreignHistory > 0 && !f.funding) return foreign(d, f, a);
    d.step = f.funding ? "retrieve-pubkey" : "prepare-funding";
    return d;
  }
  if (setupDeadline !== undefined && f.chainNow > setupDeadline) {
    d.step = "notify-setup-failed";
    d.alerts.push({ key: `setup-failed:${a}`, level: "warning", title: "signer setup failed", text: `${a}: the signing group published no key within 3 h of the deposit's creation; calling notifySignerSetupFailed to recover the opening fee` });
  }
  return d;
}

function awaitingFunding(f: MintFacts, a: string): MintDecision {
  const fundingDeadline = f.fundingTimerStart === undefined ? undefined : f.fundingTimerStart + FUNDING_TIMEOUT_SEC;
  const d: MintDecision = { step: "wait-confirmations", fundingDeadline, alerts: [] };
  const left = fundingDeadline === undefined ? Number.POSITIVE_INFINITY : fundingDeadline - f.chainNow;
  const roomToFund = left >= fundingTimeNeeded(f.confirmationsRequired);
  const fund = f.funding;
  const seen = fund?.confirmations !== undefined;
  if (!fund || !seen) {
    if (f.foreignHistory > 0) return foreign(d, f, a);
    if (!roomToFund) {
      d.step = "stop";
      d.outcome = "window-too-short";
      d.alerts.push({
        key: `window-too-short:${a}`, level: "critical", title: "funding window too short",
        text: `${a}: ${Math.max(0, Math.floor(left / 60))} min are left of the 3 h funding window, less than the ${Math.floor(fundingTimeNeeded(f.confirmationsRequired) / 60)} min ${f.confirmationsRequired} confirmations need with margin; no funding transaction ${fund ? "is broadcast again" : "is sent"} (the deposit will time out; only the opening fee is lost)`,
      });
      return d;
    }
    d.step = fund ? "broadcast" : "prepare-funding";
    return d;
  }
  const confirmations = fund.confirmations!;
  const stuck = confirmations === 0 && left >= 0 && fund.feeRateSatVb !== undefined && f.marketFeeRate !== undefined && fund.feeRateSatVb < f.marketFeeRate;
  if (confirmations >= f.confirmationsRequired) {
    d.step = "prove";
  } else {
    if (stuck) d.step = "bump-fee";
    if (left < 0) {
      d.alerts.push({ key: `funding-timeout:${a}`, level: "critical", title: "funding window closed", text: `${a}: the 3 h funding window ended with the funding transaction at ${confirmations} confirmation(s); anyone may now call notifyFundingTimedOut and the BTC would stay with the signers` });
    } else if (left < FUNDING_DEADLINE_WARNING_SEC) {
      d.alerts.push({ key: `funding-deadline:${a}`, level: "critical", title: "funding window about to close", text: `${a}: ${Math.ceil(left / 60)} min left of the 3 h funding window and the funding transaction has ${confirmations} of ${f.confirmationsRequired} confirmations` });
    }
  }
  if (f.foreignHistory > 0) d.alerts.push({ key: `foreign-funding:${a}`, level: "warning", title: "other payments to the deposit address", text: `${a}: ${f.foreignHistory} transaction(s) other than ours pay the deposit's address; only ours is proven` });
  return d;
}

function failedSetup(f: MintFacts, a: string): MintDecision {
  const d: MintDecision = { step: "stop", alerts: [] };
  if (f.funding?.broadcast) {
    d.outcome = "funding-timed-out";
    d.alerts.push({
      key: `funded-then-failed:${a}`, level: "critical", title: "deposit closed after we funded it",
      text: `${a}: the deposit is FAILED_SETUP (notifyFundingTimedOut) although our funding transaction was broadcast; the BTC is with the signers. As the TDT holder you may ask for it back: keepctl mint --abort ${a} --btc-address <your address> (requestFunderAbort; the signers are not obliged to pay)`,
    });
    return d;
  }
  d.outcome = "setup-failed";
  if ((f.withdrawableWei ?? 0n) > 0n && f.tdtOwner === "us") d.step = "withdraw-fee";
  return d;
}

function active(f: MintFacts, a: string): MintDecision {
  if (f.tdtOwner === "vending-machine") return { step: "stop", outcome: "minted", alerts: [] };
  if (f.tdtOwner === "other") return notMintable(a, "its TDT belongs to another account");
  return { step: f.tdtApproved ? "tdt-to-tbtc" : "approve-tdt", alerts: [] };
}

function afterActive(f: MintFacts, a: string): MintDecision {
  // The VendingMachine holds the TDT of every deposit it minted for: what happens later is a redemption's business.
  if (f.tdtOwner === "vending-machine") return { step: "stop", outcome: "minted", alerts: [] };
  return notMintable(a, `it is in state ${f.state} and only an ACTIVE deposit can be turned into TBTC`);
}

function notMintable(a: string, why: string): MintDecision {
  return { step: "stop", outcome: "not-mintable", alerts: [{ key: `not-mintable:${a}`, level: "warning", title: "deposit cannot be minted", text: `${a}: ${why}` }] };
}

function foreign(d: MintDecision, f: MintFacts, a: string): MintDecision {
  d.step = "stop";
  d.outcome = "foreign-funding";
  d.alerts.push({ key: `foreign-funding:${a}`, level: "critical", title: "deposit address already paid", text: `${a}: ${f.foreignHistory} Bitcoin transaction(s) not journaled by keepctl already pay the deposit's address; it is never funded again (an overfunded deposit's excess goes to whoever redeems it)` });
  return d;
}
