import type { RaiSection, RpcSection } from "../config";
import { connect } from "../chain/provider";
import { checkStartBlock, FUTURE_TOLERANCE_SEC, headPolicyOf, preflightRateSetter } from "../chain/preflight";
import { ConfigError, UsageError } from "../errors";
import { RaiFeed, type RaiFeedOptions, type SourceChoice, type SourceUsed } from "./feed";
import { formatFixedPadded } from "../fixed-point";
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
  return { price, priceDecimal: formatFixedPadded(price, 18), window, sourceUsed: state.sourceUsed, warnings: state.warnings, observations: feed.observations(window) };
}

/**
 * `keepctl rai-price` from a loaded config: picks the sources, connects only when the chain is
 * needed or available, refuses a RateSetter address without code, and always closes what it opened.
 */
export async function raiPriceFromConfig(rai: RaiSection, rpc: RpcSection, o: { source?: SourceChoice; at?: number; windowSec?: number; onRpcWarning?: (message: string) => void }): Promise<RaiPriceResult> {
  const source = o.source ?? rai.source;
  const subgraphUrl = rai.subgraphUrl;
  const rateSetter = rai.rateSetter ?? rai.contracts.RateSetter;
  const needsChain = source === "events" || (source === "auto" && !subgraphUrl);
  if (needsChain && rpc.urls.length === 0) throw new ConfigError("no RPC URL configured (the events source reads the chain)", { hint: "pass --rpc-url-file or --rpc-url (env KEEPCTL_RPC_URLS_FILE / KEEPCTL_RPC_URLS), or give --subgraph-url-file" });
  if (needsChain && !rateSetter) throw new ConfigError(`no RateSetter address for network ${rai.network}`, { hint: "pass --rate-setter ADDR or add contracts.RateSetter to the deployment file" });
  const provider = rpc.urls.length > 0 && rateSetter
    ? await connect({ rpcUrls: rpc.urls, chainId: rpc.chainId, timeoutMs: rpc.timeoutMs, retries: rpc.retries, batchMaxCount: rpc.batchMaxCount, maxLagBlocks: rpc.maxLagBlocks, onWarning: o.onRpcWarning })
    : undefined;
  try {
    // The head bounds --at and must be fresh; the RateSetter must answer as one (exit 3 if not).
    const pre = provider && rateSetter ? await preflightRateSetter(provider, { rateSetter, policy: headPolicyOf(rpc, "warn") }) : undefined;
    // The events source scans from the start block: from past the head it would find no rate (exit 7).
    if (pre && needsChain) checkStartBlock(rai.startBlock, pre.head);
    if (o.at !== undefined) checkAt(o.at, pre?.head.timestamp ?? Math.floor(Date.now() / 1000), pre !== undefined);
    const result = await fetchRaiPrice({
      provider, rateSetter, subgraphUrl, source,
      at: o.at,
      windowSec: o.windowSec ?? rai.twapLength,
      updateRateDelay: rai.updateRateDelay,
      chunkSize: rai.logChunkSize,
      floorBlock: rai.startBlock,
      subgraphTimeoutMs: rai.subgraphTimeoutMs,
    });
    if (pre) result.warnings.unshift(...pre.warnings);
    return result;
  } finally {
    provider?.destroy();
  }
}

/**
 * --at is a time the chain has reached: not past the head (or, with no chain, this machine's
 * clock), and a number a date can hold. Exit 2 otherwise, never a price for a time to come. The
 * head may be idle for a while (a quiet devnet, a slow block), so a head-age tolerance applies.
 */
function checkAt(at: number, latest: number, fromChain: boolean): void {
  if (!Number.isSafeInteger(at) || at < 0 || at > 253_402_300_799) {
    throw new UsageError(`--at ${at} is out of range: give unix seconds or an ISO date up to the present`);
  }
  if (at > latest + FUTURE_TOLERANCE_SEC) {
    const what = fromChain ? `the chain head's time ${iso(latest)}` : `the present (${iso(latest)})`;
    throw new UsageError(`--at ${iso(at)} is after ${what}: there is no price for a time to come`, { hint: "leave out --at for the latest price, or give a past time" });
  }
}

function iso(t: number): string {
  return new Date(t * 1000).toISOString().replace(".000Z", "Z");
}
