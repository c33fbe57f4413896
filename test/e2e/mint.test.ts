import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { HDKey } from "@scure/bip32";
import { mnemonicToSeedSync } from "@scure/bip39";
import { p2wpkh, Transaction } from "@scure/btc-signer";
import { base64 } from "@scure/base";
import { startDevnet, devnetWallet, type Devnet } from "../../src/devnet/scenario";
import { send } from "../../src/devnet/tbtc";
import { startAutoSigner, type AutoSigner } from "../../src/devnet/autosign";
import { transactionsFrom } from "../../src/devnet/chaos";
import { encryptKeystore, writeNewKeystore } from "../../src/lib/btc/wallet";
import { buildOnce, runKeepctl, spawnKeepctl } from "../helpers/cli";

/**
 * `keepctl mint` through the binary on the devnet: the real tBTC v1.1.0 contracts, the keep
 * factory double whose keys the auto-signer publishes, the Bitcoin network double (Electrum on
 * loopback, blocks every 300 ms). Everything is counted from the chains: deposits from the
 * account's own transactions, funding outputs from every block and the mempool of the Bitcoin
 * double, the TBTC received against lot − the deposit's own signerFeeTbtc().
 */
const ABANDON = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const PASSWORD = "correct horse battery staple";
const REGTEST = { bech32: "bcrt", pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };
const account = HDKey.fromMasterSeed(mnemonicToSeedSync(ABANDON), { private: 0x04358394, public: 0x043587cf }).derive("m/84'/1'/0'");
const receiveAddress = (i: number) => p2wpkh(account.deriveChild(0).deriveChild(i).publicKey!, REGTEST).address!;
const BTC = 100_000_000n;
const CREATE = ethers.id("createDeposit(uint64)").slice(0, 10);
const RETRIEVE = ethers.id("retrieveSignerPubkey()").slice(0, 10);
const PROOF = ethers.id("provideBTCFundingProof(bytes4,bytes,bytes,bytes4,uint8,bytes,uint256,bytes)").slice(0, 10);
const TDT_TO_TBTC = ethers.id("tdtToTbtc(uint256)").slice(0, 10);
const CLONE_CREATED = ethers.id("DepositCloneCreated(address)");
const DEPOSIT_ABI = ["function currentState() view returns (uint256)", "function signerFeeTbtc() view returns (uint256)", "function lotSizeSatoshis() view returns (uint64)", "function keepAddress() view returns (address)"];

const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-mint-"));
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
  // The operator's BTC: three coins to its first receive addresses, confirmed.
  const net = devnet.bitcoin!.net;
  net.mine(30);
  for (const [i, v] of [[0, 12n * BTC], [1, 9n * BTC], [2, 9n * BTC]] as const) net.wallet.fund(receiveAddress(i), v);
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

/** Outputs paying `script` in every block of the Bitcoin double and in its mempool. */
function outputsPaying(scriptHex: string): { txid: string; value: bigint }[] {
  const node = devnet.bitcoin!.net.node;
  const found: { txid: string; value: bigint }[] = [];
  const scan = (tx: { txid: string; outputs: { value: bigint; script: Uint8Array }[] }) => {
    for (const o of tx.outputs) if (Buffer.from(o.script).toString("hex") === scriptHex) found.push({ txid: tx.txid, value: o.value });
  };
  for (let h = 0; h <= node.chain.height; h++) for (const tx of node.chain.entryAt(h)!.block.txs) scan(tx);
  for (const e of node.mempool.all()) scan(e.tx);
  return found;
}

/** The deposit's P2WPKH script, from the keep's published key (the contract's own rule, recomputed here). */
async function depositScript(deposit: string): Promise<string> {
  const keep = await new ethers.Contract(deposit, DEPOSIT_ABI, provider).keepAddress();
  const key = ethers.getBytes(await new ethers.Contract(keep, ["function getPublicKey() view returns (bytes)"], provider).getPublicKey());
  const compressed = ethers.concat([key[63] & 1 ? "0x03" : "0x02", key.subarray(0, 32)]);
  return "0014" + ethers.ripemd160(ethers.sha256(compressed)).slice(2);
}

/** Deposits the operator opened: DepositCloneCreated in the receipts of its own createDeposit transactions. */
async function depositsOpened(fromBlock: number): Promise<string[]> {
  const logs = await provider.getLogs({ address: devnet.deployment.addresses.DepositFactory, topics: [CLONE_CREATED], fromBlock, toBlock: "latest" });
  const out: string[] = [];
  for (const l of logs) {
    const tx = await provider.getTransaction(l.transactionHash);
    if (tx?.from.toLowerCase() === operator.address.toLowerCase()) out.push(ethers.getAddress("0x" + l.data.slice(26)));
  }
  return out;
}

const tbtcOf = async () => (await devnet.deployment.contracts.tbtcToken.balanceOf(operator.address)) as bigint;

async function expectMinted(deposits: string[], lotSats: bigint): Promise<bigint> {
  let expected = 0n;
  for (const d of deposits) {
    const c = new ethers.Contract(d, DEPOSIT_ABI, provider);
    expect(Number(await c.currentState()), `${d} ACTIVE`).toBe(4);
    expect(await c.lotSizeSatoshis()).toBe(lotSats);
    expect(((await devnet.deployment.contracts.tdt.ownerOf(BigInt(d))) as string).toLowerCase(), `${d} TDT with the VendingMachine`).toBe(devnet.deployment.addresses.VendingMachine.toLowerCase());
    const outs = outputsPaying(await depositScript(d));
    expect(outs, `${d} funding outputs on Bitcoin`).toHaveLength(1);
    expect(outs[0].value).toBe(lotSats);
    expected += lotSats * 10n ** 10n - ((await c.signerFeeTbtc()) as bigint);
  }
  return expected;
}

describe("keepctl mint on the devnet", () => {
  it("mints one deposit of each lot (1, 5, 10 BTC) exactly once, TBTC = lot − signer fee", async () => {
    const start = await provider.getBlockNumber();
    devnet.bitcoin!.net.setAutoMine(300);
    let expected = 0n;
    const before = await tbtcOf();
    for (const lot of [1n, 5n, 10n]) {
      const from = await provider.getBlockNumber();
      const r = await runKeepctl(mint(["--lot", String(lot)]), { home, dataDir, env });
      expect(r.code, r.stderr).toBe(0);
      if (process.env.MINT_TRANSCRIPT) fs.appendFileSync(process.env.MINT_TRANSCRIPT, `--- lot ${lot}\n${r.stderr}\n${r.stdout}\n`);
      const opened = await depositsOpened(from + 1);
      expect(opened, `one deposit for the ${lot} BTC lot`).toHaveLength(1);
      expected += await expectMinted(opened, lot * BTC);
    }
    devnet.bitcoin!.net.setAutoMine(0);
    expect((await tbtcOf()) - before).toBe(expected);
    const txs = await transactionsFrom(provider, operator.address, start);
    expect(txs.filter((t) => t.status !== 1)).toEqual([]);
    for (const [sel, n] of [[CREATE, 3], [RETRIEVE, 3], [PROOF, 3], [TDT_TO_TBTC, 3]] as const) expect(txs.filter((t) => t.data.startsWith(sel)), sel).toHaveLength(n);
  }, 240_000);

  it("keepctl deposits lists those three: minted, the lot, the funding txid on Bitcoin, deadlines from the chain's own block times", async () => {
    const r = await runKeepctl(["--deployment", deploymentFile, "--json", "deposits"], { home, dataDir, env: {} });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { deposits: DepositsRow[] };
    const opened = await depositsOpened(0);
    expect(doc.deposits.map((d) => d.deposit).sort()).toEqual(opened.map((d) => d.toLowerCase()).sort());
    for (const row of doc.deposits) {
      const c = new ethers.Contract(row.deposit!, DEPOSIT_ABI, provider);
      expect(row.state).toBe("ACTIVE");
      expect(row.stage).toBe("minted");
      expect(row.live).toBe(false);
      expect(row.tdt).toBe("vending-machine");
      expect(BigInt(row.lotSatoshis)).toBe(await c.lotSizeSatoshis());
      expect(row.fundingTxid).toBe(outputsPaying(await depositScript(row.deposit!))[0].txid);
      expect(ethers.parseUnits(row.tbtcMinted!, 18)).toBe(((await c.lotSizeSatoshis()) as bigint) * 10n ** 10n - ((await c.signerFeeTbtc()) as bigint));
      const times = await operatorTimes(row.deposit!);
      expect(row.signerSetupDeadline).toBe(iso(times.created + 3 * 3600));
      expect(row.fundingDeadline).toBe(iso(times.retrieved! + 3 * 3600));
    }
    const table = await runKeepctl(["--deployment", deploymentFile, "deposits"], { home, dataDir, env: {} });
    expect(table.code, table.stderr).toBe(0);
    if (process.env.MINT_TRANSCRIPT) fs.appendFileSync(process.env.MINT_TRANSCRIPT, `--- deposits\n${table.stdout}\n--- deposits --json\n${r.stdout}\n`);
    for (const d of opened) expect(table.stdout.toLowerCase()).toContain(d.toLowerCase());
    expect(table.stdout.split("\n")[0]).toMatch(/\bstage\b/);
    expect(table.stdout.split("\n").filter((l) => /\tminted\t/.test(l))).toHaveLength(3);
    // --active: nothing is under way.
    const active = await runKeepctl(["--deployment", deploymentFile, "--json", "deposits", "--active"], { home, dataDir, env: {} });
    expect((JSON.parse(active.stdout) as { deposits: unknown[] }).deposits).toEqual([]);
  }, 60_000);

  it("2 × 1 BTC in one funding transaction, killed right after its broadcast, restarted: no second output to either address", async () => {
    const start = await provider.getBlockNumber();
    const net = devnet.bitcoin!.net;
    const journalFile = path.join(dataDir, "mint-journal.jsonl");
    const lines = () => (fs.existsSync(journalFile) ? fs.readFileSync(journalFile, "utf8").split("\n").filter(Boolean).flatMap((l) => { try { return [JSON.parse(l) as { type: string; txid?: string; at: string }]; } catch { return []; } }) : []);
    const known = new Set(lines().filter((l) => l.type === "funding").map((l) => l.txid));
    const fundingInMempool = () => lines().some((l) => l.type === "funding" && !known.has(l.txid) && net.node.mempool.has(l.txid!));
    const before = await tbtcOf();

    // No blocks while the first run funds: it is killed with its funding transaction in the mempool.
    const first = spawnKeepctl(mint(["--lot", "1", "--count", "2"]), { home, dataDir, env });
    expect(await killWhen(first.child, fundingInMempool), first.stderr()).toBe(true);

    net.setAutoMine(300);
    const second = await runKeepctl(mint(["--lot", "1", "--count", "2"]), { home, dataDir, env });
    net.setAutoMine(0);
    expect(second.code, second.stderr).toBe(0);
    if (process.env.MINT_TRANSCRIPT) fs.appendFileSync(process.env.MINT_TRANSCRIPT, `--- killed\n${first.stderr()}\n--- resumed\n${second.stderr}\n${second.stdout}\n`);
    expect(second.stderr).toMatch(/resuming mint order/);

    const opened = await depositsOpened(start + 1);
    expect(opened).toHaveLength(2);
    const expected = await expectMinted(opened, BTC);
    expect((await tbtcOf()) - before).toBe(expected);
    // The two lots went out in one Bitcoin transaction, an output of exactly 1 BTC each.
    const [a, b] = await Promise.all(opened.map(async (d) => outputsPaying(await depositScript(d))[0].txid));
    expect(a).toBe(b);
    const txs = await transactionsFrom(provider, operator.address, start + 1);
    for (const [sel, n] of [[CREATE, 2], [RETRIEVE, 2], [PROOF, 2], [TDT_TO_TBTC, 2]] as const) expect(txs.filter((t) => t.data.startsWith(sel)), sel).toHaveLength(n);
  }, 240_000);

  it("watch --replenish-to mints back to the target with the same flow: 2 × 1 BTC for 2 TBTC short, then nothing more", async () => {
    const start = await provider.getBlockNumber();
    const net = devnet.bitcoin!.net;
    const before = await tbtcOf();
    // 2 TBTC short: 10 and 5 BTC lots would overshoot; two 1 BTC lots mint 1.999; the 0.001 left fits no lot.
    const target = before + 2n * 10n ** 18n;
    net.setAutoMine(300);
    const w = spawnKeepctl(["--deployment", deploymentFile, "watch", "--operator", devnetWallet(9).address, "--replenish-to", ethers.formatUnits(target, 18)], { home, dataDir, env });
    try {
      const deadline = Date.now() + 150_000;
      while ((await depositsOpened(start + 1)).length < 2 || (await tbtcOf()) - before < 2n * 10n ** 18n - 2n * 5n * 10n ** 14n) {
        if (Date.now() > deadline) throw new Error(`not replenished in 150 s:\n${w.stdout().slice(-3000)}\n${w.stderr().slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      // Five more loops: the shortfall is covered, nothing else is opened.
      const loops = (w.stdout().match(/heartbeat loop=/g) ?? []).length;
      await until(() => (w.stdout().match(/heartbeat loop=/g) ?? []).length >= loops + 5, "five more loops");
    } finally {
      w.child.kill("SIGTERM");
      await w.done;
      net.setAutoMine(0);
    }
    const opened = await depositsOpened(start + 1);
    expect(opened).toHaveLength(2);
    const expected = await expectMinted(opened, BTC);
    expect((await tbtcOf()) - before).toBe(expected);
    expect(await tbtcOf()).toBeLessThanOrEqual(target);
  }, 240_000);

  it("a funding transaction stuck below the fee market is replaced (RBF), the replacement proven; one output to the address", async () => {
    const start = await provider.getBlockNumber();
    const net = devnet.bitcoin!.net;
    const journalFile = path.join(dataDir, "mint-journal.jsonl");
    const fundings = () => fs.readFileSync(journalFile, "utf8").split("\n").filter(Boolean).flatMap((l) => { try { return [JSON.parse(l) as { type: string; txid?: string; replaces?: string }]; } catch { return []; } }).filter((l) => l.type === "funding");
    const known = new Set(fundings().map((l) => l.txid));
    const before = await tbtcOf();
    const run = spawnKeepctl(mint(["--lot", "1"]), { home, dataDir, env });
    let first: string | undefined;
    try {
      await until(() => { first = fundings().find((l) => !known.has(l.txid) && net.node.mempool.has(l.txid!))?.txid; return first !== undefined; }, "funding in the mempool");
      // Blocks full of 25 sat/vB fillers from now on, the servers estimating 26: ours (1 sat/vB) never gets in.
      net.setMaxBlockVsize(3000);
      net.setFeePressure({ feeRate: 25, vsize: 9000 });
      net.setFeeEstimates(Object.fromEntries(Array.from({ length: 25 }, (_, i) => [i + 1, 26])));
      net.setAutoMine(300);
      const r = await run.done;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/replaced \(RBF\)/);
    } finally {
      run.child.kill("SIGKILL");
      net.setAutoMine(0);
      net.setFeePressure(undefined);
      net.setMaxBlockVsize(1_000_000);
      net.setFeeEstimates("mempool");
    }
    const ours = fundings().filter((l) => !known.has(l.txid));
    expect(ours.map((l) => l.replaces ?? null)).toEqual([null, first]);
    const opened = await depositsOpened(start + 1);
    expect(opened).toHaveLength(1);
    const expected = await expectMinted(opened, BTC);
    expect((await tbtcOf()) - before).toBe(expected);
    const outs = outputsPaying(await depositScript(opened[0]));
    expect(outs.map((o) => o.txid)).toEqual([ours[1].txid]);
  }, 240_000);

  it("watch-only: --psbt-out writes the funding as a PSBT, an independent signer signs it, --psbt-in finishes the mint", async () => {
    const start = await provider.getBlockNumber();
    const net = devnet.bitcoin!.net;
    const before = await tbtcOf();
    const cold = { KEEPCTL_PRIVATE_KEY: operator.privateKey, KEEPCTL_BTC_XPUB: account.publicExtendedKey, KEEPCTL_INTERVAL: "1" };
    const unsigned = path.join(home, "funding.psbt");
    const first = await runKeepctl(mint(["--lot", "1", "--psbt-out", unsigned]), { home, dataDir, env: cold });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/written as a PSBT/);
    expect(first.stderr).toMatch(/waiting for the signed PSBT/);
    const opened = await depositsOpened(start + 1);
    expect(opened).toHaveLength(1);
    // The clock has not started and nothing went to Bitcoin.
    expect(Number(await new ethers.Contract(opened[0], DEPOSIT_ABI, provider).currentState())).toBe(1);
    expect(outputsPaying(await depositScript(opened[0]))).toHaveLength(0);
    // keepctl deposits: waiting for the cold signer, the funding clock not started.
    const view = await runKeepctl(["--deployment", deploymentFile, "--json", "deposits", "--active"], { home, dataDir, env: {} });
    expect(view.code, view.stderr).toBe(0);
    const rows = (JSON.parse(view.stdout) as { deposits: DepositsRow[] }).deposits;
    expect(rows.map((x) => [x.deposit, x.state, x.stage, x.fundingDeadline, x.fundingTxid])).toEqual([[opened[0].toLowerCase(), "AWAITING_SIGNER_SETUP", "awaiting-psbt", null, null]]);
    expect(rows[0].signerSetupDeadline).toBe(iso((await operatorTimes(opened[0])).created + 3 * 3600));

    // The signer: keys straight from the mnemonic (not keepctl's code), by each input's bip32Derivation path.
    const tx = Transaction.fromPSBT(base64.decode(fs.readFileSync(unsigned, "utf8").trim()));
    for (let i = 0; i < tx.inputsLength; i++) {
      const [, { path: p }] = tx.getInput(i).bip32Derivation![0];
      tx.signIdx(account.deriveChild(p.at(-2)!).deriveChild(p.at(-1)!).privateKey!, i);
    }
    const signed = path.join(home, "funding-signed.psbt");
    fs.writeFileSync(signed, base64.encode(tx.toPSBT()) + "\n");

    net.setAutoMine(300);
    const second = await runKeepctl(mint(["--psbt-in", signed]), { home, dataDir, env: cold });
    net.setAutoMine(0);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/accepted from/);
    const expected = await expectMinted(opened, BTC);
    expect((await tbtcOf()) - before).toBe(expected);
  }, 240_000);
});

interface DepositsRow { deposit: string | null; state: string | null; stage: string; live: boolean; lotSatoshis: string; fundingTxid: string | null; signerSetupDeadline: string | null; fundingDeadline: string | null; tdt: string; tbtcMinted: string | null }

const iso = (t: number) => new Date(t * 1000).toISOString().replace(".000Z", "Z");

/** Block times of the deposit's DepositCloneCreated and of the operator's retrieveSignerPubkey to it. */
async function operatorTimes(deposit: string): Promise<{ created: number; retrieved?: number }> {
  const logs = await provider.getLogs({ address: devnet.deployment.addresses.DepositFactory, topics: [CLONE_CREATED], fromBlock: 0, toBlock: "latest" });
  const log = logs.find((l) => ethers.getAddress("0x" + l.data.slice(26)) === ethers.getAddress(deposit))!;
  const created = (await provider.getBlock(log.blockNumber))!.timestamp;
  let retrieved: number | undefined;
  for (let b = log.blockNumber; b <= (await provider.getBlockNumber()) && retrieved === undefined; b++) {
    const block = await provider.getBlock(b, true);
    if (block!.prefetchedTransactions.some((t) => t.to?.toLowerCase() === deposit.toLowerCase() && t.data.startsWith(RETRIEVE))) retrieved = block!.timestamp;
  }
  return { created, retrieved };
}

async function until(pred: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function killWhen(child: ChildProcess, pred: () => boolean): Promise<boolean> {
  const deadline = Date.now() + 120_000;
  let exited = false;
  child.once("exit", () => { exited = true; });
  while (!pred()) {
    if (exited) return false;
    if (Date.now() > deadline) throw new Error("condition not reached in 120 s");
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill("SIGKILL");
  await new Promise((r) => (exited ? r(undefined) : child.once("exit", r)));
  return true;
}
