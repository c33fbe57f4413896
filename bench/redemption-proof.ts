import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers } from "ethers";
import { PACKAGE_ROOT } from "../src/devnet/node";
import { devnetWallet, startDevnet } from "../src/devnet/scenario";
import { openDeposit, redeemDeposit } from "../src/devnet/deposits";
import { startAutoSigner } from "../src/devnet/autosign";
import { startBitcoinFaultProxy } from "../src/devnet/bitcoin/fault-proxy";

/**
 * How fast and how cheaply `keepctl watch --on-block` proves a redemption (issue 18): the binary
 * follows one redemption on the devnet (Ethereum mining a block every `ethBlockSec`, the Bitcoin
 * double behind a proxy that holds every answer `rttMs`). The bench mines the Bitcoin blocks
 * itself: once the transaction is broadcast, the block that includes it and four more, then —
 * after watch has seen those — the sixth, at which the proof is due. Measured from the chains:
 * the Ethereum block of the `Redeemed` event against the first Ethereum block mined after that
 * Bitcoin block, and the proxy's count of requests from that Bitcoin block to the proof.
 * Targets: the proof is mined in the block right after the first pass that could see the sixth
 * confirmation (watch's pass on the first Ethereum block after it; its transaction in the next);
 * at most 3 Bitcoin round trips for that pass.
 */
export interface RedemptionProofResult {
  ethBlockSec: number;
  rttMs: number;
  /** Ethereum blocks from the first one after the completing Bitcoin block to the proof's (1 = the next). */
  blocksAfter: number;
  btcRequests: number;
  /** Those requests by Electrum method or Esplora route. */
  btcByMethod: Record<string, number>;
  secondsToProof: number;
  targets: Array<{ name: string; met: boolean; detail: string }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const REDEEMED = ethers.id("Redeemed(address,bytes32,uint256)");

export async function benchRedemptionProof(o: { ethBlockSec?: number; rttMs?: number; log?: (m: string) => void } = {}): Promise<RedemptionProofResult> {
  const log = o.log ?? ((m: string) => process.stderr.write(m + "\n"));
  const ethBlockSec = o.ethBlockSec ?? 3;
  const rttMs = o.rttMs ?? 80;
  log("redemption proof: starting the devnet with its Bitcoin network ...");
  const devnet = await startDevnet({ seed: false });
  const net = devnet.bitcoin!.net;
  const dep = devnet.deployment;
  const rp = devnet.provider as ethers.JsonRpcProvider;
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-bench-proof-"));
  const operator = devnetWallet(1).address;
  const { deposit } = await openDeposit(dep, { lotSats: 100_000_000n, members: [operator, devnetWallet(3).address, devnetWallet(4).address], fundWith: "vendingMachine" });
  // A second deposit's TBTC: the deployer redeems through the VendingMachine (lot + signer fee).
  await openDeposit(dep, { lotSats: 100_000_000n, members: [devnetWallet(5).address, devnetWallet(3).address, devnetWallet(4).address], fundWith: "vendingMachine" });
  const prover = ethers.Wallet.createRandom();
  await rp.send("hardhat_setBalance", [prover.address, ethers.toQuantity(ethers.parseEther("10"))]);
  const proxy = await startBitcoinFaultProxy({ electrumTcp: net.electrumTcpUrl, esplora: net.esploraUrl, delayMs: rttMs });
  const file = path.join(home, "deployment.json");
  fs.writeFileSync(file, JSON.stringify(devnet.file));
  let broadcast: string | undefined;
  net.on("tx", (txid) => { broadcast ??= txid; });
  await redeemDeposit(dep, deposit, { stopAt: "AWAITING_WITHDRAWAL_SIGNATURE" });
  const signer = startAutoSigner(dep, { intervalMs: 200 });
  const child = spawn(process.execPath, [path.join(PACKAGE_ROOT, "bin/keepctl"), "--deployment", file, "watch", "--on-block", "--interval", "3600", "--no-redeem", "--operator", operator], {
    cwd: home,
    env: { PATH: process.env.PATH ?? "", HOME: home, NO_COLOR: "1", KEEPCTL_DATA_DIR: path.join(home, "data"), KEEPCTL_LOCK_DIR: path.join(home, "locks"), KEEPCTL_PRIVATE_KEY: prover.privateKey, KEEPCTL_BTC_ELECTRUM_URLS: proxy.electrumTcpUrl!, KEEPCTL_BTC_ESPLORA_URLS: proxy.esploraUrl! },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr.on("data", (d) => { if (err.length < 20_000) err += d; });
  child.stdout.resume();
  let exited = false;
  child.on("exit", () => { exited = true; });
  const until = async (what: string, done: () => boolean | Promise<boolean>, ms = 120_000) => {
    const end = Date.now() + ms;
    while (!(await done())) {
      if (exited) throw new Error(`watch exited while waiting for ${what}: ${err.slice(-1500)}`);
      if (Date.now() > end) throw new Error(`redemption proof bench: no ${what} in ${ms / 1000} s: ${err.slice(-1500)}`);
      await sleep(100);
    }
  };
  try {
    await rp.send("evm_setIntervalMining", [ethBlockSec * 1000]);
    await until("broadcast of the signed redemption transaction", () => broadcast !== undefined);
    net.mine(5);
    // Two Ethereum blocks: watch's passes have seen five confirmations and sent nothing.
    const h0 = await rp.getBlockNumber();
    await until("two Ethereum blocks", async () => (await rp.getBlockNumber()) >= h0 + 2);
    const before = await rp.getBlockNumber();
    const requestsBefore = proxy.counts.requests;
    const methodsBefore = { ...proxy.counts.byMethod };
    const t0 = Date.now();
    net.mine(1);
    let proofBlock = -1;
    await until("Redeemed event", async () => {
      const logs = await rp.getLogs({ topics: [REDEEMED, ethers.zeroPadValue(deposit, 32)], fromBlock: before, toBlock: "latest" });
      if (logs.length) proofBlock = logs[0].blockNumber;
      return logs.length > 0;
    });
    const secondsToProof = (Date.now() - t0) / 1000;
    const btcRequests = proxy.counts.requests - requestsBefore;
    const btcByMethod = Object.fromEntries(Object.entries(proxy.counts.byMethod).map(([k, v]) => [k, v - (methodsBefore[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
    // The first Ethereum block after the Bitcoin block is before + 1; its pass sends, the next block mines it.
    const blocksAfter = proofBlock - (before + 1);
    return {
      ethBlockSec, rttMs, blocksAfter, btcRequests, btcByMethod, secondsToProof,
      targets: [
        { name: "proof mined in the Ethereum block after the first pass that sees the completing Bitcoin block", met: blocksAfter <= 1, detail: `Redeemed in block ${proofBlock}; first block after the Bitcoin block: ${before + 1} (${blocksAfter} later), ${secondsToProof.toFixed(1)} s with ${ethBlockSec} s blocks` },
        { name: "<= 3 Bitcoin round trips for the proof", met: btcRequests <= 3, detail: `${btcRequests} requests to the Bitcoin servers (${rttMs} ms RTT) from the Bitcoin block to the proof (${Object.entries(btcByMethod).map(([k, v]) => `${k} ${v}`).join(", ")})` },
      ],
    };
  } finally {
    signer.stop();
    child.kill("SIGTERM");
    await new Promise((r) => (exited ? r(undefined) : child.once("exit", r)));
    await proxy.close();
    await devnet.stop();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

export function formatRedemptionProof(r: RedemptionProofResult): string {
  return [
    `redemption proof: watch --on-block follows one redemption (Ethereum blocks every ${r.ethBlockSec} s, Bitcoin servers at ${r.rttMs} ms RTT)`,
    ...r.targets.map((t) => `  [${t.met ? "met" : "missed"}] ${t.name}: ${t.detail}`),
  ].join("\n");
}
