import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { startHardhatNode, type LocalNode } from "../../src/devnet/node";
import { deployEmp, seedSponsors, loadUmaArtifact, type EmpDeployment, type EmpSeed } from "../../src/devnet/uma";
import {
  EmpClient, empInterface, encodeApprove, encodeCreateLiquidation, encodeDispute, encodeWithdrawLiquidation,
  decodeCreateLiquidationResult, decodeWithdrawLiquidationResult, decodeDisputeResult,
} from "../../src/lib/uma/emp-client";
import { decideLiquidation, planLiquidations } from "../../src/lib/uma/liquidation-strategy";
import { decideDispute, LiquidationState, withdrawalCandidates } from "../../src/lib/uma/dispute-strategy";
import { parseFixedStrict } from "../../src/lib/fixed-point";
import { FP_DECIMALS, FP_ONE, fpMul } from "../../src/lib/uma/fixed-point";

const parseFixed = (text: string): bigint => parseFixedStrict(text, FP_DECIMALS);

let node: LocalNode;
let provider: ethers.JsonRpcProvider;
let dep: EmpDeployment;
let seed: EmpSeed;
let client: EmpClient;
let snapshot: string;

const ONE_PRICE = FP_ONE;

async function sendTx(index: number, req: { to: string; data: string }): Promise<ethers.TransactionReceipt> {
  const signer = await provider.getSigner(index);
  const receipt = await (await signer.sendTransaction(req)).wait();
  return receipt!;
}

async function call(from: string, req: { to: string; data: string }): Promise<string> {
  return provider.call({ ...req, from });
}

async function increaseTime(seconds: number): Promise<void> {
  await provider.send("evm_increaseTime", [seconds]);
  await provider.send("evm_mine", []);
}

function collateralToken() {
  return new ethers.Contract(dep.addresses.collateral, ["function balanceOf(address) view returns (uint256)"], provider);
}

beforeAll(async () => {
  node = await startHardhatNode();
  provider = new ethers.JsonRpcProvider(node.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1 });
  dep = await deployEmp(await provider.getSigner(0));
  seed = await seedSponsors(dep, provider);
  client = new EmpClient(provider, dep.addresses.emp);
  snapshot = await provider.send("evm_snapshot", []);
});

afterAll(async () => {
  provider?.destroy();
  await node?.stop();
});

beforeEach(async () => {
  await provider.send("evm_revert", [snapshot]);
  snapshot = await provider.send("evm_snapshot", []);
});

describe("EMP client on a real ExpiringMultiParty", () => {
  it("reads the parameters it was deployed with", async () => {
    const p = await client.readParams();
    expect(p).toMatchObject({ ...dep.params, priceIdentifierName: "RaiRedemptionRate", collateralCurrency: dep.addresses.collateral, tokenCurrency: dep.addresses.synthetic });
    expect(p.collateralRequirement).toBe(parseFixed("1.25"));
    const s = await client.readState();
    expect(s.contractState).toBe(0);
    expect(s.cumulativeFeeMultiplier).toBe(FP_ONE);
    const block = await provider.getBlock("latest");
    expect(s.currentTime).toBeGreaterThanOrEqual(BigInt(block!.timestamp));
  });

  it("refuses an address without code", async () => {
    await expect(new EmpClient(provider, ethers.Wallet.createRandom().address).readParams()).rejects.toThrow(/no contract at EMP address/);
  });

  it("finds exactly the seeded sponsors and reads their positions", async () => {
    const sponsors = await client.findSponsors({ fromBlock: dep.deployBlock, chunkSize: 7 });
    expect(sponsors).toEqual([...seed.sponsors.map((s) => s.address), seed.liquidator.address]);
    const { cumulativeFeeMultiplier } = await client.readState();
    const positions = await client.readPositions(sponsors, cumulativeFeeMultiplier);
    for (const s of seed.sponsors) {
      const p = positions.find((x) => x.sponsor === s.address)!;
      expect({ tokens: p.tokensOutstanding, collateral: p.collateral, pending: p.withdrawalRequestAmount }).toEqual({ tokens: s.tokens, collateral: s.collateral, pending: s.pendingWithdrawal });
      expect(p.withdrawalRequestPassTimestamp > 0n).toBe(s.pendingWithdrawal > 0n);
    }
    const bal = await client.readBalances(seed.liquidator.address, await client.readParams());
    expect(bal.synthetic).toBe(seed.liquidator.synthetic);
  });

  it("strategy at price 1 picks the under-collateralized sponsors, and createLiquidation accepts its parameters", async () => {
    const params = await client.readParams();
    const state = await client.readState();
    const positions = await client.readPositions(await client.findSponsors({ fromBlock: dep.deployBlock }), state.cumulativeFeeMultiplier);
    const bal = await client.readBalances(seed.liquidator.address, params);
    const decisions = planLiquidations({
      positions, price: ONE_PRICE, now: state.currentTime, params: { ...params, contractState: state.contractState },
      botAddress: seed.liquidator.address, syntheticBalance: bal.synthetic,
    });
    const chosen = decisions.filter((d) => d.action === "liquidate").map((d) => d.sponsor);
    const byLabel = (l: string) => seed.sponsors.find((s) => s.label === l)!.address;
    // CR 1.2 < 0.98 × 1.25 = 1.225, and the 200-collateral sponsor counts as 100 once its withdrawal is deducted.
    expect(chosen).toEqual([byLabel("cr-1.2"), byLabel("pending-withdrawal")]);
    expect(decisions.find((d) => d.sponsor === seed.liquidator.address)!.reason).toBe("own-position");

    const d = decisions.find((x) => x.sponsor === byLabel("pending-withdrawal"))!;
    const liq = seed.liquidator;
    await sendTx(liq.index, encodeApprove(params.tokenCurrency, params.address));
    await sendTx(liq.index, encodeApprove(params.collateralCurrency, params.address));
    const sim = decodeCreateLiquidationResult(await call(liq.address, encodeCreateLiquidation(params.address, d)));
    expect(sim.tokensLiquidated).toBe(d.tokens);
    const receipt = await sendTx(liq.index, encodeCreateLiquidation(params.address, d));
    const ev = receipt.logs.map((l) => empInterface.parseLog(l)).find((e) => e?.name === "LiquidationCreated")!;
    expect(ev.args.lockedCollateral).toBe(parseFixed("200"));
    expect(ev.args.liquidatedCollateral).toBe(parseFixed("100"));

    const [recorded] = await client.readLiquidations(d.sponsor);
    expect(recorded).toMatchObject({ id: 0n, state: LiquidationState.NotDisputed, liquidator: liq.address, tokensOutstanding: parseFixed("100"), lockedCollateral: parseFixed("200"), liquidatedCollateral: parseFixed("100") });
    // Fully liquidated: the position is closed and no longer listed, but the liquidation is found.
    expect(await client.findSponsors({ fromBlock: dep.deployBlock })).not.toContain(d.sponsor);
    expect(await client.findLiquidatedSponsors({ fromBlock: dep.deployBlock, liquidator: liq.address })).toEqual([d.sponsor]);
    expect(await client.findLiquidatedSponsors({ fromBlock: dep.deployBlock, liquidator: seed.disputer.address })).toEqual([]);

    // A correct liquidation: the disputer leaves it alone even after the delay.
    await increaseTime(61);
    const now = (await client.readState()).currentTime;
    expect(decideDispute({ liquidation: recorded, priceAtLiquidation: ONE_PRICE, now, params }).reason).toBe("correct-liquidation");

    // Undisputed past liveness: the liquidator collects the locked collateral.
    expect(withdrawalCandidates([recorded], liq.address, "liquidator", now, params.liquidationLiveness)).toEqual([]);
    await increaseTime(Number(params.liquidationLiveness));
    const later = (await client.readState()).currentTime;
    expect(withdrawalCandidates([recorded], liq.address, "liquidator", later, params.liquidationLiveness)).toHaveLength(1);
    const payout = decodeWithdrawLiquidationResult(await call(liq.address, encodeWithdrawLiquidation(params.address, recorded.id, recorded.sponsor)));
    expect(payout).toEqual({ paidToLiquidator: recorded.lockedCollateral, paidToSponsor: 0n, paidToDisputer: 0n });
    const before = await collateralToken().balanceOf(liq.address);
    await sendTx(liq.index, encodeWithdrawLiquidation(params.address, recorded.id, recorded.sponsor));
    expect((await collateralToken().balanceOf(liq.address)) - before).toBe(recorded.lockedCollateral);
  });

  it("refuses a liquidation whose maxCollateralPerToken is below the position's ratio", async () => {
    const params = await client.readParams();
    const healthy = seed.sponsors.find((s) => s.label === "cr-1.5")!;
    const now = (await client.readState()).currentTime;
    await sendTx(seed.liquidator.index, encodeApprove(params.tokenCurrency, params.address));
    const req = encodeCreateLiquidation(params.address, { sponsor: healthy.address, minCollateralPerToken: 0n, maxCollateralPerToken: parseFixed("1.225"), maxTokensToLiquidate: healthy.tokens, deadline: now + 300n });
    await expect(call(seed.liquidator.address, req)).rejects.toThrow(/CR is more than max liq. price/);
  });

  it("whale defence: a minimal liquidation of a position with a pending withdrawal restarts its clock", async () => {
    const params = await client.readParams();
    const ref = seed.sponsors.find((s) => s.label === "pending-withdrawal")!;
    const liq = seed.liquidator;
    let state = await client.readState();
    const before = await client.readPosition(ref.address, state.cumulativeFeeMultiplier);
    const input = { position: before, price: ONE_PRICE, params, botAddress: liq.address, syntheticBalance: parseFixed("50"), config: { defenseActivationPercent: 50 } };
    expect(decideLiquidation({ ...input, now: state.currentTime }).reason).toBe("insufficient-balance");
    await increaseTime(Number(params.withdrawalLiveness) / 2);
    state = await client.readState();
    const d = decideLiquidation({ ...input, now: state.currentTime });
    expect(d).toMatchObject({ action: "liquidate", reason: "whale-defense", tokens: params.minSponsorTokens });
    await sendTx(liq.index, encodeApprove(params.tokenCurrency, params.address));
    await sendTx(liq.index, encodeApprove(params.collateralCurrency, params.address));
    const receipt = await sendTx(liq.index, encodeCreateLiquidation(params.address, d));
    const minedAt = BigInt((await provider.getBlock(receipt.blockNumber))!.timestamp);
    const after = await client.readPosition(ref.address, state.cumulativeFeeMultiplier);
    expect(after.tokensOutstanding).toBe(before.tokensOutstanding - params.minSponsorTokens);
    expect(after.withdrawalRequestPassTimestamp).toBe(minedAt + params.withdrawalLiveness);
    expect(after.withdrawalRequestPassTimestamp > before.withdrawalRequestPassTimestamp).toBe(true);
  });

  it("a wrong liquidation is disputed, settled by the oracle, and withdrawLiquidation pays the disputer", async () => {
    const params = await client.readParams();
    const victim = seed.sponsors.find((s) => s.label === "cr-2.0")!;
    const liq = seed.liquidator;
    const disputer = seed.disputer;
    let now = (await client.readState()).currentTime;
    await sendTx(liq.index, encodeApprove(params.tokenCurrency, params.address));
    await sendTx(liq.index, encodeApprove(params.collateralCurrency, params.address));
    // Liquidate a healthy (CR 2.0) position by passing a generous max price: the contract allows it, a dispute should win.
    await sendTx(liq.index, encodeCreateLiquidation(params.address, { sponsor: victim.address, minCollateralPerToken: 0n, maxCollateralPerToken: parseFixed("2.5"), maxTokensToLiquidate: victim.tokens, deadline: now + 300n }));
    let [l] = await client.readLiquidations(victim.address);

    now = (await client.readState()).currentTime;
    expect(decideDispute({ liquidation: l, priceAtLiquidation: ONE_PRICE, now, params }).reason).toBe("too-early");
    await increaseTime(61);
    now = (await client.readState()).currentTime;
    const decision = decideDispute({ liquidation: l, priceAtLiquidation: ONE_PRICE, now, params });
    expect(decision).toMatchObject({ action: "dispute", reason: "wrong-liquidation", liquidationId: 0n, bond: fpMul(victim.collateral, params.disputeBondPercentage) });

    await sendTx(disputer.index, encodeApprove(params.collateralCurrency, params.address));
    const totalPaid = decodeDisputeResult(await call(disputer.address, encodeDispute(params.address, decision.liquidationId, decision.sponsor)));
    expect(totalPaid).toBe(decision.bond); // zero final fee on the devnet Store
    await sendTx(disputer.index, encodeDispute(params.address, decision.liquidationId, decision.sponsor));
    [l] = await client.readLiquidations(victim.address);
    expect(l.state).toBe(LiquidationState.Disputed);
    expect(l.disputer).toBe(disputer.address);
    expect(withdrawalCandidates([l], disputer.address, "disputer", now, params.liquidationLiveness)).toHaveLength(1);
    expect(withdrawalCandidates([l], liq.address, "liquidator", now, params.liquidationLiveness)).toHaveLength(1);

    // Before the oracle answers, withdrawing fails.
    await expect(call(disputer.address, encodeWithdrawLiquidation(params.address, l.id, l.sponsor))).rejects.toThrow();
    const oracle = new ethers.Contract(dep.addresses.mockOracle, loadUmaArtifact("MockOracle").abi, await provider.getSigner(0));
    await (await oracle.pushPrice(params.priceIdentifier, l.liquidationTime, ONE_PRICE)).wait();
    await increaseTime(Number(params.liquidationLiveness));

    const before = await collateralToken().balanceOf(disputer.address);
    const sim = decodeWithdrawLiquidationResult(await call(disputer.address, encodeWithdrawLiquidation(params.address, l.id, l.sponsor)));
    const tokenValue = l.tokensOutstanding; // price 1.0
    expect(sim.paidToDisputer).toBe(decision.bond + fpMul(tokenValue, params.disputerDisputeRewardPercentage));
    expect(sim.paidToSponsor).toBe(l.lockedCollateral - tokenValue + fpMul(tokenValue, params.sponsorDisputeRewardPercentage));
    const receipt = await sendTx(disputer.index, encodeWithdrawLiquidation(params.address, l.id, l.sponsor));
    const settled = receipt.logs.map((x) => empInterface.parseLog(x)).find((e) => e?.name === "DisputeSettled")!;
    expect(settled.args.disputeSucceeded).toBe(true);
    expect((await collateralToken().balanceOf(disputer.address)) - before).toBe(sim.paidToDisputer);
    [l] = await client.readLiquidations(victim.address);
    expect(l.state).toBe(LiquidationState.Uninitialized);
    await expect(call(disputer.address, encodeWithdrawLiquidation(params.address, 0n, victim.address))).rejects.toThrow();
  });
});
