import { KeepctlError, shortMessageOf } from "../../errors";
import { fromHex } from "../../btc";
import { buildFundingReplacement } from "./mint-funding";
import type { MintDeps, SlotReport } from "./mint-flow";
import type { FundingRecord } from "./mint-journal";

/** One bump per stuck transaction per pass, whichever of its deposits asks first. */
export function bumpOnce(d: MintDeps, record: FundingRecord, market: number, deposit: string, report: SlotReport, done: Map<string, Promise<boolean>>): Promise<boolean> {
  let p = done.get(record.txid);
  if (!p) {
    p = bump(d, record, market, deposit, report);
    done.set(record.txid, p);
  }
  return p;
}

/**
 * RBF: the stuck funding replaced by one paying the market's rate for the blocks left, the same
 * outputs to the same deposits; journaled as a replacement of the same funding before it leaves.
 * CPFP is not tried: a replacement needs no second transaction to confirm.
 */
async function bump(d: MintDeps, record: FundingRecord, market: number, deposit: string, report: SlotReport): Promise<boolean> {
  const r = buildFundingReplacement(d.wallet, record, market);
  if ("reason" in r) {
    report.alerts.push({ key: `funding-stuck:${deposit}`, level: "critical", title: "stuck funding cannot be bumped", text: `${deposit}: funding transaction ${record.txid} pays ${(Number(record.feeSats) / record.vsize).toFixed(1)} sat/vB, below the ${market.toFixed(1)} sat/vB the window's blocks need, and cannot be replaced: ${r.reason}` });
    return false;
  }
  d.journal.recordFunding(r.record);
  d.journal.recordBroadcast(r.record.txid);
  try {
    await d.btc.broadcast(fromHex(r.record.rawHex, "transaction"));
  } catch (e) {
    report.alerts.push({ key: `btc-broadcast:${deposit}`, level: "warning", title: "funding replacement refused", text: `${deposit}: no Bitcoin server took replacement ${r.record.txid} of ${record.txid}: ${e instanceof KeepctlError ? e.message : shortMessageOf(e)}` });
    return false;
  }
  report.fundingTxid = r.record.txid;
  d.onNote?.(`funding transaction ${record.txid} was stuck at ${(Number(record.feeSats) / record.vsize).toFixed(1)} sat/vB; replaced (RBF) by ${r.record.txid} at ${r.feeRateSatVb.toFixed(1)} sat/vB, the same outputs`);
  return true;
}
