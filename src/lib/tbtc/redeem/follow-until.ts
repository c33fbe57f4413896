import { sleep } from "../../chain/sleep";
import { followRedemptions, type FollowDeps, type FollowReport } from "./follow";
import { headBlock } from "./redeem-facts";
import type { HistoryTarget } from "./redemption-history";
import { HistoryCache } from "./redemption-history";

/**
 * `redeem --follow`: stays with the redemptions it just requested until each has ended — proven
 * (REDEEMED) or out of redemption for another reason (a timeout's liquidation) — passing over them
 * every `intervalSec`, with the same follow-up watch runs. Returns the last report of each.
 */
export async function followUntilDone(
  d: Omit<FollowDeps, "historyCache">,
  targets: readonly HistoryTarget[],
  o: { intervalSec: number; signal: AbortSignal; onPass?: (reports: FollowReport[]) => void },
): Promise<{ reports: FollowReport[]; interrupted: boolean }> {
  const cache = new HistoryCache();
  let reports: FollowReport[] = [];
  let left = [...targets];
  const last = new Map<string, FollowReport>();
  while (left.length) {
    const head = await headBlock(d.provider);
    reports = await followRedemptions({ ...d, historyCache: cache }, left, head);
    for (const r of reports) last.set(r.deposit.toLowerCase(), r);
    o.onPass?.(reports);
    // A deposit with no redemption on chain (its request reorged away, say) has nothing to follow.
    left = left.filter((t) => { const r = last.get(t.deposit.toLowerCase()); return r !== undefined && r.stage !== "ended"; });
    if (!left.length) break;
    if (o.signal.aborted) return { reports: [...last.values()], interrupted: true };
    await sleep(o.intervalSec * 1000, o.signal);
    if (o.signal.aborted) return { reports: [...last.values()], interrupted: true };
  }
  return { reports: [...last.values()], interrupted: false };
}
