import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { startDevnet, devnetWallet, type Devnet } from "../../src/devnet/scenario";
import { openDeposit } from "../../src/devnet/deposits";
import { depositContract, send, setEthBtcPrice } from "../../src/devnet/tbtc";
import { loadConfig, type Config } from "../../src/lib/config";
import type { KeepctlProvider } from "../../src/lib/chain/provider";
import { AlertHub } from "../../src/lib/alert";
import { AuditLog } from "../../src/lib/audit";
import { Journal } from "../../src/lib/chain/journal";
import { ActionSender } from "../../src/lib/chain/sender";
import { connectFromConfig } from "../../src/lib/tbtc/read/report";
import { JournaledSender } from "../../src/lib/tbtc/redeem/redeemer";
import { tbtcContractsOf } from "../../src/lib/tbtc/redeem/redeem-session";
import { decodeBtcAddress } from "../../src/lib/tbtc/btc-address";
import { REDEMPTION_REQUESTED_TOPIC } from "../../src/lib/tbtc/redeem/redeem-abi";
import { readStandingPreapprovals } from "../../src/lib/tbtc/watch/preapprove";
import { runWatch, type WatchDeps, type WatchEvent } from "../../src/lib/tbtc/watch/watch-loop";

/**
 * Pre-approval on the devnet (real tBTC contracts): a deposit between the warn level (140 %) and
 * the redeem line (130 %) gets its exact redemption requirement approved once; when it crosses the
 * line, the redemption is the request alone. Approvals and requests are counted from the chain
 * (the token's Approval logs of approve() transactions, RedemptionRequested, the account's nonce),
 * amounts from the contracts' own getters.
 */
const BTC = 100_000_000n;
const operator = devnetWallet(1).address;
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-preapprove-"));
const SCRIPT = decodeBtcAddress("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "testnet").redeemerOutputScript;
const APPROVE_SELECTOR = "0x095ea7b3";
let devnet: Devnet;
let provider: KeepctlProvider;
let cfg: Config;
let viaVm: string; // TDT held by the VendingMachine: tbtcToBtc
let own: string; // TDT held by the redeemer: requestRedemption
let redeemerKey: string;
let redeemer: string;
let snapshot: string;

// Price ratios: collateralization is proportional to the ETH/BTC ratio (0.03 -> 150 %).
const AT_135 = 0.027;
const AT_120 = 0.024;
const AT_150 = 0.03;

beforeAll(async () => {
  const file = path.join(home, "deployment.json");
  devnet = await startDevnet({ seed: false, out: file });
  cfg = loadConfig({ deployment: file, dataDir: path.join(home, "data") }, {}, { dotenv: false });
  provider = await connectFromConfig(cfg);
  const w = ethers.Wallet.createRandom();
  redeemerKey = w.privateKey;
  redeemer = w.address;
  await provider.send("hardhat_setBalance", [redeemer, ethers.toQuantity(ethers.parseEther("100"))]);
  const members = [operator, devnetWallet(3).address, devnetWallet(4).address];
  viaVm = (await openDeposit(devnet.deployment, { lotSats: 1n * BTC, members, fundWith: "vendingMachine" })).deposit;
  own = (await openDeposit(devnet.deployment, { lotSats: 1n * BTC, members, fundWith: "proof", funder: new ethers.Wallet(redeemerKey, provider) })).deposit;
  // TBTC for the redeemer, minted from deposits that are not the operator's
  await openDeposit(devnet.deployment, { lotSats: 5n * BTC, members: [devnetWallet(5).address, devnetWallet(3).address, devnetWallet(4).address], fundWith: "vendingMachine" });
  await send(devnet.deployment.contracts.tbtcToken.transfer(redeemer, 4n * 10n ** 18n));
  snapshot = await provider.send("evm_snapshot", []);
}, 300_000);

beforeEach(async () => {
  await provider.send("evm_revert", [snapshot]);
  snapshot = await provider.send("evm_snapshot", []);
  fs.rmSync(path.join(home, "data"), { recursive: true, force: true });
});

afterAll(async () => {
  provider?.destroy();
  await devnet?.stop();
});

/** A sender as a fresh process would open it: the key, the journal on disk. */
function openSender(o: { receiptTimeoutMs?: number } = {}): JournaledSender {
  return new JournaledSender(new ActionSender(new ethers.Wallet(redeemerKey, provider), provider, Journal.open(cfg.dataDir), { maxFeeGwei: 1000, pollMs: 50, dryRun: false, ...o }));
}

function deps(events: WatchEvent[], over: Partial<WatchDeps> = {}): WatchDeps {
  return {
    cfg, provider, contracts: tbtcContractsOf(cfg), operators: [operator], hub: new AlertHub([]), audit: AuditLog.open(cfg.dataDir),
    policy: { warnBelowPct: 140, redeemBelowPct: 130, notifyCourtesy: false, feeSats: 10_000n, minEthWei: 0n, maxBlockAgeSec: 3600 },
    emit: (e) => events.push(e), signal: new AbortController().signal, intervalSec: 1, once: true,
    sender: openSender(), script: SCRIPT, preapprove: true, ...over,
  };
}

/** The redeemer's approve() transactions on the chain, with their spender and amount. */
async function approvals(): Promise<{ spender: string; amount: bigint; block: number }[]> {
  const logs = (await provider.send("eth_getLogs", [{
    address: devnet.deployment.addresses.TBTCToken, fromBlock: "0x0", toBlock: "latest",
    topics: [ethers.id("Approval(address,address,uint256)"), ethers.zeroPadValue(redeemer, 32)],
  }])) as { transactionHash: string; topics: string[]; data: string; blockNumber: string }[];
  const out: { spender: string; amount: bigint; block: number }[] = [];
  for (const l of logs) {
    const tx = await provider.getTransaction(l.transactionHash);
    if (!tx?.data.startsWith(APPROVE_SELECTOR)) continue; // transferFrom's allowance update is no approval
    out.push({ spender: ethers.getAddress(ethers.dataSlice(l.topics[2], 12)), amount: BigInt(l.data), block: Number(l.blockNumber) });
  }
  return out;
}

async function requestsBy(account: string): Promise<string[]> {
  const logs = (await provider.send("eth_getLogs", [{ address: devnet.deployment.addresses.TBTCSystem, fromBlock: "0x0", toBlock: "latest", topics: [REDEMPTION_REQUESTED_TOPIC] }])) as { topics: string[]; data: string }[];
  const iface = new ethers.Interface(["event RedemptionRequested(address indexed _depositContractAddress, address indexed _requester, bytes32 indexed _digest, uint256 _utxoValue, bytes _redeemerOutputScript, uint256 _requestedFee, bytes _outputs)"]);
  return logs.map((l) => iface.parseLog(l)!).filter((e) => (e.args._requester as string).toLowerCase() === account.toLowerCase()).map((e) => ethers.getAddress(e.args._depositContractAddress as string));
}

/** What the contracts say each path pulls from the redeemer (the planner's oracle). */
async function requirements(): Promise<{ vm: bigint; own: bigint }> {
  const v = depositContract(devnet.deployment, viaVm);
  const o = depositContract(devnet.deployment, own);
  const [lot, owed, req] = await Promise.all([v.lotSizeTbtc(), v.getOwnerRedemptionTbtcRequirement(redeemer), o.getRedemptionTbtcRequirement(redeemer)]);
  return { vm: (lot as bigint) + (owed as bigint), own: req as bigint };
}

const nonce = () => provider.getTransactionCount(redeemer, "latest");

describe("watch pre-approval", () => {
  it("approves each deposit's exact requirement once in the zone; crossing the line is one transaction per deposit", async () => {
    const need = await requirements();
    await setEthBtcPrice(devnet.deployment, AT_135);
    const n0 = await nonce();
    const events: WatchEvent[] = [];
    await runWatch(deps(events));
    const first = await approvals();
    expect(first.map((a) => [a.spender, a.amount]).sort()).toEqual([[own, need.own], [devnet.deployment.addresses.VendingMachine, need.vm]].sort());
    expect(await nonce()).toBe(n0 + 2);
    expect(await requestsBy(redeemer)).toEqual([]);

    // the next loop, and a restarted process (a new sender on the same journal): nothing more
    await runWatch(deps(events));
    await runWatch(deps(events, { sender: openSender() }));
    expect(await approvals()).toHaveLength(2);
    expect(await nonce()).toBe(n0 + 2);

    // the drop: below the line, the redemptions are the two requests alone
    await setEthBtcPrice(devnet.deployment, AT_120);
    await runWatch(deps(events, { sender: openSender() }));
    expect((await requestsBy(redeemer)).sort()).toEqual([own, viaVm].sort());
    expect(await approvals()).toHaveLength(2);
    expect(await nonce()).toBe(n0 + 4);
    expect(Number(await depositContract(devnet.deployment, viaVm).currentState())).toBe(5);
  });

  it("--no-preapprove: nothing in the zone; below the line approve then request (two transactions per deposit)", async () => {
    await setEthBtcPrice(devnet.deployment, AT_135);
    const n0 = await nonce();
    const events: WatchEvent[] = [];
    await runWatch(deps(events, { preapprove: false }));
    expect(await approvals()).toEqual([]);
    expect(await nonce()).toBe(n0);
    await setEthBtcPrice(devnet.deployment, AT_120);
    await runWatch(deps(events, { preapprove: false }));
    expect((await requestsBy(redeemer)).sort()).toEqual([own, viaVm].sort());
    expect(await approvals()).toHaveLength(2);
    expect(await nonce()).toBe(n0 + 4);
  });

  it("a pre-approval in flight when the process stops is settled on restart, never signed again", async () => {
    await setEthBtcPrice(devnet.deployment, AT_135);
    const n0 = await nonce();
    await provider.send("evm_setAutomine", [false]);
    try {
      // The approvals are broadcast but no block comes: the loop ends with them pending.
      const events: WatchEvent[] = [];
      await runWatch(deps(events, { sender: openSender({ receiptTimeoutMs: 1500 }) }));
      expect(events.filter((e) => e.type === "preapproval").map((e) => e.status)).toEqual(["pending", "pending"]);
      expect(await provider.send("eth_getTransactionCount", [redeemer, "pending"])).toBe(ethers.toQuantity(n0 + 2));
    } finally {
      await provider.send("evm_setAutomine", [true]);
    }
    await provider.send("evm_mine", []);
    const events: WatchEvent[] = [];
    await runWatch(deps(events, { sender: openSender() }));
    expect(await approvals()).toHaveLength(2);
    expect(await nonce()).toBe(n0 + 2);
    expect(events.filter((e) => e.type === "preapproval")).toEqual([]);
  });

  it("an approval no longer needed (the price recovered) is left standing and counted", async () => {
    const need = await requirements();
    await setEthBtcPrice(devnet.deployment, AT_135);
    const events: WatchEvent[] = [];
    await runWatch(deps(events));
    expect(events.filter((e) => e.type === "preapprovals-left").at(-1)).toMatchObject({ count: 0 });
    await setEthBtcPrice(devnet.deployment, AT_150);
    const n0 = await nonce();
    const res = await runWatch(deps(events));
    expect(res.last?.preapprovalsLeft).toBe(2);
    expect(events.filter((e) => e.type === "preapprovals-left").at(-1)).toMatchObject({ count: 2, tbtc: need.own + need.vm });
    // left, not revoked: the allowances still stand and nothing was sent
    const token = devnet.deployment.contracts.tbtcToken;
    expect(await token.allowance(redeemer, own)).toBe(need.own);
    expect(await token.allowance(redeemer, devnet.deployment.addresses.VendingMachine)).toBe(need.vm);
    expect(await nonce()).toBe(n0);
    // `keepctl redemptions` counts them from the journal's accounts, with no key
    const standing = await readStandingPreapprovals(provider, Journal.open(cfg.dataDir), devnet.deployment.addresses.TBTCToken, new Set());
    expect(standing.map((l) => [l.account, l.spender.toLowerCase(), l.allowance]).sort()).toEqual([
      [redeemer.toLowerCase(), own.toLowerCase(), need.own], [redeemer.toLowerCase(), devnet.deployment.addresses.VendingMachine.toLowerCase(), need.vm],
    ].sort());
    // still needed while the deposit is below the warn level again
    const again = await readStandingPreapprovals(provider, Journal.open(cfg.dataDir), devnet.deployment.addresses.TBTCToken, new Set([own.toLowerCase()]));
    expect(again.map((l) => l.spender.toLowerCase())).toEqual([devnet.deployment.addresses.VendingMachine.toLowerCase()]);
  });
});
