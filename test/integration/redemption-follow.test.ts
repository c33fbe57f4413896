import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { startDevnet, devnetWallet, type Devnet } from "../../src/devnet/scenario";
import { openDeposit, signRedemptionDigest } from "../../src/devnet/deposits";
import { depositContract, increaseTime, keepContract, send, setEthBtcPrice } from "../../src/devnet/tbtc";
import { startBitcoinFaultProxy } from "../../src/devnet/bitcoin";
import { loadConfig, type Config } from "../../src/lib/config";
import { KeepctlProvider } from "../../src/lib/chain/provider";
import { AlertHub } from "../../src/lib/alert";
import { AuditLog } from "../../src/lib/audit";
import { Journal } from "../../src/lib/chain/journal";
import { ActionSender } from "../../src/lib/chain/sender";
import { connectBitcoin } from "../../src/lib/btc";
import { connectFromConfig } from "../../src/lib/tbtc/read/report";
import { JournaledSender } from "../../src/lib/tbtc/redeem/redeemer";
import { tbtcContractsOf } from "../../src/lib/tbtc/redeem/redeem-session";
import { openRedemptionBitcoin, redemptionBitcoinOf, type RedemptionBitcoinHandle } from "../../src/lib/tbtc/redeem/bitcoin";
import { decodeBtcAddress } from "../../src/lib/tbtc/btc-address";
import { runWatch, type WatchDeps, type WatchEvent } from "../../src/lib/tbtc/watch/watch-loop";
import type { FollowReport } from "../../src/lib/tbtc/redeem/follow";

/**
 * A redemption followed to its end on both chains: the real tBTC Deposit and keep on a Hardhat
 * node, the devnet's Bitcoin network (real blocks, mempool, Electrum + Esplora on loopback), and
 * the watch loop in between. Every outcome is counted from the chains: the Deposit's state and
 * events, the keep's bonds, the account's nonce, what Bitcoin's servers say about the UTXO.
 */
const BTC = 100_000_000n;
const operator = devnetWallet(1).address;
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-follow-"));
const PAYOUT = decodeBtcAddress("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "testnet");
const REDEEMED_TOPIC = ethers.id("Redeemed(address,bytes32,uint256)");
let devnet: Devnet;
let provider: KeepctlProvider;
let cfg: Config;
let bitcoin: RedemptionBitcoinHandle;

beforeAll(async () => {
  const file = path.join(home, "deployment.json");
  devnet = await startDevnet({ seed: false, out: file });
  cfg = loadConfig({ deployment: file, dataDir: path.join(home, "data") }, {}, { dotenv: false });
  provider = await connectFromConfig(cfg);
  // The servers the deployment file names, as keepctl configures them.
  bitcoin = (await openRedemptionBitcoin(cfg))!;
}, 300_000);

afterAll(async () => {
  await bitcoin?.close();
  provider?.destroy();
  await devnet?.stop();
});

/** A deposit at 120 % through the VendingMachine, and a fresh redeemer holding its lot + fee in TBTC. */
async function atRisk(lot = 1n): Promise<{ deposit: string; keep: string; sender: JournaledSender; wallet: ethers.Wallet; dataDir: string }> {
  const dep = devnet.deployment;
  await setEthBtcPrice(dep, 0.03);
  const members = [operator, devnetWallet(3).address, devnetWallet(4).address];
  const opened = await openDeposit(dep, { lotSats: lot * BTC, members, fundWith: "vendingMachine" });
  await openDeposit(dep, { lotSats: lot * BTC, members: [devnetWallet(5).address, devnetWallet(3).address, devnetWallet(4).address], fundWith: "vendingMachine" });
  await setEthBtcPrice(dep, 0.024);
  const wallet = new ethers.Wallet(ethers.Wallet.createRandom().privateKey, provider);
  await provider.send("hardhat_setBalance", [wallet.address, ethers.toQuantity(ethers.parseEther("10"))]);
  await send(dep.contracts.tbtcToken.transfer(wallet.address, lot * 10n ** 18n + 10n ** 16n));
  const dataDir = fs.mkdtempSync(path.join(home, "data-"));
  const sender = new JournaledSender(new ActionSender(wallet, provider, Journal.open(dataDir), { maxFeeGwei: 1000, pollMs: 50, dryRun: false }));
  return { deposit: opened.deposit, keep: opened.keep, sender, wallet, dataDir };
}

function deps(t: { sender: JournaledSender; dataDir: string }, events: WatchEvent[], over: Partial<WatchDeps> = {}): WatchDeps {
  return {
    cfg, provider, contracts: tbtcContractsOf(cfg), operators: [operator], sender: t.sender, script: PAYOUT.redeemerOutputScript,
    bitcoin: bitcoin.client, follow: { confirmations: 6, maxFeeSats: 100_000n },
    hub: new AlertHub([{ name: "log", send: async () => undefined }]), audit: AuditLog.open(t.dataDir),
    policy: { warnBelowPct: 140, redeemBelowPct: 130, notifyCourtesy: false, feeSats: 10_000n, minEthWei: 0n, maxBlockAgeSec: 3600 },
    emit: (e) => events.push(e), signal: new AbortController().signal, intervalSec: 1, once: true, ...over,
  };
}

const progress = (events: WatchEvent[], deposit: string) => events.filter((e): e is Extract<WatchEvent, { type: "redemption-progress" }> => e.type === "redemption-progress" && e.deposit === deposit) as unknown as FollowReport[];
const state = async (deposit: string) => Number(await depositContract(devnet.deployment, deposit).currentState());
const redeemedLogs = (deposit: string) => provider.getLogs({ address: cfg.contracts.TBTCSystem, topics: [REDEEMED_TOPIC, ethers.zeroPadValue(deposit, 32)], fromBlock: 0 });
/** What the Bitcoin chain says, from its Esplora server (not through keepctl's client). */
async function esplora(p: string): Promise<unknown> {
  const r = await fetch(devnet.bitcoin!.net.esploraUrl + p, { headers: { connection: "close" } });
  return r.headers.get("content-type")?.includes("json") ? r.json() : r.text();
}

async function signLatest(keep: string): Promise<void> {
  const k = keepContract(devnet.deployment, keep);
  await signRedemptionDigest(devnet.deployment, keep, (await k.digest()) as string);
}

describe("a redemption followed to its end on Bitcoin", () => {
  it("broadcasts the signed transaction, waits for 6 confirmations, proves it: REDEEMED, the keep closed — once", async () => {
    const t = await atRisk();
    const net = devnet.bitcoin!.net;
    const events: WatchEvent[] = [];
    await runWatch(deps(t, events));
    expect(events.filter((e) => e.type === "redemption").map((e) => (e as { status: string }).status)).toEqual(["requested"]);
    expect(await state(t.deposit)).toBe(5);

    // The keep signs; the next loop hands the signature over AND broadcasts the signed transaction.
    await signLatest(t.keep);
    events.length = 0;
    await runWatch(deps(t, events));
    const p1 = progress(events, t.deposit).at(-1)!;
    expect(p1.actions).toEqual(expect.arrayContaining(["signature-submitted", "broadcast"]));
    expect(await state(t.deposit)).toBe(6);
    const txid = p1.btcTxid!;
    // Bitcoin's own view: the transaction is in the mempool, spending the deposit's UTXO.
    expect(await esplora(`/tx/${txid}/status`)).toEqual({ confirmed: false });
    const raw = (await esplora(`/tx/${txid}/hex`)) as string;
    expect(raw.length).toBeGreaterThan(200);

    // 5 blocks: not yet (the policy is 6); nothing sent.
    net.mine(5);
    const nonce = await provider.getTransactionCount(t.wallet.address);
    events.length = 0;
    await runWatch(deps(t, events));
    expect(progress(events, t.deposit).at(-1)!.confirmations).toBe(5);
    expect(await provider.getTransactionCount(t.wallet.address)).toBe(nonce);
    expect(await state(t.deposit)).toBe(6);

    // The 6th: the proof goes, the real contract accepts it.
    net.mine(1);
    events.length = 0;
    await runWatch(deps(t, events));
    expect(progress(events, t.deposit).at(-1)!.actions).toContain("proof-submitted");
    expect(await state(t.deposit)).toBe(7);
    const logs = await redeemedLogs(t.deposit);
    expect(logs).toHaveLength(1);
    expect(logs[0].topics[2]).toBe("0x" + Buffer.from(txid, "hex").reverse().toString("hex"));
    const keep = keepContract(devnet.deployment, t.keep);
    expect(await keep.isClosed()).toBe(true);
    expect(events.some((e) => e.type === "alert" && /bond freed/.test((e as { title: string }).title))).toBe(true);

    // Another loop, and another: no second proof (nonce unchanged).
    const after = await provider.getTransactionCount(t.wallet.address);
    await runWatch(deps(t, []));
    expect(await provider.getTransactionCount(t.wallet.address)).toBe(after);
    expect(await redeemedLogs(t.deposit)).toHaveLength(1);
  });

  it("a Bitcoin reorg that drops the transaction's block before the proof: rebroadcast, re-confirm, prove", async () => {
    const t = await atRisk();
    const net = devnet.bitcoin!.net;
    await runWatch(deps(t, []));
    await signLatest(t.keep);
    const events: WatchEvent[] = [];
    await runWatch(deps(t, events));
    const txid = progress(events, t.deposit).at(-1)!.btcTxid!;
    net.mine(3);
    expect(((await esplora(`/tx/${txid}/status`)) as { confirmed: boolean }).confirmed).toBe(true);
    // A longer branch without it, and it is not put back into the mempool: as if it never was.
    net.reorg(3, { replaceWith: 4, keepTxs: false });
    expect(await esplora(`/tx/${txid}/status`)).toEqual({ confirmed: false });
    events.length = 0;
    await runWatch(deps(t, events));
    expect(progress(events, t.deposit).at(-1)!.actions).toContain("broadcast");
    net.mine(6);
    await runWatch(deps(t, []));
    expect(await state(t.deposit)).toBe(7);
    expect(await redeemedLogs(t.deposit)).toHaveLength(1);
  });

  it("a server that lies about the merkle branch is refused locally: no proof sent, the server named; an honest one finishes it", async () => {
    const t = await atRisk();
    const net = devnet.bitcoin!.net;
    await runWatch(deps(t, []));
    await signLatest(t.keep);
    await runWatch(deps(t, []));
    net.mine(6);
    const liar = await startBitcoinFaultProxy({ electrumTcp: net.electrumTcpUrl, lies: { merkle: 1 } });
    const warnings: string[] = [];
    const lying = await connectBitcoin({ network: "regtest", electrumUrls: [liar.electrumTcpUrl!], esploraUrls: [], timeoutMs: 5000, retries: 1 }, { onWarning: (m) => warnings.push(m) });
    try {
      const nonce = await provider.getTransactionCount(t.wallet.address);
      const events: WatchEvent[] = [];
      await runWatch(deps(t, events, { bitcoin: redemptionBitcoinOf(lying) }));
      expect(liar.counts.lies.merkle).toBeGreaterThan(0);
      expect(await provider.getTransactionCount(t.wallet.address)).toBe(nonce);
      expect(await state(t.deposit)).toBe(6);
      // One server: its refusal is the pass's warning (with several, the layer warns at each cool-down).
      const port = new URL(liar.electrumTcpUrl!).port;
      const p = progress(events, t.deposit).at(-1)!;
      expect(p.actions).toContain("proof-refused");
      expect(p.alerts.find((a) => a.key === `btc-proof:${t.deposit}`)?.text).toMatch(new RegExp(`127\\.0\\.0\\.1:${port} \\(gave a merkle branch .* that does not lead to the merkle root`));
    } finally {
      await lying.close();
      await liar.close();
    }
    await runWatch(deps(t, []));
    expect(await state(t.deposit)).toBe(7);
  });

  it("stuck behind full blocks of higher fees: after 4 h the fee is raised, the new version confirms and is proven", async () => {
    const t = await atRisk();
    const net = devnet.bitcoin!.net;
    // Small blocks, 10 blocks of backlog at 150 sat/vB refilled after each: the first version
    // (10,000 sat / ~110 vB ≈ 91 sat/vB) stays out, and the servers estimate ≥ 150 for any target that fits the deadline.
    net.setMaxBlockVsize(20_000);
    net.setFeePressure({ feeRate: 150, vsize: 200_000 });
    // Warm up: the fillers' own funding confirms, so from now on every block is fillers only.
    net.mine(2);
    try {
      await runWatch(deps(t, []));
      await signLatest(t.keep);
      const events: WatchEvent[] = [];
      await runWatch(deps(t, events));
      const first = progress(events, t.deposit).at(-1)!.btcTxid!;
      net.mine(6);
      expect(await esplora(`/tx/${first}/status`)).toEqual({ confirmed: false });
      // Before 4 h of chain time: no increase.
      events.length = 0;
      await runWatch(deps(t, events));
      expect(progress(events, t.deposit).at(-1)!.actions).not.toContain("fee-increased");
      await increaseTime(provider, 4 * 3600);
      events.length = 0;
      await runWatch(deps(t, events));
      expect(progress(events, t.deposit).at(-1)!.actions).toContain("fee-increased");
      expect(await state(t.deposit)).toBe(5);
      // The keep signs the new digest; the loop provides it and broadcasts the new version (a BIP125 replacement).
      await signLatest(t.keep);
      events.length = 0;
      await runWatch(deps(t, events));
      const p = progress(events, t.deposit).at(-1)!;
      expect(p.actions).toEqual(expect.arrayContaining(["signature-submitted", "broadcast"]));
      const second = p.btcTxid!;
      expect(second).not.toBe(first);
      net.mine(6);
      await runWatch(deps(t, []));
      expect(await state(t.deposit)).toBe(7);
      const logs = await redeemedLogs(t.deposit);
      expect(logs).toHaveLength(1);
      expect(logs[0].topics[2]).toBe("0x" + Buffer.from(second, "hex").reverse().toString("hex"));
      expect(await esplora(`/tx/${first}/status`)).toEqual({ confirmed: false });
    } finally {
      net.setFeePressure(undefined);
      net.setMaxBlockVsize(1_000_000);
      net.mine(3);
    }
  });
});
