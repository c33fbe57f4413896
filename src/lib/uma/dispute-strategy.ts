import { FP_ONE, fpMul } from "./fixed-point";
import { DEFAULT_CR_THRESHOLD, isUndercollateralized } from "./liquidation-strategy";

/**
 * Pure dispute decisions, modelled on UMA's disputer bot: a liquidation is wrong when the position
 * was NOT undercollateralized at the price in force at liquidationTime. No network.
 */

/** Seconds to wait after a liquidation before disputing, so the price feed has caught up with it. */
export const DEFAULT_DISPUTE_DELAY = 60n;

/** Liquidation states as stored in the EMP. */
export const LiquidationState = {
  Uninitialized: 0,
  NotDisputed: 1,
  Disputed: 2,
  DisputeSucceeded: 3,
  DisputeFailed: 4,
} as const;

export interface LiquidationSnapshot {
  sponsor: string;
  /** Index in getLiquidations(sponsor). */
  id: bigint;
  state: number;
  liquidator: string;
  disputer: string;
  liquidationTime: bigint;
  tokensOutstanding: bigint;
  lockedCollateral: bigint;
  liquidatedCollateral: bigint;
}

export interface EmpDisputeParams {
  collateralRequirement: bigint;
  liquidationLiveness: bigint;
  disputeBondPercentage: bigint;
}

export interface DisputeConfig {
  crThreshold?: bigint;
  /**
   * Scale the historical price up by (1 + crThreshold) before judging, as later UMA disputers do,
   * so a liquidation that is right within rounding is not disputed (losing the bond). Default true.
   */
  scalePrice?: boolean;
  disputeDelay?: bigint;
}

export type DisputeReason =
  | "wrong-liquidation" // dispute
  | "correct-liquidation"
  | "not-disputable-state"
  | "liveness-passed"
  | "too-early"
  | "outside-lookback";

export interface DisputeDecision {
  action: "dispute" | "skip";
  sponsor: string;
  liquidationId: bigint;
  liquidationTime: bigint;
  /** Price used for the judgement (after scaling); null when none was available. */
  price: bigint | null;
  /** Collateral the dispute locks: lockedCollateral × disputeBondPercentage (final fee not included). */
  bond: bigint;
  reason: DisputeReason;
}

export interface DecideDisputeInput {
  liquidation: LiquidationSnapshot;
  /** Historical price at liquidationTime; null/undefined when the feed cannot look back that far. */
  priceAtLiquidation: bigint | null | undefined;
  /** Contract time (getCurrentTime). */
  now: bigint;
  params: EmpDisputeParams;
  config?: DisputeConfig;
}

export function decideDispute(input: DecideDisputeInput): DisputeDecision {
  const { liquidation: l, params } = input;
  const cfg = input.config ?? {};
  const base = {
    sponsor: l.sponsor,
    liquidationId: l.id,
    liquidationTime: l.liquidationTime,
    bond: fpMul(l.lockedCollateral, params.disputeBondPercentage),
  };
  const skip = (reason: DisputeReason, price: bigint | null = null): DisputeDecision => ({ ...base, action: "skip", price, reason });

  const blocked = disputeWindowBlocker(l, input.now, params, cfg);
  if (blocked) return skip(blocked);
  if (input.priceAtLiquidation === null || input.priceAtLiquidation === undefined) return skip("outside-lookback");

  const threshold = cfg.crThreshold ?? DEFAULT_CR_THRESHOLD;
  const price = cfg.scalePrice === false ? input.priceAtLiquidation : fpMul(input.priceAtLiquidation, FP_ONE + threshold);
  if (isUndercollateralized(l.tokensOutstanding, l.liquidatedCollateral, price, params.collateralRequirement)) {
    return skip("correct-liquidation", price);
  }
  return { ...base, action: "dispute", price, reason: "wrong-liquidation" };
}

/** Why a liquidation cannot be disputed right now regardless of price, or null when it can be judged. */
function disputeWindowBlocker(l: LiquidationSnapshot, now: bigint, params: EmpDisputeParams, cfg: DisputeConfig): DisputeReason | null {
  if (l.state !== LiquidationState.NotDisputed) return "not-disputable-state";
  // The contract refuses disputes once liveness has run out (liquidationTime + liveness <= now).
  if (now >= l.liquidationTime + params.liquidationLiveness) return "liveness-passed";
  if (now < l.liquidationTime + (cfg.disputeDelay ?? DEFAULT_DISPUTE_DELAY)) return "too-early";
  return null;
}

export interface PlanDisputesInput extends Omit<DecideDisputeInput, "liquidation" | "priceAtLiquidation"> {
  liquidations: LiquidationSnapshot[];
  /** Historical price lookup; return null when `time` is outside the feed's lookback. */
  priceAt: (time: bigint) => bigint | null | undefined;
}

/** One decision per liquidation; prices are looked up only for liquidations that could be disputed. */
export function planDisputes(input: PlanDisputesInput): DisputeDecision[] {
  return input.liquidations.map((liquidation) => {
    const blocked = disputeWindowBlocker(liquidation, input.now, input.params, input.config ?? {});
    const price = blocked ? null : input.priceAt(liquidation.liquidationTime);
    return decideDispute({ ...input, liquidation, priceAtLiquidation: price });
  });
}

export type RewardRole = "liquidator" | "disputer";

/**
 * Liquidations where `account` may have something to collect with withdrawLiquidation: as liquidator,
 * undisputed ones past liveness and any disputed one; as disputer, the ones it disputed. Whether the
 * call pays anything (the oracle may not have resolved yet) is for a simulation to say.
 */
export function withdrawalCandidates(liquidations: LiquidationSnapshot[], account: string, role: RewardRole, now: bigint, liquidationLiveness: bigint): LiquidationSnapshot[] {
  const me = account.toLowerCase();
  const disputed = (s: number) => s === LiquidationState.Disputed || s === LiquidationState.DisputeSucceeded || s === LiquidationState.DisputeFailed;
  return liquidations.filter((l) => {
    if (role === "disputer") return l.disputer.toLowerCase() === me && disputed(l.state);
    if (l.liquidator.toLowerCase() !== me) return false;
    if (l.state === LiquidationState.NotDisputed) return now >= l.liquidationTime + liquidationLiveness;
    return disputed(l.state);
  });
}
