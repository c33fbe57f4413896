import { spawnSync } from "node:child_process";
import { PACKAGE_ROOT } from "../../src/devnet/node";
import { distProblem } from "./build";

/**
 * Builds dist/ once, before any worker starts, when a source is newer than it (`npm test` builds in
 * pretest, so usually nothing to do). A failing tsc stops the run: the e2e tests would otherwise
 * test a stale or half-built binary.
 */
export default function setup(): void {
  const problem = distProblem();
  if (!problem) return;
  const tsc = require.resolve("typescript/bin/tsc", { paths: [PACKAGE_ROOT] });
  const r = spawnSync(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: PACKAGE_ROOT, encoding: "utf8" });
  if (r.status !== 0) {
    throw new Error(`global setup: ${problem} and \`tsc -p tsconfig.json\` failed (exit ${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
  }
  const still = distProblem();
  if (still) throw new Error(`global setup: tsc succeeded but ${still}`);
}
