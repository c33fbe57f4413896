import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Builds dist/ once before any worker, for the e2e tests that run the binary.
    globalSetup: ["test/helpers/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: "forks",
    // Integration files each start a Hardhat node; two cores, so keep it to two at a time.
    maxWorkers: 2,
    minWorkers: 1,
    reporters: ["default"],
  },
});
