import { Journal, type JournalBackend, type JournalEntry } from "../chain/journal";
import type { PgStateStore } from "./pg-store";

/**
 * `keepctl state status`: what the state database says about every account on it — who holds
 * the lease (host, pid, epoch), until when by the database's clock, and which journaled
 * transactions are still in flight (what a takeover would settle first). Read-only.
 */
export interface InFlightEntry {
  key: string;
  state: string;
  nonces: number[];
  hashes: string[];
}

export interface AccountStateStatus {
  /** The lease and journal name: `<chain id>-<genesis prefix>-<account>`. */
  name: string;
  chain: string;
  account: string;
  lease?: { host: string; pid: number; epoch: number; acquiredAt: Date; expiresAt: Date; live: boolean; remainingMs: number };
  journalLines: number;
  inFlight: InFlightEntry[];
}

export interface StateStatus {
  where: string;
  dbNow: Date;
  accounts: AccountStateStatus[];
}

/** `<chain>-<account>` split at the account (the chain part holds dashes itself). */
export function splitStateName(name: string): { chain: string; account: string } {
  const i = name.lastIndexOf("-");
  return i < 0 ? { chain: "", account: name } : { chain: name.slice(0, i), account: name.slice(i + 1) };
}

/** The in-flight entries of journal lines (folded as any journal is; a fixed list, never written). */
export function inFlightOf(lines: string[], where = "the state database"): InFlightEntry[] {
  const backend: JournalBackend = { where, lines: () => lines, append: () => { throw new Error("read-only journal"); } };
  return new Journal(backend).resume().map((e: JournalEntry) => ({ key: e.key, state: e.state, nonces: e.attempts.map((a) => a.nonce), hashes: e.attempts.map((a) => a.hash) }));
}

export async function readStateStatus(store: PgStateStore): Promise<StateStatus> {
  const [leases, scopes, dbNow] = await Promise.all([store.leaseRows(), store.journalScopes(), store.now()]);
  const names = [...new Set([...leases.map((l) => l.name), ...scopes.map((s) => s.scope)])].sort();
  const accounts: AccountStateStatus[] = [];
  for (const name of names) {
    const l = leases.find((x) => x.name === name)?.row;
    const lines = scopes.some((s) => s.scope === name) ? await store.journalLines(name) : [];
    const remainingMs = l ? l.expiresAt.getTime() - l.dbNow.getTime() : 0;
    accounts.push({
      name,
      ...splitStateName(name),
      lease: l && { host: l.host, pid: l.pid, epoch: l.epoch, acquiredAt: l.acquiredAt, expiresAt: l.expiresAt, live: remainingMs > 0, remainingMs },
      journalLines: lines.length,
      inFlight: inFlightOf(lines, `the journal ${name} in ${store.where}`),
    });
  }
  return { where: store.where, dbNow, accounts };
}
