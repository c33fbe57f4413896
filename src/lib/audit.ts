import path from "node:path";
import { appendPrivateFile, ensurePrivateDir } from "./fs-safe";
import { toJson } from "./output";
import { redact } from "./redact";

/**
 * Append-only audit trail of every action keepctl took (or declined) on chain: one JSON line per
 * action in `<data-dir>/audit.jsonl`. Unlike the journal (crash recovery), this is for humans
 * and log shippers; it is never read back by keepctl.
 */
export class AuditLog {
  constructor(readonly file: string) {}

  static open(dataDir: string): AuditLog {
    ensurePrivateDir(dataDir);
    return new AuditLog(path.join(dataDir, "audit.jsonl"));
  }

  record(action: string, fields: Record<string, unknown>): void {
    // Messages may carry node errors; redact in case an RPC URL or a key slipped into one. The
    // default mode keeps the tx hashes: they sit under a "hash" label.
    const line = redact(toJson({ at: new Date().toISOString(), action, ...fields }));
    appendPrivateFile(this.file, line + "\n");
  }
}

/** The fields of a transaction event the audit log reads (TransactionEvent, structurally). */
interface TxOutcomeEvent {
  type: string;
  key?: string;
  action?: string;
  label?: string;
  hash?: string;
  hashes?: string[];
  nonce?: number;
  status?: number | string;
  blockNumber?: number;
  error?: string;
  final?: boolean;
}

/**
 * One audit line for a transaction that ended (mined, reverted, failed for good, or still
 * pending at its deadline), from the journaled sender's events; other events are ignored.
 * Returns whether it wrote. Used where no protocol-level record exists (the EMP bots, watch's
 * approvals): action = the event's action, else the journal key's last segment.
 */
export function auditTransaction(audit: AuditLog, ev: TxOutcomeEvent, extra: Record<string, unknown> = {}): boolean {
  if (!ev.key || ev.type === "journal-settled") return false;
  const action = ev.action || ev.key.slice(ev.key.lastIndexOf(":") + 1);
  const base = { ...extra, key: ev.key, label: ev.label };
  if (ev.type === "mined") audit.record(action, { ...base, status: ev.status === 1 ? "mined" : "reverted", hash: ev.hash, nonce: ev.nonce, blockNumber: ev.blockNumber });
  else if (ev.type === "failed" && ev.final) audit.record(action, { ...base, status: "failed", nonce: ev.nonce, error: ev.error });
  else if (ev.type === "pending") audit.record(action, { ...base, status: "pending", hashes: ev.hashes });
  else return false;
  return true;
}
