import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { startDevnet, devnetWallet, type Devnet } from "../../src/devnet/scenario";
import { courtesyCall, openDeposit } from "../../src/devnet/deposits";
import { currentWeiPerSat, depositContract, setEthBtcPrice } from "../../src/devnet/tbtc";
import { ethValueOfTbtc, setPoolReserves, type UniswapDeployment } from "../../src/devnet/uniswap";
import { pairInterface, routerInterface } from "../../src/lib/uniswap/v2-abi";
import { buildOnce, spawnKeepctl } from "../helpers/cli";
import { startRecorder } from "../helpers/http";
import { startRpcDouble, startStatusServer } from "../helpers/rpc-double";

/**
 * `keepctl buy-tbtc` and `redeem --buy-shortfall` end to end: the built binary against the devnet's
 * real Uniswap V2 (factory, pair, Router02 from their npm artifacts). Counted from the chain: the
 * pair's Swap events, the TBTC balance, RedemptionRequested events, the account's nonce.
 */
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-buy-"));
const BTC = 100_000_000n;
const TBTC = 10n ** 18n;
const PAYOUT = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx";
const RR_TOPIC = ethers.id("RedemptionRequested(address,address,bytes32,uint256,bytes,uint256,bytes)");
const SWAP_TOPIC = pairInterface.getEvent("Swap")!.topicHash;
const RELAY_KEY = "r3layK3ySecret0123456789abcdef";

let devnet: Devnet;
let uni: UniswapDeployment;
let provider: ethers.JsonRpcProvider;
let deploymentFile: string;
let snapshot: string;
let dataDir: string;
let deposit: string;
let buyer: ethers.Wallet;
const operator = devnetWallet(1).address;

const spawnHere = (args: string[], env: Record<string, string> = {}) => spawnKeepctl(["--deployment", deploymentFile, ...args], { home, dataDir, env });
const keepctl = (args: string[], env: Record<string, string> = {}) => spawnHere(args, env).done;
const keyEnv = () => ({ KEEPCTL_PRIVATE_KEY: buyer.privateKey, KEEPCTL_BTC_ADDRESS: PAYOUT });

const tbtcOf = async (who: string) => (await devnet.deployment.contracts.tbtcToken.connect(provider).getFunction("balanceOf")(who)) as bigint;
const requestsFor = async (d: string) => (await provider.getLogs({ topics: [RR_TOPIC, ethers.zeroPadValue(d, 32)], fromBlock: 0, toBlock: "latest" })).length;
const stateOf = async (d: string) => Number(await depositContract(devnet.deployment, d, provider).currentState());

/** The pair's Swap events that paid out to `to`: WETH in, TBTC out, the transaction. */
async function swapsTo(to: string): Promise<{ wethIn: bigint; tbtcOut: bigint; tx: string }[]> {
  const logs = await provider.getLogs({ address: uni.addresses.TbtcWethPair, topics: [SWAP_TOPIC, null, ethers.zeroPadValue(to, 32)], fromBlock: 0, toBlock: "latest" });
  const wethIs0 = ((await uni.pair!.connect(provider).getFunction("token0")()) as string).toLowerCase() === uni.addresses.WETH.toLowerCase();
  return logs.map((l) => {
    const a = pairInterface.parseLog(l)!.args;
    return { wethIn: (wethIs0 ? a.amount0In : a.amount1In) as bigint, tbtcOut: (wethIs0 ? a.amount1Out : a.amount0Out) as bigint, tx: l.transactionHash };
  });
}

/** The real router's quote at the head: what the pool must charge (the oracle for the ETH paid). */
async function routerQuote(amount: bigint): Promise<bigint> {
  const raw = await provider.call({ to: uni.addresses.UniswapV2Router02, data: routerInterface.encodeFunctionData("getAmountsIn", [amount, [uni.addresses.WETH, devnet.deployment.addresses.TBTCToken]]) });
  return (routerInterface.decodeFunctionResult("getAmountsIn", raw)[0] as bigint[])[0];
}

const journalLines = () => {
  const f = path.join(dataDir, "journal.jsonl");
  return fs.existsSync(f) ? fs.readFileSync(f, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)) : [];
};

beforeAll(async () => {
  buildOnce();
  deploymentFile = path.join(home, "deployment.json");
  devnet = await startDevnet({ seed: false, out: deploymentFile, uniswap: "deep" });
  uni = devnet.uniswap!;
  provider = new ethers.JsonRpcProvider(devnet.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1 });
  const dep = devnet.deployment;
  const members = [operator, devnetWallet(3).address, devnetWallet(4).address];
  deposit = (await openDeposit(dep, { lotSats: BTC / 10n, members })).deposit;
  await courtesyCall(dep, deposit);
  // ETH/BTC 0.03 -> 0.024: the deposit is below 130 %; the pool follows the medianizer, as arbitrage would make it.
  await setEthBtcPrice(dep, 0.024);
  await setPoolReserves(dep, uni, { tbtc: 20n * TBTC, weth: ethValueOfTbtc(20n * TBTC, await currentWeiPerSat(dep)) });
  buyer = new ethers.Wallet(ethers.Wallet.createRandom().privateKey, provider);
  await provider.send("hardhat_setBalance", [buyer.address, ethers.toQuantity(ethers.parseEther("100"))]);
  snapshot = await provider.send("evm_snapshot", []);
}, 300_000);

beforeEach(async () => {
  await provider.send("evm_revert", [snapshot]);
  snapshot = await provider.send("evm_snapshot", []);
  // The devnet's clock runs ahead of this machine's (its setup moved time forward), so the reverted
  // head ages with every test; a fresh block keeps each swap's deadline (head + 36 s) ahead of the
  // next block's stamp.
  await provider.send("evm_mine", []);
  dataDir = fs.mkdtempSync(path.join(home, "data-"));
});

afterAll(async () => {
  provider?.destroy();
  await devnet?.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

describe("keepctl buy-tbtc", () => {
  it("buys exactly --amount for what the router quotes, within the bound it showed", async () => {
    const amount = TBTC / 10n;
    const quoted = await routerQuote(amount);
    const ethBefore = await provider.getBalance(buyer.address);
    const r = await keepctl(["buy-tbtc", "--amount", "0.1", "--yes", "--json"], keyEnv());
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    const swaps = await swapsTo(buyer.address);
    expect(swaps.length).toBe(1);
    expect(swaps[0].tbtcOut).toBe(amount);
    // Nothing moved the pool in between: the pair took what the router quoted before the run.
    expect(swaps[0].wethIn).toBe(quoted);
    expect(BigInt(doc.result.ethPaidWei)).toBe(quoted);
    expect(quoted).toBeLessThanOrEqual(BigInt(doc.quote.maxEthWei));
    expect(await tbtcOf(buyer.address)).toBe(amount);
    // The ETH that left the account: the swap's input and its gas, nothing more (the router refunded the rest of the bound).
    const receipt = (await provider.getTransactionReceipt(swaps[0].tx))!;
    expect(ethBefore - (await provider.getBalance(buyer.address))).toBe(quoted + receipt.gasUsed * receipt.gasPrice);
    expect(doc.result.hash).toBe(swaps[0].tx);
  });

  it("--dry-run shows the quote and sends nothing", async () => {
    const r = await keepctl(["buy-tbtc", "--amount", "0.1", "--dry-run"], keyEnv());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/pool at block \d+: [\d.]+ WETH \/ 20\.0 TBTC/);
    expect(r.stderr).toMatch(/dry run: nothing was sent/);
    expect(await provider.getTransactionCount(buyer.address)).toBe(0);
  });

  it("a premium above --max-price: exit 6, nothing sent, the alert says why", async () => {
    const hooks = await startRecorder();
    try {
      // The pool's 0.3 % fee alone puts any buy above the medianizer's price.
      const r = await keepctl(["buy-tbtc", "--amount", "0.1", "--yes", "--max-price", "0.1"], { ...keyEnv(), KEEPCTL_WEBHOOK_URL: `http://127.0.0.1:${hooks.port}/hook` });
      expect(r.code, r.stderr).toBe(6);
      expect(r.stderr).toMatch(/^error: TBTC not bought: 0\.100000 TBTC costs [\d.]+ ETH, 0\.[3-9]\d% above the system's ETH\/BTC price .*more than --max-price 0\.10%$/m);
      expect(r.stderr).toMatch(/^hint: the pool is dearer than the system's price/m);
      expect(await provider.getTransactionCount(buyer.address)).toBe(0);
      const alerts = hooks.got.filter((g) => g.path === "/hook").map((g) => JSON.parse(g.body));
      expect(alerts.length).toBe(1);
      expect(JSON.stringify(alerts[0])).toMatch(/TBTC not bought/);
    } finally {
      await hooks.close();
    }
  });

  it("--private-tx-url: the swap goes to the relay only, never to the public endpoint; the relay's key is never shown", async () => {
    // The public endpoint and the relay are both real JSON-RPC servers in front of the node; each records what it got.
    const pub = await startRpcDouble(() => ({ forward: true }), devnet.rpcUrl);
    const relay = await startRpcDouble(() => ({ forward: true }), devnet.rpcUrl);
    try {
      const r = await keepctl(["--rpc-url", pub.url, "buy-tbtc", "--amount", "0.05", "--yes", "--private-tx-url", `${relay.url}/v1/${RELAY_KEY}`], keyEnv());
      expect(r.code, r.stderr).toBe(0);
      const swaps = await swapsTo(buyer.address);
      expect(swaps.length).toBe(1);
      const raws = relay.calls.filter((c) => c.method === "eth_sendRawTransaction").map((c) => ethers.Transaction.from(c.params[0] as string).hash);
      expect(raws).toEqual([swaps[0].tx]);
      expect(pub.calls.filter((c) => c.method === "eth_sendRawTransaction")).toEqual([]);
      expect(r.stdout + r.stderr).not.toContain(RELAY_KEY);
    } finally {
      await pub.close();
      await relay.close();
    }
  });
  it("a relay that refuses the request (HTTP 401): exit 3 PRIVATE_RELAY, nothing on chain, nothing to the public endpoint", async () => {
    const pub = await startRpcDouble(() => ({ forward: true }), devnet.rpcUrl);
    const relay = await startStatusServer(401);
    try {
      const r = await keepctl(["--rpc-url", pub.url, "buy-tbtc", "--amount", "0.05", "--yes", "--json", "--private-tx-url", `${relay.url}/v1/${RELAY_KEY}`], keyEnv());
      expect(r.code, r.stderr).toBe(3);
      expect(JSON.parse(r.stdout.trim().split("\n").at(-1)!).error.code).toBe("PRIVATE_RELAY");
      expect(relay.methods).toContain("eth_sendRawTransaction");
      expect(pub.calls.filter((c) => c.method === "eth_sendRawTransaction")).toEqual([]);
      expect(await provider.getTransactionCount(buyer.address, "pending")).toBe(0);
      expect(r.stdout + r.stderr).not.toContain(RELAY_KEY);
    } finally {
      await pub.close();
      await relay.close();
    }
  });
});

describe("redeem --buy-shortfall", () => {
  it("buys the shortfall and requests the redemption in the same run: one swap, one request", async () => {
    const r = await keepctl(["redeem", "--operator", operator, "--yes", "--buy-shortfall"], keyEnv());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/buy [\d.]+ TBTC from the Uniswap V2 pool at block \d+/);
    const swaps = await swapsTo(buyer.address);
    expect(swaps.length).toBe(1);
    // The cost table is part of the plan (stdout; tab-separated off a terminal): what it showed is what the pair took.
    const lines = r.stdout.split("\n");
    expect(lines[lines.indexOf("deposit\ttbtc_bought\teth_paid\tpremium\tbond_protected_eth") + 1].split("\t").slice(0, 3)).toEqual([deposit, "0.1", ethers.formatEther(swaps[0].wethIn)]);
    expect(await requestsFor(deposit)).toBe(1);
    expect(await stateOf(deposit)).toBe(5);
  });

  it("watch --once --buy-shortfall: the loop buys and redeems; its events say what it cost", async () => {
    const r = await keepctl(["watch", "--once", "--json", "--operator", operator, "--buy-shortfall"], keyEnv());
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const swaps = await swapsTo(buyer.address);
    expect(swaps.length).toBe(1);
    const bought = events.find((e) => e.type === "bought");
    expect(bought).toMatchObject({ deposits: [deposit], hash: swaps[0].tx });
    expect(BigInt(bought.ethPaidWei)).toBe(swaps[0].wethIn);
    expect(events.find((e) => e.type === "buy-planned")).toMatchObject({ deposits: [deposit] });
    expect(events.filter((e) => e.type === "redemption").map((e) => e.status)).toEqual(["requested"]);
    expect(await requestsFor(deposit)).toBe(1);
  });

  it("kill -9 after the swap is sent, before the request: the next run buys nothing more and redeems once", async () => {
    let child: ChildProcess | undefined;
    await provider.send("evm_setAutomine", [false]);
    try {
      const run = spawnHere(["redeem", "--operator", operator, "--yes", "--buy-shortfall"], keyEnv());
      child = run.child;
      const deadline = Date.now() + 60_000;
      while (!journalLines().some((l) => l.key === `${deposit}:buy-tbtc` && l.state === "sent")) {
        if (Date.now() > deadline) throw new Error(`the swap was never sent: ${run.stderr()} ${JSON.stringify(journalLines())}`);
        await new Promise((res) => setTimeout(res, 50));
      }
      child.kill("SIGKILL");
      await new Promise((res) => child!.once("exit", res));
      // The swap (and the approval beside it) land after the crash; no request was signed.
      await provider.send("evm_mine", []);
      expect(await requestsFor(deposit)).toBe(0);
    } finally {
      await provider.send("evm_setAutomine", [true]);
    }
    expect((await swapsTo(buyer.address)).length).toBe(1);
    const r = await keepctl(["redeem", "--operator", operator, "--yes", "--buy-shortfall"], keyEnv());
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`journal: ${deposit}:buy-tbtc was in flight; on chain it is mined`));
    expect((await swapsTo(buyer.address)).length).toBe(1);
    expect(await requestsFor(deposit)).toBe(1);
    expect(await stateOf(deposit)).toBe(5);
  });
});
