import fs from "node:fs";
import { PRIVATE_FILE_MODE } from "./fs-safe";

/**
 * The append-only JSON-lines files keepctl folds on every read (the Ethereum journal, the mint
 * journal): one fsynced line per fact, a torn last line from a crash mid-write ignored.
 */

/** The file's lines; none when it does not exist yet. */
export function readLines(file: string): string[] {
  try {
    return fs.readFileSync(file, "utf8").split("\n");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    return [];
  }
}

/** Appends `line` to `file` (0600 whatever the umask) and fsyncs it before returning. */
export function appendSyncedLine(file: string, line: string): void {
  const fd = fs.openSync(file, "a", PRIVATE_FILE_MODE);
  try {
    // The open mode is filtered by the umask; fchmod is not. Journals hold signed transactions.
    fs.fchmodSync(fd, PRIVATE_FILE_MODE);
    fs.writeSync(fd, line + "\n");
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Parses `lines` as JSON, skipping blank ones. A line that does not parse is the torn end of a
 * crash mid-write when it is the last one (it never counted: skipped); anywhere else the file is
 * damaged and `corrupt(lineNumber, cause)` makes the error to throw.
 */
export function parseJsonLines<T>(lines: string[], corrupt: (lineNumber: number, cause: unknown) => Error): T[] {
  const out: T[] = [];
  lines.forEach((raw, i) => {
    if (!raw.trim()) return;
    try {
      out.push(JSON.parse(raw) as T);
    } catch (e) {
      // The file ends with "\n", so a torn last line is the second-to-last element of the split.
      if (i >= lines.length - 2) return;
      throw corrupt(i + 1, e);
    }
  });
  return out;
}
