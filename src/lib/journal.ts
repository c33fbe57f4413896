import fs from "node:fs";
import path from "node:path";
import { Transaction, type JsonRpcProvider, type TransactionReceipt } from "ethers";
import { ExitCode, KeepctlError, shortMessageOf } from "./errors";
import { redact } from "./redact";
import type { BeforeBroadcast, TxEvent } from "./chain/tx";

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
  reason?: string;
  meta?: Record<string, unknown>;
}

export class JournalInFlightError extends KeepctlError {
  constructor(key: string) {
    super("JOURNAL_IN_FLIGHT", ExitCode.CONFIG, `a transaction for ${key} may still be in flight`, {
      hint: "recover the journal first (reconcile its hashes) — keepctl never signs a second one blindly",
    });
  }
}

export class Journal {
  constructor(readonly file: string) {}

  static open(dataDir: string): Journal {
    fs.mkdirSync(dataDir, { recursive: true });
    return new Journal(path.join(dataDir, "journal.jsonl"));
  }

  /** Folds the whole file (re-read each time: a cron run and a watch loop may share it). */
  entries(): Map<string, JournalEntry> {
    const map = new Map<string, JournalEntry>();
    let text = "";
    try {
      text = fs.readFileSync(this.file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    const lines = text.split("\n");
    lines.forEach((raw, i) => {
      if (!raw.trim()) return;
      let line: Line;
      try {
        line = JSON.parse(raw) as Line;
      } catch (e) {
        if (i >= lines.length - 2) return; // torn last line from a crash mid-write: it never counted
        throw new KeepctlError("JOURNAL_CORRUPT", ExitCode.CONFIG, `journal ${this.file} line ${i + 1} is not JSON`, { cause: e, hint: "fix or move the file aside" });
      }
      const prev = map.get(line.key);
      const entry: JournalEntry = prev ?? { key: line.key, state: line.state, attempts: [], createdAt: line.at, updatedAt: line.at };
      entry.state = line.state;
      entry.updatedAt = line.at;
      if (line.account) entry.account = line.account;
      if (line.attempt && !entry.attempts.some((a) => a.hash === line.attempt!.hash)) entry.attempts.push(line.attempt);
      for (const k of ["minedHash", "status", "blockNumber", "reason", "meta"] as const) if (line[k] !== undefined) (entry as unknown as Record<string, unknown>)[k] = line[k];
      map.set(line.key, entry);
    });
    return map;
  }

  get(key: string): JournalEntry | undefined {
    return this.entries().get(key);
  }

  /**
   * Claims `key` for a new action. Returns "done" if it already succeeded on chain; throws
   * JournalInFlightError if a tx for it may be pending (recover() it first).
   */
  begin(key: string, info: { account: string; meta?: Record<string, unknown> }): { status: "started" | "done"; entry: JournalEntry } {
    const cur = this.get(key);
    if (cur && (cur.state === "sending" || cur.state === "sent")) throw new JournalInFlightError(key);
    if (cur && cur.state === "mined" && cur.status === 1) return { status: "done", entry: cur };
    this.append({ key, state: "planned", account: info.account, meta: info.meta });
    return { status: "started", entry: this.get(key)! };
  }

  /** Journals a signed tx before it is broadcast. */
  recordSending(key: string, attempt: JournalAttempt): void {
    this.append({ key, state: "sending", attempt });
  }
  recordSent(key: string): void {
    this.append({ key, state: "sent" });
  }
  recordMined(key: string, receipt: Pick<TransactionReceipt, "hash" | "status" | "blockNumber">): void {
    this.append({ key, state: "mined", minedHash: receipt.hash, status: receipt.status ?? 0, blockNumber: receipt.blockNumber });
  }
  recordFailed(key: string, reason: string): void {
    this.append({ key, state: "failed", reason: redact(reason) });
  }
  recordSkipped(key: string, reason: string): void {
    this.append({ key, state: "skipped", reason: redact(reason) });
  }

  /** Entries a crash may have left with a tx in flight (optionally for one account). */
  resume(account?: string): JournalEntry[] {
    return [...this.entries().values()].filter(
      (e) => (e.state === "sending" || e.state === "sent") && (!account || e.account?.toLowerCase() === account.toLowerCase()),
    );
  }

  /** TxSender hooks that keep this journal in step with one send for `key`. */
  hooks(key: string): { beforeBroadcast: BeforeBroadcast; onEvent: (ev: TxEvent) => void } {
    return {
      beforeBroadcast: (rawTx, hash, nonce) => this.recordSending(key, { rawTx, hash, nonce }),
      onEvent: (ev) => {
        if (ev.type === "sent" || ev.type === "replaced") this.recordSent(key);
        else if (ev.type === "mined") this.append({ key, state: "mined", minedHash: ev.hash, status: ev.status, blockNumber: ev.blockNumber });
        // Only failures that prove none of our hashes can still mine end the entry.
        else if (ev.type === "failed" && (!ev.sent || ev.code === "NONCE_TAKEN")) this.recordFailed(key, ev.error);
      },
    };
  }

  private append(line: Omit<Line, "at">): void {
    const fd = fs.openSync(this.file, "a", 0o600);
    try {
      fs.writeSync(fd, JSON.stringify({ ...line, at: new Date().toISOString() }) + "\n");
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}

export type Reconciled =
  | { status: "mined"; hash: string; receipt: TransactionReceipt }
  | { status: "pending"; hashes: string[] }
  | { status: "dropped" } // the node knows none of them and the nonce is free: rebroadcast the raw tx
  | { status: "nonce-used" }; // the nonce went to a tx not in the journal: ours can never mine

/** Where a journaled entry's transaction stands on chain. */
export async function reconcile(provider: JsonRpcProvider, entry: JournalEntry): Promise<Reconciled> {
  const hashes = entry.attempts.map((a) => a.hash);
  const findMined = async () => {
    for (const h of hashes) {
      const r = await provider.getTransactionReceipt(h);
      if (r) return r;
    }
    return null;
  };
  const mined = await findMined();
  if (mined) return { status: "mined", hash: mined.hash, receipt: mined };
  const known: string[] = [];
  for (const h of hashes) if (await provider.getTransaction(h)) known.push(h);
  if (known.length) return { status: "pending", hashes: known };
  const last = entry.attempts.at(-1);
  if (!last || !entry.account) return { status: "dropped" };
  if ((await provider.getTransactionCount(entry.account, "latest")) > last.nonce) {
    const late = await findMined();
    return late ? { status: "mined", hash: late.hash, receipt: late } : { status: "nonce-used" };
  }
  return { status: "dropped" };
}

/**
 * Reconciles an in-flight entry and brings the journal up to date: mined -> recorded; nonce
 * used elsewhere -> failed (safe to plan again); dropped -> its latest raw tx rebroadcast.
 */
export async function recover(journal: Journal, provider: JsonRpcProvider, entry: JournalEntry): Promise<Reconciled & { rebroadcast?: boolean; error?: string }> {
  const r = await reconcile(provider, entry);
  if (r.status === "mined") journal.recordMined(entry.key, r.receipt);
  else if (r.status === "nonce-used") journal.recordFailed(entry.key, "its nonce was used by another transaction");
  else if (r.status === "dropped") {
    const last = entry.attempts.at(-1);
    if (!last) {
      journal.recordFailed(entry.key, "nothing was signed before the crash");
      return r;
    }
    try {
      await provider.send("eth_sendRawTransaction", [last.rawTx]);
      journal.recordSent(entry.key);
      return { ...r, rebroadcast: true };
    } catch (e) {
      return { ...r, rebroadcast: false, error: shortMessageOf(e) };
    }
  }
  return r;
}

/** The decoded fields of a journaled raw tx (for display, or to resume fee bumping). */
export function decodeAttempt(a: JournalAttempt): Transaction {
  return Transaction.from(a.rawTx);
}

export { acquireAccountLock, type AccountLock } from "./account-lock";
