import { ethers } from "ethers";
import { KeepctlError, shortMessageOf } from "../../errors";
import { getLogsChunked } from "../../chain/logs";
import { State, stateName } from "../abis";
import { depositWriteInterface, keepSignatureInterface, REDEMPTION_PROOF_TIMEOUT_SEC, REDEMPTION_SIGNATURE_TIMEOUT_SEC, SIGNATURE_SUBMITTED_TOPIC } from "./redeem-abi";
import { findRedemptionRequest, headBlock, readDepositState, type TbtcContracts } from "./redeem-facts";
import type { JournaledSender } from "./redeemer";

/**
 * After a redemption request: the keep signs the request's digest (SignatureSubmitted on the
 * keep) and anyone must hand that signature to the deposit (provideRedemptionSignature) before
 * the 2 h signature timeout. We do it. The Bitcoin proof step (provideRedemptionProof) needs
 * SPV data from the Bitcoin chain and is out of scope: we only watch its 6 h timeout.
 */
export type Overdue = "signature" | "proof" | null;

export interface RedemptionTimes {
  signatureDeadline: number;
  proofDeadline: number;
  overdue: Overdue;
}

/** Pure: the deadlines that apply in `state` given the request's block time. */
export function redemptionTimes(state: number, requestedAt: number, now: number): RedemptionTimes {
  const signatureDeadline = requestedAt + REDEMPTION_SIGNATURE_TIMEOUT_SEC;
  const proofDeadline = requestedAt + REDEMPTION_PROOF_TIMEOUT_SEC;
  let overdue: Overdue = null;
  if (state === State.AWAITING_WITHDRAWAL_SIGNATURE && now > signatureDeadline) overdue = "signature";
  if (state === State.AWAITING_WITHDRAWAL_PROOF && now > proofDeadline) overdue = "proof";
  return { signatureDeadline, proofDeadline, overdue };
}

export interface KeepSignature {
  v: number;
  r: string;
  s: string;
}

/** The keep's signature over `digest`, if it has submitted one (v = 27 + recoveryID). */
export async function findKeepSignature(provider: ethers.JsonRpcProvider, keep: string, digest: string, fromBlock: number, toBlock: number): Promise<KeepSignature | undefined> {
  const logs = await getLogsChunked(provider, { address: keep, topics: [SIGNATURE_SUBMITTED_TOPIC, digest], fromBlock, toBlock });
  const last = logs.at(-1);
  if (!last) return undefined;
  const ev = keepSignatureInterface.parseLog({ topics: [...last.topics], data: last.data })!;
  return { v: 27 + Number(ev.args.recoveryID), r: ev.args.r as string, s: ev.args.s as string };
}

export interface RedemptionProgress {
  deposit: string;
  state: string;
  digest?: string;
  requester?: string;
  requestedAt?: number;
  signatureDeadline?: number;
  proofDeadline?: number;
  overdue: Overdue;
  /** What we did this round. */
  action: "signature-submitted" | "signature-pending" | "waiting-for-signature" | "awaiting-proof" | "nothing" | "failed";
  hash?: string;
  error?: string;
}

/**
 * One step for a deposit that is being redeemed: in AWAITING_WITHDRAWAL_SIGNATURE submit the
 * keep's signature when it exists; report deadlines either way. Never throws for one deposit.
 */
export async function advanceRedemption(s: JournaledSender, c: TbtcContracts, deposit: string, now: number, opts: { dryRun?: boolean; signal?: AbortSignal } = {}): Promise<RedemptionProgress> {
  const address = ethers.getAddress(deposit);
  try {
    const state = await readDepositState(s.provider, address);
    const base: RedemptionProgress = { deposit: address, state: stateName(state), overdue: null, action: "nothing" };
    if (state !== State.AWAITING_WITHDRAWAL_SIGNATURE && state !== State.AWAITING_WITHDRAWAL_PROOF) return base;
    const head = await headBlock(s.provider);
    const req = await findRedemptionRequest(s.provider, c, address, head.number);
    if (!req) return { ...base, action: "failed", error: "no RedemptionRequested event found (is the start block too late?)" };
    const reqBlock = (await s.provider.send("eth_getBlockByNumber", [ethers.toQuantity(req.block), false])) as { timestamp: string };
    const requestedAt = Number(reqBlock.timestamp);
    const times = redemptionTimes(state, requestedAt, now);
    const info: RedemptionProgress = { ...base, digest: req.digest, requester: req.requester, requestedAt, ...times, action: state === State.AWAITING_WITHDRAWAL_PROOF ? "awaiting-proof" : "waiting-for-signature" };
    if (state === State.AWAITING_WITHDRAWAL_PROOF) return info;

    const keepRaw = await s.provider.send("eth_call", [{ to: address, data: depositWriteInterface.encodeFunctionData("keepAddress") }, "latest"]);
    const keep = depositWriteInterface.decodeFunctionResult("keepAddress", keepRaw)[0] as string;
    const sig = await findKeepSignature(s.provider, keep, req.digest, req.block, head.number);
    if (!sig) return info;
    if (opts.dryRun) return info;

    const action = `signature:${req.digest.slice(0, 18)}`;
    const key = `${address}:${action}`;
    let prior = await s.settle(address, action);
    // The deposit still waits for a signature (read above), so a journaled "mined" is not a chain
    // fact: a reorg took it back. Looked for everywhere; if gone, the same bytes are sent again.
    if (prior.status === "mined") prior = await s.sender.verifyMined(key);
    if (prior.status === "mined") return { ...info, action: "signature-pending" };
    if (prior.status === "pending") return { ...info, action: "signature-pending" };
    // Someone else may have submitted it meanwhile: that is fine, it is the same signature.
    if ((await readDepositState(s.provider, address)) !== State.AWAITING_WITHDRAWAL_SIGNATURE) return { ...info, action: "awaiting-proof" };
    const data = depositWriteInterface.encodeFunctionData("provideRedemptionSignature", [sig.v, sig.r, sig.s]);
    try {
      const res = await s.send(address, action, { to: address, data, abi: depositWriteInterface }, { meta: { digest: req.digest } });
      if (res.status === "pending") return { ...info, action: "signature-pending" };
      return { ...info, action: "signature-submitted", hash: res.status === "mined" ? res.hash : undefined };
    } catch (e) {
      if ((await readDepositState(s.provider, address)) === State.AWAITING_WITHDRAWAL_PROOF) {
        s.journal.recordSkipped(key, "signature provided by someone else");
        return { ...info, action: "awaiting-proof" };
      }
      throw e;
    }
  } catch (e) {
    return { deposit: address, state: "UNKNOWN", overdue: null, action: "failed", error: e instanceof KeepctlError ? e.message : shortMessageOf(e) };
  }
}
