import { ethers } from "ethers";
import { requireContractCode } from "../chain/code";
import { ConfigError } from "../errors";
import { formatFixedTrimmed } from "../fixed-point";
import {
  ADDRESS_WHITELIST_ABI, CREATOR_ABI, FINDER_ABI, FINDER_KEYS, IDENTIFIER_WHITELIST_ABI, REGISTRY_ABI, REGISTRY_CONTRACT_CREATOR_ROLE, STORE_ABI,
} from "./governance-abi";
import type { CreatorParams } from "./launch-params";

/**
 * What UMA's governance must have done before an ExpiringMultiPartyCreator can make an EMP on a
 * chain: the Finder knows the whitelists, the Registry, the Store and the Optimistic Oracle; the
 * identifier and the collateral are whitelisted; the Creator holds the Registry's ContractCreator
 * role. Checked by reading, so a missing step is named (exit 3) instead of a revert.
 */
export const creatorInterface = new ethers.Interface(CREATOR_ABI);

export interface GovernanceFacts {
  finder: string;
  contracts: Partial<Record<keyof typeof FINDER_KEYS, string>>;
  identifierSupported?: boolean;
  collateralWhitelisted?: boolean;
  creatorRegistered?: boolean;
  /** The Store's final fee for the collateral: the bond of every liquidation, dispute and expiry request. */
  finalFee?: bigint;
  collateralDecimals: number;
  /** Each missing step in words. */
  missing: string[];
}

const ERC20_DECIMALS = ["function decimals() view returns (uint8)"];

async function finderEntry(finder: ethers.Contract, name: string): Promise<string | undefined> {
  try {
    const a = (await finder.getImplementationAddress(ethers.encodeBytes32String(name))) as string;
    return a === ethers.ZeroAddress ? undefined : ethers.getAddress(a);
  } catch {
    return undefined; // Finder: "Implementation not found"
  }
}

export async function checkGovernance(provider: ethers.Provider, o: { creator: string; finder: string; identifier: string; collateral: string }): Promise<GovernanceFacts> {
  await requireContractCode(provider, o.creator, "ExpiringMultiPartyCreator", "check --creator (contracts.ExpiringMultiPartyCreator)");
  await requireContractCode(provider, o.finder, "Finder", "check --finder (contracts.UmaFinder)");
  await requireContractCode(provider, o.collateral, "collateral token", "check --collateral");
  const finder = new ethers.Contract(o.finder, FINDER_ABI, provider);
  const names = Object.keys(FINDER_KEYS) as (keyof typeof FINDER_KEYS)[];
  const found = await Promise.all(names.map((n) => finderEntry(finder, FINDER_KEYS[n])));
  const contracts = Object.fromEntries(names.map((n, i) => [n, found[i]]).filter(([, a]) => a)) as GovernanceFacts["contracts"];
  const decimals = await new ethers.Contract(o.collateral, ERC20_DECIMALS, provider).decimals().then((d: bigint) => Number(d), () => 18);
  const facts: GovernanceFacts = { finder: o.finder, contracts, collateralDecimals: decimals, missing: [] };
  const need = ["IdentifierWhitelist", "CollateralWhitelist", "Registry", "Store", "OptimisticOracle"] as const;
  for (const n of need) if (!contracts[n]) facts.missing.push(`the Finder ${o.finder} has no "${FINDER_KEYS[n]}": UMA governance registers one (changeImplementationAddress) before any EMP works on this chain`);
  const reads: Promise<void>[] = [];
  const id = ethers.encodeBytes32String(o.identifier);
  if (contracts.IdentifierWhitelist) {
    reads.push(new ethers.Contract(contracts.IdentifierWhitelist, IDENTIFIER_WHITELIST_ABI, provider).isIdentifierSupported(id).then((ok: boolean) => {
      facts.identifierSupported = ok;
      if (!ok) facts.missing.push(`the price identifier "${o.identifier}" is not on UMA's IdentifierWhitelist ${contracts.IdentifierWhitelist}: it must be approved by a UMIP vote of UMA governance first`);
    }));
  }
  if (contracts.CollateralWhitelist) {
    reads.push(new ethers.Contract(contracts.CollateralWhitelist, ADDRESS_WHITELIST_ABI, provider).isOnWhitelist(o.collateral).then((ok: boolean) => {
      facts.collateralWhitelisted = ok;
      if (!ok) facts.missing.push(`the collateral ${o.collateral} is not on UMA's CollateralWhitelist ${contracts.CollateralWhitelist}: it must be approved by a UMIP vote (with a Store final fee) first`);
    }));
  }
  if (contracts.Registry) {
    reads.push(new ethers.Contract(contracts.Registry, REGISTRY_ABI, provider).holdsRole(REGISTRY_CONTRACT_CREATOR_ROLE, o.creator).then((ok: boolean) => {
      facts.creatorRegistered = ok;
      if (!ok) facts.missing.push(`the Creator ${o.creator} does not hold the Registry's ContractCreator role (${contracts.Registry}): UMA governance grants it (Registry.addMember(1, creator)); without it the EMP cannot be registered`);
    }));
  }
  if (contracts.Store) {
    reads.push(new ethers.Contract(contracts.Store, STORE_ABI, provider).computeFinalFee(o.collateral).then((f: { rawValue: bigint }) => { facts.finalFee = f.rawValue; }));
  }
  await Promise.all(reads);
  return facts;
}

/** Exit 3 naming every missing governance step. */
export function governanceError(facts: GovernanceFacts): ConfigError {
  return new ConfigError(`this chain is not ready for the EMP: ${facts.missing.join("; ")}`, {
    code: "GOVERNANCE_STEP_MISSING",
    hint: "docs/emp-sponsor.md (Launch) lists the governance steps; on the devnet they are all taken",
  });
}

/** createExpiringMultiParty calldata. */
export function encodeCreateEmp(creator: string, p: CreatorParams): { to: string; data: string } {
  const raw = (v: bigint) => ({ rawValue: v });
  return {
    to: ethers.getAddress(creator),
    data: creatorInterface.encodeFunctionData("createExpiringMultiParty", [{
      expirationTimestamp: p.expirationTimestamp,
      collateralAddress: p.collateralAddress,
      priceFeedIdentifier: p.priceFeedIdentifier,
      syntheticName: p.syntheticName,
      syntheticSymbol: p.syntheticSymbol,
      collateralRequirement: raw(p.collateralRequirement),
      disputeBondPercentage: raw(p.disputeBondPercentage),
      sponsorDisputeRewardPercentage: raw(p.sponsorDisputeRewardPercentage),
      disputerDisputeRewardPercentage: raw(p.disputerDisputeRewardPercentage),
      minSponsorTokens: raw(p.minSponsorTokens),
      withdrawalLiveness: p.withdrawalLiveness,
      liquidationLiveness: p.liquidationLiveness,
      financialProductLibraryAddress: p.financialProductLibraryAddress,
    }]),
  };
}

/** The EMP a creation receipt announced (CreatedExpiringMultiParty). */
export function createdEmpOf(receipt: ethers.TransactionReceipt, creator: string): string | undefined {
  for (const log of receipt.logs) {
    if (log.address.toLowerCase() !== creator.toLowerCase()) continue;
    const ev = creatorInterface.parseLog(log);
    if (ev?.name === "CreatedExpiringMultiParty") return ethers.getAddress(ev.args.expiringMultiPartyAddress as string);
  }
  return undefined;
}

export const feeText = (v: bigint | undefined, decimals: number) => (v === undefined ? "unknown" : formatFixedTrimmed(v, decimals));
