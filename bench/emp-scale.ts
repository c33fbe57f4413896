import { runChildJson } from "./child";
import { runHeader, runRow } from "./table";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers } from "ethers";
import { buildEmpShape, type EmpShapeOptions } from "../src/devnet/bench-emp-scenario";
import { startProviderProxy, type ProviderProxy, type ProviderProxyOptions } from "../src/devnet/provider-proxy";

/**
 * EMP bots at scale (issue 13, item 5): one pass of emp-liquidate and of emp-dispute over an EMP
 * with >= 1,000 sponsors, through the provider-faithful proxy, against a baseline that reads the
 * way UMA's bots did (event scan, then one call per sponsor and read). Each run is a process of its
 * own (bench/emp-child.ts) so its peak RSS is its own. Timing targets are printed, never asserted.
 */
export interface EmpScaleOptions extends EmpShapeOptions {
  proxy?: Omit<ProviderProxyOptions, "target">;
  skipBaseline?: boolean;
}

interface Counted { http: number; calls: number }

export interface EmpRun {
  name: string;
  ms: number;
  found: number;
  peakRssMb: number;
  httpRequests: number;
  rpcCalls: number;
  bytesIn: number;
  bytesOut: number;
  rateLimited: number;
  pass1?: Counted & { ms: number };
  pass2?: Counted & { ms: number };
  session?: Counted & { ms: number };
}

export interface EmpScaleResult {
  shape: { sponsors: number; liquidated: number; pending: number; openPositions: number; startBlock: number; head: number; setupSec: number; setupTxs: number };
  settings: ProviderProxy["settings"];
  runs: EmpRun[];
  targets: { name: string; met: boolean; detail: string }[];
}

const CHILD = path.join(__dirname, "emp-child.js");
const MNEMONIC = "test test test test test test test test test test test junk";
const keyOf = (i: number) => ethers.HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).privateKey;

type ChildOut = { ms: number; found: number; peakRssMb: number; openMs?: number; pass1Ms?: number; pass2Ms?: number; session?: Counted; pass1?: Counted; pass2?: Counted };

function runChild(args: string[], cwd: string): Promise<ChildOut> {
  return runChildJson(CHILD, "emp-child", args, cwd);
}

export async function benchEmpScale(o: EmpScaleOptions = {}): Promise<EmpScaleResult> {
  const log = o.log ?? ((m: string) => process.stderr.write(m + "\n"));
  log(`building the EMP chain (${o.sponsors ?? 1000} sponsors) ...`);
  const shape = await buildEmpShape({ ...o, log });
  log(`  built in ${shape.setupSec.toFixed(0)} s (${shape.setupTxs} transactions), head ${shape.head}`);
  const proxy = await startProviderProxy({ target: shape.node.rpcUrl, ...o.proxy });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-emp-scale-"));
  try {
    const file = path.join(tmp, "deployment.json");
    fs.writeFileSync(file, JSON.stringify({
      network: "bench", chainId: 31337, rpcUrl: proxy.url, deploymentBlock: shape.startBlock, operators: [],
      contracts: { ExpiringMultiParty: shape.dep.addresses.emp },
    }));
    const runs: EmpRun[] = [];
    const measure = async (name: string, args: string[]): Promise<EmpRun> => {
      proxy.resetCounts();
      log(`  ${name} ...`);
      const r = await runChild(args, tmp);
      const c = proxy.counts;
      const run: EmpRun = {
        name, ms: r.ms, found: r.found, peakRssMb: r.peakRssMb, httpRequests: c.httpRequests, rpcCalls: c.rpcCalls, bytesIn: c.bytesIn, bytesOut: c.bytesOut, rateLimited: c.rateLimited,
        ...(r.pass1 ? { session: { ...r.session!, ms: r.openMs! }, pass1: { ...r.pass1, ms: r.pass1Ms! }, pass2: { ...r.pass2!, ms: r.pass2Ms! } } : {}),
      };
      if (process.env.BENCH_DEBUG) log(`    ${JSON.stringify(c.byMethod)}`);
      runs.push(run);
      return run;
    };
    const cap = String(proxy.settings.maxLogBlockRange || 10_000);
    const bl = o.skipBaseline ? undefined : await measure("baseline liquidator (UMA-style)", ["baseline-liquidator", shape.dep.addresses.emp, proxy.url, String(shape.startBlock), cap]);
    const liq = await measure("keepctl emp-liquidate", ["liquidator", file, proxy.url, path.join(tmp, "data-liq"), keyOf(5)]);
    const bd = o.skipBaseline ? undefined : await measure("baseline disputer (UMA-style)", ["baseline-disputer", shape.dep.addresses.emp, proxy.url, String(shape.startBlock), cap]);
    const dis = await measure("keepctl emp-dispute", ["disputer", file, proxy.url, path.join(tmp, "data-dis"), keyOf(6)]);

    const rtt = proxy.settings.rttMs;
    const targets: EmpScaleResult["targets"] = [
      { name: "every open position and liquidation found", met: liq.found === shape.openPositions && dis.found === shape.liquidated && (!bl || bl.found === shape.openPositions) && (!bd || bd.found === shape.liquidated),
        detail: `positions: keepctl ${liq.found}, baseline ${bl?.found ?? "-"} of ${shape.openPositions}; liquidations: keepctl ${dis.found}, baseline ${bd?.found ?? "-"} of ${shape.liquidated}` },
    ];
    for (const [ours, base, what] of [[liq, bl, "emp-liquidate"], [dis, bd, "emp-dispute"]] as const) {
      if (base) {
        const x = base.httpRequests / Math.max(1, ours.httpRequests);
        targets.push({ name: `${what}: >= 10x fewer HTTP requests than the baseline (whole run, session included)`, met: x >= 10,
          detail: `${ours.httpRequests} vs ${base.httpRequests} = ${x.toFixed(1)}x fewer; ${(base.ms / ours.ms).toFixed(1)}x faster` });
      }
      const p2 = ours.pass2!;
      targets.push({ name: `${what}: next pass with nothing changed <= 2 round trips`, met: p2.http <= 2,
        detail: `${p2.http} HTTP requests, ${p2.calls} calls, ${p2.ms.toFixed(0)} ms (${(p2.ms / rtt).toFixed(1)} x ${rtt} ms)` });
    }
    const { node: _n, dep: _d, close: _c, ...figures } = shape;
    return { shape: figures, settings: { ...proxy.settings }, runs, targets };
  } finally {
    await proxy.close();
    await shape.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export function formatEmpScale(r: EmpScaleResult): string {
  const s = r.shape;
  const st = r.settings;
  const head = runHeader(32);
  const row = (x: EmpRun) => runRow(x, 32);
  const detail = (x: EmpRun) => x.pass1
    ? [`      session ${x.session!.ms.toFixed(0)} ms ${x.session!.http} HTTP/${x.session!.calls} calls; pass 1 ${x.pass1.ms.toFixed(0)} ms ${x.pass1.http} HTTP/${x.pass1.calls} calls; pass 2 (nothing changed) ${x.pass2!.ms.toFixed(0)} ms ${x.pass2!.http} HTTP/${x.pass2!.calls} calls`]
    : [];
  return [
    `EMP bots at scale through a provider-faithful proxy`,
    `  chain: ${s.sponsors} sponsors + the setup liquidator's position (${s.openPositions} open positions, ${s.pending} with a pending withdrawal), ${s.liquidated} open liquidations; blocks ${s.startBlock.toLocaleString("en-US")}..${s.head.toLocaleString("en-US")}; set up in ${s.setupSec.toFixed(0)} s (${s.setupTxs} transactions)`,
    `  provider: RTT ${st.rttMs} ms, eth_getLogs <= ${st.maxLogBlockRange} blocks and <= ${st.maxLogResults} results, batch <= ${st.maxBatchCalls} calls, ${st.requestsPerSecond} requests/s (burst ${st.burst})`,
    `  ${head}`,
    ...r.runs.flatMap((x) => [`  ${row(x)}`, ...detail(x)]),
    ...r.targets.map((t) => `  [${t.met ? "met" : "missed"}] ${t.name}: ${t.detail}`),
  ].join("\n");
}
