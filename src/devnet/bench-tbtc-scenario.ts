import fs from "node:fs";
import path from "node:path";
import { ethers } from "ethers";
import { type LocalNode, PACKAGE_ROOT, startHardhatNode } from "./node";
import { liquidateDeposit, openDeposit } from "./deposits";
import { deployTbtcSystem, type TbtcDeployment } from "./tbtc";

/**
 * A mainnet-shaped tBTC chain for the bench: thousands of keeps of many operators spread over
 * millions of blocks, the head far beyond the factory's deployment, and one benched operator in a
 * few hundred of them, some finished.
 *
 * The shortcut (documented in docs/performance.md): the benched operator's deposits are real
 * (real Deposit clones, real keeps with real bonds, funded through the VendingMachine, some
 * liquidated), but the other operators' keeps are only their BondedECDSAKeepCreated events: for
 * each batch the keep factory's address gets BenchKeepCreatedEmitter's code (hardhat_setCode),
 * which emits the same events from the same address, and then its own code back (its storage is
 * untouched). keepctl never reads another operator's keep, only its creation log, so the scan sees
 * what it would see on mainnet. Empty blocks come from hardhat_mine.
 */
export interface MainnetShapeOptions {
  /** Keeps in all (foreign events + the operator's real deposits). Default 3,500. */
  totalKeeps?: number;
  /** Real deposits of the benched operator. Default 300. */
  operatorDeposits?: number;
  /** Blocks the keep creations are spread over. Default 3,000,000. */
  keepSpanBlocks?: number;
  /** Head this many blocks after the factory's deployment. Default 10,000,000. */
  headAfterDeploy?: number;
  /** Every Nth operator deposit is liquidated (finished). Default 5 (20%). */
  liquidateEvery?: number;
  /**
   * A second benched operator, co-signer of the first this many of the operator's deposits (the
   * same deposits: cost against an operator's keep count without building more). Default 1/3.
   */
  smallOperatorDeposits?: number;
  /** Other operators keeps are drawn from. Default 120. */
  otherOperators?: number;
  log?: (msg: string) => void;
}

export interface MainnetShape {
  node: LocalNode;
  dep: TbtcDeployment;
  factory: string;
  system: string;
  /** The factory's deployment block: where an operator's scan starts. */
  startBlock: number;
  head: number;
  operator: string;
  /** Co-signer of the first `smallOperatorDeposits` of the operator's deposits. */
  smallOperator: string;
  smallOperatorDeposits: number;
  totalKeeps: number;
  operatorDeposits: number;
  finishedDeposits: number;
  /** Block of the first and last keep creation. */
  firstKeepBlock: number;
  lastKeepBlock: number;
  /** Seconds spent building it. */
  buildSec: number;
  close(): Promise<void>;
}

const EMITTER_ARTIFACT = path.join(PACKAGE_ROOT, "artifacts/contracts/keepctl/BenchKeepCreatedEmitter.sol/BenchKeepCreatedEmitter.json");
/** Events per emitting transaction (about 6k gas each, far below the block gas limit). */
const EMIT_PER_TX = 400;

/** Deterministic addresses (bench runs are comparable): keccak of a label. */
const addr = (label: string) => ethers.getAddress(ethers.dataSlice(ethers.id(label), 12));

export async function buildMainnetShape(o: MainnetShapeOptions = {}): Promise<MainnetShape> {
  const t0 = performance.now();
  const log = o.log ?? (() => undefined);
  const total = o.totalKeeps ?? 3_500;
  const opDeposits = o.operatorDeposits ?? 300;
  const span = o.keepSpanBlocks ?? 3_000_000;
  const headAfter = o.headAfterDeploy ?? 10_000_000;
  const liquidateEvery = o.liquidateEvery ?? 5;
  const others = Array.from({ length: o.otherOperators ?? 120 }, (_, i) => addr(`bench-operator-${i}`));
  if (opDeposits > total) throw new Error("operatorDeposits cannot exceed totalKeeps");
  if (span >= headAfter) throw new Error("keepSpanBlocks must be below headAfterDeploy");

  const node = await startHardhatNode();
  try {
    const provider = new ethers.JsonRpcProvider(node.rpcUrl, 31337, { staticNetwork: true, batchMaxCount: 1 });
    const signer = await provider.getSigner(0);
    await provider.send("hardhat_setLoggingEnabled", [false]);
    const dep = await deployTbtcSystem(signer);
    const factory = dep.addresses.BondedECDSAKeepFactory;
    const system = dep.addresses.TBTCSystem;
    const factoryCode = (await provider.send("eth_getCode", [factory, "latest"])) as string;
    const emitter = JSON.parse(fs.readFileSync(EMITTER_ARTIFACT, "utf8")) as { abi: ethers.InterfaceAbi; deployedBytecode: string };
    const emitterAt = new ethers.Contract(factory, emitter.abi, signer);
    const operator = addr("bench-benched-operator");
    const smallOperator = addr("bench-small-operator");
    const smallDeposits = Math.min(opDeposits, o.smallOperatorDeposits ?? Math.floor(opDeposits / 3));
    // eth_blockNumber itself: ethers' getBlockNumber() answers from a cache for a while.
    const blockNumber = async () => Number(await provider.send("eth_blockNumber", []));
    const mine = (n: number) => (n > 0 ? provider.send("hardhat_mine", [ethers.toQuantity(n)]) : Promise.resolve());

    // Epochs: a gap of empty blocks, a share of the foreign keeps, a share of the operator's deposits.
    const epochs = Math.min(60, Math.max(1, opDeposits));
    const gap = Math.floor(span / epochs);
    const foreignTotal = total - opDeposits;
    let foreignDone = 0;
    let opDone = 0;
    let firstKeepBlock = 0;
    let lastKeepBlock = 0;
    const opened: string[] = [];
    for (let e = 0; e < epochs; e++) {
      await mine(gap - 1);
      const foreign = Math.floor((foreignTotal * (e + 1)) / epochs) - foreignDone;
      await provider.send("hardhat_setCode", [factory, emitter.deployedBytecode]);
      for (let i = 0; i < foreign; i += EMIT_PER_TX) {
        const n = Math.min(EMIT_PER_TX, foreign - i);
        const keeps: string[] = [];
        const owners: string[] = [];
        const members: string[] = [];
        for (let j = 0; j < n; j++) {
          const k = foreignDone + i + j;
          keeps.push(addr(`bench-keep-${k}`));
          owners.push(addr(`bench-deposit-${k}`));
          for (let m = 0; m < 3; m++) members.push(others[(k * 7 + m * 13) % others.length]);
        }
        const r = await (await emitterAt.emitKeeps(keeps, owners, members, system, { gasLimit: 15_000_000 })).wait();
        if (!r || r.status !== 1) throw new Error("emitting foreign keeps failed");
        lastKeepBlock = r.blockNumber;
        firstKeepBlock ||= r.blockNumber;
      }
      foreignDone += foreign;
      await provider.send("hardhat_setCode", [factory, factoryCode]);
      const mineNow = Math.floor((opDeposits * (e + 1)) / epochs) - opDone;
      for (let i = 0; i < mineNow; i++) {
        const k = opDone + i;
        const d = await openDeposit(dep, {
          lotSats: 10n ** 6n,
          members: [operator, k < smallDeposits ? smallOperator : others[(k + 1) % others.length], others[k % others.length]],
          collateralPercent: 150,
          fundWith: "vendingMachine",
        });
        opened.push(d.deposit);
      }
      opDone += mineNow;
      lastKeepBlock = await blockNumber();
      firstKeepBlock ||= lastKeepBlock;
      if ((e + 1) % 10 === 0) log(`  epoch ${e + 1}/${epochs}: ${foreignDone + opDone} keeps`);
    }
    // Finished ones: liquidated late, as on mainnet (the VendingMachine minted the buyer's TBTC).
    let finished = 0;
    for (let i = 0; i < opened.length; i += liquidateEvery) {
      await liquidateDeposit(dep, opened[i]);
      finished++;
    }
    const now = await blockNumber();
    await mine(dep.deploymentBlock + headAfter - now);
    const head = await blockNumber();
    provider.destroy();
    return {
      node, dep, factory, system, startBlock: dep.deploymentBlock, head, operator, smallOperator, smallOperatorDeposits: smallDeposits,
      totalKeeps: foreignDone + opDone, operatorDeposits: opDone, finishedDeposits: finished,
      firstKeepBlock, lastKeepBlock, buildSec: (performance.now() - t0) / 1000,
      close: () => node.stop(),
    };
  } catch (e) {
    await node.stop();
    throw e;
  }
}
