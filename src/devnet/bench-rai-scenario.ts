import { ethers } from "ethers";
import { type LocalNode, startHardhatNode } from "./node";
import { deployRai, sampleRates, type RaiDeployment } from "./rai";
import { RAY } from "../lib/rai/math";

/**
 * A year of RAI redemption rates for the bench: the RateSetter double (src/devnet/rai.ts) emits
 * one UpdateRedemptionRate an hour, with `blocksPerHour - 1` empty 12 s blocks between updates
 * (hardhat_mine), so the events path scans a mainnet-long range (~2.6M blocks a year).
 *
 * Setup: each hour is three calls (mine the empty blocks, set the next timestamp, send the update,
 * which automine mines). Bench tooling only.
 */
export interface RaiYearOptions {
  /** Hourly updates (default 8,760: a year). */
  hours?: number;
  /** Blocks per hour, the update's included (default 300: 12 s blocks). */
  blocksPerHour?: number;
  log?: (msg: string) => void;
}

export interface RaiYear {
  node: LocalNode;
  rai: RaiDeployment;
  rates: { perSecondRate: bigint; timestamp: number; block: number }[];
  head: number;
  setupSec: number;
  close(): Promise<void>;
}

export async function buildRaiYear(o: RaiYearOptions = {}): Promise<RaiYear> {
  const hours = o.hours ?? 8760;
  const perHour = o.blocksPerHour ?? 300;
  const log = o.log ?? (() => undefined);
  const t0 = performance.now();
  const node = await startHardhatNode();
  try {
    const provider = new ethers.JsonRpcProvider(node.rpcUrl, 31337, { staticNetwork: true, batchMaxCount: 1 });
    await provider.send("hardhat_setLoggingEnabled", [false]);
    const signer = await provider.getSigner(0);
    const from = await signer.getAddress();
    const rai = await deployRai(signer, { updateRateDelay: 3600 });
    const latest = (await provider.getBlock("latest"))!;
    const firstTs = latest.timestamp + 3600;
    let nonce = await provider.getTransactionCount(from, "latest");
    const rates = sampleRates(hours);
    const market = ethers.toQuantity((314n * RAY) / 100n);
    const iface = rai.rateSetter.interface;
    // One request at a time: the node does not promise to take a batch's entries in order, and
    // each hour's timestamp must follow the empty blocks before it.
    for (let h = 0; h < hours; h++) {
      if (perHour > 1) await provider.send("hardhat_mine", [ethers.toQuantity(perHour - 1), ethers.toQuantity(12)]);
      await provider.send("evm_setNextBlockTimestamp", [ethers.toQuantity(firstTs + h * 3600)]);
      await provider.send("eth_sendTransaction", [{ from, to: rai.addresses.RateSetter, data: iface.encodeFunctionData("updateRate", [market, rates[h]]), gas: ethers.toQuantity(200_000), nonce: ethers.toQuantity(nonce++) }]);
      if (h > 0 && h % 1000 === 0) log(`  ${h} of ${hours} hours`);
    }
    // What was seeded, read back from the chain (and checked: one update an hour).
    const logs = await provider.getLogs({ address: rai.addresses.RateSetter, fromBlock: rai.deploymentBlock, toBlock: "latest" });
    if (logs.length !== hours) throw new Error(`seeded ${logs.length} rate updates, expected ${hours}`);
    const out: RaiYear["rates"] = [];
    for (let i = 0; i < logs.length; i++) {
      const ev = iface.parseLog(logs[i])!;
      out.push({ perSecondRate: ev.args.redemptionRate as bigint, timestamp: firstTs + i * 3600, block: logs[i].blockNumber });
    }
    const lastBlock = (await provider.getBlock(out[out.length - 1].block))!;
    if (lastBlock.timestamp !== out[out.length - 1].timestamp) throw new Error("seeded timestamps are not one hour apart");
    const head = Number(await provider.send("eth_blockNumber", []));
    provider.destroy();
    return { node, rai, rates: out, head, setupSec: (performance.now() - t0) / 1000, close: () => node.stop() };
  } catch (e) {
    await node.stop();
    throw e;
  }
}
