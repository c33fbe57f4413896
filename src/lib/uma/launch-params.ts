import { parseFixedStrict } from "../fixed-point";
import { FP_DECIMALS, FP_ONE } from "./fixed-point";

/**
 * The parameters of a new EMP (ExpiringMultiPartyCreator.Params) from a preset and the operator's
 * choices, and the Creator's own checks run before anything is sent. Pure.
 */
export interface LaunchChoices {
  priceIdentifier: string;
  collateralRequirement: string;
  disputeBondPercentage: string;
  sponsorDisputeRewardPercentage: string;
  disputerDisputeRewardPercentage: string;
  /** In synthetic tokens (decimal text); scaled by the collateral's decimals, as the Creator's tokens have them. */
  minSponsorTokens: string;
  withdrawalLiveness: number;
  liquidationLiveness: number;
}

/** The seed's RR-RAI-APR21 deployment (launch-emp's defaults with its disputer/sponsor rewards and size). */
export const RR_RAI_PRESET: LaunchChoices = {
  priceIdentifier: "RaiRedemptionRate",
  collateralRequirement: "1.25",
  disputeBondPercentage: "0.1",
  sponsorDisputeRewardPercentage: "0.05",
  disputerDisputeRewardPercentage: "0.2",
  minSponsorTokens: "100",
  withdrawalLiveness: 7200,
  liquidationLiveness: 7200,
};

export const LAUNCH_PRESETS: Record<string, LaunchChoices> = { "rr-rai": RR_RAI_PRESET };

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];

/** RR-RAI-APR21 for an expiry in April 2021 (UTC): the seed's naming. */
export function presetSymbol(expirationTimestamp: bigint): string {
  const d = new Date(Number(expirationTimestamp) * 1000);
  return `RR-RAI-${MONTHS[d.getUTCMonth()]}${String(d.getUTCFullYear() % 100).padStart(2, "0")}`;
}

export function presetName(expirationTimestamp: bigint): string {
  const d = new Date(Number(expirationTimestamp) * 1000);
  return `RAI Redemption Rate ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
}

/** createExpiringMultiParty's struct, every value as the contract takes it. */
export interface CreatorParams {
  expirationTimestamp: bigint;
  collateralAddress: string;
  /** bytes32 hex of the identifier text. */
  priceFeedIdentifier: string;
  syntheticName: string;
  syntheticSymbol: string;
  collateralRequirement: bigint;
  disputeBondPercentage: bigint;
  sponsorDisputeRewardPercentage: bigint;
  disputerDisputeRewardPercentage: bigint;
  minSponsorTokens: bigint;
  withdrawalLiveness: bigint;
  liquidationLiveness: bigint;
  financialProductLibraryAddress: string;
}

/** A liveness must be below 5200 weeks (ExpiringMultiPartyCreator._convertParams). */
export const MAX_LIVENESS = 5200n * 7n * 86400n;

/**
 * Why the Creator (or the EMP constructor it runs) would refuse these parameters, in words;
 * empty when it would not. `now` is the chain's latest block time.
 */
export function launchProblems(p: CreatorParams, now: bigint): string[] {
  const problems: string[] = [];
  if (p.syntheticName.trim() === "") problems.push("the synthetic token needs a name");
  if (p.syntheticSymbol.trim() === "") problems.push("the synthetic token needs a symbol");
  for (const [what, v] of [["withdrawal liveness", p.withdrawalLiveness], ["liquidation liveness", p.liquidationLiveness]] as const) {
    if (v === 0n || v >= MAX_LIVENESS) problems.push(`the ${what} must be more than 0 s and less than 5200 weeks, not ${v} s`);
  }
  if (p.expirationTimestamp <= now) problems.push(`the expiry ${new Date(Number(p.expirationTimestamp) * 1000).toISOString()} is not after the chain's time ${new Date(Number(now) * 1000).toISOString()}`);
  if (p.collateralRequirement <= FP_ONE) problems.push("the collateral requirement must be above 1");
  if (p.sponsorDisputeRewardPercentage + p.disputerDisputeRewardPercentage >= FP_ONE) problems.push("the sponsor and disputer dispute rewards must add up to less than 1");
  if (p.minSponsorTokens === 0n) problems.push("the minimum sponsor position must be more than 0 tokens");
  return problems;
}

/** The struct from choices: FixedPoint values at 18 decimals, minSponsorTokens at the collateral's. */
export function creatorParamsOf(c: LaunchChoices, o: { expirationTimestamp: bigint; collateralAddress: string; collateralDecimals: number; syntheticName: string; syntheticSymbol: string; identifierHex: string }): CreatorParams {
  const fp = (v: string) => parseFixedStrict(v, FP_DECIMALS);
  return {
    expirationTimestamp: o.expirationTimestamp,
    collateralAddress: o.collateralAddress,
    priceFeedIdentifier: o.identifierHex,
    syntheticName: o.syntheticName,
    syntheticSymbol: o.syntheticSymbol,
    collateralRequirement: fp(c.collateralRequirement),
    disputeBondPercentage: fp(c.disputeBondPercentage),
    sponsorDisputeRewardPercentage: fp(c.sponsorDisputeRewardPercentage),
    disputerDisputeRewardPercentage: fp(c.disputerDisputeRewardPercentage),
    minSponsorTokens: parseFixedStrict(c.minSponsorTokens, o.collateralDecimals),
    withdrawalLiveness: BigInt(c.withdrawalLiveness),
    liquidationLiveness: BigInt(c.liquidationLiveness),
    financialProductLibraryAddress: "0x0000000000000000000000000000000000000000",
  };
}
