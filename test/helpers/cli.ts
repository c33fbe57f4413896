import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { PACKAGE_ROOT } from "../../src/devnet/node";
import { distProblem } from "./build";

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
  // Locks are machine-wide by default (<tmpdir>/keepctl-locks): each test home gets its own.
  return { PATH: process.env.PATH ?? "", HOME: o.home, NO_COLOR: "1", KEEPCTL_DATA_DIR: o.dataDir ?? path.join(o.home, "data"), KEEPCTL_LOCK_DIR: path.join(o.home, "locks"), ...o.env };
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

/**
 * Checks that dist/ is built and no source is newer; the vitest globalSetup
 * (test/helpers/global-setup.ts) builds it once before any worker starts.
 */
export function buildOnce(): void {
  const problem = distProblem();
  if (problem) throw new Error(`${problem}: run \`npx tsc -p tsconfig.json\` (the vitest globalSetup should have built it)`);
}
