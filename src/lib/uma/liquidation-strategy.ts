import { FP_ONE, fpMul } from "./fixed-point";

/**
 * Pure liquidation decisions for an ExpiringMultiParty, modelled on UMA's own liquidator bot.
 * All amounts are 18-decimal fixed point (1e18 = 1.0) and times are unix seconds; no network.
 */

/** 0.02: the price is shaded down 2 % so that rounding or a slightly stale feed never liquidates a healthy position. */
export const DEFAULT_CR_THRESHOLD = 2n * 10n ** 16n;
/** The EMP has no funding rate, so the multiplier is exactly 1.0. */
export const DEFAULT_FUNDING_MULTIPLIER = FP_ONE;
/** Seconds a liquidation transaction may wait in the mempool before the contract refuses it. */
export const DEFAULT_LIQUIDATION_DEADLINE = 300n;

/** EMP contract state: 0 Open, 1 ExpiredPriceRequested, 2 ExpiredPriceReceived. */
export const CONTRACT_STATE_OPEN = 0;

export interface EmpLiquidationParams {
  collateralRequirement: bigint;
  minSponsorTokens: bigint;
  withdrawalLiveness: bigint;
  expirationTimestamp: bigint;
  /** Defaults to Open. */
  contractState?: number;
}

export interface PositionSnapshot {
  sponsor: string;
  tokensOutstanding: bigint;
  /** Fee-adjusted: rawCollateral × cumulativeFeeMultiplier / 1e18. */
  collateral: bigint;
  withdrawalRequestAmount: bigint;
  /** 0 when no withdrawal is pending. */
  withdrawalRequestPassTimestamp: bigint;
}

export interface LiquidationConfig {
  crThreshold?: bigint;
  fundingMultiplier?: bigint;
  liquidationDeadline?: bigint;
  minCollateralPerToken?: bigint;
  /** Upper bound on tokens per liquidation, besides the bot's balance. */
  maxTokensToLiquidate?: bigint;
  /** 0–100: share of the withdrawal liveness after which a partial whale liquidation is forced. */
  defenseActivationPercent?: number;
}

export type LiquidationReason =
  | "undercollateralized" // liquidate the whole position
  | "partial" // liquidate as much as balance/max allow, leaving >= minSponsorTokens
  | "whale-defense" // liquidate minSponsorTokens to reset a pending withdrawal's clock
  | "collateralized"
  | "own-position"
  | "empty-position"
  | "contract-expired"
  | "insufficient-balance";

export interface LiquidationDecision {
  action: "liquidate" | "skip";
  sponsor: string;
  /** maxTokensToLiquidate to pass to createLiquidation; 0 on skip. */
  tokens: bigint;
  minCollateralPerToken: bigint;
  maxCollateralPerToken: bigint;
  /** Contract time + liquidationDeadline. */
  deadline: bigint;
  reason: LiquidationReason;
  /** Collateral counted for the check: collateral − pending withdrawal. */
  collateralNetOfWithdrawal: bigint;
}

/** price × (1 − crThreshold), floored. */
export function scalePrice(price: bigint, crThreshold: bigint = DEFAULT_CR_THRESHOLD): bigint {
  if (crThreshold < 0n || crThreshold >= FP_ONE) throw new RangeError("crThreshold must be in [0, 1)");
  return fpMul(price, FP_ONE - crThreshold);
}

/** scaledPrice × collateralRequirement × fundingMultiplier, each product floored. */
export function maxCollateralPerToken(scaledPrice: bigint, collateralRequirement: bigint, fundingMultiplier: bigint = DEFAULT_FUNDING_MULTIPLIER): bigint {
  return fpMul(fpMul(scaledPrice, collateralRequirement), fundingMultiplier);
}

/** Pending withdrawals count as already gone; never negative. */
export function collateralNetOfWithdrawal(p: Pick<PositionSnapshot, "collateral" | "withdrawalRequestAmount">): bigint {
  return p.collateral > p.withdrawalRequestAmount ? p.collateral - p.withdrawalRequestAmount : 0n;
}

/**
 * tokens × price × CR > collateral, compared exactly (both sides scaled to 1e36) so that a position
 * exactly at the requirement is NOT undercollateralized.
 */
export function isUndercollateralized(tokens: bigint, collateral: bigint, price: bigint, collateralRequirement: bigint): boolean {
  return tokens * price * collateralRequirement > collateral * FP_ONE * FP_ONE;
}

/**
 * How many tokens the bot can liquidate: the whole position when balance (and max) allow, else a
 * partial amount that leaves at least minSponsorTokens (the contract refuses a smaller remainder).
 */
export function tokensToLiquidate(a: { positionTokens: bigint; available: bigint; minSponsorTokens: bigint }): bigint {
  if (a.available >= a.positionTokens) return a.positionTokens;
  if (a.positionTokens - a.available >= a.minSponsorTokens) return a.available;
  const leavingMinimum = a.positionTokens - a.minSponsorTokens;
  return leavingMinimum > 0n ? leavingMinimum : 0n;
}

export interface DecideLiquidationInput {
  position: PositionSnapshot;
  /** Current price of one synthetic token in collateral (1e18 = 1.0), before shading. */
  price: bigint;
  /** Contract time (getCurrentTime). */
  now: bigint;
  params: EmpLiquidationParams;
  /** The bot's own address: its position is never liquidated. */
  botAddress: string;
  /** The bot's synthetic-token balance available to burn. */
  syntheticBalance: bigint;
  config?: LiquidationConfig;
}

export function decideLiquidation(input: DecideLiquidationInput): LiquidationDecision {
  const cfg = input.config ?? {};
  const { position: p, params } = input;
  const scaled = scalePrice(input.price, cfg.crThreshold ?? DEFAULT_CR_THRESHOLD);
  const maxCpt = maxCollateralPerToken(scaled, params.collateralRequirement, cfg.fundingMultiplier ?? DEFAULT_FUNDING_MULTIPLIER);
  const net = collateralNetOfWithdrawal(p);
  const base = {
    sponsor: p.sponsor,
    minCollateralPerToken: cfg.minCollateralPerToken ?? 0n,
    maxCollateralPerToken: maxCpt,
    deadline: input.now + (cfg.liquidationDeadline ?? DEFAULT_LIQUIDATION_DEADLINE),
    collateralNetOfWithdrawal: net,
  };
  const skip = (reason: LiquidationReason): LiquidationDecision => ({ ...base, action: "skip", tokens: 0n, reason });

  if ((params.contractState ?? CONTRACT_STATE_OPEN) !== CONTRACT_STATE_OPEN || input.now >= params.expirationTimestamp) return skip("contract-expired");
  if (p.sponsor.toLowerCase() === input.botAddress.toLowerCase()) return skip("own-position");
  if (p.tokensOutstanding === 0n) return skip("empty-position");
  if (!isUndercollateralized(p.tokensOutstanding, net, scaled, params.collateralRequirement)) return skip("collateralized");

  const cap = cfg.maxTokensToLiquidate !== undefined && cfg.maxTokensToLiquidate < input.syntheticBalance ? cfg.maxTokensToLiquidate : input.syntheticBalance;
  const tokens = tokensToLiquidate({ positionTokens: p.tokensOutstanding, available: cap, minSponsorTokens: params.minSponsorTokens });
  if (tokens === p.tokensOutstanding) return { ...base, action: "liquidate", tokens, reason: "undercollateralized" };

  if (whaleDefenseActive(p, input.now, params, cfg.defenseActivationPercent, cap)) {
    return { ...base, action: "liquidate", tokens: params.minSponsorTokens, reason: "whale-defense" };
  }
  // With a defence configured, UMA's bot waits for the activation point rather than nibbling
  // early, so that one minimal liquidation resets the clock at the right moment.
  if (cfg.defenseActivationPercent !== undefined && p.withdrawalRequestPassTimestamp > 0n) return skip("insufficient-balance");
  if (tokens === 0n) return skip("insufficient-balance");
  return { ...base, action: "liquidate", tokens, reason: "partial" };
}

/**
 * A sponsor with a pending withdrawal the bot cannot liquidate in full: once the withdrawal has run
 * `percent` of its liveness, liquidating exactly minSponsorTokens restarts its clock.
 */
function whaleDefenseActive(p: PositionSnapshot, now: bigint, params: EmpLiquidationParams, percent: number | undefined, cap: bigint): boolean {
  if (percent === undefined || p.withdrawalRequestPassTimestamp === 0n) return false;
  if (!(percent >= 0 && percent <= 100)) throw new RangeError("defenseActivationPercent must be between 0 and 100");
  const min = params.minSponsorTokens;
  if (cap < min || p.tokensOutstanding - min < min) return false;
  const start = p.withdrawalRequestPassTimestamp - params.withdrawalLiveness;
  // percent in basis points of a percent, so 12.5 % stays exact.
  const activation = start + (params.withdrawalLiveness * BigInt(Math.round(percent * 100))) / 10000n;
  return now >= activation;
}

export interface PlanLiquidationsInput extends Omit<DecideLiquidationInput, "position"> {
  positions: PositionSnapshot[];
}

/**
 * One decision per position, in the order given; the balance spent on each liquidation is no longer
 * available to the next.
 */
export function planLiquidations(input: PlanLiquidationsInput): LiquidationDecision[] {
  let balance = input.syntheticBalance;
  return input.positions.map((position) => {
    const d = decideLiquidation({ ...input, position, syntheticBalance: balance });
    if (d.action === "liquidate") balance -= d.tokens;
    return d;
  });
}
