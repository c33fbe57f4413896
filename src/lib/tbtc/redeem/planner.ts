/**
 * Pure redemption planner: which at-risk deposits to redeem, by which path, in what order, with
 * the TBTC the wallet holds. No network; every input is a plain number read elsewhere.
 */
import { State, stateName } from "../abis";

export { State, stateName } from "../abis";

/** TBTCConstants: the fee the redemption output leaves for the Bitcoin miners. */
export const MIN_REDEMPTION_FEE_SATS = 2000n;
/** ~110 vB one-in-one-out tx at ~90 sat/vB; the fee may be raised on chain after 4 h anyway. */
export const DEFAULT_REDEMPTION_FEE_SATS = 10_000n;
/** TBTC has 18 decimals; 1 sat = 1e10 TBTC units. */
export const SATOSHI_MULTIPLIER = 10n ** 10n;

export type RedemptionPath = "request-redemption" | "vending-machine";

export interface PathInput {
  state: number;
  /** Seconds until the deposit's term ends (0 = at term). */
  remainingTermSec: bigint | number;
  /** Current owner of the deposit's TDT. */
  tdtHolder: string;
  vendingMachine: string;
  redeemer: string;
}

const eq = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** The way (if any) `redeemer` may redeem this deposit now, per tBTC v1's rules. */
export function chooseRedemptionPath(i: PathInput): { path: RedemptionPath | null; whyNot?: string } {
  const s = i.state;
  if (s === State.COURTESY_CALL) return { path: "request-redemption" };
  if (s === State.ACTIVE) {
    if (BigInt(i.remainingTermSec) === 0n) return { path: "request-redemption" };
    if (eq(i.tdtHolder, i.redeemer)) return { path: "request-redemption" };
    if (eq(i.tdtHolder, i.vendingMachine)) return { path: "vending-machine" };
    return { path: null, whyNot: `ACTIVE before term and its TDT is held by ${i.tdtHolder}: only that holder may redeem until a courtesy call` };
  }
  if (s === State.AWAITING_WITHDRAWAL_SIGNATURE || s === State.AWAITING_WITHDRAWAL_PROOF) return { path: null, whyNot: `redemption already requested (${stateName(s)})` };
  if (s === State.LIQUIDATION_IN_PROGRESS || s === State.FRAUD_LIQUIDATION_IN_PROGRESS) return { path: null, whyNot: `already in liquidation (${stateName(s)}): too late to redeem` };
  return { path: null, whyNot: `state ${stateName(s)} cannot be redeemed` };
}

export interface Candidate {
  address: string;
  state: number;
  lotSats: bigint;
  /** The funded UTXO's value (normally the lot); the BTC fee comes out of it. */
  utxoSats: bigint;
  /** Collateralization in percent (may be fractional). */
  collateralPct: number;
  /** Unix seconds when the courtesy call expires, if one is running. */
  courtesyDeadline: number | null;
  /** TBTC (18 decimals) the path needs: requirement, or lot + owner requirement for the VendingMachine. */
  costTbtc: bigint;
  path: RedemptionPath | null;
  whyNot?: string;
}

export interface PlanPolicy {
  /** Redeem deposits whose collateralization is below this percentage. */
  redeemBelowPct: number;
  feeSats: bigint;
  /** Deposits named explicitly: ignore the collateral threshold. */
  ignoreThreshold?: boolean;
}

export interface PlannedRedemption {
  address: string;
  path: RedemptionPath;
  state: number;
  lotSats: bigint;
  utxoSats: bigint;
  costTbtc: bigint;
  feeSats: bigint;
  outputValueSats: bigint;
  collateralPct: number;
  courtesyDeadline: number | null;
}

export interface Plan {
  /** In execution order, most at risk first. */
  funded: PlannedRedemption[];
  /** Eligible but the TBTC ran out; shortfall = what was missing when it was considered. */
  unfunded: (PlannedRedemption & { shortfallTbtc: bigint })[];
  skipped: { address: string; reason: string }[];
  availableTbtc: bigint;
  totalCostTbtc: bigint;
  remainingTbtc: bigint;
}

/** Most at risk first: lowest collateralization, then nearest courtesy deadline, then larger lot. */
export function byRisk(a: Candidate, b: Candidate): number {
  if (a.collateralPct !== b.collateralPct) return a.collateralPct - b.collateralPct;
  const da = a.courtesyDeadline ?? Number.POSITIVE_INFINITY;
  const db = b.courtesyDeadline ?? Number.POSITIVE_INFINITY;
  if (da !== db) return da < db ? -1 : 1;
  if (a.lotSats !== b.lotSats) return a.lotSats > b.lotSats ? -1 : 1;
  return a.address.toLowerCase() < b.address.toLowerCase() ? -1 : a.address.toLowerCase() > b.address.toLowerCase() ? 1 : 0;
}

/** Why this fee cannot be used for a UTXO of `utxoSats`, or undefined when it can. */
export function feeProblem(feeSats: bigint, utxoSats: bigint): string | undefined {
  if (feeSats < MIN_REDEMPTION_FEE_SATS) return `fee ${feeSats} sat is below the contract's minimum of ${MIN_REDEMPTION_FEE_SATS} sat`;
  if (feeSats * 2n >= utxoSats) return `fee ${feeSats} sat must be less than half the deposit's UTXO (${utxoSats} sat)`;
  return undefined;
}

/**
 * Orders eligible deposits by risk and spends `availableTbtc` greedily: a deposit that does not
 * fit is reported unfunded and the next (possibly smaller) one is tried.
 */
export function planRedemptions(candidates: Candidate[], availableTbtc: bigint, policy: PlanPolicy): Plan {
  const skipped: Plan["skipped"] = [];
  const eligible: Candidate[] = [];
  const seen = new Set<string>();
  for (const c of candidates) {
    const key = c.address.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    if (!c.path) {
      skipped.push({ address: c.address, reason: c.whyNot ?? `state ${stateName(c.state)} cannot be redeemed` });
      continue;
    }
    if (!policy.ignoreThreshold && !(c.collateralPct < policy.redeemBelowPct)) {
      skipped.push({ address: c.address, reason: `collateralization ${c.collateralPct.toFixed(2)}% is not below ${policy.redeemBelowPct}%` });
      continue;
    }
    const problem = feeProblem(policy.feeSats, c.utxoSats);
    if (problem) {
      skipped.push({ address: c.address, reason: problem });
      continue;
    }
    eligible.push(c);
  }
  eligible.sort(byRisk);

  let remaining = availableTbtc;
  const funded: PlannedRedemption[] = [];
  const unfunded: Plan["unfunded"] = [];
  for (const c of eligible) {
    const item: PlannedRedemption = {
      address: c.address,
      path: c.path as RedemptionPath,
      state: c.state,
      lotSats: c.lotSats,
      utxoSats: c.utxoSats,
      costTbtc: c.costTbtc,
      feeSats: policy.feeSats,
      outputValueSats: c.utxoSats - policy.feeSats,
      collateralPct: c.collateralPct,
      courtesyDeadline: c.courtesyDeadline,
    };
    if (c.costTbtc <= remaining) {
      funded.push(item);
      remaining -= c.costTbtc;
    } else {
      unfunded.push({ ...item, shortfallTbtc: c.costTbtc - remaining });
    }
  }
  return { funded, unfunded, skipped, availableTbtc, totalCostTbtc: availableTbtc - remaining, remainingTbtc: remaining };
}

/** The `bytes8` little-endian output value tBTC takes, 0x-hex. */
export function outputValueBytes8LE(sats: bigint): string {
  if (sats < 0n || sats >= 1n << 64n) throw new RangeError(`output value ${sats} does not fit 8 bytes`);
  let hex = "";
  for (let i = 0n; i < 8n; i++) hex += Number((sats >> (8n * i)) & 0xffn).toString(16).padStart(2, "0");
  return "0x" + hex;
}
