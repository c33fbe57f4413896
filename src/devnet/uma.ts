import path from "node:path";
import { ethers } from "ethers";
import { PACKAGE_ROOT } from "./node";
import { parseFixedStrict } from "../lib/fixed-point";
import type { EmpNumericParams } from "../lib/uma/emp-client";

/** An 18-decimal amount from its decimal text ("1.25" -> 1.25e18). */
const wad = (text: string): bigint => parseFixedStrict(text, 18);

/**
 * Deploys UMA's real ExpiringMultiParty with its DVM stand-ins (Finder, IdentifierWhitelist, Store
 * with zero fees, MockOracle) from the @uma/contracts-node artifacts, and seeds sponsors.
 *
 * Time: timerAddress = address(0), so the EMP, Store and MockOracle read block.timestamp exactly as
 * on mainnet; tests move time with evm_increaseTime + evm_mine. (The Timer contract would make
 * contract time diverge from block time, which the bots would never see on a real chain.)
 */
const ARTIFACTS = "node_modules/@uma/contracts-node/dist/packages/core/artifacts/contracts";
const ARTIFACT_PATHS = {
  Finder: "data-verification-mechanism/implementation/Finder.sol/Finder.json",
  IdentifierWhitelist: "data-verification-mechanism/implementation/IdentifierWhitelist.sol/IdentifierWhitelist.json",
  Store: "data-verification-mechanism/implementation/Store.sol/Store.json",
  MockOracle: "data-verification-mechanism/test/MockOracle.sol/MockOracle.json",
  TestnetERC20: "common/implementation/TestnetERC20.sol/TestnetERC20.json",
  SyntheticToken: "financial-templates/common/SyntheticToken.sol/SyntheticToken.json",
  ExpiringMultiParty: "financial-templates/expiring-multiparty/ExpiringMultiParty.sol/ExpiringMultiParty.json",
} as const;
export type UmaContractName = keyof typeof ARTIFACT_PATHS;

export interface Artifact {
  abi: ethers.InterfaceAbi;
  bytecode: string;
}

export function loadUmaArtifact(name: UmaContractName): Artifact {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const a = require(path.join(PACKAGE_ROOT, ARTIFACTS, ARTIFACT_PATHS[name]));
  return { abi: a.abi, bytecode: a.bytecode };
}

/** Names the EMP and MockOracle look up in the Finder (UMA's OracleInterfaces constants). */
export const FINDER_NAMES = { Oracle: "Oracle", Store: "Store", IdentifierWhitelist: "IdentifierWhitelist" } as const;

export const PRICE_IDENTIFIER = "RaiRedemptionRate";

export interface DeployEmpOptions {
  priceIdentifier?: string;
  collateralRequirement?: string; // decimal text, default "1.25"
  disputeBondPercentage?: string; // "0.1"
  sponsorDisputeRewardPercentage?: string; // "0.1"
  disputerDisputeRewardPercentage?: string; // "0.1"
  minSponsorTokens?: string; // "5"
  liquidationLiveness?: number; // 7200 s
  withdrawalLiveness?: number; // 7200 s
  /** Seconds from the latest block to expiry. Default 3 days. */
  expiresIn?: number;
}

export interface EmpDeployment {
  chainId: number;
  /** Block of the EMP's deployment: where event scans start. */
  deployBlock: number;
  deployer: string;
  priceIdentifier: string;
  addresses: {
    finder: string;
    identifierWhitelist: string;
    store: string;
    mockOracle: string;
    collateral: string;
    synthetic: string;
    emp: string;
  };
  params: EmpNumericParams;
}

async function deploy(signer: ethers.Signer, name: UmaContractName, args: unknown[]): Promise<ethers.BaseContract> {
  const a = loadUmaArtifact(name);
  const c = await new ethers.ContractFactory(a.abi, a.bytecode, signer).deploy(...args);
  await c.waitForDeployment();
  return c;
}

async function send(tx: Promise<ethers.ContractTransactionResponse>): Promise<ethers.ContractTransactionReceipt> {
  const receipt = await (await tx).wait();
  if (!receipt) throw new Error("transaction dropped");
  return receipt;
}

/** Typed-enough handle on a deployed contract for the calls below. */
function at(name: UmaContractName, address: string, runner: ethers.ContractRunner): ethers.Contract {
  return new ethers.Contract(address, loadUmaArtifact(name).abi, runner);
}

export async function deployEmp(signer: ethers.Signer, opts: DeployEmpOptions = {}): Promise<EmpDeployment> {
  const provider = signer.provider;
  if (!provider) throw new Error("deployEmp needs a signer connected to a provider");
  const identifierText = opts.priceIdentifier ?? PRICE_IDENTIFIER;
  const identifier = ethers.encodeBytes32String(identifierText);

  const finder = await deploy(signer, "Finder", []);
  const whitelist = await deploy(signer, "IdentifierWhitelist", []);
  const store = await deploy(signer, "Store", [{ rawValue: 0n }, { rawValue: 0n }, ethers.ZeroAddress]);
  const finderAddr = await finder.getAddress();
  const oracle = await deploy(signer, "MockOracle", [finderAddr, ethers.ZeroAddress]);
  const collateral = await deploy(signer, "TestnetERC20", ["Rai Reflex Index (devnet)", "RAI", 18]);
  const synthetic = await deploy(signer, "SyntheticToken", ["RAI redemption-rate synthetic (devnet)", "uRAI", 18]);

  const f = at("Finder", finderAddr, signer);
  const wl = await whitelist.getAddress();
  await send(at("IdentifierWhitelist", wl, signer).addSupportedIdentifier(identifier));
  await send(f.changeImplementationAddress(ethers.encodeBytes32String(FINDER_NAMES.IdentifierWhitelist), wl));
  await send(f.changeImplementationAddress(ethers.encodeBytes32String(FINDER_NAMES.Store), await store.getAddress()));
  await send(f.changeImplementationAddress(ethers.encodeBytes32String(FINDER_NAMES.Oracle), await oracle.getAddress()));

  const latest = await provider.getBlock("latest");
  const params = {
    collateralRequirement: wad(opts.collateralRequirement ?? "1.25"),
    minSponsorTokens: wad(opts.minSponsorTokens ?? "5"),
    liquidationLiveness: BigInt(opts.liquidationLiveness ?? 7200),
    withdrawalLiveness: BigInt(opts.withdrawalLiveness ?? 7200),
    expirationTimestamp: BigInt(latest!.timestamp + (opts.expiresIn ?? 3 * 86400)),
    disputeBondPercentage: wad(opts.disputeBondPercentage ?? "0.1"),
    sponsorDisputeRewardPercentage: wad(opts.sponsorDisputeRewardPercentage ?? "0.1"),
    disputerDisputeRewardPercentage: wad(opts.disputerDisputeRewardPercentage ?? "0.1"),
  };
  const syntheticAddr = await synthetic.getAddress();
  const emp = await deploy(signer, "ExpiringMultiParty", [{
    expirationTimestamp: params.expirationTimestamp,
    withdrawalLiveness: params.withdrawalLiveness,
    collateralAddress: await collateral.getAddress(),
    tokenAddress: syntheticAddr,
    finderAddress: finderAddr,
    timerAddress: ethers.ZeroAddress,
    financialProductLibraryAddress: ethers.ZeroAddress,
    priceFeedIdentifier: identifier,
    minSponsorTokens: { rawValue: params.minSponsorTokens },
    liquidationLiveness: params.liquidationLiveness,
    collateralRequirement: { rawValue: params.collateralRequirement },
    disputeBondPercentage: { rawValue: params.disputeBondPercentage },
    sponsorDisputeRewardPercentage: { rawValue: params.sponsorDisputeRewardPercentage },
    disputerDisputeRewardPercentage: { rawValue: params.disputerDisputeRewardPercentage },
  }]);
  const empAddr = await emp.getAddress();
  const deployBlock = (await emp.deploymentTransaction()!.wait())!.blockNumber;
  const syn = at("SyntheticToken", syntheticAddr, signer);
  await send(syn.addMinter(empAddr));
  await send(syn.addBurner(empAddr));

  return {
    chainId: Number((await provider.getNetwork()).chainId),
    deployBlock,
    deployer: await signer.getAddress(),
    priceIdentifier: identifierText,
    addresses: {
      finder: finderAddr,
      identifierWhitelist: wl,
      store: await store.getAddress(),
      mockOracle: await oracle.getAddress(),
      collateral: await collateral.getAddress(),
      synthetic: syntheticAddr,
      emp: empAddr,
    },
    params,
  };
}

export interface SeededWallet {
  /** Index among the node's unlocked accounts (provider.getSigner(index)). */
  index: number;
  address: string;
}

export interface SeededSponsor extends SeededWallet {
  label: string;
  tokens: bigint;
  collateral: bigint;
  pendingWithdrawal: bigint;
}

export interface EmpSeed {
  /** Ordinary sponsors by ascending collateral ratio, then the pending-withdrawal case. */
  sponsors: SeededSponsor[];
  /** Holds synthetic tokens minted through its own (healthy) position, which it must never liquidate. */
  liquidator: SeededWallet & { position: { tokens: bigint; collateral: bigint }; synthetic: bigint; collateral: bigint };
  disputer: SeededWallet & { synthetic: bigint; collateral: bigint };
}

export interface SeedSponsorsOptions {
  /** Collateral ratios at price 1.0 (decimal text). Default 1.2, 1.3, 1.5, 2.0. */
  ratios?: string[];
  tokensPerSponsor?: string; // "100"
  /** Account index of the first sponsor; the rest follow, then liquidator and disputer. Default 1. */
  firstIndex?: number;
}

/**
 * Sponsors at several collateral ratios, the reference case (100 tokens, 200 collateral, 100
 * withdrawal pending: liquidatable at price 1 once the pending amount counts as gone), and a funded
 * liquidator and disputer. Prices are ~1 collateral per synthetic token.
 */
export async function seedSponsors(dep: EmpDeployment, provider: ethers.JsonRpcProvider, opts: SeedSponsorsOptions = {}): Promise<EmpSeed> {
  // The EMP only admits a new position at or above the global ratio, so create the lowest first.
  const ratios = (opts.ratios ?? ["1.2", "1.3", "1.5", "2.0"]).map((r) => ({ text: r, value: wad(r) })).sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  const tokens = wad(opts.tokensPerSponsor ?? "100");
  let index = opts.firstIndex ?? 1;
  const sponsors: SeededSponsor[] = [];

  const openPosition = async (i: number, collateralAmount: bigint, numTokens: bigint, extraCollateral = 0n) => {
    const s = await provider.getSigner(i);
    const addr = await s.getAddress();
    await send(at("TestnetERC20", dep.addresses.collateral, s).allocateTo(addr, collateralAmount + extraCollateral));
    await send(at("TestnetERC20", dep.addresses.collateral, s).approve(dep.addresses.emp, collateralAmount));
    await send(at("ExpiringMultiParty", dep.addresses.emp, s).create({ rawValue: collateralAmount }, { rawValue: numTokens }));
    return { signer: s, address: addr };
  };

  for (const r of ratios) {
    const collateral = (tokens * r.value) / 10n ** 18n;
    const { address } = await openPosition(index, collateral, tokens);
    sponsors.push({ index: index++, address, label: `cr-${r.text}`, tokens, collateral, pendingWithdrawal: 0n });
  }

  const refTokens = wad("100");
  const refCollateral = wad("200");
  const refPending = wad("100");
  const ref = await openPosition(index, refCollateral, refTokens);
  await send(at("ExpiringMultiParty", dep.addresses.emp, ref.signer).requestWithdrawal({ rawValue: refPending }));
  sponsors.push({ index: index++, address: ref.address, label: "pending-withdrawal", tokens: refTokens, collateral: refCollateral, pendingWithdrawal: refPending });

  const liqPosition = { tokens: wad("500"), collateral: wad("1500") };
  const liqCollateral = wad("10000");
  const liq = await openPosition(index, liqPosition.collateral, liqPosition.tokens, liqCollateral);
  const liquidatorIndex = index++;

  const disputerIndex = index++;
  const disputer = await provider.getSigner(disputerIndex);
  const disputerAddr = await disputer.getAddress();
  const disputerSynthetic = wad("50");
  const disputerCollateral = wad("1000");
  await send(at("TestnetERC20", dep.addresses.collateral, disputer).allocateTo(disputerAddr, disputerCollateral));
  await send(at("SyntheticToken", dep.addresses.synthetic, liq.signer).transfer(disputerAddr, disputerSynthetic));

  return {
    sponsors,
    liquidator: {
      index: liquidatorIndex,
      address: liq.address,
      position: liqPosition,
      synthetic: liqPosition.tokens - disputerSynthetic,
      collateral: liqCollateral,
    },
    disputer: { index: disputerIndex, address: disputerAddr, synthetic: disputerSynthetic, collateral: disputerCollateral },
  };
}
