import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ContractFactory, Interface, JsonRpcProvider, Transaction, Wallet, parseEther } from "ethers";
import { startHardhatNode, PACKAGE_ROOT, type LocalNode } from "../../src/devnet/node";
import { startFaultProxy, type FaultProxy, type FaultKind } from "../../src/devnet/fault-proxy";
import { connect, type KeepctlProvider } from "../../src/lib/chain/provider";
import { Journal } from "../../src/lib/chain/journal";
import { ActionSender, type ActionSenderOptions, type SenderEvent } from "../../src/lib/chain/sender";
import { AccountConflictError } from "../../src/lib/chain/nonce";
import { LeaseLostError } from "../../src/lib/state/errors";
import { formatGwei } from "../../src/lib/chain/fees";
import type { Alert } from "../../src/lib/alert/types";

/** ActionSender, the one journaled sender, against a real Hardhat node (and the fault proxy). */
const artifact = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, "artifacts/contracts/txtest/Reverter.sol/Reverter.json"), "utf8"));
const iface = new Interface(artifact.abi);
const BUMP = iface.encodeFunctionData("bump");

let node: LocalNode;
let provider: JsonRpcProvider;
let target: string;
let snapshot: string;
let dataDir: string;
let proxy: FaultProxy | undefined;
const cleanups: (() => unknown)[] = [];

async function fundedWallet(): Promise<Wallet> {
  const w = Wallet.createRandom();
  await provider.send("hardhat_setBalance", [w.address, "0x" + parseEther("10").toString(16)]);
  return new Wallet(w.privateKey, provider);
}

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const count = async () => BigInt(await provider.call({ to: target, data: iface.encodeFunctionData("count") }));

/** An ActionSender over a KeepctlProvider at `url`, recording its events and alerts. */
async function actionSender(wallet: Wallet, url: string, o: Partial<ActionSenderOptions> = {}) {
  const p: KeepctlProvider = await connect({ rpcUrls: [url], chainId: 31337, timeoutMs: 5_000, retries: 2, backoffMs: 20 });
  cleanups.push(() => p.destroy());
  const events: SenderEvent[] = [];
  const alerts: Alert[] = [];
  const journal = Journal.open(dataDir);
  const sender = new ActionSender(new Wallet(wallet.privateKey, p), p, journal, {
    maxFeeGwei: 500, dryRun: false, pollMs: 50, rebroadcastMs: 200, replaceAfterMs: 3_600_000,
    ...o,
    onEvent: (e) => events.push(e),
    alert: async (a) => void alerts.push(a),
  });
  const of = <T extends SenderEvent["type"]>(t: T) => events.filter((e): e is Extract<SenderEvent, { type: T }> => e.type === t);
  return { sender, journal, events, alerts, of };
}

/** A proxy whose faults are chosen per request: `kind` for the first `times` broadcasts, none otherwise. */
async function proxyFailingFirstBroadcast(kind: FaultKind, times = 1): Promise<FaultProxy> {
  let left = times;
  proxy = await startFaultProxy({
    target: node.rpcUrl,
    pick: (calls) => (calls.some((c) => c.method === "eth_sendRawTransaction") && left-- > 0 ? kind : undefined),
  });
  return proxy;
}

beforeAll(async () => {
  node = await startHardhatNode();
  provider = new JsonRpcProvider(node.rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1 });
  const c = await new ContractFactory(artifact.abi, artifact.bytecode, await fundedWallet()).deploy();
  await c.waitForDeployment();
  target = await c.getAddress();
});
afterAll(async () => {
  provider?.destroy();
  await node?.stop();
});
beforeEach(async () => {
  snapshot = await provider.send("evm_snapshot", []);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-sender-"));
});
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
  await proxy?.close();
  proxy = undefined;
  await provider.send("evm_setAutomine", [true]);
  await provider.send("evm_revert", [snapshot]);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("ActionSender: a dropped tx and a base fee above the cap", () => {
  it("rebroadcasts the same bytes after a drop, replaces only at the same nonce, never above the cap, alerts ONCE with the fee the node holds", async () => {
    const wallet = await fundedWallet();
    const key = `${target}:bump`;
    await provider.send("evm_setAutomine", [false]);
    // Room for one valid replacement step (+12.5%) under the cap, not for a second (+26.6%).
    const probe = await actionSender(wallet, node.rpcUrl);
    const prep = await probe.sender.simulate({ to: target, data: BUMP, label: key });
    const cap = (prep.maxFeePerGas * 120n) / 100n;
    const { sender, journal, alerts, of } = await actionSender(wallet, node.rpcUrl, { maxFeeGwei: formatGwei(cap), rebroadcastMs: 200, replaceAfterMs: 800 });
    const done = sender.send(key, { to: target, data: BUMP, label: key });
    await until(() => of("sent").length === 1, "the first broadcast");
    const first = of("sent")[0].hash;

    // The node loses it: the very same signed bytes come back, no new nonce, no new signature.
    await provider.send("hardhat_dropTransaction", [first]);
    expect(await provider.getTransaction(first)).toBeNull();
    await until(() => of("rebroadcast").length >= 1, "the rebroadcast");
    expect(of("rebroadcast")[0]).toMatchObject({ hash: first, nonce: 0 });
    expect((await provider.getTransaction(first))?.nonce).toBe(0);
    expect(journal.get(key)!.attempts.map((a) => a.hash)).toEqual([first]);

    // The base fee jumps above the cap: nothing of ours fits a block; the sender climbs to the cap and stops.
    await provider.send("hardhat_setNextBlockBaseFeePerGas", ["0x" + (cap * 2n).toString(16)]);
    await provider.send("evm_mine", []);
    await until(() => of("fee-cap-reached").length === 1, "the fee cap");
    const atCap = of("fee-cap-reached")[0];
    await new Promise((r) => setTimeout(r, 1_500)); // several replace and rebroadcast intervals more
    expect(of("fee-cap-reached")).toHaveLength(1);
    expect(alerts.filter((a) => a.key === `fee-cap:${wallet.address}`)).toHaveLength(1);
    const signed = journal.get(key)!.attempts.map((a) => Transaction.from(a.rawTx));
    expect(signed.length).toBeGreaterThanOrEqual(2);
    for (const t of signed) {
      expect(t.nonce).toBe(0);
      expect(t.maxFeePerGas!).toBeLessThanOrEqual(cap);
    }
    for (let i = 1; i < signed.length; i++) {
      expect(signed[i].maxFeePerGas! * 100n).toBeGreaterThanOrEqual(signed[i - 1].maxFeePerGas! * 110n);
      expect(signed[i].maxPriorityFeePerGas! * 100n).toBeGreaterThanOrEqual(signed[i - 1].maxPriorityFeePerGas! * 110n);
    }
    // The event carries what is live in the pool: the tx the node holds for our nonce.
    const live = (await Promise.all(signed.map((t) => provider.getTransaction(t.hash!)))).filter((t) => t !== null);
    expect(live).toHaveLength(1);
    expect(atCap.maxFeePerGas).toBe(live[0]!.maxFeePerGas);
    expect(atCap.maxPriorityFeePerGas).toBe(live[0]!.maxPriorityFeePerGas);
    expect(atCap.cap).toBe(cap);
    expect(alerts[0].fields).toMatchObject({ nonce: 0, liveMaxFeeGwei: formatGwei(live[0]!.maxFeePerGas!), capGwei: formatGwei(cap) });

    // Dropped again while at the cap: the newest signed bytes go out again, nothing new is signed.
    const rebroadcasts = of("rebroadcast").length;
    await provider.send("hardhat_dropTransaction", [live[0]!.hash]);
    await until(() => of("rebroadcast").length > rebroadcasts, "the rebroadcast at the cap");
    expect(of("rebroadcast").at(-1)).toMatchObject({ hash: live[0]!.hash, nonce: 0 });
    expect((await provider.getTransaction(live[0]!.hash))?.maxFeePerGas).toBe(live[0]!.maxFeePerGas);
    expect(journal.get(key)!.attempts).toHaveLength(signed.length);
    expect(of("fee-cap-reached")).toHaveLength(1);

    // The base fee falls back: what the node holds is mined; one tx, one nonce, one bump.
    await provider.send("hardhat_setNextBlockBaseFeePerGas", ["0x3b9aca00"]);
    await provider.send("evm_mine", []);
    const out = await done;
    expect(out).toMatchObject({ status: "mined", nonce: 0, hash: live[0]!.hash });
    expect(journal.get(key)).toMatchObject({ state: "mined", status: 1, minedHash: live[0]!.hash });
    expect(await provider.getTransactionCount(wallet.address, "latest")).toBe(1);
    expect(await count()).toBe(1n);
    expect(alerts).toHaveLength(1);
  });
});

describe("ActionSender: the fee the fee-cap alert reports", () => {
  it("a replacement that never reached the node (reset, answer lost) is rebroadcast; the fee-cap event reports the fee the node HOLDS", async () => {
    const wallet = await fundedWallet();
    const key = `${target}:bump`;
    await provider.send("evm_setAutomine", [false]);
    let broadcasts = 0;
    proxy = await startFaultProxy({ target: node.rpcUrl, pick: (calls) => (calls.some((c) => c.method === "eth_sendRawTransaction") && ++broadcasts === 2 ? "reset" : undefined) });
    const probe = await actionSender(wallet, node.rpcUrl);
    const prep = await probe.sender.simulate({ to: target, data: BUMP, label: key });
    const cap = (prep.maxFeePerGas * 120n) / 100n; // one step fits, a second does not
    const { sender, journal, alerts, of } = await actionSender(wallet, proxy.url, { maxFeeGwei: formatGwei(cap), rebroadcastMs: 200, replaceAfterMs: 300 });
    const done = sender.send(key, { to: target, data: BUMP, label: key });
    await until(() => of("fee-cap-reached").length === 1, "the fee cap");
    expect(proxy.counts.faults.reset).toBe(1);
    const signed = journal.get(key)!.attempts.map((a) => Transaction.from(a.rawTx));
    expect(signed).toHaveLength(2);
    // The replacement was lost on the way while the first tx stayed pooled: its SAME bytes are sent
    // again (the node lacked our newest), so the node now holds the replacement, and the fee-cap
    // event reports exactly what the node holds.
    expect(of("rebroadcast").map((e) => (e as { hash: string }).hash)).toContain(signed[1].hash);
    const held = await provider.getTransaction(signed[1].hash!);
    expect(held).not.toBeNull();
    expect(of("fee-cap-reached")[0]).toMatchObject({ nonce: 0, maxFeePerGas: held!.maxFeePerGas, maxPriorityFeePerGas: held!.maxPriorityFeePerGas });
    expect(alerts.map((a) => a.fields?.liveMaxFeeGwei)).toEqual([formatGwei(held!.maxFeePerGas!)]);
    await provider.send("evm_mine", []);
    const out = await done;
    expect(out).toMatchObject({ status: "mined", nonce: 0 });
    expect(await provider.getTransactionCount(wallet.address, "latest")).toBe(1);
    expect(await count()).toBe(1n);
  });
});

describe("ActionSender: a replacement the account cannot pay for", () => {
  it("stops re-pricing, alerts ONCE with the fix (add ETH), and the tx it holds is still mined: one tx, one nonce", async () => {
    const wallet = await fundedWallet();
    const key = `${target}:bump`;
    await provider.send("evm_setAutomine", [false]);
    const { sender, journal, alerts, of } = await actionSender(wallet, node.rpcUrl, { rebroadcastMs: 200, replaceAfterMs: 300 });
    const done = sender.send(key, { to: target, data: BUMP, label: key });
    await until(() => of("sent").length === 1, "the first broadcast");
    const first = (await provider.getTransaction(of("sent")[0].hash))!;
    // The balance now covers the pooled tx at its own max fee, not one wei more: a re-priced
    // replacement (+10 % or more on both fields) cannot be paid for.
    await provider.send("hardhat_setBalance", [wallet.address, "0x" + (first.gasLimit * first.maxFeePerGas!).toString(16)]);
    // Blocks whose base fee the tx does not meet: not mined, so the sender tries to re-price it.
    await provider.send("hardhat_setNextBlockBaseFeePerGas", ["0x" + (first.maxFeePerGas! * 2n).toString(16)]);
    await provider.send("evm_mine", []);
    await until(() => of("replace-rejected").length >= 1, "the refused replacement");
    await new Promise((r) => setTimeout(r, 1_200)); // several replace intervals more
    expect(of("replace-rejected")).toHaveLength(1);
    expect(of("replace-rejected")[0]).toMatchObject({ nonce: 0, kind: "insufficient-funds" });
    const funds = alerts.filter((a) => a.key === `replace-funds:${wallet.address}`);
    expect(funds).toHaveLength(1);
    expect(funds[0]).toMatchObject({ level: "warning", fields: { nonce: 0 } });
    expect(funds[0].text).toContain(`add ETH to ${wallet.address}`);
    // The refused replacement was journaled before its broadcast (write-ahead) and is not in the pool.
    const attempts = journal.get(key)!.attempts;
    expect(attempts).toHaveLength(2);
    expect(attempts[0].hash).toBe(first.hash);
    expect(await provider.getTransaction(attempts[1].hash)).toBeNull();
    // The base fee falls back: the tx the node held is mined.
    await provider.send("hardhat_setNextBlockBaseFeePerGas", ["0x1"]);
    await provider.send("evm_mine", []);
    expect(await done).toMatchObject({ status: "mined", nonce: 0, hash: first.hash });
    expect(await provider.getTransactionCount(wallet.address, "latest")).toBe(1);
    expect(await count()).toBe(1n);
  });
});

describe("ActionSender: lost answers are 'sent, outcome unknown', never a second signature", () => {
  it("the answer to the first broadcast is lost (the node took it): exactly one tx mined, journal 'mined', no final failure", async () => {
    const wallet = await fundedWallet();
    const key = `${target}:bump`;
    const px = await proxyFailingFirstBroadcast("send-then-fail");
    const { sender, journal, of } = await actionSender(wallet, px.url);
    const out = await sender.send(key, { to: target, data: BUMP, label: key });
    expect(px.counts.faults["send-then-fail"]).toBe(1);
    expect(out).toMatchObject({ status: "mined", nonce: 0 });
    expect(of("sent")).toMatchObject([{ confirmed: false, nonce: 0 }]);
    expect(of("failed").filter((e) => e.final)).toEqual([]);
    expect(journal.get(key)).toMatchObject({ state: "mined", status: 1 });
    expect(journal.get(key)!.attempts).toHaveLength(1);
    expect(px.forwardedBroadcasts).toEqual([journal.get(key)!.attempts[0].rawTx]);
    expect(await provider.getTransactionCount(wallet.address, "latest")).toBe(1);
    expect(await count()).toBe(1n);
  });

  it("the first broadcast never reached the node (connection reset): the same bytes go out again, one tx mined", async () => {
    const wallet = await fundedWallet();
    const key = `${target}:bump`;
    const px = await proxyFailingFirstBroadcast("reset");
    const { sender, journal, of } = await actionSender(wallet, px.url, { rebroadcastMs: 200 });
    const out = await sender.send(key, { to: target, data: BUMP, label: key });
    expect(px.counts.faults.reset).toBe(1);
    const [attempt] = journal.get(key)!.attempts;
    expect(journal.get(key)!.attempts).toHaveLength(1);
    expect(of("sent")).toMatchObject([{ hash: attempt.hash, confirmed: false }]);
    expect(of("rebroadcast")).toMatchObject([{ hash: attempt.hash, outcome: "accepted" }]);
    // the node got exactly those bytes, once: from the rebroadcast
    expect(px.forwardedBroadcasts).toEqual([attempt.rawTx]);
    expect(out).toMatchObject({ status: "mined", nonce: 0, hash: attempt.hash });
    expect(journal.get(key)).toMatchObject({ state: "mined", status: 1, minedHash: attempt.hash });
    expect(await provider.getTransactionCount(wallet.address, "latest")).toBe(1);
    expect(await count()).toBe(1n);
  });

  it("'nonce too low' for our own tx (a gateway sent it twice) is resolved by our hash: no re-sign, no conflict", async () => {
    const wallet = await fundedWallet();
    const key = `${target}:bump`;
    const px = await proxyFailingFirstBroadcast("send-twice");
    const { sender, journal, of, alerts } = await actionSender(wallet, px.url);
    const out = await sender.send(key, { to: target, data: BUMP, label: key });
    expect(px.counts.faults["send-twice"]).toBe(1);
    const [attempt] = journal.get(key)!.attempts;
    // the node saw the same bytes twice; the second answer is the one keepctl heard
    expect(px.forwardedBroadcasts).toEqual([attempt.rawTx, attempt.rawTx]);
    expect(out).toMatchObject({ status: "mined", nonce: 0, hash: attempt.hash });
    expect(of("sent")).toMatchObject([{ hash: attempt.hash, confirmed: true }]);
    // what the node answers to those bytes once mined (the answer keepctl heard): nonce too low
    await expect(provider.send("eth_sendRawTransaction", [attempt.rawTx])).rejects.toThrow(/nonce too low/i);
    expect(journal.get(key)!.attempts).toHaveLength(1);
    expect(of("failed")).toEqual([]);
    expect(alerts).toEqual([]);
    expect(sender.tx.conflict).toBeUndefined();
    expect(await provider.getTransactionCount(wallet.address, "latest")).toBe(1);
    expect(await count()).toBe(1n);
  });
});

describe("ActionSender: the account guard", () => {
  it("a pending count the journal cannot explain stops the account before anything is signed", async () => {
    const wallet = await fundedWallet();
    const key = `${target}:bump`;
    await provider.send("evm_setAutomine", [false]);
    const { sender, journal, alerts } = await actionSender(wallet, node.rpcUrl);
    expect(await sender.startSession()).toEqual([]); // baseline: nonce 0, nothing pending
    // Another program sends from the same key after our session began.
    const foreign = await wallet.sendTransaction({ to: wallet.address, value: 1n, nonce: 0, gasLimit: 21_000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 10n ** 9n });
    const err = await sender.send(key, { to: target, data: BUMP, label: key }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AccountConflictError);
    expect(err).toMatchObject({ code: "ACCOUNT_CONFLICT", exitCode: 8 });
    expect((err as Error).message).toMatch(/pending nonce is 1, but keepctl signed nothing at nonce 0/);
    expect(journal.get(key)!.attempts).toEqual([]);
    expect(journal.get(key)!.state).toBe("failed");
    expect(alerts.map((a) => [a.key, a.level])).toEqual([[`account-conflict:${wallet.address}`, "critical"]]);
    // only the foreign tx is in the pool; a second try is refused at once too
    expect(await provider.getTransactionCount(wallet.address, "pending")).toBe(1);
    await expect(sender.send(key, { to: target, data: BUMP, label: key })).rejects.toBeInstanceOf(AccountConflictError);
    await provider.send("evm_mine", []);
    expect((await provider.getTransactionReceipt(foreign.hash))?.status).toBe(1);
    expect(await provider.getTransactionCount(wallet.address, "latest")).toBe(1);
    expect(await count()).toBe(0n);
  });

  it("the guard asks confirmSigner before it blames another sender: a lost lease is the error (exit 14), not a conflict, and no conflict alert", async () => {
    const wallet = await fundedWallet();
    const key = `${target}:bump`;
    await provider.send("evm_setAutomine", [false]);
    let asked = 0;
    let signer: "ours" | "lost" = "ours";
    const confirmSigner = async () => {
      asked++;
      if (signer === "lost") throw new LeaseLostError("another keepctl holds the lease at epoch 2");
    };
    const { sender, journal, alerts } = await actionSender(wallet, node.rpcUrl, { confirmSigner });
    expect(await sender.startSession()).toEqual([]);
    expect(asked).toBe(0); // nothing foreign: the lease is not asked
    // The "other sender" is the keepctl that took this one's lease over.
    await wallet.sendTransaction({ to: wallet.address, value: 1n, nonce: 0, gasLimit: 21_000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 10n ** 9n });
    signer = "lost";
    const err = await sender.send(key, { to: target, data: BUMP, label: key }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LeaseLostError);
    expect(err).toMatchObject({ code: "LEASE_LOST", exitCode: 14 });
    expect(asked).toBe(1);
    expect(alerts).toEqual([]);
    expect(journal.get(key)!.attempts).toEqual([]);
    expect(sender.tx.conflict).toBeUndefined();
    expect(await provider.getTransactionCount(wallet.address, "pending")).toBe(1);
  });

  it("confirmSigner answering that this process is still the signer leaves a foreign nonce a conflict (exit 8)", async () => {
    const wallet = await fundedWallet();
    await provider.send("evm_setAutomine", [false]);
    await wallet.sendTransaction({ to: wallet.address, value: 1n, nonce: 0, gasLimit: 21_000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 10n ** 9n });
    let asked = 0;
    const { sender, alerts } = await actionSender(wallet, node.rpcUrl, { confirmSigner: async () => void asked++ });
    await expect(sender.startSession()).rejects.toMatchObject({ code: "ACCOUNT_CONFLICT", exitCode: 8 });
    expect(asked).toBe(1);
    expect(alerts.map((a) => a.key)).toEqual([`account-conflict:${wallet.address}`]);
  });

  it("a session refuses to start while a foreign tx is pending from the account", async () => {
    const wallet = await fundedWallet();
    await provider.send("evm_setAutomine", [false]);
    await wallet.sendTransaction({ to: wallet.address, value: 1n, nonce: 0, gasLimit: 21_000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 10n ** 9n });
    const { sender, alerts } = await actionSender(wallet, node.rpcUrl);
    await expect(sender.startSession()).rejects.toThrow(/has 1 pending transaction\(s\) keepctl did not sign \(nonces 0\)/);
    expect(alerts).toHaveLength(1);
    await expect(sender.send(`${target}:bump`, { to: target, data: BUMP, label: "bump" })).rejects.toBeInstanceOf(AccountConflictError);
    expect(await provider.getTransactionCount(wallet.address, "pending")).toBe(1);
  });

  it("a foreign tx takes our nonce while our broadcast is in the air: 'nonce too low' is a conflict, the action is never signed at another nonce", async () => {
    const wallet = await fundedWallet();
    const key = `${target}:bump`;
    let hold = true;
    proxy = await startFaultProxy({ target: node.rpcUrl, hold: (calls) => hold && calls.some((c) => c.method === "eth_sendRawTransaction") });
    const { sender, journal, alerts, of } = await actionSender(wallet, proxy.url);
    const sending = sender.send(key, { to: target, data: BUMP, label: key }).then(() => null, (e) => e);
    await until(() => proxy!.heldCount() === 1, "our broadcast to be held");
    // Another program spends nonce 0 with the same key, then our signed tx reaches the node.
    await wallet.sendTransaction({ to: wallet.address, value: 1n, nonce: 0, gasLimit: 21_000n });
    hold = false;
    await proxy.release(true);
    const err = await sending;
    expect(err).toBeInstanceOf(AccountConflictError);
    expect(err.exitCode).toBe(8);
    // Counted from the chain: one tx (the foreign one), nothing of ours mined, no second signature.
    expect(await provider.getTransactionCount(wallet.address, "latest")).toBe(1);
    expect(await count()).toBe(0n);
    expect(journal.get(key)!.attempts.map((a) => a.nonce)).toEqual([0]);
    expect(journal.get(key)!.state).toBe("failed");
    expect(of("sent")).toHaveLength(0);
    expect(alerts.map((a) => a.level)).toEqual(["critical"]);
  });
});
