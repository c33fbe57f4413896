import { defineConfig } from "vitest/config";

/**
 * The fast tests only, for mutation runs (`npm run mutate`): Stryker re-runs them once per mutant,
 * so no Hardhat node, no dist/ build (no globalSetup), and no e2e binary runs.
 */
export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts"],
    // Stryker runs vitest in worker threads, where process.umask() cannot be set; that file tests
    // fs-safe (not a mutated module) and runs in the normal suite.
    exclude: ["test/unit/file-modes.test.ts", "**/node_modules/**"],
    testTimeout: 30_000,
    pool: "forks",
    maxWorkers: 1,
    minWorkers: 1,
  },
});
