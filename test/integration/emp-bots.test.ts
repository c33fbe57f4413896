import { bruteTwap } from "../helpers/rai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers } from "ethers";
import { startHardhatNode, type LocalNode } from "../../src/devnet/node";
import { deployEmp, seedSponsors, loadUmaArtifact, type EmpDeployment, type EmpSeed } from "../../src/devnet/uma";
import { deployRai, seedRateHistory, type RaiDeployment, type SeededRate } from "../../src/devnet/rai";
import { connect, type KeepctlProvider } from "../../src/lib/chain/provider";
import { Journal } from "../../src/lib/chain/journal";
import { RaiFeed } from "../../src/lib/rai/feed";
import { RAY } from "../../src/lib/rai/math";
import { ConfigError, ExitCode, RpcError } from "../../src/lib/errors";
import { LoopFailingError } from "../../src/lib/loop";
import { AlertHub, createNotifiers } from "../../src/lib/alert";
import { startRecorder } from "../helpers/http";
import { BotSender, botEventOf, type BotEvent } from "../../src/lib/uma/bot-sender";
import { ActionSender } from "../../src/lib/chain/sender";
import { fixedPrice, raiFeedPrice, runBotLoop, type BotContext, type PriceSource } from "../../src/lib/uma/bot-loop";
import { EmpLiquidator } from "../../src/lib/uma/liquidator";
import { EmpDisputer } from "../../src/lib/uma/disputer";
import { EmpClient, encodeApprove, encodeCreateLiquidation } from "../../src/lib/uma/emp-client";
import { LiquidationState } from "../../src/lib/uma/dispute-strategy";
import { parseFixedStrict } from "../../src/lib/fixed-point";
import { FP_DECIMALS, FP_ONE, fpMul } from "../../src/lib/uma/fixed-point";

const parseFixed = (text: string): bigint => parseFixedStrict(text, FP_DECIMALS);

const MNEMONIC = "test test test test test test test test test test test junk";
const keyOf = (i: number) => ethers.HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).privateKey;
const OTHER = 8; // a third wallet that liquidates before our bot, or wrongly

let node: LocalNode;
let inner: KeepctlProvider;
let provider: KeepctlProvider;
let dep: EmpDeployment;
let rai: RaiDeployment;
let rates: SeededRate[];
let seed: EmpSeed;
let client: EmpClient;
let snapshot: string;
let dataDir: string;

// Per-second rates a hair around 1 RAY: the annualized price stays within 1e-9 of 1.0.
const NEAR_ONE = [RAY, RAY - 3_000_000_000n, RAY + 1_000_000_000n];

async function increaseTime(seconds: number): Promise<void> {
  await provider.send("evm_increaseTime", [seconds]);
  await provider.send("evm_mine", []);
}

async function sendAs(index: number, req: { to: string; data: string }) {
  const signer = await provider.getSigner(index);
  return (await (await signer.sendTransaction(req)).wait())!;
}

const collateralOf = (a: string): Promise<bigint> =>
  new ethers.Contract(dep.addresses.collateral, ["function balanceOf(address) view returns (uint256)"], provider).balanceOf(a);

function botCtx(index: number, price: PriceSource, o: { dryRun?: boolean; beforeAct?: () => Promise<void> } = {}) {
  const events: BotEvent[] = [];
  const emit = (ev: Omit<BotEvent, "bot">) => events.push({ ...ev, bot: "liquidator" });
  const wallet = new ethers.Wallet(keyOf(index), provider);
  const action = new ActionSender(wallet, provider, Journal.open(dataDir), { maxFeeGwei: 100, dryRun: !!o.dryRun, pollMs: 50, onEvent: (ev) => { const b = botEventOf(ev); if (b) emit(b); } });
  const sender = new BotSender(action, emit);
  const ctx: BotContext = { client, params: undefined as never, sender, price, emit, scan: { fromBlock: dep.deployBlock, chunkSize: 50 }, beforeAct: o.beforeAct };
  return { ctx, events, wallet };
}

async function withParams<T extends { ctx: BotContext }>(b: T): Promise<T> {
  b.ctx.params = await client.readParams();
  return b;
}

const feedPrice = () => raiFeedPrice(new RaiFeed({ provider, rateSetter: rai.addresses.RateSetter, lookback: 7200, chunkSize: 50 }));
const byLabel = (l: string) => seed.sponsors.find((s) => s.label === l)!;

beforeAll(async () => {
  node = await startHardhatNode();
  inner = await connect({ rpcUrls: [node.rpcUrl], chainId: 31337 });
  provider = inner;
  const deployer = await provider.getSigner(0);
  rai = await deployRai(deployer);
  rates = await seedRateHistory(rai, { count: 3, intervalSec: 10800, rates: NEAR_ONE });
  dep = await deployEmp(deployer);
  seed = await seedSponsors(dep, provider);
  client = new EmpClient(provider, dep.addresses.emp);
  // The third wallet gets synthetic tokens from the liquidator's stock.
  const syn = new ethers.Contract(dep.addresses.synthetic, ["function transfer(address,uint256) returns (bool)"], await provider.getSigner(seed.liquidator.index));
  await (await syn.transfer(await (await provider.getSigner(OTHER)).getAddress(), parseFixed("150"))).wait();
  snapshot = await provider.send("evm_snapshot", []);
}, 120_000);

afterAll(async () => {
  provider?.destroy();
  inner?.destroy();
  await node?.stop();
});

beforeEach(async () => {
  await provider.send("evm_revert", [snapshot]);
  snapshot = await provider.send("evm_snapshot", []);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-emp-bots-"));
});

describe("liquidator bot", () => {
  it("prices with the RAI feed near 1, liquidates the reference case and the CR 1.2 sponsor, and leaves healthy ones alone", async () => {
    const bot = await withParams(botCtx(seed.liquidator.index, feedPrice()));
    const summary = await new EmpLiquidator(bot.ctx).runPass();
    const now = (await provider.getBlock(summary.block))!.timestamp;
    expect(summary.price).toBe(bruteTwap(rates, now - 28800, now));
    expect(summary.price! - FP_ONE < 10n ** 9n && FP_ONE - summary.price! < 10n ** 9n).toBe(true);
    expect(summary.price).not.toBe(FP_ONE);

    const ref = byLabel("pending-withdrawal");
    expect(summary.liquidations.map((l) => [l.sponsor, l.status])).toEqual([[byLabel("cr-1.2").address, "liquidated"], [ref.address, "liquidated"]]);
    const refOutcome = summary.liquidations.find((l) => l.sponsor === ref.address)!;
    expect(refOutcome).toMatchObject({ lockedCollateral: parseFixed("200"), liquidatedCollateral: parseFixed("100"), tokens: parseFixed("100") });
    const [onChain] = await client.readLiquidations(ref.address);
    expect(onChain).toMatchObject({ state: LiquidationState.NotDisputed, liquidator: seed.liquidator.address, lockedCollateral: parseFixed("200"), liquidatedCollateral: parseFixed("100") });
    for (const healthy of ["cr-1.3", "cr-1.5", "cr-2.0"]) expect(await client.readLiquidations(byLabel(healthy).address)).toEqual([]);
    const types = bot.events.map((e) => e.type);
    expect(types.filter((t) => t === "mined").length).toBe(3); // one synthetic approval, two liquidations
    expect(bot.events.filter((e) => e.type === "decision" && e.action === "liquidate").map((e) => e.sponsor)).toEqual([byLabel("cr-1.2").address, ref.address]);
    const journal = Journal.open(dataDir).get(`${dep.addresses.emp}:${ref.address}:liquidate`)!;
    expect(journal).toMatchObject({ state: "mined", status: 1 });

    // A second pass finds nothing left to do.
    const again = await new EmpLiquidator(bot.ctx).runPass(2);
    expect(again.liquidations).toEqual([]);
  });

  it("with a --price override of 1.0 makes the same choice and sends maxCollateralPerToken from the shaded price", async () => {
    const bot = await withParams(botCtx(seed.liquidator.index, fixedPrice(FP_ONE)));
    const s = await new EmpLiquidator(bot.ctx).runPass();
    expect(s.price).toBe(FP_ONE);
    expect(s.liquidations.filter((l) => l.status === "liquidated").length).toBe(2);
    const d = bot.events.find((e) => e.type === "decision" && e.action === "liquidate")!;
    expect(d.maxCollateralPerToken).toBe(parseFixed("1.225"));
  });

  it("loses a race to another liquidator: warning and skip, not a failure", async () => {
    const ref = byLabel("pending-withdrawal");
    const other = await provider.getSigner(OTHER);
    const bot = await withParams(botCtx(seed.liquidator.index, fixedPrice(FP_ONE), {
      beforeAct: async () => {
        const now = (await client.readState()).currentTime;
        await sendAs(OTHER, encodeApprove(dep.addresses.synthetic, dep.addresses.emp));
        await sendAs(OTHER, encodeCreateLiquidation(dep.addresses.emp, { sponsor: ref.address, minCollateralPerToken: 0n, maxCollateralPerToken: parseFixed("2.5"), maxTokensToLiquidate: parseFixed("100"), deadline: now + 300n }));
      },
    }));
    const s = await new EmpLiquidator(bot.ctx).runPass();
    const lost = s.liquidations.find((l) => l.sponsor === ref.address)!;
    expect(lost.status).toBe("lost-race");
    expect(lost.message).toContain(`liquidated by ${await other.getAddress()} first`);
    expect(s.liquidations.find((l) => l.sponsor === byLabel("cr-1.2").address)!.status).toBe("liquidated");
    expect(bot.events.some((e) => e.type === "warning" && e.reason === "lost-race" && e.sponsor === ref.address)).toBe(true);
    expect(Journal.open(dataDir).get(`${dep.addresses.emp}:${ref.address}:liquidate`)!.state).toBe("skipped");
  });

  it("--dry-run simulates and sends nothing", async () => {
    // Approve beforehand so the liquidation itself can be simulated.
    await sendAs(seed.liquidator.index, encodeApprove(dep.addresses.synthetic, dep.addresses.emp));
    const nonce = await provider.getTransactionCount(seed.liquidator.address);
    const bot = await withParams(botCtx(seed.liquidator.index, fixedPrice(FP_ONE), { dryRun: true }));
    const s = await new EmpLiquidator(bot.ctx).runPass();
    expect(s.liquidations.map((l) => l.status)).toEqual(["dry-run", "dry-run"]);
    const skipped = bot.events.filter((e) => e.type === "skipped" && e.reason === "dry-run");
    expect(skipped.length).toBe(2);
    for (const e of skipped) expect(e.gasLimit as bigint).toBeGreaterThan(21000n);
    expect(bot.events.some((e) => e.type === "sent")).toBe(false);
    expect(await provider.getTransactionCount(seed.liquidator.address)).toBe(nonce);
    expect(await client.readLiquidations(byLabel("pending-withdrawal").address)).toEqual([]);
  });

  it("finishes a liquidation a crashed run journaled but never broadcast, instead of signing a second one", async () => {
    const ref = byLabel("pending-withdrawal");
    await sendAs(seed.liquidator.index, encodeApprove(dep.addresses.synthetic, dep.addresses.emp));
    const bot = await withParams(botCtx(seed.liquidator.index, fixedPrice(FP_ONE)));
    const now = (await client.readState()).currentTime;
    const req = encodeCreateLiquidation(dep.addresses.emp, { sponsor: ref.address, minCollateralPerToken: 0n, maxCollateralPerToken: parseFixed("1.225"), maxTokensToLiquidate: parseFixed("100"), deadline: now + 3600n });
    const nonce = await provider.getTransactionCount(seed.liquidator.address);
    const rawTx = await bot.wallet.signTransaction({ ...req, type: 2, chainId: 31337, nonce, gasLimit: 1_000_000n, maxFeePerGas: ethers.parseUnits("10", "gwei"), maxPriorityFeePerGas: ethers.parseUnits("1", "gwei") });
    const key = `${dep.addresses.emp}:${ref.address}:liquidate`;
    const journal = Journal.open(dataDir);
    journal.begin(key, { account: seed.liquidator.address });
    journal.recordSending(key, { nonce, hash: ethers.Transaction.from(rawTx).hash!, rawTx }); // then "kill -9"

    const s = await new EmpLiquidator(bot.ctx).runPass();
    expect(bot.events.filter((e) => e.type === "recovered").map((e) => e.status)).toContain("mined");
    expect(Journal.open(dataDir).get(key)).toMatchObject({ state: "mined", status: 1, minedHash: ethers.Transaction.from(rawTx).hash });
    // The journaled tx took the reference case; the pass only liquidated the CR 1.2 sponsor.
    expect(s.liquidations.map((l) => l.sponsor)).toEqual([byLabel("cr-1.2").address]);
    expect(await client.readLiquidations(ref.address)).toHaveLength(1);
  });

  it("after expiry starts no liquidation but still withdraws its rewards", async () => {
    const bot = await withParams(botCtx(seed.liquidator.index, fixedPrice(FP_ONE)));
    const liq = new EmpLiquidator(bot.ctx);
    await liq.runPass();
    await increaseTime(Number(dep.params.expirationTimestamp) - (await provider.getBlock("latest"))!.timestamp + 10);
    bot.ctx.price = fixedPrice(parseFixed("10")); // every position would be undercollateralized at this price
    const before = await collateralOf(seed.liquidator.address);
    bot.events.length = 0;
    const s = await liq.runPass(2);
    expect(s.expired).toBe(true);
    expect(s.price).toBeNull(); // not even asked
    expect(s.liquidations).toEqual([]);
    const decisions = bot.events.filter((e) => e.type === "decision");
    expect(decisions.length).toBeGreaterThan(0);
    expect(new Set(decisions.map((e) => e.reason))).toEqual(new Set(["contract-expired"]));
    expect(s.withdrawals.map((w) => w.status)).toEqual(["withdrawn", "withdrawn"]);
    const paid = s.withdrawals.reduce((a, w) => a + w.paidToLiquidator, 0n);
    expect(paid).toBe(parseFixed("120") + parseFixed("200")); // locked collateral of CR 1.2 and the reference case
    expect((await collateralOf(seed.liquidator.address)) - before).toBe(paid);
  });
});

describe("disputer bot", () => {
  it("disputes a wrong liquidation by another wallet; after the oracle's price both bots withdraw what they are owed", async () => {
    const victim = byLabel("cr-2.0");
    const liquidator = await withParams(botCtx(seed.liquidator.index, fixedPrice(FP_ONE)));
    await new EmpLiquidator(liquidator.ctx).runPass(); // correct liquidations of CR 1.2 and the reference case
    let now = (await client.readState()).currentTime;
    await sendAs(OTHER, encodeApprove(dep.addresses.synthetic, dep.addresses.emp));
    await sendAs(OTHER, encodeCreateLiquidation(dep.addresses.emp, { sponsor: victim.address, minCollateralPerToken: 0n, maxCollateralPerToken: parseFixed("2.5"), maxTokensToLiquidate: victim.tokens, deadline: now + 300n }));

    const disputer = await withParams(botCtx(seed.disputer.index, feedPrice()));
    const bot = new EmpDisputer(disputer.ctx);
    let s = await bot.runPass();
    expect(s.disputes).toEqual([]);
    const reasons = () => disputer.events.filter((e) => e.type === "decision").map((e) => `${e.sponsor === victim.address ? "victim" : "other"}:${e.reason}`);
    expect(reasons()).toContain("victim:too-early");

    await increaseTime(61);
    disputer.events.length = 0;
    s = await bot.runPass(2);
    expect(reasons().sort()).toEqual(["other:correct-liquidation", "other:correct-liquidation", "victim:wrong-liquidation"]);
    expect(s.disputes).toHaveLength(1);
    expect(s.disputes[0]).toMatchObject({ sponsor: victim.address, status: "disputed", bond: fpMul(victim.collateral, dep.params.disputeBondPercentage) });
    let [l] = await client.readLiquidations(victim.address);
    expect(l).toMatchObject({ state: LiquidationState.Disputed, disputer: seed.disputer.address });

    // Before the oracle answers, nothing is withdrawn.
    s = await bot.runPass(3);
    expect(s.withdrawals).toEqual([]);
    const oracle = new ethers.Contract(dep.addresses.mockOracle, loadUmaArtifact("MockOracle").abi, await provider.getSigner(0));
    await (await oracle.pushPrice(ethers.encodeBytes32String("RaiRedemptionRate"), l.liquidationTime, FP_ONE)).wait();
    await increaseTime(Number(dep.params.liquidationLiveness));

    const disputerBefore = await collateralOf(seed.disputer.address);
    s = await bot.runPass(4);
    expect(s.withdrawals).toHaveLength(1);
    const w = s.withdrawals[0];
    const tokenValue = victim.tokens; // settlement price 1.0
    expect(w.paidToDisputer).toBe(fpMul(victim.collateral, dep.params.disputeBondPercentage) + fpMul(tokenValue, dep.params.disputerDisputeRewardPercentage));
    expect((await collateralOf(seed.disputer.address)) - disputerBefore).toBe(w.paidToDisputer);
    [l] = await client.readLiquidations(victim.address);
    expect(l.state).toBe(LiquidationState.Uninitialized);

    const liqBefore = await collateralOf(seed.liquidator.address);
    const ls = await new EmpLiquidator(liquidator.ctx).runPass(2);
    const paid = ls.withdrawals.reduce((a, x) => a + x.paidToLiquidator, 0n);
    expect(ls.withdrawals).toHaveLength(2);
    expect((await collateralOf(seed.liquidator.address)) - liqBefore).toBe(paid);
    expect(paid).toBe(parseFixed("320"));
    // Nothing is owed any more: a further pass sends nothing.
    const nonce = await provider.getTransactionCount(seed.disputer.address);
    expect((await bot.runPass(5)).withdrawals).toEqual([]);
    expect(await provider.getTransactionCount(seed.disputer.address)).toBe(nonce);
  });

  it("skips a dispute another disputer made first", async () => {
    const victim = byLabel("cr-2.0");
    const now = (await client.readState()).currentTime;
    await sendAs(OTHER, encodeApprove(dep.addresses.synthetic, dep.addresses.emp));
    await sendAs(OTHER, encodeCreateLiquidation(dep.addresses.emp, { sponsor: victim.address, minCollateralPerToken: 0n, maxCollateralPerToken: parseFixed("2.5"), maxTokensToLiquidate: victim.tokens, deadline: now + 300n }));
    await increaseTime(61);
    const rival = seed.sponsors[0]; // any funded wallet can dispute
    const bot = await withParams(botCtx(seed.disputer.index, fixedPrice(FP_ONE), {
      beforeAct: async () => {
        const iface = new ethers.Interface(["function dispute(uint256,address)", "function approve(address,uint256)"]);
        await sendAs(rival.index, { to: dep.addresses.collateral, data: iface.encodeFunctionData("approve", [dep.addresses.emp, ethers.MaxUint256]) });
        const coll = new ethers.Contract(dep.addresses.collateral, ["function allocateTo(address,uint256)"], await provider.getSigner(0));
        await (await coll.allocateTo(rival.address, parseFixed("100"))).wait();
        await sendAs(rival.index, { to: dep.addresses.emp, data: iface.encodeFunctionData("dispute", [0n, victim.address]) });
      },
    }));
    const s = await new EmpDisputer(bot.ctx).runPass();
    expect(s.disputes[0]).toMatchObject({ status: "lost-race" });
    expect(s.disputes[0].message).toContain(`disputed by ${rival.address} first`);
  });
});

describe("cost of a pass (issue 13: EMP at scale)", () => {
  const counts = () => ({ http: provider.stats.httpRequests, calls: provider.stats.rpcCalls, ethCall: provider.stats.byMethod.eth_call ?? 0 });
  const delta = (a: ReturnType<typeof counts>) => { const b = counts(); return { http: b.http - a.http, calls: b.calls - a.calls, ethCall: b.ethCall - a.ethCall }; };

  it("reads every sponsor's position in one eth_call, equal to the contract's own getter", async () => {
    const sponsors = [...seed.sponsors.map((s) => s.address), seed.liquidator.address];
    const { cumulativeFeeMultiplier } = await client.readState();
    const before = counts();
    const positions = await client.readPositions(sponsors, cumulativeFeeMultiplier);
    expect(delta(before)).toMatchObject({ http: 1, ethCall: 1 });
    const emp = new ethers.Contract(dep.addresses.emp, loadUmaArtifact("ExpiringMultiParty").abi, provider);
    expect(positions.map((p) => p.sponsor)).toEqual(sponsors);
    for (const p of positions) {
      const raw = await emp.positions(p.sponsor);
      expect([p.tokensOutstanding, p.withdrawalRequestPassTimestamp, p.withdrawalRequestAmount, p.rawCollateral]).toEqual([raw[0][0], raw[1], raw[2][0], raw[3][0]]);
      expect(p.collateral).toBe((await emp.getCollateral(p.sponsor))[0]);
    }
  });

  it("liquidator: a pass with nothing changed costs 2 HTTP requests; a sponsor new since the last pass is read in the next", async () => {
    // At price 0.5 every seeded position is healthy: the passes only read.
    const bot = await withParams(botCtx(seed.liquidator.index, fixedPrice(parseFixed("0.5"))));
    const liq = new EmpLiquidator(bot.ctx);
    const first = await liq.runPass(1);
    const before = counts();
    const second = await liq.runPass(2);
    expect(delta(before).http).toBe(2);
    expect(second.positions).toBe(first.positions);

    // OTHER opens a position (ratio 3, above the global ratio) between passes.
    const other = await provider.getSigner(OTHER);
    const coll = new ethers.Contract(dep.addresses.collateral, ["function allocateTo(address,uint256)", "function approve(address,uint256) returns (bool)"], other);
    await (await coll.allocateTo(await other.getAddress(), parseFixed("300"))).wait();
    await (await coll.approve(dep.addresses.emp, parseFixed("300"))).wait();
    const emp = new ethers.Contract(dep.addresses.emp, loadUmaArtifact("ExpiringMultiParty").abi, other);
    await (await emp.create({ rawValue: parseFixed("300") }, { rawValue: parseFixed("100") })).wait();
    const third = await liq.runPass(3);
    expect(third.positions).toBe(first.positions + 1);
    expect(third.liquidations).toEqual([]);
  });

  it("disputer: a pass with nothing changed costs 2 HTTP requests; a liquidation new since the last pass is found in the next", async () => {
    const bot = await withParams(botCtx(seed.disputer.index, fixedPrice(FP_ONE)));
    const disputer = new EmpDisputer(bot.ctx);
    expect((await disputer.runPass(1)).liquidations).toBe(0);
    const before = counts();
    await disputer.runPass(2);
    expect(delta(before).http).toBe(2);

    const victim = byLabel("cr-1.2");
    const now = (await client.readState()).currentTime;
    await sendAs(OTHER, encodeApprove(dep.addresses.synthetic, dep.addresses.emp));
    await sendAs(OTHER, encodeCreateLiquidation(dep.addresses.emp, { sponsor: victim.address, minCollateralPerToken: 0n, maxCollateralPerToken: parseFixed("2.5"), maxTokensToLiquidate: victim.tokens, deadline: now + 300n }));
    const s = await disputer.runPass(3);
    expect(s.liquidations).toBe(1);
    expect(s.disputes).toEqual([]); // CR 1.2 at price 1: a correct liquidation (and too early anyway)
  });
});

describe("bot loop", () => {
  const silent = () => undefined;
  it("retries a failing pass with backoff, then succeeds", async () => {
    let calls = 0;
    const errors: unknown[] = [];
    const r = await runBotLoop(async () => {
      calls++;
      if (calls < 3) throw new Error(`flaky ${calls}`);
      return "ok";
    }, { intervalSec: 0, once: true, retries: 3, backoffMs: 1, signal: new AbortController().signal, emit: (e) => errors.push(e) });
    expect(r).toEqual({ passes: 1, last: "ok" });
    expect(calls).toBe(3);
    expect(errors).toHaveLength(2);
  });

  it("a one-shot run throws after its retries; config errors are not retried", async () => {
    let calls = 0;
    await expect(runBotLoop(async () => { calls++; throw new Error("down"); }, { intervalSec: 0, once: true, retries: 2, backoffMs: 1, signal: new AbortController().signal, emit: silent })).rejects.toThrow("down");
    expect(calls).toBe(3);
    calls = 0;
    await expect(runBotLoop(async () => { calls++; throw new ConfigError("bad"); }, { intervalSec: 0, once: true, retries: 2, backoffMs: 1, signal: new AbortController().signal, emit: silent })).rejects.toThrow("bad");
    expect(calls).toBe(1);
  });

  it("pings the heartbeat only after good passes, and gives up with exit 11 and one critical alert after N failed passes in a row", async () => {
    const hooks = await startRecorder();
    try {
      const base = `http://127.0.0.1:${hooks.port}`;
      // The feed fails on passes 2 and 4-6 (each attempt of those passes): a subgraph outage, say.
      let pass = 0;
      const flaky: PriceSource = {
        label: "flaky feed",
        update: async () => { if (pass === 2 || pass >= 4) throw new RpcError("subgraph unreachable"); },
        current: () => FP_ONE,
        at: () => FP_ONE,
      };
      const bot = await withParams(botCtx(seed.liquidator.index, flaky, { dryRun: true }));
      const liquidator = new EmpLiquidator(bot.ctx);
      const hub = new AlertHub(createNotifiers({ webhookUrl: `${base}/hook` }));
      const nonceBefore = await provider.getTransactionCount(bot.wallet.address);
      const err = await runBotLoop((n) => { pass = n; return liquidator.runPass(n); }, {
        intervalSec: 0.01, once: false, retries: 1, backoffMs: 1, signal: new AbortController().signal, emit: bot.ctx.emit,
        heartbeatUrl: `${base}/ping/check-uuid`, maxFailedPasses: 3,
        alert: async (a) => { await hub.notify(a); },
      }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(LoopFailingError);
      expect((err as LoopFailingError).exitCode).toBe(ExitCode.LOOP_FAILING);
      expect((err as LoopFailingError).message).toBe("EMP bot stopped: 3 passes failed in a row; last: subgraph unreachable");
      expect(pass).toBe(6);
      // passes 1 and 3 were good: two pings, none for the five failed passes
      expect(hooks.got.filter((g) => g.path === "/ping/check-uuid")).toHaveLength(2);
      const hook = hooks.got.filter((g) => g.path === "/hook").map((g) => JSON.parse(g.body) as { key: string; level: string; title: string; text: string });
      const stopping = hook.filter((h) => h.key === "emp-bot-stopping");
      expect(stopping).toEqual([expect.objectContaining({ level: "critical", title: "EMP bot stopping", text: "3 passes failed in a row; last: subgraph unreachable" })]);
      // every attempt of every failed pass was reported; nothing was sent (dry-run)
      expect(bot.events.filter((e) => e.type === "error").map((e) => e.pass)).toEqual([2, 2, 4, 4, 5, 5, 6, 6]);
      expect(await provider.getTransactionCount(bot.wallet.address)).toBe(nonceBefore);
    } finally {
      await hooks.close();
    }
  });

  it("--max-failed-passes 0 never gives up", async () => {
    const ac = new AbortController();
    let calls = 0;
    const r = await runBotLoop(async () => {
      calls++;
      if (calls === 8) ac.abort();
      throw new Error("always down");
    }, { intervalSec: 0.001, once: false, retries: 0, signal: ac.signal, emit: silent, maxFailedPasses: 0 });
    expect(r.passes).toBe(8);
  });

  it("keeps looping at the interval until aborted", async () => {
    const ac = new AbortController();
    let calls = 0;
    const r = await runBotLoop(async () => {
      calls++;
      if (calls === 3) ac.abort();
      if (calls === 2) throw new Error("one bad pass");
      return calls;
    }, { intervalSec: 0.01, once: false, retries: 0, signal: ac.signal, emit: silent });
    expect(calls).toBe(3);
    expect(r.passes).toBe(3);
  });
});
