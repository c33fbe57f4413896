import path from "node:path";
import { ethers } from "ethers";
import { PACKAGE_ROOT } from "./node";
import { parseFixedStrict } from "../lib/fixed-point";
import type { EmpNumericParams } from "../lib/uma/emp-client";

/** An 18-decimal amount from its decimal text ("1.25" -> 1.25e18). */
const wad = (text: string): bigint => parseFixedStrict(text, 18);

/**
 * Deploys UMA's real contracts from the @uma/contracts-node artifacts — the DVM stand-ins (Finder,
 * IdentifierWhitelist, Store with zero fees, MockOracle), the Registry, the collateral whitelist,
 * the Optimistic Oracle that prices an EMP's expiry, and the ExpiringMultiPartyCreator with its
 * TokenFactory and library — then creates the EMP through the Creator, as on mainnet, and seeds
 * sponsors.
 *
 * Time: timerAddress = address(0) everywhere, so the EMP, Store, Optimistic Oracle and MockOracle
 * read block.timestamp exactly as on mainnet; tests move time with evm_increaseTime + evm_mine.
 * (The Timer contract would make contract time diverge from block time, which the bots would
 * never see on a real chain.)
 */
const ARTIFACTS = "node_modules/@uma/contracts-node/dist/packages/core/artifacts/contracts";
const ARTIFACT_PATHS = {
  Finder: "data-verification-mechanism/implementation/Finder.sol/Finder.json",
  IdentifierWhitelist: "data-verification-mechanism/implementation/IdentifierWhitelist.sol/IdentifierWhitelist.json",
  Store: "data-verification-mechanism/implementation/Store.sol/Store.json",
  Registry: "data-verification-mechanism/implementation/Registry.sol/Registry.json",
  MockOracle: "data-verification-mechanism/test/MockOracle.sol/MockOracle.json",
  AddressWhitelist: "common/implementation/AddressWhitelist.sol/AddressWhitelist.json",
  OptimisticOracle: "optimistic-oracle-v2/previous-versions/OptimisticOracle.sol/OptimisticOracle.json",
  TestnetERC20: "common/implementation/TestnetERC20.sol/TestnetERC20.json",
  SyntheticToken: "financial-templates/common/SyntheticToken.sol/SyntheticToken.json",
  TokenFactory: "financial-templates/common/TokenFactory.sol/TokenFactory.json",
  ExpiringMultiPartyLib: "financial-templates/expiring-multiparty/ExpiringMultiPartyLib.sol/ExpiringMultiPartyLib.json",
  ExpiringMultiPartyCreator: "financial-templates/expiring-multiparty/ExpiringMultiPartyCreator.sol/ExpiringMultiPartyCreator.json",
  ExpiringMultiParty: "financial-templates/expiring-multiparty/ExpiringMultiParty.sol/ExpiringMultiParty.json",
} as const;
export type UmaContractName = keyof typeof ARTIFACT_PATHS;

export interface Artifact {
  abi: ethers.InterfaceAbi;
  bytecode: string;
  /** Hardhat's link references: source -> library -> byte offsets of its address in the bytecode. */
  linkReferences?: Record<string, Record<string, Array<{ start: number; length: number }>>>;
}

export function loadUmaArtifact(name: UmaContractName): Artifact {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const a = require(path.join(PACKAGE_ROOT, ARTIFACTS, ARTIFACT_PATHS[name]));
  return { abi: a.abi, bytecode: a.bytecode, linkReferences: a.linkReferences };
}

/** Names the contracts look up in the Finder (UMA's OracleInterfaces constants). */
export const FINDER_NAMES = {
  Oracle: "Oracle",
  Store: "Store",
  IdentifierWhitelist: "IdentifierWhitelist",
  Registry: "Registry",
  CollateralWhitelist: "CollateralWhitelist",
  OptimisticOracle: "OptimisticOracle",
} as const;

/** Registry roles (Registry.sol's enum Roles). */
export const REGISTRY_ROLE = { Owner: 0n, ContractCreator: 1n } as const;

export const PRICE_IDENTIFIER = "RaiRedemptionRate";

/** The Optimistic Oracle's default liveness on the devnet: a proposed price settles after 2 h undisputed. */
export const DEVNET_OO_LIVENESS = 7200;

export interface UmaInfrastructureOptions {
  priceIdentifier?: string;
  /** Governance steps, each on by default; off, the devnet looks like a chain that has not taken it (emp-launch's checks). */
  whitelistIdentifier?: boolean;
  whitelistCollateral?: boolean;
  grantCreatorRole?: boolean;
  /** Seconds a proposed price waits undisputed (the Optimistic Oracle's defaultLiveness). */
  optimisticOracleLiveness?: number;
}

export interface DeployEmpOptions extends UmaInfrastructureOptions {
  collateralRequirement?: string; // decimal text, default "1.25"
  disputeBondPercentage?: string; // "0.1"
  sponsorDisputeRewardPercentage?: string; // "0.1"
  disputerDisputeRewardPercentage?: string; // "0.1"
  minSponsorTokens?: string; // "5"
  liquidationLiveness?: number; // 7200 s
  withdrawalLiveness?: number; // 7200 s
  /** Seconds from the latest block to expiry. Default 3 days. */
  expiresIn?: number;
  syntheticName?: string;
  syntheticSymbol?: string;
}

/** UMA's contracts around an EMP, and the collateral token (a TestnetERC20 standing in for RAI). */
export interface UmaInfrastructure {
  chainId: number;
  deployer: string;
  priceIdentifier: string;
  /** Block of the Finder's deployment: the first block of everything here. */
  deployBlock: number;
  addresses: {
    finder: string;
    identifierWhitelist: string;
    store: string;
    mockOracle: string;
    registry: string;
    collateralWhitelist: string;
    optimisticOracle: string;
    tokenFactory: string;
    creator: string;
    collateral: string;
  };
}

export interface EmpDeployment extends Omit<UmaInfrastructure, "addresses"> {
  /** Block of the EMP's creation: where event scans start. */
  deployBlock: number;
  addresses: UmaInfrastructure["addresses"] & { synthetic: string; emp: string };
  params: EmpNumericParams;
}

async function deploy(signer: ethers.Signer, name: UmaContractName, args: unknown[], libraries: Record<string, string> = {}): Promise<ethers.BaseContract> {
  const a = loadUmaArtifact(name);
  const c = await new ethers.ContractFactory(a.abi, linkLibraries(a, libraries), signer).deploy(...args);
  await c.waitForDeployment();
  return c;
}

/** The creation bytecode with each library's address written where the link references say. */
function linkLibraries(a: Artifact, libraries: Record<string, string>): string {
  let hex = a.bytecode.slice(2);
  for (const libs of Object.values(a.linkReferences ?? {})) {
    for (const [lib, spots] of Object.entries(libs)) {
      const address = libraries[lib];
      if (!address) throw new Error(`cannot deploy: library ${lib} is not deployed`);
      for (const { start, length } of spots) hex = hex.slice(0, start * 2) + address.slice(2).toLowerCase() + hex.slice((start + length) * 2);
    }
  }
  return "0x" + hex;
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

/**
 * The contracts an EMP needs, registered in the Finder as UMA's governance would: identifier
 * whitelist (+ the identifier), Store (zero fees), MockOracle as the DVM, Registry (+ the Creator
 * as ContractCreator), CollateralWhitelist (+ the collateral), OptimisticOracle; and the Creator.
 */
export async function deployUmaInfrastructure(signer: ethers.Signer, opts: UmaInfrastructureOptions = {}): Promise<UmaInfrastructure> {
  const provider = signer.provider;
  if (!provider) throw new Error("deployUmaInfrastructure needs a signer connected to a provider");
  const identifierText = opts.priceIdentifier ?? PRICE_IDENTIFIER;
  const finder = await deploy(signer, "Finder", []);
  const deployBlock = (await finder.deploymentTransaction()!.wait())!.blockNumber;
  const finderAddr = await finder.getAddress();
  const contracts = {
    identifierWhitelist: await deploy(signer, "IdentifierWhitelist", []),
    store: await deploy(signer, "Store", [{ rawValue: 0n }, { rawValue: 0n }, ethers.ZeroAddress]),
    mockOracle: await deploy(signer, "MockOracle", [finderAddr, ethers.ZeroAddress]),
    registry: await deploy(signer, "Registry", []),
    collateralWhitelist: await deploy(signer, "AddressWhitelist", []),
    optimisticOracle: await deploy(signer, "OptimisticOracle", [opts.optimisticOracleLiveness ?? DEVNET_OO_LIVENESS, finderAddr, ethers.ZeroAddress]),
    tokenFactory: await deploy(signer, "TokenFactory", []),
    collateral: await deploy(signer, "TestnetERC20", ["Rai Reflex Index (devnet)", "RAI", 18]),
  };
  const library = await deploy(signer, "ExpiringMultiPartyLib", []);
  const addr = Object.fromEntries(await Promise.all(Object.entries(contracts).map(async ([k, c]) => [k, await c.getAddress()]))) as Record<keyof typeof contracts, string>;
  const creator = await deploy(signer, "ExpiringMultiPartyCreator", [finderAddr, addr.tokenFactory, ethers.ZeroAddress], { ExpiringMultiPartyLib: await library.getAddress() });
  const creatorAddr = await creator.getAddress();

  const f = at("Finder", finderAddr, signer);
  const register = (name: string, address: string) => send(f.changeImplementationAddress(ethers.encodeBytes32String(name), address));
  await register(FINDER_NAMES.IdentifierWhitelist, addr.identifierWhitelist);
  await register(FINDER_NAMES.Store, addr.store);
  await register(FINDER_NAMES.Oracle, addr.mockOracle);
  await register(FINDER_NAMES.Registry, addr.registry);
  await register(FINDER_NAMES.CollateralWhitelist, addr.collateralWhitelist);
  await register(FINDER_NAMES.OptimisticOracle, addr.optimisticOracle);
  if (opts.whitelistIdentifier !== false) await send(at("IdentifierWhitelist", addr.identifierWhitelist, signer).addSupportedIdentifier(ethers.encodeBytes32String(identifierText)));
  if (opts.whitelistCollateral !== false) await send(at("AddressWhitelist", addr.collateralWhitelist, signer).addToWhitelist(addr.collateral));
  if (opts.grantCreatorRole !== false) await send(at("Registry", addr.registry, signer).addMember(REGISTRY_ROLE.ContractCreator, creatorAddr));

  return {
    chainId: Number((await provider.getNetwork()).chainId),
    deployer: await signer.getAddress(),
    priceIdentifier: identifierText,
    deployBlock,
    addresses: { finder: finderAddr, ...addr, creator: creatorAddr },
  };
}

/** createExpiringMultiParty's Params struct, in its field order (ExpiringMultiPartyCreator.Params). */
export function creatorParams(infra: Pick<UmaInfrastructure, "priceIdentifier" | "addresses">, params: EmpNumericParams, names: { syntheticName: string; syntheticSymbol: string }) {
  return {
    expirationTimestamp: params.expirationTimestamp,
    collateralAddress: infra.addresses.collateral,
    priceFeedIdentifier: ethers.encodeBytes32String(infra.priceIdentifier),
    syntheticName: names.syntheticName,
    syntheticSymbol: names.syntheticSymbol,
    collateralRequirement: { rawValue: params.collateralRequirement },
    disputeBondPercentage: { rawValue: params.disputeBondPercentage },
    sponsorDisputeRewardPercentage: { rawValue: params.sponsorDisputeRewardPercentage },
    disputerDisputeRewardPercentage: { rawValue: params.disputerDisputeRewardPercentage },
    minSponsorTokens: { rawValue: params.minSponsorTokens },
    withdrawalLiveness: params.withdrawalLiveness,
    liquidationLiveness: params.liquidationLiveness,
    financialProductLibraryAddress: ethers.ZeroAddress,
  };
}

/** Creates an EMP through the infrastructure's Creator (which mints its synthetic token and registers it). */
export async function createEmp(signer: ethers.Signer, infra: UmaInfrastructure, opts: DeployEmpOptions = {}): Promise<EmpDeployment> {
  const provider = signer.provider!;
  const latest = await provider.getBlock("latest");
  const params: EmpNumericParams = {
    collateralRequirement: wad(opts.collateralRequirement ?? "1.25"),
    minSponsorTokens: wad(opts.minSponsorTokens ?? "5"),
    liquidationLiveness: BigInt(opts.liquidationLiveness ?? 7200),
    withdrawalLiveness: BigInt(opts.withdrawalLiveness ?? 7200),
    expirationTimestamp: BigInt(latest!.timestamp + (opts.expiresIn ?? 3 * 86400)),
    disputeBondPercentage: wad(opts.disputeBondPercentage ?? "0.1"),
    sponsorDisputeRewardPercentage: wad(opts.sponsorDisputeRewardPercentage ?? "0.1"),
    disputerDisputeRewardPercentage: wad(opts.disputerDisputeRewardPercentage ?? "0.1"),
  };
  const creator = at("ExpiringMultiPartyCreator", infra.addresses.creator, signer);
  const receipt = await send(creator.createExpiringMultiParty(creatorParams(infra, params, {
    syntheticName: opts.syntheticName ?? "RAI redemption-rate synthetic (devnet)",
    syntheticSymbol: opts.syntheticSymbol ?? "uRAI",
  })));
  const created = receipt.logs.map((l) => { try { return creator.interface.parseLog(l); } catch { return null; } }).find((e) => e?.name === "CreatedExpiringMultiParty");
  if (!created) throw new Error("ExpiringMultiPartyCreator emitted no CreatedExpiringMultiParty");
  const empAddr = ethers.getAddress(created.args.expiringMultiPartyAddress as string);
  const synthetic = ethers.getAddress(await at("ExpiringMultiParty", empAddr, provider).tokenCurrency());
  return { ...infra, deployBlock: receipt.blockNumber, addresses: { ...infra.addresses, synthetic, emp: empAddr }, params };
}

/** The whole stack and one EMP created through the Creator (what the devnet, the tests and the benches use). */
export async function deployEmp(signer: ethers.Signer, opts: DeployEmpOptions = {}): Promise<EmpDeployment> {
  return createEmp(signer, await deployUmaInfrastructure(signer, opts), opts);
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
