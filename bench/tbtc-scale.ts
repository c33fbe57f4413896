import { runChildJson } from "./child";
import { runHeader, runRow } from "./table";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers } from "ethers";
import { buildMainnetShape, type MainnetShape, type MainnetShapeOptions } from "../src/devnet/bench-tbtc-scenario";
import { startProviderProxy, type ProviderProxy, type ProviderProxyOptions } from "../src/devnet/provider-proxy";
import { COURTESY_CALLED_TOPIC, EXITED_COURTESY_CALL_TOPIC, FUNDED_TOPIC, KEEP_CREATED_TOPIC } from "../src/lib/tbtc/abis";
import { decodeKeepCreated, matchingMembers, operatorSet } from "../src/lib/tbtc/read/keeps";
import { DEPOSIT_STATE_SLOT } from "../src/lib/tbtc/read/deposit-slots";

/**
 * list-keeps at mainnet scale through a provider-faithful proxy (RTT, getLogs range and result
 * caps, batch cap, rate limit): the sequential baseline, keepctl cold and warm, and the physical
 * limit, side by side, each in a process of its own (peak RSS), then how the cost grows with the
 * operator's keeps and with the block range. Timing targets are printed, never asserted in tests.
 */
export interface ScaleOptions extends MainnetShapeOptions {
  proxy?: Omit<ProviderProxyOptions, "target">;
  /** Skip the (slow, sequential) baseline. */
  skipBaseline?: boolean;
}

export interface ScaleRun {
  name: string;
  ms: number;
  found: number;
  finished?: number;
  phases?: string;
  peakRssMb: number;
  httpRequests: number;
  rpcCalls: number;
  bytesIn: number;
  bytesOut: number;
  rateLimited: number;
  refused: number;
}

export interface ScaleResult {
  shape: Omit<MainnetShape, "node" | "dep" | "close">;
  settings: ProviderProxy["settings"];
  runs: ScaleRun[];
  limit: { roundTrips: number; ms: number; derivation: string[]; warmRoundTrips: number };
  growth: string[];
  targets: { name: string; met: boolean; detail: string }[];
}

const CHILD = path.join(__dirname, "scale-child.js");

type Json = { id: number; result?: unknown; error?: { message: string } };

/**
 * The physical limit, run: a client that knows the caps and issues exactly the plan the data
 * dependencies allow (head; every cap-sized log range at once, batches side by side; one read per
 * live deposit and its keep's bond, at once), with no retries, checks or cache. Through the same
 * proxy and node as keepctl, so it pays the same node compute; what keepctl spends beyond it is
 * keepctl's own.
 */
async function idealClient(url: string, shape: MainnetShape, settings: ProviderProxy["settings"]): Promise<{ ms: number; found: number }> {
  let id = 0;
  const post = async (calls: { method: string; params: unknown[] }[]): Promise<unknown[]> => {
    const per = settings.maxBatchCalls || calls.length;
    const groups: (typeof calls)[] = [];
    for (let i = 0; i < calls.length; i += per) groups.push(calls.slice(i, i + per));
    const answers = await Promise.all(groups.map(async (g) => {
      const body = g.map((c) => ({ jsonrpc: "2.0", id: ++id, ...c }));
      const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      const got = (await r.json()) as Json[];
      const byId = new Map(got.map((a) => [a.id, a]));
      return body.map((b) => {
        const a = byId.get(b.id);
        if (!a || a.error) throw new Error(`ideal client: ${b.method} failed: ${a?.error?.message ?? "no answer"}`);
        return a.result;
      });
    }));
    return answers.flat();
  };
  const t0 = performance.now();
  const [headHex] = await post([{ method: "eth_blockNumber", params: [] }]);
  const head = Number(headHex);
  const cap = settings.maxLogBlockRange || head;
  const ranges: { method: string; params: unknown[] }[] = [];
  for (let b = shape.startBlock; b <= head; b += cap) {
    ranges.push({ method: "eth_getLogs", params: [{ address: [shape.factory, shape.system], topics: [[KEEP_CREATED_TOPIC, COURTESY_CALLED_TOPIC, EXITED_COURTESY_CALL_TOPIC, FUNDED_TOPIC]],
      fromBlock: ethers.toQuantity(b), toBlock: ethers.toQuantity(Math.min(head, b + cap - 1)) }] });
  }
  const logs = (await post(ranges)).flat() as ethers.Log[];
  const ops = operatorSet([shape.operator]);
  const factory = shape.factory.toLowerCase();
  const mine = logs
    .filter((l) => l.address.toLowerCase() === factory && l.topics[0] === KEEP_CREATED_TOPIC)
    .map((l) => decodeKeepCreated({ ...l, blockNumber: Number(l.blockNumber) } as ethers.Log))
    .filter((k) => matchingMembers(k.members, ops).length > 0);
  const tag = ethers.toQuantity(head);
  await post(mine.flatMap((k) => [
    { method: "eth_getStorageAt", params: [k.deposit, ethers.toQuantity(DEPOSIT_STATE_SLOT), tag] },
    { method: "eth_getBalance", params: [k.keep, tag] },
  ]));
  return { ms: performance.now() - t0, found: mine.length };
}

function runChild(args: string[], cwd: string): Promise<{ ms: number; found: number; finished?: number; phases?: string; peakRssMb: number }> {
  return runChildJson(CHILD, "scale-child", args, cwd);
}

export async function benchTbtcScale(o: ScaleOptions = {}): Promise<ScaleResult> {
  const log = o.log ?? ((m: string) => process.stderr.write(m + "\n"));
  log(`building the mainnet-shaped chain (${o.totalKeeps ?? 3500} keeps, ${o.operatorDeposits ?? 300} real deposits) ...`);
  const shape = await buildMainnetShape({ ...o, log });
  log(`  built in ${shape.buildSec.toFixed(0)} s: head ${shape.head}, keeps in blocks ${shape.firstKeepBlock}..${shape.lastKeepBlock}`);
  const proxy = await startProviderProxy({ target: shape.node.rpcUrl, ...o.proxy });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-scale-"));
  try {
    const file = path.join(tmp, "deployment.json");
    fs.writeFileSync(file, JSON.stringify({
      network: "bench", chainId: 31337, rpcUrl: proxy.url, deploymentBlock: shape.startBlock, operators: [],
      contracts: { ...shape.dep.addresses },
    }));
    const runs: ScaleRun[] = [];
    const measure = async (name: string, args: string[]): Promise<ScaleRun> => {
      proxy.resetCounts();
      log(`  ${name} ...`);
      const r = await runChild(args, tmp);
      const c = proxy.counts;
      const run = { name, ...r, httpRequests: c.httpRequests, rpcCalls: c.rpcCalls, bytesIn: c.bytesIn, bytesOut: c.bytesOut,
        rateLimited: c.rateLimited, refused: c.rangeRefused + c.resultsRefused + c.batchRefused };
      runs.push(run);
      if (process.env.BENCH_DEBUG) log(`    ${JSON.stringify(c.byMethod)} upstream ${proxy.upstreamMs().toFixed(0)} ms`);
      return run;
    };
    const dataA = path.join(tmp, "data-a");
    const baseline = o.skipBaseline ? undefined : await measure("baseline", ["baseline", file, proxy.url, "-", shape.operator, String(proxy.settings.maxLogBlockRange || 10_000)]);
    const cold = await measure("cold", ["keepctl", file, proxy.url, dataA, shape.operator]);
    const warm = await measure("warm", ["keepctl", file, proxy.url, dataA, shape.operator]);
    proxy.resetCounts();
    log("  ideal client ...");
    const ideal = await idealClient(proxy.url, shape, proxy.settings);
    const idealRun: ScaleRun = { name: "ideal client (limit, run)", ms: ideal.ms, found: ideal.found, peakRssMb: 0, httpRequests: proxy.counts.httpRequests,
      rpcCalls: proxy.counts.rpcCalls, bytesIn: proxy.counts.bytesIn, bytesOut: proxy.counts.bytesOut, rateLimited: proxy.counts.rateLimited,
      refused: proxy.counts.rangeRefused + proxy.counts.resultsRefused + proxy.counts.batchRefused };
    runs.push(idealRun);
    const small = await measure(`cold, ${shape.smallOperatorDeposits} keeps`, ["keepctl", file, proxy.url, path.join(tmp, "data-b"), shape.smallOperator]);

    // The physical limit: the data dependencies allow no fewer round trips than these.
    const rtt = proxy.settings.rttMs;
    const blocks = shape.head - shape.startBlock + 1;
    const cap = proxy.settings.maxLogBlockRange || blocks;
    const logCalls = Math.ceil(blocks / cap);
    const logRequests = proxy.settings.maxBatchCalls > 0 ? Math.ceil(logCalls / proxy.settings.maxBatchCalls) : 1;
    const live = shape.operatorDeposits - shape.finishedDeposits;
    const overBurst = proxy.settings.requestsPerSecond > 0 ? Math.max(0, logRequests + 2 - proxy.settings.burst) : 0;
    const waitMs = overBurst > 0 ? Math.ceil(overBurst / proxy.settings.requestsPerSecond) * 1000 : 0;
    const roundTrips = 3;
    const limit = {
      roundTrips,
      warmRoundTrips: 1,
      ms: roundTrips * rtt + waitMs,
      derivation: [
        `1 RT: the head (chain id, head block and contract checks fit one batch); every log range ends at it`,
        `1 RT: ${blocks.toLocaleString("en-US")} blocks / ${cap.toLocaleString("en-US")}-block cap = ${logCalls} eth_getLogs, ${logRequests} HTTP request(s) of <= ${proxy.settings.maxBatchCalls || "any"} calls side by side`,
        `1 RT: reads of the ${live} live deposits (found only by the logs; ${shape.finishedDeposits} finished need no read once known)`,
        `= ${roundTrips} RT x ${rtt} ms${waitMs ? ` + ${waitMs} ms rate-limit wait (${overBurst} requests over the burst)` : ""} = ${roundTrips * rtt + waitMs} ms; warm with nothing changed: 1 RT (the head, compared with the cache)`,
      ],
    };

    // Growth with the block range: the same keeps, twice the blocks.
    await fetch(shape.node.rpcUrl, { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "hardhat_mine", params: [ethers.toQuantity(blocks)] }) });
    const longer = await measure(`cold, ${(2 * blocks).toLocaleString("en-US")} blocks`, ["keepctl", file, proxy.url, path.join(tmp, "data-c"), shape.operator]);

    const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : "n/a");
    const growthLine = (what: string, x: number, big: ScaleRun, smallRun: ScaleRun) =>
      `${what} x${x.toFixed(2)}: time x${ratio(big.ms, smallRun.ms)}, HTTP x${ratio(big.httpRequests, smallRun.httpRequests)}, JSON-RPC x${ratio(big.rpcCalls, smallRun.rpcCalls)}, bytes x${ratio(big.bytesIn + big.bytesOut, smallRun.bytesIn + smallRun.bytesOut)}`;
    const growth = [
      growthLine(`operator keeps ${shape.smallOperatorDeposits} -> ${shape.operatorDeposits}`, shape.operatorDeposits / Math.max(1, shape.smallOperatorDeposits), cold, small),
      growthLine(`block range ${blocks.toLocaleString("en-US")} -> ${(2 * blocks).toLocaleString("en-US")}`, 2, longer, cold),
    ];

    const n = shape.operatorDeposits;
    const peak = Math.max(...runs.filter((r) => r.name !== "baseline" && r !== idealRun).map((r) => r.peakRssMb));
    const targets = [
      { name: "all deposits found", met: cold.found === n && warm.found === n && (!baseline || baseline.found === n) && small.found === shape.smallOperatorDeposits && longer.found === n,
        detail: `baseline ${baseline?.found ?? "-"}, cold ${cold.found}, warm ${warm.found} of ${n}; small operator ${small.found} of ${shape.smallOperatorDeposits}; longer range ${longer.found}` },
      { name: `cold within 2x the physical limit (${limit.ms} ms)`, met: cold.ms <= 2 * limit.ms, detail: `${cold.ms.toFixed(0)} ms = ${(cold.ms / limit.ms).toFixed(2)}x` },
      ...(baseline ? [{ name: `cold >= 50x faster than the baseline at ${rtt} ms RTT`, met: baseline.ms >= 50 * cold.ms, detail: `${(baseline.ms / cold.ms).toFixed(1)}x` }] : []),
      { name: `cold within 2x the ideal client run on this node (${ideal.ms.toFixed(0)} ms: same RTs plus the node's own work)`, met: cold.ms <= 2 * ideal.ms,
        detail: `${(cold.ms / ideal.ms).toFixed(2)}x` },
      { name: "cold within 1.25x the ideal client (issue 21)", met: cold.ms <= 1.25 * ideal.ms,
        detail: `${(cold.ms / ideal.ms).toFixed(2)}x` },
      { name: "warm: 1 round trip when nothing changed", met: warm.httpRequests <= 1,
        detail: warm.httpRequests <= 1 ? `${warm.httpRequests} HTTP request`
          : `${warm.httpRequests} HTTP requests: the chain id, the head, the cached block's hash and the contract checks should share one batch` },
      { name: "peak RSS <= 200 MB (keepctl runs)", met: peak <= 200, detail: `${peak.toFixed(0)} MB` },
    ];
    const { node: _n, dep: _d, close: _c, ...shapeFigures } = shape;
    return { shape: shapeFigures, settings: { ...proxy.settings }, runs, limit, growth, targets };
  } finally {
    await proxy.close();
    await shape.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export function formatTbtcScale(r: ScaleResult): string {
  const s = r.shape;
  const st = r.settings;
  const head = runHeader(26);
  const row = (x: ScaleRun) =>
    runRow(x, 26) + `${x.refused ? `  (${x.refused} refused by caps)` : ""}${x.phases ? `  [${x.phases}]` : ""}`;
  return [
    `tBTC list-keeps at mainnet scale through a provider-faithful proxy`,
    `  chain: ${s.totalKeeps} keeps (${s.operatorDeposits} of the benched operator, ${s.finishedDeposits} finished), keeps in blocks ${s.firstKeepBlock.toLocaleString("en-US")}..${s.lastKeepBlock.toLocaleString("en-US")}, head ${s.head.toLocaleString("en-US")} (deployment at ${s.startBlock}); built in ${s.buildSec.toFixed(0)} s`,
    `  provider: RTT ${st.rttMs} ms, eth_getLogs <= ${st.maxLogBlockRange} blocks and <= ${st.maxLogResults} results, batch <= ${st.maxBatchCalls} calls, ${st.requestsPerSecond} requests/s (burst ${st.burst})`,
    `  ${head}`,
    ...r.runs.map((x) => `  ${row(x)}`),
    `  ${"physical limit".padEnd(26)} ${(r.limit.ms + " ms").padStart(10)}   (${r.limit.roundTrips} round trips)`,
    ...r.limit.derivation.map((d) => `      ${d}`),
    `  growth:`,
    ...r.growth.map((g) => `      ${g}`),
    ...r.targets.map((t) => `  [${t.met ? "met" : "missed"}] ${t.name}: ${t.detail}`),
  ].join("\n");
}
