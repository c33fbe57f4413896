import fs from "node:fs";
import path from "node:path";
import { ethers } from "ethers";
import { PACKAGE_ROOT } from "./node";
import { RAY } from "../lib/rai/math";
import { DEFAULT_UPDATE_RATE_DELAY } from "../lib/rai/types";

/**
 * RAI on the devnet: our OracleRelayer and RateSetter doubles (contracts/rai/), and a seeded
 * redemption-rate history made by time travel, so the feed has something real to read.
 */
export interface RaiDeployment {
  oracleRelayer: ethers.Contract;
  rateSetter: ethers.Contract;
  addresses: { OracleRelayer: string; RateSetter: string };
  deploymentBlock: number;
  updateRateDelay: number;
}

export interface SeededRate {
  perSecondRate: bigint;
  block: number;
  timestamp: number;
  txHash: string;
}

function raiArtifact(name: string): { abi: ethers.InterfaceAbi; bytecode: string } {
  const file = path.join(PACKAGE_ROOT, "artifacts/contracts/rai", `${name}.sol`, `${name}.json`);
  if (!fs.existsSync(file)) throw new Error(`missing compiled test double ${name}: run \`npx hardhat compile\` in ${PACKAGE_ROOT}`);
  const a = JSON.parse(fs.readFileSync(file, "utf8")) as { abi: ethers.InterfaceAbi; bytecode: string };
  return { abi: a.abi, bytecode: a.bytecode };
}

async function deploy(name: string, signer: ethers.Signer, args: unknown[]): Promise<ethers.Contract> {
  const a = raiArtifact(name);
  const c = await new ethers.ContractFactory(a.abi, a.bytecode, signer).deploy(...args);
  await c.waitForDeployment();
  return c as unknown as ethers.Contract;
}

/** Deploys OracleRelayer (redemption price 3.14 RAY, like RAI's launch) and a RateSetter allowed to set its rate. */
export async function deployRai(signer: ethers.Signer, opts: { updateRateDelay?: number } = {}): Promise<RaiDeployment> {
  const updateRateDelay = opts.updateRateDelay ?? DEFAULT_UPDATE_RATE_DELAY;
  const oracleRelayer = await deploy("OracleRelayerDouble", signer, [(314n * RAY) / 100n]);
  const relayerAddress = await oracleRelayer.getAddress();
  const rateSetter = await deploy("RateSetterDouble", signer, [relayerAddress, updateRateDelay]);
  const setterAddress = await rateSetter.getAddress();
  await (await oracleRelayer.addAuthorization(setterAddress)).wait();
  const deploymentBlock = (await rateSetter.deploymentTransaction()!.wait())!.blockNumber;
  return { oracleRelayer, rateSetter, addresses: { OracleRelayer: relayerAddress, RateSetter: setterAddress }, deploymentBlock, updateRateDelay };
}

/**
 * A plausible mix of per-second rates above and below 1 RAY (annualized roughly -5% .. +5%),
 * deterministic so tests can recompute the price from them.
 */
export function sampleRates(count: number): bigint[] {
  const steps = [-1_600_000_000_000_000n, 900_000_000_000_000n, -151_452_588_138_536_578n, 1_200_000_000_000_000n, 0n, -400_000_000_000_000n];
  return Array.from({ length: count }, (_, i) => RAY + steps[i % steps.length] + BigInt(i) * 1_000_000_000n);
}

async function provider(dep: RaiDeployment): Promise<ethers.JsonRpcProvider> {
  const p = dep.rateSetter.runner?.provider;
  if (!(p instanceof ethers.JsonRpcProvider)) throw new Error("seedRateHistory needs a JSON-RPC provider (evm_increaseTime)");
  return p;
}

/**
 * Emits `count` rate updates `intervalSec` apart by moving the chain's clock forward before each
 * (evm_increaseTime + evm_mine). Returns what was seeded, with each block's timestamp.
 */
export async function seedRateHistory(
  dep: RaiDeployment,
  opts: { count: number; intervalSec?: number; rates?: bigint[]; marketPrice?: bigint },
): Promise<SeededRate[]> {
  const interval = opts.intervalSec ?? dep.updateRateDelay;
  if (interval < dep.updateRateDelay) throw new Error(`intervalSec ${interval} is shorter than the RateSetter's updateRateDelay ${dep.updateRateDelay}`);
  const rates = opts.rates ?? sampleRates(opts.count);
  if (rates.length < opts.count) throw new Error(`need ${opts.count} rates, got ${rates.length}`);
  const p = await provider(dep);
  const out: SeededRate[] = [];
  for (let i = 0; i < opts.count; i++) {
    await p.send("evm_increaseTime", [interval]);
    await p.send("evm_mine", []);
    const tx = await dep.rateSetter.updateRate(opts.marketPrice ?? (314n * RAY) / 100n, rates[i]);
    const receipt = await tx.wait();
    const block = await p.getBlock(receipt.blockNumber);
    out.push({ perSecondRate: rates[i], block: receipt.blockNumber, timestamp: block!.timestamp, txHash: receipt.hash });
  }
  return out;
}
