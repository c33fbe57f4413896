import type { JournalBackend } from "../chain/journal";
import { LeaseNotCurrentError } from "./errors";
import type { Lease } from "./lease";
import type { PgStateStore } from "./pg-store";

/**
 * The journal's lines in the state database, shared by every keepctl on the same state URL and
 * account. Only the lease holder writes, so its in-memory copy (loaded when it took the lease) is
 * the whole journal. Ordinary lines are written in the background, in order; the line of a
 * signed transaction is written — together with any still waiting — in the transaction that
 * checks the lease epoch, and only then may the transaction be broadcast. A holder whose epoch is
 * gone gets LeaseLostError there, so nothing it signs after a takeover leaves the process.
 */
export class PgJournalBackend implements JournalBackend {
  private cache: string[] = [];
  private waiting: string[] = [];
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: PgStateStore,
    private readonly scope: string,
    /** Undefined for a read-only journal (--dry-run): appends then stay in memory. */
    private readonly lease?: Lease,
  ) {}

  get where(): string {
    return `the journal ${this.scope} in the state database ${this.store.where}`;
  }

  /** Reads the whole shared journal (after taking the lease: the old holder's lines included). */
  async load(): Promise<void> {
    this.cache = await this.store.journalLines(this.scope);
    this.waiting = [];
  }

  lines(): string[] {
    return [...this.cache];
  }

  append(line: string): void {
    this.cache.push(line);
    if (!this.lease) return;
    this.waiting.push(line);
    // In the background and in order; a failure keeps the lines waiting for the next write.
    void this.flush(false).catch(() => undefined);
  }

  async appendBeforeBroadcast(line: string): Promise<void> {
    if (!this.lease) throw new LeaseNotCurrentError("this journal is read-only (no lease held): nothing may be signed");
    this.lease.assertMaySign();
    this.waiting.push(line);
    try {
      await this.flush(true);
    } catch (e) {
      // Not written: this transaction never leaves the process, so its line must not count.
      this.waiting = this.waiting.filter((l) => l !== line);
      throw e;
    }
    this.cache.push(line);
  }

  /** Writes every waiting line in one fenced transaction (serialised: one write at a time). */
  flush(beforeBroadcast: boolean): Promise<void> {
    const next = this.chain.then(() => this.writeWaiting(beforeBroadcast));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async writeWaiting(beforeBroadcast: boolean): Promise<void> {
    const lease = this.lease!;
    if (lease.lost) throw lease.lost;
    const lines = this.waiting.slice();
    if (!lines.length) return;
    const epoch = lease.epoch!;
    const answer = await this.store.appendFenced({ scope: this.scope, lease: lease.name, holder: lease.holder, epoch, marginMs: beforeBroadcast ? lease.marginMs : 0 }, lines);
    if (answer === "lost") throw lease.markLost(`the lease ${lease.name} is no longer this process's (epoch ${epoch} is gone): signing nothing more`);
    if (answer === "expiring") throw new LeaseNotCurrentError(`the lease ${lease.name} has less than ${Math.round(lease.marginMs / 1000)} s left by the database's clock: not signing until it is renewed`);
    this.waiting = this.waiting.slice(lines.length);
  }
}
