import crypto from "node:crypto";
import { ethers } from "ethers";
import type { ActionSender, SendOutcome } from "../chain/sender";
import { empInterface, encodeApprove, encodeSponsorCall, erc20Interface } from "./emp-calls";
import type { Approval, SponsorPlan } from "./sponsor-plan";

/**
 * Sends a sponsor's plan through the one journaled sender: the exact approvals first (journaled
 * `${emp}:${sponsor}:${token}:approve`), then the call under the plan's key. One round per run, so
 * a repeated request sends again, while a crashed run's transaction is settled from the chain
 * before anything new is signed (see startSponsorRun).
 */
export interface SponsorRun {
  sender: ActionSender;
  emp: string;
  /** The round of this invocation: a repeatable action runs at most once in it. */
  round: string;
}

export interface DecodedEvent {
  name: string;
  args: Record<string, string | bigint | boolean>;
}

export type SponsorOutcome =
  | { status: "mined"; hash: string; blockNumber: number; gasUsed: bigint; events: DecodedEvent[] }
  | { status: "dry-run"; simulated: boolean; gasLimit?: bigint; worstCaseFeeWei?: bigint; approvals: Approval[] }
  | { status: "done-earlier"; hash?: string }
  | { status: "pending"; hashes: string[] };

/**
 * Opens a run: settles whatever an earlier run of this sponsor left in flight on this EMP (never
 * signing anything new) and returns the keys it settled, with their journal state.
 */
export async function startSponsorRun(sender: ActionSender, emp: string): Promise<{ run: SponsorRun; recovered: string[] }> {
  const recovered = await sender.startSession(`${emp}:${sender.address}:`);
  return { run: { sender, emp, round: crypto.randomBytes(6).toString("hex") }, recovered };
}

/** Whether an earlier, crashed run already carried out `key` (settled just now, mined and successful). */
export function doneByEarlierRun(sender: ActionSender, recovered: string[], key: string): { hash?: string } | undefined {
  if (!recovered.includes(key)) return undefined;
  const e = sender.journal.get(key);
  return e?.state === "mined" && e.status === 1 ? { hash: e.minedHash } : undefined;
}

/** Decodes the EMP's own events of a receipt (the tokens' Transfer logs are left out). */
export function empEventsOf(receipt: ethers.TransactionReceipt, emp: string): DecodedEvent[] {
  const out: DecodedEvent[] = [];
  for (const log of receipt.logs) {
    if (log.address.toLowerCase() !== emp.toLowerCase()) continue;
    try {
      const ev = empInterface.parseLog(log);
      if (!ev) continue;
      const args: DecodedEvent["args"] = {};
      ev.fragment.inputs.forEach((input, i) => { args[input.name] = ev.args[i] as string | bigint | boolean; });
      out.push({ name: ev.name, args });
    } catch {
      // not one of the fragments keepctl knows
    }
  }
  return out;
}

/** Approves exactly `a.amount`; false in --dry-run (nothing approved, so the call cannot be simulated). */
export async function approveForSponsor(r: SponsorRun, a: Approval): Promise<boolean> {
  const req = { ...encodeApprove(a.address, r.emp, a.amount), label: `approve ${formatAmount(a.amount)} ${a.token} for the EMP`, abi: erc20Interface };
  const sent = await r.sender.send(`${r.emp}:${r.sender.address}:${a.address}:approve`, req, { repeatable: true, round: r.round, meta: { amount: a.amount.toString() } });
  return sent.status !== "dry-run";
}

const formatAmount = (v: bigint) => ethers.formatUnits(v, 18).replace(/\.0$/, "");

export async function executeSponsorPlan(r: SponsorRun, plan: SponsorPlan, o: { repeatable?: boolean } = {}): Promise<SponsorOutcome> {
  let approved = true;
  for (const a of plan.approvals) approved = (await approveForSponsor(r, a)) && approved;
  const req = { ...encodeSponsorCall(r.emp, plan.call), label: plan.label, abi: empInterface };
  if (r.sender.dryRun && !approved) return { status: "dry-run", simulated: false, approvals: plan.approvals };
  const sent = await r.sender.send(plan.key, req, { repeatable: o.repeatable ?? true, round: r.round, meta: { action: plan.action } });
  return outcomeOf(sent, r.emp, plan.approvals);
}

/** A sent call's outcome, with the EMP's events decoded from its receipt. */
export function outcomeOf(sent: SendOutcome, emp: string, approvals: Approval[] = []): SponsorOutcome {
  switch (sent.status) {
    case "dry-run":
      return { status: "dry-run", simulated: true, gasLimit: sent.prepared.gasLimit, worstCaseFeeWei: sent.prepared.worstCaseFeeWei, approvals };
    case "done-earlier":
      return { status: "done-earlier", hash: sent.hash };
    case "pending":
      return { status: "pending", hashes: sent.hashes };
    case "mined":
      return { status: "mined", hash: sent.hash, blockNumber: sent.receipt.blockNumber, gasUsed: sent.receipt.gasUsed, events: empEventsOf(sent.receipt, emp) };
  }
}
