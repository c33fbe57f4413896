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
