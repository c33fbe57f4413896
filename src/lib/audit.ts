import fs from "node:fs";
import path from "node:path";
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
    fs.mkdirSync(dataDir, { recursive: true });
    return new AuditLog(path.join(dataDir, "audit.jsonl"));
  }

  record(action: string, fields: Record<string, unknown>): void {
    // Messages may carry node errors; redact in case an RPC URL slipped into one.
    const line = redact(toJson({ at: new Date().toISOString(), action, ...fields }), { keepHashes: true });
    fs.appendFileSync(this.file, line + "\n", { mode: 0o600 });
  }
}
