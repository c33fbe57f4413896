import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers } from "ethers";
import { startHardhatNode, type LocalNode } from "../../src/devnet/node";
import { deployEmp, type EmpDeployment } from "../../src/devnet/uma";
import { deployRai, seedRateHistory, type RaiDeployment, type SeededRate } from "../../src/devnet/rai";
import { startExpiryProposer } from "../../src/devnet/expiry-proposer";
import { connect, type KeepctlProvider } from "../../src/lib/chain/provider";
import { Journal } from "../../src/lib/chain/journal";
import { ActionSender } from "../../src/lib/chain/sender";
import type { Alert } from "../../src/lib/alert/types";
import { RaiFeed } from "../../src/lib/rai/feed";
import { annualize, RAY } from "../../src/lib/rai/math";
import { BotSender, botEventOf, type BotEvent } from "../../src/lib/uma/bot-sender";
import { fixedPrice, raiFeedPrice, type BotContext, type PriceSource } from "../../src/lib/uma/bot-loop";
import { EmpClient, empInterface, encodeApprove, encodeSponsorCall } from "../../src/lib/uma/emp-client";
import { EmpGuard } from "../../src/lib/uma/guard";
import { EmpLiquidator } from "../../src/lib/uma/liquidator";
import { EmpDisputer } from "../../src/lib/uma/disputer";
import { parseFixedStrict } from "../../src/lib/fixed-point";
import { bruteTwap } from "../helpers/rai";

/**
 * emp-guard against keepctl's own liquidator and disputer on the real EMP, priced by the same RAI
 * feed, under a rate history that lifts the synthetic's price from ~1.0 to ~1.3 — enough to put a
 * 150 / 100 position below the requirement (1.25 × 0.98 at 1.3 needs 159.25). Counted from the chain.
 */
const wad = (t: string) => parseFixedStrict(t, 18);
const E18 = 10n ** 18n;
const MNEMONIC = "test test test test test test test test test test test junk";
const keyOf = (i: number) => ethers.HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).privateKey;
const addr = (i: number) => new ethers.Wallet(keyOf(i)).address;
const A = 1; // the guarded sponsor
const B = 2; // another sponsor at 1.3
const L = 3; // the liquidator (700 / 500)
const D = 4; // the disputer
/** Per-second rate whose annualized value is ~1.3 (1.3^(1/31536000) in RAY, rounded). */
const RATE_1_3 = RAY + 8_319_500_000_000_000_000n;

let node: LocalNode;
let provider: KeepctlProvider;
let dep: EmpDeployment;
let rai: RaiDeployment;
let rates: SeededRate[];
let snapshot: string;
let dataDir: string;

const erc20 = (token: string, runner: ethers.ContractRunner = provider) => new ethers.Contract(token, ["function balanceOf(address) view returns (uint256)", "function allocateTo(address,uint256)"], runner);
async function sendAs(i: number, req: { to: string; data: string }) {
  return (await (await (await provider.getSigner(i)).sendTransaction(req)).wait())!;
}
async function openDirect(i: number, collateral: bigint, tokens: bigint) {
  await (await erc20(dep.addresses.collateral, await provider.getSigner(i)).allocateTo(addr(i), collateral)).wait();
  await sendAs(i, encodeApprove(dep.addresses.collateral, dep.addresses.emp, collateral));
  await sendAs(i, encodeSponsorCall(dep.addresses.emp, { fn: "create", collateral, tokens }));
}
async function empEvents(name: string, who?: string) {
  const logs = await provider.getLogs({ address: dep.addresses.emp, fromBlock: dep.deployBlock, toBlock: "latest", topics: [empInterface.getEvent(name)!.topicHash, ...(who ? [ethers.zeroPadValue(who, 32)] : [])] });
  return logs.map((l) => empInterface.parseLog(l)!);
}
async function increaseTime(s: number) {
  await provider.send("evm_increaseTime", [s]);
  await provider.send("evm_mine", []);
}

function ctxFor(i: number, o: { lookback?: number; alerts?: Alert[]; price?: PriceSource } = {}) {
  const events: BotEvent[] = [];
  const emit = (ev: Omit<BotEvent, "bot">) => events.push(ev as BotEvent);
  const wallet = new ethers.Wallet(keyOf(i), provider);
  const action = new ActionSender(wallet, provider, Journal.open(path.join(dataDir, String(i))), { maxFeeGwei: 100, dryRun: false, pollMs: 50, onEvent: (ev) => { const b = botEventOf(ev); if (b) emit(b); } });
  const price = o.price ?? raiFeedPrice(new RaiFeed({ provider, rateSetter: rai.addresses.RateSetter, lookback: o.lookback ?? 0, chunkSize: 50 }));
  const ctx: BotContext = { client: new EmpClient(provider, dep.addresses.emp), params: undefined as never, sender: new BotSender(action, emit), price, emit, scan: { fromBlock: dep.deployBlock, chunkSize: 50 }, alert: async (a) => { o.alerts?.push(a); } };
  return { ctx, events };
}
async function withParams<T extends { ctx: BotContext }>(b: T): Promise<T> {
  b.ctx.params = await b.ctx.client.readParams();
  return b;
}

/** Rate updates at ~1.3 until the 8 h TWAP window holds nothing else. */
async function priceRisesTo13(): Promise<SeededRate[]> {
  return seedRateHistory(rai, { count: 4, intervalSec: 10800, rates: [RATE_1_3, RATE_1_3, RATE_1_3, RATE_1_3] });
}

beforeAll(async () => {
  node = await startHardhatNode();
  provider = await connect({ rpcUrls: [node.rpcUrl], chainId: 31337 });
  const deployer = await provider.getSigner(0);
  rai = await deployRai(deployer);
  rates = await seedRateHistory(rai, { count: 3, intervalSec: 10800, rates: [RAY, RAY - 3_000_000_000n, RAY + 1_000_000_000n] });
  dep = await deployEmp(deployer, { expiresIn: 5 * 86400 });
  await openDirect(B, wad("130"), wad("100"));
  await openDirect(L, wad("700"), wad("500"));
  await openDirect(A, wad("150"), wad("100"));
  snapshot = await provider.send("evm_snapshot", []);
}, 180_000);

afterAll(async () => {
  provider?.destroy();
  await node?.stop();
});

beforeEach(async () => {
  await provider.send("evm_revert", [snapshot]);
  snapshot = await provider.send("evm_snapshot", []);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-emp-guard-"));
});

const config = { target: wad("1.5"), prefer: "deposit" as const };

describe("emp-guard against keepctl's liquidator, one RAI rate history", () => {
  it("with funds: holds at ~1.0; after the price rises the guard tops up exactly to the target first and the liquidator finds A collateralized", async () => {
    await (await erc20(dep.addresses.collateral, await provider.getSigner(A)).allocateTo(addr(A), wad("100"))).wait();
    const guard = await withParams(ctxFor(A));
    const g = new EmpGuard(guard.ctx, config);
    const first = await g.runPass(1);
    expect(first.decision).toMatchObject({ action: "hold", reason: "at-target" });
    expect(first.sent).toEqual([]);

    const risen = await priceRisesTo13();
    const now = (await provider.getBlock("latest"))!.timestamp;
    const price = bruteTwap([...rates, ...risen], now - 28800, now)!;
    expect(price).toBe(annualize(RATE_1_3)); // the window holds only the new rate
    expect(price > wad("1.29") && price < wad("1.31")).toBe(true);

    const s = await g.runPass(2);
    // Independent of the module: the least deposit with (150 + d) × 1e36 ≥ 1.5 × 100 × price.
    const need = (wad("1.5") * wad("100") * price + E18 * E18 - 1n) / (E18 * E18) - wad("150");
    expect(s.decision).toMatchObject({ action: "top-up", deposit: need, repay: 0n, shortfall: 0n });
    const deposits = await empEvents("Deposit", addr(A));
    expect(deposits.map((e) => e.args.collateralAmount)).toEqual([need]);

    const liq = await withParams(ctxFor(L));
    const pass = await new EmpLiquidator(liq.ctx).runPass();
    expect(pass.price).toBe(price);
    expect(await empEvents("LiquidationCreated", addr(A))).toEqual([]);
    // B (130 / 100) had no guard and is liquidated by the same pass.
    expect((await empEvents("LiquidationCreated", addr(B))).length).toBe(1);
    // A third guard pass has nothing to do and sends nothing.
    const nonce = await provider.getTransactionCount(addr(A));
    expect((await g.runPass(3)).decision.action).toBe("hold");
    expect(await provider.getTransactionCount(addr(A))).toBe(nonce);
  });

  it("without funds: the guard alerts (critical), the liquidator liquidates A, and the disputer leaves the correct liquidation alone", async () => {
    const alerts: Alert[] = [];
    // No collateral in the wallet, and its minted tokens sold: nothing to top up with.
    await (await new ethers.Contract(dep.addresses.synthetic, ["function transfer(address,uint256) returns (bool)"], await provider.getSigner(A)).transfer(addr(D), wad("100"))).wait();
    const guard = await withParams(ctxFor(A, { alerts }));
    await priceRisesTo13();
    const s = await new EmpGuard(guard.ctx, config).runPass(1);
    expect(s.decision).toMatchObject({ action: "top-up", deposit: 0n, repay: 0n, alert: { level: "critical", reason: "unfunded" } });
    expect(alerts.map((a) => [a.level, a.title])).toEqual([["critical", "EMP guard cannot hold the target"]]);
    expect(guard.events.some((e) => e.type === "warning" && e.reason === "unfunded")).toBe(true);
    expect(await provider.getTransactionCount(addr(A))).toBe(4); // its own setup and the transfer only: nothing sent

    const liq = await withParams(ctxFor(L));
    await new EmpLiquidator(liq.ctx).runPass();
    const created = await empEvents("LiquidationCreated", addr(A));
    expect(created.map((e) => [e.args.tokensOutstanding, e.args.lockedCollateral])).toEqual([[wad("100"), wad("150")]]);

    await increaseTime(61);
    const disputer = await withParams(ctxFor(D, { lookback: 7200 }));
    const d = await new EmpDisputer(disputer.ctx).runPass();
    expect(d.disputes).toEqual([]);
    expect(disputer.events.filter((e) => e.type === "decision" && e.sponsor === addr(A)).map((e) => e.reason)).toEqual(["correct-liquidation"]);
    expect(await empEvents("LiquidationDisputed")).toEqual([]);
  });

  it("a liquidation the feed's price does not support is disputed: a liquidator priced at 1.3 while the feed says ~1.0", async () => {
    // A (150 / 100) is at ~1.5 by the feed; at 1.3 it looks liquidatable (100 × 1.3 × 0.98 × 1.25 = 159.25 > 150),
    // and so does B (130 / 100), which the feed also puts above the trigger (122.5 < 130).
    const wrong = await withParams(ctxFor(L, { price: fixedPrice(wad("1.3")) }));
    await new EmpLiquidator(wrong.ctx).runPass();
    const created = await empEvents("LiquidationCreated", addr(A));
    expect(created.map((e) => [e.args.liquidator, e.args.lockedCollateral])).toEqual([[addr(L), wad("150")]]);
    expect((await empEvents("LiquidationCreated", addr(B))).map((e) => e.args.lockedCollateral)).toEqual([wad("130")]);

    await (await erc20(dep.addresses.collateral, await provider.getSigner(D)).allocateTo(addr(D), wad("100"))).wait();
    await increaseTime(61);
    const disputer = await withParams(ctxFor(D, { lookback: 7200 }));
    const fromBlock = (await provider.getBlockNumber()) + 1;
    await new EmpDisputer(disputer.ctx).runPass();
    // From the chain: each of the two liquidations disputed once, by D; D's other transactions only approve the bond.
    const disputed = await empEvents("LiquidationDisputed");
    expect(disputed.map((e) => [e.args.sponsor, e.args.liquidator, e.args.disputer, e.args.liquidationId]).sort()).toEqual([[addr(A), addr(L), addr(D), 0n], [addr(B), addr(L), addr(D), 0n]].sort());
    const sentTo: string[] = [];
    for (let b = fromBlock; b <= (await provider.getBlockNumber()); b++) {
      for (const h of (await provider.getBlock(b))!.transactions) {
        const tx = (await provider.getTransaction(h))!;
        if (tx.from === addr(D)) sentTo.push(tx.to === dep.addresses.emp ? `emp ${empInterface.parseTransaction(tx)?.name}` : tx.data.startsWith("0x095ea7b3") ? "approve" : `other ${tx.to} ${tx.data.slice(0, 10)}`);
      }
    }
    expect(sentTo.filter((t) => t !== "approve")).toEqual(["emp dispute", "emp dispute"]);
    // A second pass disputes nothing more.
    await new EmpDisputer(disputer.ctx).runPass();
    expect((await empEvents("LiquidationDisputed")).length).toBe(2);
  });

  it("a pending withdrawal counts as gone: the guard cancels it before the liquidators net it out", async () => {
    // 200 / 100 with 60 pending: net 140 at ~1.0 is below the 1.5 target; the liquidators see 1.4.
    await (await erc20(dep.addresses.collateral, await provider.getSigner(A)).allocateTo(addr(A), wad("50"))).wait();
    await sendAs(A, encodeApprove(dep.addresses.collateral, dep.addresses.emp, wad("50")));
    await sendAs(A, encodeSponsorCall(dep.addresses.emp, { fn: "deposit", collateral: wad("50") }));
    await sendAs(A, encodeSponsorCall(dep.addresses.emp, { fn: "requestWithdrawal", collateral: wad("60") }));
    const guard = await withParams(ctxFor(A));
    const s = await new EmpGuard(guard.ctx, config).runPass(1);
    expect(s.decision).toMatchObject({ action: "top-up", cancelWithdrawal: true, deposit: 0n });
    expect(s.sent.map((x) => [x.step, x.status])).toEqual([["cancel-withdrawal", "mined"]]);
    expect((await empEvents("RequestWithdrawalCanceled", addr(A))).map((e) => e.args.collateralAmount)).toEqual([wad("60")]);
  });

  it("after expiry the guard stands down and says so; the bots still withdraw what they are owed and say the EMP expired", async () => {
    await priceRisesTo13();
    const liq = await withParams(ctxFor(L));
    const liquidator = new EmpLiquidator(liq.ctx);
    await liquidator.runPass(); // B and A are liquidated at ~1.3
    const proposer = startExpiryProposer({ signer: await provider.getSigner(18), optimisticOracle: dep.addresses.optimisticOracle, fromBlock: dep.deployBlock, rateSetter: rai.addresses.RateSetter, intervalMs: 100 });
    try {
      await increaseTime(Number(dep.params.expirationTimestamp) - (await provider.getBlock("latest"))!.timestamp + 10);
      // Someone calls expire(): the EMP leaves the Open state.
      await sendAs(B, encodeSponsorCall(dep.addresses.emp, { fn: "expire" }));
      const guard = await withParams(ctxFor(A));
      const gs = await new EmpGuard(guard.ctx, config).runPass(1);
      expect(gs.decision).toMatchObject({ action: "skip", reason: "expired" });
      expect(guard.events.find((e) => e.type === "warning" && e.reason === "expired")!.message).toMatch(/nothing left to guard; `keepctl emp-sponsor settle` pays the position out/);
      // The contract refuses new liquidations now.
      const now = BigInt((await provider.getBlock("latest"))!.timestamp);
      const { encodeCreateLiquidation } = await import("../../src/lib/uma/emp-calls");
      await expect(provider.call({ ...encodeCreateLiquidation(dep.addresses.emp, { sponsor: addr(B), minCollateralPerToken: 0n, maxCollateralPerToken: wad("100"), maxTokensToLiquidate: wad("1"), deadline: now + 300n }), from: addr(L) })).rejects.toThrow(/Only callable pre-expiry/);
      const nonce = await provider.getTransactionCount(addr(L));
      liq.events.length = 0;
      const before = await erc20(dep.addresses.collateral).balanceOf(addr(L));
      const s = await liquidator.runPass(2);
      expect(s.expired).toBe(true);
      expect(s.liquidations).toEqual([]);
      expect(s.withdrawals.map((w) => w.status)).toEqual(["withdrawn", "withdrawn"]);
      expect(liq.events.find((e) => e.type === "warning" && e.reason === "expired")!.message).toMatch(/the contract refuses new liquidations; withdrawing what this bot is owed goes on/);
      const paid = (await empEvents("LiquidationWithdrawn")).reduce((a, e) => a + (e.args.paidToLiquidator as bigint), 0n);
      expect(paid).toBe(wad("130") + wad("150"));
      expect((await erc20(dep.addresses.collateral).balanceOf(addr(L))) - before).toBe(paid);
      expect(await provider.getTransactionCount(addr(L))).toBe(nonce + 2); // the two withdrawals, no liquidation
      const disputer = await withParams(ctxFor(D, { lookback: 7200 }));
      const ds = await new EmpDisputer(disputer.ctx).runPass();
      expect(ds.expired).toBe(true);
      expect(disputer.events.some((e) => e.type === "warning" && e.reason === "expired")).toBe(true);
    } finally {
      proposer.stop();
    }
  });
});

