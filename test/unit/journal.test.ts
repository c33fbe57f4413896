import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Wallet, getAddress } from "ethers";
import { Journal, JournalInFlightError, acquireAccountLock, decodeAttempt } from "../../src/lib/chain/journal";
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
    expect(() => j.begin("k", { account: ACCOUNT })).toThrow(expect.objectContaining({ exitCode: 3, code: "JOURNAL_IN_FLIGHT" }));
    j.recordMined("k", { hash: "0x01", status: 1, blockNumber: 9 });
    expect(j.begin("k", { account: ACCOUNT })).toMatchObject({ status: "done", entry: { minedHash: "0x01", blockNumber: 9 } });
    j.recordMined("k2", { hash: "0x05", status: 0, blockNumber: 9 });
    expect(j.begin("k2", { account: ACCOUNT }).status).toBe("started"); // reverted: nothing happened
    j.recordFailed("k3", "nonce used");
    expect(j.begin("k3", { account: ACCOUNT }).status).toBe("started");
  });

  it("a failure that leaves a hash able to mine keeps the entry in flight: no second tx is signed", () => {
    const j = Journal.open(dir);
    const h = j.hooks("k");
    j.begin("k", { account: ACCOUNT });
    h.beforeBroadcast("0xaa", "0x01", 7);
    h.onEvent({ type: "sent", label: "redeem", nonce: 7, hash: "0x01" } as never);
    // broadcast, then the RPC was lost while polling / the run was interrupted / the deadline passed
    h.onEvent({ type: "failed", label: "redeem", nonce: 7, hash: "0x01", error: "RPC lost", sent: true, final: false });
    expect(j.get("k")!.state).toBe("sent");
    expect(() => j.begin("k", { account: ACCOUNT })).toThrow(JournalInFlightError);
    expect(j.resume(ACCOUNT).map((e) => e.key)).toEqual(["k"]);
    expect(j.nonces(ACCOUNT)).toEqual([7]);

    // a failure that proves none of its hashes can mine closes it, with the reason
    h.onEvent({ type: "failed", label: "redeem", nonce: 7, error: "nonce 7 used by another tx", sent: true, final: true });
    expect(j.get("k")).toMatchObject({ state: "failed", reason: "nonce 7 used by another tx" });
    expect(j.resume(ACCOUNT)).toEqual([]);
    expect(j.begin("k", { account: ACCOUNT }).status).toBe("started");
  });

  it("a failure before anything was broadcast never leaves the key in flight", () => {
    const j = Journal.open(dir);
    const h = j.hooks("k");
    j.begin("k", { account: ACCOUNT });
    h.onEvent({ type: "failed", label: "redeem", error: "estimateGas reverted", sent: false, final: true });
    expect(j.get("k")!.state).toBe("failed");
    expect(j.begin("k", { account: ACCOUNT }).status).toBe("started");
  });

  it("journals mined and replaced events from the sender", () => {
    const j = Journal.open(dir);
    const h = j.hooks("k");
    j.begin("k", { account: ACCOUNT });
    h.beforeBroadcast("0xaa", "0x01", 3);
    h.onEvent({ type: "replaced", label: "redeem", nonce: 3, hash: "0x02" } as never);
    expect(j.get("k")!.state).toBe("sent");
    h.onEvent({ type: "mined", label: "redeem", hash: "0x02", status: 1, blockNumber: 12 } as never);
    expect(j.get("k")).toMatchObject({ state: "mined", minedHash: "0x02", status: 1, blockNumber: 12 });
    expect(j.begin("k", { account: ACCOUNT })).toMatchObject({ status: "done" });
  });

  it("fsyncs every line before it returns (the record must outlive a power cut, not just a kill)", () => {
    const j = Journal.open(dir);
    const synced: number[] = [];
    const spy = vi.spyOn(fs, "fsyncSync").mockImplementation((fd) => {
      // what is on disk when the sync is asked for: the line just written
      synced.push(fs.readFileSync(j.file, "utf8").trim().split("\n").length);
      void fd;
    });
    try {
      j.begin("k", { account: ACCOUNT });
      j.recordSending("k", { nonce: 0, hash: "0x01", rawTx: "0xaa" });
      j.recordSent("k");
      j.recordMined("k", { hash: "0x01", status: 1, blockNumber: 2 });
    } finally {
      spy.mockRestore();
    }
    expect(synced).toEqual([1, 2, 3, 4]);
  });

  it("writes the journal owner-only", () => {
    const j = Journal.open(dir);
    j.begin("k", { account: ACCOUNT });
    expect(fs.statSync(j.file).mode & 0o777).toBe(0o600);
  });

  it("a repeatable action starts a new round after a mined one, but not within the same round", () => {
    const j = Journal.open(dir);
    j.begin("k", { account: ACCOUNT, repeatable: true, round: "r1" });
    j.recordSending("k", { nonce: 1, hash: "0x01", rawTx: "0xaa" });
    j.recordMined("k", { hash: "0x01", status: 1, blockNumber: 5 });
    expect(j.begin("k", { account: ACCOUNT, repeatable: true, round: "r1" }).status).toBe("done");
    expect(j.begin("k", { account: ACCOUNT }).status).toBe("done"); // not repeatable: done for good
    const next = j.begin("k", { account: ACCOUNT, repeatable: true, round: "r2" });
    expect(next.status).toBe("started");
    // the new round starts clean: the old round's tx and receipt are not this round's
    expect(next.entry).toMatchObject({ state: "planned", attempts: [], meta: { round: "r2" } });
    expect(next.entry.minedHash).toBeUndefined();
    expect(next.entry.blockNumber).toBeUndefined();
    expect(j.nonces(ACCOUNT)).toEqual([]);
    expect(j.nonces("0x00000000000000000000000000000000000000bb")).toEqual([]);
  });

  it("says what is in flight and what to do", () => {
    const j = Journal.open(dir);
    j.begin("0xdep:redeem", { account: ACCOUNT });
    j.recordSending("0xdep:redeem", { nonce: 1, hash: "0x01", rawTx: "0xaa" });
    const e = (() => { try { j.begin("0xdep:redeem", { account: ACCOUNT }); } catch (x) { return x as JournalInFlightError; } })();
    expect(e).toBeInstanceOf(JournalInFlightError);
    expect(e!.message).toBe("a transaction for 0xdep:redeem may still be in flight");
    expect(e!.hint).toBe("settle it first (keepctl does at the start of every run) — it never signs a second one blindly");
  });

  it("a new round after a mined one closes the old round in the file first", () => {
    const j = Journal.open(dir);
    j.begin("k", { account: ACCOUNT, repeatable: true, round: "r1" });
    j.recordMined("k", { hash: "0x01", status: 1, blockNumber: 5 });
    j.begin("k", { account: ACCOUNT, repeatable: true, round: "r2" });
    const lines = fs.readFileSync(j.file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.state)).toEqual(["planned", "mined", "skipped", "planned"]);
    expect(lines[2].reason).toBe("closed: a new round of this action follows");
    // a reverted or failed round is not "closed": it simply starts again
    j.recordMined("k", { hash: "0x02", status: 0, blockNumber: 6 });
    j.begin("k", { account: ACCOUNT, repeatable: true, round: "r3" });
    j.recordFailed("k", "nonce used");
    j.begin("k", { account: ACCOUNT, repeatable: true, round: "r4" });
    const states = fs.readFileSync(j.file, "utf8").trim().split("\n").map((l) => JSON.parse(l).state);
    expect(states.slice(4)).toEqual(["mined", "planned", "failed", "planned"]);
  });

  it("a repeatable action without a round always starts again after it mined", () => {
    const j = Journal.open(dir);
    j.begin("k", { account: ACCOUNT, repeatable: true });
    j.recordMined("k", { hash: "0x01", status: 1, blockNumber: 5 });
    expect(j.begin("k", { account: ACCOUNT, repeatable: true }).status).toBe("started");
    // a mined record written without begin (settled from the chain) has no meta: still fine
    j.recordMined("m", { hash: "0x03", status: 1, blockNumber: 5 });
    expect(j.begin("m", { account: ACCOUNT, repeatable: true, round: "r" }).status).toBe("started");
  });

  it("keeps one attempt per hash, and counts nonces per account only", () => {
    const j = Journal.open(dir);
    const other = "0x00000000000000000000000000000000000000bB";
    j.begin("k", { account: ACCOUNT });
    j.recordSending("k", { nonce: 3, hash: "0x03", rawTx: "0xaa" });
    j.recordSending("k", { nonce: 3, hash: "0x03", rawTx: "0xaa" }); // a rebroadcast of the same bytes
    j.recordSending("k", { nonce: 3, hash: "0x04", rawTx: "0xbb" }); // a replacement
    j.begin("o", { account: other });
    j.recordSending("o", { nonce: 9, hash: "0x09", rawTx: "0xcc" });
    j.recordSending("nobody", { nonce: 11, hash: "0x0b", rawTx: "0xdd" }); // no account known
    expect(j.get("k")!.attempts.map((a) => a.hash)).toEqual(["0x03", "0x04"]);
    expect(j.nonces(ACCOUNT.toUpperCase().replace("0X", "0x"))).toEqual([3, 3]);
    expect(j.nonces(other)).toEqual([9]);
    // resume: entries in "sending" count as in flight too, filtered by account, or all
    expect(j.resume(ACCOUNT).map((e) => e.key)).toEqual(["k"]);
    expect(j.resume(other.toLowerCase()).map((e) => e.key)).toEqual(["o"]);
    expect(j.resume().map((e) => e.key).sort()).toEqual(["k", "nobody", "o"]);
    j.recordMined("o", { hash: "0x09", status: 1, blockNumber: 1 });
    expect(j.resume().map((e) => e.key).sort()).toEqual(["k", "nobody"]);
  });

  it("skips blank lines, and a torn last line followed by its newline", () => {
    const j = Journal.open(dir);
    j.begin("k", { account: ACCOUNT });
    fs.appendFileSync(j.file, "\n   \n");
    j.recordSent("k");
    expect(j.get("k")!.state).toBe("sent");
    fs.appendFileSync(j.file, '{"key":"k","state":"mi\n');
    expect(j.get("k")!.state).toBe("sent");
  });

  it("a corrupt line in the middle is a config error (exit 3) that says what to do", () => {
    const j = Journal.open(dir);
    fs.writeFileSync(j.file, 'garbage\n{"key":"k","state":"planned","at":"x"}\n', { mode: 0o600 });
    expect(() => j.entries()).toThrow(expect.objectContaining({ code: "JOURNAL_CORRUPT", exitCode: 3, hint: "fix or move the file aside", message: `journal ${j.file} line 1 is not JSON` }));
  });

  it("an unreadable journal is an error, not an empty journal (only a missing file is empty)", () => {
    expect(new Journal(path.join(dir, "absent.jsonl")).entries().size).toBe(0);
    // a directory where the file should be: EISDIR, never "nothing in flight"
    expect(() => new Journal(dir).entries()).toThrow(/EISDIR/);
  });

  it("closes the file after every append (no descriptor leak in a long watch loop)", () => {
    const j = Journal.open(dir);
    const open = () => fs.readdirSync("/proc/self/fd").length;
    j.begin("k", { account: ACCOUNT });
    const before = open();
    for (let i = 0; i < 20; i++) j.recordSent("k");
    expect(open()).toBe(before);
  });

  it("decodes a journaled raw tx", async () => {
    const w = Wallet.createRandom();
    const to = "0x00000000000000000000000000000000000000cc";
    const raw = await w.signTransaction({ to, nonce: 7, gasLimit: 21000n, maxFeePerGas: 3n, maxPriorityFeePerGas: 1n, chainId: 31337n, value: 5n, type: 2 });
    const tx = decodeAttempt({ nonce: 7, hash: "0x", rawTx: raw });
    expect(tx).toMatchObject({ nonce: 7, to: getAddress(to), value: 5n, maxFeePerGas: 3n, from: w.address });
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

describe("Journal: final and reorged", () => {
  const key = "0xdep:redeem";
  const attempt = { nonce: 4, hash: "0xh1", rawTx: "0x01" };
  it("a final line keeps the receipt and marks it final; a new block is kept with it", () => {
    const j = Journal.open(dir);
    j.begin(key, { account: ACCOUNT });
    j.recordSending(key, attempt);
    j.recordSent(key);
    j.recordMined(key, { hash: "0xh1", status: 1, blockNumber: 10, blockHash: "0xb10" });
    expect(j.get(key)).toMatchObject({ state: "mined", minedHash: "0xh1", status: 1, blockNumber: 10, blockHash: "0xb10" });
    expect(j.get(key)!.final).toBeUndefined();
    j.recordFinal(key, { blockNumber: 11, blockHash: "0xb11" });
    expect(j.get(key)).toMatchObject({ state: "mined", minedHash: "0xh1", status: 1, blockNumber: 11, blockHash: "0xb11", final: true });
    expect(j.mined(ACCOUNT).map((e) => e.key)).toEqual([key]);
    expect(j.mined("0x00000000000000000000000000000000000000bB")).toEqual([]);
  });

  it("reorged: back to sent with its signed txs, every mined field gone, the reason kept; then mined again", () => {
    const j = Journal.open(dir);
    j.begin(key, { account: ACCOUNT });
    j.recordSending(key, attempt);
    j.recordMined(key, { hash: "0xh1", status: 1, blockNumber: 10, blockHash: "0xb10" });
    j.recordFinal(key, { blockNumber: 10, blockHash: "0xb10" });
    j.recordReorged(key, "reorged out of block 10");
    const e = j.get(key)!;
    expect(e.state).toBe("sent");
    expect(e.attempts).toEqual([attempt]);
    for (const k of ["minedHash", "status", "blockNumber", "blockHash", "final"] as const) expect(e[k]).toBeUndefined();
    expect(e.reason).toBe("reorged out of block 10");
    expect(j.resume(ACCOUNT).map((x) => x.key)).toEqual([key]);
    expect(() => j.begin(key, { account: ACCOUNT })).toThrow(JournalInFlightError);
    j.recordMined(key, { hash: "0xh1", status: 1, blockNumber: 12 });
    expect(j.get(key)).toMatchObject({ state: "mined", blockNumber: 12 });
    expect(j.get(key)!.final).toBeUndefined();
    expect(j.doneEntry(key, {})?.minedHash).toBe("0xh1");
  });

  it("a new round forgets the old round's finality", () => {
    const j = Journal.open(dir);
    j.begin(key, { account: ACCOUNT, repeatable: true });
    j.recordSending(key, attempt);
    j.recordMined(key, { hash: "0xh1", status: 1, blockNumber: 10, blockHash: "0xb" });
    j.recordFinal(key, { blockNumber: 10 });
    j.begin(key, { account: ACCOUNT, repeatable: true });
    const e = j.get(key)!;
    expect(e.state).toBe("planned");
    for (const k of ["minedHash", "status", "blockNumber", "blockHash", "final"] as const) expect(e[k]).toBeUndefined();
  });
});

describe("account lock", () => {
  const lockFile = () => path.join(dir, `any-${ACCOUNT.toLowerCase()}.lock`);
  const writeLock = (o: Record<string, unknown>) => {
    fs.writeFileSync(lockFile(), JSON.stringify({ host: os.hostname(), token: "t0", since: "x", ...o }));
  };
  const startOf = (pid: number) => {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  };

  it("one holder at a time; release frees it", () => {
    const lock = acquireAccountLock(dir, ACCOUNT);
    expect(JSON.parse(fs.readFileSync(lock.file, "utf8")).pid).toBe(process.pid);
    expect(() => acquireAccountLock(dir, ACCOUNT)).toThrow(`account ${ACCOUNT} is in use by another keepctl process (pid ${process.pid}`);
    lock.release();
    expect(fs.existsSync(lock.file)).toBe(false);
    acquireAccountLock(dir, ACCOUNT).release();
  });

  it("locks per chain: the same account on another chain is another lock", () => {
    const a = acquireAccountLock(dir, ACCOUNT, "31337-aaaa");
    const b = acquireAccountLock(dir, ACCOUNT, "31337-bbbb");
    expect(a.file).not.toBe(b.file);
    a.release();
    b.release();
  });

  it("refuses a lock held by a live process with ACCOUNT_LOCKED (exit 8)", () => {
    writeLock({ pid: process.ppid, start: startOf(process.ppid) });
    let err: any;
    try { acquireAccountLock(dir, ACCOUNT); } catch (e) { err = e; }
    expect(err.code).toBe("ACCOUNT_LOCKED");
    expect(err.exitCode).toBe(8);
    expect(err.hint).toContain(lockFile());
  });

  it("takes over a lock whose process is dead", () => {
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString();
    writeLock({ pid: Number(dead) });
    const lock = acquireAccountLock(dir, ACCOUNT);
    expect(JSON.parse(fs.readFileSync(lockFile(), "utf8")).pid).toBe(process.pid);
    lock.release();
  });

  it("survives pid reuse: our own pid from an earlier process start is stale", () => {
    // A restarted container: same pid, same hostname, but not a lock this process took.
    writeLock({ pid: process.pid, start: startOf(process.pid), token: "from-an-earlier-start" });
    const lock = acquireAccountLock(dir, ACCOUNT);
    expect(JSON.parse(fs.readFileSync(lockFile(), "utf8")).token).not.toBe("from-an-earlier-start");
    lock.release();
  });

  it("a live pid that started after the lock was written is a reused pid: stale", () => {
    writeLock({ pid: process.ppid, start: String(Number(startOf(process.ppid)) + 1) });
    const lock = acquireAccountLock(dir, ACCOUNT);
    expect(JSON.parse(fs.readFileSync(lockFile(), "utf8")).pid).toBe(process.pid);
    lock.release();
  });

  it("a lock from before a reboot is stale", () => {
    writeLock({ pid: process.ppid, start: startOf(process.ppid), boot: "another-boot" });
    acquireAccountLock(dir, ACCOUNT).release();
  });
});
