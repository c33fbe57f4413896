import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers } from "ethers";
import { startHardhatNode, type LocalNode } from "../../src/devnet/node";
import { deployEmp, deployUmaInfrastructure, loadUmaArtifact, DEVNET_OO_LIVENESS, type EmpDeployment } from "../../src/devnet/uma";
import { deployRai, seedRateHistory, type RaiDeployment, type SeededRate } from "../../src/devnet/rai";
import { startExpiryProposer } from "../../src/devnet/expiry-proposer";
import { startProviderProxy } from "../../src/devnet/provider-proxy";
import { loadConfig } from "../../src/lib/config";
import { Journal } from "../../src/lib/chain/journal";
import { RAY } from "../../src/lib/rai/math";
import { ExitCode, KeepctlError } from "../../src/lib/errors";
import { openSponsorSession, loadPositionView, type SponsorSession } from "../../src/lib/uma/sponsor-session";
import { settleFlow, sponsorActionFlow, withdrawLiquidationsFlow, type FlowIo } from "../../src/lib/uma/sponsor-flows";
import type { SponsorRequest } from "../../src/lib/uma/sponsor-plan";
import { checkGovernance } from "../../src/lib/uma/launch";
import { empInterface, encodeApprove, encodeCreateLiquidation, encodeDispute, encodeSponsorCall } from "../../src/lib/uma/emp-calls";
import { OPTIMISTIC_ORACLE_ABI } from "../../src/lib/uma/governance-abi";
import { parseFixedStrict } from "../../src/lib/fixed-point";
import { bruteTwap } from "../helpers/rai";

/**
 * The sponsor's side against UMA's real ExpiringMultiParty (created through the real Creator, with
 * the real Optimistic Oracle), on a local Hardhat node. What was sent is counted from the chain:
 * the EMP's events and the account's nonce, never keepctl's own report.
 */
const wad = (t: string) => parseFixedStrict(t, 18);
const E18 = 10n ** 18n;
const MNEMONIC = "test test test test test test test test test test test junk";
const keyOf = (i: number) => ethers.HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).privateKey;
const A = 1; // the sponsor under test
const B = 2; // an earlier sponsor: sets the GCR at 2.0 (200 / 100)
const L = 3; // a liquidator (holds tokens from its own position: 1000 / 500, so the GCR starts at 2.0)
const D = 4; // a disputer

let node: LocalNode;
let provider: ethers.JsonRpcProvider;
let dep: EmpDeployment;
let rai: RaiDeployment;
let rates: SeededRate[];
let snapshot: string;
let tmp: string;
let depFile: string;
const addr = (i: number) => new ethers.Wallet(keyOf(i)).address;

const erc20 = (token: string, runner: ethers.ContractRunner = provider) => new ethers.Contract(token, ["function balanceOf(address) view returns (uint256)", "function allowance(address,address) view returns (uint256)", "function allocateTo(address,uint256)", "function approve(address,uint256) returns (bool)", "function transfer(address,uint256) returns (bool)"], runner);
const empAs = async (i: number) => new ethers.Contract(dep.addresses.emp, loadUmaArtifact("ExpiringMultiParty").abi, await provider.getSigner(i));

async function sendAs(i: number, req: { to: string; data: string }) {
  return (await (await (await provider.getSigner(i)).sendTransaction(req)).wait())!;
}
async function fund(i: number, collateral: bigint) {
  await (await erc20(dep.addresses.collateral, await provider.getSigner(i)).allocateTo(addr(i), collateral)).wait();
}
async function openDirect(i: number, collateral: bigint, tokens: bigint) {
  await fund(i, collateral);
  await sendAs(i, encodeApprove(dep.addresses.collateral, dep.addresses.emp, collateral));
  await sendAs(i, encodeSponsorCall(dep.addresses.emp, { fn: "create", collateral, tokens }));
}
async function increaseTime(s: number) {
  await provider.send("evm_increaseTime", [s]);
  await provider.send("evm_mine", []);
}
/** The EMP's events named `name` for `who`, from the chain. */
async function empEvents(name: string, who?: string) {
  const logs = await provider.getLogs({ address: dep.addresses.emp, fromBlock: dep.deployBlock, toBlock: "latest", topics: [empInterface.getEvent(name)!.topicHash, ...(who ? [ethers.zeroPadValue(who, 32)] : [])] });
  return logs.map((l) => empInterface.parseLog(l)!);
}
const nonceOf = (i: number) => provider.getTransactionCount(addr(i));
const position = async (i: number) => (await empAs(0)).positions(addr(i));

const sessions: SponsorSession[] = [];
let dataDir: string;
async function sessionFor(i: number, o: { dryRun?: boolean; price?: string; feed?: boolean } = {}) {
  const cfg = loadConfig({ deployment: depFile, dataDir, ...(o.feed ? {} : { price: o.price ?? "1" }) }, { KEEPCTL_PRIVATE_KEY: keyOf(i), KEEPCTL_LOCK_DIR: path.join(tmp, "locks") }, { dotenv: false });
  const s = await openSponsorSession(cfg, { key: "sign", dryRun: !!o.dryRun, interactive: false, price: "optional", timings: { pollMs: 50 } });
  sessions.push(s);
  return s;
}
const yes = { confirm: async () => true };
const io: FlowIo = { info: () => undefined, warn: () => undefined, confirm: async () => true };
async function act(i: number, req: SponsorRequest, o: { dryRun?: boolean; price?: string } = {}) {
  const s = await sessionFor(i, o);
  try {
    return await sponsorActionFlow(s, req, yes);
  } finally {
    s.close();
  }
}
async function settleAs(i: number) {
  const s = await sessionFor(i);
  try {
    return await settleFlow(s, io, { dryRun: false, waitSec: 0 });
  } finally {
    s.close();
  }
}
async function refused(p: Promise<unknown>): Promise<KeepctlError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(KeepctlError);
  return e as KeepctlError;
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-emp-sponsor-"));
  node = await startHardhatNode();
  provider = new ethers.JsonRpcProvider(node.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1 });
  const deployer = await provider.getSigner(0);
  rai = await deployRai(deployer);
  rates = await seedRateHistory(rai, { count: 3, intervalSec: 10800, rates: [RAY, RAY - 3_000_000_000n, RAY + 1_000_000_000n] });
  dep = await deployEmp(deployer);
  await openDirect(B, wad("200"), wad("100"));
  await openDirect(L, wad("1000"), wad("500"));
  depFile = path.join(tmp, "deployment.json");
  fs.writeFileSync(depFile, JSON.stringify({ network: "devnet", chainId: 31337, rpcUrl: node.rpcUrl, deploymentBlock: rai.deploymentBlock, contracts: { ExpiringMultiParty: dep.addresses.emp, RateSetter: rai.addresses.RateSetter } }));
  snapshot = await provider.send("evm_snapshot", []);
}, 180_000);

afterAll(async () => {
  for (const s of sessions) s.close();
  provider?.destroy();
  await node?.stop();
});

beforeEach(async () => {
  for (const s of sessions.splice(0)) s.close();
  await provider.send("evm_revert", [snapshot]);
  snapshot = await provider.send("evm_snapshot", []);
  dataDir = fs.mkdtempSync(path.join(tmp, "data-"));
});

describe("create, deposit, withdraw", () => {
  it("opens a position exactly once, with an exact approval: one PositionCreated on chain, allowance spent to 0", async () => {
    await fund(A, wad("300"));
    const r = await act(A, { action: "create", collateral: wad("200"), tokens: wad("100") });
    expect(r.outcome.status).toBe("mined");
    const created = await empEvents("PositionCreated", addr(A));
    expect(created.map((e) => [e.args.collateralAmount, e.args.tokenAmount])).toEqual([[wad("200"), wad("100")]]);
    expect((await empEvents("NewSponsor", addr(A))).length).toBe(1);
    expect(await erc20(dep.addresses.collateral).allowance(addr(A), dep.addresses.emp)).toBe(0n);
    expect(await erc20(dep.addresses.synthetic).balanceOf(addr(A))).toBe(wad("100"));
    expect(await nonceOf(A)).toBe(1 + 2); // allocateTo, then approve + create
    expect(r.plan!.approvals).toEqual([{ token: "collateral", address: dep.addresses.collateral, amount: wad("200") }]);
  });

  it("the GCR edge: a new position exactly at the GCR (2.0) passes; one wei less is refused before sending, as the contract would", async () => {
    // GCR = (200 + 1000) / (100 + 500) = 2.0: a 100-token position needs exactly 200.
    const least = wad("200");
    await fund(A, wad("1000"));
    const nonce = await nonceOf(A);
    const e = await refused(act(A, { action: "create", collateral: least - 1n, tokens: wad("100") }));
    expect(e).toMatchObject({ code: "WOULD_REVERT", exitCode: ExitCode.REVERT });
    expect(e.message).toBe("collateral per token after this mint 1.999999999999999999 is below the GCR 2.000000000000000000 (nor does the mint's own 1.999999999999999999 reach it): the contract would revert");
    expect(e.hint).toBe("minting 100 tokens needs at least 200 collateral");
    expect(await nonceOf(A)).toBe(nonce);
    // The contract itself agrees (the independent oracle): with an approval, the same create reverts.
    await sendAs(A, encodeApprove(dep.addresses.collateral, dep.addresses.emp, least));
    await expect(provider.call({ ...encodeSponsorCall(dep.addresses.emp, { fn: "create", collateral: least - 1n, tokens: wad("100") }), from: addr(A) })).rejects.toThrow(/Insufficient collateral/);
    const ok = await act(A, { action: "create", collateral: least, tokens: wad("100") });
    expect(ok.outcome.status).toBe("mined");
    expect((await position(A)).rawCollateral[0]).toBe(least);
  });

  it("an instant withdrawal down to exactly the GCR passes; one wei more is refused in words and the contract agrees", async () => {
    // A: 900 / 100 with B (200/100) and L (1000/500): GCR 2100 / 700 = 3. Down to 300 is allowed.
    await openDirect(A, wad("900"), wad("100"));
    const e = await refused(act(A, { action: "withdraw", collateral: wad("600") + 1n }));
    expect(e.code).toBe("WOULD_REVERT");
    expect(e.message).toBe("collateral ratio after the withdrawal 2.999999999999999999 is below the GCR 3.000000000000000000: an instant withdrawal would revert; --request starts a 2 h withdrawal request instead");
    expect(e.hint).toBe("at most 600 can be withdrawn at once");
    await expect(provider.call({ ...encodeSponsorCall(dep.addresses.emp, { fn: "withdraw", collateral: wad("600") + 1n }), from: addr(A) })).rejects.toThrow(/CR below GCR/);
    const before = await erc20(dep.addresses.collateral).balanceOf(addr(A));
    const r = await act(A, { action: "withdraw", collateral: wad("600") });
    expect(r.outcome.status).toBe("mined");
    expect((await empEvents("Withdrawal", addr(A))).map((x) => x.args.collateralAmount)).toEqual([wad("600")]);
    expect((await erc20(dep.addresses.collateral).balanceOf(addr(A))) - before).toBe(wad("600"));
  });

  it("a withdrawal request, refused deposits while it is pending, then --passed after the liveness; cancel works too", async () => {
    await openDirect(A, wad("400"), wad("100"));
    await fund(A, wad("50"));
    expect((await act(A, { action: "request-withdrawal", collateral: wad("150") })).outcome.status).toBe("mined");
    const p = await position(A);
    expect(p.withdrawalRequestAmount[0]).toBe(wad("150"));
    const dep1 = await refused(act(A, { action: "deposit", collateral: wad("10") }));
    expect(dep1.message).toMatch(/^a withdrawal request of 150 is pending \(it passes at .*Z\): the contract refuses a deposit until it is cancelled or carried out$/);
    const early = await refused(act(A, { action: "withdraw-passed" }));
    expect(early.message).toMatch(/^the withdrawal request passes at .*Z, in 2 h: it cannot be carried out yet$/);
    await increaseTime(7200);
    const before = await erc20(dep.addresses.collateral).balanceOf(addr(A));
    expect((await act(A, { action: "withdraw-passed" })).outcome.status).toBe("mined");
    expect((await empEvents("RequestWithdrawalExecuted", addr(A))).map((x) => x.args.collateralAmount)).toEqual([wad("150")]);
    expect((await erc20(dep.addresses.collateral).balanceOf(addr(A))) - before).toBe(wad("150"));
    // and a cancel
    expect((await act(A, { action: "request-withdrawal", collateral: wad("10") })).outcome.status).toBe("mined");
    expect((await act(A, { action: "cancel-withdrawal" })).outcome.status).toBe("mined");
    expect((await empEvents("RequestWithdrawalCanceled", addr(A))).length).toBe(1);
    expect((await position(A)).withdrawalRequestPassTimestamp).toBe(0n);
    const none = await refused(act(A, { action: "cancel-withdrawal" }));
    expect(none.message).toBe("no withdrawal request is pending: nothing to cancel");
  });

  it("--dry-run simulates and sends nothing (the nonce and the position stay)", async () => {
    await openDirect(A, wad("400"), wad("100"));
    await fund(A, wad("50"));
    const nonce = await nonceOf(A);
    const r = await act(A, { action: "deposit", collateral: wad("50") }, { dryRun: true });
    expect(r.outcome).toMatchObject({ status: "dry-run", simulated: false });
    await sendAs(A, encodeApprove(dep.addresses.collateral, dep.addresses.emp, wad("50")));
    const r2 = await act(A, { action: "deposit", collateral: wad("50") }, { dryRun: true });
    expect(r2.outcome).toMatchObject({ status: "dry-run", simulated: true });
    expect(await nonceOf(A)).toBe(nonce + 1);
    expect((await empEvents("Deposit", addr(A))).length).toBe(0);
  });

  it("a deposit a crashed run journaled but never broadcast is finished by the next run, never signed twice", async () => {
    await openDirect(A, wad("400"), wad("100"));
    await fund(A, wad("50"));
    await sendAs(A, encodeApprove(dep.addresses.collateral, dep.addresses.emp, wad("50")));
    const wallet = new ethers.Wallet(keyOf(A), provider);
    const nonce = await nonceOf(A);
    const req = encodeSponsorCall(dep.addresses.emp, { fn: "deposit", collateral: wad("50") });
    const raw = await wallet.signTransaction({ ...req, type: 2, chainId: 31337, nonce, gasLimit: 500_000n, maxFeePerGas: ethers.parseUnits("10", "gwei"), maxPriorityFeePerGas: ethers.parseUnits("1", "gwei") });
    const key = `${dep.addresses.emp}:${addr(A)}:deposit:${wad("50")}`;
    const journal = Journal.open(dataDir);
    journal.begin(key, { account: addr(A), repeatable: true, round: "crashed" });
    journal.recordSending(key, { nonce, hash: ethers.Transaction.from(raw).hash!, rawTx: raw }); // then kill -9
    const r = await act(A, { action: "deposit", collateral: wad("50") });
    expect(r.outcome.status).toBe("done-earlier");
    expect((await empEvents("Deposit", addr(A))).map((x) => x.args.collateralAmount)).toEqual([wad("50")]);
    expect(await nonceOf(A)).toBe(nonce + 1);
    // A deliberate second deposit later is a new action and is sent.
    await fund(A, wad("50"));
    expect((await act(A, { action: "deposit", collateral: wad("50") })).outcome.status).toBe("mined");
    expect((await empEvents("Deposit", addr(A))).length).toBe(2);
  });

  it("not enough collateral in the wallet: exit 6 before anything is sent", async () => {
    await openDirect(A, wad("400"), wad("100"));
    const nonce = await nonceOf(A);
    const e = await refused(act(A, { action: "deposit", collateral: wad("1") }));
    expect(e).toMatchObject({ code: "INSUFFICIENT_FUNDS", exitCode: ExitCode.FUNDS });
    expect(e.message).toBe("the wallet holds 0 collateral; deposit 1 collateral needs 1");
    expect(await nonceOf(A)).toBe(nonce);
  });
});

describe("redeem and repay", () => {
  it("a partial redeem below minSponsorTokens is refused before sending; redeeming all pays the Redeem event's amount and closes the position", async () => {
    await openDirect(A, wad("400"), wad("100"));
    const nonce = await nonceOf(A);
    const e = await refused(act(A, { action: "redeem", tokens: wad("96") }));
    expect(e.message).toBe("redeeming 96 of 100 tokens would leave 4, below the EMP's minimum position of 5 tokens: the contract would revert");
    expect(await nonceOf(A)).toBe(nonce);
    const half = await act(A, { action: "redeem", tokens: wad("50") });
    expect(half.plan!.moves.collateralOut).toBe(wad("200"));
    const before = await erc20(dep.addresses.collateral).balanceOf(addr(A));
    const all = await act(A, { action: "redeem", tokens: "all" });
    expect(all.outcome.status).toBe("mined");
    const redeems = await empEvents("Redeem", addr(A));
    expect(redeems.map((x) => [x.args.collateralAmount, x.args.tokenAmount])).toEqual([[wad("200"), wad("50")], [wad("200"), wad("50")]]);
    expect((await erc20(dep.addresses.collateral).balanceOf(addr(A))) - before).toBe(redeems[1].args.collateralAmount);
    expect((await empEvents("EndedSponsorPosition", addr(A))).length).toBe(1);
    expect((await position(A)).rawCollateral[0]).toBe(0n);
  });

  it("repay burns tokens, returns no collateral and raises the ratio; below the minimum it is refused", async () => {
    await openDirect(A, wad("400"), wad("100"));
    const e = await refused(act(A, { action: "repay", tokens: wad("96") }));
    expect(e.message).toMatch(/^repaying 96 tokens would leave 4, below the EMP's minimum position of 5 tokens/);
    const coll = await erc20(dep.addresses.collateral).balanceOf(addr(A));
    const r = await act(A, { action: "repay", tokens: wad("20") });
    expect(r.outcome.status).toBe("mined");
    expect((await empEvents("Repay", addr(A))).map((x) => [x.args.numTokensRepaid, x.args.newTokenCount])).toEqual([[wad("20"), wad("80")]]);
    expect(await erc20(dep.addresses.collateral).balanceOf(addr(A))).toBe(coll);
    expect(r.plan!.after.ratio).toBe(wad("5")); // 400 / 80 at price 1
  });
});

describe("liquidations of the sponsor's position", () => {
  it("a liquidation of at least minSponsorTokens resets a pending withdrawal's clock, and emp-position sees it", async () => {
    await openDirect(A, wad("200"), wad("100"));
    expect((await act(A, { action: "request-withdrawal", collateral: wad("100") })).outcome.status).toBe("mined");
    const s = await sessionFor(A);
    const view = await loadPositionView(s);
    expect(view.figures).toMatchObject({ ratio: wad("1"), liquidatable: true, netCollateral: wad("100") });
    const first = (await position(A)).withdrawalRequestPassTimestamp as bigint;
    await increaseTime(3600);
    const now = BigInt((await provider.getBlock("latest"))!.timestamp);
    await sendAs(L, encodeApprove(dep.addresses.synthetic, dep.addresses.emp));
    const receipt = await sendAs(L, encodeCreateLiquidation(dep.addresses.emp, { sponsor: addr(A), minCollateralPerToken: 0n, maxCollateralPerToken: wad("1.225"), maxTokensToLiquidate: dep.params.minSponsorTokens, deadline: now + 300n }));
    const minedAt = BigInt((await provider.getBlock(receipt.blockNumber))!.timestamp);
    const after = (await position(A)).withdrawalRequestPassTimestamp as bigint;
    expect(after).toBe(minedAt + dep.params.withdrawalLiveness);
    expect(after > first).toBe(true);
    const again = await loadPositionView(s);
    expect(again.figures.pendingWithdrawal!.passTimestamp).toBe(after);
    expect(again.snapshot.liquidations.map((l) => [l.id, l.state, l.tokensOutstanding])).toEqual([[0n, 1, dep.params.minSponsorTokens]]);
  });

  it("withdraw-liquidation collects the sponsor's share after a dispute succeeded, by the contract's formula", async () => {
    await openDirect(A, wad("300"), wad("100")); // healthy at 1.0
    let now = BigInt((await provider.getBlock("latest"))!.timestamp);
    await sendAs(L, encodeApprove(dep.addresses.synthetic, dep.addresses.emp));
    await sendAs(L, encodeCreateLiquidation(dep.addresses.emp, { sponsor: addr(A), minCollateralPerToken: 0n, maxCollateralPerToken: wad("5"), maxTokensToLiquidate: wad("100"), deadline: now + 300n }));
    // Not disputed yet: nothing for the sponsor.
    const early = await (async () => { const s = await sessionFor(A); try { return await withdrawLiquidationsFlow(s, io, { dryRun: false }); } finally { s.close(); } })();
    expect(early.json).toMatchObject({ liquidations: [{ id: 0n, status: "skipped" }] });
    await fund(D, wad("100"));
    await sendAs(D, encodeApprove(dep.addresses.collateral, dep.addresses.emp));
    await sendAs(D, encodeDispute(dep.addresses.emp, 0n, addr(A)));
    const [l] = await (await empAs(0)).getLiquidations(addr(A));
    const oracle = new ethers.Contract(dep.addresses.mockOracle, loadUmaArtifact("MockOracle").abi, await provider.getSigner(0));
    await (await oracle.pushPrice(ethers.encodeBytes32String("RaiRedemptionRate"), l.liquidationTime, E18)).wait();
    const before = await erc20(dep.addresses.collateral).balanceOf(addr(A));
    const s = await sessionFor(A);
    const r = await withdrawLiquidationsFlow(s, io, { dryRun: false, id: 0n });
    const withdrawn = (await empEvents("LiquidationWithdrawn"))[0];
    // Independent: sponsor = sponsorReward × TRV + (locked − TRV), TRV = tokens × price (1.0), unit collateral 1
    const trv = wad("100");
    const expected = (trv * dep.params.sponsorDisputeRewardPercentage) / E18 + (wad("300") - trv);
    expect(withdrawn.args.paidToSponsor).toBe(expected);
    expect((await erc20(dep.addresses.collateral).balanceOf(addr(A))) - before).toBe(expected);
    expect(r.json).toMatchObject({ liquidations: [{ id: 0n, status: "mined", expected }] });
    now = BigInt((await provider.getBlock("latest"))!.timestamp);
    const gone = await refused(withdrawLiquidationsFlow(s, io, { dryRun: false, id: 0n }));
    expect(gone.message).toBe("the position has no liquidation 0 to withdraw (none, or already withdrawn)");
  });
});

describe("emp-position's requests", () => {
  it("reads one sponsor in one HTTP request after the session opens: the head, the EMP probe and the snapshot in one batch", async () => {
    await openDirect(A, wad("260"), wad("100"));
    const proxy = await startProviderProxy({ target: node.rpcUrl, rttMs: 0 });
    try {
      const cfg = loadConfig({ deployment: depFile, dataDir, price: "1", rpcUrl: proxy.url }, { KEEPCTL_LOCK_DIR: path.join(tmp, "locks") }, { dotenv: false });
      const s = await openSponsorSession(cfg, { key: "none", sponsor: addr(A), dryRun: true, interactive: false, price: "required" });
      sessions.push(s);
      proxy.resetCounts();
      const view = await loadPositionView(s);
      expect(proxy.counts.httpRequests).toBe(1);
      expect(Object.keys(proxy.counts.byMethod).sort()).toEqual(["eth_call", "eth_getBlockByNumber", "eth_getCode"]);
      // What was read in that request is the chain's position (the independent oracle: the contract).
      const p = await position(A);
      expect([view.figures.collateral, view.figures.tokens]).toEqual([p.rawCollateral[0], p.tokensOutstanding[0]]);
      expect(view.figures.ratio).toBe(wad("2.6"));
    } finally {
      await proxy.close();
    }
  });
});

describe("expiry: expire -> the Optimistic Oracle's price -> settle", () => {
  it("settles a sponsor holding part of its tokens and a token holder, paying exactly the contract's formula recomputed from the events", async () => {
    await openDirect(A, wad("250"), wad("100"));
    await (await erc20(dep.addresses.synthetic, await provider.getSigner(A)).transfer(addr(D), wad("40"))).wait();
    const proposer = startExpiryProposer({ signer: await provider.getSigner(18), optimisticOracle: dep.addresses.optimisticOracle, fromBlock: dep.deployBlock, rateSetter: rai.addresses.RateSetter, intervalMs: 100 });
    try {
      const notYet = await refused(settleAs(A));
      expect(notYet.message).toMatch(/^the EMP expires at .*Z, in (2 d|3 d|2 d \d+ h)/);
      await increaseTime(Number(dep.params.expirationTimestamp) - (await provider.getBlock("latest"))!.timestamp + 60);
      // First run: expire() is sent; the price is not there yet (exit 7).
      const first = await refused(settleAs(A));
      expect(first).toMatchObject({ code: "NO_EXPIRY_PRICE", exitCode: ExitCode.NO_DATA });
      expect((await empEvents("ContractExpired")).length).toBe(1);
      // The devnet actor proposes the RAI TWAP at the expiry time...
      for (let i = 0; i < 100 && proposer.proposed.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      expect(proposer.proposed.length).toBe(1);
      const oo = new ethers.Contract(dep.addresses.optimisticOracle, OPTIMISTIC_ORACLE_ABI, provider);
      const [proposal] = (await oo.queryFilter(oo.filters.ProposePrice(), dep.deployBlock)) as ethers.EventLog[];
      const price = proposal.args.proposedPrice as bigint;
      const expiry = Number(dep.params.expirationTimestamp);
      expect(price).toBe(bruteTwap(rates, expiry - 28800, expiry));
      const pending = await refused(settleAs(A));
      expect(pending.message).toMatch(/^the EMP has no expiry price yet: a price of \d+\.\d+ is proposed; it settles at .*Z \(in 2 h\) unless disputed$/);
      await increaseTime(DEVNET_OO_LIVENESS + 1);
      const collBefore = await erc20(dep.addresses.collateral).balanceOf(addr(A));
      const r = await settleAs(A);
      expect(r.json.status).toBe("settled");
      const [settled] = await empEvents("SettleExpiredPosition", addr(A));
      // Independent, from the events alone: the position's collateral and debt (PositionCreated), the
      // tokens A still holds (the synthetic's Transfer events) and the proposed price:
      // held × price + (collateral − debt × price), FixedPoint floors (60 × p + 250 − 100 × p).
      const mul = (a: bigint, b: bigint) => (a * b) / E18;
      const [opened] = await empEvents("PositionCreated", addr(A));
      const syn = new ethers.Contract(dep.addresses.synthetic, ["event Transfer(address indexed from, address indexed to, uint256 value)"], provider);
      const [settleLog] = await provider.getLogs({ address: dep.addresses.emp, fromBlock: dep.deployBlock, toBlock: "latest", topics: [empInterface.getEvent("SettleExpiredPosition")!.topicHash, ethers.zeroPadValue(addr(A), 32)] });
      const moves = (await syn.queryFilter(syn.filters.Transfer(), dep.deployBlock, settleLog.blockNumber - 1)) as ethers.EventLog[];
      const heldByA = moves.reduce((b, e) => b + (e.args.to === addr(A) ? (e.args.value as bigint) : 0n) - (e.args.from === addr(A) ? (e.args.value as bigint) : 0n), 0n);
      expect([opened.args.collateralAmount, opened.args.tokenAmount, heldByA]).toEqual([wad("250"), wad("100"), wad("60")]);
      const want = mul(heldByA, price) + (opened.args.collateralAmount - mul(opened.args.tokenAmount, price));
      expect(settled.args.collateralReturned).toBe(want);
      expect(settled.args.tokensBurned).toBe(wad("60"));
      expect((await erc20(dep.addresses.collateral).balanceOf(addr(A))) - collBefore).toBe(want);
      expect((r.json.expected as { payout: bigint }).payout).toBe(want);
      // The token holder gets 40 × price.
      await settleAs(D);
      const [held] = await empEvents("SettleExpiredPosition", addr(D));
      expect(held.args.collateralReturned).toBe(mul(wad("40"), price));
      // Nothing left: a second settle says so, sends nothing.
      const nonce = await nonceOf(D);
      expect((await settleAs(D)).json.status).toBe("nothing-to-settle");
      expect(await nonceOf(D)).toBe(nonce);
      // expire() was called exactly once, by A.
      expect((await empEvents("ContractExpired")).map((e) => e.args.caller)).toEqual([addr(A)]);
    } finally {
      proposer.stop();
    }
  });
});

describe("launch: the governance steps, read from the chain", () => {
  it("names each missing step; none on a chain that took them all", async () => {
    const signer = await provider.getSigner(0);
    const full = await checkGovernance(provider, { creator: dep.addresses.creator, finder: dep.addresses.finder, identifier: "RaiRedemptionRate", collateral: dep.addresses.collateral });
    expect(full).toMatchObject({ missing: [], identifierSupported: true, collateralWhitelisted: true, creatorRegistered: true, finalFee: 0n, collateralDecimals: 18 });
    const bare = await deployUmaInfrastructure(signer, { whitelistIdentifier: false, whitelistCollateral: false, grantCreatorRole: false });
    const facts = await checkGovernance(provider, { creator: bare.addresses.creator, finder: bare.addresses.finder, identifier: "RaiRedemptionRate", collateral: bare.addresses.collateral });
    expect(facts.missing).toEqual([
      `the price identifier "RaiRedemptionRate" is not on UMA's IdentifierWhitelist ${bare.addresses.identifierWhitelist}: it must be approved by a UMIP vote of UMA governance first`,
      `the collateral ${bare.addresses.collateral} is not on UMA's CollateralWhitelist ${bare.addresses.collateralWhitelist}: it must be approved by a UMIP vote (with a Store final fee) first`,
      `the Creator ${bare.addresses.creator} does not hold the Registry's ContractCreator role (${bare.addresses.registry}): UMA governance grants it (Registry.addMember(1, creator)); without it the EMP cannot be registered`,
    ]);
    // What the Creator would have done without the checks: revert.
    const unregistered = await deployUmaInfrastructure(signer, { grantCreatorRole: false });
    const creator = new ethers.Contract(unregistered.addresses.creator, loadUmaArtifact("ExpiringMultiPartyCreator").abi, signer);
    const { creatorParams } = await import("../../src/devnet/uma");
    await expect(creator.createExpiringMultiParty.staticCall(creatorParams(unregistered, { ...dep.params, expirationTimestamp: dep.params.expirationTimestamp + 86400n }, { syntheticName: "x", syntheticSymbol: "x" }))).rejects.toThrow();
  });
});
