import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ContractFactory, Interface, JsonRpcProvider, Wallet, parseEther } from "ethers";
import { startHardhatNode, PACKAGE_ROOT, type LocalNode } from "../../src/devnet/node";
import { Journal, JournalInFlightError, acquireAccountLock, reconcile, recover } from "../../src/lib/chain/journal";
import { TxSender, type TxEvent } from "../../src/lib/chain/tx";

const artifact = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, "artifacts/contracts/txtest/Reverter.sol/Reverter.json"), "utf8"));
const iface = new Interface(artifact.abi);
const CHILD = path.join(__dirname, "fixtures/journal-child.ts");

let node: LocalNode;
let provider: JsonRpcProvider;
let target: string;
let snapshot: string;
let dataDir: string;

async function fundedWallet(): Promise<Wallet> {
  const w = Wallet.createRandom();
  await provider.send("hardhat_setBalance", [w.address, "0x" + parseEther("10").toString(16)]);
  return new Wallet(w.privateKey, provider);
}

/** Starts the child, resolves with its first line starting with `marker` (and the child). */
function runChild(wallet: Wallet, mode: "before" | "after", marker: string): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", CHILD], {
    cwd: PACKAGE_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, KEEPCTL_TEST_RPC: node.rpcUrl, KEEPCTL_TEST_KEY: wallet.privateKey, KEEPCTL_TEST_DATA_DIR: dataDir, KEEPCTL_TEST_TARGET: target, KEEPCTL_TEST_MODE: mode },
  });
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stderr!.on("data", (d) => (err += d));
    child.stdout!.on("data", (d) => {
      out += d;
      const line = out.split("\n").find((l) => l.startsWith(marker));
      if (line) resolve({ child, line });
    });
    child.on("exit", (code) => reject(new Error(`child exited ${code} before "${marker}": ${err}`)));
    setTimeout(() => reject(new Error(`child timeout: ${out} ${err}`)), 60_000).unref();
  });
}

function kill9(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.removeAllListeners("exit");
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

const count = async () => BigInt(await provider.call({ to: target, data: iface.encodeFunctionData("count") }));

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
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-journal-"));
  await provider.send("evm_setAutomine", [false]);
});
afterEach(async () => {
  await provider.send("evm_setAutomine", [true]);
  await provider.send("evm_revert", [snapshot]);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("journal across a kill -9", () => {
  it("killed after broadcast: the restart finds the pending hash and never sends a second tx", async () => {
    const wallet = await fundedWallet();
    const { child, line } = await runChild(wallet, "after", "SENT ");
    const hash = line.slice(5).trim();
    // the live child holds the account lock
    expect(() => acquireAccountLock(dataDir, wallet.address)).toThrow(/in use by another keepctl process \(pid \d+/);
    await kill9(child);
    const lock = acquireAccountLock(dataDir, wallet.address); // stale: taken over
    const journal = Journal.open(dataDir);
    const key = `${target}:bump`;
    const inflight = journal.resume(wallet.address);
    expect(inflight.map((e) => [e.key, e.state])).toEqual([[key, "sent"]]);
    expect(inflight[0].attempts.map((a) => a.hash)).toEqual([hash]);
    expect(() => journal.begin(key, { account: wallet.address })).toThrow(JournalInFlightError);
    expect(await reconcile(provider, inflight[0])).toEqual({ status: "pending", hashes: [hash] });

    // resume: adopt the journaled tx; it is re-priced at the SAME nonce, never re-signed anew
    const events: TxEvent[] = [];
    const hooks = journal.hooks(key);
    const sender = new TxSender(wallet, provider, {
      maxFeeGwei: 500, replaceAfterMs: 200, pollMs: 50, beforeBroadcast: hooks.beforeBroadcast,
      onEvent: (e) => { events.push(e); hooks.onEvent(e); },
    });
    const done = sender.adopt(inflight[0].attempts.map((a) => a.rawTx), "bump");
    const end = Date.now() + 10_000;
    while (!events.some((e) => e.type === "replaced") && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
    await provider.send("evm_mine", []);
    const res = await done;
    expect(res.nonce).toBe(0);
    expect(res.hashes[0]).toBe(hash);
    expect(res.hashes.length).toBeGreaterThan(1);
    expect(await provider.getTransactionCount(wallet.address, "latest")).toBe(1);
    expect(await count()).toBe(1n);
    const entry = journal.get(key)!;
    expect(entry.state).toBe("mined");
    expect(entry.status).toBe(1);
    expect(entry.minedHash).toBe(res.hash);
    expect(journal.begin(key, { account: wallet.address }).status).toBe("done");
    lock.release();
    expect(fs.existsSync(lock.file)).toBe(false);
  });

  it("killed between journaling and broadcasting: recover rebroadcasts the same signed tx", async () => {
    const wallet = await fundedWallet();
    const { child, line } = await runChild(wallet, "before", "JOURNALED ");
    const hash = line.slice(10).trim();
    await kill9(child);
    expect(await provider.getTransaction(hash)).toBeNull(); // it never left the child
    const journal = Journal.open(dataDir);
    const [entry] = journal.resume();
    expect(entry.state).toBe("sending");
    expect(await reconcile(provider, entry)).toEqual({ status: "dropped" });
    const r = await recover(journal, provider, entry);
    expect(r).toMatchObject({ status: "dropped", rebroadcast: true });
    expect((await provider.getTransaction(hash))?.nonce).toBe(0);
    await provider.send("evm_mine", []);
    const after = await recover(journal, provider, journal.get(entry.key)!);
    expect(after).toMatchObject({ status: "mined", hash });
    expect(journal.get(entry.key)).toMatchObject({ state: "mined", status: 1, minedHash: hash });
    expect(journal.resume()).toHaveLength(0);
    expect(await provider.getTransactionCount(wallet.address, "latest")).toBe(1);
    expect(await count()).toBe(1n);
  });

  it("a journaled nonce spent by another tx is recorded as failed, so the action may be planned again", async () => {
    const wallet = await fundedWallet();
    const { child } = await runChild(wallet, "before", "JOURNALED ");
    await kill9(child);
    // the same key is used elsewhere and spends nonce 0
    await wallet.sendTransaction({ to: wallet.address, value: 1n, nonce: 0, gasLimit: 21_000n });
    await provider.send("evm_mine", []);
    const journal = Journal.open(dataDir);
    const [entry] = journal.resume();
    expect(await recover(journal, provider, entry)).toEqual({ status: "nonce-used" });
    expect(journal.get(entry.key)!.state).toBe("failed");
    expect(journal.begin(entry.key, { account: wallet.address }).status).toBe("started");
    expect(await count()).toBe(0n);
  });
});
