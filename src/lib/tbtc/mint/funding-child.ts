import { buildCpfpChildTx, dustThreshold, feeRateOf, signHot, type Bip84Account, type CpfpPlan, type HotSigner, type ReservedAddress, type Utxo } from "../../btc/wallet";
import { hex } from "@scure/base";
import type { ChildRecord, FundingRecord } from "./mint-journal";

/**
 * CPFP: the child of a stuck funding transaction — one input, the funding's change output (our
 * key, at the path the funding record names), one output to a fresh change address of ours worth
 * the change less the plan's fee — built and signed with @scure/btc-signer like every other
 * wallet transaction, its signature checked before it leaves. The deposits' outputs are not
 * touched. The caller journals the record before broadcasting it.
 */
export function buildFundingChild(w: { account: Bip84Account; signer?: HotSigner }, parent: FundingRecord, plan: Extract<CpfpPlan, { feasible: true }>, to: Pick<ReservedAddress, "chain" | "index" | "scriptHex">): { record: Omit<ChildRecord, "broadcast">; packageRateSatVb: number } | { reason: string } {
  if (!w.signer) return { reason: "the wallet is watch-only: a child would need the cold signer (not automated)" };
  const change = parent.change;
  if (!change) return { reason: "it has no change output for a child to spend" };
  if (plan.childValueSats < dustThreshold(hex.decode(to.scriptHex))) return { reason: `the child's output of ${plan.childValueSats} sat would be dust` };
  const coin: Utxo = { txid: parent.txid, vout: change.vout, valueSats: change.valueSats, scriptHex: change.scriptHex, confirmations: 0, chain: change.chain, index: change.index };
  const signed = signHot(buildCpfpChildTx(w.account, coin, { chain: to.chain, index: to.index }, plan), w.account, w.signer);
  return {
    packageRateSatVb: feeRateOf(parent.feeSats + signed.feeSats, parent.vsize + signed.vsize),
    record: {
      txid: signed.txid, rawHex: signed.rawHex, parent: parent.txid, input: `${parent.txid}:${change.vout}`, feeSats: signed.feeSats, vsize: signed.vsize,
      output: { scriptHex: to.scriptHex, valueSats: plan.childValueSats, chain: to.chain, index: to.index },
    },
  };
}
