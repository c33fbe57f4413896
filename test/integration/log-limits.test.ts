import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getLogsChunked, KeepctlProvider } from "../../src/lib/chain";
import { connectWithConfig } from "../../src/lib/chain/provider";
import { startHardhatNode, type LocalNode } from "../../src/devnet/node";
import { startDevnet, type Devnet } from "../../src/devnet/scenario";
import { startProviderProxy, type ProviderProxy, type ProviderProxyOptions } from "../../src/devnet/provider-proxy";
import { loadConfig } from "../../src/lib/config";
import { loadTbtcRun } from "../../src/lib/tbtc/read/report";
import { endpointLimitsFile, loadEndpointLimits } from "../../src/lib/chain/endpoint-limits";

/**
 * The log scanner learns a provider's eth_getLogs cap from its refusal, through a loopback proxy
 * in front of a real Hardhat node that refuses with real providers' wordings. Refusals and calls
 * are counted by the proxy (what went over the wire); the logs found are checked against the
 * ones the test emitted.
 */
let node: LocalNode;
let emitter: string;
let firstBlock: number;
let head: number;
const LOGS = 12;
const EMITTER_INITCODE = "0x6009600c60003960096000f3" + "60003560006000a100";
const topic = (i: number) => ethers.zeroPadValue(ethers.toBeHex(i), 32);
const proxies: ProviderProxy[] = [];
const hex = (n: number) => ethers.toQuantity(n);

const WORDINGS: Record<string, NonNullable<ProviderProxyOptions["rangeRefusalMessage"]>> = {
  alchemy: (_span, max, from) => `Log response size exceeded. You can make eth_getLogs requests with up to a ${max / 1000}K block range and no limit on the response size, or you can request any block range with a cap of 10K logs in the response. Based on your parameters, this block range should work: [${hex(from)}, ${hex(from + max - 1)}]`,
  quicknode: (_span, max) => `eth_getLogs is limited to a ${max.toLocaleString("en-US")} range`,
  geth: (_span, max) => `exceed maximum block range: ${max}`,
  infura: (_span, max, from) => `query returned more than 10000 results. Try with this block range [${hex(from)}, ${hex(from + max - 1)}].`,
  plain: () => "block range is too wide",
};

async function proxy(o: Omit<ProviderProxyOptions, "target">, target = node.rpcUrl): Promise<ProviderProxy> {
  const p = await startProviderProxy({ target, rttMs: 0, requestsPerSecond: 0, maxBatchCalls: 0, ...o });
  proxies.push(p);
  return p;
}

beforeAll(async () => {
  node = await startHardhatNode();
  const raw = new ethers.JsonRpcProvider(node.rpcUrl, 31337, { staticNetwork: true });
  const [from] = (await raw.send("eth_accounts", [])) as string[];
  const deployed = (await raw.getTransactionReceipt(await raw.send("eth_sendTransaction", [{ from, data: EMITTER_INITCODE }])))!;
  emitter = deployed.contractAddress!;
  firstBlock = deployed.blockNumber;
  for (let i = 1; i <= LOGS; i++) {
    await raw.send("eth_sendTransaction", [{ from, to: emitter, data: topic(i) }]);
    await raw.send("hardhat_mine", [hex(1999)]);
  }
  head = Number(await raw.send("eth_blockNumber", []));
  raw.destroy();
}, 120_000);

afterAll(async () => {
  for (const p of proxies) await p.close();
  await node?.stop();
});

async function scanThrough(wording: keyof typeof WORDINGS, cap: number) {
  const p = await proxy({ maxLogBlockRange: cap, rangeRefusalMessage: WORDINGS[wording] });
  const kp = new KeepctlProvider([p.url], 31337, { backoffMs: 1, batchMaxCount: 1 });
  const learned: number[] = [];
  try {
    // one chunk at a time: each refusal is one the scanner could have avoided
    const logs = await getLogsChunked(kp, { address: emitter, fromBlock: firstBlock, toBlock: head }, { chunkSize: 10_000, concurrency: 1, onLearnedCap: (b) => learned.push(b) });
    expect(logs.map((l) => l.topics[0])).toEqual(Array.from({ length: LOGS }, (_, i) => topic(i + 1)));
    return { refused: p.counts.rangeRefused, calls: p.counts.byMethod.eth_getLogs ?? 0, learned };
  } finally {
    kp.destroy();
  }
}

describe("learning the eth_getLogs cap from the refusal", () => {
  const total = () => head - firstBlock + 1;
  for (const [wording, cap] of [["alchemy", 2000], ["quicknode", 3000], ["geth", 5000]] as const) {
    it(`${wording}'s wording names the cap: one refusal, then every chunk at the cap`, async () => {
      const r = await scanThrough(wording, cap);
      expect(r.refused).toBe(1);
      expect(r.calls).toBe(1 + Math.ceil(total() / cap));
      expect(r.learned).toEqual([cap]);
    });
  }

  it("infura's result-count refusal with a suggested range: retried at its size, not remembered as a cap", async () => {
    const r = await scanThrough("infura", 2500);
    expect(r.refused).toBe(1);
    expect(r.learned).toEqual([]);
  });

  it("a refusal naming nothing halves (10,000 -> 5,000 -> 2,500 under a 3,000 cap)", async () => {
    const r = await scanThrough("plain", 3000);
    expect(r.refused).toBe(2);
    expect(r.calls).toBe(2 + Math.ceil(total() / 2500));
    expect(r.learned).toEqual([]);
  });
});

describe("learning the batch cap from the refusal", () => {
  const accounts = Array.from({ length: 45 }, (_, i) => ethers.getAddress(ethers.toBeHex(i + 1, 20)));
  const readAll = (kp: KeepctlProvider) => Promise.all(accounts.map((a) => kp.getBalance(a)));

  it("a cap the refusal names: one refusal, the batch split at the cap, the endpoint not set aside; later batches split before sending", async () => {
    const p = await proxy({ maxBatchCalls: 10 });
    const learned: number[] = [];
    const kp = new KeepctlProvider([p.url], 31337, { backoffMs: 1, batchMaxCount: 100, onLearnedBatchMax: (n) => learned.push(n) });
    try {
      const first = await readAll(kp);
      expect(first).toHaveLength(45);
      expect(first.every((b) => b === 0n)).toBe(true);
      expect(p.counts.batchRefused).toBe(1);
      expect(learned).toEqual([10]);
      expect(p.counts.httpRequests).toBe(1 + Math.ceil(45 / 10));
      expect(kp.pool.stats[0].state).not.toBe("cooling");
      p.resetCounts();
      await readAll(kp);
      expect(p.counts.batchRefused).toBe(0);
      expect(p.counts.httpRequests).toBe(Math.ceil(45 / 10));
    } finally {
      kp.destroy();
    }
  });

  it("a refusal naming no cap halves until the batch passes", async () => {
    const p = await proxy({ maxBatchCalls: 10, batchRefusalMessage: () => "Batch size is too large" });
    const kp = new KeepctlProvider([p.url], 31337, { backoffMs: 1, batchMaxCount: 100 });
    try {
      expect(await readAll(kp)).toHaveLength(45);
      // 45 -> 22 (refused) -> 11 (refused) -> 5: every part of at most 5 passes
      expect(kp.learnedBatchMax).toBe(5);
      expect(p.counts.batchRefused).toBeGreaterThanOrEqual(3);
    } finally {
      kp.destroy();
    }
  });

  it("connectWithConfig remembers the cap per endpoint in the data dir and starts the next provider at it", async () => {
    const p = await proxy({ maxBatchCalls: 10 });
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-batch-"));
    const cfg = { rpcUrls: [p.url], chainId: 31337, rpcTimeoutMs: 5000, rpcRetries: 1, batchMaxCount: 100, dataDir };
    const a = await connectWithConfig(cfg);
    await readAll(a);
    a.destroy();
    expect(loadEndpointLimits(dataDir, p.url)).toEqual({ batchCalls: 10 });
    p.resetCounts();
    const b = await connectWithConfig(cfg);
    await readAll(b);
    b.destroy();
    expect(p.counts.batchRefused).toBe(0);
  });
});

describe("the learned cap is remembered per endpoint in the data dir's cache", () => {
  let devnet: Devnet;
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-log-limits-"));
  beforeAll(async () => {
    devnet = await startDevnet({ seed: false, out: path.join(home, "deployment.json") });
    const raw = new ethers.JsonRpcProvider(devnet.rpcUrl, 31337, { staticNetwork: true });
    await raw.send("hardhat_mine", [hex(30_000)]);
    raw.destroy();
  }, 300_000);
  afterAll(async () => {
    await devnet?.stop();
  });

  it("a cold scan learns 2,000 from the refusal; the next cold scan starts there and is never refused", async () => {
    const p = await proxy({ maxLogBlockRange: 2000, rangeRefusalMessage: WORDINGS.alchemy }, devnet.rpcUrl);
    const dataDir = path.join(home, "data");
    const cfg = loadConfig({ deployment: path.join(home, "deployment.json"), dataDir, rpcUrl: [p.url] }, {}, { dotenv: false });
    expect(cfg.logChunkSize).toBe(10_000);
    const first = await loadTbtcRun(cfg, { operators: [ethers.ZeroAddress], useCache: true });
    expect(p.counts.rangeRefused).toBeGreaterThan(0);
    expect(loadEndpointLimits(dataDir, p.url)).toEqual({ logBlocks: 2000 });
    expect(fs.readFileSync(endpointLimitsFile(dataDir), "utf8")).not.toContain("127.0.0.1");

    // cold again: the scan cache goes, the endpoint's limits stay
    for (const f of fs.readdirSync(path.join(dataDir, "cache"))) if (f.startsWith("tbtc-")) fs.rmSync(path.join(dataDir, "cache", f));
    p.resetCounts();
    const second = await loadTbtcRun(cfg, { operators: [ethers.ZeroAddress], useCache: true });
    expect(p.counts.rangeRefused).toBe(0);
    expect(second.block).toBeGreaterThanOrEqual(first.block);

    // --no-cache neither reads nor writes it
    p.resetCounts();
    await loadTbtcRun(cfg, { operators: [ethers.ZeroAddress], useCache: false });
    expect(p.counts.rangeRefused).toBeGreaterThan(0);
  });

  it("a cap in the deployment file (logBlockRange) is where chunks start", async () => {
    const file = path.join(home, "deployment-capped.json");
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(path.join(home, "deployment.json"), "utf8")), logBlockRange: 2000 }));
    const p = await proxy({ maxLogBlockRange: 2000, rangeRefusalMessage: WORDINGS.plain }, devnet.rpcUrl);
    const cfg = loadConfig({ deployment: file, dataDir: path.join(home, "data2"), rpcUrl: [p.url] }, {}, { dotenv: false });
    expect(cfg.logChunkSize).toBe(2000);
    await loadTbtcRun(cfg, { operators: [ethers.ZeroAddress], useCache: false });
    expect(p.counts.rangeRefused).toBe(0);
  });
});
