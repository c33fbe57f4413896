import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from "vitest";
import os from "node:os";
import { ContractFactory, Interface, JsonRpcProvider, Transaction, Wallet, encryptKeystoreJson, parseEther } from "ethers";
import { loadWallet } from "../../src/lib/chain/wallet";
import { redact } from "../../src/lib/redact";
import { startHardhatNode, PACKAGE_ROOT, type LocalNode } from "../../src/devnet/node";
import { TxSender, type TxEvent } from "../../src/lib/chain/tx";
import { classifyNodeError } from "../../src/lib/chain/errors-rpc";
import { InsufficientFundsError, RevertError } from "../../src/lib/errors";

const artifact = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, "artifacts/contracts/txtest/Reverter.sol/Reverter.json"), "utf8"));
const iface = new Interface(artifact.abi);

let node: LocalNode;
let provider: JsonRpcProvider;
let reverter: string;
let snapshot: string;

async function fundedWallet(eth = "10"): Promise<Wallet> {
  const w = Wallet.createRandom().connect(provider);
  await provider.send("hardhat_setBalance", [w.address, "0x" + parseEther(eth).toString(16)]);
  return new Wallet(w.privateKey, provider);
}

async function until(cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}

const bump = () => iface.encodeFunctionData("bump");

beforeAll(async () => {
  node = await startHardhatNode();
  provider = new JsonRpcProvider(node.rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1 });
  const deployer = await fundedWallet();
  const c = await new ContractFactory(artifact.abi, artifact.bytecode, deployer).deploy();
  await c.waitForDeployment();
  reverter = await c.getAddress();
});
afterAll(async () => {
  provider?.destroy();
  await node?.stop();
});
beforeEach(async () => {
  snapshot = await provider.send("evm_snapshot", []);
});
afterEach(async () => {
  await provider.send("evm_setAutomine", [true]);
  await provider.send("evm_revert", [snapshot]);
});

describe("TxSender on a local node", () => {
  it("replaces a stuck tx at the same nonce with both fees >= 12.5% higher, and reports the one mined", async () => {
    const wallet = await fundedWallet();
    const events: TxEvent[] = [];
    const signed: Transaction[] = [];
    const sender = new TxSender(wallet, provider, {
      maxFeeGwei: 500, replaceAfterMs: 300, pollMs: 50,
      onEvent: (e) => events.push(e),
      beforeBroadcast: (raw) => { signed.push(Transaction.from(raw)); },
    });
    await provider.send("evm_setAutomine", [false]);
    const pending = sender.send({ to: reverter, data: bump(), label: "bump" });
    await until(() => events.some((e) => e.type === "replaced"));
    const first = signed[0];
    const second = signed[1];
    expect(second.nonce).toBe(first.nonce);
    expect(second.maxFeePerGas! * 1000n).toBeGreaterThanOrEqual(first.maxFeePerGas! * 1125n);
    expect(second.maxPriorityFeePerGas! * 1000n).toBeGreaterThanOrEqual(first.maxPriorityFeePerGas! * 1125n);
    // the node holds the replacement, at the same nonce
    const live = await provider.getTransaction(second.hash!);
    expect(live?.nonce).toBe(first.nonce);
    await provider.send("evm_mine", []);
    const res = await pending;
    expect(res.nonce).toBe(first.nonce);
    expect(res.hashes.length).toBeGreaterThanOrEqual(2);
    expect(res.hashes).toContain(res.hash);
    const receipts = await Promise.all(res.hashes.map((h) => provider.getTransactionReceipt(h)));
    expect(receipts.filter(Boolean)).toHaveLength(1);
    expect(res.receipt.status).toBe(1);
    expect(await provider.getTransactionCount(wallet.address, "latest")).toBe(1);
    expect(BigInt(await provider.call({ to: reverter, data: iface.encodeFunctionData("count") }))).toBe(1n);
    expect(events.filter((e) => e.type === "mined")).toHaveLength(1);
  });

  it("stops raising at the fee cap: every step valid (>= +10% on both fees), never above the cap, and reports the live fee", async () => {
    const wallet = await fundedWallet();
    const sender0 = new TxSender(wallet, provider, { maxFeeGwei: 1000 });
    const prep = await sender0.prepare({ to: reverter, data: bump(), label: "bump" });
    // room for one full 12.5% step (112.5%), not for a second (126.6%)
    const cap = (prep.maxFeePerGas * 120n) / 100n;
    const capGwei = (Number(cap) / 1e9).toFixed(9);
    const capWei = BigInt(Math.round(Number(capGwei) * 1e9));
    const events: TxEvent[] = [];
    const signed: Transaction[] = [];
    const sender = new TxSender(wallet, provider, {
      maxFeeGwei: capGwei, replaceAfterMs: 150, pollMs: 30,
      onEvent: (e) => events.push(e),
      beforeBroadcast: (raw) => { signed.push(Transaction.from(raw)); },
    });
    await provider.send("evm_setAutomine", [false]);
    const pending = sender.send({ to: reverter, data: bump(), label: "bump" });
    await until(() => events.some((e) => e.type === "fee-cap-reached"));
    const countAtCap = signed.length;
    await new Promise((r) => setTimeout(r, 800)); // several replace intervals
    expect(signed.length).toBe(countAtCap);
    expect(signed).toHaveLength(2);
    for (const tx of signed) expect(tx.maxFeePerGas!).toBeLessThanOrEqual(capWei);
    for (let i = 1; i < signed.length; i++) {
      expect(signed[i].maxFeePerGas! * 100n).toBeGreaterThanOrEqual(signed[i - 1].maxFeePerGas! * 110n);
      expect(signed[i].maxPriorityFeePerGas! * 100n).toBeGreaterThanOrEqual(signed[i - 1].maxPriorityFeePerGas! * 110n);
    }
    // the node holds the last step, and that is the fee the event reports as live
    expect((await provider.getTransaction(signed[1].hash!))?.maxFeePerGas).toBe(signed[1].maxFeePerGas);
    const atCap = events.filter((e) => e.type === "fee-cap-reached");
    expect(atCap).toHaveLength(1);
    expect(atCap[0]).toMatchObject({ maxFeePerGas: signed[1].maxFeePerGas, cap: capWei });
    expect(new Set(signed.map((t) => t.nonce)).size).toBe(1);
    await provider.send("evm_mine", []);
    const res = await pending;
    expect(res.receipt.status).toBe(1);
  });

  it("refuses to send when the base fee is already above the cap", async () => {
    const wallet = await fundedWallet();
    await provider.send("hardhat_setNextBlockBaseFeePerGas", ["0x" + (50n * 10n ** 9n).toString(16)]);
    await provider.send("evm_mine", []);
    const sender = new TxSender(wallet, provider, { maxFeeGwei: 10 });
    const err = await sender.send({ to: reverter, data: bump(), label: "bump" }).catch((e) => e);
    expect(err.code).toBe("FEE_CAP");
    expect(err.message).toMatch(/base fee 50 gwei is at or above the fee cap 10 gwei/);
    expect(await provider.getTransactionCount(wallet.address, "pending")).toBe(0);
  });

  it("gives parallel callers consecutive nonces", async () => {
    const wallet = await fundedWallet();
    const events: TxEvent[] = [];
    const sender = new TxSender(wallet, provider, { maxFeeGwei: 500, replaceAfterMs: 60_000, pollMs: 50, onEvent: (e) => events.push(e) });
    await provider.send("evm_setAutomine", [false]);
    const all = Promise.all([1, 2, 3, 4].map((i) => sender.send({ to: reverter, data: bump(), label: `bump ${i}` })));
    await until(() => events.filter((e) => e.type === "sent").length === 4);
    await provider.send("evm_mine", []);
    const results = await all;
    expect(results.map((r) => r.nonce).sort()).toEqual([0, 1, 2, 3]);
    expect(results.every((r) => r.receipt.status === 1)).toBe(true);
    expect(await provider.getTransactionCount(wallet.address, "latest")).toBe(4);
  });

  it("refuses a reverting call with the decoded reason, sending nothing", async () => {
    const wallet = await fundedWallet();
    const sender = new TxSender(wallet, provider, { maxFeeGwei: 500 });
    const e1 = await sender.send({ to: reverter, data: iface.encodeFunctionData("failWithReason"), label: "fail" }).catch((e) => e);
    expect(e1).toBeInstanceOf(RevertError);
    expect(e1.exitCode).toBe(5);
    expect(e1.reason).toBe("Reverter: always fails");
    expect(e1.message).toBe("fail would revert: Reverter: always fails");
    const e2 = await sender.prepare({ to: reverter, data: iface.encodeFunctionData("failWithCustom"), label: "custom", abi: artifact.abi }).catch((e) => e);
    expect(e2).toBeInstanceOf(RevertError);
    expect(e2.reason).toBe(`NotAllowed(${wallet.address}, 42)`);
    expect(await provider.getTransactionCount(wallet.address, "pending")).toBe(0);
  });

  it("checks the receipt status: a tx that reverts when mined is a RevertError", async () => {
    const wallet = await fundedWallet();
    const other = await fundedWallet();
    const events: TxEvent[] = [];
    const sender = new TxSender(wallet, provider, { maxFeeGwei: 500, replaceAfterMs: 60_000, pollMs: 50, onEvent: (e) => events.push(e) });
    await provider.send("evm_setAutomine", [false]);
    const pending = sender.send({ to: reverter, data: bump(), label: "bump" }).catch((e) => e);
    await until(() => events.some((e) => e.type === "sent"));
    // someone front-runs with a higher tip and changes the state
    await other.sendTransaction({ to: reverter, data: iface.encodeFunctionData("arm", [true]), maxPriorityFeePerGas: 50n * 10n ** 9n, maxFeePerGas: 100n * 10n ** 9n });
    await provider.send("evm_mine", []);
    const err = await pending;
    expect(err).toBeInstanceOf(RevertError);
    expect(err.message).toMatch(/^bump reverted on chain in block \d+/);
    expect(events.find((e) => e.type === "mined")).toMatchObject({ status: 0 });
  });

  it("insufficient funds is an exit-6 error before anything is signed", async () => {
    const wallet = await fundedWallet("0.000000001");
    const signed: string[] = [];
    const sender = new TxSender(wallet, provider, { maxFeeGwei: 500, beforeBroadcast: (raw) => { signed.push(raw); } });
    const err = await sender.send({ to: reverter, data: bump(), label: "bump" }).catch((e) => e);
    expect(err).toBeInstanceOf(InsufficientFundsError);
    expect(err.exitCode).toBe(6);
    expect(err.message).toMatch(/holds 0\.000000001 ETH, needs up to/);
    expect(signed).toHaveLength(0);
    const err2 = await sender.send({ to: reverter, data: bump(), value: parseEther("1"), label: "pay" }).catch((e) => e);
    expect(err2.exitCode).toBe(6);
  });

  it("stops waiting on shutdown with exit 130, leaving the tx in flight; refuses new sends", async () => {
    const wallet = await fundedWallet();
    const ac = new AbortController();
    const events: TxEvent[] = [];
    const sender = new TxSender(wallet, provider, { maxFeeGwei: 500, pollMs: 10_000, signal: ac.signal, onEvent: (e) => events.push(e) });
    await provider.send("evm_setAutomine", [false]);
    const pending = sender.send({ to: reverter, data: bump(), label: "bump" }).catch((e) => e);
    await until(() => events.some((e) => e.type === "sent"));
    const started = Date.now();
    ac.abort();
    const err = await pending;
    expect(Date.now() - started).toBeLessThan(5_000); // did not sit out the 10 s poll
    expect(err.exitCode).toBe(130);
    expect(events.at(-1)).toMatchObject({ type: "failed", sent: true, code: "INTERRUPTED" });
    expect(await provider.getTransactionCount(wallet.address, "pending")).toBe(1);
    const again = await sender.send({ to: reverter, data: bump(), label: "bump" }).catch((e) => e);
    expect(again.exitCode).toBe(130);
    expect(await provider.getTransactionCount(wallet.address, "pending")).toBe(1);
  });

  it("classifies the node's real rejections", async () => {
    const wallet = await fundedWallet();
    const net = await provider.getNetwork();
    const sign = (nonce: number, fee: bigint, data = "0x") =>
      wallet.signTransaction({ type: 2, chainId: net.chainId, nonce, to: reverter, data: data === "0x" ? bump() : data, gasLimit: 100_000n, maxFeePerGas: fee, maxPriorityFeePerGas: fee / 2n });
    const rawErr = (raw: string) => provider.send("eth_sendRawTransaction", [raw]).then(() => null, (e) => e);
    await provider.send("evm_setAutomine", [false]);
    const a = await sign(0, 10n ** 10n);
    expect(await rawErr(a)).toBeNull();
    expect(classifyNodeError(await rawErr(a))).toBe("already-known");
    const b = await sign(0, 10n ** 10n + 1n);
    expect(classifyNodeError(await rawErr(b))).toBe("replacement-underpriced");
    await provider.send("evm_mine", []);
    const c = await sign(0, 2n * 10n ** 10n);
    expect(classifyNodeError(await rawErr(c))).toBe("nonce-too-low");
    const poor = Wallet.createRandom();
    const d = await poor.signTransaction({ type: 2, chainId: net.chainId, nonce: 0, to: reverter, gasLimit: 100_000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 1n });
    expect(classifyNodeError(await rawErr(d))).toBe("insufficient-funds");
  });
});

describe("loadWallet", () => {
  const PASSWORD = "correct horse battery";
  let dir: string;
  let keyWallet: Wallet;
  let keystore: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-wallet-"));
    keyWallet = Wallet.createRandom() as unknown as Wallet;
    // a cheap scrypt so the test is fast; the format is the standard v3 keystore
    const json = await encryptKeystoreJson({ address: keyWallet.address, privateKey: keyWallet.privateKey }, PASSWORD, { scrypt: { N: 1 << 10 } });
    keystore = path.join(dir, "key.json");
    fs.writeFileSync(keystore, json);
    fs.writeFileSync(path.join(dir, "pw"), PASSWORD + "\n");
    fs.writeFileSync(path.join(dir, "bad"), "wrong\n");
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("decrypts a keystore with a password file (trailing newline ignored) and signs on chain", async () => {
    const w = await loadWallet({ keystorePath: keystore, passwordFile: path.join(dir, "pw"), interactive: false }, provider);
    expect(w.address).toBe(keyWallet.address);
    await provider.send("hardhat_setBalance", [w.address, "0x" + parseEther("1").toString(16)]);
    const sender = new TxSender(w, provider, { maxFeeGwei: 500, pollMs: 50 });
    const res = await sender.send({ to: reverter, data: bump(), label: "bump" });
    expect((await provider.getTransaction(res.hash))?.from).toBe(keyWallet.address);
    // both secrets are now redacted wherever they would be printed
    expect(redact(`pw=${PASSWORD} key=${keyWallet.privateKey}`)).toBe("pw=*** key=***");
  });

  it("asks the prompt only on a TTY", async () => {
    const asked: string[] = [];
    const w = await loadWallet({ keystorePath: keystore, interactive: true, prompt: async (m) => { asked.push(m); return PASSWORD; } }, provider);
    expect(w.address).toBe(keyWallet.address);
    expect(asked).toEqual([`Password for keystore ${keystore}:`]);
  });

  it("config errors (exit 3) with hints, never echoing the password", async () => {
    const fail = (o: Parameters<typeof loadWallet>[0]) => loadWallet(o, provider).then(() => null, (e) => e);
    const wrong = await fail({ keystorePath: keystore, passwordFile: path.join(dir, "bad"), interactive: false });
    expect(wrong.exitCode).toBe(3);
    expect(wrong.message).toBe(`wrong password for keystore ${keystore}`);
    expect(wrong.message + wrong.hint).not.toContain("wrong\n");
    const missing = await fail({ keystorePath: path.join(dir, "nope.json"), passwordFile: path.join(dir, "pw"), interactive: false });
    expect(missing.message).toBe(`keystore ${path.join(dir, "nope.json")} does not exist`);
    const noTty = await fail({ keystorePath: keystore, interactive: false });
    expect(noTty.exitCode).toBe(3);
    expect(noTty.hint).toMatch(/--password-file/);
    const none = await fail({ interactive: true });
    expect(none.message).toBe("no signing key configured");
    const badRaw = await fail({ privateKeyFromEnv: "0x1234", interactive: false });
    expect(badRaw.exitCode).toBe(3);
    expect(badRaw.message).not.toContain("1234");
  });

  it("takes a raw key from the environment (CI) and registers it as a secret", async () => {
    const k = Wallet.createRandom();
    const w = await loadWallet({ privateKeyFromEnv: k.privateKey.slice(2) + "\n", interactive: false }, provider);
    expect(w.address).toBe(k.address);
    expect(redact(`oops ${k.privateKey}`)).toBe("oops ***");
  });
});
