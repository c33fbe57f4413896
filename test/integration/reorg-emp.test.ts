import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { startHardhatNode, type LocalNode } from "../../src/devnet/node";
import { deployEmp, seedSponsors, type EmpDeployment, type EmpSeed } from "../../src/devnet/uma";
import { connect, type KeepctlProvider } from "../../src/lib/chain/provider";
import { Journal } from "../../src/lib/chain/journal";
import { ActionSender, type SenderEvent } from "../../src/lib/chain/sender";
import type { Alert } from "../../src/lib/alert/types";
import { BotSender, botEventOf, type BotEvent } from "../../src/lib/uma/bot-sender";
import { fixedPrice, type BotContext } from "../../src/lib/uma/bot-loop";
import { EmpLiquidator } from "../../src/lib/uma/liquidator";
import { EmpClient, empInterface } from "../../src/lib/uma/emp-client";
import { FP_ONE } from "../../src/lib/uma/fixed-point";

/**
 * An EMP liquidation under reorgs (evm_snapshot / evm_revert, then a longer chain of empty blocks):
 * the liquidator's transactions from the approval or from the first liquidation on leave the
 * chain, `depth` blocks deep (1, 3, and 13: deeper than the 12 confirmations Hardhat gets). After
 * the next pass, counted from the chain: one LiquidationCreated per sponsor that needs one, each
 * of our calls exactly once, none reverted, and every journal "mined" a receipt the chain holds.
 */
const MNEMONIC = "test test test test test test test test test test test junk";
const keyOf = (i: number) => ethers.HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).privateKey;
let node: LocalNode;
let provider: KeepctlProvider;
let dep: EmpDeployment;
let seed: EmpSeed;
let client: EmpClient;
let world: string;

beforeAll(async () => {
  node = await startHardhatNode();
  provider = await connect({ rpcUrls: [node.rpcUrl], chainId: 31337 });
  dep = await deployEmp(await provider.getSigner(0));
  seed = await seedSponsors(dep, provider);
  client = new EmpClient(provider, dep.addresses.emp);
  world = await provider.send("evm_snapshot", []);
}, 120_000);

afterAll(async () => {
  provider?.destroy();
  await node?.stop();
});

beforeEach(async () => {
  await provider.send("evm_revert", [world]);
  world = await provider.send("evm_snapshot", []);
});

type Step = "approve" | "liquidation";

async function liquidator(step: Step) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-reorg-emp-"));
  const wallet = new ethers.Wallet(keyOf(seed.liquidator.index), provider);
  const journal = Journal.open(dataDir);
  const sent: SenderEvent[] = [];
  const alerts: Alert[] = [];
  const events: BotEvent[] = [];
  const state: { snap?: string } = {};
  const label = step === "approve" ? /^approve / : /^liquidate /;
  const action = new ActionSender(wallet, provider, journal, {
    maxFeeGwei: 100, dryRun: false, pollMs: 50,
    onEvent: (ev) => {
      sent.push(ev);
      const b = botEventOf(ev);
      if (b) events.push(b);
    },
    beforeBroadcast: async (_r, _h, _n, ctx) => {
      if (!state.snap && label.test(ctx.label)) state.snap = await provider.send("evm_snapshot", []);
    },
  });
  const ctx: BotContext = {
    client, params: await client.readParams(), sender: new BotSender(action, (e) => events.push(e)), price: fixedPrice(FP_ONE),
    emit: (e) => events.push(e), scan: { fromBlock: dep.deployBlock, chunkSize: 50 }, alert: async (a) => void alerts.push(a),
  };
  return { wallet, journal, sent, alerts, state, bot: new EmpLiquidator(ctx), action };
}

const mine = (n: number) => (n > 0 ? provider.send("hardhat_mine", [ethers.toQuantity(n)]) : Promise.resolve());
const needed = () => seed.sponsors.filter((s) => s.label === "cr-1.2" || s.label === "pending-withdrawal").map((s) => s.address.toLowerCase()).sort();

async function liquidationsBy(liq: string): Promise<Map<string, number>> {
  const logs = await provider.getLogs({ address: dep.addresses.emp, topics: [empInterface.getEvent("LiquidationCreated")!.topicHash], fromBlock: 0 });
  const by = new Map<string, number>();
  for (const l of logs) {
    const ev = empInterface.parseLog(l)!;
    if ((ev.args.liquidator as string).toLowerCase() !== liq.toLowerCase()) continue;
    const s = (ev.args.sponsor as string).toLowerCase();
    by.set(s, (by.get(s) ?? 0) + 1);
  }
  return by;
}

async function ourTxs(account: string, from: number): Promise<{ to: string; data: string; status: number }[]> {
  const out: { to: string; data: string; status: number }[] = [];
  for (let n = from; n <= (await provider.getBlockNumber()); n++) {
    for (const tx of (await provider.getBlock(n, true))?.prefetchedTransactions ?? []) {
      if (tx.from.toLowerCase() !== account.toLowerCase()) continue;
      out.push({ to: tx.to!.toLowerCase(), data: tx.data, status: (await provider.getTransactionReceipt(tx.hash))!.status ?? 0 });
    }
  }
  return out;
}

describe("reorgs of an EMP liquidation: the next pass leaves each needed liquidation exactly once", () => {
  for (const step of ["approve", "liquidation"] as Step[]) {
    for (const depth of [1, 3, 13]) {
      it(`from the ${step} on, ${depth} block(s) deep`, async () => {
        const from = (await provider.getBlockNumber()) + 1;
        const nonceBefore = await provider.getTransactionCount(seed.liquidator.address, "latest");
        const l = await liquidator(step);
        const first = await l.bot.runPass(1);
        expect(first.liquidations.map((x) => x.status)).toEqual(["liquidated", "liquidated"]);
        expect(l.state.snap).toBeDefined();
        await mine(depth - 1);
        await l.action.startSession(`${dep.addresses.emp}:`);
        const lastKey = `${dep.addresses.emp}:${seed.sponsors.find((s) => s.label === "pending-withdrawal")!.address}:liquidate`;
        expect(l.journal.get(lastKey)!.final === true).toBe(depth >= 12);
        await provider.send("evm_revert", [l.state.snap!]);
        await mine(depth + 1);
        expect([...(await liquidationsBy(seed.liquidator.address)).keys()].length).toBeLessThan(2); // the reorg took them back

        await l.bot.runPass(2);

        const by = await liquidationsBy(seed.liquidator.address);
        expect([...by.keys()].sort()).toEqual(needed());
        expect([...by.values()]).toEqual([1, 1]);
        const txs = await ourTxs(seed.liquidator.address, from);
        expect(txs.filter((t) => t.status !== 1)).toEqual([]);
        expect(new Set(txs.map((t) => `${t.to}:${t.data}`)).size).toBe(txs.length);
        expect(await provider.getTransactionCount(seed.liquidator.address, "latest")).toBe(nonceBefore + txs.length);
        for (const e of l.journal.entries().values()) {
          if (e.state !== "mined") continue;
          const r = await provider.getTransactionReceipt(e.minedHash!);
          expect(r?.blockNumber, `${e.key} journaled as mined`).toBe(e.blockNumber);
        }
        expect(l.sent.some((e) => e.type === "reorged" && e.key === lastKey && e.outcome === "rebroadcast")).toBe(true);
        expect(l.alerts.some((a) => a.key === `liquidated:${lastKey}` && a.title === "correction: EMP liquidate reorged away")).toBe(true);
      }, 180_000);
    }
  }
});
