import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers } from "ethers";
import { DEFAULT_BATCH_MAX_COUNT, connect, type KeepctlProvider, type RpcStats } from "../src/lib/chain/provider";
import { startHardhatNode } from "../src/devnet/node";
import { deployTbtcSystem } from "../src/devnet/tbtc";
import { openDeposit } from "../src/devnet/deposits";
import { KEEP_CREATED_TOPIC } from "../src/lib/tbtc/abis";
import { readOneAtATime } from "./baseline";
import { loadOperatorDeposits } from "../src/lib/tbtc/read/scan";

/**
 * list-keeps on N deposits of one operator: cold (empty cache) and warm (nothing changed) against
 * a naive baseline that asks one question per HTTP request, one after another, as the original
 * script did. Same node, same deposits, same facts read.
 */
export interface BenchTbtcOptions {
  deposits: number;
  batchMaxCount?: number;
  log?: (msg: string) => void;
}

export interface Measured {
  ms: number;
  phases?: string;
  httpRequests: number;
  rpcCalls: number;
  found: number;
}

export interface BenchTbtcResult {
  deposits: number;
  baseline: Measured;
  cold: Measured;
  warm: Measured;
  targets: { name: string; met: boolean; detail: string }[];
}

async function measure(rpcUrl: string, batchMaxCount: number, fn: (p: KeepctlProvider) => Promise<number | { found: number; phases: string }>): Promise<Measured> {
  const t0 = performance.now();
  const p = await connect({ rpcUrls: [rpcUrl], chainId: 31337, batchMaxCount });
  try {
    const r = await fn(p);
    const stats: RpcStats = p.stats;
    const found = typeof r === "number" ? r : r.found;
    const phases = typeof r === "number" ? undefined : r.phases;
    return { ms: performance.now() - t0, phases, httpRequests: stats.httpRequests, rpcCalls: stats.rpcCalls, found };
  } finally {
    p.destroy();
  }
}

/** The original approach: one getLogs, then every read awaited on its own. */
async function naiveListKeeps(p: KeepctlProvider, factory: string, fromBlock: number, operator: string): Promise<number> {
  const logs = await p.send("eth_getLogs", [{ address: factory, topics: [KEEP_CREATED_TOPIC], fromBlock: ethers.toQuantity(fromBlock), toBlock: "latest" }]);
  return readOneAtATime(p, logs as ethers.Log[], operator);
}

export async function benchTbtc(o: BenchTbtcOptions): Promise<BenchTbtcResult> {
  const log = o.log ?? ((m: string) => process.stderr.write(m + "\n"));
  // What keepctl runs with unless told otherwise (the multicall keeps batches small anyway).
  const batchMaxCount = o.batchMaxCount ?? DEFAULT_BATCH_MAX_COUNT;
  const node = await startHardhatNode();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-bench-"));
  try {
    const setup = new ethers.JsonRpcProvider(node.rpcUrl, 31337, { staticNetwork: true });
    const signer = await setup.getSigner(0);
    const dep = await deployTbtcSystem(signer);
    // The node's per-call console logging costs every client alike and no production node does
    // it; off, the figures measure the client rather than Hardhat's logger.
    await setup.send("hardhat_setLoggingEnabled", [false]);
    const members = [ethers.Wallet.createRandom().address, ethers.Wallet.createRandom().address, ethers.Wallet.createRandom().address];
    const operator = members[0];
    log(`opening ${o.deposits} deposits for ${operator} ...`);
    for (let i = 0; i < o.deposits; i++) {
      await openDeposit(dep, { lotSats: 10n ** 6n, members, collateralPercent: 150 });
      if ((i + 1) % 50 === 0) log(`  ${i + 1}/${o.deposits}`);
    }
    setup.destroy();
    const factory = dep.addresses.BondedECDSAKeepFactory;
    const system = dep.addresses.TBTCSystem;

    const baseline = await measure(node.rpcUrl, 1, (p) => naiveListKeeps(p, factory, dep.deploymentBlock, operator));
    const ours = (p: KeepctlProvider) =>
      loadOperatorDeposits(p, { chainId: 31337, factory, system, startBlock: dep.deploymentBlock, operators: [operator], dataDir })
        .then((r) => ({
          found: r.deposits.length,
          phases: `head ${r.timings.headMs.toFixed(0)} ms, scan ${r.timings.scanMs.toFixed(0)} ms, reads ${r.timings.readMs.toFixed(0)} ms`,
        }));
    const cold = await measure(node.rpcUrl, batchMaxCount, ours);
    const warm = await measure(node.rpcUrl, batchMaxCount, ours);

    const n = o.deposits;
    const coldLimit = Math.floor(n / 50) + 10;
    const targets = [
      { name: "all deposits found", met: baseline.found === n && cold.found === n && warm.found === n,
        detail: `baseline ${baseline.found}, cold ${cold.found}, warm ${warm.found} of ${n}` },
      { name: "cold >= 10x faster than baseline", met: baseline.ms >= 10 * cold.ms,
        detail: `${(baseline.ms / cold.ms).toFixed(1)}x` },
      { name: `cold <= ${coldLimit} HTTP requests`, met: cold.httpRequests <= coldLimit, detail: `${cold.httpRequests}` },
      { name: "warm <= 3 HTTP requests", met: warm.httpRequests <= 3, detail: `${warm.httpRequests}` },
    ];
    return { deposits: n, baseline, cold, warm, targets };
  } finally {
    await node.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

export function formatTbtcBench(r: BenchTbtcResult): string {
  const row = (name: string, m: Measured) =>
    `${name.padEnd(10)} ${m.ms.toFixed(0).padStart(8)} ms ${String(m.httpRequests).padStart(8)} HTTP ${String(m.rpcCalls).padStart(8)} JSON-RPC${m.phases ? `   (${m.phases})` : ""}`;
  return [
    `tBTC list-keeps, ${r.deposits} deposits of one operator (local Hardhat node)`,
    row("baseline", r.baseline),
    row("cold", r.cold),
    row("warm", r.warm),
    ...r.targets.map((t) => `  [${t.met ? "met" : "NOT MET"}] ${t.name}: ${t.detail}`),
  ].join("\n");
}
