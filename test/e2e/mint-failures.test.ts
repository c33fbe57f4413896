import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { HDKey } from "@scure/bip32";
import { mnemonicToSeedSync } from "@scure/bip39";
import { p2wpkh } from "@scure/btc-signer";
import { startDevnet, devnetWallet, type Devnet } from "../../src/devnet/scenario";
import { depositContract, increaseTime, keepContract, send } from "../../src/devnet/tbtc";
import { keepPublicKey64 } from "../../src/devnet/signer";
import { startAutoSigner, type AutoSigner } from "../../src/devnet/autosign";
import { encryptKeystore, writeNewKeystore } from "../../src/lib/btc/wallet";
import { buildOnce, runKeepctl, spawnKeepctl } from "../helpers/cli";

/**
 * The mint's failure paths on the devnet, each read back from the chains: a signing group that
 * never forms (notifySignerSetupFailed after 3 h, the opening fee withdrawn to the operator), a
 * funding clock someone else started too long ago (nothing sent to Bitcoin), and aggressive
 * signers who close the deposit the second the window ends while the funding waits in the mempool.
 */
const ABANDON = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const PASSWORD = "correct horse battery staple";
const REGTEST = { bech32: "bcrt", pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };
const account = HDKey.fromMasterSeed(mnemonicToSeedSync(ABANDON), { private: 0x04358394, public: 0x043587cf }).derive("m/84'/1'/0'");
const receiveAddress = (i: number) => p2wpkh(account.deriveChild(0).deriveChild(i).publicKey!, REGTEST).address!;
const BTC = 100_000_000n;
const CLONE_CREATED = ethers.id("DepositCloneCreated(address)");
const WITHDRAW = ethers.id("withdrawFunds()").slice(0, 10);
const H = 3600;

const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-mintf-"));
const dataDir = path.join(home, "data");
let devnet: Devnet;
let provider: ethers.JsonRpcProvider;
let operator: ethers.Wallet;
let deploymentFile: string;
let env: Record<string, string>;
let signer: AutoSigner | undefined;

beforeAll(async () => {
  buildOnce();
  deploymentFile = path.join(home, "deployment.json");
  devnet = await startDevnet({ seed: false, out: deploymentFile });
  provider = new ethers.JsonRpcProvider(devnet.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1 });
  await send(devnet.deployment.contracts.keepFactory.setNextMembers([devnetWallet(3).address, devnetWallet(4).address, devnetWallet(5).address]));
  operator = new ethers.Wallet(ethers.Wallet.createRandom().privateKey, provider);
  await provider.send("hardhat_setBalance", [operator.address, ethers.toQuantity(ethers.parseEther("20"))]);
  const ks = path.join(home, "btc.json");
  writeNewKeystore(ks, await encryptKeystore(ABANDON, PASSWORD, "regtest"));
  fs.writeFileSync(path.join(home, "btc-pw"), PASSWORD + "\n", { mode: 0o600 });
  const net = devnet.bitcoin!.net;
  net.mine(10);
  net.wallet.fund(receiveAddress(0), 5n * BTC);
  net.mine(1);
  env = { KEEPCTL_PRIVATE_KEY: operator.privateKey, KEEPCTL_BTC_KEYSTORE: ks, KEEPCTL_BTC_PASSWORD_FILE: path.join(home, "btc-pw"), KEEPCTL_INTERVAL: "1" };
}, 300_000);

afterAll(async () => {
  signer?.stop();
  provider?.destroy();
  await devnet?.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

const mint = (args: string[]) => ["--deployment", deploymentFile, "mint", "--yes", ...args];
const journalLines = () => {
  const f = path.join(dataDir, "mint-journal.jsonl");
  return fs.existsSync(f) ? fs.readFileSync(f, "utf8").split("\n").filter(Boolean).flatMap((l) => { try { return [JSON.parse(l) as { type: string; deposit?: string; txid?: string }]; } catch { return []; } }) : [];
};
async function until(pred: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within 120 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const depositCount = async () => (await provider.getLogs({ address: devnet.deployment.addresses.DepositFactory, topics: [CLONE_CREATED], fromBlock: 0, toBlock: "latest" })).length;
const newDeposit = () => { const l = journalLines().filter((x) => x.type === "deposit"); return l.at(-1)?.deposit; };
const mempoolAndChainPaying = (script: string) => {
  const node = devnet.bitcoin!.net.node;
  let n = 0;
  for (let h = 0; h <= node.chain.height; h++) for (const tx of node.chain.entryAt(h)!.block.txs) for (const o of tx.outputs) if (Buffer.from(o.script).toString("hex") === script) n++;
  for (const e of node.mempool.all()) for (const o of e.tx.outputs) if (Buffer.from(o.script).toString("hex") === script) n++;
  return n;
};
const scriptOfKeep = (keep: string) => {
  const key = ethers.getBytes(keepPublicKey64(keep));
  return "0014" + ethers.ripemd160(ethers.sha256(ethers.concat([key[63] & 1 ? "0x03" : "0x02", key.subarray(0, 32)]))).slice(2);
};

describe("keepctl mint: failure paths", () => {
  it("a signing group that never forms: notifySignerSetupFailed after 3 h, the opening fee back, exit 10", async () => {
    signer = startAutoSigner(devnet.deployment, { intervalMs: 200, publishKeys: true, failSetupFor: [operator.address] });
    const before = await depositCount();
    const run = spawnKeepctl(mint(["--lot", "1"]), { home, dataDir, env });
    await until(async () => !!newDeposit() && (await depositCount()) === before + 1, "deposit opened");
    const deposit = newDeposit()!;
    await increaseTime(provider, 3 * H + 1);
    const r = await run.done;
    signer.stop();
    expect(r.code, r.stderr).toBe(10);
    expect(r.stderr).toMatch(/signer setup failed/);
    const d = depositContract(devnet.deployment, deposit, provider);
    expect(Number(await d.currentState())).toBe(3);
    expect(await d.withdrawableAmount()).toBe(0n);
    // The withdrawal paid the opening fee to the operator: its balance across that block, gas added back.
    const logs = await provider.getLogs({ address: devnet.deployment.addresses.TBTCSystem, topics: [ethers.id("SetupFailed(address,uint256)"), ethers.zeroPadValue(deposit, 32)], fromBlock: 0, toBlock: "latest" });
    expect(logs).toHaveLength(1);
    const head = await provider.getBlockNumber();
    let withdrawal: ethers.TransactionReceipt | undefined;
    for (let b = logs[0].blockNumber; b <= head && !withdrawal; b++) {
      for (const tx of (await provider.getBlock(b, true))!.prefetchedTransactions) if (tx.from === operator.address && tx.data.startsWith(WITHDRAW)) withdrawal = (await provider.getTransactionReceipt(tx.hash))!;
    }
    expect(withdrawal, "withdrawFunds sent").toBeDefined();
    const delta = (await provider.getBalance(operator.address, withdrawal!.blockNumber)) - (await provider.getBalance(operator.address, withdrawal!.blockNumber - 1));
    expect(delta + withdrawal!.gasUsed * withdrawal!.gasPrice).toBe(devnet.deployment.openKeepFee);
  }, 200_000);

  it("a funding clock started by someone else 1 h ago: too little window left, nothing sent to Bitcoin, exit 10", async () => {
    signer = startAutoSigner(devnet.deployment, { intervalMs: 200, publishKeys: true, failSetupFor: [operator.address] });
    const run = spawnKeepctl(mint(["--lot", "1"]), { home, dataDir, env });
    const known = newDeposit();
    await until(() => newDeposit() !== known, "deposit opened");
    run.child.kill("SIGKILL");
    await run.done;
    signer.stop();
    const deposit = newDeposit()!;
    const d = depositContract(devnet.deployment, deposit);
    const keep = (await d.keepAddress()) as string;
    await send(keepContract(devnet.deployment, keep).submitPublicKey(keepPublicKey64(keep)));
    await send(d.retrieveSignerPubkey());
    await increaseTime(provider, H + 1);
    const r = await runKeepctl(mint([]), { home, dataDir, env });
    expect(r.code, r.stderr).toBe(10);
    expect(r.stderr).toMatch(/funding window too short/);
    expect(journalLines().filter((l) => l.type === "funding")).toHaveLength(0);
    expect(mempoolAndChainPaying(scriptOfKeep(keep))).toBe(0);
    expect(Number(await d.currentState())).toBe(2);
  }, 200_000);

  it("aggressive signers close the deposit at the deadline with our funding in the mempool: critical, exit 10", async () => {
    signer = startAutoSigner(devnet.deployment, { intervalMs: 200, publishKeys: true, aggressiveFundingTimeout: true });
    const net = devnet.bitcoin!.net;
    const run = spawnKeepctl(mint(["--lot", "1"]), { home, dataDir, env });
    await until(() => journalLines().some((l) => l.type === "broadcast" && net.node.mempool.has(l.txid!)), "funding broadcast");
    const deposit = newDeposit()!;
    await increaseTime(provider, 3 * H + 1);
    const r = await run.done;
    signer.stop();
    expect(r.code, r.stderr).toBe(10);
    expect(r.stderr).toMatch(/deposit closed after we funded it/);
    expect(r.stderr).toContain("requestFunderAbort");
    expect(Number(await depositContract(devnet.deployment, deposit, provider).currentState())).toBe(3);
    expect(signer.timedOut.map((a) => a.toLowerCase())).toContain(deposit);
    const keep = (await depositContract(devnet.deployment, deposit, provider).keepAddress()) as string;
    expect(mempoolAndChainPaying(scriptOfKeep(keep)), "exactly one funding output").toBe(1);
  }, 200_000);
});
