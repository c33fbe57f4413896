import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { startDevnet, devnetWallet, type Devnet } from "../../src/devnet/scenario";
import { openDeposit, redeemDeposit, signRedemptionDigest, courtesyCall } from "../../src/devnet/deposits";
import { depositContract, increaseTime, send, setEthBtcPrice } from "../../src/devnet/tbtc";
import { connect, type KeepctlProvider } from "../../src/lib/chain/provider";
import { Journal } from "../../src/lib/chain/journal";
import { planRedemptions, State } from "../../src/lib/tbtc/redeem/planner";
import { readCandidates, readTbtc, type TbtcContracts } from "../../src/lib/tbtc/redeem/redeem-facts";
import { JournaledSender, estimatePlanGas, executePlan, redeemEventOf, type RedeemEvent } from "../../src/lib/tbtc/redeem/redeemer";
import { ActionSender } from "../../src/lib/chain/sender";
import { followRedemptions } from "../../src/lib/tbtc/redeem/follow";
import { REDEMPTION_REQUESTED_TOPIC } from "../../src/lib/tbtc/redeem/redeem-abi";
import { decodeBtcAddress } from "../../src/lib/tbtc/btc-address";

const BTC = 100_000_000n;
// BIP-173 testnet P2WPKH vector's program, as a regtest address is what a devnet pays to.
const PAYOUT = decodeBtcAddress("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "testnet");

let devnet: Devnet;
let provider: KeepctlProvider;
let inner: KeepctlProvider;
let contracts: TbtcContracts;
let snapshot: string;
const groups: Record<string, string[]> = {};
const operator = devnetWallet(1).address;
const members = [operator, devnetWallet(3).address, devnetWallet(4).address];

beforeAll(async () => {
  devnet = await startDevnet({ seed: false });
  const dep = devnet.deployment;
  // All funded through the VendingMachine (it holds the TDTs; the deployer gets the TBTC).
  const open = async (btc: bigint) => (await openDeposit(dep, { lotSats: btc * BTC, members, fundWith: "vendingMachine" })).deposit;
  groups["1x10"] = [await open(10n)];
  groups["2x5"] = [await open(5n), await open(5n)];
  groups["10x1"] = [];
  for (let i = 0; i < 10; i++) groups["10x1"].push(await open(1n));
  // 150% -> 120%: every deposit is below the 130% redeem threshold and the 125% courtesy line.
  await setEthBtcPrice(dep, 0.024);
  inner = await connect({ rpcUrls: [devnet.rpcUrl], chainId: 31337 });
  provider = inner;
  contracts = {
    system: dep.addresses.TBTCSystem,
    token: dep.addresses.TBTCToken,
    vendingMachine: dep.addresses.VendingMachine,
    depositToken: dep.addresses.TBTCDepositToken,
    startBlock: dep.deploymentBlock,
  };
  snapshot = await provider.send("evm_snapshot", []);
}, 300_000);

afterAll(async () => {
  provider?.destroy();
  inner?.destroy();
  await devnet?.stop();
});

beforeEach(async () => {
  await provider.send("evm_revert", [snapshot]);
  snapshot = await provider.send("evm_snapshot", []);
});

/** A fresh account with ETH for gas and exactly `tbtc` TBTC from the deployer. */
async function redeemerWith(tbtc: bigint): Promise<ethers.Wallet> {
  const w = new ethers.Wallet(ethers.Wallet.createRandom().privateKey, provider);
  await provider.send("hardhat_setBalance", [w.address, ethers.toQuantity(ethers.parseEther("10"))]);
  if (tbtc > 0n) await send(devnet.deployment.contracts.tbtcToken.transfer(w.address, tbtc));
  return w;
}

function session(w: ethers.Wallet, events: RedeemEvent[] = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-redeem-"));
  const journal = Journal.open(dir);
  const action = new ActionSender(w, provider, journal, { maxFeeGwei: 1000, pollMs: 50, dryRun: false, onEvent: (e) => events.push(redeemEventOf(e)) });
  return { journal, sender: new JournaledSender(action, (e) => events.push(e)) };
}

/** Waits until exactly `n` transactions are pending, then mines them in one block. */
async function minePendingWhen(n: number, early: () => unknown = () => undefined): Promise<void> {
  // Roomy: ten parallel redemptions each simulate and price before their broadcast, on a loaded CI box.
  const deadline = Date.now() + 90_000;
  for (;;) {
    const why = early();
    if (why) throw new Error(String(why));
    const pending = (await provider.send("eth_getBlockByNumber", ["pending", false])) as { transactions: string[] };
    if (pending.transactions.length === n) break;
    if (pending.transactions.length > n) throw new Error(`${pending.transactions.length} pending, expected ${n}`);
    if (Date.now() > deadline) throw new Error(`only ${pending.transactions.length} of ${n} transactions became pending`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await provider.send("evm_mine", []);
}

async function requestsFor(deposit: string): Promise<number> {
  const logs = await provider.getLogs({ address: contracts.system, topics: [REDEMPTION_REQUESTED_TOPIC, ethers.zeroPadValue(deposit, 32)], fromBlock: 0, toBlock: "latest" });
  return logs.length;
}

async function stateOf(deposit: string): Promise<number> {
  return Number(await depositContract(devnet.deployment, deposit).currentState());
}

describe("redeem on the devnet (real tBTC v1 contracts)", () => {
  it.each(["1x10", "2x5", "10x1"])("a wallet holding 10 TBTC plus fees redeems %s BTC, in parallel", async (name) => {
    const deposits = groups[name];
    const probe = ethers.Wallet.createRandom().address;
    const priced = await readCandidates(provider, contracts, deposits, probe);
    const need = priced.reduce((s, c) => s + c.costTbtc, 0n);
    // 10 TBTC of lots, plus the signer fees the VendingMachine path adds
    expect(need).toBeGreaterThanOrEqual(10n * 10n ** 18n);
    expect(need).toBeLessThan(10n * 10n ** 18n + 10n ** 17n);
    const w = await redeemerWith(need);
    const events: RedeemEvent[] = [];
    const s = session(w, events);

    const candidates = await readCandidates(provider, contracts, deposits, w.address);
    expect(candidates.every((c) => c.path === "vending-machine" && c.collateralPct < 125)).toBe(true);
    const plan = planRedemptions(candidates, (await readTbtc(provider, contracts.token, w.address)).balance, { redeemBelowPct: 130, feeSats: 10_000n });
    expect(plan.funded).toHaveLength(deposits.length);
    expect(plan.unfunded).toHaveLength(0);

    // Mining by hand proves the parallelism: every request must be pending at once before we mine;
    // a sequential redeemer would wait for the first receipt and this would time out.
    await provider.send("evm_setAutomine", [false]);
    let results;
    try {
      let finished: unknown;
      const run = executePlan(s.sender, contracts, plan, PAYOUT.redeemerOutputScript);
      void run.then((r) => (finished = r));
      const early = () => finished && `finished early: ${JSON.stringify(finished, (_k, v) => (typeof v === "bigint" ? v.toString() : v))}`;
      await minePendingWhen(1, early); // the VendingMachine approval (one, for the total)
      await minePendingWhen(deposits.length, early); // all requests at once
      results = await run;
    } finally {
      await provider.send("evm_setAutomine", [true]);
    }
    expect(results.filter((r) => r.status !== "requested").map((r) => r.reason)).toEqual([]);
    expect(results).toHaveLength(deposits.length);
    const blocks = new Set(await Promise.all(results.map(async (r) => (await provider.getTransactionReceipt(r.hash!))!.blockNumber)));
    expect(blocks.size).toBe(1);
    for (const d of deposits) {
      expect(await stateOf(d)).toBe(State.AWAITING_WITHDRAWAL_SIGNATURE);
      expect(await requestsFor(d)).toBe(1);
      expect(s.journal.get(`${d}:redeem`)?.state).toBe("mined");
    }
    expect((await readTbtc(provider, contracts.token, w.address)).balance).toBe(0n);
    // Exact approvals: nothing left approved to the VendingMachine.
    expect((await readTbtc(provider, contracts.token, w.address, contracts.vendingMachine)).allowance).toBe(0n);
    const sent = events.filter((e) => e.type === "sent").map((e) => (e as { action: string }).action);
    expect(sent).toEqual(["approve", ...deposits.map(() => "redeem")]);
  });

  it("with too little TBTC the most at-risk deposits are funded and the rest reported", async () => {
    const deposits = groups["2x5"];
    const probe = ethers.Wallet.createRandom().address;
    const [one] = await readCandidates(provider, contracts, [deposits[0]], probe);
    const w = await redeemerWith(one.costTbtc + 10n ** 18n);
    const plan = planRedemptions(await readCandidates(provider, contracts, deposits, w.address), one.costTbtc + 10n ** 18n, { redeemBelowPct: 130, feeSats: 10_000n });
    expect(plan.funded).toHaveLength(1);
    expect(plan.unfunded).toHaveLength(1);
    expect(plan.unfunded[0].shortfallTbtc).toBe(plan.unfunded[0].costTbtc - 10n ** 18n);
  });

  it("another wallet redeems first: warning and skip, the others still go through", async () => {
    const deposits = groups["2x5"];
    const probe = ethers.Wallet.createRandom().address;
    const need = (await readCandidates(provider, contracts, deposits, probe)).reduce((s, c) => s + c.costTbtc, 0n);
    const w = await redeemerWith(need);
    const events: RedeemEvent[] = [];
    const s = session(w, events);
    const plan = planRedemptions(await readCandidates(provider, contracts, deposits, w.address), need, { redeemBelowPct: 130, feeSats: 10_000n });
    // The race: after we planned, the deployer redeems the first deposit.
    await redeemDeposit(devnet.deployment, deposits[0], { stopAt: "AWAITING_WITHDRAWAL_SIGNATURE" });

    const results = await executePlan(s.sender, contracts, plan, PAYOUT.redeemerOutputScript);
    const byDeposit = new Map(results.map((r) => [r.deposit, r]));
    expect(byDeposit.get(deposits[0])!.status).toBe("lost-race");
    expect(byDeposit.get(deposits[0])!.reason).toMatch(/AWAITING_WITHDRAWAL_SIGNATURE by 0x/);
    expect(byDeposit.get(deposits[1])!.status).toBe("requested");
    expect(events.some((e) => e.type === "warning" && e.deposit === deposits[0])).toBe(true);
    expect(s.journal.get(`${deposits[0]}:redeem`)?.state).toBe("skipped");
    expect(await requestsFor(deposits[0])).toBe(1);
  });

  it("a courtesy-called deposit is redeemed with requestRedemption at the lot price", async () => {
    const [d] = groups["1x10"];
    await courtesyCall(devnet.deployment, d);
    expect(await stateOf(d)).toBe(State.COURTESY_CALL);
    const w = await redeemerWith(10n * 10n ** 18n);
    const [c] = await readCandidates(provider, contracts, [d], w.address);
    expect(c.path).toBe("request-redemption");
    expect(c.costTbtc).toBe(10n * 10n ** 18n);
    expect(c.courtesyDeadline).toBeGreaterThan(0);
    const s = session(w);
    const results = await executePlan(s.sender, contracts, planRedemptions([c], c.costTbtc, { redeemBelowPct: 130, feeSats: 10_000n }), PAYOUT.redeemerOutputScript);
    expect(results[0].status).toBe("requested");
    expect(await stateOf(d)).toBe(State.AWAITING_WITHDRAWAL_SIGNATURE);
  });

  it("estimating the plan (dry run) sends nothing", async () => {
    const deposits = groups["10x1"];
    const w = await redeemerWith(20n * 10n ** 18n);
    const s = session(w);
    const plan = planRedemptions(await readCandidates(provider, contracts, deposits, w.address), 20n * 10n ** 18n, { redeemBelowPct: 130, feeSats: 10_000n });
    const nonce = await provider.getTransactionCount(w.address, "pending");
    const gas = await estimatePlanGas(s.sender, contracts, plan, PAYOUT.redeemerOutputScript);
    expect(gas).toHaveLength(10);
    expect(gas.every((g) => g.worstCaseFeeWei > 0n && g.gasLimit > 60_000n)).toBe(true);
    expect(await provider.getTransactionCount(w.address, "pending")).toBe(nonce);
  });

  it("submits the keep's signature after the request, and flags the 2 h timeout when there is none", async () => {
    const deposits = groups["2x5"];
    const probe = ethers.Wallet.createRandom().address;
    const need = (await readCandidates(provider, contracts, deposits, probe)).reduce((s, c) => s + c.costTbtc, 0n);
    const w = await redeemerWith(need);
    const s = session(w);
    const plan = planRedemptions(await readCandidates(provider, contracts, deposits, w.address), need, { redeemBelowPct: 130, feeSats: 10_000n });
    await executePlan(s.sender, contracts, plan, PAYOUT.redeemerOutputScript);
    // The follow pass of watch/redeem --follow, with no Bitcoin server: the Ethereum steps only.
    const pass = async (deposit: string) => {
      const head = (await provider.getBlock("latest"))!;
      const [r] = await followRedemptions({ provider, sender: s.sender, system: contracts.system, policy: { confirmations: 6, maxFeeSats: 100_000n } }, [{ deposit, fromBlock: 0 }], { number: head.number, timestamp: head.timestamp });
      return r;
    };
    const waiting = await pass(deposits[0]);
    expect(waiting.action).toBe("waiting-for-signature");
    expect(waiting.alerts.filter((a) => a.level === "critical")).toEqual([]);

    const keep = (await depositContract(devnet.deployment, deposits[0]).keepAddress()) as string;
    await signRedemptionDigest(devnet.deployment, keep, waiting.digest!);
    const nonce = await provider.getTransactionCount(w.address, "latest");
    const done = await pass(deposits[0]);
    expect(done.action).toBe("signature-submitted");
    expect(await stateOf(deposits[0])).toBe(State.AWAITING_WITHDRAWAL_PROOF);
    // Exactly one transaction, and the next pass finds nothing to send (counted from the nonce).
    expect(await provider.getTransactionCount(w.address, "latest")).toBe(nonce + 1);
    expect((await pass(deposits[0])).actions).not.toContain("signature-submitted");
    expect(await provider.getTransactionCount(w.address, "latest")).toBe(nonce + 1);

    await increaseTime(provider, 2 * 3600 + 60);
    const late = await pass(deposits[1]);
    expect(late.alerts.some((a) => a.level === "critical" && /sign/i.test(a.text))).toBe(true);
  });
});
