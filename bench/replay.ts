import fs from "node:fs";
import path from "node:path";
import v8 from "node:v8";
import vm from "node:vm";
import { runReplay } from "../src/devnet/replay";
import { HOUR, findGaps, parsePriceCsv, samplePoints, selectWindow, type PortfolioEntry } from "../src/devnet/replay-data";

/**
 * `keepctl replay` over the whole shipped series (5,800 hourly points, every point) with 21
 * deposits and all three walks (bot, no bot, seed's policy). Targets (issue 11): under 2 minutes
 * on this 2-core machine, and flat memory: this process's live heap (after a full GC, every 240
 * points) in the last quarter of the run no more than 25 % (+8 MiB) above the first quarter's.
 * Resident memory of this process and of the Hardhat node is printed alongside.
 */
const CSV = path.resolve(__dirname, "../../data/ethbtc-2020-11_2021-06.csv");
const LIMIT_SEC = 120;

/** Current resident memory (MiB) of a process from /proc, or null. */
function rssMiB(pid: number | "self"): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Our children's resident memory, summed (the Hardhat node). */
function childrenRssMiB(): number | null {
  try {
    let sum = 0;
    for (const task of fs.readdirSync("/proc/self/task")) {
      for (const pid of fs.readFileSync(`/proc/self/task/${task}/children`, "utf8").trim().split(/\s+/).filter(Boolean)) sum += rssMiB(Number(pid)) ?? 0;
    }
    return sum;
  } catch {
    return null;
  }
}

export interface BenchReplayResult {
  lines: string[];
  met: boolean;
}

export async function benchReplay(o: { deposits?: number; log?: (m: string) => void } = {}): Promise<BenchReplayResult> {
  const log = o.log ?? ((m: string) => process.stderr.write(m + "\n"));
  const series = parsePriceCsv(fs.readFileSync(CSV, "utf8"), "ethbtc.csv");
  const window = selectWindow(series, undefined, undefined);
  const points = samplePoints(window, 1);
  const n = o.deposits ?? 21;
  // 1, 5 and 10 BTC lots, one every 4 hours from the first point.
  const lots = [1, 5, 10];
  const portfolio: PortfolioEntry[] = Array.from({ length: n }, (_, i) => ({ label: `b${i + 1}-${lots[i % 3]}btc`, lotBtc: lots[i % 3], openAt: points[0].t + i * 4 * HOUR }));
  const samples: Array<{ t: number; self: number; node: number | null }> = [];
  const heap: number[] = [];
  // A full GC before each heap sample, so the figure is what is live, not what GC has not yet swept.
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as () => void;
  const t0 = performance.now();
  const timer = setInterval(() => samples.push({ t: performance.now() - t0, self: rssMiB("self") ?? 0, node: childrenRssMiB() }), 1000);
  let run;
  try {
    run = await runReplay({
      points, series, gaps: findGaps(window), step: 1, windowPoints: window.length, portfolio, tbtc: 60, eth: 10,
      policy: { warnBelowPct: 130, redeemBelowPct: 130, notifyCourtesy: false, feeSats: 10_000n, minEthWei: 10n ** 17n, maxBlockAgeSec: 365 * 86400 },
      onProgress: (m) => {
        if (/\(\d+\/\d+\)$/.test(m)) {
          gc();
          heap.push(process.memoryUsage().heapUsed / 2 ** 20);
        }
        log(m);
      },
    });
  } finally {
    clearInterval(timer);
  }
  const { stats, report } = run;
  const total = samples.at(-1)?.t ?? 1;
  const quarterMax = (from: number, to: number, k: "self" | "node") => Math.max(0, ...samples.filter((s) => s.t >= from * total && s.t <= to * total).map((s) => s[k] ?? 0));
  const [selfFirst, selfLast] = [quarterMax(0, 0.25, "self"), quarterMax(0.75, 1, "self")];
  const [nodeFirst, nodeLast] = [quarterMax(0, 0.25, "node"), quarterMax(0.75, 1, "node")];
  const fast = stats.seconds < LIMIT_SEC;
  const q = Math.max(1, Math.floor(heap.length / 4));
  const heapFirst = Math.max(...heap.slice(0, q));
  const heapLast = Math.max(...heap.slice(-q));
  const flat = heapLast <= heapFirst * 1.25 + 8;
  const lines = [
    `replay: ${points.length} points x ${stats.walks} walks, ${n} deposits, chain touched at ${report.runs.map((r) => `${r.chainPoints} (${r.walk})`).join(", ")} points`,
    `  ${stats.seconds} s, ${stats.pointsPerSecond} points/s; peak RSS ${stats.peakRssMiB} MiB, Hardhat node ${stats.nodePeakRssMiB ?? "?"} MiB`,
    `  RSS first quarter / last quarter: this process ${selfFirst.toFixed(0)} / ${selfLast.toFixed(0)} MiB, node ${nodeFirst.toFixed(0)} / ${nodeLast.toFixed(0)} MiB`,
    `  [${fast ? "met" : "missed"}] whole series, ${n} deposits, 3 walks under ${LIMIT_SEC} s: ${stats.seconds} s`,
    `  [${flat ? "met" : "missed"}] memory flat (live heap after GC, ${heap.length} samples, last quarter <= 1.25 x first quarter + 8 MiB): ${heapFirst.toFixed(1)} -> ${heapLast.toFixed(1)} MiB`,
  ];
  return { lines, met: fast && flat };
}
