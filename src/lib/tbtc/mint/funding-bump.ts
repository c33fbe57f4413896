import { ExitCode, KeepctlError, shortMessageOf } from "../../errors";
import { fromHex } from "../../btc";
import { CHANGE, feeRateOf, historyLookup, type StuckTx } from "../../btc/wallet";
import { decideFundingBump, type FundingBumpDecision } from "./funding-bump-decide";
import { buildFundingChild } from "./funding-child";
import { buildFundingReplacement } from "./mint-funding";
import type { MintDeps, SlotReport } from "./mint-flow";
import type { ChildRecord, FundingRecord } from "./mint-journal";

/** One bump per stuck transaction per pass, whichever of its deposits asks first. */
export function bumpOnce(d: MintDeps, record: FundingRecord, market: number, deposit: string, report: SlotReport, done: Map<string, Promise<boolean>>): Promise<boolean> {
  let p = done.get(record.txid);
  if (!p) {
    p = bump(d, record, market, deposit, report);
    done.set(record.txid, p);
  }
  return p;
}

/** The journaled funding as the fee-bump planners see it (undefined: an older record without its coins). */
export function stuckTxOf(f: FundingRecord): StuckTx | undefined {
  if (!f.coins) return undefined;
  return {
    vsize: f.vsize, feeSats: f.feeSats, inputsSats: f.coins.reduce((s, c) => s + c.valueSats, 0n), inputCount: f.coins.length,
    payments: [...f.outputs].sort((a, b) => a.vout - b.vout).map((o) => ({ scriptHex: o.scriptHex, valueSats: o.valueSats })),
    change: f.change && { vout: f.change.vout, scriptHex: f.change.scriptHex, valueSats: f.change.valueSats },
  };
}

const rateText = (fee: bigint, vsize: number) => `${feeRateOf(fee, vsize).toFixed(1)} sat/vB`;

/**
 * A funding waiting below the rate the window's blocks need (mint-decide's `bump-fee`): RBF or
 * CPFP, whichever funding-bump-decide.ts finds cheaper for the target. Either is journaled before
 * it leaves — a replacement as a funding record that `replaces` this one, a child as the
 * funding's one child line — so a restart re-sends what is journaled and never builds a second
 * funding or a second child. A journaled child whose package already pays the target is only
 * re-sent (it may never have left, or fallen out of the mempools); one whose package no longer
 * does is not replaced itself: the funding is (RBF, paying the evicted child's fee too).
 */
async function bump(d: MintDeps, record: FundingRecord, market: number, deposit: string, report: SlotReport): Promise<boolean> {
  const child = d.journal.read().children.get(record.txid);
  const stuck = stuckTxOf(record);
  const decision: FundingBumpDecision = stuck
    ? decideFundingBump({ funding: stuck, child: child && { feeSats: child.feeSats, vsize: child.vsize }, targetRate: market, maxRate: d.wallet.maxFeeRateSatVb, watchOnly: !d.wallet.signer })
    : { action: "stuck", reason: "the journal does not hold its coins (an older record)" };
  const was = `funding transaction ${record.txid} was stuck at ${rateText(record.feeSats, record.vsize)}`;
  switch (decision.action) {
    case "none":
      return child ? sendChild(d, child, deposit, report, `${deposit}: CPFP child transaction ${child.txid} of funding transaction ${record.txid} re-sent (the package pays ${decision.packageRateSatVb.toFixed(1)} sat/vB)`) : false;
    case "stuck":
      cannotBump(record, market, deposit, report, decision.reason);
      return false;
    case "rbf":
      return replace(d, record, market, deposit, report, child, was);
    case "cpfp": {
      const to = await d.wallet.book.reserve(CHANGE, historyLookup(d.wallet.chain));
      const built = buildFundingChild(d.wallet, record, decision.cpfp, to);
      if ("reason" in built) {
        cannotBump(record, market, deposit, report, built.reason);
        return false;
      }
      // Journaled (fsynced) before it can leave: a crash from here on re-sends these very bytes.
      d.journal.recordChild(built.record);
      return sendChild(d, { ...built.record, broadcast: false }, deposit, report, `${was}; CPFP child transaction ${built.record.txid} spends its change with a ${built.record.feeSats} sat fee, the package at ${built.packageRateSatVb.toFixed(1)} sat/vB (cheaper than a replacement)`);
    }
  }
}

function cannotBump(record: FundingRecord, market: number, deposit: string, report: SlotReport, reason: string): void {
  report.alerts.push({ key: `funding-stuck:${deposit}`, level: "critical", title: "stuck funding cannot be bumped", text: `${deposit}: funding transaction ${record.txid} pays ${rateText(record.feeSats, record.vsize)}, below the ${market.toFixed(1)} sat/vB the window's blocks need, and can be bumped neither by RBF nor by CPFP: ${reason}` });
}

async function sendChild(d: MintDeps, child: ChildRecord, deposit: string, report: SlotReport, note: string): Promise<boolean> {
  if (!child.broadcast) d.journal.recordBroadcast(child.txid);
  try {
    const r = await d.btc.broadcast(fromHex(child.rawHex, "transaction"));
    if (r.txid !== child.txid) throw new KeepctlError("BTC_BAD_DATA", ExitCode.RPC, `a Bitcoin server answered tx ${r.txid} for CPFP child transaction ${child.txid}`);
  } catch (e) {
    report.alerts.push({ key: `btc-broadcast:${deposit}`, level: "warning", title: "CPFP child refused", text: `${deposit}: no Bitcoin server took CPFP child transaction ${child.txid} of funding transaction ${child.parent}: ${e instanceof KeepctlError ? e.message : shortMessageOf(e)}` });
    return false;
  }
  d.onNote?.(note);
  return true;
}

/** RBF: the same outputs to the same deposits, the fee from the change (and the fee of a child it evicts). */
async function replace(d: MintDeps, record: FundingRecord, market: number, deposit: string, report: SlotReport, child: ChildRecord | undefined, was: string): Promise<boolean> {
  const r = buildFundingReplacement(d.wallet, record, market, child?.feeSats ?? 0n);
  if ("reason" in r) {
    cannotBump(record, market, deposit, report, r.reason);
    return false;
  }
  d.journal.recordFunding(r.record);
  d.journal.recordBroadcast(r.record.txid);
  try {
    await d.btc.broadcast(fromHex(r.record.rawHex, "transaction"));
  } catch (e) {
    report.alerts.push({ key: `btc-broadcast:${deposit}`, level: "warning", title: "funding replacement refused", text: `${deposit}: no Bitcoin server took replacement transaction ${r.record.txid} of transaction ${record.txid}: ${e instanceof KeepctlError ? e.message : shortMessageOf(e)}` });
    return false;
  }
  report.fundingTxid = r.record.txid;
  d.onNote?.(`${was}; replaced (RBF) by transaction ${r.record.txid} at ${r.feeRateSatVb.toFixed(1)} sat/vB, the same outputs${child ? ` (its CPFP child transaction ${child.txid} evicted and paid for)` : ""}`);
  return true;
}
