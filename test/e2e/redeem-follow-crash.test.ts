import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { devnetWallet, type Devnet } from "../../src/devnet/scenario";
import { setEthBtcPrice } from "../../src/devnet/tbtc";
import { startAutoSigner, type AutoSigner } from "../../src/devnet/autosign";
import { transactionsFrom } from "../../src/devnet/chaos";
import { startRedeemDevnet } from "../helpers/redeem-devnet";
import { buildOnce, spawnKeepctl } from "../helpers/cli";

/**
 * `redeem --follow` killed with SIGKILL at two steps of its redemptions — once its keep signature
 * is sent, once its proof is sent — and started again each time: the chains must show exactly one
 * provideRedemptionSignature and one provideRedemptionProof per deposit from the key, and both
 * deposits REDEEMED (read from the contracts, not from keepctl's output).
 */
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-follow-crash-"));
const BTC = 100_000_000n;
const PAYOUT = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx";
const REDEEMED = ethers.id("Redeemed(address,bytes32,uint256)");
const SIG_SELECTOR = ethers.id("provideRedemptionSignature(uint8,bytes32,bytes32)").slice(0, 10);
const PROOF_SELECTOR = ethers.id("provideRedemptionProof(bytes4,bytes,bytes,bytes4,bytes,uint256,bytes)").slice(0, 10);
const operator = devnetWallet(1).address;
const deposits: string[] = [];
let devnet: Devnet;
let provider: ethers.JsonRpcProvider;
let redeemer: ethers.Wallet;
let signer: AutoSigner;
let deploymentFile: string;
const dataDir = path.join(home, "data");

beforeAll(async () => {
  buildOnce();
  // 2 deposits of the operator's, and TBTC for both redemptions plus the signer fees.
  const net = await startRedeemDevnet(home, { lotSats: 1n * BTC, tbtcWei: 2n * 10n ** 18n + 10n ** 16n });
  ({ devnet, provider, deploymentFile, redeemer } = net);
  deposits.push(...net.deposits);
  signer = startAutoSigner(devnet.deployment, { intervalMs: 200 });
}, 300_000);

afterAll(async () => {
  signer?.stop();
  provider?.destroy();
  await devnet?.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

const journal = () => {
  const f = path.join(dataDir, "journal.jsonl");
  // Read while keepctl appends: a last line still being written is skipped, the next poll sees it.
  const parse = (l: string): { key: string; state: string }[] => { try { return [JSON.parse(l)]; } catch { return []; } };
  return fs.existsSync(f) ? fs.readFileSync(f, "utf8").split("\n").filter(Boolean).flatMap(parse) : [];
};

describe("redeem --follow, killed at each step and started again", () => {
  it("exactly one signature and one proof per deposit, both REDEEMED, counted from the chain", async () => {
    await setEthBtcPrice(devnet.deployment, 0.024);
    const env = { KEEPCTL_PRIVATE_KEY: redeemer.privateKey, KEEPCTL_BTC_ADDRESS: PAYOUT, KEEPCTL_INTERVAL: "1" };
    const args = ["--deployment", deploymentFile, "redeem", "--operator", operator, "--yes", "--follow"];
    const run = () => spawnKeepctl(args, { home, dataDir, env });
    const killWhen = async (child: ChildProcess, pred: () => boolean, what: string): Promise<boolean> => {
      const deadline = Date.now() + 120_000;
      let exited = false;
      child.once("exit", () => { exited = true; });
      while (!pred()) {
        if (exited) return false;
        if (Date.now() > deadline) throw new Error(`no ${what} in 120 s: ${JSON.stringify(journal().slice(-6))}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      child.kill("SIGKILL");
      await new Promise((r) => (exited ? r(undefined) : child.once("exit", r)));
      return true;
    };

    // 1. Killed as soon as a keep signature is sent (the Bitcoin network mines nothing yet).
    const first = run();
    const killed1 = await killWhen(first.child, () => journal().some((l) => /:signature:/.test(l.key) && l.state === "sent"), "signature sent");
    expect(killed1, first.stderr()).toBe(true);

    // 2. Started again with Bitcoin blocks every 300 ms and Ethereum blocks every second (a sent
    //    transaction waits in the mempool for up to a second); killed once a proof is sent.
    devnet.bitcoin!.net.setAutoMine(300);
    await provider.send("evm_setAutomine", [false]);
    await provider.send("evm_setIntervalMining", [1000]);
    let second;
    let killed2 = false;
    try {
      second = run();
      killed2 = await killWhen(second.child, () => journal().some((l) => /:redemption-proof$/.test(l.key) && l.state === "sent"), "proof sent");
    } finally {
      await provider.send("evm_setIntervalMining", [0]);
      await provider.send("evm_setAutomine", [true]);
      // Turning automine back on mines nothing by itself: what waits in the mempool goes in a block now.
      await provider.send("evm_mine", []);
    }

    expect(killed2, second!.stderr()).toBe(true);

    // 3. Started once more: it settles what was in flight and finishes.
    const thirdRun = run();
    const guard = setTimeout(() => thirdRun.child.kill("SIGKILL"), 180_000);
    const third = await thirdRun.done;
    clearTimeout(guard);
    devnet.bitcoin!.net.setAutoMine(0);
    expect(third.code, `${second.stderr()}\n---\n${third.stderr}`).toBe(0);

    const txs = await transactionsFrom(provider, redeemer.address, 0);
    expect(txs.filter((t) => t.status !== 1)).toEqual([]);
    for (const d of deposits) {
      const to = d.toLowerCase();
      expect(txs.filter((t) => t.to === to && t.data.startsWith(SIG_SELECTOR)), `${d} signatures`).toHaveLength(1);
      expect(txs.filter((t) => t.to === to && t.data.startsWith(PROOF_SELECTOR)), `${d} proofs`).toHaveLength(1);
      expect(await provider.getLogs({ topics: [REDEEMED, ethers.zeroPadValue(d, 32)], fromBlock: 0, toBlock: "latest" }), `${d} Redeemed`).toHaveLength(1);
      expect(Number(await new ethers.Contract(d, ["function currentState() view returns (uint256)"], provider).currentState()), d).toBe(7);
    }
    // approve + 2 requests + 2 signatures + 2 proofs: nothing else was ever signed.
    expect(await provider.getTransactionCount(redeemer.address)).toBe(7);
  }, 400_000);
});
