import net from "node:net";
import { secp256k1 } from "@noble/curves/secp256k1";
import { p2wpkh, RawTx, Transaction } from "@scure/btc-signer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBitcoinNetwork, type BitcoinNetwork } from "../../src/devnet/bitcoin";
import { ElectrumWire } from "../helpers/electrum-wire";
import { displayHash, electrumScripthash, electrumStatus, merkleRootOf, meetsTarget, parseHeader, REGTEST_GENESIS_HASH, rootFromBranch, sha256 } from "../helpers/btc-reference";

/**
 * The Bitcoin network double over its real wire protocols: raw Electrum JSON-RPC lines and
 * WebSocket frames, plain fetch for Esplora. Expected values come from the test's own hashing
 * (node:crypto), the published regtest genesis hash, and transactions built and parsed here with
 * @scure/btc-signer, never from the double's answers about itself.
 */
const REGTEST = { bech32: "bcrt", pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };
const key = (n: number) => {
  const priv = sha256(Buffer.from(`btc-double test key ${n}`));
  const pub = secp256k1.getPublicKey(priv, true);
  const pay = p2wpkh(pub, REGTEST);
  return { priv, pub, script: Buffer.from(pay.script).toString("hex"), address: pay.address! };
};
type Key = ReturnType<typeof key>;
interface Coin {
  txid: string;
  vout: number;
  value: bigint;
}

let btc: BitcoinNetwork;
let el: ElectrumWire;

async function esplora(path: string, init?: RequestInit): Promise<{ status: number; text: string; json: () => unknown }> {
  const r = await fetch(btc.esploraUrl + path, init);
  const text = await r.text();
  return { status: r.status, text, json: () => JSON.parse(text) };
}

/** A P2WPKH spend built and signed here (not by the double's wallet). */
function spend(from: Key, coins: Coin[], outs: Array<{ script: string; value: bigint }>, o: { sequence?: number } = {}): { hex: string; txid: string; vsize: number } {
  const tx = new Transaction({ allowUnknownOutputs: true });
  for (const c of coins) tx.addInput({ txid: c.txid, index: c.vout, witnessUtxo: { script: Buffer.from(from.script, "hex"), amount: c.value }, sequence: o.sequence ?? 0xfffffffd });
  for (const x of outs) tx.addOutput({ script: Buffer.from(x.script, "hex"), amount: x.value });
  tx.sign(from.priv);
  tx.finalize();
  return { hex: tx.hex, txid: tx.id, vsize: tx.vsize };
}

/** Funds `k` with one confirmed coin from the devnet wallet; the coin is found from Electrum's listunspent. */
async function fundedCoin(k: Key, value: bigint): Promise<Coin> {
  const sent = btc.wallet.fund(k.address, value);
  btc.mine(1);
  const utxos = await el.result<Array<{ tx_hash: string; tx_pos: number; value: number }>>("blockchain.scripthash.listunspent", [electrumScripthash(k.script)]);
  const u = utxos.find((x) => x.tx_hash === sent.txid)!;
  return { txid: u.tx_hash, vout: u.tx_pos, value: BigInt(u.value) };
}

const broadcast = (hex: string) => el.call("blockchain.transaction.broadcast", [hex]);
const rejection = async (hex: string) => (await broadcast(hex)).error?.message ?? "(accepted)";

beforeAll(async () => {
  btc = await startBitcoinNetwork();
  el = await ElectrumWire.tcp(btc.electrumTcpUrl);
  await el.result("server.version", ["btc-double.test", "1.4"]);
});
afterAll(async () => {
  el?.close();
  await btc?.stop();
});

describe("chain and headers", () => {
  it("starts from the real regtest genesis block", async () => {
    const header = await el.result<string>("blockchain.block.header", [0]);
    expect(displayHash(Buffer.from(header, "hex"))).toBe(REGTEST_GENESIS_HASH);
    expect(btc.genesisHash).toBe(REGTEST_GENESIS_HASH);
    const features = await el.result<Record<string, unknown>>("server.features");
    expect(features).toMatchObject({ genesis_hash: REGTEST_GENESIS_HASH, hash_function: "sha256", protocol_min: "1.4" });
    expect((await esplora("/block-height/0")).text).toBe(REGTEST_GENESIS_HASH);
  });

  it("serves a linked header chain where every header meets its own target", async () => {
    const tip = btc.height();
    const r = await el.result<{ count: number; hex: string; max: number }>("blockchain.block.headers", [0, tip + 1]);
    expect(r.count).toBe(tip + 1);
    expect(r.max).toBe(2016);
    const headers = r.hex.match(/.{160}/g)!.map(parseHeader);
    headers.forEach((h, i) => {
      expect(meetsTarget(h)).toBe(true);
      expect(h.bits).toBe(0x207fffff);
      if (i > 0) expect(h.prev).toBe(headers[i - 1].hash);
      if (i > 11) expect(h.time).toBeGreaterThan([...headers.slice(i - 11, i).map((x) => x.time)].sort((a, b) => a - b)[5]);
    });
    expect(headers[tip].hash).toBe((await esplora("/blocks/tip/hash")).text);
  });

  it("answers only the headers that exist near the tip", async () => {
    const tip = btc.height();
    expect(await el.result("blockchain.block.headers", [tip - 2, 10])).toMatchObject({ count: 3 });
    expect(await el.result("blockchain.block.headers", [tip + 1, 5])).toEqual({ count: 0, hex: "", max: 2016 });
    const beyond = await el.call("blockchain.block.header", [tip + 1]);
    expect(beyond.error).toEqual({ code: 1, message: `height ${(tip + 1).toLocaleString("en-US")} out of range` });
  });

  it("proves headers to a checkpoint (cp_height): the branch folds to the root over all block hashes", async () => {
    const cp = 40;
    const r = await el.result<{ branch: string[]; header: string; root: string }>("blockchain.block.header", [17, cp]);
    const hashes = (await el.result<{ hex: string }>("blockchain.block.headers", [0, cp + 1])).hex.match(/.{160}/g)!.map((h) => parseHeader(h).hash);
    expect(r.root).toBe(merkleRootOf(hashes));
    expect(rootFromBranch(parseHeader(r.header).hash, r.branch, 17)).toBe(r.root);
  });
});

describe("transactions, merkle proofs and Esplora", () => {
  let alice: Key;
  let bob: Key;
  beforeAll(() => {
    alice = key(1);
    bob = key(2);
  });

  it("gives merkle branches that verify against the header's root in blocks of odd tx counts", async () => {
    for (const count of [4, 6]) {
      const txids = Array.from({ length: count }, (_, i) => btc.wallet.fund(bob.address, 10_000 + i).txid);
      const [hash] = btc.mine(1);
      const height = btc.height();
      const blockTxids = (await esplora(`/block/${hash}/txids`)).json() as string[];
      expect(blockTxids.length).toBe(count + 1); // with the coinbase: 5 and 7
      const header = parseHeader(await el.result<string>("blockchain.block.header", [height]));
      expect(merkleRootOf(blockTxids)).toBe(header.merkleRoot);
      for (const txid of txids) {
        const m = await el.result<{ block_height: number; merkle: string[]; pos: number }>("blockchain.transaction.get_merkle", [txid, height]);
        expect(m.block_height).toBe(height);
        expect(blockTxids[m.pos]).toBe(txid);
        expect(rootFromBranch(txid, m.merkle, m.pos)).toBe(header.merkleRoot);
        expect((await esplora(`/tx/${txid}/merkle-proof`)).json()).toEqual(m);
        expect(await el.result("blockchain.transaction.id_from_pos", [height, m.pos, true])).toEqual({ tx_hash: txid, merkle: m.merkle });
      }
      const last = await el.call("blockchain.transaction.get_merkle", [txids[0], height - 1]);
      expect(last.error).toEqual({ code: 1, message: `tx ${txids[0]} not in block at height ${(height - 1).toLocaleString("en-US")}` });
    }
  });

  it("accepts a valid P2WPKH spend and serves it raw, verbose and as Esplora JSON", async () => {
    const coin = await fundedCoin(alice, 1_000_000n);
    const tx = spend(alice, [coin], [{ script: bob.script, value: 400_000n }, { script: alice.script, value: 599_000n }]);
    expect(await el.result("blockchain.transaction.broadcast", [tx.hex])).toBe(tx.txid);
    const raw = await el.result<string>("blockchain.transaction.get", [tx.txid]);
    expect(raw).toBe(tx.hex);
    expect(Transaction.fromRaw(Buffer.from(raw, "hex")).id).toBe(tx.txid);
    const verbose = await el.result<Record<string, unknown>>("blockchain.transaction.get", [tx.txid, true]);
    expect(verbose).toMatchObject({ txid: tx.txid, hex: tx.hex, vsize: tx.vsize });
    expect(verbose.confirmations).toBeUndefined();
    btc.mine(2);
    const confirmed = await el.result<Record<string, unknown>>("blockchain.transaction.get", [tx.txid, true]);
    expect(confirmed.confirmations).toBe(2);
    const blockHash = (await esplora(`/block-height/${btc.height() - 1}`)).text;
    expect(confirmed.blockhash).toBe(blockHash);
    expect((await esplora(`/block/${blockHash}/txids`)).json()).toContain(tx.txid);
    const j = (await esplora(`/tx/${tx.txid}`)).json() as Record<string, any>;
    expect(j.fee).toBe(1000);
    expect(j.vin[0].prevout).toMatchObject({ scriptpubkey: alice.script, scriptpubkey_type: "v0_p2wpkh", scriptpubkey_address: alice.address, value: 1_000_000 });
    expect(j.vout[0]).toMatchObject({ scriptpubkey_address: bob.address, value: 400_000 });
    expect(j.status).toMatchObject({ confirmed: true, block_height: btc.height() - 1 });
    expect((await esplora(`/tx/${tx.txid}/hex`)).text).toBe(tx.hex);
  });

  it("refuses an invalid signature, a spend below the minimum relay fee and a missing input, with Core's texts", async () => {
    const coin = await fundedCoin(alice, 500_000n);
    const good = spend(alice, [coin], [{ script: bob.script, value: 499_000n }]);
    const decoded = RawTx.decode(Buffer.from(good.hex, "hex"));
    const sig = decoded.witnesses![0][0];
    sig[10] ^= 0x01; // r changes: still DER, no longer a signature of this digest
    const badSig = Buffer.from(RawTx.encode(decoded)).toString("hex");
    const msg = await rejection(badSig);
    expect(msg).toContain("the transaction was rejected by network rules.");
    expect(msg).toContain("mandatory-script-verify-flag-failed (");
    const cheap = spend(alice, [coin], [{ script: bob.script, value: 500_000n - 50n }]);
    expect(await rejection(cheap.hex)).toContain(`min relay fee not met, 50 < ${cheap.vsize}`);
    const missing = spend(alice, [{ ...coin, vout: 7 }], [{ script: bob.script, value: 1000n }]);
    expect(await rejection(missing.hex)).toContain("bad-txns-inputs-missingorspent");
    const r = await esplora("/tx", { method: "POST", body: cheap.hex });
    expect(r.status).toBe(400);
    expect(r.text).toBe(`sendrawtransaction RPC error: {"code":-26,"message":"min relay fee not met, 50 < ${cheap.vsize}"}`);
    expect(await broadcast(good.hex)).toMatchObject({ result: good.txid });
  });

  it("refuses a double spend unless it is a valid BIP125 replacement", async () => {
    btc.node.policy.fullRbf = false;
    try {
      const nonSignalling = await fundedCoin(alice, 300_000n);
      const a = spend(alice, [nonSignalling], [{ script: bob.script, value: 299_000n }], { sequence: 0xffffffff });
      await broadcast(a.hex);
      const b = spend(alice, [nonSignalling], [{ script: bob.script, value: 290_000n }], { sequence: 0xffffffff });
      expect(await rejection(b.hex)).toContain("txn-mempool-conflict");
    } finally {
      btc.node.policy.fullRbf = true;
    }
    const coin = await fundedCoin(alice, 800_000n);
    const first = spend(alice, [coin], [{ script: bob.script, value: 800_000n - 2_000n }]);
    await broadcast(first.hex);
    const sameFee = spend(alice, [coin], [{ script: alice.script, value: 800_000n - 2_000n }]);
    expect(await rejection(sameFee.hex)).toContain(`insufficient fee, rejecting replacement ${sameFee.txid}; new feerate`);
    const tooLittle = spend(alice, [coin], [{ script: alice.script, value: 800_000n - 2_050n }]);
    expect(await rejection(tooLittle.hex)).toContain(`insufficient fee, rejecting replacement ${tooLittle.txid}, not enough additional fees to relay`);
    const replacement = spend(alice, [coin], [{ script: alice.script, value: 800_000n - 4_000n }]);
    expect(await broadcast(replacement.hex)).toMatchObject({ result: replacement.txid });
    const gone = await el.call("blockchain.transaction.get", [first.txid]);
    expect(gone.error?.code).toBe(2);
    expect(gone.error?.message).toContain("No such mempool or blockchain transaction");
    btc.mine(1);
    expect((await esplora(`/tx/${coin.txid}/outspend/${coin.vout}`)).json()).toMatchObject({ spent: true, txid: replacement.txid, vin: 0, status: { confirmed: true } });
  });

  it("mines a low-fee parent with its high-fee child into a small block (CPFP), not without it", async () => {
    const coins = Array.from({ length: 8 }, () => btc.wallet.fund(alice.address, 200_000).txid);
    btc.mine(1);
    const utxos = (await el.result<Array<{ tx_hash: string; tx_pos: number; value: number }>>("blockchain.scripthash.listunspent", [electrumScripthash(alice.script)])).filter((u) => coins.includes(u.tx_hash));
    const [p, ...others] = utxos.map((u) => ({ txid: u.tx_hash, vout: u.tx_pos, value: BigInt(u.value) }));
    btc.setMaxBlockVsize(1000);
    try {
      const parent = spend(alice, [p], [{ script: alice.script, value: p.value - 110n }]); // ~1 sat/vB
      await broadcast(parent.hex);
      const competitors = [];
      for (const c of others) {
        const t = spend(alice, [c], [{ script: bob.script, value: c.value - 1_500n }]); // ~13 sat/vB
        await broadcast(t.hex);
        competitors.push(t.txid);
      }
      const [without] = btc.mine(1);
      // Seven 13 sat/vB spends outbid it for the ~765 vB of room: it waits.
      expect((await esplora(`/block/${without}/txids`)).json()).not.toContain(parent.txid);
      const mempool = (await esplora("/mempool/txids")).json() as string[];
      expect(mempool).toContain(parent.txid);
      const child = spend(alice, [{ txid: parent.txid, vout: 0, value: p.value - 110n }], [{ script: bob.script, value: p.value - 110n - 20_000n }]);
      await broadcast(child.hex);
      const history = await el.result<Array<{ tx_hash: string; height: number; fee?: number }>>("blockchain.scripthash.get_history", [electrumScripthash(bob.script)]);
      expect(history.find((h) => h.tx_hash === child.txid)).toMatchObject({ height: -1, fee: 20_000 });
      const [hash] = btc.mine(1);
      const block = (await esplora(`/block/${hash}/txids`)).json() as string[];
      expect(block).toContain(parent.txid);
      expect(block).toContain(child.txid);
      expect(((await esplora(`/block/${hash}`)).json() as { weight: number }).weight / 4).toBeLessThanOrEqual(1000);
    } finally {
      btc.setMaxBlockVsize(1_000_000);
      btc.mine(1);
    }
  });

  it("keeps a low-fee transaction out of full blocks under fee pressure, then confirms it", async () => {
    const coin = await fundedCoin(alice, 300_000n);
    btc.setMaxBlockVsize(3000);
    try {
      btc.setFeePressure({ feeRate: 25, vsize: 9000 });
      const low = spend(alice, [coin], [{ script: bob.script, value: 300_000n - 1_000n }]); // ~9 sat/vB
      await broadcast(low.hex);
      const estimate = await el.result<number>("blockchain.estimatefee", [1]);
      expect(estimate).toBeGreaterThan(25e-5); // BTC/kB above the filler's 25 sat/vB
      for (let i = 0; i < 4; i++) {
        const [hash] = btc.mine(1);
        const txids = (await esplora(`/block/${hash}/txids`)).json() as string[];
        expect(txids).not.toContain(low.txid);
        expect(((await esplora(`/block/${hash}`)).json() as { weight: number }).weight).toBeGreaterThan(4 * 2800);
      }
      const mempool = (await esplora("/mempool")).json() as { vsize: number; count: number };
      expect(mempool.vsize).toBeGreaterThanOrEqual(9000);
      btc.setFeePressure(undefined);
      btc.mineUntil(() => !!btc.node.chain.findTx(low.txid), 10);
      expect((await esplora(`/tx/${low.txid}/status`)).json()).toMatchObject({ confirmed: true });
    } finally {
      btc.setFeePressure(undefined);
      btc.setMaxBlockVsize(1_000_000);
      btc.mine(1);
    }
  });

  it("forgets a dropped transaction (and its child) until it is broadcast again", async () => {
    const coin = await fundedCoin(alice, 100_000n);
    const t = spend(alice, [coin], [{ script: alice.script, value: 99_000n }]);
    const c = spend(alice, [{ txid: t.txid, vout: 0, value: 99_000n }], [{ script: bob.script, value: 98_000n }]);
    await broadcast(t.hex);
    await broadcast(c.hex);
    expect(btc.dropTransaction(t.txid).sort()).toEqual([t.txid, c.txid].sort());
    expect((await esplora(`/tx/${t.txid}`)).status).toBe(404);
    expect((await esplora(`/tx/${t.txid}`)).text).toBe("Transaction not found");
    expect((await el.call("blockchain.transaction.get", [c.txid])).error?.code).toBe(2);
    expect((await esplora(`/tx/${coin.txid}/outspend/${coin.vout}`)).json()).toEqual({ spent: false });
    expect(await el.result("blockchain.transaction.broadcast", [t.hex])).toBe(t.txid);
    expect((await esplora(`/tx/${t.txid}/status`)).json()).toEqual({ confirmed: false });
  });
});

describe("script hashes, subscriptions and reorgs", () => {
  it("reports history and status, notifies changes, and puts a reorged-out tx back in the mempool", async () => {
    const carol = key(3);
    const sh = electrumScripthash(carol.script);
    expect(await el.result("blockchain.scripthash.subscribe", [sh])).toBeNull();
    await el.result("blockchain.headers.subscribe");
    const seen = el.notifications.length;
    const sent = btc.wallet.fund(carol.address, 250_000);
    const unconfirmed = await el.notification("blockchain.scripthash.subscribe", (m) => m.params![0] === sh, seen);
    expect(unconfirmed.params![1]).toBe(electrumStatus([{ tx_hash: sent.txid, height: 0 }]));
    expect(await el.result("blockchain.scripthash.get_balance", [sh])).toEqual({ confirmed: 0, unconfirmed: 250_000 });

    const n1 = el.notifications.length;
    btc.mine(1);
    const h = btc.height();
    const confirmed = await el.notification("blockchain.scripthash.subscribe", (m) => m.params![0] === sh, n1);
    expect(confirmed.params![1]).toBe(electrumStatus([{ tx_hash: sent.txid, height: h }]));
    const history = await el.result<Array<{ tx_hash: string; height: number }>>("blockchain.scripthash.get_history", [sh]);
    expect(history).toEqual([{ tx_hash: sent.txid, height: h }]);
    expect(await el.result("blockchain.scripthash.listunspent", [sh])).toEqual([{ tx_hash: sent.txid, tx_pos: 0, height: h, value: 250_000 }]);
    const tipNote = await el.notification("blockchain.headers.subscribe", (m) => (m.params![0] as { height: number }).height === h, n1);
    expect(parseHeader((tipNote.params![0] as { hex: string }).hex).hash).toBe(btc.tipHash());

    btc.mine(1);
    const n2 = el.notifications.length;
    const oldTip = btc.tipHash();
    const r = btc.reorg(2); // fork below the tx's block (h), three blocks replace two
    expect(r.disconnected).toContain(oldTip);
    expect(r.forkHeight).toBe(h - 1);
    expect(btc.height()).toBe(h + 2);
    const back = await el.notification("blockchain.scripthash.subscribe", (m) => m.params![0] === sh, n2);
    expect(back.params![1]).toBe(electrumStatus([{ tx_hash: sent.txid, height: 0 }]));
    expect(await el.result("blockchain.scripthash.get_history", [sh])).toEqual([{ tx_hash: sent.txid, height: 0, fee: expect.any(Number) }]);
    const newTip = await el.notification("blockchain.headers.subscribe", (m) => (m.params![0] as { height: number }).height === h + 2, n2);
    expect(parseHeader((newTip.params![0] as { hex: string }).hex).hash).not.toBe(oldTip);
    expect(((await esplora(`/block/${oldTip}/status`)).json() as { in_best_chain: boolean }).in_best_chain).toBe(false);
    expect((await esplora("/mempool/txids")).json()).toContain(sent.txid);
    expect(await el.result("blockchain.scripthash.unsubscribe", [sh])).toBe(true);
    expect(await el.result("blockchain.scripthash.unsubscribe", [sh])).toBe(false);
    btc.mine(1);
    expect(await el.result("blockchain.scripthash.get_history", [sh])).toEqual([{ tx_hash: sent.txid, height: h + 3 }]);
  });

  it("agrees with itself across Electrum and Esplora on status, proof and spends", async () => {
    const dave = key(4);
    const sent = btc.wallet.fund(dave.address, 77_000);
    btc.mine(3);
    const history = await el.result<Array<{ tx_hash: string; height: number }>>("blockchain.scripthash.get_history", [electrumScripthash(dave.script)]);
    const status = (await esplora(`/tx/${sent.txid}/status`)).json() as Record<string, unknown>;
    expect(status).toMatchObject({ confirmed: true, block_height: history[0].height, block_hash: btc.node.chain.entryAt(history[0].height)!.block.hash });
    expect((await esplora(`/tx/${sent.txid}/merkle-proof`)).json()).toEqual(await el.result("blockchain.transaction.get_merkle", [sent.txid, history[0].height]));
    const natural = sha256(Buffer.from(dave.script, "hex")).toString("hex");
    const viaScripthash = (await esplora(`/scripthash/${natural}/utxo`)).json() as Array<{ txid: string; value: number }>;
    expect(viaScripthash).toEqual((await esplora(`/address/${dave.address}/utxo`)).json());
    expect(viaScripthash).toEqual([{ txid: sent.txid, vout: 0, status: expect.objectContaining({ confirmed: true }), value: 77_000 }]);
    const outspends = (await esplora(`/tx/${sent.txid}/outspends`)).json() as Array<{ spent: boolean }>;
    expect(outspends[0]).toEqual({ spent: false });
    expect(((await esplora(`/address/${dave.address}/txs`)).json() as Array<{ txid: string }>).map((t) => t.txid)).toEqual([sent.txid]);
  });
});

describe("the Electrum wire protocol", () => {
  it("answers batches in one array and keeps the connection after malformed JSON", async () => {
    const w = await ElectrumWire.tcp(btc.electrumTcpUrl);
    w.sendRaw(JSON.stringify({ jsonrpc: "2.0", id: "v", method: "server.version", params: ["t", ["1.1", "1.4"]] }));
    w.sendRaw("{not json");
    w.sendRaw(JSON.stringify([
      { jsonrpc: "2.0", id: 10, method: "server.ping" },
      { jsonrpc: "2.0", id: 11, method: "blockchain.block.header", params: [1] },
      { jsonrpc: "2.0", id: 12, method: "no.such.method" },
      { jsonrpc: "2.0", method: "server.ping" },
    ]));
    await w.until(() => w.received.some(Array.isArray), 5000, "the batch answer");
    const batch = w.received.find(Array.isArray) as Array<{ id: number; result?: unknown; error?: { code: number; message: string } }>;
    expect(batch.map((b) => b.id)).toEqual([10, 11, 12]);
    expect(batch[0].result).toBeNull();
    expect(parseHeader(batch[1].result as string).prev).toBe(REGTEST_GENESIS_HASH);
    expect(batch[2].error).toEqual({ code: -32601, message: 'unknown method "no.such.method"' });
    expect(w.received).toContainEqual({ jsonrpc: "2.0", error: { code: -32700, message: "invalid JSON" }, id: null });
    expect(await w.result("server.ping")).toBeNull();
    expect((await w.call("blockchain.block.header")).error).toEqual({ code: -32602, message: '0 arguments passed to method "blockchain.block.header" but it requires 1' });
    w.close();
  });

  it("negotiates server.version as ElectrumX does", async () => {
    const a = await ElectrumWire.tcp(btc.electrumTcpUrl);
    expect(await a.result("server.version", ["t", "1.4"])).toEqual(["keepctl-btc-double 0.1", "1.4"]);
    expect((await a.call("server.version", ["t", "1.4"])).error).toEqual({ code: 1, message: "server.version already sent" });
    a.close();
    const b = await ElectrumWire.tcp(btc.electrumTcpUrl);
    expect((await b.result<string[]>("server.version", ["t", ["1.2", "1.9"]]))[1]).toBe("1.4.2");
    b.close();
    const c = await ElectrumWire.tcp(btc.electrumTcpUrl);
    expect((await c.call("server.version", ["t", "1.3"])).error).toEqual({ code: 1, message: "unsupported protocol version: 1.3" });
    await c.until(() => c.closed, 5000, "the server to close");
    const d = await ElectrumWire.tcp(btc.electrumTcpUrl);
    expect((await d.call("blockchain.headers.subscribe")).error).toEqual({ code: 1, message: "use server.version to identify client" });
    await d.until(() => d.closed, 5000, "the server to close");
  });

  it("speaks the same protocol over WebSocket frames, notifications included", async () => {
    const w = await ElectrumWire.ws(btc.electrumWsUrl);
    await w.result("server.version", ["ws-test", "1.4"]);
    const tip = await w.result<{ height: number; hex: string }>("blockchain.headers.subscribe");
    expect(tip.height).toBe(btc.height());
    btc.mine(1);
    const n = await w.notification("blockchain.headers.subscribe");
    expect((n.params![0] as { height: number }).height).toBe(tip.height + 1);
    expect(parseHeader((n.params![0] as { hex: string }).hex).prev).toBe(parseHeader(tip.hex).hash);
    w.close();
  });

  it("holds answers while paused, with the port still open", async () => {
    btc.pause();
    const w = await ElectrumWire.tcp(btc.electrumTcpUrl);
    const answer = w.call("server.version", ["paused", "1.4"]);
    const http = fetch(btc.esploraUrl + "/blocks/tip/height").then((r) => r.text());
    await new Promise((r) => setTimeout(r, 300));
    expect(w.received).toEqual([]);
    const status = (await esplora("/devnet/status")).json() as { paused: boolean };
    expect(status.paused).toBe(true);
    btc.resume();
    expect((await answer).result).toEqual(["keepctl-btc-double 0.1", "1.4"]);
    expect(await http).toBe(String(btc.height()));
    w.close();
  });
});

describe("devnet controls over HTTP", () => {
  it("mines, reorgs and drops through /devnet/", async () => {
    const h = btc.height();
    const mined = (await esplora("/devnet/mine?n=2", { method: "POST" })).json() as string[];
    expect(mined).toHaveLength(2);
    expect((await esplora("/blocks/tip/hash")).text).toBe(mined[1]);
    const r = (await esplora("/devnet/reorg?depth=2&replaceWith=3", { method: "POST" })).json() as { disconnected: string[]; connected: string[] };
    expect(r.disconnected.sort()).toEqual([...mined].sort());
    expect(r.connected).toHaveLength(3);
    expect(Number((await esplora("/blocks/tip/height")).text)).toBe(h + 3);
    const t = btc.wallet.fund(key(5).address, 5_000);
    expect((await esplora(`/devnet/drop/${t.txid}`, { method: "POST" })).json()).toEqual([t.txid]);
    expect((await esplora(`/tx/${t.txid}`)).status).toBe(404);
    expect((await esplora("/devnet/reorg?depth=0", { method: "POST" })).status).toBe(400);
  });
});

describe("stop()", () => {
  it("closes every port", async () => {
    const other = await startBitcoinNetwork({ initialBlocks: 1, autoMineMs: 50 });
    const ports = [other.electrumTcpPort, other.electrumWsPort, other.esploraPort];
    const w = await ElectrumWire.tcp(other.electrumTcpUrl);
    await other.stop();
    await w.until(() => w.closed, 5000, "the client to be disconnected");
    for (const port of ports) {
      const refused = await new Promise<boolean>((resolve) => {
        const s = net.connect(port, "127.0.0.1");
        s.once("connect", () => (s.destroy(), resolve(false)));
        s.once("error", () => resolve(true));
      });
      expect(refused).toBe(true);
    }
  });
});
