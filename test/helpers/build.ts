import fs from "node:fs";
import path from "node:path";
import { PACKAGE_ROOT } from "../../src/devnet/node";

/** The e2e tests run this file; tsc rewrites every output, so its mtime marks the last build. */
export const DIST_CLI = path.join(PACKAGE_ROOT, "dist", "src", "cli.js");

function newestSourceMtime(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSourceMtime(p));
    else if (e.name.endsWith(".ts")) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** Why dist/ cannot be tested as is, or undefined when it is built and no source is newer. */
export function distProblem(): string | undefined {
  if (!fs.existsSync(DIST_CLI)) return "dist/src/cli.js is missing";
  const newest = Math.max(newestSourceMtime(path.join(PACKAGE_ROOT, "src")), newestSourceMtime(path.join(PACKAGE_ROOT, "bench")));
  if (newest > fs.statSync(DIST_CLI).mtimeMs) return "dist/ is older than src/ or bench/";
  return undefined;
}
