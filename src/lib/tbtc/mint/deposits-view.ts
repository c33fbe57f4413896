import type { ethers } from "ethers";
import { shortMessageOf } from "../../errors";
import { stateName } from "../abis";
import { mintDepositInterface } from "./mint-abi";
import { readDepositFacts, type MintAddresses } from "./mint-facts";
import { fundingsOf, pendingPsbtOf, type MintJournal } from "./mint-journal";
import { depositStage, type DepositStage } from "./deposit-stage";

/**
 * `keepctl deposits`: the operator's own minting deposits, each slot of each mint order in the
 * mint journal joined with what the real Deposit contract says now (state, the timers' starts,
 * the lot, the TDT's owner). Ethereum only: the Bitcoin side is what the journal recorded.
 */
export interface MintDepositRow {
  order: string;
  slot: number;
  account: string;
  deposit?: string;
  lotSats: bigint;
  state?: string;
  stage: DepositStage;
  live: boolean;
  outcome?: string;
  createdAt?: number;
  signerSetupDeadline?: number;
  fundingTimerStart?: number;
  fundingDeadline?: number;
  /** The latest journaled funding transaction paying the deposit (an RBF replacement after the first). */
  fundingTxid?: string;
  /** Every journaled funding txid, the first first (one funding and its replacements). */
  fundingTxids: string[];
  fundingBroadcast: boolean;
  psbtTxid?: string;
  tdtOwner?: string;
  tdt: "ours" | "ours-approved" | "vending-machine" | "other" | "none";
  /** TBTC the VendingMachine paid for the TDT (lot − signer fee), once minted. */
  tbtcMintedWei?: bigint;
  error?: string;
}

export async function readMintDeposits(p: ethers.JsonRpcProvider, c: MintAddresses, journal: MintJournal, o: { fromBlock: number; account?: string }): Promise<MintDepositRow[]> {
  const js = journal.read();
  const orders = [...js.orders.values()].filter((x) => !o.account || x.account === o.account.toLowerCase());
  const rows: Promise<MintDepositRow>[] = [];
  for (const order of orders) {
    for (let slot = 0; slot < order.count; slot++) {
      const deposit = order.deposits.get(slot);
      const base = { order: order.id, slot, account: order.account, deposit, lotSats: order.lotSats, outcome: order.ended.get(slot), fundingTxids: [] as string[], fundingBroadcast: false };
      if (!deposit) {
        // Ended without a deposit (never opened) or createDeposit not mined yet.
        rows.push(Promise.resolve({ ...base, ...depositStage(noFacts), live: !order.ended.has(slot), tdt: "none" as const }));
        continue;
      }
      rows.push((async (): Promise<MintDepositRow> => {
        const fundings = fundingsOf(js, deposit);
        const psbt = pendingPsbtOf(js, deposit);
        const fundingBroadcast = fundings.some((f) => f.record.broadcast);
        try {
          const [facts, lot, signerFee] = await Promise.all([
            readDepositFacts(p, c, deposit, o.fromBlock, order.account),
            call(p, deposit, "lotSizeSatoshis").catch(() => order.lotSats),
            call(p, deposit, "signerFeeTbtc").catch(() => undefined),
          ]);
          const owner = facts.tdtOwner.toLowerCase();
          const tdtOwner = owner === order.account ? "us" : owner === c.vendingMachine.toLowerCase() ? "vending-machine" : "other";
          const tdtApproved = facts.tdtApproved.toLowerCase() === c.vendingMachine.toLowerCase();
          const view = depositStage({ state: facts.state, keyPublished: !!facts.pubkey64, createdAt: facts.createdAt, fundingTimerStart: facts.fundingTimerStart, fundingJournaled: fundings.length > 0, fundingBroadcast, psbtPending: !!psbt, tdtOwner, tdtApproved });
          return {
            ...base, ...view, lotSats: lot, state: stateName(facts.state), createdAt: facts.createdAt, fundingTimerStart: facts.fundingTimerStart,
            fundingTxid: fundings.at(-1)?.record.txid, fundingTxids: fundings.map((f) => f.record.txid), fundingBroadcast, psbtTxid: psbt?.txid, tdtOwner: facts.tdtOwner,
            tdt: tdtOwner === "us" ? (tdtApproved ? "ours-approved" : "ours") : tdtOwner,
            tbtcMintedWei: view.stage === "minted" && signerFee !== undefined ? lot * 10n ** 10n - signerFee : undefined,
          };
        } catch (e) {
          return { ...base, stage: "opening", live: true, tdt: "none", fundingTxid: fundings.at(-1)?.record.txid, fundingTxids: fundings.map((f) => f.record.txid), fundingBroadcast, error: shortMessageOf(e) };
        }
      })());
    }
  }
  return Promise.all(rows);
}

const noFacts = { keyPublished: false, fundingJournaled: false, fundingBroadcast: false, psbtPending: false, tdtOwner: "other" as const, tdtApproved: false };

async function call(p: ethers.JsonRpcProvider, to: string, fn: "lotSizeSatoshis" | "signerFeeTbtc"): Promise<bigint> {
  const raw = await p.send("eth_call", [{ to, data: mintDepositInterface.encodeFunctionData(fn) }, "latest"]);
  return mintDepositInterface.decodeFunctionResult(fn, raw)[0] as bigint;
}
