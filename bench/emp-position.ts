import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers } from "ethers";
import { PACKAGE_ROOT } from "../src/devnet/node";
import { startDevnet } from "../src/devnet/scenario";
import { startProviderProxy, type ProviderProxy } from "../src/devnet/provider-proxy";

/**
 * What `keepctl emp-position` asks the provider for one sponsor: the binary against the devnet's
 * EMP (RAI feed and EMP, no tBTC seed) through the provider proxy (80 ms RTT), once with a fixed
 * `--price` (the position's own reads) and once priced by the RAI feed (the feed's reads added).
 * Target (issue 24): the position in 1 round trip after the head. Counted by the proxy: HTTP
 * requests and the most in flight at once. Printed, never asserted.
 */
export interface EmpPositionBenchRun {
  name: string;
  httpRequests: number;
  rpcCalls: number;
  maxInFlight: number;
  byMethod: Record<string, number>;
  code: number | null;
}

export interface EmpPositionBenchResult {
  runs: EmpPositionBenchRun[];
  target: { name: string; met: boolean; detail: string };
}

const MNEMONIC = "test test test test test test test test test test test junk";
/** The devnet's sponsor at 1.3 (account 11). */
const SPONSOR = ethers.HDNodeWallet.fromPhrase(MNEMONIC, undefined, "m/44'/60'/0'/0/11").address;

function run(bin: string, args: string[], home: string): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: home,
      env: { PATH: process.env.PATH ?? "", HOME: home, NO_COLOR: "1", KEEPCTL_DATA_DIR: path.join(home, "data"), KEEPCTL_LOCK_DIR: path.join(home, "locks") },
      stdio: ["ignore", "ignore", "ignore"],
    });
    child.on("exit", (code) => resolve(code));
  });
}

async function measure(proxy: ProviderProxy, name: string, bin: string, args: string[], home: string): Promise<EmpPositionBenchRun> {
  proxy.resetCounts();
  const code = await run(bin, args, home);
  const c = proxy.counts;
  return { name, httpRequests: c.httpRequests, rpcCalls: c.rpcCalls, maxInFlight: c.maxInFlight, byMethod: { ...c.byMethod }, code };
}

export async function benchEmpPosition(o: { rttMs?: number; log?: (m: string) => void } = {}): Promise<EmpPositionBenchResult> {
  const log = o.log ?? ((m: string) => process.stderr.write(m + "\n"));
  log("emp-position: starting the devnet (RAI feed and EMP) ...");
  const devnet = await startDevnet({ seed: false, rai: true, emp: true, btc: false });
  const proxy = await startProviderProxy({ target: devnet.rpcUrl, rttMs: o.rttMs ?? 80 });
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-emp-position-"));
  try {
    const file = path.join(home, "deployment.json");
    fs.writeFileSync(file, JSON.stringify(devnet.file));
    const bin = path.join(PACKAGE_ROOT, "bin/keepctl");
    const base = ["--deployment", file, "--rpc-url", proxy.url, "emp-position", "--sponsor", SPONSOR, "--json"];
    const runs = [
      await measure(proxy, "fixed --price (the position alone)", bin, [...base, "--price", "1"], home),
      await measure(proxy, "priced by the RAI feed (events)", bin, [...base, "--source", "events"], home),
    ];
    const fixed = runs[0];
    // Counted as HTTP requests (an upper bound on round trips: requests side by side share one).
    // The head (chain id, head block, the EMP's code check) is one; the position one more.
    const met = fixed.code === 0 && fixed.httpRequests <= 2;
    return {
      runs,
      target: { name: "emp-position: the position in 1 round trip after the head (fixed price)", met, detail: `${fixed.httpRequests} HTTP request(s) (at most ${fixed.maxInFlight} in flight at once), ${fixed.rpcCalls} JSON-RPC call(s)${fixed.code === 0 ? "" : `; exit ${fixed.code}`}` },
    };
  } finally {
    await proxy.close();
    await devnet.stop();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

export function formatEmpPosition(r: EmpPositionBenchResult): string {
  return [
    "emp-position for one sponsor (devnet EMP through the proxy, 80 ms RTT)",
    ...r.runs.map((x) => `  ${x.name}: ${x.httpRequests} HTTP (${x.maxInFlight} at once at most), ${x.rpcCalls} calls (${Object.entries(x.byMethod).map(([m, n]) => `${m} ${n}`).join(", ")}), exit ${x.code}`),
    `  [${r.target.met ? "met" : "missed"}] ${r.target.name}: ${r.target.detail}`,
  ].join("\n");
}
