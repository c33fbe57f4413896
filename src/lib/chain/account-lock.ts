import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ExitCode, KeepctlError } from "../errors";

export interface AccountLock {
  file: string;
  release(): void;
}

/** Where per-account locks live unless configured: one place per machine, whatever the data dir. */
export function defaultLockDir(): string {
  return path.join(os.tmpdir(), "keepctl-locks");
}

/** Who holds a lock. pid alone is not an identity: a restarted container gets the same pid. */
interface Owner {
  pid: number;
  host: string;
  /** Kernel boot id: a lock from before a reboot is stale. */
  boot?: string;
  /** The process's start time in clock ticks since boot (/proc/PID/stat field 22). */
  start?: string;
  /** Random per acquisition: tells this process's own locks from a dead predecessor's. */
  token: string;
  since: string;
}

const held = new Set<string>();

/**
 * One sending process per account and chain on this machine: `<lock-dir>/<chain>-<account>.lock`
 * created with O_EXCL. The lock dir is machine-wide (not inside the data dir), so a second keepctl
 * with another data dir is refused too. A lock whose process is gone — dead pid, another boot, a
 * pid reused by a process that started later, or our own pid written by an earlier process start —
 * is taken over; a live one is refused with ACCOUNT_LOCKED (exit 8, like any other sender on the account).
 */
export function acquireAccountLock(lockDir: string, account: string, chain = "any"): AccountLock {
  if (!fs.existsSync(lockDir)) {
    fs.mkdirSync(lockDir, { recursive: true });
    // Shared by every user of the machine (sticky, like /tmp): each may remove only its own locks.
    try {
      fs.chmodSync(lockDir, 0o1777);
    } catch {
      // another user's directory: it was made shareable when it was created
    }
  }
  const file = path.join(lockDir, `${chain}-${account.toLowerCase()}.lock`);
  for (let tries = 0; tries < 3; tries++) {
    const me: Owner = { pid: process.pid, host: os.hostname(), boot: bootId(), start: startTicks(process.pid), token: crypto.randomBytes(12).toString("hex"), since: new Date().toISOString() };
    try {
      const fd = fs.openSync(file, "wx", 0o644);
      fs.writeSync(fd, JSON.stringify(me));
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      held.add(me.token);
      const release = () => {
        process.removeListener("exit", release);
        held.delete(me.token);
        try {
          if (readOwner(file)?.token === me.token) fs.unlinkSync(file);
        } catch {
          // already gone
        }
      };
      process.once("exit", release);
      return { file, release };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const owner = readOwner(file);
      if (owner ? isStale(owner) : ageMs(file) > 10_000) {
        fs.rmSync(file, { force: true }); // its process is gone (or it was left half-written)
        continue;
      }
      if (!owner) throw new KeepctlError("ACCOUNT_LOCKED", ExitCode.ACCOUNT_CONFLICT, `account ${account} is being locked by another keepctl process`, { hint: "try again in a few seconds" });
      throw new KeepctlError("ACCOUNT_LOCKED", ExitCode.ACCOUNT_CONFLICT, `account ${account} is in use by another keepctl process (pid ${owner.pid} on ${owner.host}, since ${owner.since})`, {
        hint: `one keepctl sends per account; stop that process first (if it is gone, delete ${file})`,
        details: { file, owner: { pid: owner.pid, host: owner.host } },
      });
    }
  }
  throw new KeepctlError("ACCOUNT_LOCKED", ExitCode.ACCOUNT_CONFLICT, `could not take the lock for account ${account}`, { hint: `delete ${file} if no keepctl is running` });
}

/** True when the recorded owner cannot be running any more. Another host's lock is never stale here. */
export function isStale(owner: Owner): boolean {
  if (owner.host !== os.hostname()) return false;
  if (owner.boot && bootId() && owner.boot !== bootId()) return true;
  if (owner.pid === process.pid) return !held.has(owner.token);
  if (!pidAlive(owner.pid)) return true;
  const now = startTicks(owner.pid);
  return owner.start !== undefined && now !== undefined && now !== owner.start;
}

function readOwner(file: string): Owner | undefined {
  try {
    const o = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<Owner>;
    return typeof o.pid === "number" && typeof o.host === "string" && typeof o.token === "string" ? (o as Owner) : undefined;
  } catch {
    return undefined;
  }
}

function bootId(): string | undefined {
  try {
    return fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return undefined;
  }
}

/** Start time of `pid` in clock ticks after boot, from /proc (Linux); undefined elsewhere. */
function startTicks(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function ageMs(file: string): number {
  try {
    return Date.now() - fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}
