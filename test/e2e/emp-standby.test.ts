import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Client } from "pg";
import { ethers } from "ethers";
import { startHardhatNode, type LocalNode } from "../../src/devnet/node";
import { deployEmp, seedSponsors, type EmpDeployment, type EmpSeed } from "../../src/devnet/uma";
import { startPostgres, type LocalPostgres } from "../../src/devnet/postgres";
import { transactionsFrom } from "../../src/devnet/chaos";
import { empInterface } from "../../src/lib/uma/emp-calls";
import { buildOnce, spawnKeepctl, type Spawned } from "../helpers/cli";

/**
 * Two `emp-liquidate` loops on one key and one state URL (a real PostgreSQL server, the real UMA
 * EMP on Hardhat): the second waits as the standby. The active is killed -9 with its first
 * liquidation in the pool (automine off); the standby takes the lease when it expires, settles
 * that transaction from the shared journal and liquidates the other position. Counted from the
 * chain: one LiquidationCreated per undercollateralized sponsor, none for the healthy ones, no
 * transaction twice, none reverted, every nonce of the key one of them. And fenced: an active
 * paused (SIGSTOP) past its lease wakes to find it taken, signs nothing more and exits 14.
 */
const MNEMONIC = "test test test test test test test test test test test junk";
const keyOf = (i: number) => ethers.HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).privateKey;
const LEASE = ["--lease-refresh", "0.5", "--lease-duration", "3"];
const CREATED = empInterface.getEvent("LiquidationCreated")!.topicHash;

let tmp: string;
let node: LocalNode;
let pg: LocalPostgres;
let provider: ethers.JsonRpcProvider;
let dep: EmpDeployment;
let seed: EmpSeed;
let urlFile: string;
let snapshot: string;
const running: Spawned[] = [];

function liquidator(name: string): Spawned {
  const s = spawnKeepctl(
    ["emp-liquidate", "--json", "--interval", "1", "--price", "1", "--emp", dep.addresses.emp, "--rpc-url", node.rpcUrl, "--network", "devnet", "--state-url-file", urlFile, ...LEASE],
    { home: tmp, dataDir: path.join(tmp, `data-${name}`), env: { KEEPCTL_PRIVATE_KEY: keyOf(seed.liquidator.index), KEEPCTL_LOCK_DIR: path.join(tmp, `locks-${name}`), KEEPCTL_TX_POLL_MS: "100" } },
  );
  running.push(s);
  return s;
}

const eventsOf = (s: Spawned) => s.stdout().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
const notices = (s: Spawned) => eventsOf(s).filter((e) => e.type === "notice").map((e) => String(e.text));
const holds = (s: Spawned) => notices(s).some((t) => t.startsWith("holding the account's lease"));
const standby = (s: Spawned) => notices(s).filter((t) => t.startsWith("standby:"));
const createdFor = async (sponsor: string) => (await provider.getLogs({ address: dep.addresses.emp, topics: [CREATED, ethers.zeroPadValue(sponsor, 32)], fromBlock: 0, toBlock: "latest" })).length;
const nonce = (tag: "latest" | "pending") => provider.getTransactionCount(seed.liquidator.address, tag);
const byLabel = (l: string) => seed.sponsors.find((s) => s.label === l)!;

async function until(cond: () => boolean | Promise<boolean>, what: string, s: Spawned[], ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${s.map((x) => x.stdout() + x.stderr()).join("\n---\n")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Counted from the chain: one LiquidationCreated per target, none for the healthy, no tx twice or reverted, one nonce each. */
async function expectEachLiquidatedOnce(from: number, startNonce: number): Promise<void> {
  for (const l of ["cr-1.2", "pending-withdrawal"]) expect(await createdFor(byLabel(l).address)).toBe(1);
  for (const l of ["cr-1.3", "cr-1.5", "cr-2.0"]) expect(await createdFor(byLabel(l).address)).toBe(0);
  const txs = await transactionsFrom(provider, seed.liquidator.address, from + 1);
  expect(txs.filter((t) => t.status !== 1)).toEqual([]);
  expect(new Set(txs.map((t) => `${t.to}:${t.data}`)).size).toBe(txs.length);
  expect(txs.length).toBe((await nonce("latest")) - startNonce);
  expect(await nonce("pending")).toBe(await nonce("latest"));
}

/** The key's transactions in the pool (automine off), read from the node's pending block. */
async function pooled(): Promise<{ to: string }[]> {
  const block = await provider.send("eth_getBlockByNumber", ["pending", true]);
  return (block?.transactions ?? []).filter((t: { from: string }) => t.from.toLowerCase() === seed.liquidator.address.toLowerCase());
}

/** With automine off: mines A's approvals as they come, until a liquidation (a call to the EMP) waits in the pool. */
async function untilFirstLiquidationPooled(a: Spawned, others: Spawned[]): Promise<void> {
  await until(async () => {
    const txs = await pooled();
    if (txs.some((t) => t.to.toLowerCase() === dep.addresses.emp.toLowerCase())) return true;
    if (txs.length) await provider.send("evm_mine", []);
    return false;
  }, "A sending its first liquidation", [a, ...others]);
}

beforeAll(async () => {
  buildOnce();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-emp-standby-"));
  [node, pg] = await Promise.all([startHardhatNode(), startPostgres()]);
  provider = new ethers.JsonRpcProvider(node.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1 });
  dep = await deployEmp(await provider.getSigner(0));
  seed = await seedSponsors(dep, provider);
  urlFile = path.join(tmp, "state-url");
  fs.writeFileSync(urlFile, pg.url + "\n", { mode: 0o600 });
  snapshot = await provider.send("evm_snapshot", []);
}, 180_000);

beforeEach(async () => {
  for (const s of running.splice(0)) if (s.child.exitCode === null) s.child.kill("SIGKILL");
  await provider.send("evm_revert", [snapshot]);
  snapshot = await provider.send("evm_snapshot", []);
  const sql = new Client({ connectionString: pg.url });
  await sql.connect();
  await sql.query("TRUNCATE keepctl_journal, keepctl_lease").catch(() => undefined);
  await sql.end();
  fs.rmSync(path.join(tmp, "data-a"), { recursive: true, force: true });
  fs.rmSync(path.join(tmp, "data-b"), { recursive: true, force: true });
});

afterAll(async () => {
  for (const s of running.splice(0)) if (s.child.exitCode === null) s.child.kill("SIGKILL");
  provider?.destroy();
  await node?.stop();
  await pg?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe("emp-liquidate on a state URL: the standby", () => {
  it("waits, takes over when the active is killed -9 mid-pass, settles its liquidation from the shared journal and does the rest: each liquidation once on chain", async () => {
    const from = await provider.getBlockNumber();
    const targets = [byLabel("cr-1.2").address, byLabel("pending-withdrawal").address];
    const startNonce = await nonce("latest");
    // Automine off: the test mines, so the active can be killed with a liquidation in the pool.
    await provider.send("evm_setAutomine", [false]);
    try {
      const a = liquidator("a");
      await until(() => holds(a), "A holding the lease", [a]);
      const b = liquidator("b");
      await until(() => standby(b).length === 1, "B waiting as the standby", [a, b]);
      await untilFirstLiquidationPooled(a, [b]);
      a.child.kill("SIGKILL");
      await a.done;
      // On chain at the kill: no liquidation yet; one transaction of the key in the pool (A's).
      for (const t of targets) expect(await createdFor(t)).toBe(0);
      const atKill = await nonce("latest");
      expect(await nonce("pending")).toBe(atKill + 1);
      await until(() => holds(b), "B taking over", [b]);
      expect(standby(b)).toHaveLength(1);
      // Mining on again: A's pooled liquidation is mined; B, settling it, must not sign it again.
      await provider.send("evm_setAutomine", [true]);
      await provider.send("evm_mine", []);
      await until(async () => (await Promise.all(targets.map(createdFor))).every((n) => n >= 1) && eventsOf(b).some((e) => e.type === "heartbeat"), "B liquidating the other position", [b]);
      // A pass of B's after that: nothing more to do, nothing more sent.
      const beats = eventsOf(b).filter((e) => e.type === "heartbeat").length;
      await until(() => eventsOf(b).filter((e) => e.type === "heartbeat").length > beats, "one more pass of B", [b]);
      // (Its own account of it: A's liquidation settled from the shared journal, as mined.)
      expect(eventsOf(b).filter((e) => e.type === "recovered" && String(e.key).endsWith(":liquidate")).map((e) => e.status)).toEqual(["mined"]);
      b.child.kill("SIGINT");
      expect((await b.done).code).toBe(130);
      // B signed the second liquidation itself (A was dead, its only signed liquidation in the pool at the kill).
      expect(await nonce("latest")).toBeGreaterThan(atKill + 1);
      await expectEachLiquidatedOnce(from, startNonce);
    } finally {
      await provider.send("evm_setAutomine", [true]);
    }
  }, 120_000);

  it("SIGSTOP the active past its lease: the standby takes over and liquidates; SIGCONT, the old one signs nothing more and exits 14", async () => {
    const from = await provider.getBlockNumber();
    const targets = [byLabel("cr-1.2").address, byLabel("pending-withdrawal").address];
    const startNonce = await nonce("latest");
    await provider.send("evm_setAutomine", [false]);
    try {
      const a = liquidator("a");
      await until(() => holds(a), "A holding the lease", [a]);
      const b = liquidator("b");
      await until(() => standby(b).length === 1, "B waiting as the standby", [a, b]);
      await untilFirstLiquidationPooled(a, [b]);
      a.child.kill("SIGSTOP");
      await until(() => holds(b), "B taking over from the paused A", [a, b]);
      await provider.send("evm_setAutomine", [true]);
      await provider.send("evm_mine", []);
      await until(async () => (await Promise.all(targets.map(createdFor))).every((n) => n >= 1) && eventsOf(b).some((e) => e.type === "heartbeat"), "B liquidating the other position", [a, b]);
      const nonceDone = await nonce("pending");
      // A wakes: its liquidation was mined, its lease is B's. Whatever it tries next is fenced.
      a.child.kill("SIGCONT");
      const ra = await a.done;
      expect(ra.code, ra.stdout + ra.stderr).toBe(14);
      const beats = eventsOf(b).filter((e) => e.type === "heartbeat").length;
      await until(() => eventsOf(b).filter((e) => e.type === "heartbeat").length > beats, "one more pass of B", [b]);
      // A signed nothing after it woke: the key's nonce has not moved since B was done.
      expect(await nonce("pending")).toBe(nonceDone);
      b.child.kill("SIGINT");
      expect((await b.done).code).toBe(130);
      await expectEachLiquidatedOnce(from, startNonce);
    } finally {
      await provider.send("evm_setAutomine", [true]);
    }
  }, 120_000);
});
