import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { ethers } from "ethers";
import { Client } from "pg";
import { PACKAGE_ROOT } from "../src/devnet/node";
import { devnetWallet, startDevnet, type Devnet } from "../src/devnet/scenario";
import { openDeposit } from "../src/devnet/deposits";
import { send, setEthBtcPrice } from "../src/devnet/tbtc";
import { startPostgres, type LocalPostgres } from "../src/devnet/postgres";
import { startTcpProxy, type TcpProxy } from "../src/devnet/tcp-proxy";
import { FAR_RTT_MS, measureJournalOverhead, type OverheadResult } from "./ha-overhead";

/**
 * High availability on a real PostgreSQL server (issue 23's numbers): two `keepctl watch`
 * processes (two data dirs, two lock dirs, one key, one state URL) on the devnet's tBTC contracts.
 * - Takeover: the active watcher is frozen (SIGSTOP), the price drops (both deposits at risk) and
 *   it is killed (kill -9); from the freeze to the standby's "holding the account's lease" line
 *   and to its first signed transaction (its first `sent` event). Repeated `reps` times on a
 *   short lease (3 s, refresh 0.5 s), once on the defaults (15 s, 2 s).
 * - Journal overhead per send (bench/ha-overhead.ts): files vs PostgreSQL.
 * - Idle load: a holder and a standby at the default timings, 20 s, each through its own counting
 *   TCP proxy; statements from pg_stat_statements.
 */
const BTC = 100_000_000n;
const PAYOUT = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx";
/** Ethereum mainnet's slot: the "one block" of the takeover target. */
export const BLOCK_INTERVAL_MS = 12_000;
const SHORT = { refreshMs: 500, durationMs: 3_000 };
const DEFAULTS = { refreshMs: 2_000, durationMs: 15_000 };
const IDLE_MS = 20_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface TakeoverRun {
  /** kill: frozen (SIGSTOP), then kill -9; stop: SIGTERM (a clean stop gives the lease back). */
  how: "kill" | "stop";
  refreshMs: number;
  durationMs: number;
  /** From the freeze of the active (then kill -9), or its SIGTERM, to the standby's "holding" line. */
  holdMs?: number;
  /** ... to its first `sent` event (the first signed transaction, broadcast). */
  firstSentMs?: number;
  error?: string;
}

export interface IdleLoad {
  seconds: number;
  holderRoundTrips: number;
  standbyRoundTrips: number;
  /** pg_stat_statements calls in the window, by statement (first words), keepctl's only. */
  statements: { query: string; calls: number }[];
}

export interface HaResult {
  takeovers: TakeoverRun[];
  overhead: OverheadResult;
  idle: IdleLoad;
  seconds: number;
  targets: { name: string; met: boolean; detail: string }[];
}

interface Watcher {
  child: ChildProcess;
  /** performance.now() at which a kind of line first arrived. */
  first: Map<"holding" | "standby" | "pass" | "sent", number>;
  output: () => string;
  exited: Promise<number | null>;
}

interface Bed {
  devnet: Devnet;
  pg: LocalPostgres;
  sql: Client;
  home: string;
  deploymentFile: string;
  operator: string;
  redeemer: ethers.Wallet;
  provider: ethers.JsonRpcProvider;
  snapshot: string;
}

function startWatch(bed: Bed, name: string, stateUrl: string, timings?: { refreshMs: number; durationMs: number }): Watcher {
  const urlFile = path.join(bed.home, `state-url-${name}`);
  fs.writeFileSync(urlFile, stateUrl + "\n", { mode: 0o600 });
  const lease = timings ? ["--lease-refresh", String(timings.refreshMs / 1000), "--lease-duration", String(timings.durationMs / 1000)] : [];
  const args = [path.join(PACKAGE_ROOT, "bin/keepctl"), "--deployment", bed.deploymentFile, "watch", "--json", "--interval", "1", "--operator", bed.operator, "--state-url-file", urlFile, ...lease];
  const child = spawn(process.execPath, args, {
    cwd: bed.home,
    env: {
      PATH: process.env.PATH ?? "", HOME: bed.home, NO_COLOR: "1",
      KEEPCTL_DATA_DIR: path.join(bed.home, `data-${name}`), KEEPCTL_LOCK_DIR: path.join(bed.home, `locks-${name}`),
      KEEPCTL_PRIVATE_KEY: bed.redeemer.privateKey, KEEPCTL_BTC_ADDRESS: PAYOUT,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const first: Watcher["first"] = new Map();
  let out = "";
  let partial = "";
  const mark = (k: "holding" | "standby" | "pass" | "sent", at: number) => void (first.has(k) || first.set(k, at));
  child.stdout!.on("data", (d: Buffer) => {
    const at = performance.now();
    if (out.length < 200_000) out += d;
    const lines = (partial + d).split("\n");
    partial = lines.pop() ?? "";
    for (const l of lines) {
      if (!l.startsWith("{")) continue;
      const e = JSON.parse(l) as { type?: string; text?: string; ok?: boolean };
      if (e.type === "notice" && e.text?.startsWith("holding the account's lease")) mark("holding", at);
      if (e.type === "notice" && e.text?.startsWith("standby:")) mark("standby", at);
      if (e.type === "heartbeat" && e.ok === true) mark("pass", at);
      if (e.type === "sent") mark("sent", at);
    }
  });
  child.stderr!.on("data", (d) => void (out.length < 200_000 && (out += d)));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return { child, first, output: () => out, exited };
}

async function until(cond: () => boolean, what: string, ws: Watcher[], ms = 90_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${ws.map((w) => w.output().slice(-1500)).join("\n---\n")}`);
    await sleep(20);
  }
}

async function stop(w: Watcher | undefined): Promise<void> {
  if (!w || w.child.exitCode !== null || w.child.signalCode !== null) return;
  w.child.kill("SIGCONT");
  w.child.kill("SIGINT");
  const t = setTimeout(() => w.child.kill("SIGKILL"), 10_000);
  await w.exited;
  clearTimeout(t);
}

/** A fresh chain (both deposits healthy again) and an empty shared journal and lease table. */
async function reset(bed: Bed): Promise<void> {
  await bed.provider.send("evm_revert", [bed.snapshot]);
  bed.snapshot = await bed.provider.send("evm_snapshot", []);
  await bed.sql.query("TRUNCATE keepctl_journal, keepctl_lease").catch(() => undefined);
}

async function takeover(bed: Bed, timings: { refreshMs: number; durationMs: number }, how: TakeoverRun["how"] = "kill"): Promise<TakeoverRun> {
  await reset(bed);
  let a: Watcher | undefined;
  let b: Watcher | undefined;
  try {
    a = startWatch(bed, "a", bed.pg.url, timings);
    await until(() => a!.first.has("holding") && a!.first.has("pass"), "A holding the lease, its first pass", [a]);
    b = startWatch(bed, "b", bed.pg.url, timings);
    await until(() => b!.first.has("standby"), "B waiting as the standby", [a, b]);
    // Somewhere in A's renewal cycle, not in step with it.
    await sleep(Math.random() * timings.refreshMs + timings.refreshMs);
    const diedAt = performance.now();
    if (how === "kill") {
      a.child.kill("SIGSTOP");
      // At risk only once A can no longer act: B's first pass after the takeover has work to sign.
      await setEthBtcPrice(bed.devnet.deployment, 0.024);
      a.child.kill("SIGKILL");
      await a.exited;
    } else {
      a.child.kill("SIGTERM");
      await a.exited;
      await setEthBtcPrice(bed.devnet.deployment, 0.024);
    }
    await until(() => b!.first.has("sent"), "B taking over and signing", [b], 60_000 + timings.durationMs);
    return { how, ...timings, holdMs: b.first.get("holding")! - diedAt, firstSentMs: b.first.get("sent")! - diedAt };
  } catch (e) {
    return { how, ...timings, error: e instanceof Error ? e.message.slice(0, 600) : String(e) };
  } finally {
    if (a && a.child.exitCode === null && a.child.signalCode === null) a.child.kill("SIGKILL");
    await stop(b);
  }
}

async function statementCalls(sql: Client): Promise<{ query: string; calls: number }[]> {
  const r = await sql.query<{ query: string; calls: string }>(
    "SELECT query, calls FROM pg_stat_statements WHERE query NOT ILIKE '%pg_stat%' ORDER BY calls DESC, query",
  );
  return r.rows.map((x) => ({ query: x.query.replace(/\s+/g, " ").slice(0, 60), calls: Number(x.calls) }));
}

async function idleLoad(bed: Bed): Promise<IdleLoad> {
  await reset(bed);
  const pa: TcpProxy = await startTcpProxy({ host: "127.0.0.1", port: bed.pg.port });
  const pb: TcpProxy = await startTcpProxy({ host: "127.0.0.1", port: bed.pg.port });
  const via = (p: TcpProxy) => bed.pg.url.replace(`:${bed.pg.port}/`, `:${p.port}/`);
  let a: Watcher | undefined;
  let b: Watcher | undefined;
  try {
    a = startWatch(bed, "idle-a", via(pa));
    await until(() => a!.first.has("holding") && a!.first.has("pass"), "A holding the lease, its first pass", [a]);
    b = startWatch(bed, "idle-b", via(pb));
    await until(() => b!.first.has("standby"), "B waiting as the standby", [a, b]);
    await sleep(2_000);
    await bed.sql.query("SELECT pg_stat_statements_reset()");
    pa.resetCounts();
    pb.resetCounts();
    const t0 = performance.now();
    await sleep(IDLE_MS);
    const seconds = (performance.now() - t0) / 1000;
    const holderRoundTrips = pa.counts.roundTrips;
    const standbyRoundTrips = pb.counts.roundTrips;
    const statements = await statementCalls(bed.sql);
    if (a.child.exitCode !== null || b.child.exitCode !== null) throw new Error(`a watcher exited during the idle window: ${a.output().slice(-800)} ${b.output().slice(-800)}`);
    return { seconds, holderRoundTrips, standbyRoundTrips, statements };
  } finally {
    await stop(b);
    await stop(a);
    await pa.close();
    await pb.close();
  }
}

async function setUp(log: (m: string) => void): Promise<Bed> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-bench-ha-"));
  log("ha: starting PostgreSQL (pg_stat_statements loaded) and the devnet ...");
  const pg = await startPostgres({ settings: { shared_preload_libraries: "pg_stat_statements" } });
  const sql = new Client({ connectionString: pg.url });
  await sql.connect();
  await sql.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  const deploymentFile = path.join(home, "deployment.json");
  const devnet = await startDevnet({ seed: false, out: deploymentFile });
  const provider = new ethers.JsonRpcProvider(devnet.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1 });
  const operator = devnetWallet(1).address;
  const members = [operator, devnetWallet(3).address, devnetWallet(4).address];
  for (let i = 0; i < 2; i++) await openDeposit(devnet.deployment, { lotSats: 5n * BTC, members, fundWith: "vendingMachine" });
  // Another operator's deposit: its TBTC pays for the redemptions.
  await openDeposit(devnet.deployment, { lotSats: 1n * BTC, members: [devnetWallet(5).address, devnetWallet(3).address, devnetWallet(4).address], fundWith: "vendingMachine" });
  const redeemer = new ethers.Wallet(ethers.Wallet.createRandom().privateKey, provider);
  await provider.send("hardhat_setBalance", [redeemer.address, ethers.toQuantity(ethers.parseEther("10"))]);
  await send(devnet.deployment.contracts.tbtcToken.transfer(redeemer.address, 10n * 10n ** 18n + 10n ** 16n));
  const snapshot = await provider.send("evm_snapshot", []);
  return { devnet, pg, sql, home, deploymentFile, operator, redeemer, provider, snapshot };
}

async function tearDown(bed: Bed): Promise<void> {
  bed.provider.destroy();
  await bed.sql.end().catch(() => undefined);
  await bed.devnet.stop();
  await bed.pg.stop();
  fs.rmSync(bed.home, { recursive: true, force: true });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export async function benchHa(o: { reps?: number; log?: (m: string) => void } = {}): Promise<HaResult> {
  const log = o.log ?? ((m: string) => process.stderr.write(m + "\n"));
  const started = performance.now();
  const bed = await setUp(log);
  try {
    const takeovers: TakeoverRun[] = [];
    const reps = o.reps ?? 5;
    for (let i = 0; i < reps; i++) {
      log(`ha: takeover ${i + 1}/${reps} (lease ${SHORT.durationMs / 1000} s, refresh ${SHORT.refreshMs / 1000} s) ...`);
      takeovers.push(await takeover(bed, SHORT));
    }
    log(`ha: takeover at the defaults (lease ${DEFAULTS.durationMs / 1000} s, refresh ${DEFAULTS.refreshMs / 1000} s) ...`);
    takeovers.push(await takeover(bed, DEFAULTS));
    log(`ha: handover on a clean stop (SIGTERM) at the defaults ...`);
    takeovers.push(await takeover(bed, DEFAULTS, "stop"));
    log("ha: journal overhead per send, files vs PostgreSQL ...");
    await reset(bed);
    const overhead = await measureJournalOverhead({ rpcUrl: bed.devnet.rpcUrl, pg: bed.pg, sql: bed.sql, home: bed.home });
    log(`ha: idle holder and standby (defaults), ${IDLE_MS / 1000} s ...`);
    const idle = await idleLoad(bed);
    return { takeovers, overhead, idle, seconds: (performance.now() - started) / 1000, targets: targetsOf(takeovers, overhead) };
  } finally {
    await tearDown(bed);
  }
}

function targetsOf(takeovers: TakeoverRun[], overhead: OverheadResult): HaResult["targets"] {
  const out: HaResult["targets"] = [];
  for (const t of [SHORT, DEFAULTS]) {
    const runs = takeovers.filter((r) => r.how === "kill" && r.durationMs === t.durationMs);
    const failed = runs.filter((r) => r.firstSentMs === undefined);
    const sent = runs.flatMap((r) => (r.firstSentMs === undefined ? [] : [r.firstSentMs]));
    const limit = t.durationMs + BLOCK_INTERVAL_MS;
    const max = sent.length ? Math.max(...sent) : Infinity;
    out.push({
      name: `takeover after kill -9, lease ${t.durationMs / 1000} s: the standby's first signed transaction <= lease + 1 block (${limit / 1000} s)`,
      met: failed.length === 0 && runs.length > 0 && max <= limit,
      detail: failed.length ? `${failed.length} of ${runs.length} run(s) failed: ${failed[0].error}` : `max ${(max / 1000).toFixed(1)} s over ${runs.length} run(s)`,
    });
  }
  const extra = overhead.pg.roundTripsBeforeBroadcast;
  out.push({
    name: "state store: at most 1 extra database round trip before each journaled broadcast (PostgreSQL vs files)",
    met: extra <= 1,
    detail: `${extra.toFixed(1)} round trips before the broadcast, ${overhead.pg.roundTripsPerSend.toFixed(1)} per send in all`,
  });
  return out;
}

const s = (ms: number | undefined) => (ms === undefined ? "-" : `${(ms / 1000).toFixed(2)} s`);

export function formatHa(r: HaResult): string {
  const lines = ["high availability (two watch processes, one key, one state URL, PostgreSQL 15 on loopback, devnet automining)"];
  for (const [t, how] of [[SHORT, "kill"], [DEFAULTS, "kill"], [DEFAULTS, "stop"]] as const) {
    const runs = r.takeovers.filter((x) => x.how === how && x.durationMs === t.durationMs);
    const ok = runs.filter((x) => x.firstSentMs !== undefined);
    const what = how === "kill" ? "takeover, freeze + kill -9" : "handover, SIGTERM (the lease given back)";
    lines.push(`  ${what}, lease ${t.durationMs / 1000} s / refresh ${t.refreshMs / 1000} s (${ok.length} of ${runs.length} runs): -> standby holding, -> its first signed tx`);
    for (const x of runs) lines.push(x.error ? `    failed: ${x.error.slice(0, 300)}` : `    ${s(x.holdMs)}  ${s(x.firstSentMs)}`);
    if (ok.length > 1) {
      const hold = ok.map((x) => x.holdMs!);
      const sent = ok.map((x) => x.firstSentMs!);
      lines.push(`    median ${s(median(hold))}  ${s(median(sent))}; max ${s(Math.max(...hold))}  ${s(Math.max(...sent))}`);
    }
  }
  const f = r.overhead;
  lines.push(`  journal per send (${f.sends} sends each, ETH transfers through the one journaled sender; background writes awaited between sends):`);
  for (const [name, x] of [["files", f.files], ["postgres", f.pg], [`postgres, +${FAR_RTT_MS} ms RTT`, f.pgFar]] as const) {
    lines.push(`    ${name.padEnd(8)} send() to broadcast ${x.msToBroadcast.toFixed(1)} ms, send() to mined ${x.msPerSend.toFixed(1)} ms` +
      (name !== "files" ? `; ${x.roundTripsBeforeBroadcast.toFixed(1)} database round trips before the broadcast, ${x.roundTripsPerSend.toFixed(1)} in all` : ""));
  }
  lines.push(`    one journal line written alone (median of ${f.lineWrite.writes}): files ${f.lineWrite.filesMs.toFixed(2)} ms, postgres (fenced write) ${f.lineWrite.pgMs.toFixed(2)} ms`);
  if (f.statements.length) lines.push(`    statements per send (each PostgreSQL key): ${f.statements.map((x) => `${x.query} ${(x.calls / f.sends).toFixed(1)}`).join("; ")}`);
  const i = r.idle;
  lines.push(`  idle (defaults: lease 15 s, refresh 2 s; ${i.seconds.toFixed(1)} s): holder ${(i.holderRoundTrips / i.seconds).toFixed(2)} round trips/s, standby ${(i.standbyRoundTrips / i.seconds).toFixed(2)} round trips/s; ` +
    `${(i.statements.reduce((n, x) => n + x.calls, 0) / i.seconds).toFixed(2)} statements/s on the server (pg_stat_statements)`);
  lines.push(`    by statement: ${i.statements.map((x) => `${x.query} ${x.calls}`).join("; ")}`);
  for (const t of r.targets) lines.push(`  [${t.met ? "met" : "missed"}] ${t.name}: ${t.detail}`);
  lines.push(`  (this part ran ${r.seconds.toFixed(0)} s)`);
  return lines.join("\n");
}
