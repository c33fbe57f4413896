import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers } from "ethers";
import { HDKey } from "@scure/bip32";
import { mnemonicToSeedSync } from "@scure/bip39";
import { p2wpkh } from "@scure/btc-signer";
import { PACKAGE_ROOT } from "../src/devnet/node";
import { devnetWallet, startDevnet } from "../src/devnet/scenario";
import { send } from "../src/devnet/tbtc";
import { startAutoSigner } from "../src/devnet/autosign";
import { startBitcoinFaultProxy } from "../src/devnet/bitcoin/fault-proxy";
import { startProviderProxy } from "../src/devnet/provider-proxy";
import { encryptKeystore, writeNewKeystore } from "../src/lib/btc/wallet";

/**
 * `keepctl mint --lot 1 --count 10` through the binary on the devnet (issue 20's numbers): the real
 * tBTC v1.1.0 contracts on a Hardhat node mining a block every `ethBlockSec` behind the hosted-
 * provider proxy, the Bitcoin double mining every `btcBlockSec` behind the Bitcoin proxy (both
 * with `rttMs` per round trip, both counting requests on the wire), the auto-signer publishing
 * the keeps' keys. Measured from the chains:
 * (a) the Ethereum block of each deposit's Funded event against the first Ethereum block mined
 *     after the Bitcoin block that gave the funding its last required confirmation (target: that
 *     very block — keepctl's pass on the Bitcoin block sends the proofs before it);
 * (b) round trips per deposit: HTTP requests to the Ethereum provider and requests to the Bitcoin
 *     servers over the whole mint, divided by the deposits;
 * (c) the wall time of the whole mint against its lower bound: the setup (start to the funding's
 *     broadcast, as measured) + confirmations × the Bitcoin block interval + the three Ethereum
 *     blocks that must follow one another after it (proof, approval, tdtToTbtc). Target: keepctl
 *     adds less than one Bitcoin block interval to the bound.
 */
export interface MintBenchResult {
  count: number;
  ethBlockSec: number;
  btcBlockSec: number;
  rttMs: number;
  confirmations: number;
  /** Per deposit: Ethereum blocks from the first one after the confirming Bitcoin block to its Funded event (0 = that block). */
  proofBlocksAfter: number[];
  secondsToFirstProof: number;
  secondsToProofs: number;
  ethRequests: number;
  ethCalls: number;
  btcRequests: number;
  ethByMethod: Record<string, number>;
  btcByMethod: Record<string, number>;
  wallSec: number;
  setupSec: number;
  lowerBoundSec: number;
  targets: Array<{ name: string; met: boolean; detail: string }>;
}

const ABANDON = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const PASSWORD = "bench horse battery staple";
const REGTEST = { bech32: "bcrt", pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };
const FUNDED = ethers.id("Funded(address,bytes32,uint256)");
const BTC = 100_000_000n;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function benchMint(o: { count?: number; ethBlockSec?: number; btcBlockSec?: number; rttMs?: number; log?: (m: string) => void } = {}): Promise<MintBenchResult> {
  const log = o.log ?? ((m: string) => process.stderr.write(m + "\n"));
  const count = o.count ?? 10;
  const ethBlockSec = o.ethBlockSec ?? 2;
  const btcBlockSec = o.btcBlockSec ?? 10;
  const rttMs = o.rttMs ?? 20;
  const confirmations = 6;
  log(`mint: starting the devnet with its Bitcoin network (${count} × 1 BTC, Ethereum blocks every ${ethBlockSec} s, Bitcoin every ${btcBlockSec} s) ...`);
  const devnet = await startDevnet({ seed: false });
  const net = devnet.bitcoin!.net;
  const rp = devnet.provider as ethers.JsonRpcProvider;
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-bench-mint-"));
  const account = HDKey.fromMasterSeed(mnemonicToSeedSync(ABANDON), { private: 0x04358394, public: 0x043587cf }).derive("m/84'/1'/0'");
  await send(devnet.deployment.contracts.keepFactory.setNextMembers([devnetWallet(3).address, devnetWallet(4).address, devnetWallet(5).address]));
  const operator = ethers.Wallet.createRandom();
  await rp.send("hardhat_setBalance", [operator.address, ethers.toQuantity(ethers.parseEther("20"))]);
  const ks = path.join(home, "btc.json");
  writeNewKeystore(ks, await encryptKeystore(ABANDON, PASSWORD, "regtest"));
  fs.writeFileSync(path.join(home, "btc-pw"), PASSWORD + "\n", { mode: 0o600 });
  net.mine(30);
  net.wallet.fund(p2wpkh(account.deriveChild(0).deriveChild(0).publicKey!, REGTEST).address!, BigInt(count + 2) * BTC);
  net.mine(1);
  const file = path.join(home, "deployment.json");
  fs.writeFileSync(file, JSON.stringify(devnet.file));
  const eth = await startProviderProxy({ target: devnet.rpcUrl, rttMs, requestsPerSecond: 0 });
  const btc = await startBitcoinFaultProxy({ electrumTcp: net.electrumTcpUrl, esplora: net.esploraUrl, delayMs: rttMs });
  const signer = startAutoSigner(devnet.deployment, { intervalMs: 200, publishKeys: true });
  // Every Bitcoin block: when, and the Ethereum head then (the proofs must land in the block after it).
  const blocks: { height: number; at: number; ethHead: Promise<number> }[] = [];
  net.on("block", (b) => blocks.push({ height: b.height, at: Date.now(), ethHead: rp.getBlockNumber() }));
  let broadcastAt: number | undefined;
  net.on("tx", () => { broadcastAt ??= Date.now(); });
  await rp.send("evm_setAutomine", [false]);
  await rp.send("evm_setIntervalMining", [ethBlockSec * 1000]);
  net.setAutoMine(btcBlockSec * 1000);
  const startBlock = await rp.getBlockNumber();
  const t0 = Date.now();
  const child = spawn(process.execPath, [path.join(PACKAGE_ROOT, "bin/keepctl"), "--deployment", file, "--rpc-url", eth.url, "mint", "--yes", "--lot", "1", "--count", String(count)], {
    cwd: home,
    env: {
      PATH: process.env.PATH ?? "", HOME: home, NO_COLOR: "1", KEEPCTL_DATA_DIR: path.join(home, "data"), KEEPCTL_LOCK_DIR: path.join(home, "locks"), KEEPCTL_INTERVAL: "1",
      KEEPCTL_PRIVATE_KEY: operator.privateKey, KEEPCTL_BTC_KEYSTORE: ks, KEEPCTL_BTC_PASSWORD_FILE: path.join(home, "btc-pw"),
      KEEPCTL_BTC_ELECTRUM_URLS: btc.electrumTcpUrl!, KEEPCTL_BTC_ESPLORA_URLS: btc.esploraUrl!, KEEPCTL_BTC_CONFIRMATIONS: String(confirmations),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr.on("data", (d) => { if (err.length < 400_000) err += d; });
  child.stdout.resume();
  // Wall time the first and the last Funded event were seen (the devnet's block times are shifted: not usable).
  let firstProofAt: number | undefined;
  let lastProofAt: number | undefined;
  let polling = true;
  /** Ethereum block number -> when the bench first saw it (polled every 200 ms). */
  const ethBlocksSeen = new Map<number, number>();
  const poll = (async () => {
    while (polling) {
      const head = await rp.getBlockNumber().catch(() => undefined);
      if (head !== undefined && !ethBlocksSeen.has(head)) ethBlocksSeen.set(head, Date.now());
      const n = (await rp.getLogs({ address: devnet.deployment.addresses.TBTCSystem, topics: [FUNDED], fromBlock: startBlock, toBlock: "latest" }).catch(() => [])).length;
      if (n > 0) firstProofAt ??= Date.now();
      if (n >= count) lastProofAt ??= Date.now();
      await sleep(200);
    }
  })();
  try {
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => { child.kill("SIGTERM"); }, 200_000);
      child.on("exit", (c) => { clearTimeout(timer); resolve(c); });
    });
    const wallSec = (Date.now() - t0) / 1000;
    if (process.env.MINT_BENCH_LOG) fs.writeFileSync(process.env.MINT_BENCH_LOG, `${blocks.map((x) => `bitcoin block ${x.height} at ${new Date(x.at).toISOString()}`).join("\n")}\n${[...ethBlocksSeen].map(([n, at]) => `ethereum block ${n} seen ${new Date(at).toISOString()}`).join("\n")}\n${err}`);
    polling = false;
    await poll;
    if (code !== 0) throw new Error(`keepctl mint exited ${code}: ${err.slice(-2000)}`);
    // The funding: the one transaction paying every deposit; its block and the block of its last required confirmation.
    const logs = await rp.getLogs({ address: devnet.deployment.addresses.TBTCSystem, topics: [FUNDED], fromBlock: startBlock, toBlock: "latest" });
    if (logs.length !== count) throw new Error(`expected ${count} Funded events, saw ${logs.length}`);
    // Funded's _txid (indexed) is the hash in internal byte order; the display txid is its reverse.
    const fundingTxid = Buffer.from(logs[0].topics[2].slice(2), "hex").reverse().toString("hex");
    const fundingHeight = net.node.findTx(fundingTxid)?.block?.height;
    if (fundingHeight === undefined) throw new Error(`funding ${fundingTxid} not found in the Bitcoin double's blocks`);
    const confirming = blocks.find((b) => b.height === fundingHeight + confirmations - 1);
    if (!confirming) throw new Error(`no record of Bitcoin block ${fundingHeight + confirmations - 1}`);
    // The first Ethereum block seen after the confirming Bitcoin block (the poll's view; the head read in the block handler is the fallback).
    const seenAfter = [...ethBlocksSeen.entries()].filter(([, at]) => at > confirming.at).map(([n]) => n);
    const firstAfter = seenAfter.length ? Math.min(...seenAfter) : (await confirming.ethHead) + 1;
    const proofBlocksAfter = logs.map((l) => l.blockNumber - firstAfter);
    const secondsToFirstProof = ((firstProofAt ?? Date.now()) - confirming.at) / 1000;
    const secondsToProofs = ((lastProofAt ?? Date.now()) - confirming.at) / 1000;
    const setupSec = ((broadcastAt ?? t0) - t0) / 1000;
    const lowerBoundSec = setupSec + confirmations * btcBlockSec + 3 * ethBlockSec;
    const perDeposit = (n: number) => (n / count).toFixed(1);
    const ethByMethod = { ...eth.counts.byMethod };
    const btcByMethod = { ...btc.counts.byMethod };
    const top = (m: Record<string, number>) => Object.entries(m).sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${k} ${v}`).join(", ");
    return {
      count, ethBlockSec, btcBlockSec, rttMs, confirmations, proofBlocksAfter, secondsToFirstProof, secondsToProofs, wallSec, setupSec, lowerBoundSec,
      ethRequests: eth.counts.httpRequests, ethCalls: eth.counts.rpcCalls, btcRequests: btc.counts.requests, ethByMethod, btcByMethod,
      targets: [
        { name: "funding proofs mined in the first Ethereum block after the confirming Bitcoin block", met: proofBlocksAfter.every((b) => b <= 0), detail: `${count} Funded events ${proofBlocksAfter.map((b) => `+${b}`).join(" ")} blocks after block ${firstAfter} (the first after Bitcoin block ${confirming.height}, the funding's ${confirmations}th confirmation); the first seen ${secondsToFirstProof.toFixed(1)} s, the last ${secondsToProofs.toFixed(1)} s after the Bitcoin block` },
        { name: "wall time within one Bitcoin block interval of the lower bound", met: wallSec <= lowerBoundSec + btcBlockSec, detail: `${wallSec.toFixed(1)} s for ${count} × 1 BTC; bound ${lowerBoundSec.toFixed(1)} s = setup ${setupSec.toFixed(1)} s (start to the funding's broadcast) + ${confirmations} × ${btcBlockSec} s + 3 × ${ethBlockSec} s (proof, approve, tdtToTbtc)` },
        { name: "round trips per deposit (on the wire)", met: true, detail: `Ethereum ${perDeposit(eth.counts.httpRequests)} HTTP requests (${perDeposit(eth.counts.rpcCalls)} calls; ${eth.counts.httpRequests} in all: ${top(ethByMethod)}); Bitcoin ${perDeposit(btc.counts.requests)} requests (${btc.counts.requests} in all: ${top(btcByMethod)})` },
      ],
    };
  } finally {
    polling = false;
    signer.stop();
    child.kill("SIGTERM");
    net.setAutoMine(0);
    await rp.send("evm_setIntervalMining", [0]).catch(() => undefined);
    await btc.close();
    await eth.close();
    await devnet.stop();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

export function formatMint(r: MintBenchResult): string {
  return [
    `mint: keepctl mint --lot 1 --count ${r.count} on the devnet (Ethereum blocks every ${r.ethBlockSec} s, Bitcoin every ${r.btcBlockSec} s, ${r.rttMs} ms per round trip to both, ${r.confirmations} confirmations)`,
    ...r.targets.map((t) => `  [${t.met ? "met" : "missed"}] ${t.name}: ${t.detail}`),
  ].join("\n");
}
