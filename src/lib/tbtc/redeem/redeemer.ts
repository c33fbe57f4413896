import { ethers } from "ethers";
import { ExitCode, KeepctlError, RevertError, shortMessageOf } from "../../errors";
import type { ActionSender, SendOptions, SendOutcome, SenderEvent, SettleOutcome } from "../../chain/sender";
import { AccountConflictError, type TxRequest } from "../../chain/tx";
import type { TransactionEvent, WarningEvent } from "../../events";
import { State, stateName } from "../abis";
import { outputValueBytes8LE, type Plan, type PlannedRedemption } from "./planner";
import { depositWriteInterface, erc20Interface, vendingMachineInterface } from "./redeem-abi";
import { encodeApproveData } from "../../chain/erc20";
import { findRedemptionRequest, readDepositState, readTbtc, type TbtcContracts } from "./redeem-facts";

/**
 * Executes a redemption plan: per deposit an exact-amount approval then the request, all
 * deposits in parallel (the sender hands out nonces in order). Every action goes through the one
 * journaled sender under `${deposit}:approve` / `${deposit}:redeem`, so a restart after a crash
 * or a lost RPC answer settles the journaled tx instead of paying twice. Losing the race to
 * another redeemer is a warning and a skip.
 */
export type RedeemEvent = TransactionEvent | WarningEvent;

/** Splits a tBTC action key `${address}:${action}`. */
export function splitKey(key: string): { deposit: string; action: string } {
  const i = key.indexOf(":");
  return i < 0 ? { deposit: key, action: "" } : { deposit: key.slice(0, i), action: key.slice(i + 1) };
}

/** SenderEvent -> RedeemEvent (the deposit and action come from the journal key). */
export function redeemEventOf(ev: SenderEvent): RedeemEvent {
  const { deposit, action } = splitKey(ev.key);
  return { ...ev, deposit, action };
}

/** The tBTC view of the one journaled sender: actions are named by deposit (or spender) and verb. */
export class JournaledSender {
  constructor(
    readonly sender: ActionSender,
    private readonly onEvent?: (ev: RedeemEvent) => void,
  ) {}
  get tx() {
    return this.sender.tx;
  }
  get provider() {
    return this.sender.provider;
  }
  get journal() {
    return this.sender.journal;
  }
  get address(): string {
    return this.sender.address;
  }
  emit(ev: RedeemEvent): void {
    this.onEvent?.(ev);
  }
  /** Sends `req` as the action `${deposit}:${action}`. */
  send(deposit: string, action: string, req: Omit<TxRequest, "label">, o: SendOptions = {}): Promise<SendOutcome> {
    return this.sender.send(`${deposit}:${action}`, { ...req, label: `${action} ${deposit}` }, o);
  }
  settle(deposit: string, action: string): Promise<SettleOutcome> {
    return this.sender.settle(`${deposit}:${action}`);
  }
}

export interface RedemptionOutcome {
  deposit: string;
  path: PlannedRedemption["path"];
  /** pending: sent, not mined by the deadline; tracked, and resumed by the next run (never re-signed). */
  /** deferred: the RPC failed before anything was sent for it; the next run or loop tries again. */
  status: "requested" | "already-requested" | "lost-race" | "pending" | "deferred" | "failed";
  hash?: string;
  hashes?: string[];
  reason?: string;
  error?: KeepctlError;
}

/**
 * What a request waits on before it is sent (the swap that buys its TBTC, see ../buy/): ok, or
 * how the redemption ends instead. Its approval does not wait, so both go out in one block.
 */
export type RequestGate = Promise<{ ok: true } | { ok: false; status: "failed" | "pending" | "deferred"; reason: string; error?: KeepctlError }>;

export function redemptionCall(item: PlannedRedemption, c: Pick<TbtcContracts, "vendingMachine">, script: string): { to: string; data: string; spender: string; abi: ethers.Interface } {
  const value = outputValueBytes8LE(item.outputValueSats);
  return item.path === "vending-machine"
    ? { to: c.vendingMachine, spender: c.vendingMachine, abi: vendingMachineInterface, data: vendingMachineInterface.encodeFunctionData("tbtcToBtc", [item.address, value, script]) }
    : { to: item.address, spender: item.address, abi: depositWriteInterface, data: depositWriteInterface.encodeFunctionData("requestRedemption", [value, script]) };
}

export function approveData(spender: string, amount: bigint): string {
  return encodeApproveData(spender, amount);
}

/**
 * Finishes what a crashed or interrupted run left in flight for this account, before anything
 * is read or planned; then takes the account guard's baseline. Returns the keys settled.
 */
export function settleJournal(s: JournaledSender): Promise<string[]> {
  return s.sender.startSession();
}

const REDEEMABLE = new Set([State.ACTIVE, State.COURTESY_CALL]);

async function lostRace(s: JournaledSender, c: TbtcContracts, item: PlannedRedemption, key: string): Promise<RedemptionOutcome | undefined> {
  const state = await readDepositState(s.provider, item.address);
  if (REDEEMABLE.has(state)) return undefined;
  const req = await findRedemptionRequest(s.provider, c, item.address).catch(() => undefined);
  if (req && req.requester.toLowerCase() === s.address.toLowerCase()) {
    return { deposit: item.address, path: item.path, status: "already-requested", reason: `already requested by this account (${stateName(state)})` };
  }
  const who = req ? ` by ${req.requester}` : "";
  const reason = `deposit moved on to ${stateName(state)}${who} before we could redeem it; skipped`;
  s.journal.recordSkipped(key, reason);
  s.emit({ type: "warning", deposit: item.address, message: reason });
  return { deposit: item.address, path: item.path, status: "lost-race", reason };
}

/**
 * The chain's answer to "did this account request this redemption?": the deposit moved past
 * ACTIVE/COURTESY_CALL and its latest RedemptionRequested names us. Another requester is a lost
 * race; a still-redeemable deposit is undefined (not requested, whatever the journal says).
 */
async function requestedOnChain(s: JournaledSender, c: TbtcContracts, item: PlannedRedemption, key: string, hash?: string): Promise<RedemptionOutcome | undefined> {
  const state = await readDepositState(s.provider, item.address);
  if (REDEEMABLE.has(state)) return undefined;
  const req = await findRedemptionRequest(s.provider, c, item.address);
  if (req && req.requester.toLowerCase() === s.address.toLowerCase()) {
    return { deposit: item.address, path: item.path, status: "already-requested", hash, reason: `requested by this account on chain (${stateName(state)}, RedemptionRequested in block ${req.block})` };
  }
  return lostRace(s, c, item, key);
}

/** One deposit: settle, re-check, approve exactly, request. Never throws (the outcome says). */
export async function redeemOne(s: JournaledSender, c: TbtcContracts, item: PlannedRedemption, script: string, signal?: AbortSignal, gate?: RequestGate): Promise<RedemptionOutcome> {
  const key = `${item.address}:redeem`;
  const base = { deposit: item.address, path: item.path };
  try {
    let prior = await s.settle(item.address, "redeem");
    if (prior.status === "mined") {
      // "Already requested" is a chain fact, not the journal's word: a reorg may have taken it back.
      const onChain = await requestedOnChain(s, c, item, key, prior.hash);
      if (onChain) return onChain;
      prior = await s.sender.verifyMined(key);
      if (prior.status === "mined") {
        const again = await requestedOnChain(s, c, item, key, prior.hash);
        if (again) return again;
        return { ...base, status: "deferred", reason: "the journal's mined request is not reflected in the deposit's state yet; checked again next pass" };
      }
    }
    if (prior.status === "pending") return { ...base, status: "pending", hashes: prior.hashes, reason: "the request from an earlier run is not mined yet; still tracked" };
    const raced = await lostRace(s, c, item, key);
    if (raced) return raced;

    const call = redemptionCall(item, c, script);
    // The VendingMachine is one spender for many deposits: executePlan approves their total once.
    if (item.path === "request-redemption") {
      const approval = await ensureAllowance(s, c, item.address, item.costTbtc);
      if (approval === "pending") return { ...base, status: "pending", reason: "the approval is not mined yet; still tracked" };
    }
    if (gate) {
      const g = await gate;
      if (!g.ok) return { ...base, status: g.status, reason: g.reason, error: g.error };
    }
    if (signal?.aborted) return { ...base, status: "failed", reason: "interrupted before the request was sent" };
    try {
      const meta = { path: item.path, feeSats: item.feeSats.toString(), costTbtc: item.costTbtc.toString() };
      const r = await s.send(item.address, "redeem", { to: call.to, data: call.data, abi: call.abi }, { meta });
      if (r.status === "mined") return { ...base, status: "requested", hash: r.hash };
      if (r.status === "pending") return { ...base, status: "pending", hashes: r.hashes, reason: "sent; not mined by the deadline, still tracked" };
      return { ...base, status: "already-requested", reason: "the journal records this request as mined" };
    } catch (e) {
      // A revert in simulation or on chain is how a lost race shows up: check before calling it a failure.
      if (e instanceof RevertError || (e instanceof KeepctlError && e.exitCode === ExitCode.REVERT)) {
        const lost = await lostRace(s, c, item, key);
        if (lost) return lost;
      }
      throw e;
    }
  } catch (e) {
    if (e instanceof AccountConflictError) throw e; // the account stops; no outcome per deposit
    const err = e instanceof KeepctlError ? e : new KeepctlError("INTERNAL", ExitCode.INTERNAL, shortMessageOf(e), { cause: e });
    // An RPC that failed is no verdict on the redemption: whatever was sent is journaled and
    // settled next time; nothing else was sent. "failed" is kept for what will not change by itself.
    if (err.exitCode === ExitCode.RPC) return { ...base, status: "deferred", reason: err.message, error: err };
    return { ...base, status: "failed", reason: err.message, error: err };
  }
}

/**
 * Approves exactly `amount` to `spender` unless the allowance already covers it (e.g. after a
 * restart). Journaled under `${spender}:approve`; an approval in flight is settled first, never
 * signed twice. "pending" when an approval is sent but not mined yet.
 */
export async function ensureAllowance(s: JournaledSender, c: Pick<TbtcContracts, "token">, spender: string, amount: bigint): Promise<"ok" | "pending"> {
  if ((await s.settle(spender, "approve")).status === "pending") return "pending";
  const { allowance } = await readTbtc(s.provider, c.token, s.address, spender);
  if (allowance >= amount) return "ok";
  const r = await s.send(spender, "approve", { to: c.token, data: approveData(spender, amount), abi: erc20Interface }, { repeatable: true, meta: { amount: amount.toString() } });
  return r.status === "pending" ? "pending" : "ok";
}

/**
 * Runs every funded item of the plan at once; nonces are serialised by the sender. Deposits
 * redeemed through the VendingMachine share one spender, so their allowance is the exact total,
 * approved once before any of them is sent (separate approvals would overwrite each other).
 */
export async function executePlan(s: JournaledSender, c: TbtcContracts, plan: Pick<Plan, "funded">, script: string, signal?: AbortSignal, gates?: ReadonlyMap<string, RequestGate>): Promise<RedemptionOutcome[]> {
  const viaVm = plan.funded.filter((f) => f.path === "vending-machine");
  let vmError: KeepctlError | undefined;
  let vmPending = false;
  if (viaVm.length) {
    try {
      vmPending = (await ensureAllowance(s, c, c.vendingMachine, viaVm.reduce((sum, f) => sum + f.costTbtc, 0n))) === "pending";
    } catch (e) {
      if (e instanceof AccountConflictError) throw e;
      vmError = e instanceof KeepctlError ? e : new KeepctlError("INTERNAL", ExitCode.INTERNAL, shortMessageOf(e), { cause: e });
    }
  }
  return Promise.all(
    plan.funded.map((item): Promise<RedemptionOutcome> => {
      if (item.path !== "vending-machine" || (!vmError && !vmPending)) return redeemOne(s, c, item, script, signal, gates?.get(item.address.toLowerCase()));
      if (vmPending) return Promise.resolve({ deposit: item.address, path: item.path, status: "pending", reason: "the VendingMachine approval is not mined yet; still tracked" });
      return Promise.resolve({ deposit: item.address, path: item.path, status: "failed", reason: `approving the VendingMachine failed: ${vmError!.message}`, error: vmError });
    }),
  );
}

/** Rough gas per path when the request cannot be simulated yet (no allowance): measured on the devnet × 1.5. */
export const REDEEM_GAS_FALLBACK = { "request-redemption": 450_000n, "vending-machine": 600_000n, approve: 60_000n } as const;

/**
 * Gas limit and worst-case fee per item, by simulation where possible (approve always; the request
 * only when the allowance is already there), otherwise the fallback above.
 */
export async function estimatePlanGas(s: JournaledSender, c: TbtcContracts, plan: Pick<Plan, "funded">, script: string) {
  const fees = await s.tx.prepare({ to: c.token, data: approveData(c.token, 0n), label: "fee probe", abi: erc20Interface });
  return Promise.all(
    plan.funded.map(async (item) => {
      const call = redemptionCall(item, c, script);
      let gasLimit = REDEEM_GAS_FALLBACK[item.path] + REDEEM_GAS_FALLBACK.approve;
      let simulated = false;
      let error: string | undefined;
      try {
        const { allowance } = await readTbtc(s.provider, c.token, s.address, call.spender);
        if (allowance >= item.costTbtc) {
          gasLimit = (await s.tx.prepare({ to: call.to, data: call.data, label: `redeem ${item.address}`, abi: call.abi })).gasLimit;
          simulated = true;
        } else {
          const approveGas = (await s.tx.prepare({ to: c.token, data: approveData(call.spender, item.costTbtc), label: `approve ${item.address}`, abi: erc20Interface })).gasLimit;
          gasLimit = approveGas + REDEEM_GAS_FALLBACK[item.path];
        }
      } catch (e) {
        // Shown in the plan; the redeemer re-checks the deposit before it sends anything.
        error = e instanceof KeepctlError ? e.message : shortMessageOf(e);
      }
      return { deposit: item.address, gasLimit, simulated, error, worstCaseFeeWei: gasLimit * fees.maxFeePerGas, maxFeePerGas: fees.maxFeePerGas };
    }),
  );
}
