import { ethers } from "ethers";
import { KeepctlError, RevertError, RpcError, shortMessageOf } from "../errors";
import { Journal, recover } from "../journal";
import { TxSender, type TxEvent, type TxRequest, type TxResult, type TxSenderOptions } from "../chain/tx";
import { State, stateName } from "./abis";
import { outputValueBytes8LE, type Plan, type PlannedRedemption } from "./planner";
import { depositWriteInterface, erc20Interface, vendingMachineInterface } from "./redeem-abi";
import { encodeApproveData } from "../chain/erc20";
import { findRedemptionRequest, readDepositState, readTbtc, type TbtcContracts } from "./redeem-facts";

/**
 * Executes a redemption plan: per deposit an exact-amount approval then the request, all
 * deposits in parallel (TxSender hands out nonces in order). Every signed tx is journaled under
 * `${deposit}:approve` / `${deposit}:redeem` before it leaves the process, so a restart after a
 * crash finishes the journaled tx instead of paying twice. Losing the race to another redeemer
 * is a warning and a skip.
 */
export type RedeemEvent =
  | { type: "warning"; deposit: string; message: string }
  | { type: "recovered"; deposit: string; key: string; status: string }
  | ({ deposit: string; action: string } & TxEvent);

/** TxSender whose journal hooks are routed per request (label -> journal key). */
export class JournaledSender {
  readonly tx: TxSender;
  private readonly routes = new Map<string, { key: string; deposit: string; action: string }>();
  constructor(
    wallet: ethers.Wallet,
    readonly provider: ethers.JsonRpcProvider,
    readonly journal: Journal,
    opts: Omit<TxSenderOptions, "beforeBroadcast" | "onEvent">,
    private readonly onEvent?: (ev: RedeemEvent) => void,
  ) {
    this.tx = new TxSender(wallet, provider, {
      ...opts,
      beforeBroadcast: (raw, hash, nonce, ctx) => {
        const r = this.routes.get(ctx.label);
        if (r) journal.hooks(r.key).beforeBroadcast(raw, hash, nonce, ctx);
      },
      onEvent: (ev) => {
        const r = this.routes.get(ev.label);
        if (r) journal.hooks(r.key).onEvent(ev);
        this.onEvent?.({ ...ev, deposit: r?.deposit ?? "", action: r?.action ?? "" });
      },
    });
  }
  get address(): string {
    return this.tx.address;
  }
  emit(ev: RedeemEvent): void {
    this.onEvent?.(ev);
  }
  /** Sends `req` journaled under `${deposit}:${action}`. */
  async send(deposit: string, action: string, req: Omit<TxRequest, "label">): Promise<TxResult> {
    const key = `${deposit}:${action}`;
    const label = `${action} ${deposit}`;
    this.routes.set(label, { key, deposit, action });
    try {
      return await this.tx.send({ ...req, label });
    } finally {
      this.routes.delete(label);
    }
  }
}

export interface RedemptionOutcome {
  deposit: string;
  path: PlannedRedemption["path"];
  status: "requested" | "already-requested" | "lost-race" | "failed";
  hash?: string;
  reason?: string;
  error?: KeepctlError;
}

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
 * Brings a journaled in-flight tx for `key` to an end: records it mined, or rebroadcasts its own
 * signed tx and waits for it. Returns the receipt status, or undefined when nothing was in flight
 * (or its nonce went to another tx, so it can never mine).
 */
export async function settleInFlight(s: JournaledSender, deposit: string, key: string, signal?: AbortSignal, maxWaitMs = 10 * 60_000): Promise<number | undefined> {
  let entry = s.journal.get(key);
  if (!entry || (entry.state !== "sending" && entry.state !== "sent")) return entry?.state === "mined" ? entry.status : undefined;
  const deadline = Date.now() + maxWaitMs;
  for (let first = true; ; first = false) {
    const r = await recover(s.journal, s.provider, entry);
    if (first || r.status === "mined") s.emit({ type: "recovered", deposit, key, status: r.status });
    if (r.status === "mined") return r.receipt.status ?? 0;
    if (r.status === "nonce-used") return undefined;
    if (signal?.aborted) throw new KeepctlError("INTERRUPTED", 130, `stopped while ${key} was still pending`);
    if (Date.now() > deadline) {
      throw new RpcError(`${key}: the journaled transaction is still pending after ${Math.round(maxWaitMs / 1000)} s`, { code: "TX_NOT_MINED", hint: "run again later; keepctl will not sign a second one while it may mine" });
    }
    await new Promise((res) => setTimeout(res, 1000));
    entry = s.journal.get(key)!;
  }
}

/**
 * Finishes what a crashed or interrupted run left in flight for this account, before anything
 * is read or planned: every dropped tx is rebroadcast at once (a later nonce waits on an earlier
 * one), then all are awaited. Returns the keys settled.
 */
export async function settleJournal(s: JournaledSender, signal?: AbortSignal): Promise<string[]> {
  const entries = s.journal.resume(s.address);
  await Promise.all(entries.map((e) => settleInFlight(s, e.key.split(":")[0], e.key, signal)));
  return entries.map((e) => e.key);
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

/** One deposit: recover, re-check, approve exactly, request. Never throws (the outcome says). */
export async function redeemOne(s: JournaledSender, c: TbtcContracts, item: PlannedRedemption, script: string, signal?: AbortSignal): Promise<RedemptionOutcome> {
  const key = `${item.address}:redeem`;
  const base = { deposit: item.address, path: item.path };
  try {
    const prior = await settleInFlight(s, item.address, key, signal);
    if (prior === 1) return { ...base, status: "already-requested", reason: "a journaled request from an earlier run was mined" };
    const raced = await lostRace(s, c, item, key);
    if (raced) return raced;

    const call = redemptionCall(item, c, script);
    // The VendingMachine is one spender for many deposits: executePlan approves their total once.
    if (item.path === "request-redemption") await ensureAllowance(s, c, item.address, item.costTbtc, signal);
    if (signal?.aborted) return { ...base, status: "failed", reason: "interrupted before the request was sent" };
    const begun = s.journal.begin(key, { account: s.address, meta: { path: item.path, feeSats: item.feeSats.toString(), costTbtc: item.costTbtc.toString() } });
    if (begun.status === "done") return { ...base, status: "already-requested", reason: "the journal records this request as mined" };
    try {
      const res = await s.send(item.address, "redeem", { to: call.to, data: call.data, abi: call.abi });
      return { ...base, status: "requested", hash: res.hash };
    } catch (e) {
      // A revert in simulation or on chain is how a lost race shows up: check before calling it a failure.
      if (e instanceof RevertError || (e instanceof KeepctlError && e.exitCode === 5)) {
        const lost = await lostRace(s, c, item, key);
        if (lost) return lost;
      }
      throw e;
    }
  } catch (e) {
    const err = e instanceof KeepctlError ? e : new KeepctlError("INTERNAL", 1, shortMessageOf(e), { cause: e });
    return { ...base, status: "failed", reason: err.message, error: err };
  }
}

/**
 * Approves exactly `amount` to `spender` unless the allowance already covers it (e.g. after a
 * restart). Journaled under `${spender}:approve`; an approval in flight is settled first, never
 * signed twice.
 */
export async function ensureAllowance(s: JournaledSender, c: Pick<TbtcContracts, "token">, spender: string, amount: bigint, signal?: AbortSignal): Promise<void> {
  await settleInFlight(s, spender, `${spender}:approve`, signal);
  const { allowance } = await readTbtc(s.provider, c.token, s.address, spender);
  if (allowance >= amount) return;
  await s.send(spender, "approve", { to: c.token, data: approveData(spender, amount), abi: erc20Interface });
}

/**
 * Runs every funded item of the plan at once; nonces are serialised by the sender. Deposits
 * redeemed through the VendingMachine share one spender, so their allowance is the exact total,
 * approved once before any of them is sent (separate approvals would overwrite each other).
 */
export async function executePlan(s: JournaledSender, c: TbtcContracts, plan: Pick<Plan, "funded">, script: string, signal?: AbortSignal): Promise<RedemptionOutcome[]> {
  const viaVm = plan.funded.filter((f) => f.path === "vending-machine");
  let vmError: KeepctlError | undefined;
  if (viaVm.length) {
    try {
      await ensureAllowance(s, c, c.vendingMachine, viaVm.reduce((sum, f) => sum + f.costTbtc, 0n), signal);
    } catch (e) {
      vmError = e instanceof KeepctlError ? e : new KeepctlError("INTERNAL", 1, shortMessageOf(e), { cause: e });
    }
  }
  return Promise.all(
    plan.funded.map((item) =>
      item.path === "vending-machine" && vmError
        ? Promise.resolve<RedemptionOutcome>({ deposit: item.address, path: item.path, status: "failed", reason: `approving the VendingMachine failed: ${vmError.message}`, error: vmError })
        : redeemOne(s, c, item, script, signal),
    ),
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
