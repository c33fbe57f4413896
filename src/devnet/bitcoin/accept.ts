import { COINBASE_MATURITY } from "./block";
import type { Chain } from "./chain";
import { isFinalTx, meetsRelativeLocks, type CoinAge } from "./locktime";
import type { Mempool, MempoolEntry } from "./mempool";
import {
  checkStandalone, feeFor, feeRatePerKvB, feeRateText, formatMoney, rejected, RPC_DESERIALIZATION_ERROR, RPC_TRANSACTION_ALREADY_IN_CHAIN, RPC_TRANSACTION_ERROR, TxRejected,
} from "./policy";
import { verifyInputs } from "./sigcheck";
import { parseTx, totalOut, type Tx, type TxOut } from "./tx";

export interface PolicySettings {
  /** -minrelaytxfee, sat/kvB. */
  minRelayFeePerKvB: bigint;
  /** -incrementalrelayfee, sat/kvB: what a replacement must add per vB of its own size. */
  incrementalRelayFeePerKvB: bigint;
  /** Core 28's -mempoolfullrbf (default on): replace without BIP125 signalling. */
  fullRbf: boolean;
}

export interface AcceptOptions {
  /** Re-adding after a block or reorg (Core's bypass_limits): no fee-rate or package-limit checks. */
  bypassLimits?: boolean;
  /** sendrawtransaction's maxfeerate (sat/kvB; Core's default 0.10 BTC/kvB); 0 or undefined: none. */
  maxFeeRatePerKvB?: bigint;
  time: number;
}

export interface Accepted {
  tx: Tx;
  /** Entries evicted by this replacement (conflicts and their descendants). */
  replaced: MempoolEntry[];
  /** The same transaction was already in the mempool (sendrawtransaction answers its txid). */
  alreadyKnown: boolean;
}

const ANCESTOR_LIMIT = 25;
const DESCENDANT_LIMIT = 25;
const MAX_REPLACEMENT_EVICTIONS = 100;
const signalsRbf = (tx: Tx) => tx.inputs.some((i) => i.sequence < 0xfffffffe);

/** Core's mempool acceptance (AcceptToMemoryPool) in its order of checks, with its reject texts. */
export function acceptTransaction(raw: Uint8Array | Tx, chain: Chain, mempool: Mempool, settings: PolicySettings, o: AcceptOptions): Accepted {
  let tx: Tx;
  try {
    tx = raw instanceof Uint8Array ? parseTx(raw) : raw;
  } catch {
    throw new TxRejected(RPC_DESERIALIZATION_ERROR, "TX decode failed. Make sure the tx has at least one input.");
  }
  checkStandalone(tx);
  const known = mempool.get(tx.txid);
  if (known) {
    if (known.tx.wtxid === tx.wtxid) return { tx: known.tx, replaced: [], alreadyKnown: true };
    throw rejected("txn-same-nonwitness-data-in-mempool");
  }
  const spendHeight = chain.height + 1;
  if (!isFinalTx(tx, spendHeight, chain.nextBlockMtp())) throw rejected("non-final");
  if (tx.outputs.some((_, n) => chain.coin(tx.txid, n))) throw new TxRejected(RPC_TRANSACTION_ALREADY_IN_CHAIN, "Transaction outputs already in utxo set");

  const conflicts = new Set<string>();
  for (const input of tx.inputs) {
    const s = mempool.spender(input.prevTxid, input.vout);
    if (s) conflicts.add(s.txid);
  }
  if (!settings.fullRbf) for (const c of conflicts) if (!signalsRbf(mempool.get(c)!.tx)) throw rejected("txn-mempool-conflict");

  const prevouts: TxOut[] = [];
  const ages: CoinAge[] = [];
  const parents = new Set<string>();
  for (const input of tx.inputs) {
    const coin = chain.coin(input.prevTxid, input.vout);
    const parent = coin ? undefined : mempool.get(input.prevTxid);
    const out = coin ?? parent?.tx.outputs[input.vout];
    if (!out) throw new TxRejected(RPC_TRANSACTION_ERROR, "bad-txns-inputs-missingorspent");
    if (coin?.coinbase && spendHeight - coin.height < COINBASE_MATURITY) throw rejected(`bad-txns-premature-spend-of-coinbase, tried to spend coinbase at depth ${spendHeight - coin.height}`);
    if (parent) parents.add(parent.tx.txid);
    prevouts.push(out);
    ages.push(coin ? { height: coin.height, mtpBefore: chain.mtpBefore(coin.height) } : { height: spendHeight, mtpBefore: chain.nextBlockMtp() });
  }
  if (!meetsRelativeLocks(tx, ages, spendHeight, chain.nextBlockMtp())) throw rejected("non-BIP68-final");
  const valueIn = prevouts.reduce((s, p) => s + p.value, 0n);
  if (valueIn < totalOut(tx)) throw rejected(`bad-txns-in-belowout, value in (${formatMoney(valueIn)}) < value out (${formatMoney(totalOut(tx))})`);
  const fee = valueIn - totalOut(tx);
  const vsize = tx.vsize;

  if (!o.bypassLimits) {
    const required = feeFor(settings.minRelayFeePerKvB, vsize);
    if (fee < required) throw rejected(`min relay fee not met, ${fee} < ${required}`);
    const ancestors = new Set<string>(parents);
    for (const p of parents) for (const a of mempool.ancestors(p)) ancestors.add(a);
    if (ancestors.size + 1 > ANCESTOR_LIMIT) throw rejected(`too-long-mempool-chain, too many unconfirmed ancestors [limit: ${ANCESTOR_LIMIT}]`);
    for (const a of ancestors) {
      if (conflicts.has(a)) continue;
      if (mempool.descendants(a, true).size + 1 > DESCENDANT_LIMIT) throw rejected(`too-long-mempool-chain, too many descendants for tx ${a} [limit: ${DESCENDANT_LIMIT}]`);
    }
  }
  if (conflicts.size) checkReplacement(tx, fee, parents, conflicts, mempool, settings);

  if (!chain.verified.has(tx.wtxid)) {
    const failure = verifyInputs(tx, prevouts, true);
    if (failure) throw rejected(failure.reason);
    chain.verified.add(tx.wtxid);
  }
  if (o.maxFeeRatePerKvB && fee > feeFor(o.maxFeeRatePerKvB, vsize)) throw new TxRejected(RPC_TRANSACTION_ERROR, "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)");

  const replaced = mempool.removeWithDescendants(conflicts);
  mempool.add({ tx, fee, vsize, prevouts, time: o.time });
  for (const out of tx.outputs) chain.noteScript(out.script);
  return { tx, replaced, alreadyKnown: false };
}

/** BIP125 as Core 28 applies it (rules 2–5 and the feerate rule), after signalling was checked. */
function checkReplacement(tx: Tx, fee: bigint, parents: Set<string>, conflicts: Set<string>, mempool: Mempool, s: PolicySettings): void {
  const evicted = new Set<string>();
  for (const c of conflicts) for (const d of mempool.descendants(c, true)) evicted.add(d);
  if (evicted.size > MAX_REPLACEMENT_EVICTIONS) throw rejected(`too many potential replacements, rejecting replacement ${tx.txid}; too many potential replacements (${evicted.size} > ${MAX_REPLACEMENT_EVICTIONS})`);
  const parentsOfConflicts = new Set<string>();
  for (const c of conflicts) for (const p of mempool.get(c)!.parents) parentsOfConflicts.add(p);
  tx.inputs.forEach((input, idx) => {
    if (parents.has(input.prevTxid) && !parentsOfConflicts.has(input.prevTxid)) throw rejected(`replacement-adds-unconfirmed, replacement ${tx.txid} adds unconfirmed input, idx ${idx}`);
  });
  for (const p of parents) {
    for (const a of [p, ...mempool.ancestors(p)]) if (evicted.has(a)) throw rejected(`bad-txns-spends-conflicting-tx, ${tx.txid} spends conflicting transaction ${a}`);
  }
  const newRate = feeRatePerKvB(fee, tx.vsize);
  for (const c of conflicts) {
    const e = mempool.get(c)!;
    const oldRate = feeRatePerKvB(e.fee, e.vsize);
    if (newRate <= oldRate) throw rejected(`insufficient fee, rejecting replacement ${tx.txid}; new feerate ${feeRateText(newRate)} <= old feerate ${feeRateText(oldRate)}`);
  }
  const evictedFees = [...evicted].reduce((sum, t) => sum + mempool.get(t)!.fee, 0n);
  if (fee < evictedFees) throw rejected(`insufficient fee, rejecting replacement ${tx.txid}, less fees than conflicting txs; ${formatMoney(fee)} < ${formatMoney(evictedFees)}`);
  const needed = feeFor(s.incrementalRelayFeePerKvB, tx.vsize);
  if (fee - evictedFees < needed) throw rejected(`insufficient fee, rejecting replacement ${tx.txid}, not enough additional fees to relay; ${formatMoney(fee - evictedFees)} < ${formatMoney(needed)}`);
}
