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
