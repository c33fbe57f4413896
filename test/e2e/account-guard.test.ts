import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { devnetWallet, type Devnet } from "../../src/devnet/scenario";
import { setEthBtcPrice } from "../../src/devnet/tbtc";
import { startRedeemDevnet } from "../helpers/redeem-devnet";
import { buildOnce, spawnKeepctl, type Spawned } from "../helpers/cli";
import { startRecorder, type Recorder } from "../helpers/http";

/**
 * Two `keepctl watch` processes on ONE key, each with its own data dir (so neither journal knows
 * the other's transactions): on one machine the account lock stops the second; on "two machines"
 * (a lock dir each) the nonce guard does. Either way, counted from the chain: one redemption
 * request per deposit and no transaction sent twice.
 */
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-guard-"));
const BTC = 100_000_000n;
const PAYOUT = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx";
const RR_TOPIC = ethers.id("RedemptionRequested(address,address,bytes32,uint256,bytes,uint256,bytes)");

let devnet: Devnet;
let provider: ethers.JsonRpcProvider;
let deploymentFile: string;
let snapshot: string;
let hooks: Recorder;
const operator = devnetWallet(1).address;
const deposits: string[] = [];
let redeemer: ethers.Wallet;
const running: Spawned[] = [];

/** One watch process with its own data dir, lock dir `lockDir`, alerts to the recorder at /<name>. */
function watch(name: string, lockDir: string): Spawned {
  const dataDir = path.join(home, `${name}-${Date.now()}`);
  const s = spawnKeepctl(["--deployment", deploymentFile, "watch", "--json", "--interval", "30", "--operator", operator], {
    home,
    dataDir,
    env: {
      KEEPCTL_PRIVATE_KEY: redeemer.privateKey,
      KEEPCTL_BTC_ADDRESS: PAYOUT,
      KEEPCTL_LOCK_DIR: lockDir,
      KEEPCTL_WEBHOOK_URL: `http://127.0.0.1:${hooks.port}/${name}`,
    },
  });
  running.push(s);
  return Object.assign(s, { dataDir });
}

const eventsOf = (s: Spawned) => s.stdout().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
const alertsTo = (name: string) => hooks.got.filter((g) => g.path === `/${name}`).map((g) => JSON.parse(g.body) as { key: string; level: string; title: string; text: string });
const requestsFor = async (d: string) => (await provider.getLogs({ topics: [RR_TOPIC, ethers.zeroPadValue(d, 32)], fromBlock: 0, toBlock: "latest" })).length;

async function until(cond: () => boolean, what: string, s: Spawned[], ms = 90_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${s.map((x) => x.stdout() + x.stderr()).join("\n---\n")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const loopDone = (s: Spawned) => eventsOf(s).some((e) => e.type === "heartbeat" && e.ok === true);

/** Every tx the key sent since `fromBlock`, grouped by (to, selector + args): the size of the biggest group. */
async function txsOfKey(fromBlock: number): Promise<{ total: number; biggestGroup: number; groups: Map<string, number> }> {
  const groups = new Map<string, number>();
  let total = 0;
  const head = await provider.getBlockNumber();
  for (let n = fromBlock; n <= head; n++) {
    const block = await provider.getBlock(n, true);
    for (const tx of block!.prefetchedTransactions) {
      if (tx.from.toLowerCase() !== redeemer.address.toLowerCase()) continue;
      total++;
      const k = `${tx.to?.toLowerCase()}:${tx.data}`;
      groups.set(k, (groups.get(k) ?? 0) + 1);
    }
  }
  return { total, biggestGroup: Math.max(0, ...groups.values()), groups };
}

beforeAll(async () => {
  buildOnce();
  // 2 deposits of the operator's, and TBTC for both redemptions plus the signer fees.
  const net = await startRedeemDevnet(home, { lotSats: 5n * BTC, tbtcWei: 10n * 10n ** 18n + 10n ** 16n });
  ({ devnet, provider, deploymentFile, redeemer } = net);
  deposits.push(...net.deposits);
  hooks = await startRecorder();
  snapshot = await provider.send("evm_snapshot", []);
}, 300_000);

beforeEach(async () => {
  for (const s of running.splice(0)) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill("SIGKILL");
  await provider.send("evm_setAutomine", [true]);
  await provider.send("evm_revert", [snapshot]);
  snapshot = await provider.send("evm_snapshot", []);
  hooks.got.length = 0;
  await setEthBtcPrice(devnet.deployment, 0.024);
});

afterAll(async () => {
  for (const s of running.splice(0)) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill("SIGKILL");
  await hooks?.close();
  provider?.destroy();
  await devnet?.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

describe("two watch processes on one key", () => {
  it("same machine (one lock dir): one acts, the other exits 8 with ACCOUNT_LOCKED and an alert", async () => {
    const lockDir = path.join(home, "locks-shared");
    const from = await provider.getBlockNumber();
    // Started together: whichever takes the lock first acts, the other must stop before anything.
    const a = watch("a", lockDir);
    const b = watch("b", lockDir);
    const loser = await Promise.race([a.done.then(() => a), b.done.then(() => b)]);
    const winner = loser === a ? b : a;
    const lost = await loser.done;
    expect(lost.code, lost.stderr).toBe(8);
    expect(lost.stderr).toMatch(/^error: account 0x[0-9a-fA-F]{40} is in use by another keepctl process \(pid \d+ on .+, since .+\)$/m);
    await until(() => loopDone(winner), "the winner's first loop", [a, b]);
    const name = loser === a ? "a" : "b";
    expect(alertsTo(name).map((x) => [x.key, x.level, x.title])).toEqual([[`account-conflict:${redeemer.address}`, "critical", "another keepctl uses this account"]]);
    winner.child.kill("SIGINT");
    expect((await winner.done).code).toBe(130);
    expect(eventsOf(winner).filter((e) => e.type === "redemption").map((e) => e.status)).toEqual(["requested", "requested"]);
    for (const d of deposits) expect(await requestsFor(d)).toBe(1);
    const txs = await txsOfKey(from + 1);
    expect(txs.biggestGroup).toBe(1);
    expect(txs.total).toBe(await provider.getTransactionCount(redeemer.address));
  });

  it("two machines (a lock dir each): the nonce guard stops the second (exit 8, ACCOUNT_CONFLICT, alert); nothing is sent twice", async () => {
    const from = await provider.getBlockNumber();
    await provider.send("evm_setAutomine", [false]);
    const a = watch("a", path.join(home, "locks-a"));
    // A's first transaction is in the pool, not mined: now B starts on the same key, elsewhere.
    const journalA = path.join((a as Spawned & { dataDir: string }).dataDir, "journal.jsonl");
    await until(() => fs.existsSync(journalA) && fs.readFileSync(journalA, "utf8").includes('"state":"sent"'), "A's first broadcast", [a]);
    const b = watch("b", path.join(home, "locks-b"));
    const rb = await b.done;
    expect(rb.code, rb.stderr).toBe(8);
    const bEvents = eventsOf(b);
    expect(bEvents.find((e) => e.type === "loop-error")).toMatchObject({ code: "ACCOUNT_CONFLICT" });
    expect(String(bEvents.find((e) => e.type === "loop-error")!.error)).toMatch(/has 1 pending transaction\(s\) keepctl did not sign \(nonces 0\)/);
    expect(bEvents.some((e) => e.type === "sent")).toBe(false);
    expect(alertsTo("b").map((x) => [x.key, x.level])).toEqual([[`account-conflict:${redeemer.address}`, "critical"]]);

    // A goes on once its transaction mines.
    await provider.send("evm_setAutomine", [true]);
    await provider.send("evm_mine", []);
    await until(() => loopDone(a), "A's first loop", [a]);
    a.child.kill("SIGINT");
    expect((await a.done).code).toBe(130);
    expect(eventsOf(a).filter((e) => e.type === "redemption").map((e) => e.status)).toEqual(["requested", "requested"]);
    for (const d of deposits) expect(await requestsFor(d)).toBe(1);
    const txs = await txsOfKey(from + 1);
    expect(txs.biggestGroup).toBe(1);
    expect(txs.total).toBe(await provider.getTransactionCount(redeemer.address));
  });
});
