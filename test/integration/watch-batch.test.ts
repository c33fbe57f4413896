import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { startDevnet, devnetWallet, type Devnet } from "../../src/devnet/scenario";
import { openDeposit } from "../../src/devnet/deposits";
import { setEthBtcPrice } from "../../src/devnet/tbtc";
import { startProviderProxy, type ProviderProxy } from "../../src/devnet/provider-proxy";
import { loadConfig, type Config } from "../../src/lib/config";
import { connect, type KeepctlProvider } from "../../src/lib/chain/provider";
import { AlertHub } from "../../src/lib/alert";
import { AuditLog } from "../../src/lib/audit";
import { Journal } from "../../src/lib/chain/journal";
import { ActionSender } from "../../src/lib/chain/sender";
import { JournaledSender } from "../../src/lib/tbtc/redeem/redeemer";
import { tbtcContractsOf } from "../../src/lib/tbtc/redeem/redeem-session";
import { COURTESY_CALLED_TOPIC } from "../../src/lib/tbtc/abis";
import { runWatch, watchOnce, type WatchDeps, type WatchEvent } from "../../src/lib/tbtc/watch/watch-loop";

/**
 * What one watch pass costs in blocks and requests, counted from the chain and from a provider
 * proxy (a real HTTP server between watch and the node): all courtesy calls of a pass are mined
 * in one block; an idle block costs at most two HTTP requests with --on-block.
 */
const BTC = 100_000_000n;
const operator = devnetWallet(1).address;
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-watch-batch-"));
let devnet: Devnet;
let provider: KeepctlProvider;
let cfg: Config;
const deposits: string[] = [];

beforeAll(async () => {
  const file = path.join(home, "deployment.json");
  devnet = await startDevnet({ seed: false, out: file });
  for (let i = 0; i < 3; i++) {
    deposits.push((await openDeposit(devnet.deployment, { lotSats: 1n * BTC, members: [operator, devnetWallet(3).address, devnetWallet(4).address], fundWith: "proof" })).deposit);
  }
  cfg = loadConfig({ deployment: file, dataDir: path.join(home, "data") }, {}, { dotenv: false });
  provider = await connect({ rpcUrls: cfg.rpcUrls, chainId: cfg.chainId });
}, 300_000);

afterAll(async () => {
  provider?.destroy();
  await devnet?.stop();
});

function deps(over: Partial<WatchDeps> & { events: WatchEvent[] }): WatchDeps {
  return {
    cfg,
    provider,
    contracts: tbtcContractsOf(cfg),
    operators: [operator],
    hub: new AlertHub([]),
    audit: AuditLog.open(cfg.dataDir),
    policy: { warnBelowPct: 140, redeemBelowPct: 0, notifyCourtesy: false, feeSats: 10_000n, minEthWei: 0n, maxBlockAgeSec: 3600 },
    emit: (e) => over.events.push(e),
    signal: new AbortController().signal,
    intervalSec: 3600,
    once: true,
    ...over,
  };
}

const head = () => provider.getBlockNumber();

describe("watch: one pass, one block; an idle block, two requests", () => {
  it("broadcasts every courtesy call of a pass before waiting: all are mined in the same block (12 s-like interval mining)", async () => {
    // 150% -> 120%: every deposit is below the 125% courtesy-call threshold (above 110%).
    await setEthBtcPrice(devnet.deployment, 0.024);
    const w = new ethers.Wallet(ethers.Wallet.createRandom().privateKey, provider);
    await provider.send("hardhat_setBalance", [w.address, ethers.toQuantity(ethers.parseEther("10"))]);
    const sender = new JournaledSender(new ActionSender(w, provider, Journal.open(cfg.dataDir), { maxFeeGwei: 1000, pollMs: 100, dryRun: false }));
    const from = await head();
    // From here on a transaction waits in the pool for the next block, as on a real chain.
    await provider.send("evm_setAutomine", [false]);
    await provider.send("evm_setIntervalMining", [3000]);
    const events: WatchEvent[] = [];
    try {
      const s = await watchOnce(deps({ events, sender, policy: { ...deps({ events }).policy, notifyCourtesy: true } }), { loop: 1, lastHead: -1, lastNewBlockAt: Math.floor(Date.now() / 1000) });
      expect(s.courtesyCalls.map((a) => a.toLowerCase()).sort()).toEqual(deposits.map((a) => a.toLowerCase()).sort());
    } finally {
      await provider.send("evm_setIntervalMining", [0]);
      await provider.send("evm_setAutomine", [true]);
    }
    const logs = await provider.getLogs({ address: devnet.deployment.addresses.TBTCSystem, topics: [COURTESY_CALLED_TOPIC], fromBlock: from + 1 });
    expect(logs).toHaveLength(3);
    expect(new Set(logs.map((l) => l.blockNumber)).size).toBe(1);
    // One nonce each, consecutive: nothing sent twice.
    expect(await provider.getTransactionCount(w.address, "latest")).toBe(3);
    expect(events.filter((e) => e.type === "courtesy-call")).toHaveLength(3);
  }, 120_000);

  it("--on-block: at most 2 HTTP requests per idle block, counted by a provider proxy", async () => {
    await setEthBtcPrice(devnet.deployment, 0.03);
    const proxy: ProviderProxy = await startProviderProxy({ target: cfg.rpcUrls[0], rttMs: 5 });
    const viaProxy = await connect({ rpcUrls: [proxy.url], chainId: cfg.chainId });
    const ac = new AbortController();
    const events: WatchEvent[] = [];
    const nextBlock = async () => {
      const n = await head();
      while ((await head()) === n) await new Promise((r) => setTimeout(r, 100));
    };
    await provider.send("evm_setIntervalMining", [3000]);
    const running = runWatch(deps({ events, provider: viaProxy, once: false, onBlock: true, signal: ac.signal }));
    try {
      // Warm-up: the first loop, and blocks for watch to learn the chain's pace.
      for (let i = 0; i < 3; i++) await nextBlock();
      await nextBlock();
      await new Promise((r) => setTimeout(r, 1500));
      proxy.resetCounts();
      const loopsBefore = events.filter((e) => e.type === "heartbeat").length;
      const blocks = 4;
      for (let i = 0; i < blocks; i++) await nextBlock();
      await new Promise((r) => setTimeout(r, 1500));
      const counted = proxy.counts.httpRequests;
      const loops = events.filter((e) => e.type === "heartbeat").length - loopsBefore;
      // Every block was looked at (a loop per block), and cost no more than a poll and one batch.
      expect(loops).toBeGreaterThanOrEqual(blocks - 1);
      expect(events.filter((e) => e.type === "loop-error")).toEqual([]);
      expect(counted).toBeLessThanOrEqual(2 * blocks);
      expect(proxy.counts.byMethod.eth_getLogs ?? 0).toBeGreaterThanOrEqual(blocks - 1);
    } finally {
      ac.abort();
      await running;
      await provider.send("evm_setIntervalMining", [0]);
      viaProxy.destroy();
      await proxy.close();
    }
  }, 120_000);
});
