import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { p2wpkh, utils as btcUtils } from "@scure/btc-signer";
import { secp256k1 } from "@noble/curves/secp256k1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectBitcoin, verifySpvProof, type BitcoinClient, type BtcSettings } from "../../src/lib/btc";
import { ConfigError, ExitCode, RpcError } from "../../src/lib/errors";
import { REGTEST, TestChain, disp, dsha, internal } from "../helpers/btc-chain";
import { ElectrumDouble } from "../helpers/electrum-double";
import { EsploraDouble } from "../helpers/esplora-double";
import { V1, v1BranchDisplay } from "../helpers/btc-vectors";

/**
 * lib/btc's two clients against scripted loopback servers (test/helpers/electrum-double.ts,
 * esplora-double.ts) that serve a small real regtest chain built in the test: mined headers,
 * signed P2WPKH transactions, merkle trees made with node:crypto. Expected values come from that
 * chain, never from the code under test.
 */
const VERSION = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")).version as string;
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

// ---- the chain: block 1 pays the wallet; A (block 4, among 6 txs) pays the redeemer script S;
// B spends A's change and waits in the mempool. Tip 11: A has 8 confirmations.
const chain = new TestChain();
const redeemer = p2wpkh(secp256k1.getPublicKey(btcUtils.randomPrivateKeyBytes(), true), REGTEST);
const S = redeemer.script;
chain.mine();
chain.mineMany(2);
const A = chain.accept(chain.spend(chain.blocks[1].txids[0], 0, [{ script: S, value: 100_000_000n }, { script: chain.wallet.script, value: 4_899_990_000n }]));
chain.mine({ fillers: 4 });
chain.mineMany(7);
const B = chain.accept(chain.spend(A, 1, [{ script: chain.wallet.script, value: 4_899_980_000n }]));
const A_HEIGHT = 4;

const settings = (o: Partial<BtcSettings>): BtcSettings => ({ network: "regtest", electrumUrls: [], esploraUrls: [], timeoutMs: 2000, retries: 1, ...o });
const open: BitcoinClient[] = [];
const doubles: { close(): Promise<void> }[] = [];
async function client(o: Partial<BtcSettings>, warnings: string[] = []): Promise<BitcoinClient> {
  const c = await connectBitcoin(settings(o), { onWarning: (m) => warnings.push(m), backoffMs: 5 });
  open.push(c);
  return c;
}
async function electrum(c: TestChain = chain, o: Parameters<typeof ElectrumDouble.start>[1] = { tcp: true }): Promise<ElectrumDouble> {
  const d = await ElectrumDouble.start(c, o);
  doubles.push(d);
  return d;
}
async function esplora(c: TestChain = chain): Promise<EsploraDouble> {
  const d = await EsploraDouble.start(c);
  doubles.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
  await Promise.all(doubles.map((d) => d.close()));
});

/** What the proof of A must be, from the chain itself. */
function expectedProof(headerCount: number) {
  const b = chain.branch(A);
  return {
    merkleProof: b.merkle.map((n) => internal(n).toString("hex")).join(""),
    pos: b.pos,
    headers: chain.blocks.slice(A_HEIGHT, A_HEIGHT + headerCount).map((x) => x.header.toString("hex")).join(""),
    txidLE: internal(A).toString("hex"),
  };
}

const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe("Electrum over TCP", () => {
  let d: ElectrumDouble;
  let c: BitcoinClient;
  beforeAll(async () => {
    d = await electrum();
    c = await client({ electrumUrls: [d.urls.tcp!] });
  });

  it("negotiates server.version first, as keepctl <version> speaking protocol 1.4", () => {
    const first = JSON.parse(d.received[0].raw);
    expect(first).toMatchObject({ jsonrpc: "2.0", method: "server.version", params: [`keepctl ${VERSION}`, "1.4"] });
    expect(d.methods).toContain("server.features");
  });

  it("tip: the served chain's tip", async () => {
    const t = await c.tip();
    expect(t).toMatchObject({ height: chain.tip.height, hash: chain.tip.hash });
    expect(hex(t.header)).toBe(chain.tip.header.toString("hex"));
  });

  it("status: confirmed with confirmations from verified headers; mempool; unknown", async () => {
    const pos = chain.blocks[A_HEIGHT].txids.indexOf(A);
    expect(await c.status(A, S)).toEqual({ state: "confirmed", height: A_HEIGHT, blockHash: chain.blocks[A_HEIGHT].hash, confirmations: chain.tip.height - A_HEIGHT + 1, pos });
    expect(await c.status(B, chain.wallet.script)).toEqual({ state: "mempool" });
    expect(await c.status("ab".repeat(32), S)).toEqual({ state: "unknown" });
  });

  it("proof: the chain's SPV parts for 6 headers, in 2 round trips, the second one batch write", async () => {
    const fresh = await client({ electrumUrls: [d.urls.tcp!] });
    fresh.resetStats();
    const from = d.received.length;
    const r = await fresh.proof(A, S, { headers: 6 });
    expect(r.ready).toBe(true);
    if (!r.ready) return;
    const want = expectedProof(6);
    expect(hex(r.proof.merkleProof)).toBe(want.merkleProof);
    expect(r.proof.indexInBlock).toBe(want.pos);
    expect(hex(r.proof.headers)).toBe(want.headers);
    expect(hex(r.proof.txidLE)).toBe(want.txidLE);
    expect(r.confirmations).toBe(chain.tip.height - A_HEIGHT + 1);
    // Independent: the txid from the proof's own vectors with node:crypto.
    expect(disp(dsha(Buffer.concat([r.proof.version, r.proof.inputVector, r.proof.outputVector, r.proof.locktime])))).toBe(A);
    expect(verifySpvProof(r.proof).ok).toBe(true);
    const server = fresh.stats().servers[0];
    expect(server.roundTrips).toBeLessThanOrEqual(3);
    const writes = d.received.slice(from).map((m) => JSON.parse(m.raw));
    expect(writes).toHaveLength(server.writes);
    expect(writes).toHaveLength(2);
    expect(writes[1].map((m: { method: string }) => m.method).sort()).toEqual(["blockchain.block.headers", "blockchain.transaction.get_merkle"]);
  });

  it("proof: with the caller's raw tx the first round trip is the history alone; not ready while short of headers", async () => {
    const from = d.received.length;
    const r = await c.proof(A, S, { headers: 6, rawTx: chain.txs.get(A)! });
    expect(r.ready).toBe(true);
    expect(JSON.parse(d.received[from].raw)).toMatchObject({ method: "blockchain.scripthash.get_history" });
    const short = await c.proof(A, S, { headers: 9 });
    expect(short).toMatchObject({ ready: false, status: { state: "confirmed", confirmations: 8 } });
    // Up to 12 headers, ready from 6: the 8 there are.
    const upTo = await c.proof(A, S, { headers: 12, minHeaders: 6 });
    expect(upTo.ready && hex(upTo.proof.headers)).toBe(expectedProof(8).headers);
    expect(upTo.ready && upTo.difficulties).toEqual(Array(8).fill(0n));
    await expect(c.proof(A, S, { headers: 3, minHeaders: 4 })).rejects.toThrow(RangeError);
    expect(await c.proof(B, chain.wallet.script, { headers: 1 })).toEqual({ ready: false, status: { state: "mempool" } });
  });

  it("spends: finds B spending A:1 through the script's history; A:0 unspent", async () => {
    const s = await c.spends({ txid: A, vout: 1 }, chain.wallet.script);
    expect(s).toMatchObject({ spent: true, txid: B, vin: 0 });
    expect(await c.spends({ txid: A, vout: 0 }, S)).toEqual({ spent: false });
  });

  it("history and unspent outputs of a script", async () => {
    expect(await c.history(S)).toEqual([{ txid: A, height: A_HEIGHT }]);
    expect(await c.unspent(S)).toEqual([{ txid: A, vout: 0, value: 100_000_000n, height: A_HEIGHT }]);
  });

  it("fee rate: estimatefee's BTC/kB as sat/vB, floored at the relay fee; -1 is no estimate", async () => {
    expect(await c.feeRate(6)).toBe(10);
    d.fees = { 6: 0.000001 };
    expect(await c.feeRate(6)).toBe(1); // relayfee 0.00001 BTC/kB
    expect(await c.feeRate(3)).toBeUndefined();
    d.fees = { 1: 0.0002, 2: 0.00015, 6: 0.0001, 25: 0.00002 };
  });
});

describe("Electrum over WebSocket: pushed tips and reconnects", () => {
  it("negotiates, verifies, and passes on new tips pushed by the server", async () => {
    const own = chain.fork(chain.tip.height);
    const d = await electrum(own, { ws: true });
    const c = await client({ electrumUrls: [d.urls.ws!] });
    expect(JSON.parse(d.received[0].raw)).toMatchObject({ method: "server.version", params: [`keepctl ${VERSION}`, "1.4"] });
    expect((await c.tip()).hash).toBe(own.tip.hash);
    const seen: number[] = [];
    const stop = c.onTip((t) => seen.push(t.height));
    expect(c.pushesTips).toBe(true);
    const b = own.mine({ txs: [] });
    d.notifyTip();
    await until(() => seen.includes(b.height));
    expect(c.verifiedTip()).toMatchObject({ height: b.height, hash: b.hash });
    stop();
  });

  it("after the server drops the connection: reconnects, negotiates and subscribes again, and reports the block mined meanwhile", async () => {
    const own = chain.fork(chain.tip.height);
    const d = await electrum(own, { ws: true, tcp: true });
    const c = await client({ electrumUrls: [d.urls.ws!] });
    const seen: string[] = [];
    c.onTip((t) => seen.push(t.hash));
    await until(() => d.methods.filter((m) => m === "blockchain.headers.subscribe").length >= 1);
    const versionsBefore = d.methods.filter((m) => m === "server.version").length;
    d.dropConnections();
    const b = own.mine({ txs: [] });
    await until(() => seen.includes(b.hash));
    expect(d.methods.filter((m) => m === "server.version").length).toBe(versionsBefore + 1);
    // Subscribed again: a block after the reconnect is pushed too.
    const b2 = own.mine({ txs: [] });
    d.notifyTip();
    await until(() => seen.includes(b2.hash));
    expect(c.stats().servers[0].connects).toBeGreaterThanOrEqual(2);
  });

  it("a request after a dropped connection (no subscription) reconnects on demand", async () => {
    const d = await electrum(chain, { ws: true });
    const c = await client({ electrumUrls: [d.urls.ws!], retries: 2 });
    d.dropConnections();
    await until(() => d.connections === 0);
    expect(await c.status(A, S)).toMatchObject({ state: "confirmed", height: A_HEIGHT });
    expect(d.methods.filter((m) => m === "server.version")).toHaveLength(2);
  });
});

describe("failover, cool-downs and refusals", () => {
  it("a hung server times out, the second answers; one warning per cool-down, naming the hung one", async () => {
    const hung = await electrum();
    hung.faults.hang = "afterVersion";
    const good = await electrum();
    const warnings: string[] = [];
    const c = await connectBitcoin(settings({ electrumUrls: [hung.urls.tcp!, good.urls.tcp!], timeoutMs: 300 }), { onWarning: (m) => warnings.push(m), backoffMs: 5 });
    open.push(c);
    expect(await c.status(A, S)).toMatchObject({ state: "confirmed", height: A_HEIGHT });
    expect(await c.proof(A, S, { headers: 6 })).toMatchObject({ ready: true });
    const hungCalls = hung.methods.length;
    expect(await c.history(S)).toHaveLength(1);
    expect(hung.methods.length).toBe(hungCalls); // cooling: not asked again
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`Bitcoin server ${hung.urls.tcp}`);
    expect(warnings[0]).toMatch(/did not answer .* within 300 ms.*other servers are used first for 30 s/);
  });

  it("a dead server (closed port) is cooled down and the second one used", async () => {
    const good = await electrum();
    const dead = await electrum();
    const url = dead.urls.tcp!;
    await dead.close();
    const warnings: string[] = [];
    const c = await client({ electrumUrls: [url, good.urls.tcp!] }, warnings);
    expect(await c.status(A, S)).toMatchObject({ state: "confirmed" });
    expect(warnings).toEqual([expect.stringMatching(new RegExp(`^Bitcoin server ${url} failed \\(cannot connect \\(ECONNREFUSED\\)\\)`))]);
  });

  it("no server reachable: RpcError BTC_UNREACHABLE, exit 4", async () => {
    const dead = await electrum();
    const url = dead.urls.tcp!;
    await dead.close();
    const e = await connectBitcoin(settings({ electrumUrls: [url] })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RpcError);
    expect(e).toMatchObject({ code: "BTC_UNREACHABLE", exitCode: ExitCode.RPC });
  });

  it("a server on another network (its genesis) is refused: ConfigError BTC_WRONG_NETWORK, exit 3", async () => {
    const d = await electrum();
    d.faults.genesis = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
    const good = await electrum();
    const e = await connectBitcoin(settings({ electrumUrls: [good.urls.tcp!, d.urls.tcp!] })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect(e).toMatchObject({ code: "BTC_WRONG_NETWORK", exitCode: ExitCode.CONFIG });
    expect((e as Error).message).toBe(`Bitcoin server ${d.urls.tcp} serves Bitcoin mainnet, not regtest`);
    const es = await esplora();
    es.faults.genesis = "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043";
    await expect(connectBitcoin(settings({ esploraUrls: [es.url] }))).rejects.toThrow(/serves Bitcoin testnet4, not regtest/);
  });

  const liars: [string, (d: ElectrumDouble) => void, RegExp][] = [
    ["a wrong merkle node", (d) => { d.faults.lieMerkle = true; }, /merkle branch for tx [0-9a-f]{64} that does not lead to the merkle root of block [0-9a-f]{64} \(height 4\)/],
    ["a header above its own target", (d) => { d.faults.badPowAt = [6]; }, /header \d+ .* does not meet its own target/],
    ["a header that breaks the chain", (d) => { d.faults.brokenLinkAt = 5; }, /names parent/],
  ];
  it.each(liars)("a server sending %s is refused locally with a warning naming it; the honest second one is used", async (_what, lie, words) => {
    const liar = await electrum();
    const honest = await electrum();
    const warnings: string[] = [];
    const c = await client({ electrumUrls: [liar.urls.tcp!, honest.urls.tcp!] }, warnings);
    lie(liar);
    const r = await c.proof(A, S, { headers: 6 });
    expect(r.ready).toBe(true);
    if (r.ready) expect(hex(r.proof.headers)).toBe(expectedProof(6).headers);
    if (r.ready) expect(hex(r.proof.merkleProof)).toBe(expectedProof(6).merkleProof);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`Bitcoin server ${liar.urls.tcp} failed (`);
    expect(warnings[0]).toMatch(words);
    expect(honest.methods).toContain("blockchain.transaction.get_merkle");
  });

  it("a lying only server: the error says what it sent, nothing is returned", async () => {
    const liar = await electrum();
    const c = await client({ electrumUrls: [liar.urls.tcp!] });
    liar.faults.lieMerkle = true;
    const e = await c.status(A, S).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: "BTC_BAD_DATA", exitCode: ExitCode.RPC });
    expect((e as Error).message).toMatch(/merkle branch/);
  });

  it("a tip header above its own target is refused at tip()", async () => {
    const liar = await electrum();
    liar.faults.badPowAt = [chain.tip.height];
    const honest = await electrum();
    const warnings: string[] = [];
    const c = await client({ electrumUrls: [liar.urls.tcp!, honest.urls.tcp!] }, warnings);
    expect((await c.tip()).hash).toBe(chain.tip.hash);
    expect(warnings).toEqual([expect.stringMatching(/sent a tip header that fails: .*does not meet its own target/)]);
  });
});

describe("disagreeing tips: the chain with more work wins", () => {
  // Both fork at height 8. `long` adds 6 easy regtest blocks (work ~2 each); `heavy` adds 2
  // blocks at nBits 0x1f00ffff (work ~65537 each): lower, but far more work.
  const long = chain.fork(8);
  long.mineMany(6);
  const heavy = chain.fork(8);
  heavy.mine({ txs: [], bits: 0x1f00ffff });
  heavy.mine({ txs: [], bits: 0x1f00ffff });

  it.each([["the longer chain's server first", true], ["the heavier chain's server first", false]])("%s: the heavier tip wins, the other server is named", async (_name, longFirst) => {
    const l = await electrum(long);
    const h = await electrum(heavy);
    const warnings: string[] = [];
    const urls = longFirst ? [l.urls.tcp!, h.urls.tcp!] : [h.urls.tcp!, l.urls.tcp!];
    const c = await client({ electrumUrls: urls }, warnings);
    const t = await c.tip();
    expect(t).toMatchObject({ height: heavy.tip.height, hash: heavy.tip.hash });
    expect(long.tip.height).toBeGreaterThan(heavy.tip.height);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`Bitcoin server ${l.urls.tcp} failed (reports tip block ${long.tip.hash} at height ${long.tip.height}, on another chain with no more work than`);
    // The verified chain is the heavy one: A (below the fork) has confirmations counted on it.
    expect(await c.status(A, S)).toMatchObject({ state: "confirmed", confirmations: heavy.tip.height - A_HEIGHT + 1 });
  });

  it("a server one block behind on the same chain is not a disagreement", async () => {
    const behind = chain.fork(chain.tip.height - 1);
    const b = await electrum(behind);
    const a = await electrum(chain);
    const warnings: string[] = [];
    const c = await client({ electrumUrls: [b.urls.tcp!, a.urls.tcp!] }, warnings);
    expect((await c.tip()).hash).toBe(chain.tip.hash);
    expect(warnings).toEqual([]);
  });
});

describe("broadcast", () => {
  it("goes to every server; already-known counts as accepted; each server's mempool has it", async () => {
    const c1 = chain.fork(chain.tip.height);
    const c2 = chain.fork(chain.tip.height);
    const c3 = chain.fork(chain.tip.height);
    const e1 = await electrum(c1);
    const e2 = await electrum(c2);
    const es = await esplora(c3);
    const c = await client({ electrumUrls: [e1.urls.tcp!, e2.urls.tcp!], esploraUrls: [es.url] });
    const raw = Buffer.from(chain.spend(A, 1, [{ script: S, value: 4_899_000_000n }]), "hex");
    c2.accept(raw.toString("hex")); // e2's node has it already
    const r = await c.broadcast(raw);
    expect(r.accepted).toBe(true);
    expect(r.results).toEqual([
      { server: e1.urls.tcp, ok: true },
      { server: e2.urls.tcp, ok: true, alreadyKnown: true },
      { server: es.url.replace(/\/api$/, "/***"), ok: true },
    ]);
    // Counted from the servers' side: each one's mempool holds the transaction.
    for (const m of [c1.mempool, c2.mempool, c3.mempool]) expect([...m.keys()]).toEqual([r.txid]);
  });

  it("rejected by every server: an error carrying the servers' words", async () => {
    const e1 = await electrum(chain.fork(chain.tip.height));
    const es = await esplora(chain.fork(chain.tip.height));
    e1.faults.broadcastError = "the transaction was rejected by network rules.\n\nmin relay fee not met, 100 < 110\n";
    es.faults.broadcastError = 'sendrawtransaction RPC error: {"code":-26,"message":"min relay fee not met, 100 < 110"}';
    const c = await client({ electrumUrls: [e1.urls.tcp!], esploraUrls: [es.url] });
    const raw = Buffer.from(chain.spend(A, 1, [{ script: S, value: 4_899_979_900n }]), "hex");
    const e = await c.broadcast(raw).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: "BTC_BROADCAST_REJECTED", exitCode: ExitCode.RPC });
    expect((e as Error).message).toMatch(/min relay fee not met, 100 < 110.*min relay fee not met, 100 < 110/);
  });
});

describe("Esplora REST", () => {
  let d: EsploraDouble;
  let c: BitcoinClient;
  beforeAll(async () => {
    d = await esplora();
    c = await client({ esploraUrls: [d.url] });
  });

  it("checks the network at /block-height/0 and verifies the tip from /blocks/tip/hash and the header", async () => {
    expect(d.requests).toContain("GET /api/block-height/0");
    expect(await c.tip()).toMatchObject({ height: chain.tip.height, hash: chain.tip.hash });
    expect(c.pushesTips).toBe(false);
  });

  it("status: confirmed (merkle-checked, block hash checked against the verified header), mempool, unknown", async () => {
    expect(await c.status(A, S)).toMatchObject({ state: "confirmed", height: A_HEIGHT, blockHash: chain.blocks[A_HEIGHT].hash, confirmations: chain.tip.height - A_HEIGHT + 1 });
    expect(await c.status(B, chain.wallet.script)).toEqual({ state: "mempool" });
    expect(await c.status("cd".repeat(32), S)).toEqual({ state: "unknown" });
  });

  it("proof: the chain's SPV parts in at most 3 round trips (parallel requests count once)", async () => {
    const fresh = await client({ esploraUrls: [d.url] });
    fresh.resetStats();
    const before = d.requests.length;
    const r = await fresh.proof(A, S, { headers: 6 });
    expect(r.ready).toBe(true);
    if (!r.ready) return;
    const want = expectedProof(6);
    expect(hex(r.proof.merkleProof)).toBe(want.merkleProof);
    expect(hex(r.proof.headers)).toBe(want.headers);
    expect(r.proof.indexInBlock).toBe(want.pos);
    const s = fresh.stats().servers[0];
    expect(s.roundTrips).toBeLessThanOrEqual(3);
    expect(s.requests).toBe(d.requests.length - before);
  });

  it("spends via /outspend, checked against the spending transaction; history and utxo by address", async () => {
    expect(await c.spends({ txid: A, vout: 1 }, chain.wallet.script)).toMatchObject({ spent: true, txid: B, vin: 0 });
    expect(await c.spends({ txid: A, vout: 0 }, S)).toEqual({ spent: false });
    expect(await c.history(S)).toEqual([{ txid: A, height: A_HEIGHT }]);
    expect(await c.unspent(S)).toEqual([{ txid: A, vout: 0, value: 100_000_000n, height: A_HEIGHT }]);
    expect(d.requests.some((r) => r.startsWith(`GET /api/address/${redeemer.address}/`))).toBe(true);
  });

  it("fee rate from /fee-estimates: the estimate for the largest target not above the one asked", async () => {
    expect(await c.feeRate(6)).toBe(10.2);
    expect(await c.feeRate(10)).toBe(10.2);
    expect(await c.feeRate(2)).toBe(21.5);
    expect(await c.feeRate(1)).toBe(21.5); // nothing as fast: the fastest there is
  });

  it.each([
    ["a wrong merkle node", (d: EsploraDouble) => { d.faults.lieMerkle = true; }, /gave a merkle branch for tx/],
    // Esplora serves headers by hash: a tampered one no longer hashes to the block asked for.
    ["a tampered header", (d: EsploraDouble) => { d.faults.badPowAt = [5]; }, /the header served for block [0-9a-f]{64} is another block's/],
  ])("a lying Esplora server (%s) is refused, the honest second one used", async (_what, lie, words) => {
    const liar = await esplora();
    const honest = await esplora();
    const warnings: string[] = [];
    const cl = await client({ esploraUrls: [liar.url, honest.url] }, warnings);
    lie(liar);
    const r = await cl.proof(A, S, { headers: 6 });
    expect(r.ready && hex(r.proof.headers)).toBe(expectedProof(6).headers);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^Bitcoin server http:\/\/127\.0\.0\.1:\d+\/\*\*\* failed \(/);
    expect(warnings[0]).toMatch(words);
  });

  it("HTTP 503 is a transport failure: failover to the next server", async () => {
    const down = await esplora();
    down.faults.http503 = true;
    const up = await esplora();
    const warnings: string[] = [];
    const cl = await client({ esploraUrls: [down.url, up.url] }, warnings);
    expect(await cl.history(S)).toHaveLength(1);
    expect(warnings).toEqual([expect.stringMatching(/failed \(answered HTTP 503 for .*\); other servers are used first/)]);
  });
});

describe("fees over several servers", () => {
  it("feeRate is the median of the servers that answer", async () => {
    const e1 = await electrum();
    const e2 = await electrum();
    const es = await esplora();
    e1.fees = { 6: 0.00004 }; // 4 sat/vB
    e2.fees = { 6: 0.0003 }; // 30 sat/vB
    es.fees = { "6": 7 };
    const c = await client({ electrumUrls: [e1.urls.tcp!, e2.urls.tcp!], esploraUrls: [es.url] });
    expect(await c.feeRate(6)).toBe(7);
    e2.fees = {};
    expect(await c.feeRate(6)).toBe(5.5);
    e1.fees = {};
    es.fees = {};
    expect(await c.feeRate(6)).toBeUndefined();
  });
});

describe("Electrum over TLS", () => {
  let dir: string;
  let d: ElectrumDouble;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-btc-tls-"));
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem"), "-days", "1", "-subj", "/CN=localhost"], { stdio: "ignore" });
    d = await electrum(chain, { tls: { key: fs.readFileSync(path.join(dir, "key.pem"), "utf8"), cert: fs.readFileSync(path.join(dir, "cert.pem"), "utf8") } });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("verifies certificates by default: a self-signed server is refused, with the way out named", async () => {
    const e = await connectBitcoin(settings({ electrumUrls: [d.urls.tls!] })).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: "BTC_UNREACHABLE" });
    expect((e as Error).message).toMatch(/SELF_SIGNED|self-signed/);
    expect((e as Error).message).toContain("?insecure=1");
  });

  it("?insecure=1 accepts it (and ssl:// is the same transport)", async () => {
    const c = await client({ electrumUrls: [`${d.urls.tls!}?insecure=1`] });
    expect((await c.tip()).hash).toBe(chain.tip.hash);
    const c2 = await client({ electrumUrls: [`${d.urls.tls!.replace("tls://", "ssl://")}?insecure=1`] });
    expect(await c2.status(A, S)).toMatchObject({ state: "confirmed" });
  });
});

describe("real mainnet data through the Electrum client: the tBTC vector V1", () => {
  // V1's 7 mainnet headers served at heights 10..16 (its real height is not in the source; the
  // layer only needs heights to be consecutive and off a retarget boundary), its raw tx, its branch.
  const MAINNET_GENESIS = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
  const v1 = new TestChain();
  const raws = Array.from({ length: 7 }, (_, i) => Buffer.from(V1.headers.slice(i * 160, (i + 1) * 160), "hex"));
  v1.blocks.length = 0;
  for (let h = 0; h < 10; h++) v1.blocks.push({ height: h, header: raws[0], hash: "unused", txids: [] });
  raws.forEach((header, i) => v1.blocks.push({ height: 10 + i, header, hash: disp(dsha(header)), txids: i === 0 ? [V1.txid] : [] }));
  v1.txs.set(V1.txid, V1.tx);
  v1.confirmedAt.set(V1.txid, 10);
  v1.outputs.set(`${V1.txid}:0`, { script: "0014" + "86e7303082a6a21d5837176bc808bf4828371ab6", value: V1.outputValue });
  v1.branch = () => ({ height: 10, merkle: v1BranchDisplay(), pos: V1.txIndexInBlock });

  it("proof() reproduces the vector's proof parts, difficulty and Σ difficulty exactly", async () => {
    const d = await electrum(v1);
    d.faults.genesis = MAINNET_GENESIS;
    const c = await connectBitcoin(settings({ network: "mainnet", electrumUrls: [d.urls.tcp!] }));
    open.push(c);
    const r = await c.proof(V1.txid, Buffer.from("0014" + "86e7303082a6a21d5837176bc808bf4828371ab6", "hex"), { headers: 7 });
    expect(r.ready).toBe(true);
    if (!r.ready) return;
    expect(hex(r.proof.version)).toBe(V1.version);
    expect(hex(r.proof.inputVector)).toBe(V1.txInputVector);
    expect(hex(r.proof.outputVector)).toBe(V1.txOutputVector);
    expect(hex(r.proof.locktime)).toBe(V1.txLocktime);
    expect(hex(r.proof.merkleProof)).toBe(V1.merkleProof);
    expect(r.proof.indexInBlock).toBe(V1.txIndexInBlock);
    expect(hex(r.proof.headers)).toBe(V1.headers);
    expect(hex(r.proof.txidLE)).toBe(V1.txidLE);
    expect(r.firstHeaderDifficulty).toBe(V1.difficulty);
    expect(r.totalDifficulty).toBe(V1.difficultySum);
    expect(r.difficulties).toEqual(Array(7).fill(V1.difficulty));
    expect(r.blockHash).toBe(V1.firstHeaderHash);
  });

  it("the same data on a regtest-configured client is refused: the server serves mainnet", async () => {
    const d = await electrum(v1);
    d.faults.genesis = MAINNET_GENESIS;
    await expect(connectBitcoin(settings({ network: "regtest", electrumUrls: [d.urls.tcp!] }))).rejects.toMatchObject({ code: "BTC_WRONG_NETWORK" });
  });
});
