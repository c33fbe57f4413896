import { FP_ONE, fpMul } from "./fixed-point";
import { CONTRACT_STATE_OPEN, DEFAULT_CR_THRESHOLD, isUndercollateralized, scalePrice } from "./liquidation-strategy";
import { liquidatorTriggerRatio, ratioAtPrice } from "./position-math";

/**
 * The position guard's decision (keepctl emp-guard): keep the sponsor's ratio — collateral net of a
 * pending withdrawal, as the liquidators count it, over tokens × price — at or above the target,
 * from the wallet's collateral (deposit) and/or synthetic tokens (repay). Numbers in, one plan
 * out; every comparison exact (both sides scaled to 1e36), so "at the target" means at it.
 */
export type GuardPreference = "deposit" | "repay";

/** The floor's margin over the collateral requirement: a target must be at least CR × 1.05. */
export const DEFAULT_GUARD_MARGIN = 5n * 10n ** 16n;
/** Warn when the wallet could not hold the target through a price rise of this much (10 %). */
export const DEFAULT_GUARD_RUNWAY = 10n ** 17n;

export interface GuardConfig {
  /** The ratio to keep (1e18 = 1.0), e.g. 1.5. */
  target: bigint;
  prefer: GuardPreference;
  margin?: bigint;
  /** The liquidators' price shading (for the trigger and the alert level). */
  crThreshold?: bigint;
  runway?: bigint;
}

export interface GuardInput {
  /** Fee-adjusted collateral, tokens and the pending request (passTimestamp 0: none). */
  position: { collateral: bigint; tokensOutstanding: bigint; withdrawalRequestAmount: bigint; withdrawalRequestPassTimestamp: bigint };
  /** The feed's price; null when none is known. */
  price: bigint | null;
  params: { collateralRequirement: bigint; minSponsorTokens: bigint; expirationTimestamp: bigint };
  contractState: number;
  now: bigint;
  /** What the sponsor's wallet holds. */
  wallet: { collateral: bigint; synthetic: bigint };
  config: GuardConfig;
}

export interface GuardAlert {
  level: "warning" | "critical";
  /** unfunded: the wallet cannot reach the target now; low-funds: it could not after a price rise of `runway`. */
  reason: "unfunded" | "low-funds";
}

export interface GuardDecision {
  action: "hold" | "top-up" | "skip";
  reason: "at-target" | "below-target" | "expired" | "no-position" | "no-price" | "no-debt";
  /** The ratio now, a pending withdrawal counted as gone. */
  ratio: bigint | null;
  target: bigint;
  floor: bigint;
  /** The ratio below which the liquidators act at this price: CR × (1 − crThreshold). */
  trigger: bigint;
  /** The contract refuses deposits and repayments while a withdrawal is pending: cancel it first. */
  cancelWithdrawal: boolean;
  deposit: bigint;
  repay: bigint;
  ratioAfter: bigint | null;
  /** Collateral still missing to reach the target after the plan (0 when funded). */
  shortfall: bigint;
  /** The highest price at which the wallet and the position can still be brought to the target; null: no limit. */
  fundedUpTo: bigint | null;
  alert?: GuardAlert;
}

/** The least target the guard accepts: CR × (1 + margin). */
export function guardFloor(collateralRequirement: bigint, margin: bigint = DEFAULT_GUARD_MARGIN): bigint {
  return fpMul(collateralRequirement, FP_ONE + margin);
}

const SCALE = FP_ONE * FP_ONE;

/** Collateral to add so that c / (t × price) reaches the target. */
function depositNeeded(c: bigint, t: bigint, price: bigint, target: bigint): bigint {
  const need = (target * t * price + SCALE - 1n) / SCALE - c;
  return need > 0n ? need : 0n;
}

/** Tokens to burn so that c / (t × price) reaches the target. */
function repayNeeded(c: bigint, t: bigint, price: bigint, target: bigint): bigint {
  const need = t - (c * SCALE) / (target * price);
  return need > 0n ? need : 0n;
}

const min = (a: bigint, b: bigint) => (a < b ? a : b);

export function decideGuard(i: GuardInput): GuardDecision {
  const { position: p, params, config } = i;
  const crThreshold = config.crThreshold ?? DEFAULT_CR_THRESHOLD;
  const base = {
    target: config.target,
    floor: guardFloor(params.collateralRequirement, config.margin ?? DEFAULT_GUARD_MARGIN),
    trigger: liquidatorTriggerRatio(params.collateralRequirement, crThreshold),
    cancelWithdrawal: false, deposit: 0n, repay: 0n, shortfall: 0n, ratio: null, ratioAfter: null, fundedUpTo: null,
  };
  if (i.contractState !== CONTRACT_STATE_OPEN || i.now >= params.expirationTimestamp) return { ...base, action: "skip", reason: "expired" };
  if (p.collateral === 0n) return { ...base, action: "skip", reason: "no-position" };
  if (i.price === null || i.price === 0n) return { ...base, action: "skip", reason: "no-price" };
  const price = i.price;
  const t = p.tokensOutstanding;
  if (t === 0n) return { ...base, action: "hold", reason: "no-debt" };
  const pending = p.withdrawalRequestPassTimestamp !== 0n;
  const net = pending && p.withdrawalRequestAmount < p.collateral ? p.collateral - p.withdrawalRequestAmount : pending ? 0n : p.collateral;
  const ratio = ratioAtPrice(net, t, price);
  const repayCap = min(i.wallet.synthetic, t > params.minSponsorTokens ? t - params.minSponsorTokens : 0n);
  // Cancelling a pending request is always possible, so the wallet defends the gross collateral.
  const leastTokens = t - repayCap;
  const fundedUpTo = leastTokens === 0n ? null : ((p.collateral + i.wallet.collateral) * SCALE) / (config.target * leastTokens);
  const runwayAlert = (): GuardAlert | undefined =>
    fundedUpTo !== null && fundedUpTo < fpMul(price, FP_ONE + (config.runway ?? DEFAULT_GUARD_RUNWAY)) ? { level: "warning", reason: "low-funds" } : undefined;

  if (depositNeeded(net, t, price, config.target) === 0n) {
    return { ...base, action: "hold", reason: "at-target", ratio, ratioAfter: ratio, fundedUpTo, alert: runwayAlert() };
  }
  // Below the target. Deposits and repayments need the pending request gone first.
  const c0 = pending ? p.collateral : net;
  let deposit: bigint;
  let repay: bigint;
  if (config.prefer === "deposit") {
    deposit = min(i.wallet.collateral, depositNeeded(c0, t, price, config.target));
    repay = min(repayCap, repayNeeded(c0 + deposit, t, price, config.target));
  } else {
    repay = min(repayCap, repayNeeded(c0, t, price, config.target));
    deposit = min(i.wallet.collateral, depositNeeded(c0, t - repay, price, config.target));
  }
  const cAfter = c0 + deposit;
  const tAfter = t - repay;
  const shortfall = depositNeeded(cAfter, tAfter, price, config.target);
  let alert: GuardAlert | undefined;
  if (shortfall > 0n) {
    const stillLiquidatable = isUndercollateralized(tAfter, cAfter, scalePrice(price, crThreshold), params.collateralRequirement);
    alert = { level: stillLiquidatable ? "critical" : "warning", reason: "unfunded" };
  } else {
    alert = runwayAlert();
  }
  return {
    ...base, action: "top-up", reason: "below-target", ratio, cancelWithdrawal: pending, deposit, repay,
    ratioAfter: ratioAtPrice(cAfter, tAfter, price), shortfall, fundedUpTo, alert,
  };
}
