import type { ethers } from "ethers";
import { type RaiDeployment, type SeededRate, deployRai, sampleRates, seedRateHistory } from "./rai";
import { type SubgraphServer, startSubgraphServer } from "./subgraph-server";
import { type EmpDeployment, type EmpSeed, deployEmp, seedSponsors } from "./uma";

/**
 * The non-tBTC parts of `keepctl devnet`: the RAI doubles with a seeded redemption-rate history,
 * a loopback subgraph indexing it, and a UMA EMP with sponsors and bot wallets. Kept apart from
 * scenario.ts so the tBTC-only devnet the tests use stays as cheap as before.
 */

/** Rate updates 3 h apart (the RateSetter's delay); 4 of them span 12 h, more than the 8 h TWAP window. */
export const RAI_SEED = { count: 4, intervalSec: 3 * 3600 } as const;

/**
 * EMP accounts start at hardhat account 10, clear of the tBTC scenario's accounts 0..6, so an
 * operator's wallet is never also a sponsor. 4 sponsors + the reference case, then liquidator, disputer.
 */
export const EMP_FIRST_ACCOUNT_INDEX = 10;

export interface RaiPlayground {
  deployment: RaiDeployment;
  rates: SeededRate[];
  subgraph: SubgraphServer;
}

export interface EmpPlayground {
  deployment: EmpDeployment;
  seed: EmpSeed;
}

/** Deploys RAI and seeds its history (moves the chain clock forward by count * interval), then serves the subgraph. */
export async function startRaiPlayground(signer: ethers.Signer, rpcUrl: string, subgraphPort?: number): Promise<RaiPlayground> {
  const deployment = await deployRai(signer);
  const rates = await seedRateHistory(deployment, { count: RAI_SEED.count, intervalSec: RAI_SEED.intervalSec, rates: sampleRates(RAI_SEED.count) });
  const subgraph = await startSubgraphServer({ rpcUrl, rateSetter: deployment.addresses.RateSetter, port: subgraphPort });
  return { deployment, rates, subgraph };
}

/** Deploys the UMA EMP (no time travel) and opens the sponsors' positions. */
export async function startEmpPlayground(signer: ethers.Signer, provider: ethers.JsonRpcProvider): Promise<EmpPlayground> {
  const deployment = await deployEmp(signer);
  const seed = await seedSponsors(deployment, provider, { firstIndex: EMP_FIRST_ACCOUNT_INDEX });
  return { deployment, seed };
}

/** What the deployment file gains: contract names config.ts reads, plus the accounts to play with. */
export interface PlaygroundFileParts {
  contracts: Record<string, string>;
  subgraphUrl?: string;
  rai?: { deploymentBlock: number; rates: Array<{ perSecondRate: string; timestamp: number; block: number }> };
  emp?: {
    priceIdentifier: string;
    deployBlock: number;
    expirationTimestamp: number;
    /** Hardhat mnemonic account indexes (public test keys) of the sponsors and the two bots. */
    sponsors: Array<{ label: string; accountIndex: number; address: string; tokens: string; collateral: string; pendingWithdrawal: string }>;
    liquidator: { accountIndex: number; address: string };
    disputer: { accountIndex: number; address: string };
  };
}

export function playgroundFileParts(rai?: RaiPlayground, emp?: EmpPlayground): PlaygroundFileParts {
  const parts: PlaygroundFileParts = { contracts: {} };
  if (rai) {
    Object.assign(parts.contracts, rai.deployment.addresses);
    parts.subgraphUrl = rai.subgraph.url;
    parts.rai = {
      deploymentBlock: rai.deployment.deploymentBlock,
      rates: rai.rates.map((r) => ({ perSecondRate: r.perSecondRate.toString(), timestamp: r.timestamp, block: r.block })),
    };
  }
  if (emp) {
    const a = emp.deployment.addresses;
    Object.assign(parts.contracts, {
      ExpiringMultiParty: a.emp,
      EmpCollateralToken: a.collateral,
      EmpSyntheticToken: a.synthetic,
      UmaMockOracle: a.mockOracle,
      UmaFinder: a.finder,
      UmaStore: a.store,
      UmaIdentifierWhitelist: a.identifierWhitelist,
      UmaRegistry: a.registry,
      UmaCollateralWhitelist: a.collateralWhitelist,
      UmaOptimisticOracle: a.optimisticOracle,
      UmaTokenFactory: a.tokenFactory,
      ExpiringMultiPartyCreator: a.creator,
    });
    const { seed } = emp;
    parts.emp = {
      priceIdentifier: emp.deployment.priceIdentifier,
      deployBlock: emp.deployment.deployBlock,
      expirationTimestamp: Number(emp.deployment.params.expirationTimestamp),
      sponsors: seed.sponsors.map((s) => ({
        label: s.label, accountIndex: s.index, address: s.address,
        tokens: s.tokens.toString(), collateral: s.collateral.toString(), pendingWithdrawal: s.pendingWithdrawal.toString(),
      })),
      liquidator: { accountIndex: seed.liquidator.index, address: seed.liquidator.address },
      disputer: { accountIndex: seed.disputer.index, address: seed.disputer.address },
    };
  }
  return parts;
}
