import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Journal, JournalInFlightError, acquireAccountLock } from "../../src/lib/journal";
import { registerSecret } from "../../src/lib/redact";

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-journal-unit-")); });
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const ACCOUNT = "0x00000000000000000000000000000000000000Aa";

describe("Journal", () => {
  it("never writes a secret into a failure or skip reason (error texts can carry RPC URLs)", () => {
    registerSecret("journal-test-api-key-123");
    const j = Journal.open(dir);
    j.begin("0xdep:redeem", { account: ACCOUNT });
    j.recordFailed("0xdep:redeem", "no RPC endpoint answered: https://rpc.example/v3/journal-test-api-key-123 (ECONNREFUSED)");
    j.begin("0xdep2:redeem", { account: ACCOUNT });
    j.recordSkipped("0xdep2:redeem", "lost race; node said journal-test-api-key-123");
    const text = fs.readFileSync(j.file, "utf8");
    expect(text).not.toContain("journal-test-api-key-123");
    expect(j.get("0xdep:redeem")!.reason).toContain("https://rpc.example/***");
  });
  it("folds state changes per key and keeps every attempt", () => {
    const j = Journal.open(dir);
    expect(j.begin("0xdep:redeem", { account: ACCOUNT, meta: { lot: "0.1" } }).status).toBe("started");
    j.recordSending("0xdep:redeem", { nonce: 4, hash: "0x01", rawTx: "0xaa" });
    j.recordSent("0xdep:redeem");
    j.recordSending("0xdep:redeem", { nonce: 4, hash: "0x02", rawTx: "0xbb" });
    j.recordSent("0xdep:redeem");
    j.begin("0xother:redeem", { account: ACCOUNT });
    const e = j.get("0xdep:redeem")!;
    expect(e).toMatchObject({ state: "sent", account: ACCOUNT, meta: { lot: "0.1" } });
    expect(e.attempts.map((x) => x.hash)).toEqual(["0x01", "0x02"]);
    expect(j.resume(ACCOUNT.toLowerCase()).map((x) => x.key)).toEqual(["0xdep:redeem"]);
    // the file is line-per-change, readable by a second instance (another process)
    expect(fs.readFileSync(j.file, "utf8").trim().split("\n")).toHaveLength(6);
    expect(new Journal(j.file).get("0xdep:redeem")!.state).toBe("sent");
  });

  it("refuses to begin an in-flight key and reports a mined one as done", () => {
    const j = Journal.open(dir);
    j.begin("k", { account: ACCOUNT });
    j.recordSending("k", { nonce: 0, hash: "0x01", rawTx: "0xaa" });
    expect(() => j.begin("k", { account: ACCOUNT })).toThrow(JournalInFlightError);
    try { j.begin("k", { account: ACCOUNT }); } catch (e) { expect((e as JournalInFlightError).exitCode).toBe(3); }
    j.recordMined("k", { hash: "0x01", status: 1, blockNumber: 9 });
    expect(j.begin("k", { account: ACCOUNT })).toMatchObject({ status: "done", entry: { minedHash: "0x01", blockNumber: 9 } });
    j.recordMined("k2", { hash: "0x05", status: 0, blockNumber: 9 });
    expect(j.begin("k2", { account: ACCOUNT }).status).toBe("started"); // reverted: nothing happened
    j.recordFailed("k3", "nonce used");
    expect(j.begin("k3", { account: ACCOUNT }).status).toBe("started");
  });

  it("ignores a torn last line from a crash mid-write, but not a corrupt line in the middle", () => {
    const j = Journal.open(dir);
    j.begin("k", { account: ACCOUNT });
    fs.appendFileSync(j.file, '{"key":"k","state":"sen');
    expect(j.get("k")!.state).toBe("planned");
    fs.appendFileSync(j.file, '\n{"key":"k","state":"sent","at":"2026-01-01T00:00:00Z"}\n');
    expect(() => j.get("k")).toThrow(/line 2 is not JSON/);
  });
});

describe("account lock", () => {
  const lockFile = () => path.join(dir, "locks", `${ACCOUNT.toLowerCase()}.lock`);
  const writeLock = (pid: number) => {
    fs.mkdirSync(path.dirname(lockFile()), { recursive: true });
    fs.writeFileSync(lockFile(), JSON.stringify({ pid, host: os.hostname(), since: "x" }));
  };

  it("one holder at a time; release frees it", () => {
    const lock = acquireAccountLock(dir, ACCOUNT);
    expect(JSON.parse(fs.readFileSync(lock.file, "utf8")).pid).toBe(process.pid);
    expect(() => acquireAccountLock(dir, ACCOUNT)).toThrow(`account ${ACCOUNT} is in use by another keepctl process (pid ${process.pid}`);
    lock.release();
    acquireAccountLock(dir, ACCOUNT).release();
  });

  it("refuses a lock held by a live process with ACCOUNT_LOCKED (exit 3)", () => {
    writeLock(process.ppid);
    let err: any;
    try { acquireAccountLock(dir, ACCOUNT); } catch (e) { err = e; }
    expect(err.code).toBe("ACCOUNT_LOCKED");
    expect(err.exitCode).toBe(3);
    expect(err.hint).toContain(lockFile());
  });

  it("takes over a lock whose process is dead", () => {
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString();
    writeLock(Number(dead));
    const lock = acquireAccountLock(dir, ACCOUNT);
    expect(JSON.parse(fs.readFileSync(lockFile(), "utf8")).pid).toBe(process.pid);
    lock.release();
  });
});
