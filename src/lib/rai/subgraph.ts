import { parseFixedLenient } from "../fixed-point";
import { annualize } from "./math";
import { sortPoints } from "./twap";
import { SubgraphError, type RateObservation, type TimeWindow } from "./types";

/**
 * Reflexer's subgraph as a source of redemption-rate history (GraphQL over HTTP POST).
 * Only perSecondRate is trusted: the subgraph's annualizedRate is a float64 and is good to about
 * nine digits, so the price is recomputed exactly from the per-second rate.
 */
export interface SubgraphOptions {
  url: string;
  /** Per HTTP request. Default 10 s. */
  timeoutMs?: number;
  /** Entities per page (the Graph caps `first` at 1000). */
  pageSize?: number;
}

export interface SubgraphStats {
  requests: number;
}

export const DEFAULT_SUBGRAPH_TIMEOUT_MS = 10_000;
const FIELDS = "id perSecondRate annualizedRate createdAt createdAtBlock";

// Everything after `start` up to `end`, oldest first. The cursor is the last createdAt seen
// (createdAt_gte) plus a skip over the rows already read at that same createdAt, so rates sharing
// a timestamp across a page edge are neither lost nor read twice.
export const PAGE_QUERY = `query RedemptionRates($from: BigInt!, $end: BigInt!, $first: Int!, $skip: Int!) {
  redemptionRates(first: $first, skip: $skip, orderBy: createdAt, orderDirection: asc, where: { createdAt_gte: $from, createdAt_lte: $end }) { ${FIELDS} }
}`;
// The rate in force at the window start: the newest one created at or before it.
export const IN_FORCE_QUERY = `query RateInForce($start: BigInt!) {
  redemptionRates(first: 1, orderBy: createdAt, orderDirection: desc, where: { createdAt_lte: $start }) { ${FIELDS} }
}`;

interface RawRate {
  id: string;
  perSecondRate: string;
  annualizedRate?: string;
  createdAt: string;
  createdAtBlock: string;
}

export class SubgraphClient {
  readonly stats: SubgraphStats = { requests: 0 };
  constructor(readonly opts: SubgraphOptions) {}

  private async post(query: string, variables: Record<string, unknown>): Promise<RawRate[]> {
    const timeoutMs = this.opts.timeoutMs ?? DEFAULT_SUBGRAPH_TIMEOUT_MS;
    this.stats.requests++;
    let res: Response;
    let body: unknown;
    try {
      res = await fetch(this.opts.url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      body = res.ok ? await res.json() : undefined;
    } catch (e) {
      const timedOut = (e as Error)?.name === "TimeoutError";
      throw new SubgraphError(timedOut ? `subgraph did not answer within ${timeoutMs} ms` : `subgraph request failed: ${(e as Error).message}`,
        { cause: e, hint: timedOut ? undefined : "check --subgraph-url / KEEPCTL_SUBGRAPH_URL, or use --source auto" });
    }
    if (!res.ok) throw new SubgraphError(`subgraph answered HTTP ${res.status}`);
    const doc = body as { data?: { redemptionRates?: RawRate[] }; errors?: { message?: string }[] };
    if (doc?.errors?.length) throw new SubgraphError(`subgraph returned an error: ${doc.errors[0]?.message ?? "unknown"}`);
    const rows = doc?.data?.redemptionRates;
    if (!Array.isArray(rows)) throw new SubgraphError("subgraph answer has no redemptionRates list");
    return rows;
  }

  /** Rates in force during [start, end]: the one at the start plus every change up to the end. */
  async fetchWindow(window: TimeWindow): Promise<RateObservation[]> {
    const first = Math.min(1000, Math.max(1, this.opts.pageSize ?? 1000));
    const out = (await this.post(IN_FORCE_QUERY, { start: String(window.start) })).map(toObservation);
    const seen = new Set<string>();
    let from = window.start + 1;
    let skip = 0;
    for (;;) {
      const page = await this.post(PAGE_QUERY, { from: String(from), end: String(window.end), first, skip });
      let added = 0;
      for (const row of page) {
        if (seen.has(row.id)) continue;
        seen.add(row.id);
        out.push(toObservation(row));
        added++;
      }
      if (page.length < first) break;
      const last = Number(page[page.length - 1].createdAt);
      if (added === 0) throw new SubgraphError(`subgraph paging made no progress at createdAt ${last}`);
      const atLast = page.filter((r) => Number(r.createdAt) === last).length;
      skip = last === from ? skip + atLast : atLast;
      if (skip > 5000) throw new SubgraphError(`subgraph has more than 5000 rates at createdAt ${last}; cannot page past them`);
      from = last;
    }
    return sortPoints(out);
  }
}

function toObservation(row: RawRate): RateObservation {
  let perSecondRate: bigint;
  try {
    // decimal string of a RAY value ("0.999999999848547411861463422") -> integer RAY
    perSecondRate = parseFixedLenient(row.perSecondRate, 27);
  } catch (e) {
    throw new SubgraphError(`subgraph sent an unreadable perSecondRate "${row.perSecondRate}"`, { cause: e });
  }
  const timestamp = Number(row.createdAt);
  const block = Number(row.createdAtBlock);
  if (!Number.isSafeInteger(timestamp) || !Number.isSafeInteger(block) || perSecondRate <= 0n) {
    throw new SubgraphError(`subgraph sent a malformed redemption rate (id ${row.id})`);
  }
  return { timestamp, block, perSecondRate, price: annualize(perSecondRate), source: "subgraph", txHash: undefined };
}
