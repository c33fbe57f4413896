import { ethers } from "ethers";
import { multicall, type ViewCall } from "../chain/multicall";
import { RpcError } from "../errors";
import { empInterface, erc20Interface, identifierName, liquidationsOf, positionOf, type EmpLiquidation, type EmpPosition } from "./emp-client";
import type { EmpTotals } from "./position-math";

/**
 * Everything about one sponsor's position the sponsor commands need, read in ONE eth_call (the
 * deployless multicall): the EMP's parameters, state and totals, the position and its
 * liquidations. With the head already known that is one round trip.
 */
export interface SponsorSnapshot {
  emp: string;
  sponsor: string;
  params: {
    collateralRequirement: bigint;
    minSponsorTokens: bigint;
    withdrawalLiveness: bigint;
    liquidationLiveness: bigint;
    expirationTimestamp: bigint;
    /** bytes32 hex, and as text. */
    priceIdentifier: string;
    priceIdentifierName: string;
    collateralCurrency: string;
    tokenCurrency: string;
    finder: string;
  };
  contractState: number;
  currentTime: bigint;
  totals: EmpTotals;
  expiryPrice: bigint;
  position: EmpPosition;
  liquidations: EmpLiquidation[];
}

const SCALARS = [
  "collateralRequirement", "minSponsorTokens", "withdrawalLiveness", "liquidationLiveness", "expirationTimestamp", "priceIdentifier",
  "collateralCurrency", "tokenCurrency", "finder", "contractState", "getCurrentTime", "cumulativeFeeMultiplier", "rawTotalPositionCollateral",
  "totalTokensOutstanding", "expiryPrice",
] as const;

async function viewAll(provider: ethers.Provider, calls: ViewCall[]): Promise<string[]> {
  if (provider instanceof ethers.JsonRpcProvider) {
    const results = await multicall(provider, calls, "latest");
    return results.map((r, i) => {
      if (!r.ok) throw new RpcError(`a view of the EMP reverted (call ${i} of ${calls.length})`, { code: "NODE_ERROR", hint: "check the EMP address for this network" });
      return r.data;
    });
  }
  return Promise.all(calls.map((c) => provider.call(c)));
}

export async function readSponsorSnapshot(provider: ethers.Provider, emp: string, sponsor: string): Promise<SponsorSnapshot> {
  const to = ethers.getAddress(emp);
  const who = ethers.getAddress(sponsor);
  const calls: ViewCall[] = [
    ...SCALARS.map((fn) => ({ to, data: empInterface.encodeFunctionData(fn, []) })),
    { to, data: empInterface.encodeFunctionData("positions", [who]) },
    { to, data: empInterface.encodeFunctionData("getLiquidations", [who]) },
  ];
  const raw = await viewAll(provider, calls);
  const v = Object.fromEntries(SCALARS.map((fn, i) => [fn, empInterface.decodeFunctionResult(fn, raw[i])[0]])) as Record<(typeof SCALARS)[number], unknown>;
  const big = (k: (typeof SCALARS)[number]) => BigInt(v[k] as bigint);
  const multiplier = big("cumulativeFeeMultiplier");
  const position = positionOf(who, empInterface.decodeFunctionResult("positions", raw[SCALARS.length]), multiplier);
  const liquidations = liquidationsOf(who, empInterface.decodeFunctionResult("getLiquidations", raw[SCALARS.length + 1])[0] as ethers.Result);
  return {
    emp: to,
    sponsor: who,
    params: {
      collateralRequirement: big("collateralRequirement"),
      minSponsorTokens: big("minSponsorTokens"),
      withdrawalLiveness: big("withdrawalLiveness"),
      liquidationLiveness: big("liquidationLiveness"),
      expirationTimestamp: big("expirationTimestamp"),
      priceIdentifier: v.priceIdentifier as string,
      priceIdentifierName: identifierName(v.priceIdentifier as string),
      collateralCurrency: ethers.getAddress(v.collateralCurrency as string),
      tokenCurrency: ethers.getAddress(v.tokenCurrency as string),
      finder: ethers.getAddress(v.finder as string),
    },
    contractState: Number(v.contractState),
    currentTime: big("getCurrentTime"),
    totals: { rawTotalPositionCollateral: big("rawTotalPositionCollateral"), totalTokensOutstanding: big("totalTokensOutstanding"), cumulativeFeeMultiplier: multiplier },
    expiryPrice: big("expiryPrice"),
    position,
    liquidations,
  };
}

export interface WalletBalances {
  collateral: bigint;
  synthetic: bigint;
  collateralAllowance: bigint;
  syntheticAllowance: bigint;
}

/** The wallet's two tokens and its allowances to the EMP, in one eth_call. */
export async function readWallet(provider: ethers.Provider, snap: { emp: string; params: { collateralCurrency: string; tokenCurrency: string } }, account: string): Promise<WalletBalances> {
  const { collateralCurrency: coll, tokenCurrency: syn } = snap.params;
  const calls: ViewCall[] = [
    { to: coll, data: erc20Interface.encodeFunctionData("balanceOf", [account]) },
    { to: syn, data: erc20Interface.encodeFunctionData("balanceOf", [account]) },
    { to: coll, data: erc20Interface.encodeFunctionData("allowance", [account, snap.emp]) },
    { to: syn, data: erc20Interface.encodeFunctionData("allowance", [account, snap.emp]) },
  ];
  const [a, b, c, d] = (await viewAll(provider, calls)).map((r) => BigInt(r));
  return { collateral: a, synthetic: b, collateralAllowance: c, syntheticAllowance: d };
}
