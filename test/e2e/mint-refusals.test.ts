import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { HDKey } from "@scure/bip32";
import { mnemonicToSeedSync } from "@scure/bip39";
import { p2wpkh } from "@scure/btc-signer";
import { startDevnet, devnetWallet, type Devnet } from "../../src/devnet/scenario";
import { send } from "../../src/devnet/tbtc";
import { startBitcoinFaultProxy, type BitcoinFaultProxy } from "../../src/devnet/bitcoin";
import { encryptKeystore, writeNewKeystore } from "../../src/lib/btc/wallet";
import { buildOnce, runKeepctl } from "../helpers/cli";
import { BTC } from "../helpers/mint-chains";

/**
 * `keepctl mint` refusing a new order before anything is sent: too little ETH for the opening fee
 * and gas, too little BTC for the lots and the fee, a Bitcoin server that lies (a 50 BTC coin no
 * block holds; headers above their own target). "Nothing sent" is counted from the chains: the
 * account's nonce on Ethereum, the Bitcoin double's mempool and height, no order in the mint journal.
 */
const ABANDON = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const PASSWORD = "correct horse battery staple";
const REGTEST = { bech32: "bcrt", pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };
const account = HDKey.fromMasterSeed(mnemonicToSeedSync(ABANDON), { private: 0x04358394, public: 0x043587cf }).derive("m/84'/1'/0'");
const receiveAddress = (i: number) => p2wpkh(account.deriveChild(0).deriveChild(i).publicKey!, REGTEST).address!;
/** What the test put in the wallet: 2 + 1 BTC, confirmed. */
const WALLET_SATS = 3n * BTC;

const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-mint-refusals-"));
const dataDir = path.join(home, "data");
let devnet: Devnet;
let provider: ethers.JsonRpcProvider;
let deploymentFile: string;
let walletEnv: Record<string, string>;
let liar: BitcoinFaultProxy;

beforeAll(async () => {
  buildOnce();
  deploymentFile = path.join(home, "deployment.json");
  devnet = await startDevnet({ seed: false, out: deploymentFile });
  provider = new ethers.JsonRpcProvider(devnet.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1 });
  await send(devnet.deployment.contracts.keepFactory.setNextMembers([devnetWallet(3).address, devnetWallet(4).address, devnetWallet(5).address]));
  const ks = path.join(home, "btc.json");
  writeNewKeystore(ks, await encryptKeystore(ABANDON, PASSWORD, "regtest"));
  fs.writeFileSync(path.join(home, "btc-pw"), PASSWORD + "\n", { mode: 0o600 });
  const net = devnet.bitcoin!.net;
  net.mine(30);
  net.wallet.fund(receiveAddress(0), 2n * BTC);
  net.wallet.fund(receiveAddress(1), 1n * BTC);
  net.mine(1);
  liar = await startBitcoinFaultProxy({ electrumTcp: net.electrumTcpUrl, esplora: net.esploraUrl });
  walletEnv = { KEEPCTL_BTC_KEYSTORE: ks, KEEPCTL_BTC_PASSWORD_FILE: path.join(home, "btc-pw"), KEEPCTL_INTERVAL: "1" };
}, 300_000);

afterAll(async () => {
  await liar?.close();
  provider?.destroy();
  await devnet?.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

/** A fresh signing account holding `wei`. */
async function accountWith(wei: bigint): Promise<ethers.Wallet> {
  const w = new ethers.Wallet(ethers.Wallet.createRandom().privateKey, provider);
  await provider.send("hardhat_setBalance", [w.address, ethers.toQuantity(wei)]);
  return w;
}

/** Runs `keepctl mint`; returns its result and whether anything reached either chain or the mint journal. */
async function refusedMint(who: ethers.Wallet, args: string[], env: Record<string, string> = {}) {
  const net = devnet.bitcoin!.net;
  const before = { nonce: await provider.getTransactionCount(who.address, "pending"), mempool: net.node.mempool.all().map((e) => e.tx.txid), height: net.node.chain.height };
  const r = await runKeepctl(["--deployment", deploymentFile, "--json", "mint", "--yes", ...args], { home, dataDir, env: { ...walletEnv, KEEPCTL_PRIVATE_KEY: who.privateKey, ...env } });
  expect(await provider.getTransactionCount(who.address, "pending"), "the account's nonce: nothing sent on Ethereum").toBe(before.nonce);
  expect(net.node.mempool.all().map((e) => e.tx.txid), "the Bitcoin mempool: nothing broadcast").toEqual(before.mempool);
  expect(net.node.chain.height).toBe(before.height);
  const journal = path.join(dataDir, "mint-journal.jsonl");
  const orders = fs.existsSync(journal) ? fs.readFileSync(journal, "utf8").split("\n").filter((l) => l.includes(who.address.toLowerCase())) : [];
  expect(orders, "no mint order written").toEqual([]);
  const error = (JSON.parse(r.stdout) as { error: { code: string; message: string; hint?: string } }).error;
  return { r, error };
}

const openingFee = async () => (await devnet.deployment.contracts.system.getNewDepositFeeEstimate()) as bigint;

describe("keepctl mint refuses a new order it cannot pay for, nothing sent", () => {
  it("too little ETH for the opening fee and the gas: exit 6, the shortfall named", async () => {
    const fee = await openingFee();
    const balance = fee + ethers.parseEther("0.0001");
    const who = await accountWith(balance);
    const { r, error } = await refusedMint(who, ["--lot", "1"]);
    expect(r.code, r.stderr).toBe(6);
    expect(error.code).toBe("INSUFFICIENT_FUNDS");
    const m = /^not enough ETH: 1 deposit\(s\) need ([\d.]+) ETH \(opening fee ([\d.]+) each and gas\), the account holds ([\d.]+); short by ([\d.]+) ETH$/.exec(error.message);
    expect(m, error.message).not.toBeNull();
    const [need, each, holds, short] = m!.slice(1).map((x) => ethers.parseEther(x));
    expect(each).toBe(fee);
    expect(holds).toBe(balance);
    expect(need).toBeGreaterThan(fee);
    expect(short).toBe(need - balance);
  });

  it("too little BTC for the lots and the fee: exit 6, the wallet's 3 BTC and the shortfall named", async () => {
    const who = await accountWith(ethers.parseEther("10"));
    const { r, error } = await refusedMint(who, ["--lot", "1", "--count", "5"]);
    expect(r.code, r.stderr).toBe(6);
    expect(error.code).toBe("INSUFFICIENT_FUNDS");
    const m = /^not enough BTC: the payments and fee need (\d+) sat, the wallet has (\d+) sat; short by (\d+) sat$/.exec(error.message);
    expect(m, error.message).not.toBeNull();
    const [need, has, short] = m!.slice(1).map(BigInt);
    expect(has).toBe(WALLET_SATS);
    expect(need).toBeGreaterThan(5n * BTC);
    expect(short).toBe(need - WALLET_SATS);
  });

  it("a server that adds a 50 BTC coin no block holds (one of several): the coin is not counted, exit 6, nothing funded", async () => {
    liar.setLies({ "fake-utxo": 1 });
    const told = liar.counts.lies["fake-utxo"];
    const who = await accountWith(ethers.parseEther("10"));
    const net = devnet.bitcoin!.net;
    // The liar first on both protocols, the honest Electrum server behind it.
    const env = { KEEPCTL_BTC_ELECTRUM_URLS: `${liar.electrumTcpUrl},${net.electrumWsUrl}`, KEEPCTL_BTC_ESPLORA_URLS: liar.esploraUrl! };
    const { r, error } = await refusedMint(who, ["--lot", "5"], env);
    liar.setLies({});
    expect(liar.counts.lies["fake-utxo"], "the lie was told").toBeGreaterThan(told);
    expect(r.code, r.stderr).toBe(6);
    expect(error.message).toMatch(new RegExp(`the wallet has ${WALLET_SATS} sat; short by \\d+ sat$`));
  });

  it("a server whose headers are above their own target (the only server): exit 4, nothing funded", async () => {
    liar.setLies({ "bad-pow": 1 });
    const told = liar.counts.lies["bad-pow"];
    const who = await accountWith(ethers.parseEther("10"));
    const env = { KEEPCTL_BTC_ELECTRUM_URLS: liar.electrumTcpUrl!, KEEPCTL_BTC_ESPLORA_URLS: liar.esploraUrl! };
    const { r, error } = await refusedMint(who, ["--lot", "1"], env);
    liar.setLies({});
    expect(liar.counts.lies["bad-pow"], "the lie was told").toBeGreaterThan(told);
    expect(r.code, r.stderr).toBe(4);
    expect(error.code).toMatch(/^BTC_/);
  });
});
