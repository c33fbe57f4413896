import { ExitCode, KeepctlError } from "../errors";
import { Lease } from "./lease";
import { LeaseLostError, LeaseNotCurrentError, stateConfigError } from "./errors";
import type { LeaseTimings } from "./lease-rules";
import type { PgStateStore } from "./pg-store";

/**
 * `keepctl state migrate`: a data dir's file journal moved into the state database, so that the
 * first `watch --state-url` settles what the one-machine keepctl left in flight instead of taking
 * its transactions for foreign ones. Only the lines of one account move (a data dir may have
 * served several); they are written as they were, in order, under the account's lease.
 */

/** The accounts the journal's entries belong to (lower case, first seen first). */
export function accountsOfLines(lines: readonly string[]): string[] {
  const out: string[] = [];
  for (const l of parseLines(lines)) if (l.account && !out.includes(l.account.toLowerCase())) out.push(l.account.toLowerCase());
  return out;
}

/** The lines of the entries of `account`: an entry's lines follow its key, whose `planned` line names the account. */
export function linesOfAccount(lines: readonly string[], account: string): string[] {
  const me = account.toLowerCase();
  const owner = new Map<string, string | undefined>();
  const out: string[] = [];
  for (const l of parseLines(lines)) {
    if (l.account) owner.set(l.key, l.account.toLowerCase());
    if (owner.get(l.key) === me) out.push(l.raw);
  }
  return out;
}

function parseLines(lines: readonly string[]): { key: string; account?: string; raw: string }[] {
  const out: { key: string; account?: string; raw: string }[] = [];
  lines.forEach((raw, i) => {
    if (!raw.trim()) return;
    try {
      const l = JSON.parse(raw) as { key?: unknown; account?: unknown };
      if (typeof l.key === "string") out.push({ key: l.key, account: typeof l.account === "string" ? l.account : undefined, raw });
    } catch (e) {
      // A torn last line never counted (as in every fold of the journal); anything else is damage.
      if (i >= lines.length - 2) return;
      throw new KeepctlError("JOURNAL_CORRUPT", ExitCode.CONFIG, `journal line ${i + 1} is not JSON`, { cause: e, hint: "fix or move the file aside; nothing was migrated" });
    }
  });
  return out;
}

export interface MigrateOptions {
  store: PgStateStore;
  /** `<chain>-<account>`: the lease and journal name. */
  name: string;
  account: string;
  /** The account's lines, in the order written. */
  lines: string[];
  timings: LeaseTimings;
}

/**
 * Writes the lines under the account's lease, taken without waiting (a watcher on the state URL
 * holding it: ACCOUNT_LOCKED, exit 8), into an empty journal only (STATE_NOT_EMPTY, exit 3: the
 * database already has this account's history and two histories are not merged).
 */
export async function migrateJournalLines(o: MigrateOptions): Promise<{ written: number }> {
  const lease = new Lease({ store: o.store, name: o.name, timings: o.timings, maxRpcMs: 0 });
  await lease.acquire({
    wait: false,
    refuse: (row) =>
      new KeepctlError("ACCOUNT_LOCKED", ExitCode.ACCOUNT_CONFLICT, `account ${o.account} is in use on the state database ${o.store.where} (pid ${row?.pid ?? "?"} on ${row?.host ?? "?"}, lease epoch ${row?.epoch ?? "?"}): nothing migrated`, {
        hint: "stop every keepctl of this account first; migrate before the first run with --state-url",
      }),
  });
  try {
    const existing = (await o.store.journalLines(o.name)).length;
    if (existing > 0) {
      throw stateConfigError("STATE_NOT_EMPTY", `the state database ${o.store.where} already holds ${existing} journal line(s) of ${o.name}: nothing migrated`, "migrate only into a database this account has not used yet (its journal there is the newer one)");
    }
    if (!o.lines.length) return { written: 0 };
    const answer = await o.store.appendFenced({ scope: o.name, lease: o.name, holder: lease.holder, epoch: lease.epoch!, marginMs: 0 }, o.lines);
    if (answer === "lost") throw new LeaseLostError(`the lease ${o.name} was taken while migrating: nothing migrated`);
    if (answer === "expiring") throw new LeaseNotCurrentError(`the lease ${o.name} expired while migrating: nothing migrated`);
    return { written: o.lines.length };
  } finally {
    await lease.release();
  }
}

/**
 * The in-flight transactions of a data dir's file journal that the shared journal does not hold
 * (by hash). Such a transaction may still be mined; the shared journal's holder would take it for
 * a foreign sender's, or sign its action again: `keepctl state migrate` first.
 */
export function unmigratedInFlight(fileInFlight: readonly { key: string; attempts: readonly { hash: string }[] }[], sharedHashes: ReadonlySet<string>): string[] {
  return fileInFlight.filter((e) => e.attempts.some((a) => !sharedHashes.has(a.hash.toLowerCase()))).map((e) => e.key);
}

export function notMigratedError(dataDir: string, account: string, keys: readonly string[]): KeepctlError {
  return stateConfigError(
    "JOURNAL_NOT_MIGRATED",
    `the data dir ${dataDir} has ${keys.length} transaction(s) of ${account} in flight (${keys.slice(0, 3).join(", ")}${keys.length > 3 ? ", ..." : ""}) that the state database does not know: nothing sent`,
    `move them first: keepctl state migrate --from ${dataDir} (or settle them with a run without --state-url)`,
  );
}
