import { CONTRACT_STATE_OPEN, isUndercollateralized, scalePrice } from "./liquidation-strategy";
import {
  collateralPerToken, feeAdjusted, globalCollateralRatio, liquidationPrice, liquidatorTriggerPrice, liquidatorTriggerRatio,
  maxInstantWithdrawal, maxMintable, maxMintableAtRequirement, maxWithdrawalAtRequirement, meetsGcr, netOfPending, ratioAtPrice,
  type EmpTotals, type RawPosition,
} from "./position-math";

/**
 * Everything `keepctl emp-position` shows about one position, from one snapshot of the chain:
 * numbers in (the EMP's parameters, totals and state, the position, a price), figures out.
 */
export interface PositionFiguresInput {
  position: RawPosition;
  totals: EmpTotals;
  params: { collateralRequirement: bigint; minSponsorTokens: bigint; expirationTimestamp: bigint };
  contractState: number;
  /** Contract time (getCurrentTime). */
  now: bigint;
  /** The feed's price (1e18 = 1.0); null when none is known. */
  price: bigint | null;
  /** The liquidators' price shading (0.02 for keepctl's and UMA's bots). */
  crThreshold: bigint;
}

export interface PositionFigures {
  exists: boolean;
  expired: boolean;
  /** Fee-adjusted collateral (what the contract counts). */
  collateral: bigint;
  /** Collateral less a pending withdrawal: what backs the tokens once the request passes. */
  netCollateral: bigint;
  tokens: bigint;
  pendingWithdrawal: { amount: bigint; passTimestamp: bigint; passed: boolean } | null;
  /** Collateral per token (no price), the figure the contract compares with the GCR. */
  collateralPerToken: bigint;
  gcr: bigint;
  /** collateralPerToken ≥ GCR: an instant withdrawal or a mint at this ratio passes the GCR rule. */
  atOrAboveGcr: boolean;
  /** netCollateral ÷ (tokens × price). */
  ratio: bigint | null;
  /** The GCR at the price (emp-tools' "priced GCR"). */
  gcrAtPrice: bigint | null;
  collateralRequirement: bigint;
  liquidationPrice: bigint | null;
  liquidatorTriggerRatio: bigint;
  liquidatorTriggerPrice: bigint | null;
  /** The liquidators (shading the price by crThreshold) would liquidate it at the price now: their own test. */
  liquidatable: boolean;
  /** Null: the GCR sets no limit. 0 while a withdrawal is pending or after expiry. */
  maxMintable: bigint | null;
  /** maxMintable kept at or above the collateral requirement at the price; null without a price. */
  maxMintableAtRequirement: bigint | null;
  maxInstantWithdrawal: bigint;
  /** What can leave with the ratio at the price still at the requirement (instant or by request). */
  maxWithdrawalAtRequirement: bigint | null;
}

export function positionFigures(i: PositionFiguresInput): PositionFigures {
  const { position: p, totals, params, price } = i;
  const m = totals.cumulativeFeeMultiplier;
  const collateral = feeAdjusted(p.rawCollateral, m);
  const pending = p.withdrawalRequestPassTimestamp !== 0n;
  const net = netOfPending(collateral, pending ? p.withdrawalRequestAmount : 0n);
  const tokens = p.tokensOutstanding;
  const expired = i.contractState !== CONTRACT_STATE_OPEN || i.now >= params.expirationTimestamp;
  const gcr = globalCollateralRatio(totals);
  const ratio = price === null ? null : ratioAtPrice(net, tokens, price);
  const trigger = liquidatorTriggerRatio(params.collateralRequirement, i.crThreshold);
  const blocked = pending || expired;
  const mintable = blocked ? 0n : maxMintable(collateral, tokens, gcr);
  const atRequirement = price === null ? null : maxMintableAtRequirement(net, tokens, price, params.collateralRequirement);
  return {
    exists: collateral > 0n,
    expired,
    collateral,
    netCollateral: net,
    tokens,
    pendingWithdrawal: pending ? { amount: p.withdrawalRequestAmount, passTimestamp: p.withdrawalRequestPassTimestamp, passed: p.withdrawalRequestPassTimestamp <= i.now } : null,
    collateralPerToken: collateralPerToken(collateral, tokens),
    gcr,
    atOrAboveGcr: meetsGcr(collateral, tokens, gcr),
    ratio,
    gcrAtPrice: price === null || price === 0n ? null : (gcr * 10n ** 18n) / price,
    collateralRequirement: params.collateralRequirement,
    liquidationPrice: liquidationPrice(net, tokens, params.collateralRequirement),
    liquidatorTriggerRatio: trigger,
    liquidatorTriggerPrice: liquidatorTriggerPrice(net, tokens, params.collateralRequirement, i.crThreshold),
    liquidatable: price !== null && isUndercollateralized(tokens, net, scalePrice(price, i.crThreshold), params.collateralRequirement),
    maxMintable: mintable,
    maxMintableAtRequirement: mintable === null ? atRequirement : atRequirement === null ? mintable : (atRequirement < mintable ? atRequirement : mintable),
    maxInstantWithdrawal: blocked ? 0n : maxInstantWithdrawal(p, gcr, m),
    maxWithdrawalAtRequirement: price === null || expired ? null : maxWithdrawalAtRequirement(net, tokens, price, params.collateralRequirement),
  };
}

/** For cron (exit 10): the ratio at the price is below `threshold`. No position, no price: not below. */
export function belowThreshold(f: Pick<PositionFigures, "ratio">, threshold: bigint): boolean {
  return f.ratio !== null && f.ratio < threshold;
}
