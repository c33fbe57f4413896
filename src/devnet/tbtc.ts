import type { DevnetBitcoin } from "./btc";
import { ethers } from "ethers";
import { type Deployable, doubleArtifact, linkTbtc, tbtcAbi } from "./artifacts";

/** Addresses by contract name, as written to the deployment file. */
export interface TbtcAddresses {
  TBTCSystem: string;
  TBTCToken: string;
  VendingMachine: string;
  TBTCDepositToken: string;
  FeeRebateToken: string;
  DepositFactory: string;
  BondedECDSAKeepFactory: string;
  Medianizer: string;
  Relay: string;
  SatWeiPriceFeed: string;
  /** The master Deposit every deposit clones (not a deposit itself). */
  DepositMaster: string;
}

export interface TbtcDeployment {
  provider: ethers.Provider;
  /** Deployer: owner of TBTCSystem and controller of every devnet double. */
  signer: ethers.Signer;
  addresses: TbtcAddresses;
  /** Block of the first deployment transaction (log scans start here). */
  deploymentBlock: number;
  contracts: {
    system: ethers.Contract;
    tbtcToken: ethers.Contract;
    vendingMachine: ethers.Contract;
    tdt: ethers.Contract;
    frt: ethers.Contract;
    depositFactory: ethers.Contract;
    keepFactory: ethers.Contract;
    medianizer: ethers.Contract;
    relay: ethers.Contract;
  };
  /** Fee `createDeposit` must carry (the keep factory's openKeepFeeEstimate). */
  openKeepFee: bigint;
  /** The devnet's Bitcoin network: deposits are funded and the world's redemptions proven on it. Absent: synthetic one-block proofs (src/devnet/spv.ts). */
  bitcoin?: DevnetBitcoin;
}

export interface DeployOptions {
  /** Fund deposits and prove the world's redemptions on this Bitcoin network (see btc.ts). */
  bitcoin?: DevnetBitcoin;
  /** ETH price in BTC (default 0.03: one 1-BTC lot needs 50 ETH of bond at 150%). */
  ethBtc?: number;
  /**
   * Allowed lot sizes in satoshis. Mainnet allows up to 1 BTC; the default adds 5 and 10 BTC
   * through the real governance path (begin, wait 48 h, finalize).
   */
  lotSizesSatoshis?: bigint[];
  /**
   * The VendingMachine caps minted TBTC for its first 63 days (2 TBTC on day one). Default true:
   * move the chain clock past that ramp so seeded deposits can mint freely.
   */
  liftMintCap?: boolean;
}

export const DEFAULT_LOT_SIZES = [10n ** 6n, 10n ** 7n, 2n * 10n ** 7n, 5n * 10n ** 7n, 10n ** 8n, 5n * 10n ** 8n, 10n ** 9n];
const DAY = 86400;

/** ETH/BTC ratio (e.g. 0.03) -> medianizer value (18 decimals). */
export function ethBtcToMedianizerValue(ratio: number): bigint {
  if (!(ratio > 0) || !Number.isFinite(ratio)) throw new RangeError(`ETH/BTC ratio must be positive, got ${ratio}`);
  return ethers.parseUnits(ratio.toFixed(18), 18);
}

/** Wei per satoshi the real SatWeiPriceFeed derives from a medianizer value. */
export function weiPerSat(medianizerValue: bigint): bigint {
  return 10n ** 28n / medianizerValue;
}

/** Sends a transaction and returns its receipt; throws if it reverted. */
export async function send(tx: Promise<ethers.ContractTransactionResponse | ethers.TransactionResponse>): Promise<ethers.TransactionReceipt> {
  const response = await tx;
  const receipt = await response.wait();
  if (!receipt || receipt.status !== 1) throw new Error(`transaction ${response.hash} failed`);
  return receipt;
}

async function deploy(signer: ethers.Signer, d: Deployable, args: unknown[] = []): Promise<ethers.Contract> {
  const factory = new ethers.ContractFactory(d.abi, d.bytecode, signer);
  const c = await factory.deploy(...args);
  await c.waitForDeployment();
  return c as unknown as ethers.Contract;
}

async function rpc(provider: ethers.Provider, method: string, params: unknown[]): Promise<unknown> {
  return (provider as ethers.JsonRpcProvider).send(method, params);
}

export async function increaseTime(provider: ethers.Provider, seconds: number): Promise<void> {
  await rpc(provider, "evm_increaseTime", [seconds]);
  await rpc(provider, "evm_mine", []);
}

/**
 * Deploys the real tBTC v1.1.0 system (npm artifacts, libraries linked) on top of the devnet
 * doubles (keep factory, ETH/BTC medianizer, relay) and initializes it as on mainnet.
 */
export async function deployTbtcSystem(signer: ethers.Signer, opts: DeployOptions = {}): Promise<TbtcDeployment> {
  const provider = signer.provider;
  if (!provider) throw new Error("deployTbtcSystem needs a signer connected to a provider");
  const deploymentBlock = (await provider.getBlockNumber()) + 1;

  const libs: Record<string, string> = {};
  for (const name of ["TBTCConstants", "DepositStates", "OutsourceDepositLogging", "KeepFactorySelection", "DepositUtils", "DepositLiquidation", "DepositRedemption", "DepositFunding"]) {
    libs[name] = await (await deploy(signer, linkTbtc(name, libs))).getAddress();
  }
  const masterDeposit = await deploy(signer, linkTbtc("Deposit", libs));

  const medianizerValue = ethBtcToMedianizerValue(opts.ethBtc ?? 0.03);
  const medianizer = await deploy(signer, doubleArtifact("DevMedianizer"), [medianizerValue]);
  const relay = await deploy(signer, doubleArtifact("DevRelay"));
  const keepFactory = await deploy(signer, doubleArtifact("DevBondedECDSAKeepFactory"));

  const priceFeed = await deploy(signer, linkTbtc("SatWeiPriceFeed", libs));
  const system = await deploy(signer, linkTbtc("TBTCSystem", libs), [await priceFeed.getAddress(), await relay.getAddress()]);
  const systemAddr = await system.getAddress();
  const depositFactory = await deploy(signer, linkTbtc("DepositFactory", libs), [systemAddr]);
  const vendingMachine = await deploy(signer, linkTbtc("VendingMachine", libs), [systemAddr]);
  const vmAddr = await vendingMachine.getAddress();
  const tbtcToken = await deploy(signer, linkTbtc("TBTCToken", libs), [vmAddr]);
  const tdt = await deploy(signer, linkTbtc("TBTCDepositToken", libs), [await depositFactory.getAddress()]);
  const frt = await deploy(signer, linkTbtc("FeeRebateToken", libs), [vmAddr]);

  const addresses: TbtcAddresses = {
    TBTCSystem: systemAddr,
    TBTCToken: await tbtcToken.getAddress(),
    VendingMachine: vmAddr,
    TBTCDepositToken: await tdt.getAddress(),
    FeeRebateToken: await frt.getAddress(),
    DepositFactory: await depositFactory.getAddress(),
    BondedECDSAKeepFactory: await keepFactory.getAddress(),
    Medianizer: await medianizer.getAddress(),
    Relay: await relay.getAddress(),
    SatWeiPriceFeed: await priceFeed.getAddress(),
    DepositMaster: await masterDeposit.getAddress(),
  };

  await send(
    system.initialize(
      addresses.BondedECDSAKeepFactory,
      addresses.DepositFactory,
      addresses.DepositMaster,
      addresses.TBTCToken,
      addresses.TBTCDepositToken,
      addresses.FeeRebateToken,
      addresses.VendingMachine,
      3, // honest threshold
      3, // keep size
    ),
  );
  await send(priceFeed.initialize(systemAddr, addresses.Medianizer));

  // Bonds come out of the keep factory's balance; give it far more than any seed needs.
  await rpc(provider, "hardhat_setBalance", [addresses.BondedECDSAKeepFactory, ethers.toQuantity(ethers.parseEther("10000000"))]);

  const lotSizes = opts.lotSizesSatoshis ?? DEFAULT_LOT_SIZES;
  const changeLots = lotSizes.join(",") !== (await system.getAllowedLotSizes()).join(",");
  if (changeLots) await send(system.beginLotSizesUpdate(lotSizes));
  if (opts.liftMintCap ?? true) await increaseTime(provider, 64 * DAY);
  else if (changeLots) await increaseTime(provider, 2 * DAY + 1);
  if (changeLots) await send(system.finalizeLotSizesUpdate());

  return {
    provider,
    signer,
    addresses,
    deploymentBlock,
    bitcoin: opts.bitcoin,
    contracts: {
      system: new ethers.Contract(systemAddr, tbtcAbi("TBTCSystem"), signer),
      tbtcToken: new ethers.Contract(addresses.TBTCToken, tbtcAbi("TBTCToken"), signer),
      vendingMachine: new ethers.Contract(vmAddr, tbtcAbi("VendingMachine"), signer),
      tdt: new ethers.Contract(addresses.TBTCDepositToken, tbtcAbi("TBTCDepositToken"), signer),
      frt: new ethers.Contract(addresses.FeeRebateToken, tbtcAbi("FeeRebateToken"), signer),
      depositFactory: new ethers.Contract(addresses.DepositFactory, tbtcAbi("DepositFactory"), signer),
      keepFactory,
      medianizer,
      relay,
    },
    openKeepFee: await keepFactory.openKeepFeeEstimate(),
  };
}

/** Sets the ETH/BTC price every deposit reads (e.g. 0.024 turns 150% into 120%). */
export async function setEthBtcPrice(dep: TbtcDeployment, ratio: number): Promise<void> {
  await send(dep.contracts.medianizer.setValue(ethBtcToMedianizerValue(ratio)));
}

/** Current wei-per-satoshi price as the system computes it. */
export async function currentWeiPerSat(dep: TbtcDeployment): Promise<bigint> {
  const [value] = await dep.contracts.medianizer.peek();
  return weiPerSat(value as bigint);
}

export function depositContract(dep: TbtcDeployment, address: string, runner: ethers.ContractRunner = dep.signer): ethers.Contract {
  return new ethers.Contract(address, tbtcAbi("Deposit"), runner);
}

export function keepContract(dep: TbtcDeployment, address: string, runner: ethers.ContractRunner = dep.signer): ethers.Contract {
  return new ethers.Contract(address, doubleArtifact("DevBondedECDSAKeep").abi, runner);
}
