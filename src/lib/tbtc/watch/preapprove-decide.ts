import { State } from "../abis";
import type { RedemptionPath } from "../redeem/planner";

/**
 * Pre-approval, decided: which exact TBTC allowances `watch` grants while a deposit is between
 * the warn level and the redeem line, so that when it crosses the line its redemption is one
 * transaction (the request), not two (approve, then request, a block apart). Pure: the loop reads
 * the candidates and allowances and sends what this returns through the journaled sender.
 *
 * Exact amounts only, never unlimited. A deposit redeemed by requestRedemption is its own
 * spender: its allowance is its redemption requirement. The VendingMachine is one spender for
 * every deposit redeemed through it: its allowance is the total of the zone's VendingMachine
 * deposits (approve overwrites, it does not add; each tbtcToBtc then pulls its own part).
 */
export interface PreapprovalPolicy {
  enabled: boolean;
  warnBelowPct: number;
  redeemBelowPct: number;
}

export interface PreapprovalCandidate {
  address: string;
  state: number;
  collateralPct: number;
  path: RedemptionPath | null;
  /** TBTC (18 decimals) the path would pull at the request. */
  costTbtc: bigint;
}

export interface Preapproval {
  spender: string;
  /** The allowance to set (exact). */
  amount: bigint;
  /** The allowance read before (part of the action's key: the same decision from the same chain state is the same action). */
  from: bigint;
  /** The deposits it is for (sorted, lower case). */
  deposits: string[];
}

const REDEEMABLE = new Set<number>([State.ACTIVE, State.COURTESY_CALL]);

/** At or above the redeem line and below the warn level: redeemed soon if it falls further. */
export function inPreapprovalZone(collateralPct: number | undefined, p: Pick<PreapprovalPolicy, "warnBelowPct" | "redeemBelowPct">): boolean {
  return collateralPct !== undefined && collateralPct < p.warnBelowPct && collateralPct >= p.redeemBelowPct;
}

/** Whether the loop should read redemption facts for this deposit to pre-approve it. */
export function needsPreapprovalRead(d: { state: number; collateralPct?: number }, p: PreapprovalPolicy): boolean {
  return p.enabled && REDEEMABLE.has(d.state) && inPreapprovalZone(d.collateralPct, p);
}

/**
 * The approvals to send: per spender, the exact amount its zone deposits need, when the
 * allowance standing now does not already cover it. `allowances` is keyed by lower-case spender.
 */
export function decidePreapprovals(candidates: readonly PreapprovalCandidate[], allowances: ReadonlyMap<string, bigint>, vendingMachine: string, p: PreapprovalPolicy): Preapproval[] {
  if (!p.enabled) return [];
  const need = new Map<string, { spender: string; amount: bigint; deposits: string[] }>();
  const seen = new Set<string>();
  for (const c of candidates) {
    const address = c.address.toLowerCase();
    if (seen.has(address)) continue;
    seen.add(address);
    if (!c.path || c.costTbtc <= 0n || !REDEEMABLE.has(c.state) || !inPreapprovalZone(c.collateralPct, p)) continue;
    const spender = c.path === "vending-machine" ? vendingMachine : c.address;
    const key = spender.toLowerCase();
    const cur = need.get(key) ?? { spender, amount: 0n, deposits: [] };
    cur.amount += c.costTbtc;
    cur.deposits.push(address);
    need.set(key, cur);
  }
  const out: Preapproval[] = [];
  for (const [key, n] of need) {
    const from = allowances.get(key) ?? 0n;
    if (from >= n.amount) continue;
    out.push({ spender: n.spender, amount: n.amount, from, deposits: [...n.deposits].sort() });
  }
  return out.sort((a, b) => (a.spender.toLowerCase() < b.spender.toLowerCase() ? -1 : 1));
}

/** The journal action of a pre-approval (`${spender}:${action}`): one action per decision. */
export function preapprovalAction(a: Pick<Preapproval, "amount" | "from" | "deposits">): string {
  return `preapprove:${a.amount}:${a.from}:${setDigest(a.deposits)}`;
}

export const PREAPPROVAL_ACTION = /^preapprove:/;

/** A short, order-free digest of a deposit set (FNV-1a, 32 bits, hex): distinguishes sets in a key. */
export function setDigest(deposits: readonly string[]): string {
  let h = 0x811c9dc5;
  for (const ch of [...deposits].map((d) => d.toLowerCase()).sort().join(",")) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

export interface PreapprovalGrant {
  spender: string;
  /** The deposits it was granted for. */
  deposits: string[];
}

export interface LeftoverApproval {
  spender: string;
  allowance: bigint;
  deposits: string[];
}

/**
 * Pre-approvals no longer needed: the allowance we granted still stands (nothing pulled it all)
 * and none of the deposits it was for is still redeemable below the warn level (the price
 * recovered, the deposit closed or went to someone else). They are left, not revoked (an
 * allowance can only pull TBTC from us, into a redemption we asked for), and counted.
 * `allowances` and `stillAtRisk` are keyed by lower-case address; one row per spender.
 */
export function leftoverPreapprovals(grants: readonly PreapprovalGrant[], allowances: ReadonlyMap<string, bigint>, stillAtRisk: ReadonlySet<string>): LeftoverApproval[] {
  const bySpender = new Map<string, LeftoverApproval>();
  for (const g of grants) {
    const key = g.spender.toLowerCase();
    const row = bySpender.get(key) ?? { spender: g.spender, allowance: allowances.get(key) ?? 0n, deposits: [] };
    for (const d of g.deposits) if (!row.deposits.includes(d.toLowerCase())) row.deposits.push(d.toLowerCase());
    bySpender.set(key, row);
  }
  const out: LeftoverApproval[] = [];
  for (const row of bySpender.values()) {
    if (row.allowance <= 0n) continue;
    if (row.deposits.some((d) => stillAtRisk.has(d))) continue;
    out.push({ ...row, deposits: row.deposits.sort() });
  }
  return out;
}

/** Lower-case addresses of the redeemable deposits below the warn level: what keeps a pre-approval needed. */
export function depositsStillAtRisk(deposits: readonly { address: string; state?: number; collateralPct?: number }[], warnBelowPct: number): Set<string> {
  return new Set(deposits.filter((d) => d.state !== undefined && REDEEMABLE.has(d.state) && d.collateralPct !== undefined && d.collateralPct < warnBelowPct).map((d) => d.address.toLowerCase()));
}
