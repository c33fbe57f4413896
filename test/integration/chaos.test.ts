import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runChaosCase, runFollowChaosCase, startEmpWorld, startTbtcWorld, type ChaosCaseResult, type ChaosCommand, type EmpWorld, type TbtcWorld } from "../../src/devnet/chaos";
import { buildOnce } from "../helpers/cli";

/**
 * Exactly once under a lossy RPC, the short seeded version (`npm run chaos` runs >= 20 seeds per
 * command). The binary talks to the real contracts through a proxy that fails 30% of requests;
 * the harness re-runs it like cron until it exits 0 and counts everything from the chain.
 */
const SEEDS = [11, 12];
let tbtc: TbtcWorld;
let emp: EmpWorld;
const results: ChaosCaseResult[] = [];

beforeAll(async () => {
  buildOnce();
  [tbtc, emp] = [await startTbtcWorld(), await startEmpWorld()];
}, 300_000);

afterAll(async () => {
  await tbtc?.close();
  await emp?.close();
});

function expectExactlyOnce(r: ChaosCaseResult): void {
  const what = JSON.stringify(r);
  expect(r.exitCodes.at(-1), what).toBe(0);
  expect(r.done, what).toBe(r.required);
  expect(r.duplicates, what).toBe(0);
  expect(r.reverted, what).toBe(0);
  expect(r.falseFailureAlerts, what).toBe(0);
}

describe("exactly once at 30% RPC faults (counted from the chain)", () => {
  const cases: [ChaosCommand, () => TbtcWorld | EmpWorld][] = [
    ["watch", () => tbtc],
    ["watch-preapprove", () => tbtc],
    ["redeem", () => tbtc],
    ["emp-liquidate", () => emp],
    ["emp-dispute", () => emp],
  ];
  for (const [command, world] of cases) {
    it.each(SEEDS)(`${command}, seed %i`, async (seed) => {
      const r = await runChaosCase(world(), command, { seed, rate: 0.3 });
      results.push(r);
      console.log(JSON.stringify({ c: r.command, s: r.seed, runs: r.runs, codes: r.exitCodes, req: r.required, done: r.done, dup: r.duplicates, rev: r.reverted, tx: r.transactions, bf: r.broadcastFaults, f: Object.values(r.faults).reduce((a, b) => a + b, 0), ms: r.ms, err: r.stderrTail }));
      expectExactlyOnce(r);
    }, 300_000);
  }

  // A redemption finished on Bitcoin through faults on both sides: request, signature, Bitcoin
  // broadcast, proof — each exactly once, counted from both chains (a fresh world: Bitcoin spends
  // are not reverted with the Ethereum snapshot).
  it("redeem --follow, seed 11, 30 % faults on the RPC and on the Bitcoin servers", async () => {
    const r = await runFollowChaosCase({ seed: 11, rate: 0.3 });
    results.push(r);
    console.log(JSON.stringify({ c: r.command, s: r.seed, runs: r.runs, codes: r.exitCodes, req: r.required, done: r.done, dup: r.duplicates, rev: r.reverted, tx: r.transactions, f: Object.values(r.faults).reduce((a, b) => a + b, 0), btc: r.btcFaults, ms: r.ms, err: r.stderrTail }));
    expectExactlyOnce(r);
    expect(r.btcFaults).toBeGreaterThan(0);
  }, 400_000);

  it("the faults really happened, broadcasts included", () => {
    const total = results.reduce((a, r) => a + Object.values(r.faults).reduce((x, y) => x + y, 0), 0);
    expect(total).toBeGreaterThan(20);
    expect(results.reduce((a, r) => a + r.broadcastFaults, 0)).toBeGreaterThan(0);
  });
});
