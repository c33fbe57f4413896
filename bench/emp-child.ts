import { ethers } from "ethers";
import { connect } from "../src/lib/chain/provider";
import { loadConfig } from "../src/lib/config";
import { openBotSession } from "../src/lib/uma/bot-session";
import { EmpLiquidator } from "../src/lib/uma/liquidator";
import { EmpDisputer } from "../src/lib/uma/disputer";
import { EMP_ABI } from "../src/lib/uma/emp-abi";

/**
 * One measured EMP bot run of the EMP scale bench, in a process of its own (peak RSS):
 *   node dist/bench/emp-child.js liquidator|disputer <deployment.json> <rpcUrl> <dataDir> <privateKey>
 *   node dist/bench/emp-child.js baseline-liquidator|baseline-disputer <emp> <rpcUrl> <fromBlock> <logCap>
 * Prints one JSON line. keepctl runs open the bot session as the CLI does (config, connect,
 * preflight, params, signing account), run pass 1, then pass 2 with nothing changed, and report
 * each pass's HTTP requests and calls as the provider counted them.
 */
const emp = new ethers.Interface(EMP_ABI);
const NEW_SPONSOR = emp.getEvent("NewSponsor")!.topicHash;
const LIQUIDATION_CREATED = emp.getEvent("LiquidationCreated")!.topicHash;

/**
 * UMA's bots (financial-templates-lib's ExpiringMultiPartyClient, web3 over HTTP): an event scan,
 * then one call per sponsor and read, each its own HTTP request. Web3 fired them all at once; a
 * 50 requests/s provider answers that with 429s, so the baseline keeps 4 in flight (80 ms RTT x 4
 * ~ the rate limit). The scan walks the range in cap-sized pieces (the provider refuses more).
 */
async function baseline(bot: "liquidator" | "disputer", address: string, rpcUrl: string, fromBlock: number, cap: number) {
  const p = await connect({ rpcUrls: [rpcUrl], chainId: 31337, batchMaxCount: 1, timeoutMs: 60_000, retries: 8 });
  try {
    const pool = async <T>(items: T[], fn: (x: T) => Promise<unknown>) => {
      let next = 0;
      const out: unknown[] = [];
      await Promise.all(Array.from({ length: 4 }, async () => {
        while (next < items.length) {
          const i = next++;
          out[i] = await fn(items[i]);
        }
      }));
      return out;
    };
    const head = Number(await p.send("eth_blockNumber", []));
    const ranges: [number, number][] = [];
    for (let b = fromBlock; b <= head; b += cap) ranges.push([b, Math.min(head, b + cap - 1)]);
    const topic = bot === "liquidator" ? NEW_SPONSOR : LIQUIDATION_CREATED;
    const logs = (await pool(ranges, ([a, b]) => p.send("eth_getLogs", [{ address, topics: [topic], fromBlock: ethers.toQuantity(a), toBlock: ethers.toQuantity(b) }]))).flat() as ethers.Log[];
    const sponsors = [...new Set(logs.map((l) => ethers.getAddress(ethers.dataSlice(l.topics[1], 12))))];
    const call = async (fn: string, args: unknown[]) =>
      emp.decodeFunctionResult(fn, await p.send("eth_call", [{ to: address, data: emp.encodeFunctionData(fn, args) }, "latest"]));
    let found = 0;
    if (bot === "liquidator") {
      // positions() and getCollateral() per sponsor, as the client's update() read them.
      await pool(sponsors, async (s) => {
        const pos = await call("positions", [s]);
        await call("getCollateral", [s]);
        if ((pos[0][0] as bigint) > 0n) found++;
      });
    } else {
      await pool(sponsors, async (s) => {
        const rows = (await call("getLiquidations", [s]))[0] as ethers.Result[];
        found += rows.filter((r) => Number(r[2]) !== 0).length;
      });
    }
    return { found };
  } finally {
    p.destroy();
  }
}

async function ours(bot: "liquidator" | "disputer", file: string, rpcUrl: string, dataDir: string, key: string) {
  const env = { PATH: process.env.PATH ?? "", KEEPCTL_PRIVATE_KEY: key, KEEPCTL_RPC_TIMEOUT_MS: "120000" };
  const cfg = loadConfig({ deployment: file, rpcUrl, dataDir, price: "1" }, env, { cwd: dataDir, dotenv: false });
  const ac = new AbortController();
  const t0 = performance.now();
  const s = await openBotSession(cfg, { bot, dryRun: false, interactive: false, emit: () => undefined, signal: ac.signal });
  try {
    const openMs = performance.now() - t0;
    const stats = s.provider.stats;
    const snap = () => ({ http: stats.httpRequests, calls: stats.rpcCalls });
    const runner = bot === "liquidator" ? new EmpLiquidator(s.ctx, s.liquidation) : new EmpDisputer(s.ctx, s.dispute);
    const before1 = snap();
    const t1 = performance.now();
    const r1 = await runner.runPass(1);
    const pass1Ms = performance.now() - t1;
    const after1 = snap();
    const t2 = performance.now();
    await runner.runPass(2);
    const pass2Ms = performance.now() - t2;
    const after2 = snap();
    const found = "positions" in r1 ? r1.positions : r1.liquidations;
    const acted = "positions" in r1 ? r1.liquidations.length : r1.disputes.length;
    return {
      found, acted, openMs, pass1Ms, pass2Ms,
      session: { http: before1.http, calls: before1.calls },
      pass1: { http: after1.http - before1.http, calls: after1.calls - before1.calls },
      pass2: { http: after2.http - after1.http, calls: after2.calls - after1.calls },
    };
  } finally {
    s.close();
  }
}

async function main(): Promise<void> {
  const [mode, a, rpcUrl, c, d] = process.argv.slice(2);
  const t0 = performance.now();
  const r = mode.startsWith("baseline-")
    ? await baseline(mode.slice(9) as "liquidator" | "disputer", a, rpcUrl, Number(c), Number(d))
    : await ours(mode as "liquidator" | "disputer", a, rpcUrl, c, d);
  const ms = performance.now() - t0;
  process.stdout.write(JSON.stringify({ ms, ...r, peakRssMb: process.resourceUsage().maxRSS / 1024 }) + "\n");
}

main().catch((e) => {
  process.stderr.write(`emp-child failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
