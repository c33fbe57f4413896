import { Pool, type PoolClient } from "pg";
import { redactUrl } from "../redact";
import { shortMessageOf } from "../errors";
import { StateUnreachableError, stateConfigError } from "./errors";
import { MIGRATIONS, MIN_SERVER_MAJOR, SCHEMA_VERSION, judgeSchema } from "./schema";

/**
 * The PostgreSQL state store: one pool, the schema check, and the few statements the lease and
 * the shared journal need. All time is the database's (`now()`): the hosts' clocks may differ.
 */
export interface LeaseRow {
  holder: string;
  epoch: number;
  expiresAt: Date;
  host: string;
  pid: number;
  /** The database's time when the row was read. */
  dbNow: Date;
}

export interface UpsertAnswer {
  won: boolean;
  epoch: number;
  /** The row as it is after the upsert (someone else's when not won). */
  row?: LeaseRow;
}

/** What a fenced journal write found: written, or refused because the lease is not ours (or about to expire). */
export type FencedWrite = "written" | "lost" | "expiring";

export interface PgStoreOptions {
  /** Per-statement limit (ms): a hung server must not hold a renewal past the signing window. */
  queryTimeoutMs?: number;
}

// One key for the migration's transaction lock: two keepctls starting at once migrate once.
const MIGRATION_LOCK = 0x6b656570;

export class PgStateStore {
  private closed = false;

  private constructor(
    private readonly pool: Pool,
    /** The URL cut to its origin: safe in every message. */
    readonly where: string,
  ) {}

  static async open(url: string, o: PgStoreOptions = {}): Promise<PgStateStore> {
    const timeout = o.queryTimeoutMs ?? 5_000;
    const pool = new Pool({
      connectionString: url,
      max: 4,
      connectionTimeoutMillis: timeout,
      idleTimeoutMillis: 10_000,
      query_timeout: timeout,
      statement_timeout: timeout,
      // A transaction left open by a paused process must not hold the lease row's lock.
      idle_in_transaction_session_timeout: Math.max(timeout, 1_000),
      application_name: "keepctl",
    });
    // An idle connection the server closes emits here; unhandled, it would end the process.
    pool.on("error", () => undefined);
    const store = new PgStateStore(pool, redactUrl(url));
    try {
      await store.checkServer();
      await store.migrate();
    } catch (e) {
      await store.close();
      throw e;
    }
    return store;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end().catch(() => undefined);
  }

  /** Maps the driver's failures to keepctl's: unreachable (4), refused login or wrong database (3). */
  mapError(e: unknown): Error {
    if (e instanceof Error && "exitCode" in e) return e;
    const code = (e as { code?: string }).code;
    const msg = shortMessageOf(e);
    if (code === "28P01" || code === "28000") {
      return stateConfigError("STATE_AUTH", `the state database ${this.where} refused the login: ${msg}`, "check the user and password in the state URL (KEEPCTL_STATE_URL_FILE)", e);
    }
    if (code === "3D000") return stateConfigError("STATE_DATABASE", `the state database ${this.where} does not exist: ${msg}`, "create it (createdb) or name an existing one in the state URL", e);
    if (code === "42501") return stateConfigError("STATE_PERMISSION", `the state database ${this.where} refused keepctl: ${msg}`, "grant the user CREATE on the database (keepctl creates its tables)", e);
    return new StateUnreachableError(`the state database ${this.where} did not answer: ${msg}`, e);
  }

  private async q<T extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    try {
      return (await this.pool.query<T>(sql, params)).rows;
    } catch (e) {
      throw this.mapError(e);
    }
  }

  private async checkServer(): Promise<void> {
    const [row] = await this.q<{ server_version_num: string }>("SHOW server_version_num");
    const major = Math.floor(Number(row.server_version_num) / 10_000);
    if (!(major >= MIN_SERVER_MAJOR)) {
      throw stateConfigError("STATE_SERVER_VERSION", `the state database ${this.where} runs PostgreSQL ${major}; keepctl needs ${MIN_SERVER_MAJOR} or newer`, "upgrade the server, or point --state-url at a newer one");
    }
  }

  private async migrate(): Promise<void> {
    await this.tx(async (c) => {
      await c.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
      await c.query("CREATE TABLE IF NOT EXISTS keepctl_schema (version integer NOT NULL)");
      const rows = (await c.query<{ version: number }>("SELECT version FROM keepctl_schema")).rows;
      const v = judgeSchema(rows[0]?.version ?? 0);
      if (v.kind === "newer") {
        throw stateConfigError("STATE_SCHEMA_NEWER", `the state database ${this.where} has schema version ${v.found}, written by a newer keepctl (this one knows up to ${v.ours})`, "upgrade keepctl on this host; never run an older keepctl against a newer schema");
      }
      if (v.kind === "current") return;
      for (let i = v.from; i < v.to; i++) await c.query(MIGRATIONS[i]);
      if (rows.length) await c.query("UPDATE keepctl_schema SET version = $1", [SCHEMA_VERSION]);
      else await c.query("INSERT INTO keepctl_schema (version) VALUES ($1)", [SCHEMA_VERSION]);
    });
  }

  private async tx<T>(body: (c: PoolClient) => Promise<T>): Promise<T> {
    let c: PoolClient;
    try {
      c = await this.pool.connect();
    } catch (e) {
      throw this.mapError(e);
    }
    // A checked-out client has no pool listener: a link that dies mid-transaction (a reset, a
    // proxy closing it) would otherwise emit an unhandled 'error' and end the process.
    let broken: Error | undefined;
    const onError = (e: Error) => void (broken ??= e);
    c.on("error", onError);
    try {
      await c.query("BEGIN");
      const out = await body(c);
      await c.query("COMMIT");
      return out;
    } catch (e) {
      broken ??= e instanceof Error ? e : new Error(String(e));
      await c.query("ROLLBACK").catch(() => undefined);
      throw this.mapError(e);
    } finally {
      c.removeListener("error", onError);
      // A failed transaction's connection is dropped, not reused: it may be dead or mid-query.
      c.release(broken);
    }
  }

  /**
   * Takes or renews `name` for `holder`: one upsert that succeeds only when the row is ours or
   * expired (database time). The epoch grows whenever the holder changes — the fencing token.
   */
  async upsertLease(name: string, holder: string, durationMs: number, who: { host: string; pid: number }): Promise<UpsertAnswer> {
    const won = await this.q<{ epoch: string }>(
      `INSERT INTO keepctl_lease AS l (name, holder, epoch, expires_at, acquired_at, host, pid)
       VALUES ($1, $2, 1, now() + $3 * interval '1 millisecond', now(), $4, $5)
       ON CONFLICT (name) DO UPDATE SET
         epoch = CASE WHEN l.holder = EXCLUDED.holder THEN l.epoch ELSE l.epoch + 1 END,
         acquired_at = CASE WHEN l.holder = EXCLUDED.holder THEN l.acquired_at ELSE now() END,
         holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at, host = EXCLUDED.host, pid = EXCLUDED.pid
       WHERE l.holder = EXCLUDED.holder OR l.expires_at < now()
       RETURNING epoch`,
      [name, holder, durationMs, who.host, who.pid],
    );
    if (won.length) return { won: true, epoch: Number(won[0].epoch) };
    const row = await this.leaseRow(name);
    return { won: false, epoch: row?.epoch ?? 0, row };
  }

  async leaseRow(name: string): Promise<LeaseRow | undefined> {
    const [r] = await this.q<{ holder: string; epoch: string; expires_at: Date; host: string; pid: number; db_now: Date }>(
      "SELECT holder, epoch, expires_at, host, pid, now() AS db_now FROM keepctl_lease WHERE name = $1",
      [name],
    );
    return r ? { holder: r.holder, epoch: Number(r.epoch), expiresAt: r.expires_at, host: r.host, pid: r.pid, dbNow: r.db_now } : undefined;
  }

  /** Gives the lease up at once (a clean stop): the standby need not wait for it to expire. */
  async releaseLease(name: string, holder: string): Promise<void> {
    await this.q("UPDATE keepctl_lease SET expires_at = now() WHERE name = $1 AND holder = $2 AND expires_at > now()", [name, holder]);
  }

  /**
   * Appends journal lines in the one transaction that proves the lease is still ours at `epoch`
   * (the row is read FOR SHARE, so a takeover's upsert waits for this commit, and a write after
   * the takeover sees the new epoch). `marginMs`: the lease must also have this long left.
   */
  async appendFenced(f: { scope: string; lease: string; holder: string; epoch: number; marginMs: number }, lines: readonly string[]): Promise<FencedWrite> {
    return this.tx(async (c) => {
      const r = await c.query<{ holder: string; epoch: string; fresh: boolean }>(
        "SELECT holder, epoch, expires_at > now() + $2 * interval '1 millisecond' AS fresh FROM keepctl_lease WHERE name = $1 FOR SHARE",
        [f.lease, f.marginMs],
      );
      const row = r.rows[0];
      if (!row || row.holder !== f.holder || Number(row.epoch) !== f.epoch) return "lost";
      if (!row.fresh) return "expiring";
      await c.query("INSERT INTO keepctl_journal (scope, epoch, line) SELECT $1, $2, unnest($3::text[])", [f.scope, f.epoch, lines]);
      return "written";
    });
  }

  /** Every lease row, by name, with the database's time of the read (keepctl state status). */
  async leaseRows(): Promise<{ name: string; row: LeaseRow & { acquiredAt: Date } }[]> {
    const rows = await this.q<{ name: string; holder: string; epoch: string; expires_at: Date; acquired_at: Date; host: string; pid: number; db_now: Date }>(
      "SELECT name, holder, epoch, expires_at, acquired_at, host, pid, now() AS db_now FROM keepctl_lease ORDER BY name",
    );
    return rows.map((r) => ({ name: r.name, row: { holder: r.holder, epoch: Number(r.epoch), expiresAt: r.expires_at, acquiredAt: r.acquired_at, host: r.host, pid: r.pid, dbNow: r.db_now } }));
  }

  /** Every journal scope and its line count. */
  async journalScopes(): Promise<{ scope: string; lines: number }[]> {
    return (await this.q<{ scope: string; n: string }>("SELECT scope, count(*) AS n FROM keepctl_journal GROUP BY scope ORDER BY scope")).map((r) => ({ scope: r.scope, lines: Number(r.n) }));
  }

  /** The database's clock. */
  async now(): Promise<Date> {
    return (await this.q<{ now: Date }>("SELECT now() AS now"))[0].now;
  }

  /** Every journal line of `scope`, in the order written. */
  async journalLines(scope: string): Promise<string[]> {
    return (await this.q<{ line: string }>("SELECT line FROM keepctl_journal WHERE scope = $1 ORDER BY id", [scope])).map((r) => r.line);
  }
}

