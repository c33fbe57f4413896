import { State } from "../abis";

/**
 * The pure half of following a redemption to its end on Bitcoin: given what the chains say about
 * one deposit in redemption (plain numbers), decide the next step — hand the keep's signature to
 * the deposit, broadcast a signed version, prove a confirmed one, raise the fee, or wait — and
 * what to alert. The pass (follow.ts) reads, acts through the journaled sender, and broadcasts.
 *
 * Timers (TBTCConstants, all from the latest request, reset by every fee increase): signature by
 * +2 h (state 5), fee increase allowed from +4 h (state 6), proof by +6 h (state 6).
 */
export const SIGNATURE_TIMEOUT_SEC = 2 * 3600;
export const INCREASE_FEE_TIMER_SEC = 4 * 3600;
export const PROOF_TIMEOUT_SEC = 6 * 3600;
/** Bitcoin's target block interval: how chain time left converts into blocks. */
export const BTC_BLOCK_SEC = 600;
/** Below this output value the contract clamps the fee while still signing the unclamped value (§1.3): never ask for it. */
export const MINIMUM_UTXO_VALUE_SATS = 2000n;
/** Less chain time than this before the proof deadline, and nothing provable: critical. */
export const DEADLINE_WARNING_SEC = 3600;

export interface FollowVersion {
  /** 0: the request; k: the k-th fee increase. */
  index: number;
  /** Cumulative fee of this version (`_requestedFee`). */
  feeSats: bigint;
  /** The keep signed this version's digest (SignatureSubmitted): its Bitcoin transaction exists. */
  signed: boolean;
  /** The deposit accepted the signature (GotRedemptionSignature). */
  provided: boolean;
  /** Display txid of the signed transaction, when signed. */
  txid?: string;
}

/** What the Bitcoin servers say about the deposit's UTXO. */
export interface BitcoinView {
  tipHeight: number;
  /** The transaction spending the deposit's outpoint, if any server sees one (mempool or chain). */
  spender?: { txid: string; height?: number };
  /** sat/vB the servers estimate for confirmation within `targetBlocks` of this decision. */
  marketFeeRate?: number;
}

export interface FollowPolicy {
  /** Bitcoin confirmations before a proof is sent (`--btc-confirmations`). */
  confirmations: number;
  /** Most cumulative fee a fee increase may ask for (`--max-btc-fee-sats`). */
  maxFeeSats: bigint;
}

export interface FollowInput {
  deposit: string;
  state: number;
  /** Chain time of the head (Ethereum): every deadline is judged by it, never by this machine's clock. */
  chainNow: number;
  /** Block time of the latest RedemptionRequested (= the contract's withdrawalRequestTime). */
  requestedAt: number;
  utxoValueSats: bigint;
  versions: FollowVersion[];
  /** vsize of the canonical transaction (the same for every version). */
  vsize: number;
  /** undefined: no Bitcoin server configured or none answered this pass. */
  btc?: BitcoinView;
}

export type FollowStage = "requested" | "signed" | "broadcast-needed" | "in-mempool" | "confirming" | "provable" | "unknown-spender" | "ended";

export interface FollowAlert {
  key: string;
  level: "info" | "warning" | "critical";
  title: string;
  text: string;
}

export interface FollowDecision {
  stage: FollowStage;
  /** Version whose keep signature should be handed to the deposit (state 5). */
  provideSignature?: number;
  /** Version whose signed transaction should be (re)broadcast. */
  broadcast?: number;
  /** Version confirmed deeply enough to prove now. */
  prove?: number;
  /** The `increaseRedemptionFee(previous, new)` arguments (output values), and the step's journal index. */
  increaseFee?: { previousOutputSats: bigint; newOutputSats: bigint; step: number };
  /** Confirmations of the spending transaction (0 in the mempool). */
  confirmations?: number;
  /** The version that spends the UTXO on Bitcoin, when it is one of ours. */
  spentBy?: number;
  signatureDeadline: number;
  feeIncreaseFrom: number;
  proofDeadline: number;
  alerts: FollowAlert[];
}

/** Blocks Bitcoin has, on average, before `deadline` with `confirmations` still to gather: the fee target. */
export function targetBlocks(chainNow: number, deadline: number, confirmations: number): number {
  const blocks = Math.floor((deadline - chainNow) / BTC_BLOCK_SEC);
  return Math.max(1, blocks - (confirmations - 1));
}

function latestSigned(versions: readonly FollowVersion[]): FollowVersion | undefined {
  for (let i = versions.length - 1; i >= 0; i--) if (versions[i].signed) return versions[i];
  return undefined;
}

export function decideFollow(i: FollowInput, p: FollowPolicy): FollowDecision {
  const signatureDeadline = i.requestedAt + SIGNATURE_TIMEOUT_SEC;
  const feeIncreaseFrom = i.requestedAt + INCREASE_FEE_TIMER_SEC;
  const proofDeadline = i.requestedAt + PROOF_TIMEOUT_SEC;
  const d: FollowDecision = { stage: "ended", signatureDeadline, feeIncreaseFrom, proofDeadline, alerts: [] };
  if (i.state !== State.AWAITING_WITHDRAWAL_SIGNATURE && i.state !== State.AWAITING_WITHDRAWAL_PROOF) return d;
  const a = i.deposit;
  const latest = i.versions.at(-1);
  if (!latest) return { ...d, stage: "requested" };

  // The signature the deposit waits for (state 5: the request or the latest fee increase).
  if (i.state === State.AWAITING_WITHDRAWAL_SIGNATURE && latest.signed && !latest.provided) d.provideSignature = latest.index;

  const signed = latestSigned(i.versions);
  d.stage = signed ? "signed" : "requested";
  if (!i.btc) {
    if (signed) d.alerts.push({ key: `btc-unreachable:${a}`, level: "critical", title: "redemption cannot be finished on Bitcoin", text: `${a}: the signed redemption transaction cannot be broadcast or proven: no Bitcoin server configured or answering (the proof deadline is ${iso(proofDeadline)})` });
    return withDeadlineAlerts(d, i, false);
  }

  const spender = i.btc.spender;
  const ours = spender ? i.versions.find((v) => v.txid !== undefined && v.txid === spender.txid) : undefined;
  if (spender && !ours) {
    d.stage = "unknown-spender";
    d.alerts.push({ key: `unknown-spender:${a}`, level: "critical", title: "deposit UTXO spent by an unknown transaction", text: `${a}: Bitcoin tx ${spender.txid} spends the deposit's UTXO but is no signed version of this redemption (signer fraud? provideECDSAFraudProof is the remedy)` });
    return withDeadlineAlerts(d, i, false);
  }

  let provable = false;
  if (ours && spender) {
    d.spentBy = ours.index;
    const confirmations = spender.height === undefined || spender.height <= 0 ? 0 : Math.max(0, i.btc.tipHeight - spender.height + 1);
    d.confirmations = confirmations;
    if (confirmations >= p.confirmations) {
      d.stage = "provable";
      d.prove = ours.index;
      provable = true;
    } else {
      d.stage = confirmations > 0 ? "confirming" : "in-mempool";
    }
    // A newer signed version replaces one in the mempool (same input, higher fee: BIP125).
    if (confirmations === 0 && signed && signed.index > ours.index) d.broadcast = signed.index;
  } else if (signed) {
    d.stage = "broadcast-needed";
    d.broadcast = signed.index;
  }

  if (!provable && (d.confirmations ?? 0) === 0) {
    const bump = decideFeeIncrease(i, p, d);
    if (bump) d.increaseFee = bump;
  }
  return withDeadlineAlerts(d, i, provable);
}

/**
 * increaseRedemptionFee when the contract allows it (state 6, 4 h after the latest request) and the
 * transaction is unconfirmed, and either its fee rate is below the market's for the blocks left
 * before the proof deadline, or the time left is shorter than the confirmations need on average.
 * The step is always the initial fee; the new output must stay above the contract's minimum.
 */
function decideFeeIncrease(i: FollowInput, p: FollowPolicy, d: FollowDecision): FollowDecision["increaseFee"] {
  if (i.state !== State.AWAITING_WITHDRAWAL_PROOF || i.chainNow < d.feeIncreaseFrom) return undefined;
  const latest = i.versions.at(-1)!;
  const initialFee = i.versions[0].feeSats;
  const feeRate = Number(latest.feeSats) / i.vsize;
  const left = d.proofDeadline - i.chainNow;
  const market = i.btc?.marketFeeRate;
  const tooSlow = left < p.confirmations * BTC_BLOCK_SEC;
  const tooCheap = market !== undefined && feeRate < market;
  if (!tooSlow && !tooCheap) return undefined;
  const nextFee = latest.feeSats + initialFee;
  const previousOutputSats = i.utxoValueSats - latest.feeSats;
  const newOutputSats = previousOutputSats - initialFee;
  const why = tooCheap ? `its fee rate ${feeRate.toFixed(1)} sat/vB is below the market's ${market!.toFixed(1)} sat/vB` : `${Math.floor(left / 60)} min are left, less than ${p.confirmations} confirmations need`;
  if (nextFee > p.maxFeeSats) {
    d.alerts.push({ key: `btc-fee-cap:${i.deposit}`, level: "critical", title: "redemption fee at its cap", text: `${i.deposit}: the redemption transaction is unconfirmed and ${why}, but the next fee (${nextFee} sat) would exceed --max-btc-fee-sats ${p.maxFeeSats}` });
    return undefined;
  }
  if (newOutputSats < MINIMUM_UTXO_VALUE_SATS) {
    d.alerts.push({ key: `btc-fee-cap:${i.deposit}`, level: "critical", title: "redemption fee cannot rise further", text: `${i.deposit}: the next fee step would leave ${newOutputSats} sat, below the contract's minimum output of ${MINIMUM_UTXO_VALUE_SATS} sat` });
    return undefined;
  }
  return { previousOutputSats, newOutputSats, step: i.versions.length };
}

function withDeadlineAlerts(d: FollowDecision, i: FollowInput, provable: boolean): FollowDecision {
  const a = i.deposit;
  if (i.state === State.AWAITING_WITHDRAWAL_PROOF && !provable) {
    const left = d.proofDeadline - i.chainNow;
    if (left < 0) {
      d.alerts.push({ key: `proof-timeout:${a}`, level: "critical", title: "redemption proof timed out", text: `${a}: no proof within 6 h of the request; anyone may now call notifyRedemptionProofTimedOut and start the liquidation of the keep's bond (keepctl never does on its own keeps)` });
    } else if (left < DEADLINE_WARNING_SEC) {
      d.alerts.push({ key: `proof-deadline:${a}`, level: "critical", title: "redemption proof deadline near", text: `${a}: ${Math.ceil(left / 60)} min left before the 6 h proof deadline (${iso(d.proofDeadline)}) and the transaction is not provable yet` });
    }
  }
  if (i.state === State.AWAITING_WITHDRAWAL_SIGNATURE && i.chainNow > d.signatureDeadline) {
    d.alerts.push({ key: `sig-timeout:${a}`, level: "critical", title: "redemption signature timed out", text: `${a}: the keep did not sign within 2 h of the request; the signers can be liquidated (notifyRedemptionSignatureTimedOut)` });
  }
  return d;
}

function iso(t: number): string {
  return new Date(t * 1000).toISOString().replace(".000Z", "Z");
}
