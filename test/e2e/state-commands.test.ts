import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { Client } from "pg";
import { startDevnet, devnetWallet, type Devnet } from "../../src/devnet/scenario";
import { openDeposit } from "../../src/devnet/deposits";
import { send, setEthBtcPrice } from "../../src/devnet/tbtc";
import { startPostgres, type LocalPostgres } from "../../src/devnet/postgres";
import { buildOnce, runKeepctl, spawnKeepctl, type Spawned } from "../helpers/cli";

/**
 * `keepctl state migrate` and `keepctl state status` on a real PostgreSQL server and the devnet's
 * tBTC contracts. A one-machine `watch` (files) is killed with a redemption in the pool; its data
 * dir's journal is migrated (refused while that watch held the file lock, refused again once the
 * target holds the account's journal); a `watch --state-url` on another data dir then settles the
 * migrated transaction as its own. Counted from the chain: one redemption request per deposit.
 */
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-state-"));
const BTC = 100_000_000n;
const PAYOUT = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx";
const RR_TOPIC = ethers.id("RedemptionRequested(address,address,bytes32,uint256,bytes,uint256,bytes)");

let devnet: Devnet;
let pg: LocalPostgres;
let sql: Client;
let provider: ethers.JsonRpcProvider;
let deploymentFile: string;
let stateUrlFile: string;
const operator = devnetWallet(1).address;
const deposits: string[] = [];
let redeemer: ethers.Wallet;
const running: Spawned[] = [];
const lockDir = path.join(home, "locks");

const env = () => ({ KEEPCTL_PRIVATE_KEY: redeemer.privateKey, KEEPCTL_BTC_ADDRESS: PAYOUT, KEEPCTL_LOCK_DIR: lockDir, KEEPCTL_TX_POLL_MS: "100" });

function watch(dataDir: string, extra: string[] = []): Spawned {
  const s = spawnKeepctl(["--deployment", deploymentFile, "watch", "--json", "--interval", "1", "--operator", operator, ...extra], { home, dataDir, env: env() });
  running.push(s);
  return s;
}
const keepctl = (args: string[]) => runKeepctl(["--deployment", deploymentFile, ...args], { home, dataDir: path.join(home, "scratch"), env: env() });

const eventsOf = (s: Spawned) => s.stdout().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
const loopDone = (s: Spawned) => eventsOf(s).some((e) => e.type === "heartbeat" && e.ok === true);
const holds = (s: Spawned) => eventsOf(s).some((e) => e.type === "notice" && String(e.text).startsWith("holding the account's lease"));
const requestsFor = async (d: string) => (await provider.getLogs({ topics: [RR_TOPIC, ethers.zeroPadValue(d, 32)], fromBlock: 0, toBlock: "latest" })).length;
const dbLines = async () => (await sql.query("SELECT count(*)::int AS n FROM keepctl_journal")).rows[0].n as number;

/** The test's own fold of a journal file: the last state of each key. */
function lastStates(file: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const raw of fs.readFileSync(file, "utf8").split("\n")) if (raw.trim()) { const l = JSON.parse(raw) as { key: string; state: string }; m.set(l.key, l.state); }
  return m;
}

async function until(cond: () => boolean | Promise<boolean>, what: string, s: Spawned[], ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${s.map((x) => x.stdout() + x.stderr()).join("\n---\n")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
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
  await openDeposit(devnet.deployment, { lotSats: 1n * BTC, members: [devnetWallet(5).address, devnetWallet(3).address, devnetWallet(4).address], fundWith: "vendingMachine" });
  redeemer = new ethers.Wallet(ethers.Wallet.createRandom().privateKey, provider);
  await provider.send("hardhat_setBalance", [redeemer.address, ethers.toQuantity(ethers.parseEther("10"))]);
  await send(devnet.deployment.contracts.tbtcToken.transfer(redeemer.address, 10n * 10n ** 18n + 10n ** 16n));
}, 300_000);

afterAll(async () => {
  for (const s of running.splice(0)) s.child.kill("SIGKILL");
  provider?.destroy();
  await devnet?.stop();
  await sql?.end();
  await pg?.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

describe("keepctl state migrate / status", () => {
  it("status on an unused database: no account", async () => {
    const r = await keepctl(["state", "status", "--json", "--state-url-file", stateUrlFile]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { accounts: unknown[]; where: string };
    expect(doc.accounts).toEqual([]);
    expect(r.stdout + r.stderr).not.toContain(pg.password);
  }, 60_000);

  it("a file watch killed mid-redemption: migrate refused while it runs, then moves its journal; a watch --state-url settles it; each deposit redeemed once", async () => {
    const fileDir = path.join(home, "file-watch");
    const journalFile = path.join(fileDir, "journal.jsonl");
    const a = watch(fileDir);
    await until(() => loopDone(a), "the file watch's first pass", [a]);
    // 1. Refused while the one-machine watch holds the account's file lock: nothing in the database.
    const locked = await keepctl(["state", "migrate", "--from", fileDir, "--state-url-file", stateUrlFile, "--account", redeemer.address]);
    expect(locked.code, locked.stderr).toBe(8);
    expect(locked.stderr).toMatch(/^error: .*(in use|lock)/m);
    expect(await dbLines()).toBe(0);
    // 2. The price drops; the file watch broadcasts its first redemption (left in the pool) and dies.
    await provider.send("evm_setAutomine", [false]);
    const priced = setEthBtcPrice(devnet.deployment, 0.024);
    await until(async () => (await provider.send("eth_getBlockByNumber", ["pending", false])).transactions.length > 0, "the price update in the pool", [a]);
    await provider.send("evm_mine", []);
    await priced;
    await until(() => fs.existsSync(journalFile) && [...lastStates(journalFile).values()].includes("sent"), "the file watch's broadcast", [a]);
    a.child.kill("SIGKILL");
    await a.done;
    const inFlightKeys = [...lastStates(journalFile)].filter(([, s]) => s === "sent" || s === "sending").map(([k]) => k).sort();
    expect(inFlightKeys.length).toBeGreaterThan(0);
    const fileLines = fs.readFileSync(journalFile, "utf8").split("\n").filter((l) => l.trim()).length;
    // 3a. The same data dir with --state-url before migrating: refused, nothing sent (the pool and the database unchanged).
    const pendingBefore = await provider.getTransactionCount(redeemer.address, "pending");
    const early = await keepctl(["watch", "--once", "--operator", operator, "--data-dir", fileDir, "--state-url-file", stateUrlFile]);
    expect(early.code, early.stdout + early.stderr).toBe(3);
    expect(early.stderr).toMatch(new RegExp(`^error: the data dir ${fileDir} has ${inFlightKeys.length} transaction\\(s\\) of ${redeemer.address} in flight \\(.*\\) that the state database does not know: nothing sent$`, "m"));
    expect(early.stderr).toMatch(/^hint: move them first: keepctl state migrate --from /m);
    expect(await provider.getTransactionCount(redeemer.address, "pending")).toBe(pendingBefore);
    expect(await dbLines()).toBe(0);
    // 3. Moved: every line (one account in this journal), the in-flight ones named.
    const moved = await keepctl(["state", "migrate", "--json", "--from", fileDir, "--state-url-file", stateUrlFile]);
    expect(moved.code, moved.stderr).toBe(0);
    const doc = JSON.parse(moved.stdout) as { lines: number; inFlight: number; account: string };
    expect([doc.lines, doc.inFlight, doc.account]).toEqual([fileLines, inFlightKeys.length, redeemer.address.toLowerCase()]);
    expect(await dbLines()).toBe(fileLines);
    // 4. status: the account, its in-flight entries, no live lease (migrate gave it back).
    const st = await keepctl(["state", "status", "--json", "--state-url-file", stateUrlFile]);
    expect(st.code, st.stderr).toBe(0);
    const sdoc = JSON.parse(st.stdout) as { accounts: { account: string; chain: string; lease?: { live: boolean }; journalLines: number; inFlight: { key: string; nonces: number[] }[] }[] };
    expect(sdoc.accounts).toHaveLength(1);
    const acc = sdoc.accounts[0];
    expect([acc.account, acc.chain.startsWith("31337-"), acc.lease?.live, acc.journalLines]).toEqual([redeemer.address.toLowerCase(), true, false, fileLines]);
    expect(acc.inFlight.map((e) => e.key).sort()).toEqual(inFlightKeys);
    // 5. A second migrate into the now non-empty target is refused, and changes nothing.
    const again = await keepctl(["state", "migrate", "--json", "--from", fileDir, "--state-url-file", stateUrlFile]);
    expect(again.code).toBe(3);
    expect((JSON.parse(again.stdout) as { error: { code: string } }).error.code).toBe("STATE_NOT_EMPTY");
    expect(await dbLines()).toBe(fileLines);
    // 6. The same data dir, now with --state-url: it settles the migrated transaction as its own.
    await provider.send("evm_setAutomine", [true]);
    await provider.send("evm_mine", []);
    const b = watch(fileDir, ["--state-url-file", stateUrlFile, "--lease-refresh", "0.5", "--lease-duration", "3"]);
    await until(() => holds(b) && loopDone(b), "the shared watch's first pass", [b]);
    // 7. status while it holds the lease: its pid, a live lease, nothing in flight any more.
    await until(async () => {
      const s = JSON.parse((await keepctl(["state", "status", "--json", "--state-url-file", stateUrlFile])).stdout) as typeof sdoc & { accounts: { lease?: { pid: number; live: boolean } }[] };
      return s.accounts[0].lease?.pid === b.child.pid && s.accounts[0].lease.live && s.accounts[0].inFlight.length === 0;
    }, "status showing the shared watch holding the lease, nothing in flight", [b], 30_000);
    const table = await keepctl(["state", "status", "--state-url-file", stateUrlFile]);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain(`pid ${b.child.pid} on ${os.hostname()}`);
    b.child.kill("SIGINT");
    expect((await b.done).code).toBe(130);
    const bEvents = eventsOf(b);
    expect(bEvents.some((e) => e.type === "loop-error")).toBe(false);
    expect(bEvents.filter((e) => e.type === "recovered").map((e) => e.status)).toContain("mined");
    // Counted from the chain: one redemption request per deposit, every nonce a mined tx of the key.
    for (const d of deposits) expect(await requestsFor(d)).toBe(1);
    expect(await provider.getTransactionCount(redeemer.address, "latest")).toBe(await provider.getTransactionCount(redeemer.address, "pending"));
  }, 400_000);
});
