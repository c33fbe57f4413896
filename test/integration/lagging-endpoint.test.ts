import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { startDevnet, devnetWallet, type Devnet } from "../../src/devnet/scenario";
import { openDeposit } from "../../src/devnet/deposits";
import { send, setEthBtcPrice } from "../../src/devnet/tbtc";
import { startLagProxy, type LagProxy } from "../../src/devnet/lag-proxy";
import { startFaultProxy } from "../../src/devnet/fault-proxy";
import { REDEMPTION_REQUESTED_TOPIC } from "../../src/lib/tbtc/redeem/redeem-abi";
import { buildOnce, runKeepctl, type Run } from "../helpers/cli";

/**
 * The freshest head wins, a laggard is named. The real binary (`watch --once`) against the real
 * contracts, through loopback proxies: one serves a view 50 blocks behind the node (its head,
 * "latest" reads, logs; receipts of newer blocks hidden), one flaps between that and the head.
 * On the lagging view the deposit is at risk; at the head it is healthy again. The chain's clock
 * is put near this machine's (a devnet started 66 days back), 12 s a block, so the head-age
 * check means what it means on mainnet. Counted from the chain: nonces and broadcasts.
 */
const BTC = 100_000_000n;
const KEY_PATH = "/v3/LAGSECRETKEY1234";
const operator = devnetWallet(1).address;
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-lag-"));
let devnet: Devnet;
let provider: ethers.JsonRpcProvider;
let file: string;
let deposit: string;
let world: string;
let lag: LagProxy;
let good: LagProxy;
let runs = 0;

beforeAll(async () => {
  buildOnce();
  const now = Math.floor(Date.now() / 1000);
  file = path.join(home, "deployment.json");
  // The tBTC deploy jumps 64 days: starting 66 days back lands the chain two days behind this clock.
  devnet = await startDevnet({ seed: false, out: file, initialDate: new Date((now - 66 * 86400) * 1000).toISOString() });
  provider = new ethers.JsonRpcProvider(devnet.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1 });
  const members = [operator, devnetWallet(3).address, devnetWallet(4).address];
  deposit = (await openDeposit(devnet.deployment, { lotSats: 1n * BTC, members, fundWith: "vendingMachine" })).deposit;
  await openDeposit(devnet.deployment, { lotSats: 5n * BTC, members: [devnetWallet(5).address, devnetWallet(3).address, devnetWallet(4).address], fundWith: "vendingMachine" });
  // The lagging view's head: the deposit at risk, 650 s ago by this machine's clock.
  await setEthBtcPrice(devnet.deployment, 0.024);
  const t0 = now - 650;
  await provider.send("evm_setNextBlockTimestamp", [t0]);
  await provider.send("evm_mine", []);
  // 50 blocks later, 12 s apart: the price is back and the deposit healthy at the head.
  await provider.send("evm_setNextBlockTimestamp", [t0 + 12]);
  await setEthBtcPrice(devnet.deployment, devnet.file.ethBtc);
  await provider.send("hardhat_mine", [ethers.toQuantity(49), ethers.toQuantity(12)]);
  world = await provider.send("evm_snapshot", []);
  lag = await startLagProxy({ target: devnet.rpcUrl, lag: 50, path: KEY_PATH });
  good = await startLagProxy({ target: devnet.rpcUrl, lag: 0 });
}, 300_000);

afterAll(async () => {
  await lag?.close();
  await good?.close();
  provider?.destroy();
  await devnet?.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

beforeEach(async () => {
  await provider.send("evm_revert", [world]);
  world = await provider.send("evm_snapshot", []);
  lag.setLag(50);
  lag.counts.broadcasts.length = 0;
  good.counts.broadcasts.length = 0;
});

async function redeemer(): Promise<ethers.Wallet> {
  const w = new ethers.Wallet(ethers.Wallet.createRandom().privateKey, provider);
  await provider.send("hardhat_setBalance", [w.address, ethers.toQuantity(ethers.parseEther("10"))]);
  await send(devnet.deployment.contracts.tbtcToken.transfer(w.address, 2n * 10n ** 18n));
  return w;
}

function watch(urls: string[], w: ethers.Wallet, dataDir: string, env: Record<string, string> = {}): Promise<Run> {
  return runKeepctl(["--deployment", file, "watch", "--once", "--operator", operator], {
    home, dataDir,
    env: {
      KEEPCTL_RPC_URLS: urls.join(","), KEEPCTL_PRIVATE_KEY: w.privateKey, KEEPCTL_LOCK_DIR: path.join(dataDir, "locks"),
      KEEPCTL_BTC_ADDRESS: "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", KEEPCTL_MAX_HEAD_AGE: "300", KEEPCTL_TX_POLL_MS: "50", KEEPCTL_RPC_RETRIES: "1",
      ...env,
    },
  });
}

const dataDir = () => fs.mkdtempSync(path.join(home, `data-${runs++}-`));
const requests = async () => (await provider.getLogs({ address: devnet.deployment.addresses.TBTCSystem, topics: [REDEMPTION_REQUESTED_TOPIC, ethers.zeroPadValue(deposit, 32)], fromBlock: 0 })).length;
const LAG_WARNING = /(?:warning:|WARN) RPC endpoint http:\/\/127\.0\.0\.1:\d+\/\*\*\* is lagging: its head \d+ is (49|50|51) blocks behind block \d+ \(at http:\/\/127\.0\.0\.1:\d+\); it is not used for 30 s/;
// Flapping: the freshest head this pass may have been the laggard's own earlier answer.
const FLAP_WARNING = /(?:warning:|WARN) RPC endpoint http:\/\/127\.0\.0\.1:\d+\/\*\*\* is lagging: its head \d+ is (49|50|51) blocks behind block \d+ \((at http:\/\/127\.0\.0\.1:\d+|its own earlier answer)\); it is not used for 30 s/;

describe("a lagging endpoint: no action on a stale head, a warning naming it", () => {
  for (const order of ["first", "second"] as const) {
    it(`as the ${order} of two endpoints: reads go to the fresh one, nothing is sent, one warning names the laggard (redacted)`, async () => {
      const w = await redeemer();
      const urls = order === "first" ? [lag.url, good.url] : [good.url, lag.url];
      const r = await watch(urls, w, dataDir());
      expect(r.stderr + r.stdout).not.toContain("LAGSECRETKEY");
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr.match(new RegExp(LAG_WARNING.source, "g"))).toHaveLength(1);
      expect(await provider.getTransactionCount(w.address, "latest")).toBe(0);
      expect(lag.counts.broadcasts.length + good.counts.broadcasts.length).toBe(0);
      expect(await requests()).toBe(0);
    }, 120_000);
  }

  it("as the only endpoint: its head is stale by this machine's clock — refused (exit 4) with words that blame the node, nothing sent", async () => {
    const w = await redeemer();
    const r = await watch([lag.url], w, dataDir());
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/error: the RPC node's latest block \d+ is \d+ s old \(.*; limit 300 s\): the node is stuck or not synced \(the RPC server's clock agrees with this machine's\)/);
    expect(await provider.getTransactionCount(w.address, "latest")).toBe(0);
    expect(lag.counts.broadcasts).toEqual([]);
  }, 120_000);

  for (const order of ["first", "second"] as const) {
    it(`the fresh endpoint's first head answer is lost (${order} of two, beside the laggard): asked again, nothing planned on the stale view`, async () => {
      // A fresh process: without the fresh endpoint's head, the laggard's would be the freshest known.
      let lost = 0;
      const fresh = await startFaultProxy({ target: devnet.rpcUrl, pick: (calls) => (lost === 0 && calls.length === 1 && calls[0].method === "eth_blockNumber" ? (lost++, "http-503") : undefined) });
      try {
        const w = await redeemer();
        const urls = order === "first" ? [fresh.url, lag.url] : [lag.url, fresh.url];
        // The head-age check off: it would refuse the stale view on this machine's clock alone.
        const r = await watch(urls, w, dataDir(), { KEEPCTL_MAX_HEAD_AGE: "0" });
        expect(lost).toBe(1);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr.match(new RegExp(LAG_WARNING.source, "g"))).toHaveLength(1);
        expect(await provider.getTransactionCount(w.address, "latest")).toBe(0);
        expect(lag.counts.broadcasts.length + fresh.forwardedBroadcasts.length).toBe(0);
        expect(await requests()).toBe(0);
      } finally {
        await fresh.close();
      }
    }, 120_000);
  }

  it("flapping between lagging and fresh, beside a fresh one: named, never acted on", async () => {
    lag.setLag((n) => (n % 2 === 0 ? 0 : 50));
    const w = await redeemer();
    const r = await watch([lag.url, good.url], w, dataDir());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(FLAP_WARNING);
    expect(await provider.getTransactionCount(w.address, "latest")).toBe(0);
    expect(await requests()).toBe(0);
  }, 120_000);
});

describe("a lagging endpoint that hides receipts: no rebroadcast of a mined transaction", () => {
  it("redeems at the head through the fresh endpoint, each signed tx broadcast once; the laggard alone later is refused on the journal's evidence", async () => {
    // At risk at the head too this time: the redemption is needed.
    await setEthBtcPrice(devnet.deployment, 0.024);
    const w = await redeemer();
    const dir = dataDir();
    lag.setLag((n) => (n % 2 === 0 ? 50 : 0)); // flapping, first: the census may see it fresh
    const r = await watch([lag.url, good.url], w, dir, { KEEPCTL_REBROADCAST_MS: "50", KEEPCTL_REPLACE_AFTER: "1" });
    expect(r.code, r.stderr).toBe(0);
    expect(await requests()).toBe(1);
    const mined = await provider.getTransactionCount(w.address, "latest");
    expect(mined).toBe(2); // the approval and the request
    const sent = [...lag.counts.broadcasts, ...good.counts.broadcasts];
    expect(sent).toHaveLength(2); // each once: no rebroadcast, no replacement of a mined tx
    expect(new Set(sent).size).toBe(2);

    // A later run on the laggard alone (head-age check off: it would refuse first): the journal
    // holds receipts from blocks past its head, so it lags — refused before anything is sent.
    lag.setLag(50);
    const alone = await watch([lag.url], w, dir, { KEEPCTL_MAX_HEAD_AGE: "0" });
    expect(alone.code).toBe(4);
    expect(alone.stderr).toMatch(/error: the RPC endpoint's head \d+ is \d+ blocks behind block \d+, where a transaction of this account was mined \(journal\): it is lagging, or the chain was reset/);
    expect(lag.counts.broadcasts.length + good.counts.broadcasts.length).toBe(2);
    expect(await provider.getTransactionCount(w.address, "latest")).toBe(2);
  }, 180_000);
});
