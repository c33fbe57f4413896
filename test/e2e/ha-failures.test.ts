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
import { startTcpProxy, type TcpProxy } from "../../src/devnet/tcp-proxy";
import { transactionsFrom } from "../../src/devnet/chaos";
import { buildOnce, spawnKeepctl, type Spawned } from "../helpers/cli";

/**
 * The state database failing under two `watch` processes (one key, one state URL, a real
 * PostgreSQL server, the devnet's tBTC contracts): the active's link to the database cut by a
 * proxy while its RPC works, the database server stopped, and watchers whose clocks are ten
 * minutes off (behind and ahead). Lease 3 s, refresh 0.5 s, loops every second, --max-failed-passes 0 (a pass that
 * may not sign fails; with the default 5 the cut-off holder would exit 11 instead, for its
 * supervisor to restart as the standby). Counted from the chain: one redemption request per
 * deposit, no transaction twice, every nonce of the key one of its mined transactions.
 */
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-hafail-"));
const BTC = 100_000_000n;
const PAYOUT = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx";
const RR_TOPIC = ethers.id("RedemptionRequested(address,address,bytes32,uint256,bytes,uint256,bytes)");
const LEASE = ["--lease-refresh", "0.5", "--lease-duration", "3", "--max-failed-passes", "0"];

let devnet: Devnet;
let pg: LocalPostgres;
let provider: ethers.JsonRpcProvider;
let deploymentFile: string;
let snapshot: string;
const operator = devnetWallet(1).address;
const deposits: string[] = [];
let redeemer: ethers.Wallet;
const running: Spawned[] = [];

function urlFile(name: string, url: string): string {
  const f = path.join(home, `state-url-${name}`);
  fs.writeFileSync(f, url + "\n", { mode: 0o600 });
  return f;
}

/** libfaketime, preloaded into one keepctl: its wall clock (Date, timestamps) shifted, its monotonic clock (timers) not. */
const FAKETIME_LIB = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1"].find((p) => fs.existsSync(p));

function watch(name: string, stateUrlFile: string, o: { clockOffset?: string } = {}): Spawned {
  const args = ["--deployment", deploymentFile, "watch", "--json", "--interval", "1", "--operator", operator, "--state-url-file", stateUrlFile, ...LEASE];
  const skew = o.clockOffset ? { LD_PRELOAD: FAKETIME_LIB!, FAKETIME: o.clockOffset, FAKETIME_DONT_FAKE_MONOTONIC: "1" } : {};
  const s = spawnKeepctl(args, {
    home,
    dataDir: path.join(home, `${name}-${Date.now()}`),
    env: { KEEPCTL_PRIVATE_KEY: redeemer.privateKey, KEEPCTL_BTC_ADDRESS: PAYOUT, KEEPCTL_LOCK_DIR: path.join(home, `locks-${name}`), KEEPCTL_TX_POLL_MS: "100", ...skew },
  });
  running.push(s);
  return s;
}

const eventsOf = (s: Spawned) => s.stdout().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
const notices = (s: Spawned) => eventsOf(s).filter((e) => e.type === "notice").map((e) => String(e.text));
const holds = (s: Spawned) => notices(s).some((t) => t.startsWith("holding the account's lease"));
const standby = (s: Spawned) => notices(s).filter((t) => t.startsWith("standby:"));
const loopDone = (s: Spawned) => eventsOf(s).some((e) => e.type === "heartbeat" && e.ok === true);
const requestsFor = async (d: string) => (await provider.getLogs({ topics: [RR_TOPIC, ethers.zeroPadValue(d, 32)], fromBlock: 0, toBlock: "latest" })).length;
const allRequested = async () => (await Promise.all(deposits.map(requestsFor))).every((n) => n >= 1);
/** One query on a fresh connection (the server is stopped and started by a test). */
async function query(text: string): Promise<{ rows: Record<string, unknown>[] }> {
  const c = new Client({ connectionString: pg.url });
  c.on("error", () => undefined);
  await c.connect();
  try {
    return await c.query(text);
  } finally {
    await c.end().catch(() => undefined);
  }
}
const epochNow = async () => Number((await query("SELECT max(epoch) AS e FROM keepctl_lease")).rows[0].e);

async function until(cond: () => boolean | Promise<boolean>, what: string, s: Spawned[], ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${s.map((x) => x.stdout() + x.stderr()).join("\n---\n")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function expectEachRedeemedOnce(from: number): Promise<void> {
  for (const d of deposits) expect(await requestsFor(d)).toBe(1);
  const groups = new Map<string, number>();
  let total = 0;
  const head = await provider.getBlockNumber();
  for (let n = from + 1; n <= head; n++) {
    for (const tx of (await provider.getBlock(n, true))!.prefetchedTransactions) {
      if (tx.from.toLowerCase() !== redeemer.address.toLowerCase()) continue;
      total++;
      const k = `${tx.to?.toLowerCase()}:${tx.data}`;
      groups.set(k, (groups.get(k) ?? 0) + 1);
    }
  }
  expect(Math.max(0, ...groups.values())).toBe(1);
  expect(total).toBe(await provider.getTransactionCount(redeemer.address));
}

async function stopAll(...s: Spawned[]): Promise<(number | null)[]> {
  for (const x of s) if (x.child.exitCode === null) x.child.kill("SIGINT");
  return Promise.all(s.map(async (x) => (await x.done).code));
}

beforeAll(async () => {
  buildOnce();
  pg = await startPostgres();
  deploymentFile = path.join(home, "deployment.json");
  devnet = await startDevnet({ seed: false, out: deploymentFile });
  provider = new ethers.JsonRpcProvider(devnet.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1 });
  const members = [operator, devnetWallet(3).address, devnetWallet(4).address];
  for (let i = 0; i < 2; i++) deposits.push((await openDeposit(devnet.deployment, { lotSats: 5n * BTC, members, fundWith: "vendingMachine" })).deposit);
  await openDeposit(devnet.deployment, { lotSats: 1n * BTC, members: [devnetWallet(5).address, devnetWallet(3).address, devnetWallet(4).address], fundWith: "vendingMachine" });
  redeemer = new ethers.Wallet(ethers.Wallet.createRandom().privateKey, provider);
  await provider.send("hardhat_setBalance", [redeemer.address, ethers.toQuantity(ethers.parseEther("10"))]);
  await send(devnet.deployment.contracts.tbtcToken.transfer(redeemer.address, 10n * 10n ** 18n + 10n ** 16n));
  snapshot = await provider.send("evm_snapshot", []);
}, 300_000);

beforeEach(async () => {
  for (const s of running.splice(0)) if (s.child.exitCode === null) s.child.kill("SIGKILL");
  await provider.send("evm_revert", [snapshot]);
  snapshot = await provider.send("evm_snapshot", []);
  await query("TRUNCATE keepctl_journal, keepctl_lease").catch(() => undefined);
});

afterAll(async () => {
  for (const s of running.splice(0)) s.child.kill("SIGKILL");
  provider?.destroy();
  await devnet?.stop();
  await pg?.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

describe("the state database failing under two watchers", () => {
  it("the active's database link is cut (RPC still up): it sends nothing, the standby takes over and redeems each deposit once; the link back, the old one exits 14", async () => {
    const from = await provider.getBlockNumber();
    const proxy: TcpProxy = await startTcpProxy({ host: "127.0.0.1", port: pg.port });
    try {
      const a = watch("a", urlFile("a", pg.url.replace(`:${pg.port}/`, `:${proxy.port}/`)));
      await until(() => holds(a) && loopDone(a), "A holding the lease, first pass (all healthy)", [a]);
      const b = watch("b", urlFile("b", pg.url));
      await until(() => standby(b).length === 1, "B waiting as the standby", [a, b]);
      // A is cut off from the database; then the price drops: both deposits are at risk.
      proxy.cut();
      const cutAt = await provider.getBlockNumber();
      const nonceAtCut = await provider.getTransactionCount(redeemer.address, "pending");
      await setEthBtcPrice(devnet.deployment, 0.024);
      // Until B holds the lease A alone could sign: the key's pending nonce, sampled, must not move.
      let movedBeforeTakeover = false;
      await until(async () => {
        if (holds(b)) return true;
        movedBeforeTakeover ||= (await provider.getTransactionCount(redeemer.address, "pending")) !== nonceAtCut;
        return false;
      }, "B taking over", [a, b]);
      expect(movedBeforeTakeover).toBe(false);
      await until(async () => (await allRequested()) && loopDone(b), "B redeeming both deposits", [a, b]);
      expect(notices(a).some((t) => t.startsWith("lease renewal failed"))).toBe(true);
      const nonceDone = await provider.getTransactionCount(redeemer.address, "pending");
      // The link back: A's next renewal, or its nonce guard's check of the lease before it blames
      // B's transactions on "another sender", finds the lease at B's epoch: exit 14, not 8.
      proxy.restore();
      const ra = await a.done;
      expect(ra.code, ra.stdout + ra.stderr).toBe(14);
      // One more pass of B's, then the chain: A's exit left nothing in the pool, and the key's
      // nonce has not moved since B finished (A sent nothing once its link was back).
      const beats = eventsOf(b).filter((e) => e.type === "heartbeat").length;
      await until(() => eventsOf(b).filter((e) => e.type === "heartbeat").length > beats, "one more pass of B", [b]);
      expect(await provider.getTransactionCount(redeemer.address, "pending")).toBe(nonceDone);
      expect(await provider.getTransactionCount(redeemer.address, "latest")).toBe(nonceDone);
      // Every transaction of the key since the cut succeeded, none twice, one nonce each.
      const since = await transactionsFrom(provider, redeemer.address, cutAt + 1);
      expect(since.filter((t) => t.status !== 1)).toEqual([]);
      expect(new Set(since.map((t) => `${t.to}:${t.data}`)).size).toBe(since.length);
      expect(since.length).toBe(nonceDone - nonceAtCut);
      expect(await stopAll(b)).toEqual([130]);
      await expectEachRedeemedOnce(from);
    } finally {
      await proxy.close();
    }
  }, 300_000);

  it("the database server stopped 8 s (over twice the 3 s lease): nobody signs meanwhile; both recover and each deposit is redeemed once", async () => {
    const from = await provider.getBlockNumber();
    const url = urlFile("direct", pg.url);
    const a = watch("a", url);
    await until(() => holds(a) && loopDone(a), "A holding the lease, first pass (all healthy)", [a]);
    const b = watch("b", url);
    await until(() => standby(b).length === 1, "B waiting as the standby", [a, b]);
    const nonce = await provider.getTransactionCount(redeemer.address, "pending");
    await pg.pause();
    try {
      await setEthBtcPrice(devnet.deployment, 0.024);
      // Sampled through the outage: no transaction of the key, no redemption request.
      for (let i = 0; i < 8; i++) {
        await pause(1_000);
        expect(await provider.getTransactionCount(redeemer.address, "pending")).toBe(nonce);
      }
      for (const d of deposits) expect(await requestsFor(d)).toBe(0);
      // Both still run: the holder waits for a renewal, the standby for the lease.
      expect([a.child.exitCode, b.child.exitCode]).toEqual([null, null]);
    } finally {
      await pg.start();
    }
    await until(allRequested, "both deposits redeemed after the server returned", [a, b]);
    const holder = holds(b) ? b : a;
    await until(() => eventsOf(holder).filter((e) => e.type === "heartbeat" && e.ok === true).length >= 2, "a good pass after the outage", [a, b]);
    await pause(2_000);
    // The one that kept (or took) the lease runs on; the other is the standby, or (its lease gone) exited 14.
    const codes = await stopAll(a, b);
    for (const c of codes) expect([130, 14]).toContain(c);
    expect(codes).toContain(130);
    await expectEachRedeemedOnce(from);
  }, 300_000);

  it.skipIf(!FAKETIME_LIB)("clocks ten minutes off (the active's behind, the standby's ahead): the standby does not take over early, takes over after a kill -9 in seconds, and a third (true clock) takes over from it; each deposit redeemed once", async () => {
    const from = await provider.getBlockNumber();
    const url = urlFile("skew", pg.url);
    const a = watch("a", url, { clockOffset: "-10m" });
    await until(() => holds(a) && loopDone(a), "A (clock 10 min behind) holding the lease, first pass", [a]);
    const b = watch("b", url, { clockOffset: "+10m" });
    await until(() => standby(b).length === 1, "B (clock 10 min ahead) waiting as the standby", [a, b]);
    // The skew is real: each process stamps its events by its own clock (A's last one at least a pass old).
    const offsetSec = (x: Spawned) => (Date.parse(String(eventsOf(x).at(-1)!.at)) - Date.now()) / 1000;
    expect(Math.abs(offsetSec(a) + 600)).toBeLessThan(30);
    expect(Math.abs(offsetSec(b) - 600)).toBeLessThan(30);
    // Over two leases: by B's clock A's lease ran out 20 minutes ago, by the database's it is renewed.
    await pause(7_000);
    expect(holds(b)).toBe(false);
    expect(await epochNow()).toBe(1);
    expect((await query("SELECT bool_and(expires_at > now()) AS live FROM keepctl_lease")).rows[0].live).toBe(true);
    expect([a.child.exitCode, b.child.exitCode]).toEqual([null, null]);

    a.child.kill("SIGKILL");
    const killedA = Date.now();
    await setEthBtcPrice(devnet.deployment, 0.024);
    // A lease dated by A's clock would have expired on B's first try, one dated by B's would last ten minutes.
    await until(() => holds(b), "B taking over after A's kill -9", [a, b], 60_000);
    console.log(`[measured] takeover with skewed clocks (A -10 min, B +10 min): ${((Date.now() - killedA) / 1000).toFixed(1)} s after kill -9 (lease 3 s, refresh 0.5 s)`);
    expect(await epochNow()).toBe(2);
    await until(async () => (await allRequested()) && loopDone(b), "B redeeming both deposits", [b]);

    // The other way round: B (ahead) holds, C (true clock) waits, then takes over once B is killed.
    const c = watch("c", url);
    await until(() => standby(c).length === 1, "C waiting as the standby", [b, c]);
    await pause(4_000);
    expect(holds(c)).toBe(false);
    b.child.kill("SIGKILL");
    const killedB = Date.now();
    await until(() => holds(c), "C taking over after B's kill -9", [b, c], 60_000);
    console.log(`[measured] takeover from a clock 10 min ahead: ${((Date.now() - killedB) / 1000).toFixed(1)} s after kill -9`);
    expect(await epochNow()).toBe(3);
    const beats = eventsOf(c).filter((e) => e.type === "heartbeat" && e.ok === true).length;
    await until(() => eventsOf(c).filter((e) => e.type === "heartbeat" && e.ok === true).length > beats, "a good pass of C", [c]);
    expect(await stopAll(c)).toEqual([130]);
    await expectEachRedeemedOnce(from);
  }, 300_000);
});
