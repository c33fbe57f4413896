import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { Client } from "pg";
import { startDevnet, devnetWallet, type Devnet } from "../../src/devnet/scenario";
import { openDeposit } from "../../src/devnet/deposits";
import { send, setEthBtcPrice } from "../../src/devnet/tbtc";
import { startPostgres, type LocalPostgres } from "../../src/devnet/postgres";
import { buildOnce, spawnKeepctl, type Spawned } from "../helpers/cli";
import { startRecorder, type Recorder } from "../helpers/http";

/**
 * Two `keepctl watch` processes — two data dirs, two lock dirs ("two machines"), one key, one
 * state URL on a real PostgreSQL server: one holds the lease and acts, the other waits as the
 * standby and takes over when the active one dies (kill -9) or is paused past its lease
 * (SIGSTOP). Counted from the chain: one redemption request per deposit, no transaction sent
 * twice, every nonce accounted for; the paused one, resumed, signs nothing and exits 14.
 */
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-ha-"));
const BTC = 100_000_000n;
const PAYOUT = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx";
const RR_TOPIC = ethers.id("RedemptionRequested(address,address,bytes32,uint256,bytes,uint256,bytes)");

let devnet: Devnet;
let pg: LocalPostgres;
let sql: Client;
let provider: ethers.JsonRpcProvider;
let deploymentFile: string;
let stateUrlFile: string;
let snapshot: string;
let hooks: Recorder;
const operator = devnetWallet(1).address;
const deposits: string[] = [];
let redeemer: ethers.Wallet;
const running: Spawned[] = [];

function watch(name: string, extra: string[] = []): Spawned {
  const s = spawnKeepctl(["--deployment", deploymentFile, "watch", "--json", "--interval", "1", "--operator", operator, "--state-url-file", stateUrlFile, "--lease-refresh", "0.5", "--lease-duration", "3", ...extra], {
    home,
    dataDir: path.join(home, `${name}-${Date.now()}`),
    env: {
      KEEPCTL_PRIVATE_KEY: redeemer.privateKey,
      KEEPCTL_BTC_ADDRESS: PAYOUT,
      KEEPCTL_LOCK_DIR: path.join(home, `locks-${name}`),
      KEEPCTL_TX_POLL_MS: "100",
      KEEPCTL_WEBHOOK_URL: `http://127.0.0.1:${hooks.port}/${name}`,
    },
  });
  running.push(s);
  return s;
}

const eventsOf = (s: Spawned) => s.stdout().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
const notices = (s: Spawned) => eventsOf(s).filter((e) => e.type === "notice").map((e) => String(e.text));
const holds = (s: Spawned) => notices(s).some((t) => t.startsWith("holding the account's lease"));
const standby = (s: Spawned) => notices(s).filter((t) => t.startsWith("standby:")).length;
const loopDone = (s: Spawned) => eventsOf(s).some((e) => e.type === "heartbeat" && e.ok === true);
const alertsTo = (name: string) => hooks.got.filter((g) => g.path === `/${name}`).map((g) => JSON.parse(g.body) as { key: string; level: string; title: string });
const requestsFor = async (d: string) => (await provider.getLogs({ topics: [RR_TOPIC, ethers.zeroPadValue(d, 32)], fromBlock: 0, toBlock: "latest" })).length;
const journalCount = async (state: string) => (await sql.query("SELECT count(*)::int AS n FROM keepctl_journal WHERE line LIKE $1", [`%"state":"${state}"%`])).rows[0].n as number;
const journalHas = async (state: string) => (await sql.query("SELECT count(*)::int AS n FROM keepctl_journal WHERE line LIKE $1", [`%"state":"${state}"%`])).rows[0].n > 0;

async function until(cond: () => boolean | Promise<boolean>, what: string, s: Spawned[], ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${s.map((x) => x.stdout() + x.stderr()).join("\n---\n")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every tx the key sent since `fromBlock`, grouped by (to, calldata): the biggest group and the total. */
async function txsOfKey(fromBlock: number): Promise<{ total: number; biggestGroup: number }> {
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
  return { total, biggestGroup: Math.max(0, ...groups.values()) };
}

async function expectEachRedeemedOnce(from: number): Promise<void> {
  for (const d of deposits) expect(await requestsFor(d)).toBe(1);
  const txs = await txsOfKey(from + 1);
  expect(txs.biggestGroup).toBe(1);
  // every nonce the account used is a mined tx of this run: no gap, no collision
  expect(txs.total).toBe(await provider.getTransactionCount(redeemer.address));
}

beforeAll(async () => {
  buildOnce();
  pg = await startPostgres();
  sql = new Client({ connectionString: pg.url });
  await sql.connect();
  stateUrlFile = path.join(home, "state-url");
  fs.writeFileSync(stateUrlFile, pg.url + "\n", { mode: 0o600 });
  deploymentFile = path.join(home, "deployment.json");
  devnet = await startDevnet({ seed: false, out: deploymentFile });
  provider = new ethers.JsonRpcProvider(devnet.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1 });
  const members = [operator, devnetWallet(3).address, devnetWallet(4).address];
  for (let i = 0; i < 2; i++) deposits.push((await openDeposit(devnet.deployment, { lotSats: 5n * BTC, members, fundWith: "vendingMachine" })).deposit);
  // Another operator's deposit: its TBTC pays for the redemptions (and it is never ours to redeem).
  await openDeposit(devnet.deployment, { lotSats: 1n * BTC, members: [devnetWallet(5).address, devnetWallet(3).address, devnetWallet(4).address], fundWith: "vendingMachine" });
  redeemer = new ethers.Wallet(ethers.Wallet.createRandom().privateKey, provider);
  await provider.send("hardhat_setBalance", [redeemer.address, ethers.toQuantity(ethers.parseEther("10"))]);
  await send(devnet.deployment.contracts.tbtcToken.transfer(redeemer.address, 10n * 10n ** 18n + 10n ** 16n));
  hooks = await startRecorder();
  snapshot = await provider.send("evm_snapshot", []);
}, 300_000);

beforeEach(async () => {
  for (const s of running.splice(0)) {
    if (s.child.signalCode === "SIGSTOP") s.child.kill("SIGCONT");
    if (s.child.exitCode === null) s.child.kill("SIGKILL");
  }
  await provider.send("evm_setAutomine", [true]);
  await provider.send("evm_revert", [snapshot]);
  snapshot = await provider.send("evm_snapshot", []);
  // A fresh chain: the shared journal and lease of the last test belong to the old one.
  await sql.query("TRUNCATE keepctl_journal, keepctl_lease").catch(() => undefined);
  hooks.got.length = 0;
});

afterAll(async () => {
  for (const s of running.splice(0)) {
    s.child.kill("SIGCONT");
    s.child.kill("SIGKILL");
  }
  await hooks?.close();
  provider?.destroy();
  await devnet?.stop();
  await sql?.end();
  await pg?.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

describe("two watchers, one key, one state URL", () => {
  it("kill -9 the active after its broadcast: the standby takes over, settles that transaction as its own and redeems the rest, each once", async () => {
    const from = await provider.getBlockNumber();
    const a = watch("a");
    await until(() => holds(a) && loopDone(a), "A holding the lease, first pass (all healthy)", [a]);
    const b = watch("b", ["--metrics-addr", "127.0.0.1:0"]);
    await until(() => standby(b) === 1 && /serving metrics on 127\.0\.0\.1:\d+/.test(b.stderr() + b.stdout()), "B waiting as the standby", [a, b]);
    const port = Number(/serving metrics on 127\.0\.0\.1:(\d+)/.exec(b.stderr() + b.stdout())![1]);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect([health.status, ((await health.json()) as { status: string }).status]).toEqual([200, "standby"]);
    const leaseHeld = async () => /^keepctl_lease_held\{loop="watch"\} (\d)$/m.exec(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())?.[1];
    expect(await leaseHeld()).toBe("0");
    // The price drops: both deposits are at risk. A's first transaction stays in the pool.
    await provider.send("evm_setAutomine", [false]);
    const priced = setEthBtcPrice(devnet.deployment, 0.024);
    await until(async () => (await provider.send("eth_getBlockByNumber", ["pending", false])).transactions.length > 0, "the price update in the pool", [a, b]);
    await provider.send("evm_mine", []);
    await priced;
    await until(() => journalHas("sent"), "A's first broadcast, in the shared journal", [a, b]);
    a.child.kill("SIGKILL");
    await a.done;
    const killedAt = Date.now();
    await provider.send("evm_setAutomine", [true]);
    await provider.send("evm_mine", []);
    await until(() => holds(b), "B taking over", [b]);
    console.log(`[measured] takeover after kill -9: ${((Date.now() - killedAt) / 1000).toFixed(1)} s (lease 3 s, refresh 0.5 s)`);
    await until(() => loopDone(b), "B's first pass", [b]);
    expect(standby(b)).toBe(1);
    expect(await leaseHeld()).toBe("1");
    b.child.kill("SIGINT");
    expect((await b.done).code).toBe(130);
    const bEvents = eventsOf(b);
    expect(bEvents.some((e) => e.type === "loop-error")).toBe(false);
    // A's in-flight transaction was settled by B as its own (not taken for a foreign sender's).
    expect(bEvents.filter((e) => e.type === "recovered").map((e) => e.status)).toContain("mined");
    await expectEachRedeemedOnce(from);
  }, 400_000);

  it("SIGSTOP the active mid-pass past its lease: the standby takes over and finishes; SIGCONT: the old one signs nothing, exits 14 with a critical alert", async () => {
    const from = await provider.getBlockNumber();
    const a = watch("a");
    await until(() => holds(a) && loopDone(a), "A holding the lease, first pass (all healthy)", [a]);
    const b = watch("b");
    await until(() => standby(b) === 1, "B waiting as the standby", [a, b]);
    await provider.send("evm_setAutomine", [false]);
    const priced = setEthBtcPrice(devnet.deployment, 0.024);
    await until(async () => (await provider.send("eth_getBlockByNumber", ["pending", false])).transactions.length > 0, "the price update in the pool", [a, b]);
    await provider.send("evm_mine", []);
    await priced;
    await until(() => journalHas("sent"), "A's first broadcast, in the shared journal", [a, b]);
    // A is paused with its first transaction in the pool and the second deposit still to redeem.
    a.child.kill("SIGSTOP");
    await provider.send("evm_setAutomine", [true]);
    await provider.send("evm_mine", []);
    await until(() => holds(b), "B taking over", [b]);
    await until(() => eventsOf(b).filter((e) => e.type === "redemption").length >= 1 && loopDone(b), "B redeeming what A left", [b]);
    const aBefore = eventsOf(a).length;
    a.child.kill("SIGCONT");
    const ra = await a.done;
    expect(ra.code, ra.stdout + ra.stderr).toBe(14);
    const after = eventsOf(a).slice(aBefore);
    expect(after.filter((e) => e.type === "warning").map((e) => e.message)).toEqual([
      expect.stringMatching(/^(another keepctl \(pid \d+ on .+\) holds the lease \S+ at epoch 2; this one held epoch 1|the lease \S+ is no longer this process's \(epoch 1 is gone\): signing nothing more); stopping \(exit 14\)$/),
    ]);
    expect(after.filter((e) => e.type === "sent")).toEqual([]);
    expect(alertsTo("a").filter((x) => x.level === "critical").map((x) => [x.key, x.title])).toEqual([[`lease-lost:${redeemer.address}`, "the lease was taken over"]]);
    b.child.kill("SIGINT");
    expect((await b.done).code).toBe(130);
    await expectEachRedeemedOnce(from);
  }, 400_000);

  it("kill -9 twice in a row (after a broadcast, then after a mined transaction), with two standbys: every action once", async () => {
    const from = await provider.getBlockNumber();
    const a = watch("a");
    await until(() => holds(a) && loopDone(a), "A holding the lease, first pass (all healthy)", [a]);
    const b = watch("b");
    await until(() => standby(b) === 1, "B waiting as the standby", [a, b]);
    await provider.send("evm_setAutomine", [false]);
    const priced = setEthBtcPrice(devnet.deployment, 0.024);
    await until(async () => (await provider.send("eth_getBlockByNumber", ["pending", false])).transactions.length > 0, "the price update in the pool", [a, b]);
    await provider.send("evm_mine", []);
    await priced;
    // 1: A broadcast its first transaction (in the pool, not mined): kill -9.
    await until(async () => (await journalCount("sent")) >= 1, "A's first broadcast", [a, b]);
    a.child.kill("SIGKILL");
    await a.done;
    const c = watch("c");
    // Two standbys now: whichever retries first after the lease expires takes over.
    await until(() => holds(b) || holds(c), "B or C taking over", [b, c]);
    const second = holds(b) ? b : c;
    const third = second === b ? c : b;
    await until(() => standby(third) === 1, "the other waiting as the standby", [b, c]);
    // 2: mine until one of the new holder's own transactions is journaled mined, then kill -9 it.
    const minedBefore = await journalCount("mined");
    await until(async () => {
      await provider.send("evm_mine", []);
      return (await journalCount("mined")) >= minedBefore + 2;
    }, "the second holder settling A's transaction and mining one of its own", [b, c]);
    second.child.kill("SIGKILL");
    await second.done;
    await provider.send("evm_setAutomine", [true]);
    await provider.send("evm_mine", []);
    await until(() => holds(third), "the third taking over", [third]);
    await until(() => eventsOf(third).some((e) => e.type === "heartbeat" && e.ok === true), "its first pass", [third]);
    third.child.kill("SIGINT");
    expect((await third.done).code).toBe(130);
    expect(eventsOf(third).some((e) => e.type === "loop-error")).toBe(false);
    await expectEachRedeemedOnce(from);
  }, 400_000);
});
