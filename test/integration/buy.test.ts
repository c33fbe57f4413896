import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { startDevnet, devnetWallet, type Devnet } from "../../src/devnet/scenario";
import { courtesyCall, openDeposit } from "../../src/devnet/deposits";
import { currentWeiPerSat, depositContract, send, setEthBtcPrice } from "../../src/devnet/tbtc";
import { buyTbtcAsMarket, ethValueOfTbtc, mintTbtcForPool, poolReserves, setPoolReserves, type UniswapDeployment } from "../../src/devnet/uniswap";
import { connect, type KeepctlProvider } from "../../src/lib/chain/provider";
import { Journal } from "../../src/lib/chain/journal";
import { ActionSender } from "../../src/lib/chain/sender";
import { AuditLog } from "../../src/lib/audit";
import type { Alert } from "../../src/lib/alert/types";
import { State } from "../../src/lib/tbtc/redeem/planner";
import type { TbtcContracts } from "../../src/lib/tbtc/redeem/redeem-facts";
import { JournaledSender, redeemEventOf, type RedeemEvent } from "../../src/lib/tbtc/redeem/redeemer";
import { runRedemptionPipeline } from "../../src/lib/tbtc/redeem/pipeline";
import { REDEMPTION_REQUESTED_TOPIC } from "../../src/lib/tbtc/redeem/redeem-abi";
import { decodeBtcAddress } from "../../src/lib/tbtc/btc-address";
import { openBuyContext, type BuyContext } from "../../src/lib/tbtc/buy/buy-facts";
import { executeBuy, quoteBuy, type BuyDeps, type BuyEvent } from "../../src/lib/tbtc/buy/buyer";
import { getAmountIn } from "../../src/lib/uniswap/v2-math";
import { SWAP_TOPIC, pairInterface, routerInterface } from "../../src/lib/uniswap/v2-abi";

/**
 * The buy path on the devnet's real Uniswap V2 (factory, pair, Router02, WETH9 from their npm
 * artifacts) and real tBTC v1: every claim is counted from the chain — the pair's Swap events to
 * the redeemer, its transactions and their receipts, its ETH and TBTC balances, the deposits'
 * RedemptionRequested events.
 */
const BTC = 100_000_000n;
const TBTC = 10n ** 18n;
const ETH = 10n ** 18n;
const PAYOUT = decodeBtcAddress("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "testnet");
const operator = devnetWallet(1).address;
const members = [operator, devnetWallet(3).address, devnetWallet(4).address];

let devnet: Devnet;
let uni: UniswapDeployment;
let provider: KeepctlProvider;
let contracts: TbtcContracts;
let ctx: BuyContext;
let snapshot: string;
let weiPerSat: bigint;
/** A 1-BTC deposit and three 0.01-BTC ones, all courtesy-called: anyone redeems them for their lot. */
let big: string;
const small: string[] = [];

beforeAll(async () => {
  devnet = await startDevnet({ seed: false, uniswap: "deep" });
  uni = devnet.uniswap!;
  const dep = devnet.deployment;
  big = (await openDeposit(dep, { lotSats: BTC, members })).deposit;
  for (let i = 0; i < 3; i++) small.push((await openDeposit(dep, { lotSats: BTC / 100n, members })).deposit);
  for (const d of [big, ...small]) await courtesyCall(dep, d);
  // ETH/BTC 0.03 -> 0.024: every deposit at 120 %, below the 130 % redeem line; the pool follows the
  // medianizer (20 TBTC at the new price), as arbitrage would make it.
  await setEthBtcPrice(dep, 0.024);
  weiPerSat = await currentWeiPerSat(dep);
  await setPoolReserves(dep, uni, { tbtc: 20n * TBTC, weth: ethValueOfTbtc(20n * TBTC, weiPerSat) });
  await mintTbtcForPool(dep, 5n * TBTC); // TBTC for the deployer to hand out
  provider = await connect({ rpcUrls: [devnet.rpcUrl], chainId: 31337 });
  contracts = { system: dep.addresses.TBTCSystem, token: dep.addresses.TBTCToken, vendingMachine: dep.addresses.VendingMachine, depositToken: dep.addresses.TBTCDepositToken, startBlock: dep.deploymentBlock };
  ctx = await openBuyContext(provider, { system: contracts.system, token: contracts.token, router: uni.addresses.UniswapV2Router02 });
  snapshot = await provider.send("evm_snapshot", []);
}, 300_000);

afterAll(async () => {
  provider?.destroy();
  await devnet?.stop();
});

beforeEach(async () => {
  await provider.send("evm_revert", [snapshot]);
  snapshot = await provider.send("evm_snapshot", []);
  // The devnet's clock runs ahead of this machine's (its setup moved time forward), so the reverted
  // head ages with every test; a fresh block keeps each swap's deadline (head + 36 s) ahead of the
  // next block's stamp.
  await provider.send("evm_mine", []);
  ctx.keeps.clear();
});

async function redeemerWith(tbtc: bigint, eth = 100n * ETH): Promise<ethers.Wallet> {
  const w = new ethers.Wallet(ethers.Wallet.createRandom().privateKey, provider);
  await provider.send("hardhat_setBalance", [w.address, ethers.toQuantity(eth)]);
  if (tbtc > 0n) await send(devnet.deployment.contracts.tbtcToken.transfer(w.address, tbtc));
  return w;
}

interface Run {
  w: ethers.Wallet;
  journal: Journal;
  sender: JournaledSender;
  alerts: Alert[];
  events: (RedeemEvent | BuyEvent)[];
  audit: AuditLog;
  auditFile: string;
}

function session(w: ethers.Wallet, dir = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-buy-"))): Run {
  const journal = Journal.open(dir);
  const events: Run["events"] = [];
  const action = new ActionSender(w, provider, journal, { maxFeeGwei: 1000, pollMs: 50, dryRun: false, onEvent: (e) => events.push(redeemEventOf(e)) });
  return { w, journal, sender: new JournaledSender(action), alerts: [], events, audit: AuditLog.open(dir), auditFile: path.join(dir, "audit.jsonl") };
}

const POLICY = { maxPremiumBp: 500n, maxSlippageBp: 50n, maxEthPerDayWei: 100n * ETH, minEthWei: ETH / 10n };

function deps(r: Run, over: Partial<BuyDeps> = {}): BuyDeps {
  return { ctx, policy: POLICY, deadlineSec: 36, feeCapWei: 1000n * 10n ** 9n, audit: r.audit, emit: (e) => r.events.push(e), ...over };
}

function pass(r: Run, deposits: string[], over: Partial<BuyDeps> = {}) {
  return runRedemptionPipeline(
    { sender: r.sender, contracts, script: PAYOUT.redeemerOutputScript, audit: r.audit, dryRun: false, alert: async (a) => void r.alerts.push(a), buy: deps(r, over) },
    { deposits, policy: { redeemBelowPct: 130, feeSats: 10_000n } },
  );
}

/** The pair's Swap events that paid TBTC out to `to`, decoded (WETH is token0 or token1: read it). */
async function swapsTo(to: string): Promise<{ wethIn: bigint; tbtcOut: bigint; block: number; tx: string }[]> {
  const logs = await provider.getLogs({ address: uni.addresses.TbtcWethPair, topics: [SWAP_TOPIC, null, ethers.zeroPadValue(to, 32)], fromBlock: 0, toBlock: "latest" });
  const wethIs0 = ((await uni.pair!.token0()) as string).toLowerCase() === uni.addresses.WETH.toLowerCase();
  return logs.map((l) => {
    const a = pairInterface.parseLog(l)!.args;
    return { wethIn: (wethIs0 ? a.amount0In : a.amount1In) as bigint, tbtcOut: (wethIs0 ? a.amount1Out : a.amount0Out) as bigint, block: l.blockNumber, tx: l.transactionHash };
  });
}

async function requestsFor(deposit: string, requester?: string): Promise<number> {
  const logs = await provider.getLogs({ address: contracts.system, topics: [REDEMPTION_REQUESTED_TOPIC, ethers.zeroPadValue(deposit, 32)], fromBlock: 0, toBlock: "latest" });
  return requester ? logs.filter((l) => ethers.getAddress(ethers.dataSlice(l.topics[2] ?? l.data, 12, 32)) === requester || l.data.toLowerCase().includes(requester.slice(2).toLowerCase())).length : logs.length;
}

/** Every transaction the account sent, from the chain: nonces 0..n-1 and their receipts. */
async function txsOf(who: string, fromBlock: number): Promise<ethers.TransactionReceipt[]> {
  const out: ethers.TransactionReceipt[] = [];
  const head = await provider.getBlockNumber();
  for (let b = fromBlock; b <= head; b++) {
    const block = await provider.getBlock(b, true);
    for (const tx of block!.prefetchedTransactions) if (tx.from.toLowerCase() === who.toLowerCase()) out.push((await provider.getTransactionReceipt(tx.hash))!);
  }
  return out;
}

const gasCost = (rs: ethers.TransactionReceipt[]) => rs.reduce((s, r) => s + r.gasUsed * r.gasPrice, 0n);
const tbtcOf = async (who: string) => (await devnet.deployment.contracts.tbtcToken.balanceOf(who)) as bigint;
const stateOf = async (d: string) => Number(await depositContract(devnet.deployment, d).currentState());

/** The real router's quote for `amount` at the current head: the oracle the local math must match. */
async function routerQuote(amount: bigint): Promise<bigint> {
  const raw = await provider.call({ to: uni.addresses.UniswapV2Router02, data: routerInterface.encodeFunctionData("getAmountsIn", [amount, [uni.addresses.WETH, contracts.token]]) });
  return (routerInterface.decodeFunctionResult("getAmountsIn", raw)[0] as bigint[])[0];
}

/** Mines whenever something is pending, until `done` settles (after a hand-mined block). */
async function mineUntil<T>(done: Promise<T>): Promise<T> {
  let finished = false;
  void done.finally(() => (finished = true)).catch(() => undefined);
  while (!finished) {
    const pending = (await provider.send("eth_getBlockByNumber", ["pending", false])) as { transactions: string[] };
    if (pending.transactions.length) await provider.send("evm_mine", []);
    await new Promise((r) => setTimeout(r, 30));
  }
  return done;
}

async function waitPending(n: number): Promise<string[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const pending = (await provider.send("eth_getBlockByNumber", ["pending", false])) as { transactions: string[] };
    if (pending.transactions.length >= n) return pending.transactions;
    if (Date.now() > deadline) throw new Error(`only ${pending.transactions.length} of ${n} transactions became pending`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

describe("the local Uniswap V2 math against the real router (devnet)", () => {
  it("getAmountIn equals the router's getAmountsIn for amounts across the pool's depth", async () => {
    const { tbtc, weth } = await poolReserves(devnet.deployment, uni);
    for (const amount of [1n, 10n ** 9n, 10n ** 15n, 12_345_678_901_234_567n, TBTC, 7n * TBTC, tbtc / 2n, tbtc - 1n]) {
      expect(getAmountIn(amount, weth, tbtc), `amount ${amount}`).toBe(await routerQuote(amount));
    }
  });
});

describe("--buy-shortfall on the devnet", () => {
  it("buys exactly the shortfall and redeems in the same pass: one swap, one request", async () => {
    const w = await redeemerWith((9n * TBTC) / 10n);
    const r = session(w);
    const shortfall = TBTC / 10n;
    const expected = await routerQuote(shortfall);
    const ethBefore = await provider.getBalance(w.address);
    const from = await provider.getBlockNumber();

    const res = await pass(r, [big]);

    const swaps = await swapsTo(w.address);
    expect(swaps).toHaveLength(1);
    expect(swaps[0].tbtcOut).toBe(shortfall);
    expect(swaps[0].wethIn).toBe(expected); // nothing moved the pool: the quote is what was paid
    expect(await stateOf(big)).toBe(State.AWAITING_WITHDRAWAL_SIGNATURE);
    expect(await requestsFor(big)).toBe(1);
    expect(await tbtcOf(w.address)).toBe(0n); // 0.9 + 0.1 bought - 1 lot
    const sent = await txsOf(w.address, from + 1);
    expect(sent.map((t) => t.status)).toEqual([1, 1, 1]); // swap, approve, request
    expect(sent[0].to).toBe(uni.addresses.UniswapV2Router02);
    // ETH out = what the pool took + gas; the router refunded the rest of the swap's value.
    expect(ethBefore - (await provider.getBalance(w.address))).toBe(expected + gasCost(sent));
    expect(res.outcomes.map((o) => o.status)).toEqual(["requested"]);
    expect(res.buy?.swap?.status).toBe("bought");
    const audit = fs.readFileSync(r.auditFile, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const bought = audit.find((a) => a.action === "buy-tbtc" && a.status === "bought");
    expect(bought).toMatchObject({ deposits: [big], amountTbtc: shortfall.toString(), ethPaidWei: expected.toString(), hash: swaps[0].tx });
    expect(r.alerts.find((a) => a.title === "TBTC bought")?.text).toMatch(/^bought 0\.100000 TBTC for 4\.2\d+ ETH, 0\.\d\d% over the system's ETH\/BTC price to redeem 0x/);
  });

  it("a pool priced above --max-price: nothing bought, nothing sent, a critical alert", async () => {
    const { tbtc, weth } = await poolReserves(devnet.deployment, uni);
    await setPoolReserves(devnet.deployment, uni, { tbtc, weth: (weth * 130n) / 100n }); // 30 % above the medianizer
    const w = await redeemerWith((9n * TBTC) / 10n);
    const r = session(w);
    const nonce = await provider.getTransactionCount(w.address);
    const res = await pass(r, [big]);
    expect(await swapsTo(w.address)).toHaveLength(0);
    expect(await provider.getTransactionCount(w.address)).toBe(nonce);
    expect(await requestsFor(big)).toBe(0);
    expect(res.buy?.refused.map((x) => x.code)).toEqual(["PRICE_LIMIT"]);
    const alert = r.alerts.find((a) => a.key === `buy-refused:${big}`);
    expect(alert?.level).toBe("critical");
    expect(alert?.text).toMatch(/^0\.100000 TBTC costs 5\.\d+ ETH, 3\d\.\d\d% above the system's ETH\/BTC price \(4\.166666 ETH\): more than --max-price 5\.00%; 0x[0-9a-fA-F]{40} stays at risk$/);
    expect(r.alerts.some((a) => a.key === "tbtc-short")).toBe(true);
  });

  it("a front-run past the slippage bound: the swap reverts, only gas is lost, and it is decided again on fresh reserves", async () => {
    const w = await redeemerWith((9n * TBTC) / 10n);
    const r = session(w);
    const ethBefore = await provider.getBalance(w.address);
    const from = await provider.getBlockNumber();
    await provider.send("evm_setAutomine", [false]);
    let res;
    try {
      const run = pass(r, [big]);
      run.catch(() => undefined);
      const ours = await waitPending(2); // the swap and the approval, broadcast together
      // The front-runner sees the swap and buys first with a higher tip: +2 % on the price (past the
      // 0.5 % slippage bound, within --max-price 5 %).
      const mev = devnetWallet(12, provider);
      await buyTbtcAsMarket(devnet.deployment, uni, mev, (await poolReserves(devnet.deployment, uni)).weth / 100n, { maxPriorityFeePerGas: 500n * 10n ** 9n, maxFeePerGas: 900n * 10n ** 9n });
      await waitPending(3);
      await provider.send("evm_mine", []);
      const block = await provider.getBlock("latest", true);
      expect(block!.prefetchedTransactions[0].from).toBe(mev.address); // ordered first
      expect(block!.prefetchedTransactions.map((t) => t.hash)).toEqual(expect.arrayContaining(ours));
      await provider.send("evm_setAutomine", [true]);
      res = await mineUntil(run);
    } finally {
      await provider.send("evm_setAutomine", [true]);
    }
    const sent = await txsOf(w.address, from + 1);
    const swapsSent = sent.filter((t) => t.to === uni.addresses.UniswapV2Router02);
    expect(swapsSent.map((t) => t.status)).toEqual([0, 1]); // reverted, then the re-decided one
    const swaps = await swapsTo(w.address);
    expect(swaps).toHaveLength(1);
    expect(swaps[0].tbtcOut).toBe(TBTC / 10n);
    expect(await requestsFor(big)).toBe(1);
    expect(res.outcomes.map((o) => o.status)).toEqual(["requested"]);
    // Lost to the front-run: the reverted swap's gas only (its value came back with the revert).
    expect(ethBefore - (await provider.getBalance(w.address))).toBe(swaps[0].wethIn + gasCost(sent));
    expect(r.events.some((e) => e.type === "buy-replanned")).toBe(true);
    expect(r.alerts.some((a) => a.title === "TBTC swap reverted")).toBe(true);
  });

  it("a front-run past --max-price: the swap reverts, the fresh decision refuses, nothing is bought", async () => {
    const w = await redeemerWith((9n * TBTC) / 10n);
    const r = session(w);
    const ethBefore = await provider.getBalance(w.address);
    const from = await provider.getBlockNumber();
    await provider.send("evm_setAutomine", [false]);
    let res;
    try {
      const run = pass(r, [big]);
      run.catch(() => undefined);
      await waitPending(2);
      const mev = devnetWallet(12, provider);
      await buyTbtcAsMarket(devnet.deployment, uni, mev, (await poolReserves(devnet.deployment, uni)).weth / 5n, { maxPriorityFeePerGas: 500n * 10n ** 9n, maxFeePerGas: 900n * 10n ** 9n });
      await waitPending(3);
      await provider.send("evm_mine", []);
      await provider.send("evm_setAutomine", [true]);
      res = await mineUntil(run);
    } finally {
      await provider.send("evm_setAutomine", [true]);
    }
    const sent = await txsOf(w.address, from + 1);
    expect(sent.filter((t) => t.to === uni.addresses.UniswapV2Router02).map((t) => t.status)).toEqual([0]);
    expect(await swapsTo(w.address)).toHaveLength(0);
    expect(await requestsFor(big)).toBe(0);
    expect(ethBefore - (await provider.getBalance(w.address))).toBe(gasCost(sent)); // the swap's and the approval's gas
    expect(res.buy?.swap).toMatchObject({ status: "refused", refusal: { code: "PRICE_LIMIT" } });
    expect(res.outcomes[0]).toMatchObject({ status: "failed", reason: expect.stringMatching(/^the TBTC for it was not bought: .* more than --max-price 5\.00%$/) });
  });

  it("holds the daily cap over several passes (counted from the journal, each swap at its ETH value)", async () => {
    const w = await redeemerWith(0n);
    const r = session(w);
    // Each 0.01-BTC lot costs ~0.42 ETH; at most ~0.422 with the slippage bound: two fit under 0.9, a third does not.
    const capWei = (9n * ETH) / 10n;
    const outcomes = [];
    for (const d of small) outcomes.push(await pass(r, [d], { policy: { ...POLICY, maxEthPerDayWei: capWei } }));
    const swaps = await swapsTo(w.address);
    expect(swaps).toHaveLength(2);
    const values = (await txsOf(w.address, 0)).filter((t) => t.to === uni.addresses.UniswapV2Router02);
    let total = 0n;
    for (const t of values) total += (await provider.getTransaction(t.hash))!.value;
    expect(total).toBeLessThanOrEqual(capWei);
    expect(await requestsFor(small[0])).toBe(1);
    expect(await requestsFor(small[1])).toBe(1);
    expect(await requestsFor(small[2])).toBe(0);
    expect(outcomes[2].buy?.refused.map((x) => x.code)).toEqual(["DAILY_CAP"]);
    // Honest about the cost: paid = the pool's answer, well under the worst case the cap counted.
    for (const s of swaps) expect(s.wethIn).toBeLessThan(ethValueOfTbtc((BTC / 100n) * 10n ** 10n, weiPerSat) * 102n / 100n);
  });

  it("a deposit TBTC was bought for is never bought for again, even when its TBTC went elsewhere", async () => {
    const w = await redeemerWith(0n);
    const r = session(w);
    // The swap alone (as if the process died right after it), then the bought TBTC leaves the wallet.
    const d = deps(r);
    const q = await quoteBuy(r.sender, d, [{ deposit: small[0], amountTbtc: BTC / 100n * 10n ** 10n }], ["request-redemption"]);
    const o = await executeBuy(r.sender, d, q as Parameters<typeof executeBuy>[2], { owner: small[0], action: "buy-tbtc" }, ["request-redemption"]);
    expect(o.status).toBe("bought");
    await send((devnet.deployment.contracts.tbtcToken.connect(w) as ethers.Contract).transfer(devnetWallet(13).address, await tbtcOf(w.address)));
    const nonce = await provider.getTransactionCount(w.address);

    const res = await pass(r, [small[0]]);
    expect(res.buy?.refused.map((x) => x.code)).toEqual(["ALREADY_BOUGHT"]);
    expect(await swapsTo(w.address)).toHaveLength(1);
    expect(await provider.getTransactionCount(w.address)).toBe(nonce);
    expect(await requestsFor(small[0])).toBe(0);
  });
});
