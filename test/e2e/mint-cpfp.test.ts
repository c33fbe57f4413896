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
import { BTC, DEPOSIT_ABI, depositScript, depositsOpened, fundedEvents, outputsPaying } from "../helpers/mint-chains";

/**
 * A stuck funding transaction bumped by `keepctl mint` on the devnet, RBF or CPFP by what is
 * cheaper, counted on the Bitcoin double's blocks and the real tBTC contracts' Funded events.
 *
 * The market: once the 1 sat/vB funding is in the mempool, blocks of 3000 vB full of 1.1 sat/vB
 * filler traffic (the parent alone never gets in) and the servers estimating 1.2 sat/vB. The
 * decision's arithmetic (BIP125 rules 3-4, a 110 vB P2WPKH child), worked here:
 * - 3 lots in one funding (1 input, 4 outputs: 203 vB, 203 sat): RBF must pay max(1.2 × 203,
 *   203 + 203) = 406, 203 more; a child pays ceil(1.2 × (203 + 110)) − 203 = 173. CPFP.
 * - 1 lot (1 input, 2 outputs: 141 vB, 141 sat): RBF 282, 141 more; a child 302 − 141 = 161. RBF.
 */
const ABANDON = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const PASSWORD = "correct horse battery staple";
const REGTEST = { bech32: "bcrt", pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };
const account = HDKey.fromMasterSeed(mnemonicToSeedSync(ABANDON), { private: 0x04358394, public: 0x043587cf }).derive("m/84'/1'/0'");
const receiveAddress = (i: number) => p2wpkh(account.deriveChild(0).deriveChild(i).publicKey!, REGTEST).address!;

const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-mint-cpfp-"));
const dataDir = path.join(home, "data");
const journalFile = path.join(dataDir, "mint-journal.jsonl");
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
  for (const [i, v] of [[0, 12n * BTC], [1, 12n * BTC]] as const) net.wallet.fund(receiveAddress(i), v);
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
type Line = { type: string; txid?: string; replaces?: string; parent?: string; input?: string; change?: { vout: number } };
const lines = (): Line[] => (fs.existsSync(journalFile) ? fs.readFileSync(journalFile, "utf8").split("\n").filter(Boolean).flatMap((l) => { try { return [JSON.parse(l) as Line]; } catch { return []; } }) : []);

/** Every transaction of the Bitcoin double (blocks, then mempool) spending `txid:vout`, with the height it was mined at (0: mempool). */
function spendersOf(txid: string, vout: number): { txid: string; height: number }[] {
  const node = devnet.bitcoin!.net.node;
  const out: { txid: string; height: number }[] = [];
  const scan = (tx: { txid: string; inputs: { prevTxid: string; vout: number }[] }, height: number) => { if (tx.inputs.some((i) => i.prevTxid === txid && i.vout === vout)) out.push({ txid: tx.txid, height }); };
  for (let h = 1; h <= node.chain.height; h++) for (const tx of node.chain.entryAt(h)!.block.txs) scan(tx, h);
  for (const e of node.mempool.all()) scan(e.tx, 0);
  return out;
}
const heightOf = (txid: string) => devnet.bitcoin!.net.node.findTx(txid)?.block?.height;

/** The market that leaves a 1 sat/vB transaction behind and takes a 1.2 sat/vB package. */
function tightMarket(o: { mining: boolean }): void {
  const net = devnet.bitcoin!.net;
  net.setMaxBlockVsize(3000);
  net.setFeePressure({ feeRate: 1.1, vsize: 9000 });
  net.setFeeEstimates(Object.fromEntries(Array.from({ length: 25 }, (_, i) => [i + 1, 1.2])));
  if (o.mining) net.setAutoMine(300);
}
function calmMarket(): void {
  const net = devnet.bitcoin!.net;
  net.setAutoMine(0);
  net.setFeePressure(undefined);
  net.setMaxBlockVsize(1_000_000);
  net.setFeeEstimates("mempool");
  net.mine(1);
}

async function until(pred: () => boolean, what: string, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!pred()) {
    if (child && child.exitCode !== null) throw new Error(`${what}: keepctl exited first (${child.exitCode})`);
    if (Date.now() > deadline) throw new Error(`${what}: not within 120 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Each deposit: ACTIVE, exactly one output of the lot to its address on Bitcoin (blocks and mempool), one Funded event. */
async function expectFundedOnce(deposits: string[]): Promise<string[]> {
  const txids: string[] = [];
  for (const d of deposits) {
    expect(Number(await new ethers.Contract(d, DEPOSIT_ABI, provider).currentState()), `${d} ACTIVE`).toBe(4);
    const outs = outputsPaying(devnet, await depositScript(provider, d));
    expect(outs.map((o) => o.value), `${d} outputs on Bitcoin`).toEqual([BTC]);
    expect(await fundedEvents(devnet, provider, d), `${d} Funded`).toBe(1);
    txids.push(outs[0].txid);
  }
  return txids;
}

describe("keepctl mint: a stuck funding bumped by the cheaper of RBF and CPFP", () => {
  it("3 × 1 BTC in one 203 vB funding: CPFP from its change; killed once the child is journaled, the child dropped from the mempool, restarted: the same child re-sent, one funding, proven", async () => {
    const start = await provider.getBlockNumber();
    const known = new Set(lines().map((l) => l.txid));
    const ours = () => lines().filter((l) => !known.has(l.txid));
    const net = devnet.bitcoin!.net;
    const first = spawnKeepctl(mint(["--lot", "1", "--count", "3"]), { home, dataDir, env });
    let second!: Awaited<ReturnType<typeof runKeepctl>>;
    try {
      await until(() => ours().some((l) => l.type === "funding" && net.node.mempool.has(l.txid!)), "funding in the mempool", first.child);
      // No blocks yet: the estimate alone makes it stuck; the bump's child cannot be mined before the kill.
      tightMarket({ mining: false });
      // The child line is in the journal: killed there (before or after its broadcast, whichever came first).
      await until(() => ours().some((l) => l.type === "child"), "a CPFP child journaled", first.child);
      first.child.kill("SIGKILL");
      await first.done;
      // Whether it left or not, no server knows it now (as if the process had died before the broadcast).
      const child = ours().find((l) => l.type === "child")!.txid!;
      net.dropTransaction(child);
      expect(net.node.mempool.has(child)).toBe(false);
      net.setAutoMine(300);
      second = await runKeepctl(mint(["--lot", "1", "--count", "3"]), { home, dataDir, env });
      expect(second.stderr).toMatch(new RegExp(`CPFP child transaction ${child} of funding transaction [0-9a-f]{64} re-sent`));
    } finally {
      first.child.kill("SIGKILL");
      calmMarket();
    }
    expect(second.code, `${first.stderr()}\n--- restarted\n${second.stderr}`).toBe(0);
    if (process.env.MINT_TRANSCRIPT) fs.appendFileSync(process.env.MINT_TRANSCRIPT, `--- cpfp, killed\n${first.stderr()}\n--- restarted\n${second.stderr}\n`);
    const opened = await depositsOpened(devnet, provider, operator.address, start + 1);
    expect(opened).toHaveLength(3);
    const txids = await expectFundedOnce(opened);
    const fundings = ours().filter((l) => l.type === "funding");
    // One funding, never replaced; it is what pays all three deposits.
    expect(fundings.map((l) => l.replaces ?? null)).toEqual([null]);
    expect(new Set(txids)).toEqual(new Set([fundings[0].txid]));
    const children = ours().filter((l) => l.type === "child");
    expect(children).toHaveLength(1);
    const changeVout = fundings[0].change!.vout;
    expect(children[0]).toMatchObject({ parent: fundings[0].txid, input: `${fundings[0].txid}:${changeVout}` });
    // On the chain: exactly one transaction ever spent the change — the journaled child — mined in the parent's block.
    const spenders = spendersOf(fundings[0].txid, changeVout);
    expect(spenders.map((s) => s.txid)).toEqual([children[0].txid]);
    expect(spenders[0].height).toBe(heightOf(fundings[0].txid));
  }, 400_000);

  it("1 × 1 BTC in a 141 vB funding, the same market: RBF (cheaper than a child here), no child; one output, proven", async () => {
    const start = await provider.getBlockNumber();
    const known = new Set(lines().map((l) => l.txid));
    const ours = () => lines().filter((l) => !known.has(l.txid));
    const net = devnet.bitcoin!.net;
    const run = spawnKeepctl(mint(["--lot", "1"]), { home, dataDir, env });
    let r!: Awaited<typeof run.done>;
    try {
      await until(() => ours().some((l) => l.type === "funding" && net.node.mempool.has(l.txid!)), "funding in the mempool", run.child);
      tightMarket({ mining: true });
      r = await run.done;
    } finally {
      run.child.kill("SIGKILL");
      calmMarket();
    }
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/replaced \(RBF\)/);
    if (process.env.MINT_TRANSCRIPT) fs.appendFileSync(process.env.MINT_TRANSCRIPT, `--- rbf\n${r.stderr}\n`);
    const opened = await depositsOpened(devnet, provider, operator.address, start + 1);
    expect(opened).toHaveLength(1);
    const [txid] = await expectFundedOnce(opened);
    const fundings = ours().filter((l) => l.type === "funding");
    expect(fundings).toHaveLength(2);
    expect(fundings[1].replaces).toBe(fundings[0].txid);
    expect(txid).toBe(fundings[1].txid);
    expect(ours().filter((l) => l.type === "child")).toEqual([]);
    // The first funding's change was never spent by anything (no child was made).
    expect(spendersOf(fundings[0].txid, fundings[0].change!.vout)).toEqual([]);
  }, 300_000);
});
