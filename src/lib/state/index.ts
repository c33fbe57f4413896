import { Journal } from "../chain/journal";
import { ExitCode, KeepctlError } from "../errors";
import { Lease } from "./lease";
import { PgJournalBackend } from "./pg-journal";
import type { LeaseRow, PgStateStore } from "./pg-store";
import type { LeaseTimings } from "./lease-rules";
import type { LeaseLostError } from "./errors";

/**
 * Where exactly-once state lives: the data dir's files (the default; see chain/journal.ts and
 * chain/account-lock.ts) or a PostgreSQL database shared by several hosts, where the account
 * lock becomes a fenced lease and the journal is shared (docs/high-availability.md).
 */
export interface SharedStateOptions {
  url: string;
  timings: LeaseTimings;
  /** The longest an RPC call may take (ms). */
  maxRpcMs: number;
  /** `<chain>-<account>`. */
  name: string;
  account: string;
  /** --dry-run: read the journal, take no lease. */
  readOnly: boolean;
  /** Wait as the standby while another holds the lease (watch); else refuse (exit 8). */
  wait: boolean;
  signal?: AbortSignal;
  onStandby?: (holder?: LeaseRow) => void;
  onHeld?: (epoch: number) => void;
  onLost?: (e: LeaseLostError) => void;
  onRenewError?: (e: unknown) => void;
}

export interface SharedState {
  store: PgStateStore;
  lease?: Lease;
  journal: Journal;
  close(): Promise<void>;
}

export async function openSharedState(o: SharedStateOptions): Promise<SharedState> {
  // Loaded only with --state-url: a one-machine keepctl never loads the PostgreSQL client.
  const { PgStateStore: Store } = await import("./pg-store");
  const store: PgStateStore = await Store.open(o.url, { queryTimeoutMs: Math.max(1_000, Math.min(5_000, Math.floor(o.timings.refreshMs * 2))) });
  try {
    if (o.readOnly) {
      const backend = new PgJournalBackend(store, o.name);
      await backend.load();
      return { store, journal: new Journal(backend), close: () => store.close() };
    }
    const lease = new Lease({ store, name: o.name, timings: o.timings, maxRpcMs: o.maxRpcMs, onLost: o.onLost, onRenewError: o.onRenewError });
    const epoch = await lease.acquire({
      wait: o.wait,
      signal: o.signal,
      onStandby: (info) => o.onStandby?.(info.holder),
      refuse: (row) =>
        new KeepctlError("ACCOUNT_LOCKED", ExitCode.ACCOUNT_CONFLICT, `account ${o.account} is in use by another keepctl (pid ${row?.pid ?? "?"} on ${row?.host ?? "?"}, lease epoch ${row?.epoch ?? "?"} in ${store.where})`, {
          hint: "one keepctl sends per account; stop that process first, or run `watch`, which waits as the standby",
        }),
    });
    // Taken: the whole shared journal, the old holder's in-flight lines included, before anything is settled or signed.
    const backend = new PgJournalBackend(store, o.name, lease);
    await backend.load();
    o.onHeld?.(epoch);
    let closing: Promise<void> | undefined;
    return {
      store,
      lease,
      journal: new Journal(backend),
      // Once, however often it is called: the last lines written, the lease given back, the pool ended.
      close: () =>
        (closing ??= (async () => {
          await backend.flush(false).catch(() => undefined);
          await lease.release();
          await store.close();
        })()),
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}

