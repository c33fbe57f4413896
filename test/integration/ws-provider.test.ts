import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type KeepctlProvider } from "../../src/lib/chain";
import { RpcError } from "../../src/lib/errors";
import { redact, registerSecretUrl } from "../../src/lib/redact";
import { freePort, startHardhatNode, type LocalNode } from "../../src/devnet/node";
import { startWsProxy, type WsProxy } from "../../src/devnet/ws-proxy";

/**
 * WebSocket endpoints against a real Hardhat node, through a real loopback WebSocket proxy in
 * front of the node's own ws:// endpoint (eth_subscribe included) that drops, stalls and refuses
 * on the wire. Expected values come from the node's HTTP endpoint, asked directly.
 */
let node: LocalNode;
/** A second node that mines nothing: its head trails `node`'s (a lagging endpoint). */
let behind: LocalNode;
const proxies: WsProxy[] = [];
const providers: KeepctlProvider[] = [];
const CHAIN = 31337;
const fast = { timeoutMs: 3000, backoffMs: 5, maxLagBlocks: 0 };

const wsOf = (n: LocalNode) => n.rpcUrl.replace(/^http/, "ws");
async function rpc(n: LocalNode, method: string, params: unknown[] = []): Promise<any> {
  const res = await fetch(n.rpcUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
  return ((await res.json()) as { result: unknown }).result;
}
const mine = (n: LocalNode) => rpc(n, "evm_mine");
const headOf = async (n: LocalNode) => Number(BigInt(await rpc(n, "eth_blockNumber")));
async function proxy(o: Partial<Parameters<typeof startWsProxy>[0]> = {}, n = node): Promise<WsProxy> {
  const p = await startWsProxy({ target: wsOf(n), ...o });
  proxies.push(p);
  return p;
}
async function open(urls: string[], o: Parameters<typeof connect>[0] extends infer T ? Partial<T> : never = {}): Promise<KeepctlProvider> {
  const p = await connect({ rpcUrls: urls, chainId: CHAIN, ...fast, ...o });
  providers.push(p);
  return p;
}
async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  [node, behind] = await Promise.all([startHardhatNode(), startHardhatNode()]);
}, 120_000);
afterAll(async () => {
  for (const p of providers) p.destroy();
  for (const p of proxies) await p.close();
  await Promise.all([node?.stop(), behind?.stop()]);
});

describe("requests over a WebSocket", () => {
  it("answers single calls and batches like the node's HTTP endpoint, over one socket", async () => {
    for (let i = 0; i < 3; i++) await mine(node);
    const ws = await proxy();
    const p = await open([ws.url]);
    const accounts: string[] = await rpc(node, "eth_accounts");
    const [n, balances] = await Promise.all([p.getBlockNumber(), Promise.all(accounts.slice(0, 4).map((a) => p.getBalance(a)))]);
    expect(n).toBe(await headOf(node));
    for (const [i, a] of accounts.slice(0, 4).entries()) expect(balances[i]).toBe(BigInt(await rpc(node, "eth_getBalance", [a, "latest"])));
    expect(ws.counts.connections).toBe(1);
    expect(ws.counts.byMethod.eth_getBalance).toBe(4);
    // A revert is an answer, as over HTTP: the node's error object comes back, not a transport failure.
    await expect(p.send("eth_call", [{ to: accounts[0], data: "0x" }, "latest"])).resolves.toBe("0x");
    await expect(p.send("no_such_method", [])).rejects.toThrow(/no_such_method/);
  });

  it("a refused upgrade, a dead port and a stalled socket fail over to the HTTP endpoint (and back)", async () => {
    const ws = await proxy();
    const dead = `ws://127.0.0.1:${await freePort()}`;
    const warnings: string[] = [];
    ws.refuse(503);
    const p = await open([dead, ws.url, node.rpcUrl], { onWarning: (m) => warnings.push(m) });
    expect(await p.getBlockNumber()).toBe(await headOf(node));
    const [deadStats, wsStats] = p.stats.endpoints;
    expect(deadStats.lastError).toBe("ECONNREFUSED");
    expect(wsStats.lastError).toBe("HTTP 503");
    expect(wsStats.state).toBe("cooling");
    expect(warnings.filter((w) => w.includes(wsStats.url))).toHaveLength(1);

    // Stalled: the socket stays open and says nothing; the request times out, HTTP answers.
    ws.allow();
    const q = await open([ws.url, node.rpcUrl], { timeoutMs: 800 });
    expect(await q.getBlockNumber()).toBe(await headOf(node));
    ws.stall(true);
    await mine(node);
    expect(await q.getBlockNumber()).toBe(await headOf(node));
    expect(q.stats.endpoints[0].lastError).toBe("timed out after 800 ms");
    ws.stall(false);
  });

  it("a socket that drops mid-request is retried, on a new socket", async () => {
    const ws = await proxy();
    const p = await open([ws.url], { retries: 3 });
    await p.getBlockNumber();
    ws.stall(true); // the next request hangs ...
    const asked = p.getBlockNumber();
    await until("the request to be in flight", () => (ws.counts.byMethod.eth_blockNumber ?? 0) >= 1);
    ws.stall(false);
    ws.drop(); // ... and its socket dies under it
    expect(await asked).toBe(await headOf(node));
    expect(ws.counts.connections).toBe(2);
  });

  it("a ws endpoint takes part in the head census: a lagging one is set aside, a fresh one is the bar", async () => {
    for (let i = 0; i < 10; i++) await mine(node);
    const lagging = await proxy({}, behind);
    const fresh = await proxy();
    const warnings: string[] = [];
    // ws laggard first in order, HTTP fresh: the answer is the fresh node's.
    const p = await open([lagging.url, node.rpcUrl], { maxLagBlocks: 3, onWarning: (m) => warnings.push(m) });
    expect(await p.getBlockNumber()).toBe(await headOf(node));
    expect(p.stats.endpoints[0].lagCoolDowns).toBe(1);
    expect(warnings.join("\n")).toMatch(new RegExp(`RPC endpoint ws://127\\.0\\.0\\.1:\\d+ is lagging: its head ${await headOf(behind)} is \\d+ blocks behind block ${await headOf(node)}`));
    // ws fresh, HTTP laggard first in order: the laggard is set aside by the ws endpoint's head.
    const q = await open([behind.rpcUrl, fresh.url], { maxLagBlocks: 3 });
    expect(await q.getBlockNumber()).toBe(await headOf(node));
    expect(q.stats.endpoints[0].lagCoolDowns).toBe(1);
    expect(q.stats.endpoints[1].head).toBe(await headOf(node));
  });
});

describe("new heads pushed by eth_subscribe", () => {
  it("delivers each new head as the node mined it", async () => {
    const ws = await proxy();
    const p = await open([ws.url]);
    const notices: string[] = [];
    const feed = p.headFeed((t) => notices.push(t))!.feed;
    await until("the subscription", () => feed.pushing);
    const before = await headOf(node);
    await mine(node);
    const h = await feed.next(before, Date.now() + 10_000, new AbortController().signal);
    const block = await rpc(node, "eth_getBlockByNumber", ["latest", false]);
    expect(h).toEqual({ number: before + 1, hash: block.hash, timestamp: Number(BigInt(block.timestamp)) });
    expect(ws.counts.pushes).toBeGreaterThanOrEqual(1);
    expect(notices).toEqual([]);
  });

  it("socket dropped: said once while it stays down, heads polled meanwhile, reconnected and resubscribed, pushed again", async () => {
    const ws = await proxy();
    const p = await open([ws.url, node.rpcUrl]);
    const notices: string[] = [];
    const { feed } = p.headFeed((t) => notices.push(t))!;
    await until("the subscription", () => feed.pushing);
    ws.refuse(503);
    ws.drop();
    await until("push to stop", () => !feed.pushing);
    // Several reconnects refused (500 ms, 1 s, 2 s ...): still one line.
    await until("three refused reconnects", () => ws.counts.refused >= 3);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/^new heads: WebSocket ws:\/\/127\.0\.0\.1:\d+ dropped \(socket closed \(code 1006\)\); polling the head until it reconnects$/);
    // Meanwhile the provider still answers (HTTP), so a poll finds the new head.
    await mine(node);
    expect(await p.getBlockNumber()).toBe(await headOf(node));
    ws.allow();
    await until("push again", () => feed.pushing);
    expect(notices).toHaveLength(2);
    expect(notices[1]).toMatch(/^new heads: WebSocket ws:\/\/127\.0\.0\.1:\d+ is back; heads are pushed again$/);
    expect(ws.counts.byMethod.eth_subscribe).toBe(2);
    const before = await headOf(node);
    await mine(node);
    const h = await feed.next(before, Date.now() + 10_000, new AbortController().signal);
    expect(h?.number).toBe(before + 1);
  }, 60_000);

  it("a stalled socket (no pongs) is noticed and replaced", async () => {
    const ws = await proxy();
    const p = await open([ws.url], { timeoutMs: 600 });
    const notices: string[] = [];
    const { feed } = p.headFeed((t) => notices.push(t))!;
    await until("the subscription", () => feed.pushing);
    ws.stall(true);
    await until("push to stop", () => !feed.pushing);
    expect(notices[0]).toMatch(/dropped \(socket closed \(code 1006\)\); polling/);
    ws.stall(false);
    await until("push again", () => feed.pushing);
    const before = await headOf(node);
    await mine(node);
    expect((await feed.next(before, Date.now() + 10_000, new AbortController().signal))?.number).toBe(before + 1);
  }, 60_000);
});

describe("credentials in a ws URL", () => {
  const KEY = "WSKEY9f3a1c77e2b4";
  it("are never in an error, a warning or a notice", async () => {
    const ws = await proxy({ keyPath: `/v3/${KEY}` });
    const wrong = ws.url.replace(KEY, "WRONGKEY12345678").replace("ws://", "ws://alice:S3cretPass99@");
    registerSecretUrl(wrong);
    const warnings: string[] = [];
    const err = await connect({ rpcUrls: [wrong, `ws://127.0.0.1:${await freePort()}/?apikey=${KEY}`], chainId: CHAIN, ...fast, onWarning: (m) => warnings.push(m) }).then(() => undefined, (e) => e as RpcError);
    expect(err).toBeInstanceOf(RpcError);
    const text = redact([err!.message, err!.hint ?? "", JSON.stringify(err!.details), ...warnings].join("\n"));
    expect(text).toMatch(/HTTP 401/);
    for (const secret of [KEY, "WRONGKEY12345678", "alice", "S3cretPass99"]) expect(text).not.toContain(secret);
    // The message is safe even before redaction: endpoints are named by origin.
    expect(err!.message).not.toContain(KEY);
    expect(err!.message).not.toContain("S3cretPass99");

    const p = await open([ws.url]);
    expect(p.stats.endpoints[0].url).toBe(`ws://127.0.0.1:${new URL(ws.url).port}/***`);
    const notices: string[] = [];
    const { feed } = p.headFeed((t) => notices.push(t))!;
    await until("the subscription", () => feed.pushing);
    ws.drop();
    await until("push to stop", () => !feed.pushing);
    expect(notices.join("\n")).not.toContain(KEY);
    expect(notices[0]).toContain("/***");
  }, 60_000);
});
