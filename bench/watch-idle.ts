import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PACKAGE_ROOT } from "../src/devnet/node";
import { startDevnet } from "../src/devnet/scenario";
import { startProviderProxy } from "../src/devnet/provider-proxy";
import { startBitcoinFaultProxy } from "../src/devnet/bitcoin/fault-proxy";

/**
 * What `keepctl watch --on-block` costs while nothing happens: the binary runs read-only against
 * the seeded devnet through the provider proxy (80 ms RTT) while the node mines an empty block
 * every 12 s (interval mining, as a real chain does); the proxy counts what watch asks per block.
 * watch learns the chain's pace from the blocks it sees, so the count starts after a warm-up of a
 * few blocks, from just after one block to just after the `blocks`-th next one.
 * Target (issue 13): <= 2 HTTP requests per idle block. The Bitcoin servers (the devnet's, behind
 * a counting proxy) are configured: with no redemption to follow, watch must not ask them
 * anything (issue 18), warm-up included.
 */
export interface WatchIdleResult {
  blocks: number;
  blockSec: number;
  httpRequests: number;
  rpcCalls: number;
  byMethod: Record<string, number>;
  perBlock: number;
  callsPerBlock: number;
  target: { name: string; met: boolean; detail: string };
  /** Answers the Bitcoin servers gave watch over the whole run (warm-up included). */
  btcAnswers: number;
  btcTarget: { name: string; met: boolean; detail: string };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Blocks before counting starts: watch measures the block time from the heads it sees. */
const WARMUP_BLOCKS = 3;

export async function benchWatchIdle(o: { blocks?: number; blockSec?: number; rttMs?: number; log?: (m: string) => void } = {}): Promise<WatchIdleResult> {
  const log = o.log ?? ((m: string) => process.stderr.write(m + "\n"));
  const blocks = o.blocks ?? 5;
  const blockSec = o.blockSec ?? 12;
  log("watch idle: starting the seeded devnet ...");
  const devnet = await startDevnet({ seed: true });
  const proxy = await startProviderProxy({ target: devnet.rpcUrl, rttMs: o.rttMs ?? 80 });
  const net = devnet.bitcoin!.net;
  const btcProxy = await startBitcoinFaultProxy({ electrumTcp: net.electrumTcpUrl, esplora: net.esploraUrl, rate: 0 });
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-watch-idle-"));
  const file = path.join(home, "deployment.json");
  fs.writeFileSync(file, JSON.stringify(devnet.file));
  const bin = path.join(PACKAGE_ROOT, "bin/keepctl");
  const child = spawn(process.execPath, [bin, "--deployment", file, "--rpc-url", proxy.url, "watch", "--on-block", "--interval", "3600", "--no-redeem", "--operator", devnet.scenario.operators[0]], {
    cwd: home,
    env: { PATH: process.env.PATH ?? "", HOME: home, NO_COLOR: "1", KEEPCTL_DATA_DIR: path.join(home, "data"), KEEPCTL_LOCK_DIR: path.join(home, "locks"), KEEPCTL_BTC_ELECTRUM_URLS: btcProxy.electrumTcpUrl!, KEEPCTL_BTC_ESPLORA_URLS: btcProxy.esploraUrl! },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr.on("data", (d) => { if (err.length < 20_000) err += d; });
  child.stdout.resume();
  let exited = false;
  child.on("exit", () => { exited = true; });
  const head = async () => Number(((await (await fetch(devnet.rpcUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] }) })).json()) as { result: string }).result);
  /** Resolves just after the next block is mined (+ `afterMs`, so watch's loop for it is done). */
  const nextBlock = async (afterMs: number) => {
    const from = await head();
    while ((await head()) === from) await sleep(200);
    await sleep(afterMs);
  };
  try {
    // 12 s blocks from now on, mined by the node itself.
    await fetch(devnet.rpcUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "evm_setIntervalMining", params: [blockSec * 1000] }) });
    // Warm-up: the first loop (cold scan), and a few blocks for watch to learn the pace.
    for (let i = 0; i < WARMUP_BLOCKS; i++) await nextBlock(0);
    if (exited) throw new Error(`watch exited early: ${err.slice(-1500)}`);
    await nextBlock(3_000);
    proxy.resetCounts();
    for (let i = 0; i < blocks; i++) await nextBlock(i === blocks - 1 ? 3_000 : 0);
    if (exited) throw new Error(`watch exited early: ${err.slice(-1500)}`);
    const c = proxy.counts;
    const perBlock = c.httpRequests / blocks;
    return {
      blocks, blockSec, httpRequests: c.httpRequests, rpcCalls: c.rpcCalls, byMethod: { ...c.byMethod }, perBlock, callsPerBlock: c.rpcCalls / blocks,
      target: { name: "watch --on-block: <= 2 HTTP requests per idle block", met: perBlock <= 2,
        detail: perBlock <= 2 ? `${perBlock.toFixed(1)} (a head poll timed by the measured block time, then the new block's logs and the live deposits' reads in one batch)`
          : `${perBlock.toFixed(1)}: polls found no block, or a loop took more than one batch (see by method)` },
      btcAnswers: btcProxy.counts.answers,
      btcTarget: { name: "watch with no redemption to follow: 0 Bitcoin requests", met: btcProxy.counts.answers === 0, detail: `${btcProxy.counts.answers} answers from the Bitcoin servers in ${WARMUP_BLOCKS + 1 + blocks} blocks` },
    };
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => (exited ? r(undefined) : child.once("exit", r)));
    await proxy.close();
    await btcProxy.close();
    await devnet.stop();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

export function formatWatchIdle(r: WatchIdleResult): string {
  return [
    `watch --on-block while idle (read-only, seeded devnet, ${r.blocks} empty blocks ${r.blockSec} s apart after a ${WARMUP_BLOCKS}-block warm-up, 80 ms RTT)`,
    `  ${r.httpRequests} HTTP requests, ${r.rpcCalls} JSON-RPC calls: ${r.perBlock.toFixed(1)} requests and ${r.callsPerBlock.toFixed(1)} calls per block`,
    `  by method: ${Object.entries(r.byMethod).map(([m, n]) => `${m} ${n}`).join(", ")}`,
    `  [${r.target.met ? "met" : "missed"}] ${r.target.name}: ${r.target.detail}`,
    `  [${r.btcTarget.met ? "met" : "missed"}] ${r.btcTarget.name}: ${r.btcTarget.detail}`,
  ].join("\n");
}
