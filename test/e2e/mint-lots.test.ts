import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { HDKey } from "@scure/bip32";
import { mnemonicToSeedSync } from "@scure/bip39";
import { p2wpkh } from "@scure/btc-signer";
import { startDevnet, devnetWallet, type Devnet } from "../../src/devnet/scenario";
import { send } from "../../src/devnet/tbtc";
import { startAutoSigner, type AutoSigner } from "../../src/devnet/autosign";
import { encryptKeystore, writeNewKeystore } from "../../src/lib/btc/wallet";
import { buildOnce, runKeepctl, spawnKeepctl } from "../helpers/cli";
import { APPROVE, BTC, CREATE, DEPOSIT_ABI, PROOF, RETRIEVE, TDT_TO_TBTC, bitcoinTx, callsFor, depositScript, depositsOpened, fundedEvents, outputsPaying, sentBy } from "../helpers/mint-chains";

/**
 * `keepctl mint` with several lots, and killed with SIGKILL at each stage of a mint, on the
 * devnet (the real tBTC v1.1.0 contracts, the auto-signer publishing keys, the Bitcoin double).
 * Counted from the chains: the funding outputs paying each deposit's address in every block and
 * the mempool of the Bitcoin double, the proofs (TBTCSystem's Funded events) and the
 * tdtToTbtc calls per TDT from the account's own transactions.
 */
const ABANDON = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const PASSWORD = "correct horse battery staple";
const REGTEST = { bech32: "bcrt", pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };
const account = HDKey.fromMasterSeed(mnemonicToSeedSync(ABANDON), { private: 0x04358394, public: 0x043587cf }).derive("m/84'/1'/0'");
const receiveAddress = (i: number) => p2wpkh(account.deriveChild(0).deriveChild(i).publicKey!, REGTEST).address!;

const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-mint-lots-"));
const dataDir = path.join(home, "data");
let devnet: Devnet;
let provider: ethers.JsonRpcProvider;
let operator: ethers.Wallet;
let signer: AutoSigner;
let deploymentFile: string;
let env: Record<string, string>;

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
  net.mine(30);
  for (const [i, v] of [[0, 12n * BTC], [1, 12n * BTC], [2, 4n * BTC]] as const) net.wallet.fund(receiveAddress(i), v);
  net.mine(1);
  signer = startAutoSigner(devnet.deployment, { intervalMs: 200, publishKeys: true });
  env = { KEEPCTL_PRIVATE_KEY: operator.privateKey, KEEPCTL_BTC_KEYSTORE: ks, KEEPCTL_BTC_PASSWORD_FILE: path.join(home, "btc-pw"), KEEPCTL_INTERVAL: "1" };
}, 300_000);

afterAll(async () => {
  signer?.stop();
  devnet?.bitcoin?.net.setAutoMine(0);
  provider?.destroy();
  await devnet?.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

const mint = (args: string[]) => ["--deployment", deploymentFile, "mint", "--yes", ...args];
const tbtcOf = async () => (await devnet.deployment.contracts.tbtcToken.balanceOf(operator.address)) as bigint;

/**
 * Every deposit: ACTIVE, its TDT with the VendingMachine, one output of exactly the lot on
 * Bitcoin, one Funded event, one tdtToTbtc of its TDT from the account. The TBTC it minted:
 * lot − the deposit's own signerFeeTbtc().
 */
async function expectMintedOnce(deposits: string[], lotSats: bigint, fromBlock: number): Promise<{ expectedTbtc: bigint; fundingTxids: string[] }> {
  const txs = await sentBy(provider, operator.address, fromBlock);
  expect(txs.filter((t) => t.status !== 1)).toEqual([]);
  let expectedTbtc = 0n;
  const fundingTxids: string[] = [];
  for (const d of deposits) {
    const c = new ethers.Contract(d, DEPOSIT_ABI, provider);
    expect(Number(await c.currentState()), `${d} ACTIVE`).toBe(4);
    expect(await c.lotSizeSatoshis()).toBe(lotSats);
    expect(((await devnet.deployment.contracts.tdt.ownerOf(BigInt(d))) as string).toLowerCase(), `${d} TDT with the VendingMachine`).toBe(devnet.deployment.addresses.VendingMachine.toLowerCase());
    const outs = outputsPaying(devnet, await depositScript(provider, d));
    expect(outs.map((o) => o.value), `${d} funding outputs on Bitcoin`).toEqual([lotSats]);
    fundingTxids.push(outs[0].txid);
    expect(await fundedEvents(devnet, provider, d), `${d} Funded`).toBe(1);
    expect(callsFor(txs, TDT_TO_TBTC, d), `${d} tdtToTbtc`).toBe(1);
    expect(callsFor(txs, APPROVE, d, 1), `${d} approve`).toBe(1);
    expect(txs.filter((t) => t.to === d.toLowerCase() && t.data.startsWith(RETRIEVE)), `${d} retrieveSignerPubkey`).toHaveLength(1);
    expect(txs.filter((t) => t.to === d.toLowerCase() && t.data.startsWith(PROOF)), `${d} proofs`).toHaveLength(1);
    expectedTbtc += lotSats * 10n ** 10n - ((await c.signerFeeTbtc()) as bigint);
  }
  expect(txs.filter((t) => t.data.startsWith(CREATE))).toHaveLength(deposits.length);
  return { expectedTbtc, fundingTxids };
}

/** One Bitcoin transaction funds them all: each deposit's script exactly once in it, each exactly the lot. */
async function expectOneFundingTransaction(deposits: string[], lotSats: bigint, txids: string[]): Promise<void> {
  expect(new Set(txids).size, "one funding transaction").toBe(1);
  const outputs = bitcoinTx(devnet, txids[0])!;
  const scripts = await Promise.all(deposits.map((d) => depositScript(provider, d)));
  expect(new Set(scripts).size).toBe(deposits.length);
  const toDeposits = outputs.filter((o) => scripts.includes(o.script));
  expect(toDeposits).toHaveLength(deposits.length);
  for (const o of toDeposits) expect(o.value).toBe(lotSats);
  // Besides them at most one output: the change.
  expect(outputs.length - toDeposits.length).toBeLessThanOrEqual(1);
}

describe("keepctl mint, several lots in one funding transaction", () => {
  for (const [lot, count] of [[5n, 2], [1n, 10]] as const) {
    it(`${count} × ${lot} BTC: one Bitcoin transaction, an output of exactly the lot per deposit, one proof and one tdtToTbtc each`, async () => {
      const start = await provider.getBlockNumber();
      const before = await tbtcOf();
      devnet.bitcoin!.net.setAutoMine(300);
      const r = await runKeepctl(mint(["--lot", String(lot), "--count", String(count)]), { home, dataDir, env });
      devnet.bitcoin!.net.setAutoMine(0);
      expect(r.code, r.stderr).toBe(0);
      const opened = await depositsOpened(devnet, provider, operator.address, start + 1);
      expect(opened).toHaveLength(count);
      const { expectedTbtc, fundingTxids } = await expectMintedOnce(opened, lot * BTC, start + 1);
      await expectOneFundingTransaction(opened, lot * BTC, fundingTxids);
      expect((await tbtcOf()) - before).toBe(expectedTbtc);
    }, 300_000);
  }
});

describe("keepctl mint killed with SIGKILL at each stage, then run again", () => {
  it("2 × 1 BTC: killed after createDeposit, after the funding is journaled (not broadcast), after the broadcast, after the proof, after the TDT approval; one output and one tdtToTbtc per deposit", async () => {
    const start = await provider.getBlockNumber();
    const net = devnet.bitcoin!.net;
    const before = await tbtcOf();
    const ethJournal = () => readLines(path.join(dataDir, "journal.jsonl")) as { key: string; state: string }[];
    const mintJournal = () => readLines(path.join(dataDir, "mint-journal.jsonl")) as { type: string; txid?: string; order?: string }[];
    const knownFundings = new Set(mintJournal().filter((l) => l.type === "funding").map((l) => l.txid));
    const newFundings = () => mintJournal().filter((l) => l.type === "funding" && !knownFundings.has(l.txid));
    const broadcastLines = () => new Set(mintJournal().filter((l) => l.type === "broadcast").map((l) => l.txid));
    const sentKeys = (re: RegExp) => ethJournal().filter((l) => re.test(l.key) && l.state === "sent").length;
    const baseline = { create: sentKeys(/:create$/), proof: sentKeys(/:funding-proof$/), approve: sentKeys(/:approve-tdt$/) };
    const args = mint(["--lot", "1", "--count", "2"]);
    const transcript: string[] = [];
    const stage = async (what: string, pred: () => boolean) => {
      const run = spawnKeepctl(args, { home, dataDir, env });
      const killed = await killWhen(run.child, pred);
      transcript.push(`--- ${what}\n${run.stderr()}`);
      expect(killed, `${what}: ${run.stderr()}`).toBe(true);
    };

    // Ethereum blocks once a second: each sent transaction waits in the mempool long enough to be killed on.
    await provider.send("evm_setAutomine", [false]);
    await provider.send("evm_setIntervalMining", [1000]);
    try {
      // 1. createDeposit sent (the Bitcoin network mines nothing until stage 4).
      await stage("after createDeposit", () => sentKeys(/:create$/) > baseline.create);
      // 2. The funding transaction journaled, retrieveSignerPubkey on its way, nothing broadcast.
      let unbroadcast: string | undefined;
      await stage("after the funding is journaled", () => {
        const f = newFundings().find((l) => !broadcastLines().has(l.txid));
        if (f) unbroadcast = f.txid;
        return f !== undefined;
      });
      // 3. Broadcast: in the Bitcoin double's mempool.
      await stage("after the broadcast", () => newFundings().some((l) => net.node.mempool.has(l.txid!)));
      expect(unbroadcast).toBeDefined();
      // 4. Blocks on Bitcoin: killed once a funding proof is sent.
      net.setAutoMine(300);
      await stage("after the proof", () => sentKeys(/:funding-proof$/) > baseline.proof);
      // 5. Killed once an approval of a TDT to the VendingMachine is sent.
      await stage("after the TDT approval", () => sentKeys(/:approve-tdt$/) > baseline.approve);
    } finally {
      await provider.send("evm_setIntervalMining", [0]);
      await provider.send("evm_setAutomine", [true]);
      await provider.send("evm_mine", []);
    }
    const final = await runKeepctl(args, { home, dataDir, env });
    net.setAutoMine(0);
    if (process.env.MINT_TRANSCRIPT) fs.appendFileSync(process.env.MINT_TRANSCRIPT, transcript.join("\n") + `\n--- final\n${final.stderr}\n${final.stdout}\n`);
    expect(final.code, `${transcript.join("\n")}\n--- final\n${final.stderr}`).toBe(0);

    const opened = await depositsOpened(devnet, provider, operator.address, start + 1);
    expect(opened).toHaveLength(2);
    const { expectedTbtc, fundingTxids } = await expectMintedOnce(opened, BTC, start + 1);
    await expectOneFundingTransaction(opened, BTC, fundingTxids);
    // The journaled-but-not-broadcast transaction was the one that went out after the restart (same bytes, same txid).
    expect(newFundings().map((l) => l.txid)).toEqual([fundingTxids[0]]);
    expect((await tbtcOf()) - before).toBe(expectedTbtc);
    // 2 × (create, retrieve, proof, approve, tdtToTbtc): nothing else was ever signed.
    expect(await provider.getTransactionCount(operator.address) - (await provider.getTransactionCount(operator.address, start))).toBe(10);
  }, 400_000);
});

function readLines(file: string): unknown[] {
  // Read while keepctl appends: a torn last line is skipped, the next poll sees it.
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, "utf8").split("\n").filter(Boolean).flatMap((l) => { try { return [JSON.parse(l)]; } catch { return []; } });
}

async function killWhen(child: ChildProcess, pred: () => boolean): Promise<boolean> {
  const deadline = Date.now() + 120_000;
  let exited = false;
  child.once("exit", () => { exited = true; });
  while (!pred()) {
    if (exited) return false;
    if (Date.now() > deadline) throw new Error("stage not reached in 120 s");
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill("SIGKILL");
  await new Promise((r) => (exited ? r(undefined) : child.once("exit", r)));
  return true;
}
