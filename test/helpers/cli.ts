import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { PACKAGE_ROOT } from "../../src/devnet/node";

/** The e2e side of the suite: run the built binary `node bin/keepctl` as a user would. */
export const BIN = path.join(PACKAGE_ROOT, "bin", "keepctl");

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** HOME and cwd of the child: a temp dir without .env, so only what the test gives counts. */
  home: string;
  /** KEEPCTL_DATA_DIR; defaults to <home>/data. */
  dataDir?: string;
  /** Added on top of the clean base environment. */
  env?: Record<string, string>;
}

export interface Spawned {
  child: ChildProcess;
  done: Promise<Run>;
  /** Output so far, for tests that wait on a running process. */
  stdout(): string;
  stderr(): string;
}

/** A clean environment: nothing of the developer's shell but PATH, and no colour codes. */
export function cliEnv(o: CliOptions): Record<string, string> {
  return { PATH: process.env.PATH ?? "", HOME: o.home, NO_COLOR: "1", KEEPCTL_DATA_DIR: o.dataDir ?? path.join(o.home, "data"), ...o.env };
}

export function spawnKeepctl(args: string[], o: CliOptions): Spawned {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: o.home, env: cliEnv(o), stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<Run>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
  return { child, done, stdout: () => stdout, stderr: () => stderr };
}

export function runKeepctl(args: string[], o: CliOptions): Promise<Run> {
  return spawnKeepctl(args, o).done;
}

const DIST_CLI = path.join(PACKAGE_ROOT, "dist", "src", "cli.js");
let built = false;

function newestSourceMtime(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSourceMtime(p));
    else if (e.name.endsWith(".ts")) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Builds dist/ when a source is newer than it (`npm test` builds first, so usually nothing to
 * do); once per test file. tsc still emits when a file has a type error; the binary is what we test.
 */
export function buildOnce(): void {
  if (built) return;
  const stale =
    !fs.existsSync(DIST_CLI) ||
    Math.max(newestSourceMtime(path.join(PACKAGE_ROOT, "src")), newestSourceMtime(path.join(PACKAGE_ROOT, "bench"))) > fs.statSync(DIST_CLI).mtimeMs;
  if (stale) {
    try {
      execFileSync(process.execPath, [require.resolve("typescript/bin/tsc", { paths: [PACKAGE_ROOT] }), "-p", "tsconfig.json"], { cwd: PACKAGE_ROOT, stdio: "ignore" });
    } catch { /* checked below */ }
  }
  if (!fs.existsSync(DIST_CLI)) throw new Error("dist/src/cli.js is missing: run `npx tsc -p tsconfig.json`");
  built = true;
}
