import crypto from "node:crypto";
import os from "node:os";
import { performance } from "node:perf_hooks";
import { InterruptedError, shortMessageOf } from "../errors";
import { sleep } from "../chain/sleep";
import { LeaseLostError, LeaseNotCurrentError, StateUnreachableError } from "./errors";
import { judgeLease, maySign, retryDelayMs, signingWindowMs, type LeaseTimings } from "./lease-rules";
import type { LeaseRow, PgStateStore } from "./pg-store";

/**
 * The account's lease in the state database: taken (or waited for, as the standby), renewed on a
 * ticker, and checked before every signature. Losing it — another holder, or a newer epoch — is
 * final for this process (onLost, then LeaseLostError on any further signing). Failing to renew
 * is not: signing pauses once the signing window since the last confirmed renewal has passed.
 */
export interface LeaseOptions {
  store: PgStateStore;
  /** `<chain>-<account>`, like the file lock's name. */
  name: string;
  timings: LeaseTimings;
  /** The longest one RPC call may take (ms): a broadcast must land before the lease can expire. */
  maxRpcMs: number;
  onLost?: (e: LeaseLostError) => void;
  /** A renewal failed (the first of a run of failures only). */
  onRenewError?: (e: unknown) => void;
  /** Monotonic clock (tests). */
  now?: () => number;
  random?: () => number;
}

export interface StandbyInfo {
  holder?: LeaseRow;
}

export class Lease {
  /** Random per process: a restarted keepctl on the same host is a new holder (a new epoch). */
  readonly holder = crypto.randomUUID();
  private epochHeld?: number;
  private renewedAt?: number;
  private lostError?: LeaseLostError;
  private timer?: NodeJS.Timeout;
  private renewing = false;
  private failingSince?: number;
  private readonly now: () => number;
  readonly windowMs: number;

  constructor(private readonly o: LeaseOptions) {
    this.now = o.now ?? (() => performance.now());
    this.windowMs = signingWindowMs(o.timings, o.maxRpcMs);
  }

  get name(): string {
    return this.o.name;
  }

  get epoch(): number | undefined {
    return this.epochHeld;
  }

  get held(): boolean {
    return this.epochHeld !== undefined && !this.lostError;
  }

  get lost(): LeaseLostError | undefined {
    return this.lostError;
  }

  /**
   * Takes the lease. `wait`: as the standby, retry every refresh (±10 %) until it is ours,
   * calling onStandby once; otherwise a lease held by another is refused at once with the error
   * `refuse(row)` builds (ACCOUNT_LOCKED, like the file lock).
   */
  async acquire(o: { wait: boolean; signal?: AbortSignal; onStandby?: (info: StandbyInfo) => void; onUnreachable?: (e: StateUnreachableError) => void; refuse: (row?: LeaseRow) => Error }): Promise<number> {
    let told = false;
    let unreachable = false;
    for (;;) {
      if (o.signal?.aborted) throw new InterruptedError("interrupted while waiting for the lease");
      const sentAt = this.now();
      let answer;
      try {
        answer = await this.o.store.upsertLease(this.o.name, this.holder, this.o.timings.durationMs, { host: os.hostname(), pid: process.pid });
      } catch (e) {
        // The standby outlives the database's outages (a restart, a lost link): it only waits,
        // and signs nothing until it holds the lease. (A database that never answered failed
        // earlier, when the store was opened: a wrong URL does not look like a healthy standby.)
        if (!o.wait || !(e instanceof StateUnreachableError)) throw e;
        if (!unreachable) o.onUnreachable?.(e);
        unreachable = true;
        await sleep(retryDelayMs(this.o.timings.refreshMs, (this.o.random ?? Math.random)()), o.signal);
        continue;
      }
      unreachable = false;
      const v = judgeLease(undefined, answer);
      if (v.kind === "held") {
        this.epochHeld = v.epoch;
        this.renewedAt = sentAt;
        this.schedule();
        return v.epoch;
      }
      if (!o.wait) throw o.refuse(answer.row);
      if (!told) {
        told = true;
        o.onStandby?.({ holder: answer.row });
      }
      await sleep(retryDelayMs(this.o.timings.refreshMs, (this.o.random ?? Math.random)()), o.signal);
    }
  }

  private schedule(): void {
    if (this.lostError) return;
    this.timer = setTimeout(() => void this.renew(), this.o.timings.refreshMs);
    this.timer.unref();
  }

  /** One renewal; the next is scheduled after it (a slow database never stacks renewals). */
  async renew(): Promise<void> {
    if (this.renewing || this.lostError || this.epochHeld === undefined) return;
    this.renewing = true;
    const sentAt = this.now();
    try {
      const answer = await this.o.store.upsertLease(this.o.name, this.holder, this.o.timings.durationMs, { host: os.hostname(), pid: process.pid });
      const v = judgeLease(this.epochHeld, answer);
      this.failingSince = undefined;
      if (v.kind === "held") this.renewedAt = sentAt;
      else this.markLost(this.lostMessage(answer));
    } catch (e) {
      if (this.failingSince === undefined) {
        this.failingSince = sentAt;
        this.o.onRenewError?.(e);
      }
    } finally {
      this.renewing = false;
      this.schedule();
    }
  }

  /**
   * A renewal now, awaited, for the nonce guard: before it blames "another sender" for nonces it
   * cannot explain, the holder learns whether that sender is the keepctl that took its lease
   * (LeaseLostError, exit 14). A renewal that fails gives no verdict (LeaseNotCurrentError: the
   * pass fails, nothing is signed, the next one asks again). Returns when the lease is still ours.
   */
  async confirm(): Promise<void> {
    if (this.lostError) throw this.lostError;
    if (this.epochHeld === undefined) return;
    const sentAt = this.now();
    let answer;
    try {
      answer = await this.o.store.upsertLease(this.o.name, this.holder, this.o.timings.durationMs, { host: os.hostname(), pid: process.pid });
    } catch (e) {
      throw new LeaseNotCurrentError(`the lease ${this.o.name} could not be confirmed (${shortMessageOf(e)}): the account's nonces are not judged, and nothing is signed, until it is`);
    }
    if (judgeLease(this.epochHeld, answer).kind !== "held") throw this.markLost(this.lostMessage(answer));
    this.renewedAt = sentAt;
    this.failingSince = undefined;
  }

  private lostMessage(answer: { epoch: number; row?: LeaseRow }): string {
    return answer.row ? `another keepctl (pid ${answer.row.pid} on ${answer.row.host}) holds the lease ${this.o.name} at epoch ${answer.epoch}; this one held epoch ${this.epochHeld}` : `the lease ${this.o.name} is gone from the state database`;
  }

  /** The lease is someone else's now (seen by a renewal or a fenced write). Final. */
  markLost(message: string): LeaseLostError {
    if (!this.lostError) {
      this.lostError = new LeaseLostError(message, { lease: this.o.name, epoch: this.epochHeld });
      clearTimeout(this.timer);
      this.o.onLost?.(this.lostError);
    }
    return this.lostError;
  }

  /** Throws unless this process may sign now: the lease is ours and a renewal was confirmed within the window. */
  assertMaySign(): void {
    if (this.lostError) throw this.lostError;
    if (!maySign({ now: this.now(), renewedAt: this.renewedAt, windowMs: this.windowMs, lost: false })) {
      throw new LeaseNotCurrentError(`the lease ${this.o.name} was not renewed within the last ${Math.round(this.windowMs / 1000)} s: not signing until a renewal succeeds`);
    }
  }

  /** The margin a fenced write asks the database for: what is left of the lease must cover a broadcast. */
  get marginMs(): number {
    return this.o.maxRpcMs;
  }

  async release(): Promise<void> {
    clearTimeout(this.timer);
    const wasHeld = this.held;
    this.epochHeld = this.lostError ? this.epochHeld : undefined;
    if (wasHeld) await this.o.store.releaseLease(this.o.name, this.holder).catch(() => undefined);
  }
}
