import http from "node:http";
import type { AddressInfo } from "node:net";
import { ethers } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, getLogsChunked, KeepctlProvider, postWithFailover } from "../../src/lib/chain";
import { EndpointPool } from "../../src/lib/chain/endpoint-pool";
import { ExitCode, RpcError } from "../../src/lib/errors";
import { freePort, startHardhatNode, type LocalNode } from "../../src/devnet/node";

/**
 * The provider against a real Hardhat node, behind real loopback HTTP servers that misbehave the
 * way public endpoints do: rate limits, hangs, dead ports, batch refusal, log-range caps.
 */
type Rpc = { id: number; method: string; params: unknown[] };
type Reply = { status: number; body?: unknown } | "forward" | "hang";

interface Proxy {
  url: string;
  hits: { batch: boolean; methods: string[] }[];
  close(): Promise<void>;
}

async function startProxy(upstream: string, decide: (calls: Rpc[], hit: number, batch: boolean) => Reply): Promise<Proxy> {
  const hits: Proxy["hits"] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", async () => {
      const json = JSON.parse(body);
      const batch = Array.isArray(json);
      const calls: Rpc[] = batch ? json : [json];
      hits.push({ batch, methods: calls.map((c) => c.method) });
      const reply = decide(calls, hits.length, batch);
      if (reply === "hang") return; // never answer; the client's timeout must fire
      if (reply === "forward") {
        const up = await fetch(upstream, { method: "POST", headers: { "content-type": "application/json" }, body });
        res.writeHead(up.status, { "content-type": "application/json" }).end(await up.text());
        return;
      }
      res.writeHead(reply.status, { "content-type": "application/json" }).end(reply.body === undefined ? "" : JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

let node: LocalNode;
const proxies: Proxy[] = [];
const proxy = async (decide: Parameters<typeof startProxy>[1]) => {
  const p = await startProxy(node.rpcUrl, decide);
  proxies.push(p);
  return p;
};
// Generous timeout (the machine may be busy; a spurious timeout would add a retry); tiny backoff.
// Failover on its own: the head census and the per-batch head check (their own tests below) are off.
const fast = { timeoutMs: 5000, backoffMs: 5, maxLagBlocks: 0 };

async function rejection(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (e) {
    return e as RpcError;
  }
  throw new Error("expected a rejection");
}

beforeAll(async () => {
  node = await startHardhatNode();
});
afterAll(async () => {
  for (const p of proxies) await p.close();
  await node?.stop();
});

describe("connect", () => {
  it("verifies the chain id and counts the probe", async () => {
    const p = await connect({ rpcUrls: [node.rpcUrl], chainId: 31337 });
    expect(p).toBeInstanceOf(KeepctlProvider);
    expect(p.stats).toMatchObject({ httpRequests: 1, rpcCalls: 1, byMethod: { eth_chainId: 1 } });
    expect(p.stats.endpoints).toEqual([{ url: node.rpcUrl, state: "healthy", coolingUntil: null, strikes: 0, coolDowns: 0, httpRequests: 1, failures: 0, lastError: null, lastFailureAt: null, head: null, lagCoolDowns: 0 }]);
    expect(await p.getBlockNumber()).toBeGreaterThanOrEqual(0);
    p.destroy();
  });

  it("learns the chain id when none is expected", async () => {
    const p = await connect({ rpcUrls: [node.rpcUrl] });
    expect((await p.getNetwork()).chainId).toBe(31337n);
    p.destroy();
  });

  it("chainCheck batched: eth_chainId shares the first batch; the answers wait for it", async () => {
    const px = await proxy(() => "forward");
    const p = await connect({ rpcUrls: [px.url], chainId: 31337, chainCheck: "batched" });
    expect(px.hits).toHaveLength(0); // nothing sent alone
    const [head, code] = await Promise.all([p.send("eth_getBlockByNumber", ["latest", false]), p.send("eth_getCode", [ethers.ZeroAddress, "latest"])]);
    expect(head).toMatchObject({ number: expect.any(String) });
    expect(code).toBe("0x");
    expect(px.hits).toEqual([{ batch: true, methods: ["eth_chainId", "eth_getBlockByNumber", "eth_getCode"] }]);
    p.destroy();
  });

  it("chainCheck batched on the wrong chain: every answer is the same exit-4 refusal, and no transaction is broadcast", async () => {
    const px = await proxy(() => "forward");
    const p = await connect({ rpcUrls: [px.url], chainId: 1, chainCheck: "batched" });
    const e = await rejection(p.send("eth_getBlockByNumber", ["latest", false]));
    expect(e).toBeInstanceOf(RpcError);
    expect(e.code).toBe("CHAIN_MISMATCH");
    expect(e.exitCode).toBe(ExitCode.RPC);
    expect(e.message).toBe("RPC endpoint serves chain 31337, expected chain 1");
    // A read that fails for its own reasons still reports the wrong chain first.
    expect((await rejection(p.send("eth_call", [{ to: ethers.ZeroAddress, data: "0xzz" }, "latest"]))).code).toBe("CHAIN_MISMATCH");
    const w = ethers.Wallet.createRandom();
    const raw = await w.signTransaction({ type: 2, chainId: 1, nonce: 0, to: w.address, gasLimit: 21_000n, maxFeePerGas: 1n, maxPriorityFeePerGas: 1n });
    expect((await rejection(p.send("eth_sendRawTransaction", [raw]))).code).toBe("CHAIN_MISMATCH");
    expect(px.hits.flatMap((h) => h.methods)).not.toContain("eth_sendRawTransaction");
    p.destroy();
  });

  it("refuses an endpoint on the wrong chain with an exit-4 error", async () => {
    const e = await rejection(connect({ rpcUrls: [node.rpcUrl], chainId: 1 }));
    expect(e).toBeInstanceOf(RpcError);
    expect(e.code).toBe("CHAIN_MISMATCH");
    expect(e.exitCode).toBe(ExitCode.RPC);
    expect(e.message).toBe("RPC endpoint serves chain 31337, expected chain 1");
  });

  it("fails with exit 4 and redacted URLs when nothing answers", async () => {
    const down1 = await freePort();
    const down2 = await freePort();
    const e = await rejection(
      connect({ rpcUrls: [`http://127.0.0.1:${down1}/v3/SECRETKEY123`, `http://127.0.0.1:${down2}`], chainId: 31337, ...fast, retries: 2 }),
    );
    expect(e).toBeInstanceOf(RpcError);
    expect(e.exitCode).toBe(ExitCode.RPC);
    expect(e.code).toBe("RPC_UNREACHABLE");
    expect(e.message).toBe(`no RPC endpoint answered: http://127.0.0.1:${down1}/*** (ECONNREFUSED), http://127.0.0.1:${down2} (ECONNREFUSED)`);
    expect(e.message).not.toContain("SECRETKEY123");
  });
});

describe("retry and failover", () => {
  it("skips a dead URL and a hung one, retries 429s, and counts every HTTP request", async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    const hung = await proxy(() => "hang");
    const flaky = await proxy((_c, hit) => (hit <= 2 ? { status: 429, body: { error: "slow down" } } : "forward"));
    const p = new KeepctlProvider([down, hung.url, flaky.url], 31337, { ...fast, timeoutMs: 5000, retries: 3 });
    const block = await p.getBlockNumber();
    expect(block).toBe(await new ethers.JsonRpcProvider(node.rpcUrl, undefined, { staticNetwork: true }).getBlockNumber());
    // A dead or hung URL costs one try while others remain; the last one gets the retries.
    expect(hung.hits.length).toBe(1);
    expect(flaky.hits.length).toBe(3);
    expect(p.stats.httpRequests).toBe(1 + 1 + 3);
    expect(p.stats.endpoints.map((e) => [e.state, e.httpRequests, e.lastError])).toEqual([
      ["cooling", 1, "ECONNREFUSED"], ["cooling", 1, "timed out after 5000 ms"], ["healthy", 3, null]]); // retried 429s that then answered are no failure
    expect(p.stats.rpcCalls).toBe(1);
    expect(p.stats.byMethod).toEqual({ eth_blockNumber: 1 });
    p.resetStats();
    expect(p.stats).toMatchObject({ httpRequests: 0, rpcCalls: 0, byMethod: {} });
    expect(p.stats.endpoints.map((e) => e.state)).toEqual(["cooling", "cooling", "healthy"]); // health is not a counter
    p.destroy();
  });

  it("retries 5xx on the same URL and gives up after the configured attempts", async () => {
    const broken = await proxy(() => ({ status: 502, body: { error: "bad gateway" } }));
    const p = new KeepctlProvider([broken.url], 31337, { ...fast, retries: 4 });
    const e = await rejection(p.getBlockNumber());
    expect(e).toBeInstanceOf(RpcError);
    expect(e.message).toBe(`no RPC endpoint answered: ${broken.url} (HTTP 502)`);
    expect(broken.hits.length).toBe(4);
    p.destroy();
  });

  it("times out a lone hung endpoint instead of waiting minutes", async () => {
    const hung = await proxy(() => "hang");
    const p = new KeepctlProvider([hung.url], 31337, { timeoutMs: 200, backoffMs: 5, retries: 2, maxLagBlocks: 0 });
    const started = Date.now();
    const e = await rejection(p.getBlockNumber());
    expect(e.message).toBe(`no RPC endpoint answered: ${hung.url} (timed out after 200 ms)`);
    expect(hung.hits.length).toBe(2);
    expect(Date.now() - started).toBeLessThan(3000);
    p.destroy();
  });

  it("does not retry a 401 but fails over at once", async () => {
    const denied = await proxy(() => ({ status: 401, body: { error: "bad key" } }));
    const p = new KeepctlProvider([denied.url, node.rpcUrl], 31337, fast);
    expect(await p.getBlockNumber()).toBeGreaterThanOrEqual(0);
    expect(denied.hits.length).toBe(1);
    expect(p.stats.httpRequests).toBe(2);
    p.destroy();
  });
});

describe("failover with a memory", () => {
  /** A JSON-RPC endpoint that fails (503 or 429) while `down`, else forwards to the node. */
  const switchable = async (status = 503) => {
    const state = { down: true };
    const p = await proxy(() => (state.down ? { status, body: { error: "unavailable" } } : "forward"));
    return Object.assign(p, { state, methods: () => p.hits.flatMap((h) => h.methods) });
  };

  it("sends later calls straight to the good endpoint, and warns once per cool-down", async () => {
    const bad = await switchable();
    const good = await switchable();
    good.state.down = false;
    const warnings: string[] = [];
    const started = Date.now();
    const p = await connect({ rpcUrls: [`${bad.url}/v3/SECRETKEY1234567890`, good.url], chainId: 31337, ...fast, onWarning: (m) => warnings.push(m) });
    for (let i = 0; i < 4; i++) await p.getBlockNumber();
    // one attempt at the dead URL (not `retries`), then never again within its cool-down
    expect(bad.hits.length).toBe(1);
    expect(good.methods()).toEqual(["eth_chainId", "eth_blockNumber", "eth_blockNumber", "eth_blockNumber", "eth_blockNumber"]);
    expect(warnings).toEqual([`RPC endpoint ${bad.url}/*** failed (HTTP 503); other endpoints are used first for 30 s`]);
    expect(p.stats.endpoints[0]).toMatchObject({ state: "cooling", coolDowns: 1, lastError: "HTTP 503" });
    expect(p.stats.endpoints[0].coolingUntil).toBeGreaterThanOrEqual(started + 30_000);
    p.destroy();
  });

  it("re-admits an endpoint after its cool-down once a probe succeeds; a failed probe doubles the cool-down", async () => {
    const first = await switchable();
    const second = await switchable();
    second.state.down = false;
    const warnings: string[] = [];
    const p = new KeepctlProvider([first.url, second.url], 31337, { ...fast, coolDownMs: 500, onWarning: (m) => warnings.push(m) });
    await p.getBlockNumber();
    expect(first.methods()).toEqual(["eth_blockNumber"]);
    await new Promise((r) => setTimeout(r, 550));
    // still down: one probe, a new, longer cool-down, a second warning; the call is served by the other
    await p.getBlockNumber();
    expect(first.methods()).toEqual(["eth_blockNumber", "eth_chainId"]);
    expect(warnings).toEqual([
      `RPC endpoint ${first.url} failed (HTTP 503); other endpoints are used first for 0.5 s`,
      `RPC endpoint ${first.url} failed (HTTP 503); other endpoints are used first for 1 s`,
    ]);
    first.state.down = false;
    await p.getBlockNumber();
    expect(first.hits.length).toBe(2); // recovered, but its cool-down has not ended yet
    await new Promise((r) => setTimeout(r, 1050));
    const secondBefore = second.hits.length;
    await p.getBlockNumber();
    await p.getBlockNumber();
    expect(first.methods()).toEqual(["eth_blockNumber", "eth_chainId", "eth_chainId", "eth_blockNumber", "eth_blockNumber"]);
    expect(second.hits.length).toBe(secondBefore);
    expect(p.stats.endpoints[0]).toMatchObject({ state: "healthy", coolingUntil: null, strikes: 0 });
    expect(warnings).toHaveLength(2);
    p.destroy();
  });

  it("a probe that reads another chain id keeps the endpoint out", async () => {
    // Answers again after its outage, but for chain 1 (a misrouted load balancer, say).
    let mode: "down" | "wrong-chain" = "down";
    const wrong = await proxy((calls) => (mode === "down" ? { status: 503 } : { status: 200, body: { jsonrpc: "2.0", id: calls[0].id, result: "0x1" } }));
    const good = await proxy(() => "forward");
    const warnings: string[] = [];
    const p = new KeepctlProvider([wrong.url, good.url], 31337, { ...fast, coolDownMs: 100, onWarning: (m) => warnings.push(m) });
    await p.getBlockNumber();
    mode = "wrong-chain";
    await new Promise((r) => setTimeout(r, 150));
    await p.getBlockNumber();
    await p.getBlockNumber();
    expect(wrong.hits.map((h) => h.methods[0])).toEqual(["eth_blockNumber", "eth_chainId"]);
    expect(good.hits.length).toBe(3);
    expect(warnings[1]).toBe(`RPC endpoint ${wrong.url} failed (probe: serves chain 1, expected 31337); other endpoints are used first for 0.2 s`);
    p.destroy();
  });

  it("when every endpoint is cooling down it still tries them, the one that failed longest ago first", async () => {
    const a = await switchable();
    const b = await switchable();
    const p = new KeepctlProvider([a.url, b.url], 31337, { ...fast, retries: 2 });
    const e = await rejection(p.getBlockNumber());
    expect(e.message).toBe(`no RPC endpoint answered: ${a.url} (HTTP 503), ${b.url} (HTTP 503)`);
    expect([a.hits.length, b.hits.length]).toEqual([1, 2]); // one try each, the retries on the last
    b.state.down = false;
    await new Promise((r) => setTimeout(r, 5));
    // both cool down; a failed first, so it is tried first, then b, which now answers
    expect(await p.getBlockNumber()).toBeGreaterThanOrEqual(0);
    expect([a.hits.length, b.hits.length]).toEqual([2, 3]);
    // b is healthy again and goes first; a (still cooling) is left alone
    await p.getBlockNumber();
    expect([a.hits.length, b.hits.length]).toEqual([2, 4]);
    expect(p.stats.endpoints.map((x) => x.state)).toEqual(["cooling", "healthy"]);
    p.destroy();
  });

  it("a single endpoint keeps its retries on every call, and warns nothing (its error says it all)", async () => {
    const only = await switchable();
    const warnings: string[] = [];
    const p = new KeepctlProvider([only.url], 31337, { ...fast, retries: 3, onWarning: (m) => warnings.push(m) });
    await rejection(p.getBlockNumber());
    await rejection(p.getBlockNumber());
    expect(only.hits.length).toBe(6);
    only.state.down = false;
    expect(await p.getBlockNumber()).toBeGreaterThanOrEqual(0);
    expect(p.stats.endpoints[0].state).toBe("healthy");
    expect(warnings).toEqual([]);
    p.destroy();
  });

  it("maxAttempts 1 sends a payload once, to the first usable endpoint only", async () => {
    const a = await switchable();
    const b = await switchable();
    b.state.down = false;
    const pool = new EndpointPool([a.url, b.url]);
    const payload = { jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] } as const;
    const opts = { timeoutMs: 5000, retries: 3, backoffMs: 5, chainId: 31337n, onHttpRequest: () => undefined, maxAttempts: 1 };
    const e = await rejection(postWithFailover(pool, payload, opts));
    expect(e.message).toBe(`no RPC endpoint answered: ${a.url} (HTTP 503)`);
    expect([a.hits.length, b.hits.length]).toEqual([1, 0]);
    // the failure is remembered: the next payload goes to b
    const [r] = await postWithFailover(pool, payload, opts);
    expect("result" in r && typeof r.result).toBe("string");
    expect([a.hits.length, b.hits.length]).toEqual([1, 1]);
  });
});

describe("failover beside a laggard", () => {
  const payload = { jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] } as const;
  const opts = { timeoutMs: 5000, retries: 3, backoffMs: 5, chainId: 31337n, onHttpRequest: () => undefined };
  /** Fails its first `n` requests with a 503, then forwards. */
  const flaky = (n: number) => proxy((_c, hit) => (hit <= n ? { status: 503, body: { error: "unavailable" } } : "forward"));

  it("the fresh endpoint's one attempt failed and the last one only lags: the retries go back to the fresh one", async () => {
    const fresh = await flaky(1);
    const laggard = await proxy(() => "forward");
    const pool = new EndpointPool([fresh.url, laggard.url]);
    const judged: string[] = [];
    const accept = async (ep: { url: string }) => (judged.push(ep.url), ep.url === laggard.url ? "its head is 8 blocks behind" : undefined);
    const [r] = await postWithFailover(pool, payload, { ...opts, accept });
    expect("result" in r && typeof r.result).toBe("string");
    expect([fresh.hits.length, laggard.hits.length]).toEqual([2, 1]);
    expect(judged).toEqual([laggard.url, fresh.url]);
  });

  it("a fresh endpoint that keeps failing: at most `retries` attempts in all, and the error names both", async () => {
    const fresh = await flaky(99);
    const laggard = await proxy(() => "forward");
    const pool = new EndpointPool([fresh.url, laggard.url]);
    const accept = async (ep: { url: string }) => (ep.url === laggard.url ? "its head is 8 blocks behind" : undefined);
    const e = await rejection(postWithFailover(pool, payload, { ...opts, accept }));
    expect(e.message).toBe(`no RPC endpoint answered: ${fresh.url} (HTTP 503), ${laggard.url} (its head is 8 blocks behind), ${fresh.url} (HTTP 503)`);
    expect([fresh.hits.length, laggard.hits.length]).toEqual([3, 1]);
  });

  it("without a refusal the order is as before: one attempt at the first, the retries at the last", async () => {
    const first = await flaky(1);
    const last = await flaky(2);
    const pool = new EndpointPool([first.url, last.url]);
    const [r] = await postWithFailover(pool, payload, { ...opts, accept: async () => undefined });
    expect("result" in r && typeof r.result).toBe("string");
    expect([first.hits.length, last.hits.length]).toEqual([1, 3]);
  });

  it("a payload sent at most once (maxAttempts 1) gets no second chance", async () => {
    const fresh = await flaky(1);
    const laggard = await proxy(() => "forward");
    const pool = new EndpointPool([fresh.url, laggard.url]);
    const accept = async (ep: { url: string }) => (ep.url === laggard.url ? "lags" : undefined);
    await rejection(postWithFailover(pool, payload, { ...opts, accept, maxAttempts: 1 }));
    expect([fresh.hits.length, laggard.hits.length]).toEqual([1, 0]);
  });
});

describe("batching", () => {
  const addresses = Array.from({ length: 10 }, (_, i) => ethers.zeroPadValue(ethers.toBeHex(i + 1), 20));

  it("puts calls made in the same tick into one HTTP request", async () => {
    const seen = await proxy(() => "forward");
    const p = new KeepctlProvider([seen.url], 31337, fast);
    const balances = await Promise.all(addresses.map((a) => p.getBalance(a)));
    expect(balances).toHaveLength(10);
    expect(p.stats.httpRequests).toBe(1);
    expect(p.stats.rpcCalls).toBe(10);
    expect(p.stats.byMethod.eth_getBalance).toBe(10);
    expect(seen.hits).toEqual([{ batch: true, methods: Array(10).fill("eth_getBalance") }]);
    p.destroy();
  });

  it("honours batchMaxCount, and 1 turns batching off", async () => {
    const seen = await proxy(() => "forward");
    const four = new KeepctlProvider([seen.url], 31337, { ...fast, batchMaxCount: 4 });
    await Promise.all(addresses.map((a) => four.getBalance(a)));
    expect(four.stats.httpRequests).toBe(3);
    expect(seen.hits.map((h) => h.methods.length)).toEqual([4, 4, 2]);
    four.destroy();
    const one = new KeepctlProvider([seen.url], 31337, { ...fast, batchMaxCount: 1 });
    await Promise.all(addresses.map((a) => one.getBalance(a)));
    expect(one.stats.httpRequests).toBe(10);
    expect(seen.hits.slice(3).every((h) => !h.batch)).toBe(true);
    one.destroy();
  });

  it("says how to turn batching off when an endpoint refuses batches", async () => {
    const noBatch = await proxy((_c, _h, batch) => (batch ? { status: 200, body: { jsonrpc: "2.0", id: null, error: { code: -32600, message: "batch requests are not supported" } } } : "forward"));
    const p = new KeepctlProvider([noBatch.url], 31337, fast);
    const e = await rejection(Promise.all(addresses.slice(0, 2).map((a) => p.getBalance(a))));
    expect(e).toBeInstanceOf(RpcError);
    expect(e.message).toContain("batch rejected: batch requests are not supported (set KEEPCTL_BATCH_MAX_COUNT=1)");
    expect(noBatch.hits.length).toBe(1); // not retried: it will not change its mind
    p.destroy();
  });
});

describe("getLogsChunked", () => {
  // Runtime code: LOG1 with topic = first calldata word (PUSH1 0 CALLDATALOAD PUSH1 0 PUSH1 0 LOG1 STOP),
  // behind an init code that copies it out; a contract this small needs no compiler.
  const EMITTER_INITCODE = "0x6009600c60003960096000f3" + "60003560006000a100";
  const LOGS = 24;
  let emitter: string;
  let firstBlock: number;
  let lastBlock: number;
  const topic = (i: number) => ethers.zeroPadValue(ethers.toBeHex(i), 32);

  beforeAll(async () => {
    const raw = new ethers.JsonRpcProvider(node.rpcUrl, 31337, { staticNetwork: true });
    const [from] = (await raw.send("eth_accounts", [])) as string[];
    const deployHash = await raw.send("eth_sendTransaction", [{ from, data: EMITTER_INITCODE }]);
    const deployed = (await raw.getTransactionReceipt(deployHash))!;
    emitter = deployed.contractAddress!;
    firstBlock = deployed.blockNumber;
    for (let i = 1; i <= LOGS; i++) {
      await raw.send("eth_sendTransaction", [{ from, to: emitter, data: topic(i) }]);
      if (i % 3 === 0) await raw.send("hardhat_mine", ["0x5"]); // gaps of empty blocks
    }
    await raw.send("hardhat_mine", ["0x3"]);
    lastBlock = await raw.getBlockNumber();
    raw.destroy();
  });

  /** Refuses any eth_getLogs over more than `max` blocks, like a public endpoint. */
  const capped = (max: number) =>
    proxy((calls, _h, batch) => {
      const c = calls[0];
      if (batch || c.method !== "eth_getLogs") return "forward";
      const f = c.params[0] as { fromBlock: string; toBlock: string };
      const span = Number(f.toBlock) - Number(f.fromBlock) + 1;
      if (span > max) return { status: 200, body: { jsonrpc: "2.0", id: c.id, error: { code: -32005, message: `block range is too large (max ${max})` } } };
      return "forward";
    });

  const spans = (p: Proxy) =>
    p.hits.filter((h) => h.methods[0] === "eth_getLogs").length;

  it("goes to the cap a range error names and returns every log in order", async () => {
    const cap = await capped(4);
    const p = new KeepctlProvider([cap.url], 31337, { ...fast, batchMaxCount: 1 });
    const progress: number[] = [];
    const span = lastBlock - firstBlock + 1;
    // at least the blocks mined above (a loaded node may add none, but never fewer)
    expect(span).toBeGreaterThanOrEqual(1 + LOGS + 8 * 5 + 3);
    const logs = await getLogsChunked(p, { address: emitter, fromBlock: firstBlock, toBlock: lastBlock }, {
      chunkSize: 16,
      onProgress: (done, total) => { progress.push(done); expect(total).toBe(span); },
    });
    expect(logs.map((l) => Number(l.topics[0]))).toEqual(Array.from({ length: LOGS }, (_, i) => i + 1));
    expect(logs.map((l) => l.blockNumber)).toEqual([...logs.map((l) => l.blockNumber)].sort((a, b) => a - b));
    expect(progress.at(-1)).toBe(span);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    // 16 -> 4 (the refusal says "max 4"): one refusal, then every chunk of at most 4 blocks is accepted.
    expect(spans(cap)).toBe(1 + Math.ceil(span / 4));
    p.destroy();
  });

  it("filters by topic and keeps order with several chunks in flight", async () => {
    const cap = await capped(10);
    const p = new KeepctlProvider([cap.url], 31337, { ...fast, batchMaxCount: 1 });
    const want = [topic(2), topic(3), topic(20)];
    const logs = await getLogsChunked(p, { address: [emitter], topics: [want], fromBlock: firstBlock, toBlock: lastBlock }, { chunkSize: 40, concurrency: 3 });
    expect(logs.map((l) => l.topics[0])).toEqual(want);
    p.destroy();
  });

  it("gives up with exit 4 when even the smallest chunk is refused", async () => {
    const cap = await capped(4);
    const p = new KeepctlProvider([cap.url], 31337, { ...fast, batchMaxCount: 1 });
    const e = await rejection(getLogsChunked(p, { address: emitter, fromBlock: firstBlock, toBlock: lastBlock }, { chunkSize: 32, minChunkSize: 8 }));
    expect(e).toBeInstanceOf(RpcError);
    expect(e.code).toBe("LOG_RANGE");
    expect(e.message).toBe(`eth_getLogs refused even a 8-block range (blocks ${firstBlock}-${firstBlock + 7})`);
    p.destroy();
  });
});
