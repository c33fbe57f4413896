import {
  AddressBook, buildFundingTx, buildReplacementTx, cappedFeeRate, CHANGE, historyLookup, planRbf, selectCoins, signHot, walletCoins,
  type Bip84Account, type BtcWalletChain, type HotSigner, type Payment, type Utxo,
} from "../../btc/wallet";
import type * as btc from "@scure/btc-signer";
import type { FundingRecord } from "./mint-journal";

/**
 * The funding transaction of one or more deposits, from the operator's hot wallet: every output
 * exactly its deposit's lot to the deposit's P2WPKH address (payments first, so output i funds
 * deposit i), the wallet's coin selection (no dust change, fee at the servers' estimate for the
 * blocks the window allows, never above --max-btc-fee-rate), a fresh change address. Signed and
 * checked here; the caller journals it before anything else happens.
 */
export interface MintWallet {
  account: Bip84Account;
  /** Absent: a watch-only wallet; funding transactions go out as PSBTs to `psbtOut`. */
  signer?: HotSigner;
  psbtOut?: string;
  book: AddressBook;
  chain: BtcWalletChain;
  maxFeeRateSatVb: number;
}

export interface FundingTarget {
  deposit: string;
  scriptHex: string;
  lotSats: bigint;
}

/** Coins the wallet can spend for a new funding: none spent by a journaled funding transaction. */
export async function spendableCoins(w: Pick<MintWallet, "account" | "book" | "chain">, reserved: ReadonlySet<string>): Promise<Utxo[]> {
  const { utxos } = await walletCoins(w.account, w.chain, w.book.read());
  return utxos.filter((u) => !reserved.has(`${u.txid}:${u.vout}`));
}

export type BuiltFunding = (Omit<FundingRecord, "broadcast"> & { notes: string[]; feeRateSatVb: number; unsigned?: undefined }) | { unsigned: btc.Transaction; inputs: string[]; notes: string[]; feeRateSatVb: number };

export async function buildDepositFunding(w: MintWallet, targets: readonly FundingTarget[], o: { targetBlocks: number; reserved: ReadonlySet<string> }): Promise<BuiltFunding> {
  const [utxos, rate] = await Promise.all([spendableCoins(w, o.reserved), cappedFeeRate(w.chain, o.targetBlocks, w.maxFeeRateSatVb)]);
  const payments: Payment[] = targets.map((t) => ({ scriptHex: t.scriptHex, valueSats: t.lotSats }));
  // The change address is reserved before selection (its script sizes the transaction); one unused is never handed out again.
  const change = await w.book.reserve(CHANGE, historyLookup(w.chain));
  const sel = selectCoins({ utxos, payments, feeRateSatVb: rate, maxFeeRateSatVb: w.maxFeeRateSatVb, changeScriptHex: change.scriptHex });
  const tx = buildFundingTx(w.account, sel, sel.change ? { chain: change.chain, index: change.index } : undefined);
  if (!w.signer) return { unsigned: tx, inputs: sel.inputs.map((u) => `${u.txid}:${u.vout}`), feeRateSatVb: sel.feeRateSatVb, notes: sel.notes };
  const signed = signHot(tx, w.account, w.signer);
  return {
    txid: signed.txid,
    rawHex: signed.rawHex,
    feeSats: signed.feeSats,
    vsize: signed.vsize,
    inputs: sel.inputs.map((u) => `${u.txid}:${u.vout}`),
    coins: sel.inputs.map((u) => ({ txid: u.txid, vout: u.vout, valueSats: u.valueSats, scriptHex: u.scriptHex, chain: u.chain, index: u.index })),
    change: sel.change ? { vout: targets.length, scriptHex: sel.change.scriptHex, valueSats: sel.change.valueSats, chain: change.chain, index: change.index } : undefined,
    outputs: targets.map((t, vout) => ({ deposit: t.deposit.toLowerCase(), vout, valueSats: t.lotSats, scriptHex: t.scriptHex })),
    notes: sel.notes,
    feeRateSatVb: sel.feeRateSatVb,
  };
}

/**
 * Before any deposit is opened: can the wallet pay `count` lots and the fee at today's rate? A
 * selection over stand-in P2WPKH outputs, so the shortfall is named (exit 6) before anything is sent.
 */
export async function checkBtcCovers(w: MintWallet, lotSats: bigint, count: number, o: { targetBlocks: number; reserved: ReadonlySet<string> }): Promise<{ feeSats: bigint; feeRateSatVb: number }> {
  const [utxos, rate] = await Promise.all([spendableCoins(w, o.reserved), cappedFeeRate(w.chain, o.targetBlocks, w.maxFeeRateSatVb)]);
  const standIn = "0014" + "00".repeat(20);
  const sel = selectCoins({ utxos, payments: Array.from({ length: count }, () => ({ scriptHex: standIn, valueSats: lotSats })), feeRateSatVb: rate, maxFeeRateSatVb: w.maxFeeRateSatVb, changeScriptHex: standIn });
  return { feeSats: sel.feeSats, feeRateSatVb: sel.feeRateSatVb };
}

/**
 * RBF of a stuck funding transaction (we signal it): the same coins, the same outputs to the same
 * deposits (each exactly its lot), the fee raised from the change to `targetRate` (and by the fees
 * of the descendants it evicts: our CPFP child, BIP125 rule 3). The caller
 * journals it as a replacement before broadcasting it. Undefined (with why) when it cannot be done.
 */
export function buildFundingReplacement(w: Pick<MintWallet, "account" | "signer" | "maxFeeRateSatVb">, f: FundingRecord, targetRate: number, descendantFeesSats = 0n): { record: Omit<FundingRecord, "broadcast">; feeRateSatVb: number } | { reason: string } {
  if (!w.signer) return { reason: "the wallet is watch-only: a replacement would need the cold signer (not automated)" };
  if (!f.coins || !f.change) return { reason: f.coins ? "it has no change output to take a higher fee from" : "the journal does not hold its coins (an older record)" };
  const payments: Payment[] = [...f.outputs].sort((a, b) => a.vout - b.vout).map((o) => ({ scriptHex: o.scriptHex, valueSats: o.valueSats }));
  const plan = planRbf({ vsize: f.vsize, feeSats: f.feeSats, inputsSats: f.coins.reduce((s, c) => s + c.valueSats, 0n), inputCount: f.coins.length, payments, change: { vout: f.change.vout, scriptHex: f.change.scriptHex, valueSats: f.change.valueSats }, descendantFeesSats }, targetRate, w.maxFeeRateSatVb);
  if (!plan.feasible) return { reason: plan.reason };
  const coins: Utxo[] = f.coins.map((c) => ({ ...c, confirmations: 1 }));
  const tx = buildReplacementTx(w.account, { inputs: coins, payments, change: { chain: f.change.chain, index: f.change.index } }, plan);
  const signed = signHot(tx, w.account, w.signer);
  return {
    feeRateSatVb: plan.feeRateSatVb,
    record: {
      txid: signed.txid, rawHex: signed.rawHex, feeSats: signed.feeSats, vsize: signed.vsize, inputs: f.inputs, coins: f.coins, outputs: f.outputs, replaces: f.txid,
      change: plan.change ? { ...f.change, valueSats: plan.change.valueSats } : undefined,
    },
  };
}
