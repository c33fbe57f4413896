import { ethers } from "ethers";
import { connect } from "../src/lib/chain/provider";
import { loadConfig, requireContract } from "../src/lib/config";
import { loadTbtcRun } from "../src/lib/tbtc/read/report";
import { KEEP_CREATED_TOPIC } from "../src/lib/tbtc/abis";
import { readOneAtATime } from "./baseline";

/**
 * One measured run of the scale bench, in a process of its own so its peak RSS is its own:
 *   node dist/bench/scale-child.js keepctl|baseline <deployment.json> <rpcUrl> <dataDir> <operator> [logRangeCap]
 * Prints one JSON line: wall time of the run (module loading excluded), deposits found, peak RSS.
 * "keepctl" is list-keeps' code path (config loading, connect, preflight, scan, reads, cache);
 * "baseline" is the seed's way, one call per HTTP request, one after another.
 */
async function baseline(rpcUrl: string, file: string, operator: string, cap: number): Promise<{ found: number }> {
  const cfg = loadConfig({ deployment: file, rpcUrl }, { PATH: process.env.PATH ?? "" }, { cwd: process.cwd(), dotenv: false });
  const factory = requireContract(cfg, "BondedECDSAKeepFactory");
  const p = await connect({ rpcUrls: [rpcUrl], chainId: cfg.chainId, batchMaxCount: 1 });
  try {
    const head = Number(await p.send("eth_blockNumber", []));
    // The seed asked for the whole range at once; a capped provider refuses that, so the
    // baseline walks it in cap-sized pieces, one at a time.
    const logs: ethers.Log[] = [];
    for (let from = cfg.startBlock; from <= head; from += cap) {
      const got = (await p.send("eth_getLogs", [{ address: factory, topics: [KEEP_CREATED_TOPIC], fromBlock: ethers.toQuantity(from), toBlock: ethers.toQuantity(Math.min(head, from + cap - 1)) }])) as ethers.Log[];
      logs.push(...got);
    }
    // the facts list-keeps shows, one getter at a time (as bench/tbtc.ts's baseline)
    return { found: await readOneAtATime(p, logs, operator) };
  } finally {
    p.destroy();
  }
}

async function ours(rpcUrl: string, file: string, dataDir: string, operator: string): Promise<{ found: number; finished: number; phases: string }> {
  // One Hardhat process answers every request in turn, where a hosted provider spreads them over
  // servers: a long scan's last batch can wait longer than the default 15 s timeout behind the others.
  // KEEPCTL_LOG_CHUNK_SIZE passes through, so a run can reproduce the 5,000-block chunks of before issue 21.
  const env = { PATH: process.env.PATH ?? "", KEEPCTL_RPC_TIMEOUT_MS: "120000", ...(process.env.KEEPCTL_LOG_CHUNK_SIZE ? { KEEPCTL_LOG_CHUNK_SIZE: process.env.KEEPCTL_LOG_CHUNK_SIZE } : {}) };
  const cfg = loadConfig({ deployment: file, rpcUrl, dataDir, operator: [operator] }, env, { cwd: process.cwd(), dotenv: false });
  const run = await loadTbtcRun(cfg, { operators: [operator], useCache: true, staleHead: "warn" });
  return {
    found: run.deposits.length,
    finished: run.deposits.filter((d) => d.finished).length,
    phases: `head ${run.timings.headMs.toFixed(0)} ms, scan ${run.timings.scanMs.toFixed(0)} ms, reads ${run.timings.readMs.toFixed(0)} ms`,
  };
}

async function main(): Promise<void> {
  const [mode, file, rpcUrl, dataDir, operator, cap] = process.argv.slice(2);
  const t0 = performance.now();
  const r = mode === "baseline" ? await baseline(rpcUrl, file, operator, Number(cap ?? 10_000)) : await ours(rpcUrl, file, dataDir, operator);
  const ms = performance.now() - t0;
  // maxRSS is in kilobytes: the process's peak, module loading included.
  process.stdout.write(JSON.stringify({ ms, ...r, peakRssMb: process.resourceUsage().maxRSS / 1024 }) + "\n");
}

main().catch((e) => {
  process.stderr.write(`scale-child failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
