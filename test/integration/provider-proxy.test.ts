import { ethers } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getLogsChunked, KeepctlProvider } from "../../src/lib/chain";
import { SCAN_LOG_CONCURRENCY } from "../../src/lib/chain/logs";
import { startHardhatNode, type LocalNode } from "../../src/devnet/node";
import { startProviderProxy, type ProviderProxy, type ProviderProxyOptions } from "../../src/devnet/provider-proxy";

/**
 * The bench's provider-faithful proxy against a real Hardhat node: every cap answers what a
 * hosted provider answers, the counters count what went over the wire, and keepctl's log scanner
 * gets through its range cap with every log, in the fewest round trips.
 */
let node: LocalNode;
let emitter: string;
let firstBlock: number;
let head: number;
const LOGS = 30;
// LOG1 with topic = first calldata word, behind an init code that copies it out (no compiler).
const EMITTER_INITCODE = "0x6009600c60003960096000f3" + "60003560006000a100";
const topic = (i: number) => ethers.zeroPadValue(ethers.toBeHex(i), 32);
const proxies: ProviderProxy[] = [];

async function proxy(o: Omit<ProviderProxyOptions, "target">): Promise<ProviderProxy> {
  const p = await startProviderProxy({ target: node.rpcUrl, rttMs: 0, requestsPerSecond: 0, ...o });
  proxies.push(p);
  return p;
}

async function post(url: string, body: unknown): Promise<{ status: number; headers: Headers; json: unknown }> {
  const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: r.status, headers: r.headers, json: await r.json() };
}

const getLogs = (id: number, from: number, to: number | string) => ({
  jsonrpc: "2.0", id, method: "eth_getLogs", params: [{ address: emitter, fromBlock: ethers.toQuantity(from), toBlock: typeof to === "string" ? to : ethers.toQuantity(to) }],
});

beforeAll(async () => {
  node = await startHardhatNode();
  const raw = new ethers.JsonRpcProvider(node.rpcUrl, 31337, { staticNetwork: true });
  const [from] = (await raw.send("eth_accounts", [])) as string[];
  const deployed = (await raw.getTransactionReceipt(await raw.send("eth_sendTransaction", [{ from, data: EMITTER_INITCODE }])))!;
  emitter = deployed.contractAddress!;
  firstBlock = deployed.blockNumber;
  for (let i = 1; i <= LOGS; i++) {
    await raw.send("eth_sendTransaction", [{ from, to: emitter, data: topic(i) }]);
    await raw.send("hardhat_mine", [ethers.toQuantity(997)]); // logs ~1,000 blocks apart
  }
  head = Number(await raw.send("eth_blockNumber", []));
  raw.destroy();
}, 120_000);

afterAll(async () => {
  for (const p of proxies) await p.close();
  await node?.stop();
});

describe("provider proxy caps", () => {
  it("refuses a getLogs range above the cap with the hosted -32005 error, passes one at the cap", async () => {
    const p = await proxy({ maxLogBlockRange: 2_000 });
    const over = await post(p.url, getLogs(1, firstBlock, firstBlock + 2_000));
    expect(over.json).toMatchObject({ id: 1, error: { code: -32005, message: expect.stringContaining("block range is too wide") } });
    const at = await post(p.url, getLogs(2, firstBlock, firstBlock + 1_999));
    expect(Array.isArray((at.json as { result: unknown[] }).result)).toBe(true);
    expect((at.json as { result: unknown[] }).result.length).toBeGreaterThanOrEqual(2);
    // "latest" is resolved to the node's head
    const latest = await post(p.url, getLogs(3, firstBlock, "latest"));
    expect(latest.json).toMatchObject({ error: { code: -32005 } });
    expect(p.counts.rangeRefused).toBe(2);
  });

  it("refuses a getLogs answer above the result cap", async () => {
    const p = await proxy({ maxLogBlockRange: 0, maxLogResults: 10 });
    const r = await post(p.url, getLogs(1, firstBlock, head));
    expect(r.json).toMatchObject({ error: { code: -32005, message: "query returned more than 10 results" } });
    const few = await post(p.url, getLogs(2, firstBlock, firstBlock + 3_000));
    expect((few.json as { result: unknown[] }).result.length).toBeLessThanOrEqual(10);
    expect(p.counts.resultsRefused).toBe(1);
  });

  it("refuses a batch above the cap as a whole, answers one at the cap call by call", async () => {
    const p = await proxy({ maxBatchCalls: 5 });
    const call = (id: number) => ({ jsonrpc: "2.0", id, method: "eth_blockNumber", params: [] });
    const over = await post(p.url, [1, 2, 3, 4, 5, 6].map(call));
    expect(over.json).toMatchObject({ id: null, error: { code: -32600, message: expect.stringContaining("batch size too large") } });
    const at = await post(p.url, [1, 2, 3, 4, 5].map(call));
    expect((at.json as { id: number }[]).map((a) => a.id)).toEqual([1, 2, 3, 4, 5]);
    expect(p.counts.batchRefused).toBe(1);
    expect(p.counts.httpRequests).toBe(2);
    expect(p.counts.rpcCalls).toBe(11);
  });

  it("answers 429 with Retry-After above the request rate", async () => {
    const p = await proxy({ requestsPerSecond: 2, burst: 3 });
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 5; i++) {
      const r = await post(p.url, { jsonrpc: "2.0", id: i, method: "eth_chainId", params: [] });
      statuses.push(r.status);
      if (r.status === 429) retryAfter = r.headers.get("retry-after");
    }
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(p.counts.rateLimited).toBe(statuses.filter((s) => s === 429).length);
  });

  it("delays every HTTP request by the RTT and counts bytes each way", async () => {
    const p = await proxy({ rttMs: 120 });
    const body = { jsonrpc: "2.0", id: 7, method: "eth_chainId", params: [] };
    const t0 = performance.now();
    const r = await fetch(p.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const text = await r.text();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(115);
    expect(p.counts.bytesIn).toBe(Buffer.byteLength(JSON.stringify(body)));
    expect(p.counts.bytesOut).toBe(Buffer.byteLength(text));
  });
});

describe("keepctl's log scanner through the proxy", () => {
  it("splits ranges on the proxy's refusal and finds every log", async () => {
    const p = await proxy({ maxLogBlockRange: 3_000 });
    const kp = new KeepctlProvider([p.url], 31337, { backoffMs: 1 });
    try {
      const logs = await getLogsChunked(kp, { address: emitter, fromBlock: firstBlock, toBlock: head }, { chunkSize: 10_000, concurrency: SCAN_LOG_CONCURRENCY });
      expect(logs.map((l) => l.topics[0])).toEqual(Array.from({ length: LOGS }, (_, i) => topic(i + 1)));
      expect(p.counts.rangeRefused).toBeGreaterThan(0);
    } finally {
      kp.destroy();
    }
  });

  it("asks for a whole long range in one round trip: chunks batched, batches side by side", async () => {
    const p = await proxy({ maxLogBlockRange: 1_000, maxBatchCalls: 10, rttMs: 200 });
    const kp = new KeepctlProvider([p.url], 31337, { backoffMs: 1, batchMaxCount: 10 });
    try {
      const logs = await getLogsChunked(kp, { address: emitter, fromBlock: firstBlock, toBlock: head }, { chunkSize: 1_000, concurrency: SCAN_LOG_CONCURRENCY });
      expect(logs.length).toBe(LOGS);
      const chunks = Math.ceil((head - firstBlock + 1) / 1_000);
      expect(p.counts.rpcCalls).toBe(chunks);
      expect(p.counts.httpRequests).toBe(Math.ceil(chunks / 10));
      // side by side: every request was in flight at once (4 chunks at a time would need 8 in turn)
      expect(p.counts.maxInFlight).toBe(p.counts.httpRequests);
      expect(p.counts.batchRefused + p.counts.rangeRefused).toBe(0);
    } finally {
      kp.destroy();
    }
  });
});
