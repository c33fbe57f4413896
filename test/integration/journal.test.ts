import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ContractFactory, Interface, JsonRpcProvider, Wallet, parseEther } from "ethers";
import { startHardhatNode, PACKAGE_ROOT, type LocalNode } from "../../src/devnet/node";
import { startFaultProxy, type FaultProxy } from "../../src/devnet/fault-proxy";
import { connect, type KeepctlProvider } from "../../src/lib/chain/provider";
import { Journal } from "../../src/lib/chain/journal";
import { acquireAccountLock } from "../../src/lib/chain/account-lock";
import { ActionSender, type SenderEvent } from "../../src/lib/chain/sender";
import { AccountConflictError } from "../../src/lib/chain/nonce";
import type { Alert } from "../../src/lib/alert/types";

/**
 * The crash matrix: a child process sends journaled actions through the real ActionSender and is
 * killed with SIGKILL at each point of a send; a restart (a second child, or a fresh ActionSender
 * over the same data dir here) must bring every action to exactly one mined tx. Everything is
 * counted from the chain: the account's nonce, each target's counter, the receipts.
 */
const artifact = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, "artifacts/contracts/txtest/Reverter.sol/Reverter.json"), "utf8"));
const iface = new Interface(artifact.abi);
const CHILD = path.join(__dirname, "fixtures/journal-child.ts");
const BUMP = iface.encodeFunctionData("bump");

let node: LocalNode;
let provider: JsonRpcProvider;
let targetA: string;
let targetB: string;
let snapshot: string;
let dataDir: string;
let lockDir: string;
let proxy: FaultProxy | undefined;
const children: ChildProcess[] = [];
const cleanups: (() => unknown)[] = [];

async function fundedWallet(): Promise<Wallet> {
  const w = Wallet.createRandom();
  await provider.send("hardhat_setBalance", [w.address, "0x" + parseEther("10").toString(16)]);
  return new Wallet(w.privateKey, provider);
}

const count = async (target: string) => BigInt(await provider.call({ to: target, data: iface.encodeFunctionData("count") }));
const nonceOf = (w: Wallet) => provider.getTransactionCount(w.address, "latest");

interface Child {
  child: ChildProcess;
  lines: () => string[];
  /** The first stdout line matching `re` (waits for it; fails if the child exits first). */
  line: (re: RegExp) => Promise<string>;
  exit: Promise<number | null>;
  stderr: () => string;
}

function runChild(wallet: Wallet, o: { rpc: string; actions: [string, string][]; pause?: boolean; round?: string }): Child {
  const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", CHILD], {
    cwd: PACKAGE_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      CHILD_RPC: o.rpc,
      CHILD_KEY: wallet.privateKey,
      CHILD_DATA_DIR: dataDir,
      CHILD_LOCK_DIR: lockDir,
      CHILD_ACTIONS: o.actions.map(([k, t]) => `${k}=${t}`).join(","),
      CHILD_PAUSE_AFTER_JOURNAL: o.pause ? "1" : "0",
      CHILD_ROUND: o.round ?? "",
    },
  });
  children.push(child);
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const lines = () => out.split("\n").filter(Boolean);
  const line = async (re: RegExp) => {
    let exited = false;
    void exit.then(() => (exited = true));
    const deadline = Date.now() + 60_000;
    for (;;) {
      const found = lines().find((l) => re.test(l));
      if (found) return found;
      if (exited) throw new Error(`child exited before ${re}: ${out} ${err}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}: ${out} ${err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { child, lines, line, exit, stderr: () => err };
}

async function kill9(c: Child): Promise<void> {
  c.child.kill("SIGKILL");
  await c.exit;
}

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Mines a block every 100 ms (the node runs without automine) until stopped. */
function startMiner(): () => void {
  const t = setInterval(() => void provider.send("evm_mine", []).catch(() => undefined), 100);
  const stop = () => clearInterval(t);
  cleanups.push(stop);
  return stop;
}

/** The restart: a fresh process's view — lock, provider, journal, ActionSender over the same data dir. */
async function restart(wallet: Wallet, o: { replaceAfterMs?: number } = {}) {
  const lock = acquireAccountLock(lockDir, wallet.address, "31337-test"); // the dead child's lock is stale
  cleanups.push(() => lock.release());
  const p: KeepctlProvider = await connect({ rpcUrls: [node.rpcUrl], chainId: 31337, timeoutMs: 5_000, backoffMs: 20 });
  cleanups.push(() => p.destroy());
  const events: SenderEvent[] = [];
  const alerts: Alert[] = [];
  const journal = Journal.open(dataDir);
  const sender = new ActionSender(new Wallet(wallet.privateKey, p), p, journal, {
    maxFeeGwei: 500, dryRun: false, pollMs: 50, rebroadcastMs: 200, replaceAfterMs: o.replaceAfterMs ?? 3_600_000,
    onEvent: (e) => events.push(e),
    alert: async (a) => void alerts.push(a),
  });
  return { sender, journal, events, alerts };
}

/** Every journaled hash of `key`, and how many of them have a receipt on chain. */
async function receiptsOf(journal: Journal, key: string): Promise<{ hashes: string[]; mined: string[] }> {
  const hashes = journal.get(key)!.attempts.map((a) => a.hash);
  const mined: string[] = [];
  for (const h of hashes) if (await provider.getTransactionReceipt(h)) mined.push(h);
  return { hashes, mined };
}

beforeAll(async () => {
  node = await startHardhatNode();
  provider = new JsonRpcProvider(node.rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1 });
  const deployer = await fundedWallet();
  for (const set of [(a: string) => (targetA = a), (b: string) => (targetB = b)]) {
    const c = await new ContractFactory(artifact.abi, artifact.bytecode, deployer).deploy();
    await c.waitForDeployment();
    set(await c.getAddress());
  }
});
afterAll(async () => {
  provider?.destroy();
  await node?.stop();
});
beforeEach(async () => {
  snapshot = await provider.send("evm_snapshot", []);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-crash-"));
  lockDir = path.join(dataDir, "locks");
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const f of cleanups.splice(0).reverse()) await f();
  await proxy?.release(false);
  await proxy?.close();
  proxy = undefined;
  await provider.send("evm_setAutomine", [true]);
  await provider.send("evm_revert", [snapshot]);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("crash matrix: kill -9 at each point of a journaled send, then restart", () => {
  it("a. after the journal holds the signed tx, before broadcast: the next run sends those very bytes, signs nothing new", async () => {
    const wallet = await fundedWallet();
    const key = `${targetA}:bump`;
    const first = runChild(wallet, { rpc: node.rpcUrl, actions: [[key, targetA]], pause: true });
    const hash = (await first.line(/^JOURNALED /)).split(" ")[2];
    // the live child holds the machine-wide lock: a second sender on this machine is refused
    expect(() => acquireAccountLock(lockDir, wallet.address, "31337-test")).toThrow(/in use by another keepctl process \(pid \d+/);
    await kill9(first);
    expect(await provider.getTransaction(hash)).toBeNull(); // it never left the process
    expect(Journal.open(dataDir).get(key)).toMatchObject({ state: "sending", attempts: [{ hash, nonce: 0 }] });

    // The restart is the same run again (a second child, automine on).
    const second = runChild(wallet, { rpc: node.rpcUrl, actions: [[key, targetA]] });
    expect(await second.exit, second.stderr()).toBe(0);
    expect(second.lines()).toEqual([`MINED ${key} ${hash}`, "DONE"]); // no JOURNALED: nothing new signed
    expect(await nonceOf(wallet)).toBe(1);
    expect(await count(targetA)).toBe(1n);
    const journal = Journal.open(dataDir);
    expect(journal.get(key)).toMatchObject({ state: "mined", status: 1, minedHash: hash });
    expect(await receiptsOf(journal, key)).toEqual({ hashes: [hash], mined: [hash] });
  });

  for (const forward of [true, false]) {
    it(`b. during a held broadcast, then the broadcast ${forward ? "lands after the client died" : "never lands"}: exactly one tx`, async () => {
      const wallet = await fundedWallet();
      const key = `${targetA}:bump`;
      await provider.send("evm_setAutomine", [false]);
      proxy = await startFaultProxy({ target: node.rpcUrl, hold: (calls) => calls.some((c) => c.method === "eth_sendRawTransaction") });
      const child = runChild(wallet, { rpc: proxy.url, actions: [[key, targetA]] });
      const hash = (await child.line(/^JOURNALED /)).split(" ")[2];
      await until(() => proxy!.heldCount() === 1, "the held broadcast");
      await kill9(child);
      await proxy.release(forward);
      expect(proxy.forwardedBroadcasts).toHaveLength(forward ? 1 : 0);
      expect((await provider.getTransaction(hash)) !== null).toBe(forward);

      const { sender, journal, events } = await restart(wallet);
      const stopMiner = startMiner();
      expect(await sender.startSession()).toEqual([key]);
      stopMiner();
      expect(events.filter((e) => e.type === "rebroadcast").length > 0).toBe(!forward);
      expect(await sender.send(key, { to: targetA, data: BUMP, label: key })).toEqual({ status: "done-earlier", hash });
      expect(await nonceOf(wallet)).toBe(1);
      expect(await count(targetA)).toBe(1n);
      expect(await receiptsOf(journal, key)).toEqual({ hashes: [hash], mined: [hash] });
      expect(journal.get(key)).toMatchObject({ state: "mined", status: 1, minedHash: hash });
    });
  }

  it("c. after the broadcast, before mining: the restart re-prices the SAME nonce and exactly one of its txs mines", async () => {
    const wallet = await fundedWallet();
    const key = `${targetA}:bump`;
    await provider.send("evm_setAutomine", [false]);
    const child = runChild(wallet, { rpc: node.rpcUrl, actions: [[key, targetA]] });
    const hash = (await child.line(/^SENT /)).split(" ")[2];
    await kill9(child);
    expect((await provider.getTransaction(hash))?.nonce).toBe(0);
    expect(Journal.open(dataDir).get(key)?.state).toBe("sent");

    const { sender, journal, events } = await restart(wallet, { replaceAfterMs: 300 });
    const settled = sender.startSession();
    await until(() => events.some((e) => e.type === "replaced"), "a same-nonce replacement");
    startMiner();
    await settled;
    const replaced = events.find((e) => e.type === "replaced") as Extract<SenderEvent, { type: "replaced" }>;
    expect(replaced).toMatchObject({ key, nonce: 0, previousHash: hash });
    const { hashes, mined } = await receiptsOf(journal, key);
    expect(hashes[0]).toBe(hash);
    expect(hashes.length).toBeGreaterThanOrEqual(2);
    expect(mined).toHaveLength(1);
    expect(journal.get(key)).toMatchObject({ state: "mined", status: 1, minedHash: mined[0] });
    expect(await nonceOf(wallet)).toBe(1);
    expect(await count(targetA)).toBe(1n);
    expect((await sender.send(key, { to: targetA, data: BUMP, label: key })).status).toBe("done-earlier");
    expect(await nonceOf(wallet)).toBe(1);
  });

  it("d. after mining, before the journal records the receipt: the restart finds the receipt, sends nothing", async () => {
    const wallet = await fundedWallet();
    const key = `${targetA}:bump`;
    // automine on: the tx is mined inside eth_sendRawTransaction; the child's receipt poll is held.
    proxy = await startFaultProxy({ target: node.rpcUrl, hold: (calls) => calls.some((c) => c.method === "eth_getTransactionReceipt") });
    const child = runChild(wallet, { rpc: proxy.url, actions: [[key, targetA]] });
    const hash = (await child.line(/^SENT /)).split(" ")[2];
    await until(() => proxy!.heldCount() >= 1, "the held receipt poll");
    await kill9(child);
    expect((await provider.getTransactionReceipt(hash))?.status).toBe(1);
    expect(Journal.open(dataDir).get(key)?.state).toBe("sent"); // the receipt never reached the journal
    const broadcasts = proxy.forwardedBroadcasts.length;

    const { sender, journal, events } = await restart(wallet);
    expect(await sender.startSession()).toEqual([key]);
    expect(events.filter((e) => e.type === "rebroadcast" || e.type === "replaced")).toEqual([]);
    expect(events.find((e) => e.type === "recovered")).toMatchObject({ key, status: "mined" });
    expect(journal.get(key)).toMatchObject({ state: "mined", status: 1, minedHash: hash });
    // Running the done action again says so, even when repeating it would now revert.
    const deployer = await fundedWallet();
    await (await deployer.sendTransaction({ to: targetA, data: iface.encodeFunctionData("arm", [true]) })).wait();
    expect(await sender.send(key, { to: targetA, data: BUMP, label: key })).toEqual({ status: "done-earlier", hash });
    expect(broadcasts).toBe(1);
    expect(await nonceOf(wallet)).toBe(1);
    expect(await count(targetA)).toBe(1n);
  });

  it("e. two actions in flight: after the restart exactly one of each, at two consecutive nonces", async () => {
    const wallet = await fundedWallet();
    const keyA = `${targetA}:bump`;
    const keyB = `${targetB}:courtesy-call`;
    await provider.send("evm_setAutomine", [false]);
    const child = runChild(wallet, { rpc: node.rpcUrl, actions: [[keyA, targetA], [keyB, targetB]] });
    await child.line(new RegExp(`^SENT ${keyA} `));
    await child.line(new RegExp(`^SENT ${keyB} `));
    await kill9(child);
    const before = Journal.open(dataDir);
    expect(new Set(before.resume(wallet.address).map((e) => e.key))).toEqual(new Set([keyA, keyB]));
    expect(before.nonces(wallet.address).sort()).toEqual([0, 1]);

    const { sender, journal } = await restart(wallet);
    startMiner();
    expect((await sender.startSession()).sort()).toEqual([keyA, keyB].sort());
    for (const [key, target] of [[keyA, targetA], [keyB, targetB]]) {
      expect((await sender.send(key, { to: target, data: BUMP, label: key })).status).toBe("done-earlier");
      const { hashes, mined } = await receiptsOf(journal, key);
      expect(hashes).toHaveLength(1);
      expect(mined).toEqual(hashes);
    }
    expect(await nonceOf(wallet)).toBe(2);
    expect(await count(targetA)).toBe(1n);
    expect(await count(targetB)).toBe(1n);
  });

  it("e'. a repeatable action (a courtesy call) in its SECOND round, killed before broadcast: the restart sends that round's tx, not the first round's", async () => {
    const wallet = await fundedWallet();
    const key = `${targetA}:courtesy-call`;
    const round1 = runChild(wallet, { rpc: node.rpcUrl, actions: [[key, targetA]], round: "1" });
    expect(await round1.exit, round1.stderr()).toBe(0);
    const firstHash = (await round1.line(/^MINED /)).split(" ")[2];
    const round2 = runChild(wallet, { rpc: node.rpcUrl, actions: [[key, targetA]], round: "2", pause: true });
    const secondHash = (await round2.line(/^JOURNALED /)).split(" ")[2];
    await kill9(round2);
    expect(secondHash).not.toBe(firstHash);
    expect(await provider.getTransaction(secondHash)).toBeNull();

    const { sender, journal } = await restart(wallet);
    expect(await sender.startSession()).toEqual([key]);
    expect(journal.get(key)).toMatchObject({ state: "mined", status: 1, minedHash: secondHash });
    expect((await provider.getTransactionReceipt(secondHash))?.status).toBe(1);
    expect(await nonceOf(wallet)).toBe(2);
    expect(await count(targetA)).toBe(2n); // one per round
    expect((await sender.send(key, { to: targetA, data: BUMP, label: key }, { repeatable: true, round: "2" })).status).toBe("done-earlier");
    expect(await count(targetA)).toBe(2n);
  });

  it("a journaled nonce spent by a FOREIGN tx: the restart reports a conflict (exit 8), closes the entry as failed, signs nothing", async () => {
    const wallet = await fundedWallet();
    const key = `${targetA}:bump`;
    const child = runChild(wallet, { rpc: node.rpcUrl, actions: [[key, targetA]], pause: true });
    const hash = (await child.line(/^JOURNALED /)).split(" ")[2];
    await kill9(child);
    // another program with the same key spends nonce 0 (automine on: mined at once)
    await (await wallet.sendTransaction({ to: wallet.address, value: 1n, nonce: 0, gasLimit: 21_000n })).wait();

    const { sender, journal, alerts } = await restart(wallet);
    const err = await sender.startSession().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AccountConflictError);
    expect(err).toMatchObject({ code: "NONCE_TAKEN", exitCode: 8 });
    expect(journal.get(key)).toMatchObject({ state: "failed" });
    expect(journal.resume(wallet.address)).toEqual([]);
    expect(alerts.map((a) => [a.key, a.level])).toEqual([[`account-conflict:${wallet.address}`, "critical"]]);
    // the account is stopped: a new send of the action is refused before anything is signed
    await expect(sender.send(key, { to: targetA, data: BUMP, label: key })).rejects.toBeInstanceOf(AccountConflictError);
    expect(journal.get(key)).toMatchObject({ state: "failed", attempts: [] }); // the new try signed nothing
    expect(await provider.getTransaction(hash)).toBeNull(); // and the crashed one never went out
    expect(await nonceOf(wallet)).toBe(1);
    expect(await provider.getTransactionCount(wallet.address, "pending")).toBe(1);
    expect(await count(targetA)).toBe(0n);
  });
});
