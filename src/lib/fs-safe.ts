import fs from "node:fs";
import path from "node:path";

/**
 * keepctl's own files (data dir, scan cache, journal, audit log) get fixed modes whatever the
 * umask: directories 0700, files 0600. A world-writable cache could be edited to hide deposits;
 * a readable journal or audit log tells others what the account does. The mode given to mkdir or
 * open is filtered by the umask, so the mode is set again with chmod (which the umask does not touch).
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates `dir` (and missing parents) as 0700. Only directories created here are chmod-ed: an
 * existing directory the user chose (say --data-dir /srv/shared) keeps the mode its owner gave it.
 */
export function ensurePrivateDir(dir: string): void {
  const abs = path.resolve(dir);
  const first = fs.mkdirSync(abs, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (first === undefined) return;
  // Every directory from the first one created down to `dir` is ours.
  let cur = abs;
  const created: string[] = [];
  while (true) {
    created.push(cur);
    if (cur === first || cur === path.dirname(cur)) break;
    cur = path.dirname(cur);
  }
  for (const d of created) fs.chmodSync(d, PRIVATE_DIR_MODE);
}

/** Writes `file` whole through a temp file and a rename (never half a document), mode 0600. */
export function writePrivateFile(file: string, data: string): void {
  ensurePrivateDir(path.dirname(file));
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    fs.writeFileSync(tmp, data, { mode: PRIVATE_FILE_MODE });
    fs.chmodSync(tmp, PRIVATE_FILE_MODE);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Appends a line to `file`, creating it 0600 (and making an existing one 0600 once). */
export function appendPrivateFile(file: string, data: string): void {
  ensurePrivateDir(path.dirname(file));
  const fd = fs.openSync(file, "a", PRIVATE_FILE_MODE);
  try {
    fs.fchmodSync(fd, PRIVATE_FILE_MODE);
    fs.writeSync(fd, data);
  } finally {
    fs.closeSync(fd);
  }
}

/** True when group or others may write `file` (so its content cannot be trusted as ours). */
export function writableByOthers(file: string): boolean {
  if (process.platform === "win32") return false;
  try {
    return (fs.statSync(file).mode & 0o022) !== 0;
  } catch {
    return false;
  }
}
