import {
  AddressBook, buildFundingTx, cappedFeeRate, CHANGE, historyLookup, selectCoins, signHot, walletCoins,
  type Bip84Account, type BtcWalletChain, type HotSigner, type Payment, type Utxo,
} from "../../btc/wallet";
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
  signer: HotSigner;
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

export async function buildDepositFunding(w: MintWallet, targets: readonly FundingTarget[], o: { targetBlocks: number; reserved: ReadonlySet<string> }): Promise<Omit<FundingRecord, "broadcast"> & { notes: string[]; feeRateSatVb: number }> {
  const [utxos, rate] = await Promise.all([spendableCoins(w, o.reserved), cappedFeeRate(w.chain, o.targetBlocks, w.maxFeeRateSatVb)]);
  const payments: Payment[] = targets.map((t) => ({ scriptHex: t.scriptHex, valueSats: t.lotSats }));
  // The change address is reserved before selection (its script sizes the transaction); one unused is never handed out again.
  const change = await w.book.reserve(CHANGE, historyLookup(w.chain));
  const sel = selectCoins({ utxos, payments, feeRateSatVb: rate, maxFeeRateSatVb: w.maxFeeRateSatVb, changeScriptHex: change.scriptHex });
  const tx = buildFundingTx(w.account, sel, sel.change ? { chain: change.chain, index: change.index } : undefined);
  const signed = signHot(tx, w.account, w.signer);
  return {
    txid: signed.txid,
    rawHex: signed.rawHex,
    feeSats: signed.feeSats,
    vsize: signed.vsize,
    inputs: sel.inputs.map((u) => `${u.txid}:${u.vout}`),
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
