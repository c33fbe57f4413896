import { performance } from "node:perf_hooks";
import { SubgraphServer } from "../src/devnet/subgraph-server";
import { RAY, annualize, computeTwap, SubgraphClient, type PricePoint } from "../src/lib/rai";

/**
 * RAI feed figures: a year of hourly rates (8,760) fetched from our subgraph server on loopback
 * with paging, then the TWAP; and TWAP compute time at 1k/10k/100k observations (should grow
 * linearly). Returns false when growth looks worse than linear.
 */
const YEAR = 31_536_000;
const T0 = 1_640_995_200; // 2022-01-01T00:00:00Z

function hourlyRates(n: number): { perSecondRate: bigint; timestamp: number; block: number }[] {
  // deterministic wiggle around 1 RAY, above and below
  return Array.from({ length: n }, (_, i) => ({
    perSecondRate: RAY + BigInt(Math.round(Math.sin(i / 24) * 3e9)) * 1_000_000n,
    timestamp: T0 + i * 3600,
    block: 13_916_166 + i * 300,
  }));
}

function syntheticPoints(n: number): PricePoint[] {
  return Array.from({ length: n }, (_, i) => ({ timestamp: T0 + i * 60, price: 10n ** 18n + BigInt((i * 7919) % 100_000) * 10n ** 9n }));
}

function timeIt(fn: () => void, reps: number): number {
  fn(); // warm up the JIT
  const t = performance.now();
  for (let i = 0; i < reps; i++) fn();
  return (performance.now() - t) / reps;
}

export async function benchRai(): Promise<boolean> {
  const out = (s: string) => process.stdout.write(s + "\n");
  out("RAI redemption-rate feed");

  const server = new SubgraphServer({});
  const rates = hourlyRates(8760);
  server.preload(rates);
  const url = await server.start();
  try {
    const client = new SubgraphClient({ url });
    const window = { start: T0 - 1, end: T0 + YEAR - 1 };
    const t0 = performance.now();
    const obs = await client.fetchWindow(window);
    const fetchMs = performance.now() - t0;
    const t1 = performance.now();
    const twap = computeTwap(obs, window.start, window.end);
    const computeMs = performance.now() - t1;
    if (obs.length !== rates.length) throw new Error(`fetched ${obs.length} of ${rates.length} rates`);
    // cross-check against the same series computed without the network
    const direct = computeTwap(rates.map((r) => ({ timestamp: r.timestamp, price: annualize(r.perSecondRate) })), window.start, window.end);
    if (twap !== direct) throw new Error("TWAP over fetched rates differs from the direct computation");
    out(`  year of hourly rates: ${obs.length} observations, ${client.stats.requests} HTTP requests (pages of 1000 + 1 in-force query)`);
    out(`  fetch + parse + annualize: ${fetchMs.toFixed(1)} ms   TWAP over the year: ${computeMs.toFixed(2)} ms   price ${twap}`);
  } finally {
    await server.stop();
  }

  out("  TWAP compute time (pre-annualized points):");
  const perObs: number[] = [];
  for (const n of [1_000, 10_000, 100_000]) {
    const pts = syntheticPoints(n);
    const end = T0 + n * 60;
    const ms = timeIt(() => void computeTwap(pts, T0, end), n >= 100_000 ? 5 : 20);
    perObs.push((ms * 1e6) / n);
    out(`    ${String(n).padStart(7)} observations: ${ms.toFixed(3).padStart(9)} ms  (${((ms * 1e6) / n).toFixed(0)} ns/observation)`);
  }
  // linear: time per observation stays flat (allow JIT/GC noise); quadratic would grow 100x
  const linear = perObs[2] < perObs[0] * 5;
  out(`  growth: ${linear ? "linear" : "WORSE THAN LINEAR"} (ns/observation at 100k vs 1k: ${(perObs[2] / perObs[0]).toFixed(2)}x)`);
  return linear;
}
