import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AuditLog, auditTransaction } from "../../src/lib/audit";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-audit-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("auditTransaction", () => {
  it("writes one line per transaction that ended, none for sends in between", () => {
    const audit = AuditLog.open(path.join(tmp, "a"));
    const key = "0xEMP:0xSPONSOR:liquidate";
    expect(auditTransaction(audit, { type: "sent", key, label: "liquidate", nonce: 3, hash: "0x01" })).toBe(false);
    expect(auditTransaction(audit, { type: "replaced", key, label: "liquidate", nonce: 3, hash: "0x02" })).toBe(false);
    expect(auditTransaction(audit, { type: "failed", key, label: "liquidate", nonce: 3, error: "read failed", final: false })).toBe(false);
    expect(auditTransaction(audit, { type: "mined", key, label: "liquidate", nonce: 3, hash: "0x02", status: 1, blockNumber: 9 }, { bot: "liquidator" })).toBe(true);
    expect(auditTransaction(audit, { type: "mined", key: "0xDEP:approve", action: "approve", nonce: 4, hash: "0x03", status: 0, blockNumber: 10 })).toBe(true);
    expect(auditTransaction(audit, { type: "failed", key: "0xE:0xT:approve", nonce: 5, error: "refused", final: true })).toBe(true);
    expect(auditTransaction(audit, { type: "pending", key: "0xE:0xS:7:dispute", nonce: 6, hashes: ["0x04"] })).toBe(true);
    const lines = fs.readFileSync(audit.file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.action, l.status])).toEqual([["liquidate", "mined"], ["approve", "reverted"], ["approve", "failed"], ["dispute", "pending"]]);
    expect(lines[0]).toMatchObject({ bot: "liquidator", key, hash: "0x02", nonce: 3, blockNumber: 9 });
    expect(lines[3].hashes).toEqual(["0x04"]);
    expect((fs.statSync(audit.file).mode & 0o777).toString(8)).toBe("600");
  });
});
