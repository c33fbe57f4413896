import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: "forks",
    // Integration files each start a Hardhat node; two cores, so keep it to two at a time.
    maxWorkers: 2,
    minWorkers: 1,
    reporters: ["default"],
  },
});
