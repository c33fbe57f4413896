import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers } from "ethers";
import { PACKAGE_ROOT } from "../src/devnet/node";
import { devnetWallet, startDevnet } from "../src/devnet/scenario";
import { ethBtcToMedianizerValue } from "../src/devnet/tbtc";
import { startProviderProxy } from "../src/devnet/provider-proxy";
import { startWsProxy } from "../src/devnet/ws-proxy";
import { COURTESY_CALLED_TOPIC } from "../src/lib/tbtc/abis";
import { REDEMPTION_REQUESTED_TOPIC } from "../src/lib/tbtc/redeem/redeem-abi";
import { stopChild } from "./child";

/**
 * Reaction time in blocks: the seeded devnet mines a block every 12 s (interval mining, no
 * automine), `keepctl watch --on-block --notify-courtesy --no-redeem` runs against it through the
 * provider proxy (80 ms RTT), and the ETH/BTC price drops so that the at-risk deposits fall below
 * the courtesy-call threshold. Counted from the chain: the block that includes the price change,
 * and the block that includes each CourtesyCalled event. Target (issue 13): the next block.
 * Then the same drop on a fresh devnet with `--redeem-below 125` instead (operator A's TBTC), twice:
 * with pre-approval (the default: the 128 % and 127 % deposits are below the 130 % warn level, so
 * watch approves their exact total before the drop; target: RedemptionRequested in the block after
 * the drop), and with --no-preapprove for comparison (approve, then request: the request waits for
 * its approval to be mined).
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BLOCK_MS = 12_000;

export interface ReactionResult {
  dropBlock: number;
  calledBlocks: number[];
  reactionBlocks?: number;
  /** The same drop with `--redeem-below` (no courtesy calls), with pre-approval. */
  redemption?: RedemptionReaction;
  /** The same with --no-preapprove: approve, then the request. */
  unapproved?: RedemptionReaction;
  target: { name: string; met: boolean; detail: string };
  /** Redemption requested in the block after the drop, with pre-approval. */
  redemptionTarget?: { name: string; met: boolean; detail: string };
  /** The courtesy-call drop with a ws:// URL (heads pushed): at most the poll path's blocks. */
  wsTarget?: { name: string; met: boolean; detail: string };
}

export interface RedemptionReaction {
  dropBlock: number;
  /** The account's approvals before the drop (pre-approvals) and after it. */
  preapproveBlocks: number[];
  approveBlocks: number[];
  requestBlocks: number[];
  error?: string;
}

interface Measured {
  dropBlock: number;
  /** Blocks of the events looked for (CourtesyCalled, or RedemptionRequested). */
  blocks: number[];
  /** Blocks of the account's approvals after the drop, and before it (redeem mode). */
  approveBlocks: number[];
  preapproveBlocks: number[];
  err: string;
}

type Mode = "courtesy" | "redeem" | "redeem-no-preapprove";

/** Starts a seeded devnet on 12 s blocks and watch through the proxy, drops the price, counts blocks. */
async function measure(mode: Mode, o: { rttMs?: number; log: (m: string) => void; ws?: boolean }): Promise<Measured> {
  const log = o.log;
  log(`reaction (${mode}${o.ws ? ", over a WebSocket" : ""}): starting the seeded devnet ...`);
  const devnet = await startDevnet({ seed: true });
  // The same RTT either way: per HTTP request, or per request/answer pair on the socket (a push pays half).
  const proxy = o.ws ? await startWsProxy({ target: devnet.rpcUrl.replace(/^http/, "ws"), rttMs: o.rttMs ?? 80 }) : await startProviderProxy({ target: devnet.rpcUrl, rttMs: o.rttMs ?? 80 });
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-reaction-"));
  const raw = new ethers.JsonRpcProvider(devnet.rpcUrl, 31337, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
  let child: ReturnType<typeof spawn> | undefined;
  let exited = false;
  try {
    const file = path.join(home, "deployment.json");
    fs.writeFileSync(file, JSON.stringify(devnet.file));
    // 12 s blocks from now on: a transaction waits in the pool for the next block.
    await raw.send("evm_setAutomine", [false]);
    await raw.send("evm_setIntervalMining", [BLOCK_MS]);
    // Courtesy calls: any account. Redemptions: operator A, who holds TBTC from its VendingMachine
    // deposits; --redeem-below 125 takes the at-risk VendingMachine deposit only after the drop.
    const bot = mode === "courtesy" ? devnetWallet(8) : devnetWallet(1);
    const actArgs = mode === "courtesy" ? ["--notify-courtesy", "--no-redeem"] : ["--redeem-below", "125", "--btc-address", "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", ...(mode === "redeem" ? [] : ["--no-preapprove"])];
    child = spawn(process.execPath, [path.join(PACKAGE_ROOT, "bin/keepctl"), "--deployment", file, "--rpc-url", proxy.url, "watch", "--on-block", "--interval", "3600",
      ...actArgs, "--operator", devnet.scenario.operators[0]], {
      cwd: home,
      env: { PATH: process.env.PATH ?? "", HOME: home, NO_COLOR: "1", KEEPCTL_DATA_DIR: path.join(home, "data"), KEEPCTL_LOCK_DIR: path.join(home, "locks"), KEEPCTL_PRIVATE_KEY: bot.privateKey },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr?.on("data", (d) => { if (err.length < 20_000) err += d; });
    child.stdout?.resume();
    child.on("exit", () => { exited = true; });
    // the first loop (cold scan) is done long before the next block or two
    await sleep(15_000);
    if (exited) throw new Error(`watch exited early: ${err.slice(-1500)}`);
    const approveTxs = async (fromBlock: number) => {
      // The account's approve() transactions (transferFrom emits Approval too: not counted).
      const logs = await raw.send("eth_getLogs", [{ address: devnet.deployment.addresses.TBTCToken, topics: [ethers.id("Approval(address,address,uint256)"), ethers.zeroPadValue(bot.address, 32)], fromBlock: ethers.toQuantity(fromBlock), toBlock: "latest" }]) as { blockNumber: string; transactionHash: string }[];
      const out: number[] = [];
      for (const l of logs) if ((await raw.getTransaction(l.transactionHash))?.data.startsWith("0x095ea7b3")) out.push(Number(l.blockNumber));
      return out;
    };
    // With pre-approval, the drop comes once the approval is mined (what a quiet market gives it).
    for (let waited = 0; mode === "redeem" && waited < 3 * BLOCK_MS && !(await approveTxs(0)).length; waited += 1000) await sleep(1000);
    const preapproveBlocks = await approveTxs(0);

    // The drop: 0.03 -> 0.0288 ETH/BTC takes the 128% and 127% deposits to ~123%, below 125%.
    const deployer = await raw.getSigner(0);
    const medianizer = new ethers.Contract(devnet.deployment.addresses.Medianizer, ["function setValue(uint256)"], deployer);
    const tx = await medianizer.setValue(ethBtcToMedianizerValue(0.0288));
    log(`  price drop sent; waiting for its block and watch's ${mode === "courtesy" ? "courtesy calls" : "redemption"} ...`);
    let dropBlock = 0;
    for (let i = 0; i < 40 && !dropBlock; i++) {
      const r = await raw.getTransactionReceipt(tx.hash);
      if (r) dropBlock = r.blockNumber;
      else await sleep(500);
    }
    if (!dropBlock) throw new Error("the price drop was never mined");
    const topic = mode === "courtesy" ? COURTESY_CALLED_TOPIC : REDEMPTION_REQUESTED_TOPIC;
    const found = async () => {
      const logs = await raw.send("eth_getLogs", [{ address: devnet.deployment.addresses.TBTCSystem, topics: [topic], fromBlock: ethers.toQuantity(dropBlock), toBlock: "latest" }]) as { blockNumber: string }[];
      return logs.map((l) => Number(l.blockNumber));
    };
    let blocks: number[] = [];
    for (let waited = 0; waited < 4 * BLOCK_MS && blocks.length === 0; waited += 1000) {
      await sleep(1000);
      blocks = await found();
    }
    // let a second action (if any) land in the next block too
    await sleep(BLOCK_MS + 1000);
    blocks = await found();
    return { dropBlock, blocks, approveBlocks: await approveTxs(dropBlock), preapproveBlocks, err };
  } finally {
    await stopChild(child);
    raw.destroy();
    await proxy.close();
    await devnet.stop();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

export async function benchReaction(o: { rttMs?: number; log?: (m: string) => void; redemption?: boolean; ws?: boolean } = {}): Promise<ReactionResult> {
  const log = o.log ?? ((m: string) => process.stderr.write(m + "\n"));
  const m = await measure("courtesy", { rttMs: o.rttMs, log });
  const calledBlocks = m.blocks;
  // Every at-risk deposit counts: the last courtesy call is the operator's exposure.
  const reaction = calledBlocks.length ? Math.max(...calledBlocks) - m.dropBlock : undefined;
  const first = calledBlocks.length ? Math.min(...calledBlocks) - m.dropBlock : undefined;
  let wsTarget: ReactionResult["wsTarget"];
  if (o.ws !== false) {
    const w = await measure("courtesy", { rttMs: o.rttMs, log, ws: true }).catch((e: Error) => ({ dropBlock: 0, blocks: [] as number[], err: e.message }));
    const wsReaction = w.blocks.length ? Math.max(...w.blocks) - w.dropBlock : undefined;
    wsTarget = {
      name: "reaction over a WebSocket (newHeads pushed): at most the poll path's blocks",
      met: wsReaction !== undefined && reaction !== undefined && wsReaction <= reaction,
      detail: wsReaction === undefined ? `no courtesy call; watch stderr: ${w.err.slice(-300)}` : `last courtesy call after ${wsReaction} block(s) (poll path: ${reaction ?? "none"}; drop in block ${w.dropBlock}, CourtesyCalled in ${w.blocks.join(", ")})`,
    };
  }
  let redemption: RedemptionReaction | undefined;
  let unapproved: RedemptionReaction | undefined;
  let redemptionTarget: ReactionResult["redemptionTarget"];
  if (o.redemption !== false) {
    redemption = await measureRedemption("redeem", o.rttMs, log);
    unapproved = await measureRedemption("redeem-no-preapprove", o.rttMs, log);
    const after = redemption.requestBlocks.length ? Math.max(...redemption.requestBlocks) - redemption.dropBlock : undefined;
    redemptionTarget = {
      name: "redemption: RedemptionRequested in the block after the price drop, with pre-approval (12 s blocks)",
      met: after === 1 && redemption.approveBlocks.length === 0,
      detail: redemption.error ?? `pre-approval in block ${redemption.preapproveBlocks.join(", ") || "-"} (before the drop in ${redemption.dropBlock}); RedemptionRequested after ${after} block(s); approvals after the drop: ${redemption.approveBlocks.length}`,
    };
  }
  return {
    dropBlock: m.dropBlock, calledBlocks, reactionBlocks: reaction, redemption, unapproved, redemptionTarget, wsTarget,
    target: { name: "reaction: every courtesy call in the block after the price drop (12 s blocks)", met: reaction === 1,
      detail: reaction === undefined ? `no courtesy call within ${(4 * BLOCK_MS) / 1000} s; watch stderr: ${m.err.slice(-300)}`
        : `first after ${first} block(s), last after ${reaction} (drop in block ${m.dropBlock}, CourtesyCalled in ${calledBlocks.join(", ")})` +
          (reaction > 1 && first === 1 ? "; the calls of one pass were not all mined in one block (watch-loop.ts broadcasts them all before waiting: a full block, or a fee too low?)" : "") },
  };
}

async function measureRedemption(mode: Mode, rttMs: number | undefined, log: (m: string) => void): Promise<RedemptionReaction> {
  try {
    const r = await measure(mode, { rttMs, log });
    return { dropBlock: r.dropBlock, preapproveBlocks: r.preapproveBlocks, approveBlocks: r.approveBlocks, requestBlocks: r.blocks, ...(r.blocks.length ? {} : { error: `no redemption request; watch stderr: ${r.err.slice(-300)}` }) };
  } catch (e) {
    return { dropBlock: 0, preapproveBlocks: [], approveBlocks: [], requestBlocks: [], error: e instanceof Error ? e.message : String(e) };
  }
}

export function formatReaction(r: ReactionResult): string {
  return [
    `reaction time (12 s blocks, watch --on-block --notify-courtesy through the proxy, 80 ms RTT)`,
    `  price drop in block ${r.dropBlock}; CourtesyCalled in block(s) ${r.calledBlocks.join(", ") || "none"}`,
    `  [${r.target.met ? "met" : "missed"}] ${r.target.name}: ${r.target.detail}`,
    ...(r.wsTarget ? [`  [${r.wsTarget.met ? "met" : "missed"}] ${r.wsTarget.name}: ${r.wsTarget.detail}`] : []),
    ...(r.redemptionTarget ? [`  [${r.redemptionTarget.met ? "met" : "missed"}] ${r.redemptionTarget.name}: ${r.redemptionTarget.detail}`] : []),
    ...(r.unapproved ? [redemptionLine(r.unapproved)] : []),
  ].join("\n");
}

/** Not a target: without pre-approval a redemption approves, then requests (the request waits for its approval to be mined). */
function redemptionLine(r: RedemptionReaction): string {
  if (r.error) return `  redemption (watch --redeem-below 125 --no-preapprove, same drop): ${r.error}`;
  const after = (bs: number[]) => bs.map((b) => b - r.dropBlock).join(", ");
  return `  redemption (watch --redeem-below 125 --no-preapprove, same drop in block ${r.dropBlock}): approval after ${after(r.approveBlocks) || "-"} block(s), RedemptionRequested after ${after(r.requestBlocks)} block(s)`;
}
