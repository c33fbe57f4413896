import { Transaction } from "@scure/btc-signer";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startBitcoinFaultProxy, startBitcoinNetwork, type BitcoinFaultProxy, type BitcoinFaultProxyOptions, type BitcoinNetwork } from "../../src/devnet/bitcoin";
import { ElectrumWire } from "../helpers/electrum-wire";
import { displayHash, meetsTarget, parseHeader, REGTEST_GENESIS_HASH, rootFromBranch } from "../helpers/btc-reference";

/**
 * The Bitcoin fault proxy's lies and faults, observed on the wire through it, and checked against
 * the honest double (asked directly) and the test's own hashing.
 */
let btc: BitcoinNetwork;
let honest: ElectrumWire;
let txid: string;
let txHeight: number;
const proxies: BitcoinFaultProxy[] = [];
const wires: ElectrumWire[] = [];

async function proxy(o: Omit<BitcoinFaultProxyOptions, "electrumTcp" | "electrumWs" | "esplora">): Promise<BitcoinFaultProxy> {
  const p = await startBitcoinFaultProxy({ electrumTcp: btc.electrumTcpUrl, electrumWs: btc.electrumWsUrl, esplora: btc.esploraUrl, ...o });
  proxies.push(p);
  return p;
}
async function wire(url: string, ws = false): Promise<ElectrumWire> {
  const w = ws ? await ElectrumWire.ws(url) : await ElectrumWire.tcp(url);
  wires.push(w);
  const v = await w.call("server.version", ["fault-proxy.test", "1.4"]);
  if (v.error) throw new Error(v.error.message);
  return w;
}

beforeAll(async () => {
  btc = await startBitcoinNetwork();
  for (let i = 0; i < 4; i++) btc.wallet.fund(btc.wallet.address, 10_000 + i);
  txid = btc.wallet.fund(btc.wallet.address, 20_000).txid;
  btc.mine(3);
  txHeight = btc.height() - 2;
  honest = await ElectrumWire.tcp(btc.electrumTcpUrl);
  await honest.result("server.version", ["honest", "1.4"]);
});
afterEach(async () => {
  for (const w of wires.splice(0)) w.close();
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});
afterAll(async () => {
  honest?.close();
  await btc?.stop();
});

describe("lies", () => {
  it("a wrong merkle node: the branch no longer folds to the block's root (Electrum and Esplora)", async () => {
    const p = await proxy({ lies: { merkle: 1 } });
    const root = parseHeader(await honest.result<string>("blockchain.block.header", [txHeight])).merkleRoot;
    const truth = await honest.result<{ merkle: string[]; pos: number }>("blockchain.transaction.get_merkle", [txid, txHeight]);
    expect(rootFromBranch(txid, truth.merkle, truth.pos)).toBe(root);
    const w = await wire(p.electrumTcpUrl!);
    const lie = await w.result<{ merkle: string[]; pos: number }>("blockchain.transaction.get_merkle", [txid, txHeight]);
    expect(lie.merkle).toHaveLength(truth.merkle.length);
    expect(rootFromBranch(txid, lie.merkle, lie.pos)).not.toBe(root);
    const e = (await (await fetch(`${p.esploraUrl}/tx/${txid}/merkle-proof`)).json()) as { merkle: string[]; pos: number };
    expect(rootFromBranch(txid, e.merkle, e.pos)).not.toBe(root);
    expect(p.counts.lies.merkle).toBe(2);
  });

  it("headers of another chain: linked and mined, but from a different genesis", async () => {
    const p = await proxy({ lies: { "foreign-headers": 1 } });
    const w = await wire(p.electrumTcpUrl!);
    const r = await w.result<{ count: number; hex: string }>("blockchain.block.headers", [0, 20]);
    const headers = r.hex.match(/.{160}/g)!.map(parseHeader);
    expect(headers).toHaveLength(20);
    headers.forEach((h, i) => {
      expect(meetsTarget(h)).toBe(true);
      if (i > 0) expect(h.prev).toBe(headers[i - 1].hash);
    });
    expect(headers[0].hash).not.toBe(REGTEST_GENESIS_HASH);
    const viaEsplora = await (await fetch(`${p.esploraUrl}/block-height/0`)).text();
    expect(viaEsplora).toBe(headers[0].hash);
    const header = await (await fetch(`${p.esploraUrl}/block/${viaEsplora}/header`)).text();
    expect(displayHash(Buffer.from(header, "hex"))).toBe(viaEsplora);
  });

  it("a header above its own target", async () => {
    const p = await proxy({ lies: { "bad-pow": 1 } });
    const w = await wire(p.electrumTcpUrl!);
    const h = parseHeader(await w.result<string>("blockchain.block.header", [5]));
    const truth = parseHeader(await honest.result<string>("blockchain.block.header", [5]));
    expect(meetsTarget(truth)).toBe(true);
    expect(meetsTarget(h)).toBe(false);
    expect({ ...h, nonce: 0, hash: "" }).toEqual({ ...truth, nonce: 0, hash: "" });
    const chunk = (await w.result<{ hex: string }>("blockchain.block.headers", [1, 4])).hex.match(/.{160}/g)!.map(parseHeader);
    expect(chunk.filter((x) => !meetsTarget(x))).toHaveLength(1);
    const hash = await (await fetch(`${btc.esploraUrl}/block-height/7`)).text();
    expect(meetsTarget(parseHeader(await (await fetch(`${p.esploraUrl}/block/${hash}/header`)).text()))).toBe(false);
  });

  it("a tip above the chain and inflated confirmations", async () => {
    const p = await proxy({ lies: { "fake-tip": 1 }, fakeTipBy: 7 });
    const w = await wire(p.electrumTcpUrl!);
    expect((await w.result<{ height: number }>("blockchain.headers.subscribe")).height).toBe(btc.height() + 7);
    const truth = await honest.result<{ confirmations: number }>("blockchain.transaction.get", [txid, true]);
    expect((await w.result<{ confirmations: number }>("blockchain.transaction.get", [txid, true])).confirmations).toBe(truth.confirmations + 7);
    expect(Number(await (await fetch(`${p.esploraUrl}/blocks/tip/height`)).text())).toBe(btc.height() + 7);
    btc.mine(1);
    const n = await w.notification("blockchain.headers.subscribe");
    expect((n.params![0] as { height: number }).height).toBe(btc.height() + 7);
  });

  it("a raw transaction that is not the one asked for (TCP, WebSocket, Esplora)", async () => {
    const p = await proxy({ lies: { "wrong-raw-tx": 1 } });
    for (const w of [await wire(p.electrumTcpUrl!), await wire(p.electrumWsUrl!, true)]) {
      const raw = await w.result<string>("blockchain.transaction.get", [txid]);
      expect(Transaction.fromRaw(Buffer.from(raw, "hex")).id).not.toBe(txid);
    }
    const hex = await (await fetch(`${p.esploraUrl}/tx/${txid}/hex`)).text();
    expect(Transaction.fromRaw(Buffer.from(hex, "hex")).id).not.toBe(txid);
    expect(Transaction.fromRaw(Buffer.from(await honest.result<string>("blockchain.transaction.get", [txid]), "hex")).id).toBe(txid);
    expect(p.counts.lies["wrong-raw-tx"]).toBe(3);
  });
});

describe("faults", () => {
  it("answers error objects, junk lines, or drops the connection, and counts them", async () => {
    const p = await proxy({ rate: 0, kinds: ["error"] });
    const w = await wire(p.electrumTcpUrl!);
    p.setRate(1);
    const kinds = async (k: BitcoinFaultProxyOptions["kinds"]) => {
      proxies.splice(proxies.indexOf(p), 1);
      await p.close();
      return proxy({ rate: 0, kinds: k });
    };
    expect((await w.call("server.ping")).error).toEqual({ code: 2, message: "daemon error: injected by the fault proxy" });
    expect(p.counts.faults.error).toBe(1);

    const j = await kinds(["junk"]);
    const wj = await wire(j.electrumTcpUrl!);
    j.setRate(1);
    wj.sendRaw(JSON.stringify({ jsonrpc: "2.0", id: 99, method: "server.ping" }));
    await wj.until(() => wj.junk.length > 0, 5000, "a junk line");
    expect(() => JSON.parse(wj.junk[0])).toThrow();
    expect(j.counts.faults.junk).toBe(1);

    const d = await kinds(["drop"]);
    const wd = await wire(d.electrumTcpUrl!);
    d.setRate(1);
    wd.sendRaw(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "server.ping" }));
    await wd.until(() => wd.closed, 5000, "the connection to drop");
    expect(d.counts.faults.drop).toBe(1);

    const h = await kinds(["error"]);
    h.setRate(1);
    const r = await fetch(`${h.esploraUrl}/blocks/tip/height`);
    expect(r.status).toBe(500);
    const hd = await kinds(["drop"]);
    hd.setRate(1);
    await expect(fetch(`${hd.esploraUrl}/blocks/tip/height`)).rejects.toThrow();
  });

  it("stalls an answer: it arrives, late, behind the held one", async () => {
    const p = await proxy({ rate: 0, kinds: ["stall"], stallMs: 300 });
    const w = await wire(p.electrumTcpUrl!);
    p.setRate(1);
    const first = w.call("server.ping");
    await w.until(() => p.counts.faults.stall === 1, 5000, "the stall");
    p.setRate(0);
    const second = w.call("blockchain.block.header", [0]);
    const order: string[] = [];
    await Promise.all([first.then(() => order.push("first")), second.then(() => order.push("second"))]);
    expect(order).toEqual(["first", "second"]);
    expect((await second).result).toBe((await honest.call("blockchain.block.header", [0])).result);
    expect(p.counts.faults.stall).toBe(1);
  });

  it("replays the same fault schedule from the same seed", async () => {
    const schedule = async () => {
      const p = await proxy({ seed: 42, rate: 0.5, kinds: ["error"] });
      const w = await wire(p.electrumTcpUrl!);
      const out: boolean[] = [];
      for (let i = 0; i < 12; i++) out.push(!!(await w.call("server.ping")).error);
      return out;
    };
    const a = await schedule();
    const b = await schedule();
    expect(a).toEqual(b);
    expect(a.some(Boolean)).toBe(true);
    expect(a.every(Boolean)).toBe(false);
  });
});
