import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers } from "ethers";
import { PACKAGE_ROOT } from "../src/devnet/node";
import { devnetWallet, startDevnet } from "../src/devnet/scenario";
import { loadUmaArtifact } from "../src/devnet/uma";
import { startProviderProxy } from "../src/devnet/provider-proxy";
import { RaiFeed } from "../src/lib/rai/feed";
import { annualize, RAY } from "../src/lib/rai/math";
import { empInterface } from "../src/lib/uma/emp-calls";
import { stopChild } from "./child";

/**
 * emp-guard's reaction in blocks: the devnet (RAI feed and EMP) mines a block every 12 s, the built
 * binary runs `emp-guard --target 2.5 --interval 1` through the provider proxy (80 ms RTT) for a
 * sponsor 0.2 % above the target, and a RateSetter update to a high rate lifts the feed's TWAP a
 * little more with every block until the position needs a top-up. Counted from the chain: the
 * first block at whose time the feed's price puts the position below the target (the price
 * update that needs it), and the block of the sponsor's Deposit. Target (issue 24): the next
 * block. With `allowance: "none"` the guard must approve exactly first (printed, not a target).
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BLOCK_MS = 12_000;
const E18 = 10n ** 18n;
/** A Hardhat account no devnet actor uses (sponsors 10-14, bots 15-16, expiry proposer 18). */
const SPONSOR_INDEX = 19;
const TARGET = "2.5";
const TOKENS = 100n * E18;

export interface GuardReactionRun {
  allowance: "ready" | "none";
  updateBlock: number;
  /** First block whose price needs a top-up. */
  needBlock?: number;
  depositBlock?: number;
  approveBlock?: number;
  reactionBlocks?: number;
  error?: string;
}

export interface GuardReactionResult {
  runs: GuardReactionRun[];
  target: { name: string; met: boolean; detail: string };
}

/** The per-second RAY rate whose annualized value is about `yearly` (bisection on annualize). */
function rateFor(yearly: bigint): bigint {
  let lo = RAY;
  let hi = RAY + RAY / 10_000_000n;
  while (hi - lo > 1n) {
    const mid = (lo + hi) / 2n;
    if (annualize(mid) < yearly) lo = mid;
    else hi = mid;
  }
  return hi;
}

async function measure(allowance: GuardReactionRun["allowance"], o: { rttMs?: number; log: (m: string) => void }): Promise<GuardReactionRun> {
  const log = o.log;
  log(`emp-guard reaction (allowance ${allowance}): starting the devnet (RAI feed and EMP) ...`);
  const devnet = await startDevnet({ seed: false, rai: true, emp: true, btc: false });
  const proxy = await startProviderProxy({ target: devnet.rpcUrl, rttMs: o.rttMs ?? 80 });
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-emp-guard-"));
  const raw = new ethers.JsonRpcProvider(devnet.rpcUrl, 31337, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
  let child: ReturnType<typeof spawn> | undefined;
  let exited = false;
  try {
    const rai = devnet.rai!;
    const emp = devnet.emp!.deployment;
    const file = path.join(home, "deployment.json");
    fs.writeFileSync(file, JSON.stringify(devnet.file));
    // Past the TWAP window and the update delay: the window holds one rate, so the price stands still.
    await raw.send("evm_increaseTime", [28_800 + rai.deployment.updateRateDelay]);
    await raw.send("evm_mine", []);
    const feed = new RaiFeed({ provider: raw, rateSetter: rai.deployment.addresses.RateSetter, lookback: 3600, chunkSize: 5000 });
    await feed.update();
    const p0 = feed.currentPrice()!;
    // A position 0.2 % above the target at that price (and above the devnet's GCR of 2.3).
    const collateral = (wad(TARGET) * TOKENS * p0 * 1002n) / (1000n * E18 * E18);
    const sponsor = devnetWallet(SPONSOR_INDEX, raw);
    const coll = new ethers.Contract(emp.addresses.collateral, loadUmaArtifact("TestnetERC20").abi, sponsor);
    await (await coll.allocateTo(sponsor.address, collateral + 100n * E18)).wait();
    await (await coll.approve(emp.addresses.emp, collateral)).wait();
    const e = new ethers.Contract(emp.addresses.emp, loadUmaArtifact("ExpiringMultiParty").abi, sponsor);
    await (await e.create({ rawValue: collateral }, { rawValue: TOKENS })).wait();
    if (allowance === "ready") await (await coll.approve(emp.addresses.emp, 100n * E18)).wait();

    await raw.send("evm_setAutomine", [false]);
    await raw.send("evm_setIntervalMining", [BLOCK_MS]);
    child = spawn(process.execPath, [path.join(PACKAGE_ROOT, "bin/keepctl"), "--deployment", file, "--rpc-url", proxy.url, "emp-guard", "--target", TARGET, "--interval", "1", "--source", "events"], {
      cwd: home,
      env: { PATH: process.env.PATH ?? "", HOME: home, NO_COLOR: "1", KEEPCTL_DATA_DIR: path.join(home, "data"), KEEPCTL_LOCK_DIR: path.join(home, "locks"), KEEPCTL_PRIVATE_KEY: sponsor.privateKey },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr?.on("data", (d) => { if (err.length < 20_000) err += d; });
    child.stdout?.on("data", (d) => { if (err.length < 20_000) err += d; });
    child.on("exit", () => { exited = true; });
    await sleep(15_000); // its first passes hold: the position is above the target
    if (exited) throw new Error(`emp-guard exited early: ${err.slice(-1500)}`);

    // The update: a rate of ~3 a year, against ~1: the TWAP rises ~0.08 % a block.
    // A fixed gas limit: estimated against the head, the call runs one block later, when the
    // redemption price it computes has run for another 12 s (more multiplications).
    const tx = await rai.deployment.rateSetter.updateRate((314n * RAY) / 100n, rateFor(3n * E18), { gasLimit: 1_000_000n });
    log("  rate update sent; waiting for its block and the guard's deposit ...");
    let updateBlock = 0;
    for (let i = 0; i < 60 && !updateBlock; i++) {
      const r = await raw.getTransactionReceipt(tx.hash);
      if (r && r.status !== 1) throw new Error(`the rate update reverted in block ${r.blockNumber}`);
      if (r) updateBlock = r.blockNumber;
      else await sleep(500);
    }
    if (!updateBlock) throw new Error("the rate update was never mined");
    const logsOf = async (address: string, topic: string) =>
      raw.send("eth_getLogs", [{ address, topics: [topic, ethers.zeroPadValue(sponsor.address, 32)], fromBlock: ethers.toQuantity(updateBlock), toBlock: "latest" }]) as Promise<{ blockNumber: string; transactionHash: string }[]>;
    const depositTopic = empInterface.getEvent("Deposit")!.topicHash;
    let deposits: number[] = [];
    for (let waited = 0; waited < 10 * BLOCK_MS && deposits.length === 0; waited += 1000) {
      await sleep(1000);
      deposits = (await logsOf(emp.addresses.emp, depositTopic)).map((l) => Number(l.blockNumber));
    }
    // The sponsor's approve() transactions (the deposit's transferFrom may emit Approval too: not counted).
    const approvals: number[] = [];
    for (const l of await logsOf(emp.addresses.collateral, ethers.id("Approval(address,address,uint256)"))) {
      if ((await raw.getTransaction(l.transactionHash))?.data.startsWith("0x095ea7b3")) approvals.push(Number(l.blockNumber));
    }
    // The first block at whose time the feed's price needs a top-up: collateral / (tokens × price) < target.
    await feed.update();
    let needBlock: number | undefined;
    const head = await raw.getBlockNumber();
    for (let b = updateBlock; b <= head && needBlock === undefined; b++) {
      const t = (await raw.getBlock(b))!.timestamp;
      const price = feed.historicalPrice(t)!;
      if (collateral * E18 * E18 < wad(TARGET) * TOKENS * price) needBlock = b;
    }
    const depositBlock = deposits[0];
    return {
      allowance, updateBlock, needBlock, depositBlock, approveBlock: approvals[0],
      reactionBlocks: needBlock !== undefined && depositBlock !== undefined ? depositBlock - needBlock : undefined,
      ...(depositBlock === undefined ? { error: `no deposit within ${(10 * BLOCK_MS) / 1000} s; emp-guard said: ${err.slice(-400)}` } : {}),
    };
  } finally {
    await stopChild(child);
    raw.destroy();
    await proxy.close();
    await devnet.stop();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

function wad(text: string): bigint {
  return ethers.parseUnits(text, 18);
}

export async function benchEmpGuard(o: { rttMs?: number; log?: (m: string) => void; noAllowance?: boolean } = {}): Promise<GuardReactionResult> {
  const log = o.log ?? ((m: string) => process.stderr.write(m + "\n"));
  const runs: GuardReactionRun[] = [];
  const attempt = async (a: GuardReactionRun["allowance"]) => {
    try {
      runs.push(await measure(a, { rttMs: o.rttMs, log }));
    } catch (e) {
      runs.push({ allowance: a, updateBlock: 0, error: e instanceof Error ? e.message : String(e) });
    }
  };
  await attempt("ready");
  if (o.noAllowance !== false) await attempt("none");
  const r = runs[0];
  return {
    runs,
    target: {
      name: "emp-guard: the top-up in the block after the price that needs it (12 s blocks)",
      met: r.reactionBlocks === 1,
      detail: r.reactionBlocks === undefined ? (r.error ?? "no reaction measured") : `the Deposit ${r.reactionBlocks} block(s) after (rate update in block ${r.updateBlock}, price below the target from block ${r.needBlock}, Deposit in ${r.depositBlock})`,
    },
  };
}

export function formatEmpGuard(r: GuardReactionResult): string {
  const line = (x: GuardReactionRun) => x.error && x.depositBlock === undefined
    ? `  allowance ${x.allowance}: ${x.error}`
    : `  allowance ${x.allowance}: rate update in block ${x.updateBlock}; below the target from block ${x.needBlock ?? "-"}; ${x.approveBlock === undefined ? "no approval" : `approval in ${x.approveBlock}`}; Deposit in ${x.depositBlock} (${x.reactionBlocks ?? "?"} block(s) after)`;
  return [
    "emp-guard reaction (12 s blocks, emp-guard --target 2.5 --interval 1 through the proxy, 80 ms RTT)",
    ...r.runs.map(line),
    `  [${r.target.met ? "met" : "missed"}] ${r.target.name}: ${r.target.detail}`,
  ].join("\n");
}
