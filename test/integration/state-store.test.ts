import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "pg";
import { startPostgres, type LocalPostgres } from "../../src/devnet/postgres";
import { startTcpProxy } from "../../src/devnet/tcp-proxy";
import { PgStateStore } from "../../src/lib/state/pg-store";
import { Lease } from "../../src/lib/state/lease";
import { PgJournalBackend } from "../../src/lib/state/pg-journal";
import { Journal } from "../../src/lib/chain/journal";
import { LeaseLostError, LeaseNotCurrentError } from "../../src/lib/state/errors";
import { SCHEMA_VERSION } from "../../src/lib/state/schema";
import { KeepctlError } from "../../src/lib/errors";

/**
 * The PostgreSQL state store against a real server (a throwaway cluster): the schema, the lease's
 * one upsert and its epochs (read back with plain SQL, not through the store), and the fenced
 * journal write that refuses a holder whose epoch is gone.
 */
let pg: LocalPostgres;
let sql: Client;
const stores: PgStateStore[] = [];
const open = async () => {
  const s = await PgStateStore.open(pg.url);
  stores.push(s);
  return s;
};
const row = async (name: string) => (await sql.query("SELECT holder, epoch::int AS epoch, expires_at > now() AS live FROM keepctl_lease WHERE name = $1", [name])).rows[0];

beforeAll(async () => {
  pg = await startPostgres();
  sql = new Client({ connectionString: pg.url });
  await sql.connect();
}, 120_000);

afterAll(async () => {
  for (const s of stores) await s.close();
  await sql?.end();
  await pg?.stop();
});

describe("schema", () => {
  it("creates its tables and records its version; opening again changes nothing", async () => {
    await open();
    await open();
    expect((await sql.query("SELECT version FROM keepctl_schema")).rows).toEqual([{ version: SCHEMA_VERSION }]);
    const tables = (await sql.query("SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'keepctl_%' ORDER BY 1")).rows.map((r) => r.table_name);
    expect(tables).toEqual(["keepctl_journal", "keepctl_lease", "keepctl_schema"]);
  });

  it("refuses a schema written by a newer keepctl (exit 3), and leaves it as it was", async () => {
    await sql.query("UPDATE keepctl_schema SET version = $1", [SCHEMA_VERSION + 1]);
    try {
      const e = await PgStateStore.open(pg.url).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(KeepctlError);
      expect((e as KeepctlError).code).toBe("STATE_SCHEMA_NEWER");
      expect((e as KeepctlError).exitCode).toBe(3);
      expect((e as Error).message).toBe(`the state database postgres://127.0.0.1:${pg.port}/*** has schema version ${SCHEMA_VERSION + 1}, written by a newer keepctl (this one knows up to ${SCHEMA_VERSION})`);
      expect((await sql.query("SELECT version FROM keepctl_schema")).rows).toEqual([{ version: SCHEMA_VERSION + 1 }]);
    } finally {
      await sql.query("UPDATE keepctl_schema SET version = $1", [SCHEMA_VERSION]);
    }
  });

  it("a wrong password is exit 3 STATE_AUTH, the password in no message; a closed port is exit 4", async () => {
    const bad = pg.url.replace(pg.password, "wrong-password-123");
    const e = (await PgStateStore.open(bad).catch((x: unknown) => x)) as KeepctlError;
    expect([e.code, e.exitCode]).toEqual(["STATE_AUTH", 3]);
    expect(e.message).not.toContain("wrong-password-123");
    expect(e.message).toMatch(/password authentication failed/);
    const closed = (await PgStateStore.open(`postgres://keepctl:x@127.0.0.1:1/postgres`).catch((x: unknown) => x)) as KeepctlError;
    expect([closed.code, closed.exitCode]).toEqual(["STATE_UNREACHABLE", 4]);
  });
});

describe("the lease", () => {
  it("one upsert: taken when free, renewed by its holder at the same epoch, refused to another while live", async () => {
    const s = await open();
    const who = { host: "h", pid: 1 };
    expect(await s.upsertLease("L1", "a", 60_000, who)).toMatchObject({ won: true, epoch: 1 });
    expect(await s.upsertLease("L1", "a", 60_000, who)).toMatchObject({ won: true, epoch: 1 });
    const refused = await s.upsertLease("L1", "b", 60_000, who);
    expect(refused).toMatchObject({ won: false, epoch: 1 });
    expect(refused.row?.holder).toBe("a");
    expect(await row("L1")).toEqual({ holder: "a", epoch: 1, live: true });
  });

  it("an expired lease (by the database's clock) is taken by another at the next epoch, every takeover +1", async () => {
    const s = await open();
    const who = { host: "h", pid: 1 };
    await s.upsertLease("L2", "a", 60_000, who);
    await sql.query("UPDATE keepctl_lease SET expires_at = now() - interval '1 second' WHERE name = 'L2'");
    expect(await s.upsertLease("L2", "b", 60_000, who)).toMatchObject({ won: true, epoch: 2 });
    expect(await s.upsertLease("L2", "a", 60_000, who)).toMatchObject({ won: false, epoch: 2 });
    await sql.query("UPDATE keepctl_lease SET expires_at = now() - interval '1 second' WHERE name = 'L2'");
    expect(await s.upsertLease("L2", "a", 60_000, who)).toMatchObject({ won: true, epoch: 3 });
    expect(await row("L2")).toEqual({ holder: "a", epoch: 3, live: true });
  });

  it("a standby waits, says so once, and takes over at the next epoch when the holder gives the lease up", async () => {
    const s = await open();
    const timings = { refreshMs: 100, durationMs: 1000 };
    const lost: LeaseLostError[] = [];
    const a = new Lease({ store: s, name: "L3", timings, maxRpcMs: 100, onLost: (e) => lost.push(e) });
    const refuse = () => new Error("refused");
    expect(await a.acquire({ wait: false, refuse })).toBe(1);
    const b = new Lease({ store: s, name: "L3", timings, maxRpcMs: 100 });
    await expect(b.acquire({ wait: false, refuse })).rejects.toThrow("refused");
    let standbyTold = 0;
    const taking = b.acquire({ wait: true, refuse, onStandby: () => standbyTold++ });
    await new Promise((r) => setTimeout(r, 400));
    // a stops renewing (as if paused): its row expires by the database's clock, b takes it.
    await a.release();
    expect(await taking).toBe(2);
    expect(standbyTold).toBe(1);
    expect(await row("L3")).toMatchObject({ holder: b.holder, epoch: 2 });
    await b.release();
  });

  it("fenced journal writes: written for the holder, refused for a holder whose epoch is gone", async () => {
    const s = await open();
    const timings = { refreshMs: 100, durationMs: 1500 };
    const a = new Lease({ store: s, name: "L4", timings, maxRpcMs: 100 });
    await a.acquire({ wait: false, refuse: () => new Error("refused") });
    const ja = new PgJournalBackend(s, "L4", a);
    await ja.load();
    const journalA = new Journal(ja);
    journalA.begin("d1:redeem", { account: "0xabc" });
    await journalA.hooks("d1:redeem").beforeBroadcast("0x02aa", "0x" + "11".repeat(32), 0, { label: "x", attempt: 1 });
    const lines = async () => (await sql.query("SELECT epoch::int AS epoch, line FROM keepctl_journal WHERE scope = 'L4' ORDER BY id")).rows.map((r) => [r.epoch, JSON.parse(r.line).state]);
    expect(await lines()).toEqual([[1, "planned"], [1, "sending"]]);

    // b takes over (a's row forced to expire), reads the shared journal: a's tx is in flight, ours.
    await sql.query("UPDATE keepctl_lease SET expires_at = now() - interval '1 second' WHERE name = 'L4'");
    const b = new Lease({ store: s, name: "L4", timings, maxRpcMs: 100 });
    await b.acquire({ wait: false, refuse: () => new Error("refused") });
    const jb = new PgJournalBackend(s, "L4", b);
    await jb.load();
    expect(new Journal(jb).resume("0xabc").map((e) => [e.key, e.attempts.map((x) => x.nonce)])).toEqual([["d1:redeem", [0]]]);
    expect(new Journal(jb).nonces("0xabc")).toEqual([0]);

    // a, unaware (its renewal has not run yet), tries to journal another signed tx: refused, nothing written.
    journalA.begin("d2:redeem", { account: "0xabc" });
    const e = await journalA.hooks("d2:redeem").beforeBroadcast("0x02bb", "0x" + "22".repeat(32), 1, { label: "x", attempt: 1 }).then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(LeaseLostError);
    expect((e as KeepctlError).exitCode).toBe(14);
    expect(await lines()).toEqual([[1, "planned"], [1, "sending"]]);
    // and stays fenced: no later write is tried
    expect(() => a.assertMaySign()).toThrow(LeaseLostError);
    await b.release();
  });

  it("confirm(): a renewal now, awaited: resolves while the lease is ours, LeaseLostError once another holds it", async () => {
    const s = await open();
    const timings = { refreshMs: 60_000, durationMs: 120_000 };
    const lost: LeaseLostError[] = [];
    const a = new Lease({ store: s, name: "L6", timings, maxRpcMs: 100, onLost: (e) => lost.push(e) });
    await a.acquire({ wait: false, refuse: () => new Error("refused") });
    const before = (await sql.query("SELECT expires_at FROM keepctl_lease WHERE name = 'L6'")).rows[0].expires_at as Date;
    await new Promise((r) => setTimeout(r, 20));
    await a.confirm();
    // it renewed (the row's expiry moved on), at the same epoch
    const after = (await sql.query("SELECT expires_at FROM keepctl_lease WHERE name = 'L6'")).rows[0].expires_at as Date;
    expect(after.getTime()).toBeGreaterThan(before.getTime());
    expect(await row("L6")).toMatchObject({ holder: a.holder, epoch: 1, live: true });
    // b takes over (a's row forced to expire); a's ticker has not run (refresh 60 s): confirm() finds out.
    await sql.query("UPDATE keepctl_lease SET expires_at = now() - interval '1 second' WHERE name = 'L6'");
    const b = new Lease({ store: s, name: "L6", timings, maxRpcMs: 100 });
    await b.acquire({ wait: false, refuse: () => new Error("refused") });
    const e = await a.confirm().then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(LeaseLostError);
    expect((e as KeepctlError).exitCode).toBe(14);
    expect(lost).toHaveLength(1);
    expect(() => a.assertMaySign()).toThrow(LeaseLostError);
    // b's lease is untouched by a's attempt
    expect(await row("L6")).toMatchObject({ holder: b.holder, epoch: 2, live: true });
    await b.release();
  });

  it("confirm() over a cut link gives no verdict: LeaseNotCurrentError (exit 4), the lease not lost; the link back, it confirms", async () => {
    const proxy = await startTcpProxy({ host: "127.0.0.1", port: pg.port });
    try {
      const s = await PgStateStore.open(pg.url.replace(`:${pg.port}/`, `:${proxy.port}/`), { queryTimeoutMs: 500 });
      stores.push(s);
      const a = new Lease({ store: s, name: "L7", timings: { refreshMs: 60_000, durationMs: 120_000 }, maxRpcMs: 100 });
      await a.acquire({ wait: false, refuse: () => new Error("refused") });
      proxy.cut();
      const e = await a.confirm().then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(LeaseNotCurrentError);
      expect((e as KeepctlError).exitCode).toBe(4);
      expect(a.lost).toBeUndefined();
      proxy.restore();
      await a.confirm();
      expect(await row("L7")).toMatchObject({ holder: a.holder, epoch: 1, live: true });
      await a.release();
    } finally {
      await proxy.close();
    }
  });

  it("a holder whose renewals are not confirmed within the window stops signing (not lost)", async () => {
    const s = await open();
    let t = 0;
    const a = new Lease({ store: s, name: "L5", timings: { refreshMs: 60_000, durationMs: 120_000 }, maxRpcMs: 10_000, now: () => t });
    await a.acquire({ wait: false, refuse: () => new Error("refused") });
    expect(a.windowMs).toBe(50_000);
    t = 49_999;
    expect(() => a.assertMaySign()).not.toThrow();
    t = 50_000;
    expect(() => a.assertMaySign()).toThrow(LeaseNotCurrentError);
    await a.renew();
    expect(() => a.assertMaySign()).not.toThrow();
    await a.release();
  });
});
