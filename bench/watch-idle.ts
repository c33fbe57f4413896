import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PACKAGE_ROOT } from "../src/devnet/node";
import { startDevnet } from "../src/devnet/scenario";
import { startProviderProxy } from "../src/devnet/provider-proxy";

/**
 * What `keepctl watch --on-block` costs while nothing happens: the binary runs read-only against
 * the seeded devnet through the provider proxy (80 ms RTT) while empty blocks arrive every 12 s
 * (mined directly on the node, not through the proxy); the proxy counts what watch asks per block.
 * Target (issue 13): <= 2 HTTP requests per idle block.
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
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function benchWatchIdle(o: { blocks?: number; blockSec?: number; rttMs?: number; log?: (m: string) => void } = {}): Promise<WatchIdleResult> {
  const log = o.log ?? ((m: string) => process.stderr.write(m + "\n"));
  const blocks = o.blocks ?? 5;
  const blockSec = o.blockSec ?? 12;
  log("watch idle: starting the seeded devnet ...");
  const devnet = await startDevnet({ seed: true });
  const proxy = await startProviderProxy({ target: devnet.rpcUrl, rttMs: o.rttMs ?? 80 });
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-watch-idle-"));
  const file = path.join(home, "deployment.json");
  fs.writeFileSync(file, JSON.stringify(devnet.file));
  const bin = path.join(PACKAGE_ROOT, "bin/keepctl");
  const child = spawn(process.execPath, [bin, "--deployment", file, "--rpc-url", proxy.url, "watch", "--on-block", "--interval", "3600", "--no-redeem", "--operator", devnet.scenario.operators[0]], {
    cwd: home,
    env: { PATH: process.env.PATH ?? "", HOME: home, NO_COLOR: "1", KEEPCTL_DATA_DIR: path.join(home, "data"), KEEPCTL_LOCK_DIR: path.join(home, "locks") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr.on("data", (d) => { if (err.length < 20_000) err += d; });
  child.stdout.resume();
  let exited = false;
  child.on("exit", () => { exited = true; });
  try {
    // Let the first loop (cold scan, reads) finish, then count only the idle blocks.
    await sleep(10_000);
    if (exited) throw new Error(`watch exited early: ${err.slice(-1500)}`);
    proxy.resetCounts();
    for (let i = 0; i < blocks; i++) {
      await sleep(blockSec * 1000);
      await fetch(devnet.rpcUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "evm_mine", params: [] }) });
    }
    // the loop the last block wakes
    await sleep(3_000);
    const c = proxy.counts;
    const perBlock = c.httpRequests / blocks;
    return {
      blocks, blockSec, httpRequests: c.httpRequests, rpcCalls: c.rpcCalls, byMethod: { ...c.byMethod }, perBlock, callsPerBlock: c.rpcCalls / blocks,
      target: { name: "watch --on-block: <= 2 HTTP requests per idle block", met: perBlock <= 2,
        detail: perBlock <= 2 ? perBlock.toFixed(1)
          : `${perBlock.toFixed(1)}: --on-block polls the head every 2 s (6 polls per 12 s block), then each new block's loop costs its own round trips (head, logs of the new block, reads of the live deposits)` },
    };
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => (exited ? r(undefined) : child.once("exit", r)));
    await proxy.close();
    await devnet.stop();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

export function formatWatchIdle(r: WatchIdleResult): string {
  return [
    `watch --on-block while idle (read-only, seeded devnet, ${r.blocks} empty blocks ${r.blockSec} s apart, 80 ms RTT)`,
    `  ${r.httpRequests} HTTP requests, ${r.rpcCalls} JSON-RPC calls: ${r.perBlock.toFixed(1)} requests and ${r.callsPerBlock.toFixed(1)} calls per block`,
    `  by method: ${Object.entries(r.byMethod).map(([m, n]) => `${m} ${n}`).join(", ")}`,
    `  [${r.target.met ? "met" : "missed"}] ${r.target.name}: ${r.target.detail}`,
  ].join("\n");
}
