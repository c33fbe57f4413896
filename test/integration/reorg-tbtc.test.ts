import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { startDevnet, devnetWallet, type Devnet } from "../../src/devnet/scenario";
import { openDeposit, signRedemptionDigest } from "../../src/devnet/deposits";
import { depositContract, send, setEthBtcPrice } from "../../src/devnet/tbtc";
import { loadConfig, type Config } from "../../src/lib/config";
import { connect, type KeepctlProvider } from "../../src/lib/chain/provider";
import { AlertHub } from "../../src/lib/alert";
import type { Alert } from "../../src/lib/alert/types";
import { AuditLog } from "../../src/lib/audit";
import { Journal } from "../../src/lib/chain/journal";
import { ActionSender, type SenderEvent } from "../../src/lib/chain/sender";
import { JournaledSender, ensureAllowance } from "../../src/lib/tbtc/redeem/redeemer";
import { tbtcContractsOf } from "../../src/lib/tbtc/redeem/redeem-session";
import { readCandidates } from "../../src/lib/tbtc/redeem/redeem-facts";
import { REDEMPTION_REQUESTED_TOPIC, depositWriteInterface, vendingMachineInterface } from "../../src/lib/tbtc/redeem/redeem-abi";
import { decodeBtcAddress } from "../../src/lib/tbtc/btc-address";
import { State } from "../../src/lib/tbtc/abis";
import { outputValueBytes8LE } from "../../src/lib/tbtc/redeem/planner";
import { watchOnce, type LoopSummary, type WatchDeps, type WatchEvent } from "../../src/lib/tbtc/watch/watch-loop";

/**
 * Reorgs on the devnet (evm_snapshot / evm_revert, then a LONGER replacement chain of empty
 * blocks, as a real reorg has) at each step of a redemption — after the approval, after the
 * request, after the signature — at depth 1, 3 and 13 (deeper than the 12 confirmations Hardhat
 * gets: it answers its head for `finalized`, which is taken as no finality information). The
 * next watch pass must leave, COUNTED FROM THE CHAIN, every action still needed exactly once,
 * none reverted, and no journal "mined" that the chain does not hold.
 */
const BTC = 100_000_000n;
const PAYOUT = decodeBtcAddress("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "testnet").redeemerOutputScript;
const operator = devnetWallet(1).address;
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-reorg-tbtc-"));
let devnet: Devnet;
let provider: KeepctlProvider;
let cfg: Config;
let deposit: string;
let world: string;

beforeAll(async () => {
  const file = path.join(home, "deployment.json");
  devnet = await startDevnet({ seed: false, out: file });
  const members = [operator, devnetWallet(3).address, devnetWallet(4).address];
  deposit = (await openDeposit(devnet.deployment, { lotSats: 1n * BTC, members, fundWith: "vendingMachine" })).deposit;
  // Another operator's deposit: the deployer then holds the TBTC the redeemers get.
  await openDeposit(devnet.deployment, { lotSats: 5n * BTC, members: [devnetWallet(5).address, devnetWallet(3).address, devnetWallet(4).address], fundWith: "vendingMachine" });
  // 150% -> ~107%: under the 130% redeem line.
  await setEthBtcPrice(devnet.deployment, 0.024);
  cfg = loadConfig({ deployment: file, dataDir: path.join(home, "data") }, {}, { dotenv: false });
  provider = await connect({ rpcUrls: cfg.rpcUrls, chainId: cfg.chainId });
  world = await provider.send("evm_snapshot", []);
}, 300_000);

afterAll(async () => {
  provider?.destroy();
  await devnet?.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

beforeEach(async () => {
  await provider.send("evm_revert", [world]);
  world = await provider.send("evm_snapshot", []);
});

type Step = "approve" | "request" | "signature";

interface Bot {
  wallet: ethers.Wallet;
  journal: Journal;
  sender: JournaledSender;
  alerts: Alert[];
  /** What the journaled sender reported (reorg findings among them). */
  sent: SenderEvent[];
  /** Set by the broadcast hook: a snapshot taken just before the step's transaction left. */
  snap?: string;
}

async function bot(step: Step): Promise<Bot> {
  const wallet = new ethers.Wallet(ethers.Wallet.createRandom().privateKey, provider);
  await provider.send("hardhat_setBalance", [wallet.address, ethers.toQuantity(ethers.parseEther("10"))]);
  await send(devnet.deployment.contracts.tbtcToken.transfer(wallet.address, 2n * 10n ** 18n));
  const journal = Journal.open(fs.mkdtempSync(path.join(home, "data-")));
  const b = { wallet, journal, alerts: [] as Alert[], sent: [] as SenderEvent[] } as Bot;
  const label = step === "approve" ? /^approve / : step === "request" ? /^redeem / : /^signature:/;
  const action = new ActionSender(wallet, provider, journal, {
    maxFeeGwei: 1000, pollMs: 50, dryRun: false, onEvent: (e) => b.sent.push(e),
    beforeBroadcast: async (_raw, _hash, _nonce, ctx) => {
      if (!b.snap && label.test(ctx.label)) b.snap = await provider.send("evm_snapshot", []);
    },
  });
  b.sender = new JournaledSender(action);
  return b;
}

function deps(b: Bot, events: WatchEvent[]): WatchDeps {
  return {
    cfg, provider, contracts: tbtcContractsOf(cfg), operators: [operator], sender: b.sender, script: PAYOUT,
    hub: new AlertHub([{ name: "sink", send: async (a) => void b.alerts.push(a) }]),
    audit: AuditLog.open(path.dirname(b.journal.file)),
    policy: { warnBelowPct: 130, redeemBelowPct: 130, notifyCourtesy: false, feeSats: 10_000n, minEthWei: 0n, maxBlockAgeSec: 3600 },
    emit: (e) => events.push(e), signal: new AbortController().signal, intervalSec: 3600, once: true,
  };
}

const pass = (b: Bot, events: WatchEvent[] = []): Promise<LoopSummary> => watchOnce(deps(b, events), { loop: 1, lastHead: -1, lastNewBlockAt: Math.floor(Date.now() / 1000) });
const mine = (n: number) => (n > 0 ? provider.send("hardhat_mine", [ethers.toQuantity(n)]) : Promise.resolve());
const vm = () => devnet.deployment.addresses.VendingMachine;

/** Our transactions in the canonical chain, by what they call. */
async function ours(account: string): Promise<{ calls: string[]; reverted: number; nonce: number }> {
  const calls: string[] = [];
  let reverted = 0;
  const head = await provider.getBlockNumber();
  const start = devnet.deployment.deploymentBlock;
  for (let n = start; n <= head; n++) {
    const block = await provider.getBlock(n, true);
    for (const tx of block?.prefetchedTransactions ?? []) {
      if (tx.from.toLowerCase() !== account.toLowerCase()) continue;
      const r = await provider.getTransactionReceipt(tx.hash);
      if (r?.status !== 1) reverted++;
      const sel = tx.data.slice(0, 10);
      calls.push(sel === "0x095ea7b3" ? "approve" : sel === vendingMachineInterface.getFunction("tbtcToBtc")!.selector ? "tbtcToBtc" : sel === depositWriteInterface.getFunction("provideRedemptionSignature")!.selector ? "provideRedemptionSignature" : sel);
    }
  }
  return { calls: calls.sort(), reverted, nonce: await provider.getTransactionCount(account, "latest") };
}

/** Every journal "mined" is a receipt in the canonical chain, in the block the journal names. */
async function journalHoldsOnlyChainFacts(j: Journal): Promise<void> {
  for (const e of j.entries().values()) {
    if (e.state !== "mined") continue;
    const r = await provider.getTransactionReceipt(e.minedHash!);
    expect(r, `${e.key}: journal says mined, the chain has no receipt`).not.toBeNull();
    expect(r!.blockNumber).toBe(e.blockNumber);
    if (e.blockHash) expect(r!.blockHash).toBe(e.blockHash);
  }
}

async function requests(): Promise<number> {
  return (await provider.getLogs({ address: devnet.deployment.addresses.TBTCSystem, topics: [REDEMPTION_REQUESTED_TOPIC, ethers.zeroPadValue(deposit, 32)], fromBlock: 0 })).length;
}

const stateOf = async () => Number(await depositContract(devnet.deployment, deposit).currentState());

async function keepSigns(): Promise<void> {
  const keep = (await depositContract(devnet.deployment, deposit).keepAddress()) as string;
  await signRedemptionDigest(devnet.deployment, keep);
}

/** Runs the steps up to `step`, its tx `depth` blocks deep when a pass looks at it, then the reorg. */
async function reorgAt(b: Bot, step: Step, depth: number): Promise<{ stepKey: string; finalBefore: boolean }> {
  if (step === "approve") {
    const cost = (await readCandidates(provider, tbtcContractsOf(cfg), [deposit], b.wallet.address))[0].costTbtc;
    expect(await ensureAllowance(b.sender, { token: devnet.deployment.addresses.TBTCToken }, vm(), cost)).toBe("ok");
  } else {
    const s1 = await pass(b);
    expect(s1.redemptions.map((r) => r.status)).toEqual(["requested"]);
    if (step === "signature") {
      await keepSigns();
      const s2 = await pass(b);
      expect(s2.signatures.map((s) => s.action)).toEqual(["signature-submitted"]);
      expect(await stateOf()).toBe(State.AWAITING_WITHDRAWAL_PROOF);
    }
  }
  expect(b.snap, "the step's transaction was broadcast").toBeDefined();
  const stepKey = [...b.journal.entries().keys()].find((k) => (step === "approve" ? k.endsWith(":approve") : step === "request" ? k.endsWith(":redeem") : k.includes(":signature:")))!;
  // The step's tx `depth` blocks deep (it is the head block: 1), seen by a pass (its reconcile).
  await mine(depth - 1);
  await b.sender.sender.startSession();
  const finalBefore = b.journal.get(stepKey)!.final === true;
  // The reorg: back to just before the step's tx, then a longer chain without it.
  await provider.send("evm_revert", [b.snap!]);
  await mine(depth + 1);
  return { stepKey, finalBefore };
}

describe("reorgs at each step of a redemption: the next pass leaves every needed action exactly once", () => {
  const steps: Step[] = ["approve", "request", "signature"];
  const depths = [1, 3, 13];
  for (const step of steps) {
    for (const depth of depths) {
      it(`after the ${step}, ${depth} block(s) deep`, async () => {
        const b = await bot(step);
        const { stepKey, finalBefore } = await reorgAt(b, step, depth);
        // 12 confirmations on Hardhat (its `finalized` is its head): final only at depth >= 12.
        expect(finalBefore).toBe(depth >= 12);
        const events: WatchEvent[] = [];
        const s = await pass(b, events);
        if (step === "signature" && (await stateOf()) !== State.AWAITING_WITHDRAWAL_PROOF) await pass(b, events);

        const chain = await ours(b.wallet.address);
        const want = step === "signature" ? ["approve", "provideRedemptionSignature", "tbtcToBtc"] : ["approve", "tbtcToBtc"];
        expect(chain.calls).toEqual(want);
        expect(chain.reverted).toBe(0);
        expect(chain.nonce).toBe(want.length);
        expect(await requests(), "RedemptionRequested events").toBe(1);
        if (step === "signature") expect(await stateOf()).toBe(State.AWAITING_WITHDRAWAL_PROOF);
        else expect(await stateOf()).toBe(State.AWAITING_WITHDRAWAL_SIGNATURE);
        await journalHoldsOnlyChainFacts(b.journal);
        // The pass saw the reorg and said so; the journal's entry for the step is a chain fact again.
        const seen = b.sent.filter((e) => e.type === "reorged");
        expect(seen.map((e) => e.key)).toContain(stepKey);
        expect(seen.find((e) => e.key === stepKey)).toMatchObject({ outcome: "rebroadcast" });
        expect(b.journal.get(stepKey)!.state).toBe("mined");
        // What it reports as requested is on chain.
        for (const r of s.redemptions) if (r.status === "requested" || r.status === "already-requested") expect(await requests()).toBe(1);
        // The "redemption requested" alert that turned out false is corrected.
        if (step === "request") {
          expect(b.alerts.some((a) => a.key === `redeemed:${ethers.getAddress(deposit)}` && a.title === "correction: redemption request reorged away")).toBe(true);
        }
      }, 180_000);
    }
  }

  it("a request the chain no longer allows after the reorg is reported as such, its nonce given back, never re-signed", async () => {
    const b = await bot("request");
    await pass(b);
    await mine(2);
    await provider.send("evm_revert", [b.snap!]);
    await mine(4);
    // In the new chain someone else redeems the deposit first.
    const other = new ethers.Wallet(ethers.Wallet.createRandom().privateKey, provider);
    await provider.send("hardhat_setBalance", [other.address, ethers.toQuantity(ethers.parseEther("10"))]);
    await send(devnet.deployment.contracts.tbtcToken.transfer(other.address, 2n * 10n ** 18n));
    const cost = (await readCandidates(provider, tbtcContractsOf(cfg), [deposit], other.address))[0].costTbtc;
    const token = devnet.deployment.contracts.tbtcToken.connect(other) as ethers.Contract;
    await send(token.approve(vm(), cost));
    const vmc = new ethers.Contract(vm(), vendingMachineInterface, other);
    const lot = (await depositContract(devnet.deployment, deposit).lotSizeSatoshis()) as bigint;
    await send(vmc.tbtcToBtc(deposit, outputValueBytes8LE(lot - 10_000n), PAYOUT));
    const events: WatchEvent[] = [];
    const nonceBefore = await provider.getTransactionCount(b.wallet.address, "latest");
    await pass(b, events);
    const reorged = b.sent.filter((e) => e.type === "reorged") as { outcome: string; key: string }[];
    expect(reorged.find((e) => e.key.endsWith(":redeem"))?.outcome).toBe("no-longer-possible");
    expect(await requests()).toBe(1); // the other redeemer's
    expect(await provider.getTransactionCount(b.wallet.address, "latest")).toBe(nonceBefore);
    await journalHoldsOnlyChainFacts(b.journal);
    expect(b.alerts.some((a) => a.title === "correction: redemption request reorged away" && /no longer possible/.test(a.text))).toBe(true);
  }, 180_000);
});
