import { ethers } from "ethers";
import { ExitCode, KeepctlError, RevertError, shortMessageOf } from "../../errors";
import { AccountConflictError } from "../../chain/nonce";
import { State, stateName } from "../abis";
import { buildSignedRedemptionTx, RedemptionTxError, type SignedRedemptionTx } from "./btc-redemption-tx";
import { decideFollow, targetBlocks, type FollowAlert, type FollowDecision, type FollowPolicy, type FollowStage, type FollowVersion } from "./follow-decide";
import { checkRedemptionProof, headersNeeded, TX_PROOF_DIFFICULTY_FACTOR, type ProofVectors } from "./proof-check";
import { depositWriteInterface } from "./redeem-abi";
import { outputValueBytes8LE } from "./planner";
import { readRedemptionHistories, type HistoryCache, type HistoryTarget, type RedemptionHistory } from "./redemption-history";
import type { JournaledSender } from "./redeemer";

/**
 * One pass of following every redemption of a set of deposits to its end, whoever requested it:
 * the keep's signature handed to the deposit, the signed Bitcoin transaction rebuilt from
 * Ethereum events and broadcast (again when it drops out), the proof built from the Bitcoin
 * servers, checked locally with tBTC's rules and sent once the confirmations are there, the fee
 * raised when the transaction is stuck. Decisions are follow-decide.ts's; every Ethereum action
 * goes through the one journaled sender under a stable key (`${deposit}:redemption-proof`,
 * `${deposit}:fee-increase:<k>`, `${deposit}:signature:<digest>`), so a crash never sends one twice;
 * a Bitcoin broadcast is the same bytes every time and needs no journal.
 */

/** What the follow-up needs from Bitcoin (lib/btc's client, behind a thin adapter). */
export interface RedemptionBitcoin {
  tipHeight(): Promise<number>;
  /** The transaction spending `txid:vout` (display txid) in the mempool or the best chain; `spentScript` is that output's script (hex, no length byte). */
  spender(txid: string, vout: number, spentScript: string): Promise<{ txid: string; height?: number } | undefined>;
  /** sat/vB for confirmation within `targetBlocks`; undefined when no server estimates. */
  feeRate(targetBlocks: number): Promise<number | undefined>;
  /** To every server; accepted when any took it (or already had it). */
  broadcast(raw: string): Promise<{ accepted: boolean; detail: string }>;
  /**
   * Verified SPV parts of a confirmed transaction with headers from its block (as many as the chain
   * has up to `max`, at least `min`) and each header's difficulty; undefined while fewer than `min`.
   */
  proof(txid: string, outputScript: string, headers: { min: number; max: number }, rawTx: string): Promise<BitcoinProof | undefined>;
}

export interface BitcoinProof {
  version: string;
  inputVector: string;
  outputVector: string;
  locktime: string;
  merkleProof: string;
  indexInBlock: number;
  /** 80-byte headers (hex), the transaction's block first. */
  headers: string[];
  difficulties: bigint[];
}

export type FollowAction =
  | "nothing"
  | "waiting-for-signature"
  | "signature-submitted"
  | "signature-pending"
  | "broadcast"
  | "broadcast-failed"
  | "in-mempool"
  | "confirming"
  | "waiting-for-work"
  | "proof-submitted"
  | "proof-pending"
  | "proof-refused"
  | "proven-by-other"
  | "fee-increased"
  | "fee-increase-pending"
  | "fee-increase-lost-race"
  | "awaiting-proof"
  | "failed";

export interface FollowReport {
  deposit: string;
  state: string;
  stage: FollowStage;
  requester?: string;
  digest?: string;
  requestedAt?: number;
  signatureDeadline?: number;
  feeIncreaseFrom?: number;
  proofDeadline?: number;
  /** Fee increases so far (versions − 1). */
  feeIncreases: number;
  feeSats?: bigint;
  feeRateSatVb?: number;
  marketFeeRate?: number;
  /** The Bitcoin transaction of the version that spends the UTXO, else the latest signed one. */
  btcTxid?: string;
  confirmations?: number;
  /** What this pass did, in order. */
  actions: FollowAction[];
  /** The most significant of them (what one line says). */
  action: FollowAction;
  hash?: string;
  redeemedTxid?: string;
  alerts: FollowAlert[];
  error?: string;
}

export interface FollowDeps {
  provider: ethers.JsonRpcProvider;
  /** undefined: report only (`keepctl redemptions`, watch without a key): nothing is sent or broadcast. */
  sender?: JournaledSender;
  system: string;
  bitcoin?: RedemptionBitcoin;
  policy: FollowPolicy;
  dryRun?: boolean;
  logChunkSize?: number;
  /** Events read by earlier passes (watch keeps one for its life). */
  historyCache?: HistoryCache;
  /** A broadcast or a step worth a line; the caller renders it. */
  onNote?: (deposit: string, text: string) => void;
}

const RELAY_ABI = new ethers.Interface(["function fetchRelayCurrentDifficulty() view returns (uint256)", "function fetchRelayPreviousDifficulty() view returns (uint256)"]);
const FEE_ABI = new ethers.Interface(["function increaseRedemptionFee(bytes8 _previousOutputValueBytes, bytes8 _newOutputValueBytes)", "function provideRedemptionProof(bytes4 _txVersion, bytes _txInputVector, bytes _txOutputVector, bytes4 _txLocktime, bytes _merkleProof, uint256 _txIndexInBlock, bytes _bitcoinHeaders)"]);
const IN_REDEMPTION = new Set<number>([State.AWAITING_WITHDRAWAL_SIGNATURE, State.AWAITING_WITHDRAWAL_PROOF]);
/** Headers asked for beyond the confirmations, so a proof across a retarget has the work it needs. */
const EXTRA_HEADERS = 4;

/** Follows the redemptions of `targets` that are in progress (states 5 and 6); reports every one found. */
export async function followRedemptions(d: FollowDeps, targets: readonly HistoryTarget[], head: { number: number; timestamp: number }): Promise<FollowReport[]> {
  const histories = await readRedemptionHistories(d.provider, d.system, targets, head.number, { logChunkSize: d.logChunkSize, cache: d.historyCache });
  const live = histories.filter((h) => IN_REDEMPTION.has(h.state));
  if (!live.length) return histories.map((h) => endedReport(h));
  return Promise.all(histories.map((h) => (IN_REDEMPTION.has(h.state) ? followOne(d, h, head.timestamp).catch((e) => failedReport(h, e)) : Promise.resolve(endedReport(h)))));
}

function endedReport(h: RedemptionHistory): FollowReport {
  const latest = h.versions.at(-1);
  return {
    deposit: h.deposit, state: stateName(h.state), stage: "ended", requester: h.versions[0]?.requester, digest: latest?.digest, requestedAt: latest?.requestedAt,
    feeIncreases: Math.max(0, h.versions.length - 1), feeSats: latest?.feeSats, redeemedTxid: h.redeemed ? reverseHex(h.redeemed.txidLE) : undefined, actions: [], action: "nothing", alerts: [],
  };
}

function failedReport(h: RedemptionHistory, e: unknown): FollowReport {
  if (e instanceof AccountConflictError) throw e;
  return { ...endedReport(h), stage: "requested", action: "failed", actions: ["failed"], error: e instanceof KeepctlError ? e.message : shortMessageOf(e) };
}

interface Signed {
  version: FollowVersion;
  tx?: SignedRedemptionTx;
}

async function followOne(d: FollowDeps, h: RedemptionHistory, chainNow: number): Promise<FollowReport> {
  const latest = h.versions.at(-1)!;
  const alerts: FollowAlert[] = [];
  // Every signed version's transaction, rebuilt and checked (a tx that does not verify never leaves).
  const signed: Signed[] = h.versions.map((v) => {
    const version: FollowVersion = { index: v.index, feeSats: v.feeSats, signed: false, provided: v.provided };
    if (!v.signature || !h.signerPubkey64) return { version };
    try {
      const tx = buildSignedRedemptionTx({ outpoint: h.outpoint, utxoValueSats: h.utxoValueSats, redeemerScript: h.redeemerScript, feeSats: v.feeSats, signerPubkey64: h.signerPubkey64 }, v.digest, v.signature);
      return { version: { ...version, signed: true, txid: tx.txid }, tx };
    } catch (e) {
      if (!(e instanceof RedemptionTxError)) throw e;
      alerts.push({ key: `bad-signature:${h.deposit}:${v.index}`, level: "critical", title: "redemption signature unusable", text: `${h.deposit}: version ${v.index}'s signature gives no valid Bitcoin transaction: ${e.message}` });
      return { version };
    }
  });
  const vsize = signed.find((s) => s.tx)?.tx?.vsize ?? 110;
  const anySigned = signed.some((s) => s.tx);

  // Bitcoin is asked only when there is a transaction to follow; a fee estimate only when a raise is possible.
  let btcView: Parameters<typeof decideFollow>[0]["btc"];
  if (d.bitcoin && anySigned) {
    try {
      btcView = await readBitcoinView(d.bitcoin, h, chainNow, d.policy, latest.requestedAt);
    } catch (e) {
      alerts.push({ key: `btc-read:${h.deposit}`, level: "warning", title: "Bitcoin servers failing", text: `${h.deposit}: could not read the redemption's Bitcoin side: ${e instanceof KeepctlError ? e.message : shortMessageOf(e)}` });
    }
  }
  const decision = decideFollow({ deposit: h.deposit, state: h.state, chainNow, requestedAt: latest.requestedAt, utxoValueSats: h.utxoValueSats, versions: signed.map((s) => s.version), vsize, btc: btcView }, d.policy);
  // "no Bitcoin server" is a fact about configuration when none is configured; a read failure says so itself.
  if (btcView === undefined && d.bitcoin && anySigned) decision.alerts = decision.alerts.filter((a) => !a.key.startsWith("btc-unreachable:"));
  const shown = signed[decision.spentBy ?? -1]?.tx ?? [...signed].reverse().find((s) => s.tx)?.tx;
  const report: FollowReport = {
    deposit: h.deposit, state: stateName(h.state), stage: decision.stage, requester: h.versions[0].requester, digest: latest.digest, requestedAt: latest.requestedAt,
    signatureDeadline: decision.signatureDeadline, feeIncreaseFrom: decision.feeIncreaseFrom, proofDeadline: decision.proofDeadline,
    feeIncreases: h.versions.length - 1, feeSats: latest.feeSats, feeRateSatVb: Number(latest.feeSats) / vsize, marketFeeRate: btcView?.marketFeeRate,
    btcTxid: shown?.txid, confirmations: decision.confirmations, actions: [], action: "nothing", alerts: [...alerts, ...decision.alerts],
  };
  const act = (a: FollowAction, hash?: string) => {
    report.actions.push(a);
    report.action = a;
    if (hash) report.hash = hash;
  };
  if (decision.stage === "in-mempool") act("in-mempool");
  if (decision.stage === "confirming") act("confirming");
  if (decision.stage === "requested") act(h.state === State.AWAITING_WITHDRAWAL_SIGNATURE ? "waiting-for-signature" : "awaiting-proof");

  const s = d.sender;
  const canAct = !!s && !d.dryRun;
  if (decision.provideSignature !== undefined && canAct) await provideSignature(s!, h, decision.provideSignature, act);
  if (decision.broadcast !== undefined && d.bitcoin && canAct) {
    const tx = signed[decision.broadcast].tx!;
    const r = await d.bitcoin.broadcast(tx.raw);
    act(r.accepted ? "broadcast" : "broadcast-failed");
    report.btcTxid = tx.txid;
    d.onNote?.(h.deposit, r.accepted ? `broadcast Bitcoin tx ${tx.txid} (version ${decision.broadcast}, ${tx.feeRateSatVb.toFixed(1)} sat/vB)` : `broadcast of Bitcoin tx ${tx.txid} refused: ${r.detail}`);
    if (!r.accepted) report.alerts.push({ key: `btc-broadcast:${h.deposit}`, level: "warning", title: "redemption broadcast refused", text: `${h.deposit}: every Bitcoin server refused tx ${tx.txid}: ${r.detail}` });
  }
  if (decision.prove !== undefined && d.bitcoin && canAct) await prove(d, s!, h, signed[decision.prove].tx!, report, act);
  else if (decision.increaseFee && canAct) await increaseFee(s!, h, decision, act, report);
  return report;
}

async function readBitcoinView(b: RedemptionBitcoin, h: RedemptionHistory, chainNow: number, p: FollowPolicy, requestedAt: number) {
  const outpoint = ethers.getBytes(h.outpoint);
  const txid = reverseHex(ethers.hexlify(outpoint.subarray(0, 32)));
  const vout = new DataView(outpoint.buffer, outpoint.byteOffset + 32, 4).getUint32(0, true);
  const signerScript = "0014" + ethers.ripemd160(ethers.sha256(compressed(h.signerPubkey64!))).slice(2);
  const wantFee = h.state === State.AWAITING_WITHDRAWAL_PROOF && chainNow >= requestedAt + 4 * 3600;
  const [tipHeight, spender, marketFeeRate] = await Promise.all([
    b.tipHeight(),
    b.spender(txid, vout, signerScript),
    wantFee ? b.feeRate(targetBlocks(chainNow, requestedAt + 6 * 3600, p.confirmations)).catch(() => undefined) : Promise.resolve(undefined),
  ]);
  return { tipHeight, spender, marketFeeRate };
}

async function provideSignature(s: JournaledSender, h: RedemptionHistory, index: number, act: (a: FollowAction, hash?: string) => void): Promise<void> {
  const v = h.versions[index];
  const action = `signature:${v.digest.slice(0, 18)}`;
  const prior = await s.settle(h.deposit, action);
  if (prior.status === "mined") return act("signature-submitted", prior.hash);
  if (prior.status === "pending") return act("signature-pending");
  const sig = v.signature!;
  // The keep's recovery id when we have it; else the one that recovers to the signers' key.
  const vv = sig.recoveryId >= 0 ? 27 + sig.recoveryId : recoveryV(v.digest, sig, h.signerPubkey64!);
  const data = depositWriteInterface.encodeFunctionData("provideRedemptionSignature", [vv, sig.r, sig.s]);
  try {
    const r = await s.send(h.deposit, action, { to: h.deposit, data, abi: depositWriteInterface }, { meta: { digest: v.digest } });
    if (r.status === "pending") return act("signature-pending");
    act("signature-submitted", r.status === "mined" ? r.hash : undefined);
  } catch (e) {
    if (e instanceof AccountConflictError) throw e;
    if (await stateIs(s, h.deposit, State.AWAITING_WITHDRAWAL_PROOF)) {
      s.journal.recordSkipped(`${h.deposit}:${action}`, "signature provided by someone else");
      return act("awaiting-proof");
    }
    throw e;
  }
}

async function prove(d: FollowDeps, s: JournaledSender, h: RedemptionHistory, tx: SignedRedemptionTx, report: FollowReport, act: (a: FollowAction, hash?: string) => void): Promise<void> {
  const prior = await s.settle(h.deposit, "redemption-proof");
  if (prior.status === "mined") return act("proof-submitted", prior.hash);
  if (prior.status === "pending") return act("proof-pending");
  const b = d.bitcoin!;
  const outScript = ethers.hexlify(ethers.getBytes(h.redeemerScript).subarray(1)).slice(2);
  // Headers: the confirmations policy, the factor's worth and a few more (a retarget), as far as the chain has them.
  const wanted = Math.max(d.policy.confirmations, Number(TX_PROOF_DIFFICULTY_FACTOR)) + EXTRA_HEADERS;
  const [proof, current, previous] = await Promise.all([
    // A server whose data does not verify (a wrong merkle node, headers that do not link or lack
    // the work) is refused by the Bitcoin layer; no other server had a proof: warn, send nothing.
    b.proof(tx.txid, outScript, { min: d.policy.confirmations, max: wanted }, tx.raw).catch((e: unknown) => {
      if (e instanceof AccountConflictError) throw e;
      report.alerts.push({ key: `btc-proof:${h.deposit}`, level: "warning", title: "no verifiable redemption proof", text: `${h.deposit}: ${e instanceof KeepctlError ? e.message : shortMessageOf(e)}; nothing was sent` });
      return null;
    }),
    readRelay(d.provider, d.system, "fetchRelayCurrentDifficulty"),
    readRelay(d.provider, d.system, "fetchRelayPreviousDifficulty"),
  ]);
  if (proof === null) return act("proof-refused");
  if (!proof) return act("confirming");
  const first = proof.difficulties[0] ?? 0n;
  const required = first === current ? current * TX_PROOF_DIFFICULTY_FACTOR : first === previous ? previous * TX_PROOF_DIFFICULTY_FACTOR : 0n;
  const count = headersNeeded(proof.difficulties, required, d.policy.confirmations) ?? proof.headers.length;
  const headers = proof.headers.slice(0, count);
  const vectors: ProofVectors = { version: proof.version, inputVector: proof.inputVector, outputVector: proof.outputVector, locktime: proof.locktime, firstDifficulty: first, totalDifficulty: proof.difficulties.slice(0, count).reduce((a, x) => a + x, 0n), headerCount: count };
  const verdict = checkRedemptionProof(vectors, { outpoint: h.outpoint, redeemerScript: h.redeemerScript, utxoValueSats: h.utxoValueSats, latestFeeSats: h.versions.at(-1)!.feeSats, relayCurrentDifficulty: current, relayPreviousDifficulty: previous });
  if (!verdict.ok) {
    act(verdict.retry ? "waiting-for-work" : "proof-refused");
    if (!verdict.retry) report.alerts.push({ key: `proof-refused:${h.deposit}`, level: "critical", title: "redemption proof refused locally", text: `${h.deposit}: ${verdict.reason}` });
    return;
  }
  const data = FEE_ABI.encodeFunctionData("provideRedemptionProof", [proof.version, proof.inputVector, proof.outputVector, proof.locktime, proof.merkleProof, proof.indexInBlock, "0x" + headers.join("")]);
  try {
    const r = await s.send(h.deposit, "redemption-proof", { to: h.deposit, data, abi: depositWriteInterface }, { meta: { txid: tx.txid, headers: count } });
    if (r.status === "pending") return act("proof-pending");
    act("proof-submitted", r.status === "mined" ? r.hash : undefined);
    report.stage = "ended";
    report.state = stateName(State.REDEEMED);
    report.alerts.push({ key: `redeemed:${h.deposit}`, level: "info", title: "redemption proven, bond freed", text: `${h.deposit}: the redemption's Bitcoin tx ${tx.txid} is proven (Redeemed); the keep is closed and its signers' bonds are free` });
  } catch (e) {
    if (e instanceof AccountConflictError) throw e;
    if (await stateIs(s, h.deposit, State.REDEEMED)) {
      s.journal.recordSkipped(`${h.deposit}:redemption-proof`, "proven by someone else first");
      report.stage = "ended";
      return act("proven-by-other");
    }
    throw e;
  }
}

async function increaseFee(s: JournaledSender, h: RedemptionHistory, decision: FollowDecision, act: (a: FollowAction, hash?: string) => void, report: FollowReport): Promise<void> {
  const bump = decision.increaseFee!;
  const action = `fee-increase:${bump.step}`;
  const prior = await s.settle(h.deposit, action);
  if (prior.status === "mined") return act("fee-increased", prior.hash);
  if (prior.status === "pending") return act("fee-increase-pending");
  const data = FEE_ABI.encodeFunctionData("increaseRedemptionFee", [outputValueBytes8LE(bump.previousOutputSats), outputValueBytes8LE(bump.newOutputSats)]);
  try {
    const r = await s.send(h.deposit, action, { to: h.deposit, data, abi: FEE_ABI }, { meta: { previousOutputSats: bump.previousOutputSats.toString(), newOutputSats: bump.newOutputSats.toString() } });
    if (r.status === "pending") return act("fee-increase-pending");
    act("fee-increased", r.status === "mined" ? r.hash : undefined);
    report.alerts.push({ key: `fee-increased:${h.deposit}:${bump.step}`, level: "warning", title: "redemption fee increased", text: `${h.deposit}: the Bitcoin transaction was stuck; fee raised to ${h.utxoValueSats - bump.newOutputSats} sat (step ${bump.step}); the signers must sign again within 2 h` });
  } catch (e) {
    if (e instanceof AccountConflictError) throw e;
    // The signers' client raises the fee too (about 15 min before the deadline): a revert because the
    // state or the version moved on is a lost race; its version is the one to broadcast next pass.
    if (e instanceof RevertError || (e instanceof KeepctlError && e.exitCode === ExitCode.REVERT)) {
      s.journal.recordSkipped(`${h.deposit}:${action}`, `lost the race: ${shortMessageOf(e)}`);
      return act("fee-increase-lost-race");
    }
    throw e;
  }
}

async function readRelay(provider: ethers.JsonRpcProvider, system: string, fn: string): Promise<bigint> {
  const raw = await provider.send("eth_call", [{ to: system, data: RELAY_ABI.encodeFunctionData(fn) }, "latest"]);
  return RELAY_ABI.decodeFunctionResult(fn, raw)[0] as bigint;
}

async function stateIs(s: JournaledSender, deposit: string, state: number): Promise<boolean> {
  const raw = await s.provider.send("eth_call", [{ to: deposit, data: depositWriteInterface.encodeFunctionData("currentState") }, "latest"]).catch(() => undefined);
  return raw !== undefined && Number(depositWriteInterface.decodeFunctionResult("currentState", raw)[0]) === state;
}

function compressed(pubkey64: string): string {
  const b = ethers.getBytes(pubkey64);
  return ethers.hexlify(ethers.concat([b[63] & 1 ? "0x03" : "0x02", b.subarray(0, 32)]));
}

/** 27 + the recovery id under which (r, s) over `digest` recovers to the signers' key. */
function recoveryV(digest: string, sig: { r: string; s: string }, pubkey64: string): number {
  const expected = ethers.computeAddress("0x04" + pubkey64.slice(2));
  for (const v of [27, 28]) if (ethers.recoverAddress(digest, { r: sig.r, s: sig.s, v }) === expected) return v;
  throw new KeepctlError("BAD_SIGNATURE", ExitCode.INTERNAL, "the redemption signature recovers to no key of this deposit");
}

function reverseHex(h: string): string {
  return Buffer.from(ethers.getBytes(h)).reverse().toString("hex");
}
