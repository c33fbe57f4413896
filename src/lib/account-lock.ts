import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ExitCode, KeepctlError } from "./errors";

export interface AccountLock {
  file: string;
  release(): void;
}

/**
 * One sending process per account: `<data-dir>/locks/<account>.lock` created with O_EXCL and
 * holding our pid. A lock whose pid is dead (kill -9, reboot) is taken over; a live one is
 * refused with ACCOUNT_LOCKED (exit 3).
 */
export function acquireAccountLock(dataDir: string, account: string): AccountLock {
  const dir = path.join(dataDir, "locks");
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${account.toLowerCase()}.lock`);
  for (let tries = 0; tries < 3; tries++) {
    try {
      const fd = fs.openSync(file, "wx", 0o600);
      fs.writeSync(fd, JSON.stringify({ pid: process.pid, host: os.hostname(), since: new Date().toISOString() }));
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      const release = () => {
        process.removeListener("exit", release);
        try {
          if (lockOwner(file)?.pid === process.pid) fs.unlinkSync(file);
        } catch {
          // already gone
        }
      };
      process.once("exit", release);
      return { file, release };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const owner = lockOwner(file);
      if (owner && owner.host === os.hostname() && !pidAlive(owner.pid)) {
        fs.rmSync(file, { force: true }); // stale: its process is gone
        continue;
      }
      if (!owner && ageMs(file) > 10_000) {
        fs.rmSync(file, { force: true }); // unreadable lock left half-written by a crash
        continue;
      }
      if (!owner) throw new KeepctlError("ACCOUNT_LOCKED", ExitCode.CONFIG, `account ${account} is being locked by another keepctl process`, { hint: "try again in a few seconds" });
      throw new KeepctlError("ACCOUNT_LOCKED", ExitCode.CONFIG, `account ${account} is in use by another keepctl process (pid ${owner.pid} on ${owner.host})`, {
        hint: `stop that process first; if it is gone, delete ${file}`,
      });
    }
  }
  throw new KeepctlError("ACCOUNT_LOCKED", ExitCode.CONFIG, `could not take the lock for account ${account}`, { hint: `delete ${file} if no keepctl is running` });
}

function lockOwner(file: string): { pid: number; host: string } | undefined {
  try {
    const o = JSON.parse(fs.readFileSync(file, "utf8")) as { pid?: unknown; host?: unknown };
    return typeof o.pid === "number" && typeof o.host === "string" ? { pid: o.pid, host: o.host } : undefined;
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
