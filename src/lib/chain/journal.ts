import path from "node:path";
import { Transaction, type TransactionReceipt } from "ethers";
import { ExitCode, KeepctlError } from "../errors";
import { redact } from "../redact";
import { ensurePrivateDir } from "../fs-safe";
import { appendSyncedLine, parseJsonLines, readLines } from "../jsonl";
import type { TxEvent, TxHooks } from "./tx-types";

/**
 * Crash-safe record of every write action, keyed by target + action (`${deposit}:redeem`), in
 * `<data-dir>/journal.jsonl`: one JSON line per state change, fsynced before we go on. The
 * signed raw tx and its hash are written BEFORE broadcast, so after a kill -9 we always know what
 * may be in flight; an in-flight entry is never re-signed, only its own raw tx rebroadcast
 * (same nonce: it can never be paid twice).
 */
export type JournalState = "planned" | "sending" | "sent" | "mined" | "failed" | "skipped";

export interface JournalAttempt {
  nonce: number;
  hash: string;
  rawTx: string;
}

export interface JournalEntry {
  key: string;
  state: JournalState;
  account?: string;
  attempts: JournalAttempt[];
  minedHash?: string;
  status?: number;
  blockNumber?: number;
  /** The block the receipt was in (a reorg that re-mines it elsewhere changes it). */
  blockHash?: string;
  /** The receipt was at least the confirmation depth deep: its block is no longer re-read. */
  final?: boolean;
  reason?: string;
  meta?: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

interface Line {
  key: string;
  state: JournalState;
  at: string;
  account?: string;
  attempt?: JournalAttempt;
  minedHash?: string;
  status?: number;
  blockNumber?: number;
  blockHash?: string;
  final?: boolean;
  /** The mined tx left the chain (a reorg): the entry is back to "sent", its signed txs kept. */
  reorged?: string;
  reason?: string;
  meta?: Record<string, unknown>;
}

const MINED_FIELDS = ["minedHash", "status", "blockNumber", "blockHash", "final"] as const;

export class JournalInFlightError extends KeepctlError {
  constructor(key: string) {
    super("JOURNAL_IN_FLIGHT", ExitCode.CONFIG, `a transaction for ${key} may still be in flight`, {
      hint: "settle it first (keepctl does at the start of every run) — it never signs a second one blindly",
    });
  }
}

/**
 * Where the journal's lines are kept: a file of this machine (the default), or the shared state
 * database (lib/state), whose writes before a broadcast are fenced by the account's lease.
 */
export interface JournalBackend {
  /** Where it is, for messages (a path, or a database URL cut to its origin). */
  readonly where: string;
  /** Every line so far, in the order written (a torn last line included, as written). */
  lines(): string[];
  append(line: string): void;
  /** The signed transaction's line: durable (and for a shared store, proven ours) before it is broadcast. */
  appendBeforeBroadcast?(line: string): Promise<void>;
}

/** `<data-dir>/journal.jsonl`: one JSON line per state change, fsynced before we go on. */
export class FileJournalBackend implements JournalBackend {
  constructor(readonly where: string) {}

  lines(): string[] {
    return readLines(this.where);
  }

  append(line: string): void {
    appendSyncedLine(this.where, line);
  }
}

export class Journal {
  readonly backend: JournalBackend;
  constructor(fileOrBackend: string | JournalBackend) {
    this.backend = typeof fileOrBackend === "string" ? new FileJournalBackend(fileOrBackend) : fileOrBackend;
  }

  /** Where the journal is (a file path, or the state database). */
  get file(): string {
    return this.backend.where;
  }

  static open(dataDir: string): Journal {
    ensurePrivateDir(dataDir);
    return new Journal(path.join(dataDir, "journal.jsonl"));
  }

  /** Folds the whole file (re-read each time: a cron run and a watch loop may share it). */
  entries(): Map<string, JournalEntry> {
    const map = new Map<string, JournalEntry>();
    const lines = parseJsonLines<Line>(this.backend.lines(), (n, cause) =>
      new KeepctlError("JOURNAL_CORRUPT", ExitCode.CONFIG, `journal ${this.file} line ${n} is not JSON`, { cause, hint: "fix or move the file aside" }));
    for (const line of lines) {
      const prev = map.get(line.key);
      const entry: JournalEntry = prev ?? { key: line.key, state: line.state, attempts: [], createdAt: line.at, updatedAt: line.at };
      if (prev && line.state === "planned") {
        // A new round of a repeatable action: the earlier round's txs are not this round's. Kept,
        // a restart would settle the new round by the OLD round's receipt and never send it.
        entry.attempts = [];
        for (const k of [...MINED_FIELDS, "reason"] as const) delete entry[k];
      }
      // Reorged out: what was mined is not any more; the signed txs stay, to be sent again.
      if (line.reorged !== undefined) for (const k of MINED_FIELDS) delete entry[k];
      entry.state = line.state;
      entry.updatedAt = line.at;
      if (line.account) entry.account = line.account;
      if (line.attempt && !entry.attempts.some((a) => a.hash === line.attempt!.hash)) entry.attempts.push(line.attempt);
      for (const k of [...MINED_FIELDS, "reason", "meta"] as const) if (line[k] !== undefined) (entry as unknown as Record<string, unknown>)[k] = line[k];
      if (line.reorged !== undefined) entry.reason = line.reorged;
      map.set(line.key, entry);
    }
    return map;
  }

  get(key: string): JournalEntry | undefined {
    return this.entries().get(key);
  }

  /**
   * Claims `key` for a new action. Returns "done" if it already succeeded on chain; throws
   * JournalInFlightError if a tx for it may be pending (settle it first). A `repeatable` action
   * (approving again, liquidating what is left of a position) starts a new round after a mined
   * one — but never within the same `round` (one pass of a loop, retries included), so a pass
   * that is retried after its liquidation mined does not liquidate again.
   */
  begin(key: string, info: { account: string; meta?: Record<string, unknown>; repeatable?: boolean; round?: string }): { status: "started" | "done"; entry: JournalEntry } {
    const cur = this.get(key);
    if (cur && (cur.state === "sending" || cur.state === "sent")) throw new JournalInFlightError(key);
    const done = this.doneEntry(key, info, cur);
    if (done) return { status: "done", entry: done };
    if (cur && cur.state === "mined" && cur.status === 1) this.recordSkipped(key, "closed: a new round of this action follows");
    this.append({ key, state: "planned", account: info.account, meta: { ...info.meta, ...(info.round !== undefined ? { round: info.round } : {}) } });
    return { status: "started", entry: this.get(key)! };
  }

  /** The mined entry that makes `key` done (what begin() would answer "done" with), without writing. */
  doneEntry(key: string, info: { repeatable?: boolean; round?: string }, cur = this.get(key)): JournalEntry | undefined {
    if (!cur || cur.state !== "mined" || cur.status !== 1) return undefined;
    const sameRound = info.round !== undefined && cur.meta?.round === info.round;
    return !info.repeatable || sameRound ? cur : undefined;
  }

  /** Every nonce this journal holds a signed tx for, from `account`. */
  nonces(account: string): number[] {
    const out: number[] = [];
    for (const e of this.entries().values()) if (e.account?.toLowerCase() === account.toLowerCase()) for (const a of e.attempts) out.push(a.nonce);
    return out;
  }

  /** Journals a signed tx before it is broadcast. */
  recordSending(key: string, attempt: JournalAttempt): void {
    this.append({ key, state: "sending", attempt });
  }
  recordSent(key: string): void {
    this.append({ key, state: "sent" });
  }
  recordMined(key: string, receipt: Pick<TransactionReceipt, "hash" | "status" | "blockNumber"> & { blockHash?: string }): void {
    this.append({ key, state: "mined", minedHash: receipt.hash, status: receipt.status ?? 0, blockNumber: receipt.blockNumber, blockHash: receipt.blockHash });
  }
  /** Its receipt is confirmation-deep (or finalized): "done" is now a chain fact, not re-read again. */
  recordFinal(key: string, at: { blockNumber: number; blockHash?: string }): void {
    this.append({ key, state: "mined", final: true, blockNumber: at.blockNumber, blockHash: at.blockHash });
  }
  /** The mined tx is no longer in the chain: back to "sent" (its signed txs kept), settled like a lost broadcast. */
  recordReorged(key: string, reason: string): void {
    this.append({ key, state: "sent", reorged: redact(reason) });
  }
  recordFailed(key: string, reason: string): void {
    this.append({ key, state: "failed", reason: redact(reason) });
  }
  recordSkipped(key: string, reason: string): void {
    this.append({ key, state: "skipped", reason: redact(reason) });
  }

  /** Mined entries of `account` (final ones too): what a reorg may take back. */
  mined(account: string): JournalEntry[] {
    return [...this.entries().values()].filter((e) => e.state === "mined" && e.account?.toLowerCase() === account.toLowerCase());
  }

  /** Entries a crash may have left with a tx in flight (optionally for one account). */
  resume(account?: string): JournalEntry[] {
    return [...this.entries().values()].filter(
      (e) => (e.state === "sending" || e.state === "sent") && (!account || e.account?.toLowerCase() === account.toLowerCase()),
    );
  }

  /** TxSender hooks that keep this journal in step with one send for `key`. */
  hooks(key: string): Required<TxHooks> {
    return {
      beforeBroadcast: (rawTx, hash, nonce) => {
        const line = this.line({ key, state: "sending", attempt: { rawTx, hash, nonce } });
        return this.backend.appendBeforeBroadcast ? this.backend.appendBeforeBroadcast(line) : this.backend.append(line);
      },
      onEvent: (ev: TxEvent) => {
        if (ev.type === "sent" || ev.type === "replaced") this.recordSent(key);
        else if (ev.type === "mined") this.append({ key, state: "mined", minedHash: ev.hash, status: ev.status, blockNumber: ev.blockNumber, blockHash: ev.blockHash });
        // Only a failure that proves none of our hashes can still mine ends the entry; a lost
        // answer, a read error or a deadline leaves it "sent", to be settled from the chain.
        else if (ev.type === "failed" && ev.final) this.recordFailed(key, ev.error);
      },
    };
  }

  private append(line: Omit<Line, "at">): void {
    this.backend.append(this.line(line));
  }

  private line(line: Omit<Line, "at">): string {
    return JSON.stringify({ ...line, at: new Date().toISOString() });
  }
}

/** The decoded fields of a journaled raw tx (for display, or to resume fee bumping). */
export function decodeAttempt(a: JournalAttempt): Transaction {
  return Transaction.from(a.rawTx);
}

export { acquireAccountLock, type AccountLock } from "./account-lock";
