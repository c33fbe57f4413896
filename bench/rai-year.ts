import http from "node:http";
import type { AddressInfo } from "node:net";
import { buildRaiYear, type RaiYearOptions } from "../src/devnet/bench-rai-scenario";
import { startProviderProxy, type ProviderProxy, type ProviderProxyOptions } from "../src/devnet/provider-proxy";
import { SubgraphServer } from "../src/devnet/subgraph-server";
import { connect } from "../src/lib/chain/provider";
import { RaiFeed, annualize, computeTwap } from "../src/lib/rai";

/**
 * rai-price over a year of hourly rates (issue 13, item 6): the feed's events-only path and its
 * subgraph path side by side, at the provider proxy's RTT. The subgraph sits behind a loopback
 * forwarder that adds the same RTT and counts requests and bytes. Both paths must give the TWAP
 * computed directly from the seeded rates. Nothing here is asserted in tests.
 */
export interface RaiYearBenchOptions extends RaiYearOptions {
  proxy?: Omit<ProviderProxyOptions, "target">;
}

export interface RaiPathRun {
  name: string;
  ms: number;
  observations: number;
  rpc: { httpRequests: number; rpcCalls: number; bytesIn: number; bytesOut: number; rateLimited: number };
  subgraph: { requests: number; bytesIn: number; bytesOut: number };
  price: bigint | null;
}

export interface RaiYearResult {
  hours: number;
  blocks: number;
  setupSec: number;
  settings: ProviderProxy["settings"];
  runs: RaiPathRun[];
  expected: bigint | null;
  targets: { name: string; met: boolean; detail: string }[];
}

const YEAR = 31_536_000;

/** An HTTP forwarder that waits `rttMs` per request and counts requests and bytes. */
async function delayForwarder(target: string, rttMs: number) {
  const counts = { requests: 0, bytesIn: 0, bytesOut: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks);
      counts.requests++;
      counts.bytesIn += body.length;
      await new Promise((r) => setTimeout(r, rttMs));
      try {
        const up = await fetch(target, { method: req.method, headers: { "content-type": req.headers["content-type"] ?? "application/json" }, body: req.method === "GET" ? undefined : body });
        const text = Buffer.from(await up.arrayBuffer());
        counts.bytesOut += text.length;
        res.writeHead(up.status, { "content-type": up.headers.get("content-type") ?? "application/json" }).end(text);
      } catch (e) {
        res.writeHead(502).end(String(e));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${new URL(target).pathname}`,
    counts,
    reset: () => Object.assign(counts, { requests: 0, bytesIn: 0, bytesOut: 0 }),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export async function benchRaiYear(o: RaiYearBenchOptions = {}): Promise<RaiYearResult> {
  const log = o.log ?? ((m: string) => process.stderr.write(m + "\n"));
  log(`seeding ${o.hours ?? 8760} hourly rates ...`);
  const year = await buildRaiYear({ ...o, log });
  log(`  seeded in ${year.setupSec.toFixed(0)} s, head ${year.head}`);
  const proxy = await startProviderProxy({ target: year.node.rpcUrl, ...o.proxy });
  const subgraph = new SubgraphServer({});
  subgraph.preload(year.rates);
  const fwd = await delayForwarder(await subgraph.start(), proxy.settings.rttMs);
  try {
    const now = year.rates[year.rates.length - 1].timestamp;
    const twapLength = Math.min(YEAR, now - year.rates[0].timestamp + 3600);
    const expected = computeTwap(year.rates.map((r) => ({ timestamp: r.timestamp, price: annualize(r.perSecondRate) })), now - twapLength, now);
    const runs: RaiPathRun[] = [];
    for (const [name, source] of [["events only", "events"], ["subgraph (+ lag check on the chain)", "auto"]] as const) {
      proxy.resetCounts();
      fwd.reset();
      log(`  ${name} ...`);
      // As rai-price connects: the RPC timeout raised as in the scale bench (one Hardhat process
      // answers the scan's side-by-side batches one after another).
      const provider = await connect({ rpcUrls: [proxy.url], chainId: 31337, timeoutMs: 120_000 });
      try {
        const t0 = performance.now();
        const feed = new RaiFeed({ provider, rateSetter: year.rai.addresses.RateSetter, subgraphUrl: source === "auto" ? fwd.url : undefined, source, twapLength, lookback: 0, floorBlock: year.rai.deploymentBlock, updateRateDelay: 3600 });
        const st = await feed.update();
        const price = feed.currentPrice();
        const ms = performance.now() - t0;
        const c = proxy.counts;
        runs.push({ name, ms, observations: st.observations.length, price,
          rpc: { httpRequests: c.httpRequests, rpcCalls: c.rpcCalls, bytesIn: c.bytesIn, bytesOut: c.bytesOut, rateLimited: c.rateLimited },
          subgraph: { ...fwd.counts } });
        if (process.env.BENCH_DEBUG) log(`    ${JSON.stringify(c.byMethod)}; state now ${st.now}, head rate ${now}`);
      } finally {
        provider.destroy();
      }
    }
    const targets = [
      { name: "both paths give the TWAP of the seeded rates", met: runs.every((r) => r.price === expected), detail: runs.map((r) => `${r.name}: ${r.price === expected ? "equal" : `${r.price} != ${expected}`}`).join("; ") },
    ];
    return { hours: year.rates.length, blocks: year.head - year.rai.deploymentBlock, setupSec: year.setupSec, settings: { ...proxy.settings }, runs, expected, targets };
  } finally {
    await fwd.close();
    await subgraph.stop();
    await proxy.close();
    await year.close();
  }
}

const kb = (b: number) => (b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : `${(b / 1e3).toFixed(0)} kB`);

export function formatRaiYear(r: RaiYearResult): string {
  const st = r.settings;
  const row = (x: RaiPathRun) =>
    `${x.name.padEnd(36)} ${(x.ms.toFixed(0) + " ms").padStart(9)} ${String(x.rpc.httpRequests).padStart(5)} ${String(x.rpc.rpcCalls).padStart(6)} ${kb(x.rpc.bytesIn + x.rpc.bytesOut).padStart(8)} ${String(x.subgraph.requests).padStart(5)} ${kb(x.subgraph.bytesIn + x.subgraph.bytesOut).padStart(8)} ${String(x.observations).padStart(6)}${x.rpc.rateLimited ? `  (${x.rpc.rateLimited} x 429)` : ""}`;
  return [
    `rai-price over a year of hourly rates (${r.hours} UpdateRedemptionRate events over ${r.blocks.toLocaleString("en-US")} blocks; seeded in ${r.setupSec.toFixed(0)} s)`,
    `  RPC through the provider proxy: RTT ${st.rttMs} ms, eth_getLogs <= ${st.maxLogBlockRange} blocks, batch <= ${st.maxBatchCalls} calls, ${st.requestsPerSecond} requests/s; subgraph behind a forwarder adding the same RTT`,
    `  ${"path".padEnd(36)} ${"wall".padStart(9)} ${"RPC".padStart(5)} ${"calls".padStart(6)} ${"RPC B".padStart(8)} ${"subgr".padStart(5)} ${"subgr B".padStart(8)} ${"obs".padStart(6)}`,
    ...r.runs.map((x) => `  ${row(x)}`),
    `  (RPC = HTTP requests to the RPC, calls = JSON-RPC calls, B = bytes both ways, subgr = HTTP requests to the subgraph)`,
    ...r.targets.map((t) => `  [${t.met ? "met" : "missed"}] ${t.name}: ${t.detail}`),
  ].join("\n");
}
