import type { ethers } from "ethers";
import { shortMessageOf } from "../../errors";
import { AccountConflictError } from "../../chain/nonce";
import type { Journal } from "../../chain/journal";
import { approveData, splitKey, type JournaledSender } from "../redeem/redeemer";
import { erc20Interface } from "../redeem/redeem-abi";
import { readCandidates, readTbtc, type KnownRisk, type TbtcContracts } from "../redeem/redeem-facts";
import { decidePreapprovals, leftoverPreapprovals, preapprovalAction, PREAPPROVAL_ACTION, type LeftoverApproval, type PreapprovalGrant, type PreapprovalPolicy } from "./preapprove-decide";

/**
 * Pre-approval, carried out (decided in preapprove-decide.ts): reads the zone deposits'
 * redemption requirements and the allowances standing, and sends each exact approval through the
 * one journaled sender under its own key, `${spender}:preapprove:${amount}:${from}:${set}`. The
 * key is a function of the chain state the decision was made from, so a restart that makes the
 * same decision finds the same key (settled or done, never signed again), and a later decision
 * (the allowance was spent, the set changed) is a new action.
 */
export interface PreapprovalOutcome {
  spender: string;
  amount: bigint;
  deposits: string[];
  status: "mined" | "done-earlier" | "pending" | "failed";
  hash?: string;
  error?: string;
}

export async function runPreapprovals(
  s: JournaledSender,
  c: TbtcContracts,
  deposits: readonly string[],
  policy: PreapprovalPolicy,
  known?: ReadonlyMap<string, KnownRisk>,
): Promise<PreapprovalOutcome[]> {
  if (!policy.enabled || !deposits.length) return [];
  const candidates = await readCandidates(s.provider, c, deposits, s.address, known);
  const spenders = [...new Set(candidates.filter((x) => x.path).map((x) => (x.path === "vending-machine" ? c.vendingMachine : x.address).toLowerCase()))];
  const allowances = await readAllowances(s.provider, c.token, s.address, spenders);
  const todo = decidePreapprovals(candidates, allowances, c.vendingMachine, policy);
  const results = await Promise.allSettled(
    todo.map((a) =>
      s.send(a.spender, preapprovalAction(a), { to: c.token, data: approveData(a.spender, a.amount), abi: erc20Interface }, { meta: { amount: a.amount.toString(), from: a.from.toString(), deposits: a.deposits } }),
    ),
  );
  const out: PreapprovalOutcome[] = [];
  let conflict: unknown;
  for (const [i, r] of results.entries()) {
    const a = todo[i];
    const base = { spender: a.spender, amount: a.amount, deposits: a.deposits };
    if (r.status === "rejected") {
      if (r.reason instanceof AccountConflictError) conflict ??= r.reason;
      else out.push({ ...base, status: "failed", error: shortMessageOf(r.reason) });
      continue;
    }
    const v = r.value;
    if (v.status === "mined") out.push({ ...base, status: "mined", hash: v.hash });
    else if (v.status === "pending") out.push({ ...base, status: "pending" });
    else out.push({ ...base, status: "done-earlier", hash: v.status === "done-earlier" ? v.hash : undefined });
  }
  if (conflict) throw conflict;
  return out;
}

/** Allowances of `owner` to each spender (lower-case keys); the calls of one tick share a batch. */
export async function readAllowances(provider: ethers.JsonRpcProvider, token: string, owner: string, spenders: readonly string[]): Promise<Map<string, bigint>> {
  const values = await Promise.all(spenders.map((sp) => readTbtc(provider, token, owner, sp).then((t) => t.allowance)));
  return new Map(spenders.map((sp, i) => [sp.toLowerCase(), values[i]]));
}

/** The pre-approvals `account` got mined, from the journal (what may be left standing). */
export function preapprovalGrants(journal: Journal, account: string): PreapprovalGrant[] {
  const out: PreapprovalGrant[] = [];
  for (const e of journal.entries().values()) {
    if (e.state !== "mined" || e.status !== 1 || e.account?.toLowerCase() !== account.toLowerCase()) continue;
    const { deposit: spender, action } = splitKey(e.key);
    if (!PREAPPROVAL_ACTION.test(action)) continue;
    const deposits = Array.isArray(e.meta?.deposits) ? (e.meta!.deposits as unknown[]).map(String) : [];
    out.push({ spender, deposits });
  }
  return out;
}

/**
 * The pre-approvals left standing that no deposit needs any more (see leftoverPreapprovals):
 * read from the journal and the token's allowances now. `stillAtRisk`: lower-case addresses of
 * the redeemable deposits below the warn level.
 */
export async function readLeftoverPreapprovals(provider: ethers.JsonRpcProvider, journal: Journal, token: string, account: string, stillAtRisk: ReadonlySet<string>): Promise<LeftoverApproval[]> {
  const grants = preapprovalGrants(journal, account);
  if (!grants.length) return [];
  const allowances = await readAllowances(provider, token, account, [...new Set(grants.map((g) => g.spender.toLowerCase()))]);
  return leftoverPreapprovals(grants, allowances, stillAtRisk);
}

export interface StandingPreapproval extends LeftoverApproval {
  account: string;
}

/**
 * `keepctl redemptions`: the pre-approvals of every account in the journal that no deposit needs
 * any more (no key needed: the journal names the accounts). `stillAtRisk` as above.
 */
export async function readStandingPreapprovals(provider: ethers.JsonRpcProvider, journal: Journal, token: string, stillAtRisk: ReadonlySet<string>): Promise<StandingPreapproval[]> {
  const accounts = new Set<string>();
  for (const e of journal.entries().values()) if (e.account && PREAPPROVAL_ACTION.test(splitKey(e.key).action)) accounts.add(e.account.toLowerCase());
  const out: StandingPreapproval[] = [];
  for (const account of accounts) for (const l of await readLeftoverPreapprovals(provider, journal, token, account, stillAtRisk)) out.push({ account, ...l });
  return out;
}
