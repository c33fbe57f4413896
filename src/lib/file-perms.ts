import fs from "node:fs";

const OPEN_TO_OTHERS = 0o077;

/**
 * What is wrong with the modes of secret files (keystores, password and mnemonic files), one
 * sentence each, for the Ethereum key and the Bitcoin wallet alike. Files that cannot be stat'ed
 * are skipped (reading them reports that); a directory's 0755 is no leak (reading it as a file
 * fails and says so). Nothing on Windows, whose modes mean nothing here.
 */
export function secretFilePermProblems(named: ReadonlyArray<readonly [what: string, file: string | undefined]>): string[] {
  if (process.platform === "win32") return [];
  const out: string[] = [];
  for (const [what, file] of named) {
    if (!file) continue;
    let mode: number;
    try {
      const st = fs.statSync(file);
      if (!st.isFile()) continue;
      mode = st.mode & 0o777;
    } catch {
      continue;
    }
    if (mode & OPEN_TO_OTHERS) out.push(`${what} ${file} is open to group/others (mode ${mode.toString(8).padStart(4, "0")}); run chmod 600 on it`);
  }
  return out;
}
