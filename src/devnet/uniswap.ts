import path from "node:path";
import fs from "node:fs";
import { ethers } from "ethers";
import { PACKAGE_ROOT } from "./node";
import type { Deployable } from "./artifacts";
import { openDeposit } from "./deposits";
import { type TbtcDeployment, currentWeiPerSat, send } from "./tbtc";

/**
 * The real Uniswap V2 exchange on the devnet: UniswapV2Factory and UniswapV2Pair from
 * @uniswap/v2-core 1.0.1, UniswapV2Router02 and WETH9 from @uniswap/v2-periphery 1.1.0-beta.0,
 * deployed from their published bytecode. The pair's creation code hashes to the same init-code
 * hash as on mainnet, so the router's own pair lookup (pairFor, a CREATE2 address) finds the pair
 * the factory created. A TBTC/WETH pair is seeded from TBTC minted through the VendingMachine.
 */
export type PoolScenario = "deep" | "thin" | "premium" | "empty" | "none";
export const POOL_SCENARIOS: readonly PoolScenario[] = ["deep", "thin", "premium", "empty", "none"];

/** TBTC in the pool and how far its price sits above the medianizer's, per scenario. */
export const POOL_SHAPES: Record<Exclude<PoolScenario, "empty" | "none">, { tbtc: bigint; premiumPct: number }> = {
  /** 20 TBTC at the devnet's ETH/BTC: a 0.1 TBTC buy moves the price ~0.5 %. */
  deep: { tbtc: 20n * 10n ** 18n, premiumPct: 0 },
  /** 0.5 TBTC: a 1-BTC lot cannot be bought at all, a tenth of one moves the price ~25 %. */
  thin: { tbtc: 5n * 10n ** 17n, premiumPct: 0 },
  /** 20 TBTC priced 60 % above the medianizer: any buy is far beyond a sane --max-price. */
  premium: { tbtc: 20n * 10n ** 18n, premiumPct: 60 },
};

export interface UniswapAddresses {
  UniswapV2Factory: string;
  UniswapV2Router02: string;
  WETH: string;
  /** Absent in the "none" scenario. */
  TbtcWethPair?: string;
}

export interface UniswapDeployment {
  scenario: PoolScenario;
  addresses: UniswapAddresses;
  factory: ethers.Contract;
  router: ethers.Contract;
  weth: ethers.Contract;
  pair?: ethers.Contract;
}

interface BuildArtifact {
  abi: ethers.InterfaceAbi;
  bytecode: string;
}

const cache = new Map<string, Deployable>();

/** A Uniswap V2 contract as published on npm (waffle build output: abi + bytecode without 0x). */
export function uniswapArtifact(pkg: "v2-core" | "v2-periphery", name: string): Deployable {
  const key = `${pkg}/${name}`;
  let d = cache.get(key);
  if (!d) {
    const a = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, "node_modules/@uniswap", pkg, "build", `${name}.json`), "utf8")) as BuildArtifact;
    d = { contractName: name, abi: a.abi, bytecode: a.bytecode.startsWith("0x") ? a.bytecode : `0x${a.bytecode}` };
    cache.set(key, d);
  }
  return d;
}

async function deploy(signer: ethers.Signer, d: Deployable, args: unknown[] = []): Promise<ethers.Contract> {
  const c = await new ethers.ContractFactory(d.abi, d.bytecode, signer).deploy(...args);
  await c.waitForDeployment();
  return c as unknown as ethers.Contract;
}

/** Accounts 7-9 sign the keeps of the deposits minted for the pool: clear of the scenario's operators (1, 2) and signers (3-6). */
const LIQUIDITY_MEMBERS = [7, 8, 9].map((i) => ethers.HDNodeWallet.fromPhrase("test test test test test test test test test test test junk", undefined, `m/44'/60'/0'/0/${i}`).address);

/** ETH (wei) worth `tbtc` at the system's own price (SatWeiPriceFeed: wei per satoshi; 1 sat = 1e10 TBTC units). */
export function ethValueOfTbtc(tbtc: bigint, weiPerSat: bigint): bigint {
  return (tbtc * weiPerSat) / 10n ** 10n;
}

async function chainTime(provider: ethers.Provider): Promise<number> {
  return (await provider.getBlock("latest"))!.timestamp;
}

/** Mints at least `amount` TBTC to the deployer through the VendingMachine (10-BTC lots on keeps of accounts 7-9). */
export async function mintTbtcForPool(dep: TbtcDeployment, amount: bigint): Promise<void> {
  const me = await dep.signer.getAddress();
  while (((await dep.contracts.tbtcToken.balanceOf(me)) as bigint) < amount) {
    await openDeposit(dep, { lotSats: 10n ** 9n, members: LIQUIDITY_MEMBERS, fundWith: "vendingMachine" });
  }
}

/**
 * Deploys WETH9, the factory and Router02, and shapes the TBTC/WETH pool as `scenario` says:
 * deep, thin or premium liquidity (added through the router, as a liquidity provider would), an
 * empty pair (created, no liquidity), or no pair at all.
 */
export async function deployUniswap(dep: TbtcDeployment, scenario: PoolScenario = "deep"): Promise<UniswapDeployment> {
  const signer = dep.signer;
  const me = await signer.getAddress();
  const weth = await deploy(signer, uniswapArtifact("v2-periphery", "WETH9"));
  const factory = await deploy(signer, uniswapArtifact("v2-core", "UniswapV2Factory"), [me]);
  const router = await deploy(signer, uniswapArtifact("v2-periphery", "UniswapV2Router02"), [await factory.getAddress(), await weth.getAddress()]);
  const addresses: UniswapAddresses = { UniswapV2Factory: await factory.getAddress(), UniswapV2Router02: await router.getAddress(), WETH: await weth.getAddress() };
  const u: UniswapDeployment = { scenario, addresses, factory, router, weth };
  if (scenario === "none") return u;
  await send(factory.createPair(dep.addresses.TBTCToken, addresses.WETH));
  addresses.TbtcWethPair = (await factory.getPair(dep.addresses.TBTCToken, addresses.WETH)) as string;
  u.pair = new ethers.Contract(addresses.TbtcWethPair, uniswapArtifact("v2-core", "UniswapV2Pair").abi, signer);
  if (scenario === "empty") return u;
  const shape = POOL_SHAPES[scenario];
  const eth = (ethValueOfTbtc(shape.tbtc, await currentWeiPerSat(dep)) * BigInt(100 + shape.premiumPct)) / 100n;
  await addLiquidity(dep, u, shape.tbtc, eth);
  return u;
}

/** Adds `tbtc` and `eth` to the pool through the router (the ratio must match a non-empty pool's). */
export async function addLiquidity(dep: TbtcDeployment, u: UniswapDeployment, tbtc: bigint, eth: bigint): Promise<void> {
  const me = await dep.signer.getAddress();
  await mintTbtcForPool(dep, tbtc);
  await fundEth(dep, me, eth + 10n ** 18n);
  await send(dep.contracts.tbtcToken.approve(u.addresses.UniswapV2Router02, tbtc));
  await send(u.router.addLiquidityETH(dep.addresses.TBTCToken, tbtc, 0n, 0n, me, (await chainTime(dep.provider)) + 3600, { value: eth }));
}

async function fundEth(dep: TbtcDeployment, who: string, atLeast: bigint): Promise<void> {
  const have = await dep.provider.getBalance(who);
  if (have < atLeast) await (dep.provider as ethers.JsonRpcProvider).send("hardhat_setBalance", [who, ethers.toQuantity(atLeast + 10n ** 20n)]);
}

/** The pool's reserves as (TBTC, WETH). */
export async function poolReserves(dep: TbtcDeployment, u: UniswapDeployment): Promise<{ tbtc: bigint; weth: bigint }> {
  if (!u.pair) throw new Error("no TBTC/WETH pair in this devnet");
  const [r0, r1] = (await u.pair.getReserves()) as [bigint, bigint];
  const tbtcIs0 = ((await u.pair.token0()) as string).toLowerCase() === dep.addresses.TBTCToken.toLowerCase();
  return tbtcIs0 ? { tbtc: r0, weth: r1 } : { tbtc: r1, weth: r0 };
}

/**
 * Moves the pool to (about) these reserves: the deployer withdraws its liquidity (the pair keeps
 * the 1000 wei of liquidity it locks forever), then sends the new TBTC and WETH to the pair and
 * syncs it. For tests and scenarios: a market that thinned out or drifted from the medianizer.
 */
export async function setPoolReserves(dep: TbtcDeployment, u: UniswapDeployment, target: { tbtc: bigint; weth: bigint }): Promise<void> {
  if (!u.pair) throw new Error("no TBTC/WETH pair in this devnet");
  const me = await dep.signer.getAddress();
  const lp = (await u.pair.balanceOf(me)) as bigint;
  if (lp > 0n) {
    await send(u.pair.approve(u.addresses.UniswapV2Router02, lp));
    await send(u.router.removeLiquidityETH(dep.addresses.TBTCToken, lp, 0n, 0n, me, (await chainTime(dep.provider)) + 3600));
  }
  const now = await poolReserves(dep, u);
  const addTbtc = target.tbtc > now.tbtc ? target.tbtc - now.tbtc : 0n;
  const addWeth = target.weth > now.weth ? target.weth - now.weth : 0n;
  if (addTbtc > 0n) {
    await mintTbtcForPool(dep, addTbtc);
    await send(dep.contracts.tbtcToken.transfer(u.addresses.TbtcWethPair!, addTbtc));
  }
  if (addWeth > 0n) {
    await fundEth(dep, me, addWeth + 10n ** 18n);
    await send(u.weth.deposit({ value: addWeth }));
    await send(u.weth.transfer(u.addresses.TbtcWethPair!, addWeth));
  }
  await send(u.pair.sync());
}

/** A swap by someone else (a front-runner, the market): `eth` in, TBTC out to `from`. */
export async function buyTbtcAsMarket(dep: TbtcDeployment, u: UniswapDeployment, from: ethers.Signer, eth: bigint, opts: ethers.Overrides = {}): Promise<ethers.TransactionResponse> {
  const router = u.router.connect(from) as ethers.Contract;
  // A fixed gas limit: an estimate made on a pending block where another swap already updated the
  // pair's price accumulators would be too low once this one is ordered first.
  return router.swapExactETHForTokens(0n, [u.addresses.WETH, dep.addresses.TBTCToken], await from.getAddress(), (await chainTime(dep.provider)) + 3600, { value: eth, gasLimit: 300_000n, ...opts });
}
