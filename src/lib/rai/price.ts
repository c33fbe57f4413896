import { RaiFeed, type RaiFeedOptions, type SourceUsed } from "./feed";
import { formatFixed } from "./math";
import { NoPriceError, type RateObservation, type TimeWindow } from "./types";

/** One price, as `keepctl rai-price` reports it. */
export interface RaiPriceResult {
  /** Annualized redemption rate TWAP, wei (18 decimals). */
  price: bigint;
  /** The same as an exact decimal string, e.g. "0.995235179127827689". */
  priceDecimal: string;
  window: TimeWindow;
  sourceUsed: SourceUsed;
  warnings: string[];
  /** Observations the TWAP used (the carried-in one first). */
  observations: RateObservation[];
}

/**
 * Price at `at` (default: chain head time) = TWAP over [at - windowSec, at]. Throws NoPriceError
 * when no known rate covers any second of the window.
 */
export async function fetchRaiPrice(opts: Omit<RaiFeedOptions, "twapLength" | "lookback"> & { at?: number; windowSec: number }): Promise<RaiPriceResult> {
  const feed = new RaiFeed({ ...opts, twapLength: opts.windowSec, lookback: 0 });
  const state = await feed.update(opts.at);
  const window = { start: state.now - opts.windowSec, end: state.now };
  const price = feed.currentPrice();
  if (price === null) {
    throw new NoPriceError(`no redemption rate is known for the window ${iso(window.start)} .. ${iso(window.end)}`, {
      hint: "pick a later --at or a longer --window, or check --rate-setter / --subgraph-url",
      details: { window, sourceUsed: state.sourceUsed, warnings: state.warnings },
    });
  }
  return { price, priceDecimal: formatFixed(price, 18), window, sourceUsed: state.sourceUsed, warnings: state.warnings, observations: feed.observations(window) };
}

function iso(t: number): string {
  return new Date(t * 1000).toISOString().replace(".000Z", "Z");
}
