import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers } from "ethers";
import { PACKAGE_ROOT } from "../src/devnet/node";
import { devnetWallet, startDevnet } from "../src/devnet/scenario";
import { openDeposit } from "../src/devnet/deposits";
import { currentWeiPerSat, depositContract, setEthBtcPrice } from "../src/devnet/tbtc";
import { ethValueOfTbtc, setPoolReserves } from "../src/devnet/uniswap";
import { startProviderProxy } from "../src/devnet/provider-proxy";
import { connect } from "../src/lib/chain/provider";
import { Journal } from "../src/lib/chain/journal";
import { ActionSender } from "../src/lib/chain/sender";
import { JournaledSender } from "../src/lib/tbtc/redeem/redeemer";
import { openBuyContext } from "../src/lib/tbtc/buy/buy-facts";
import { quoteBuy, type BuyDeps } from "../src/lib/tbtc/buy/buyer";
import { pairInterface } from "../src/lib/uniswap/v2-abi";
import { COURTESY_CALLED_TOPIC } from "../src/lib/tbtc/abis";
import { REDEMPTION_REQUESTED_TOPIC } from "../src/lib/tbtc/redeem/redeem-abi";
import { stopChild } from "./child";

/**
 * The buy path's numbers (issue 22), on a devnet with the real Uniswap V2 and a deep TBTC/WETH pool:
 * 1. Blocks from a courtesy call to the redemption request when the account holds ETH and no TBTC:
 *    the devnet mines a block every BLOCK_MS (interval mining, no automine), `keepctl watch
 *    --on-block --buy-shortfall` runs through the provider proxy (80 ms RTT), and a third party
 *    courtesy-calls a deposit whose TDT the account does not hold (so only the courtesy call lets it
 *    redeem). Counted from the chain: the CourtesyCalled block, the pair's Swap to the account, the
 *    RedemptionRequested block. Target: the swap in the block after the call, the request in the
 *    block after the swap (consecutive blocks).
 * 2. Round trips per swap decision: quoteBuy (reserves, router quotes, price, balances, bond, at one
 *    block) through the proxy, counted as HTTP requests and JSON-RPC calls; cold (the deposit's keep
 *    not known yet) and warm. Target: 2 HTTP requests.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BLOCK_MS = 12_000;
const PAYOUT = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx";
const SWAP_TOPIC = pairInterface.getEvent("Swap")!.topicHash;

export interface BuyBenchResult {
  calledBlock?: number;
  swapBlock?: number;
  requestBlock?: number;
  decision: { cold: { http: number; calls: number }; warm: { http: number; calls: number } };
  targets: { name: string; met: boolean; detail: string }[];
}

export async function benchBuy(o: { rttMs?: number; log?: (m: string) => void } = {}): Promise<BuyBenchResult> {
  const log = o.log ?? ((m: string) => process.stderr.write(m + "\n"));
  log("buy: starting a devnet with Uniswap V2 (deep TBTC/WETH pool) ...");
  const devnet = await startDevnet({ seed: false, uniswap: "deep" });
  const uni = devnet.uniswap!;
  const dep = devnet.deployment;
  const proxy = await startProviderProxy({ target: devnet.rpcUrl, rttMs: o.rttMs ?? 80 });
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-bench-buy-"));
  const raw = new ethers.JsonRpcProvider(devnet.rpcUrl, 31337, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
  let child: ReturnType<typeof spawn> | undefined;
  let exited = false;
  try {
    const operator = devnetWallet(1).address;
    const deposit = (await openDeposit(dep, { lotSats: 10_000_000n, members: [operator, devnetWallet(3).address, devnetWallet(4).address] })).deposit;
    // 150 % -> 120 %: below the 125 % courtesy line and the 130 % redeem line; the pool follows the medianizer.
    await setEthBtcPrice(dep, 0.024);
    await setPoolReserves(dep, uni, { tbtc: 20n * 10n ** 18n, weth: ethValueOfTbtc(20n * 10n ** 18n, await currentWeiPerSat(dep)) });
    const buyer = ethers.Wallet.createRandom();
    await raw.send("hardhat_setBalance", [buyer.address, ethers.toQuantity(ethers.parseEther("100"))]);

    // 2. Round trips of one decision, through the proxy.
    const provider = await connect({ rpcUrls: [proxy.url], chainId: 31337 });
    const ctx = await openBuyContext(provider, { system: dep.addresses.TBTCSystem, token: dep.addresses.TBTCToken, router: uni.addresses.UniswapV2Router02 });
    const sender = new JournaledSender(new ActionSender(new ethers.Wallet(buyer.privateKey, provider), provider, Journal.open(path.join(home, "probe")), { maxFeeGwei: 1000, dryRun: true }));
    const deps: BuyDeps = { ctx, policy: { maxPremiumBp: 500n, maxSlippageBp: 50n, maxEthPerDayWei: 10n ** 19n, minEthWei: 10n ** 17n }, deadlineSec: 36, feeCapWei: 10n ** 12n };
    const lot = 10n ** 17n;
    const decide = async () => {
      proxy.resetCounts();
      const q = await quoteBuy(sender, deps, [{ deposit, amountTbtc: lot }], ["request-redemption"]);
      if (!q.decision.order) throw new Error(`the decision refused: ${q.decision.refused[0]?.reason}`);
      return { http: proxy.counts.httpRequests, calls: proxy.counts.rpcCalls };
    };
    const cold = await decide();
    const warm = await decide();
    provider.destroy();

    // 1. Blocks from the courtesy call to the request.
    const file = path.join(home, "deployment.json");
    fs.writeFileSync(file, JSON.stringify(devnet.file));
    await raw.send("evm_setAutomine", [false]);
    await raw.send("evm_setIntervalMining", [BLOCK_MS]);
    child = spawn(process.execPath, [path.join(PACKAGE_ROOT, "bin/keepctl"), "--deployment", file, "--rpc-url", proxy.url, "watch", "--on-block", "--interval", "3600",
      "--buy-shortfall", "--btc-address", PAYOUT, "--operator", operator], {
      cwd: home,
      env: { PATH: process.env.PATH ?? "", HOME: home, NO_COLOR: "1", KEEPCTL_DATA_DIR: path.join(home, "data"), KEEPCTL_LOCK_DIR: path.join(home, "locks"), KEEPCTL_PRIVATE_KEY: buyer.privateKey },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr?.on("data", (d) => { if (err.length < 20_000) err += d; });
    child.stdout?.resume();
    child.on("exit", () => { exited = true; });
    await sleep(2 * BLOCK_MS + 3_000);
    if (exited) throw new Error(`watch exited early: ${err.slice(-1500)}`);

    log("  courtesy call sent by a third party; waiting for the swap and the request ...");
    const caller = await raw.getSigner(0);
    const tx = await (depositContract(dep, deposit).connect(caller) as ethers.Contract).notifyCourtesyCall();
    const logsOf = async (q: { address: string; topics: (string | null)[] }) =>
      (await raw.send("eth_getLogs", [{ ...q, fromBlock: "0x0", toBlock: "latest" }]) as { blockNumber: string }[]).map((l) => Number(l.blockNumber));
    let calledBlock: number | undefined;
    let swapBlock: number | undefined;
    let requestBlock: number | undefined;
    for (let waited = 0; waited < 8 * BLOCK_MS && requestBlock === undefined; waited += 1000) {
      await sleep(1000);
      calledBlock ??= (await raw.getTransactionReceipt(tx.hash))?.blockNumber;
      swapBlock ??= (await logsOf({ address: uni.addresses.TbtcWethPair!, topics: [SWAP_TOPIC, null, ethers.zeroPadValue(buyer.address, 32)] }))[0];
      requestBlock ??= (await logsOf({ address: dep.addresses.TBTCSystem, topics: [REDEMPTION_REQUESTED_TOPIC, ethers.zeroPadValue(deposit, 32)] }))[0];
    }
    const calledLog = (await logsOf({ address: dep.addresses.TBTCSystem, topics: [COURTESY_CALLED_TOPIC, ethers.zeroPadValue(deposit, 32)] }))[0];
    calledBlock = calledLog ?? calledBlock;
    const chainDetail = `courtesy call in block ${calledBlock ?? "?"}, swap in ${swapBlock ?? "none"}, request in ${requestBlock ?? "none"}` + (requestBlock === undefined ? `; watch stderr: ${err.slice(-400)}` : "");
    return {
      calledBlock, swapBlock, requestBlock,
      decision: { cold, warm },
      targets: [
        { name: `courtesy call -> swap -> request in consecutive blocks (${BLOCK_MS / 1000} s blocks)`, met: calledBlock !== undefined && swapBlock === calledBlock + 1 && requestBlock === swapBlock + 1, detail: chainDetail },
        { name: "round trips per swap decision: 2 HTTP requests", met: cold.http <= 2 && warm.http <= 2, detail: `cold ${cold.http} HTTP / ${cold.calls} JSON-RPC calls, warm ${warm.http} / ${warm.calls}` },
      ],
    };
  } finally {
    await stopChild(child);
    raw.destroy();
    await proxy.close();
    await devnet.stop();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

export function formatBuy(r: BuyBenchResult): string {
  return [
    "TBTC buy path (watch --on-block --buy-shortfall through the proxy, 80 ms RTT; real Uniswap V2)",
    ...r.targets.map((t) => `  [${t.met ? "met" : "missed"}] ${t.name}: ${t.detail}`),
  ].join("\n");
}
