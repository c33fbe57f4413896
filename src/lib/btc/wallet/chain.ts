import { ConfigError } from "../../errors";
import { CHANGE, RECEIVE, type AddressChain, type Bip84Account } from "./account";
import type { AddressCounters } from "./address-book";
import { discoverNextIndex, GAP_LIMIT } from "./address-policy";
import { spendOrder, type Utxo } from "./coin-select";
import type { SignedTx } from "./funding-tx";

/**
 * All the wallet asks of the Bitcoin network, as a narrow interface that the data layer's client
 * (several Electrum/Esplora servers with failover and checked headers, src/lib/btc/) satisfies.
 * Scripts are given as hex scriptPubKeys; an Electrum client turns each into its scripthash.
 */
export interface BtcWalletChain {
  /** Unspent outputs paying `scriptHex`, mempool ones included with 0 confirmations. */
  unspent(scriptHex: string): Promise<ChainUtxo[]>;
  /** Transactions paying or spending `scriptHex`, confirmed or in the mempool (height 0 or below). */
  history(scriptHex: string): Promise<{ txid: string; height: number }[]>;
  /** Broadcasts a raw transaction (hex); resolves to the txid the server computed. */
  broadcast(rawHex: string): Promise<string>;
  /** The servers' fee rate estimate, sat/vB, to confirm within `targetBlocks`. */
  feeRate(targetBlocks: number): Promise<number>;
}

export interface ChainUtxo {
  txid: string;
  vout: number;
  valueSats: bigint;
  confirmations: number;
}

/** The address book's question ("has any of these scripts a history?") answered by the chain. */
export function historyLookup(chain: Pick<BtcWalletChain, "history">): (scriptHexes: string[]) => Promise<boolean[]> {
  return async (scripts) => Promise.all(scripts.map(async (s) => (await chain.history(s)).length > 0));
}

/**
 * How far the wallet's coins can reach on each chain: every index handed out (below the counters),
 * and past the counter every address until `gapLimit` in a row have no history (a restored seed
 * without counters, or the same seed used by another wallet). The end of each range, exclusive.
 */
export async function walletExtent(account: Bip84Account, chain: Pick<BtcWalletChain, "history">, counters: AddressCounters | undefined, gapLimit = GAP_LIMIT): Promise<AddressCounters> {
  const lookup = historyLookup(chain);
  const end = async (c: AddressChain, from: number) => from + (await discoverNextIndex((indexes) => lookup(indexes.map((i) => account.scriptHex(c, from + i))), gapLimit));
  const [receive, change] = await Promise.all([end(RECEIVE, counters?.receive ?? 0), end(CHANGE, counters?.change ?? 0)]);
  return { receive, change };
}

export interface CoinSummary {
  /** Coins with at least one confirmation (proven in a verified block). */
  confirmedSats: bigint;
  confirmedCoins: number;
  /** Coins in the mempool (the servers' word). */
  unconfirmedSats: bigint;
  unconfirmedCoins: number;
}

export function summarizeCoins(utxos: readonly Pick<Utxo, "valueSats" | "confirmations">[]): CoinSummary {
  const s: CoinSummary = { confirmedSats: 0n, confirmedCoins: 0, unconfirmedSats: 0n, unconfirmedCoins: 0 };
  for (const u of utxos) {
    if (u.confirmations > 0) {
      s.confirmedSats += u.valueSats;
      s.confirmedCoins++;
    } else {
      s.unconfirmedSats += u.valueSats;
      s.unconfirmedCoins++;
    }
  }
  return s;
}

/**
 * The wallet's coins: the unspent outputs of every address handed out so far (indexes below the
 * counters), each tagged with where its key is derived.
 */
export async function walletUtxos(account: Bip84Account, chain: Pick<BtcWalletChain, "unspent">, counters: AddressCounters): Promise<Utxo[]> {
  const refs: { chain: AddressChain; index: number }[] = [];
  for (let i = 0; i < counters.receive; i++) refs.push({ chain: RECEIVE, index: i });
  for (let i = 0; i < counters.change; i++) refs.push({ chain: CHANGE, index: i });
  const lists = await Promise.all(refs.map(async (r) => {
    const scriptHex = account.scriptHex(r.chain, r.index);
    return (await chain.unspent(scriptHex)).map((u): Utxo => {
      if (!/^[0-9a-f]{64}$/.test(u.txid) || !Number.isInteger(u.vout) || u.vout < 0 || typeof u.valueSats !== "bigint" || u.valueSats <= 0n || !Number.isInteger(u.confirmations) || u.confirmations < 0) {
        throw new Error(`the Bitcoin server answered a malformed unspent output for ${scriptHex}`);
      }
      return { ...u, scriptHex, chain: r.chain, index: r.index };
    });
  }));
  return lists.flat();
}

/**
 * Every coin of the wallet, in the order coin selection spends them (confirmed first, largest
 * first), with the extent scanned (walletExtent).
 */
export async function walletCoins(account: Bip84Account, chain: Pick<BtcWalletChain, "unspent" | "history">, counters: AddressCounters | undefined): Promise<{ utxos: Utxo[]; extent: AddressCounters }> {
  const extent = await walletExtent(account, chain, counters);
  const utxos = await walletUtxos(account, chain, extent);
  return { utxos: utxos.sort(spendOrder), extent };
}

/** The servers' estimate for `targetBlocks`, refused above the cap (nothing is signed above it). */
export async function cappedFeeRate(chain: Pick<BtcWalletChain, "feeRate">, targetBlocks: number, maxFeeRateSatVb: number): Promise<number> {
  const rate = await chain.feeRate(targetBlocks);
  if (!Number.isFinite(rate) || rate <= 0) throw new Error(`the Bitcoin servers' fee estimate ${rate} sat/vB is not a rate`);
  if (rate > maxFeeRateSatVb) {
    throw new ConfigError(`the Bitcoin fee rate for ${targetBlocks} blocks is ${rate} sat/vB, above --max-btc-fee-rate ${maxFeeRateSatVb} sat/vB; nothing is signed above the cap`, {
      code: "FEE_CAP",
      hint: "wait for lower fees, or raise --max-btc-fee-rate (env KEEPCTL_MAX_BTC_FEE_RATE)",
    });
  }
  return rate;
}

/** Broadcasts a signed transaction; a server that names another txid is not believed. */
export async function broadcastSigned(chain: Pick<BtcWalletChain, "broadcast">, tx: SignedTx): Promise<string> {
  const txid = await chain.broadcast(tx.rawHex);
  if (txid.toLowerCase() !== tx.txid) throw new Error(`the Bitcoin server answered txid ${txid} for transaction ${tx.txid}`);
  return tx.txid;
}
