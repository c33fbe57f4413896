import type { ethers } from "ethers";
import { ConfigError, shortMessageOf } from "../errors";
import { BlockClock, fetchEventObservations, fetchEventsAfter, type EventSourceOptions } from "./events";
import { SubgraphClient } from "./subgraph";
import { computeTwap, sortPoints } from "./twap";
import {
  DEFAULT_LOOKBACK, DEFAULT_TWAP_LENGTH, DEFAULT_UPDATE_RATE_DELAY, LookbackError,
  type RateObservation, type TimeWindow,
} from "./types";

/**
 * The RAI redemption-rate price feed: annualized redemption rate, time-weighted over `twapLength`.
 * Shaped like UMA's price feeds: `update()` fetches, then the getters answer synchronously from
 * what was fetched, so a bot can ask for many historical prices after one fetch.
 */
export type SourceChoice = "auto" | "subgraph" | "events";
/** What actually served the data: the lag rule can add events on top of the subgraph. */
export type SourceUsed = "subgraph" | "events" | "subgraph+events";

export interface RaiFeedOptions {
  /** Needed for the events source (and for the lag check in auto mode). */
  provider?: ethers.Provider;
  rateSetter?: string;
  subgraphUrl?: string;
  source?: SourceChoice;
  /** Seconds averaged by each price. Default 28800. */
  twapLength?: number;
  /** How far back from `now` historicalPrice may be asked. Default 28800. */
  lookback?: number;
  /** The RateSetter's delay between updates; the subgraph counts as lagging past it. Default 10800. */
  updateRateDelay?: number;
  chunkSize?: number;
  floorBlock?: number;
  subgraphTimeoutMs?: number;
  subgraphPageSize?: number;
}

export interface FeedState {
  now: number;
  /** Time range the observations cover (carry-in observation may be older). */
  fetched: TimeWindow;
  sourceUsed: SourceUsed;
  warnings: string[];
  observations: RateObservation[];
  /** HTTP requests made to the subgraph during the update. */
  subgraphRequests: number;
}

export class RaiFeed {
  readonly twapLength: number;
  readonly lookback: number;
  readonly updateRateDelay: number;
  private state?: FeedState;

  constructor(readonly opts: RaiFeedOptions) {
    this.twapLength = opts.twapLength ?? DEFAULT_TWAP_LENGTH;
    this.lookback = opts.lookback ?? DEFAULT_LOOKBACK;
    this.updateRateDelay = opts.updateRateDelay ?? DEFAULT_UPDATE_RATE_DELAY;
    if (!(this.twapLength > 0) || !Number.isInteger(this.twapLength)) throw new ConfigError(`twapLength must be a positive whole number of seconds, got ${this.twapLength}`);
    if (!(this.lookback >= 0) || !Number.isInteger(this.lookback)) throw new ConfigError(`lookback must be a whole number of seconds >= 0, got ${this.lookback}`);
    const source = opts.source ?? "auto";
    if (source !== "subgraph" && (!opts.provider || !opts.rateSetter)) {
      if (source === "events" || !opts.subgraphUrl) {
        throw new ConfigError("the events source needs an RPC endpoint and the RateSetter address", { hint: "pass --rpc-url and --rate-setter (or contracts.RateSetter in the deployment file), or --subgraph-url" });
      }
    }
    if (source === "subgraph" && !opts.subgraphUrl) throw new ConfigError("--source subgraph needs a subgraph URL", { hint: "pass --subgraph-url or set subgraphUrl" });
  }

  /** Fetches everything needed for prices at times in [now - lookback, now]. `now` defaults to the chain head's time. */
  async update(now?: number): Promise<FeedState> {
    const clock = this.opts.provider ? new BlockClock(this.opts.provider) : undefined;
    let head: number | undefined;
    if (now === undefined) {
      if (clock) {
        head = await clock.provider.getBlockNumber();
        now = await clock.timestampOf(head);
      } else now = Math.floor(Date.now() / 1000);
    }
    const fetched = { start: now - this.lookback - this.twapLength, end: now };
    const loaded = await this.load(fetched, clock, head);
    this.state = { now, fetched, ...loaded };
    return this.state;
  }

  private async load(window: TimeWindow, clock: BlockClock | undefined, head: number | undefined) {
    const source = this.opts.source ?? "auto";
    const warnings: string[] = [];
    const evOpts: EventSourceOptions = { rateSetter: this.opts.rateSetter ?? "", chunkSize: this.opts.chunkSize, floorBlock: this.opts.floorBlock };
    const fromEvents = async (): Promise<RateObservation[]> => fetchEventObservations(clock!, evOpts, window, head);
    if (source === "events" || (source === "auto" && !this.opts.subgraphUrl)) {
      return { sourceUsed: "events" as SourceUsed, warnings, observations: await fromEvents(), subgraphRequests: 0 };
    }
    const client = new SubgraphClient({ url: this.opts.subgraphUrl!, timeoutMs: this.opts.subgraphTimeoutMs, pageSize: this.opts.subgraphPageSize });
    if (source === "subgraph") {
      return { sourceUsed: "subgraph" as SourceUsed, warnings, observations: await client.fetchWindow(window), subgraphRequests: client.stats.requests };
    }
    let sub: RateObservation[];
    try {
      sub = await client.fetchWindow(window);
    } catch (e) {
      warnings.push(`subgraph unavailable (${shortMessageOf(e)}); used UpdateRedemptionRate events instead`);
      return { sourceUsed: "events" as SourceUsed, warnings, observations: await fromEvents(), subgraphRequests: client.stats.requests };
    }
    const latest = sub[sub.length - 1];
    if (!latest) {
      warnings.push("subgraph has no redemption rate for the window; used UpdateRedemptionRate events instead");
      return { sourceUsed: "events" as SourceUsed, warnings, observations: await fromEvents(), subgraphRequests: client.stats.requests };
    }
    // Lag rule: past one update delay since the newest indexed rate, the subgraph may be behind;
    // the chain has the truth. We take every newer event, not only the newest one, so a subgraph
    // that missed several updates still gives the chain's TWAP.
    let sourceUsed: SourceUsed = "subgraph";
    if (window.end > latest.timestamp + this.updateRateDelay) {
      if (!clock || !this.opts.rateSetter) {
        warnings.push(`subgraph's newest rate is ${window.end - latest.timestamp} s old and no RPC/RateSetter is configured to check for newer ones`);
      } else {
        const tail = (await fetchEventsAfter(clock, evOpts, latest.block, window.end, head)).filter((o) => o.timestamp >= latest.timestamp);
        if (tail.length) {
          warnings.push(`subgraph is behind: appended ${tail.length} newer rate(s) from UpdateRedemptionRate events`);
          sub.push(...tail);
          sourceUsed = "subgraph+events";
        }
      }
    }
    return { sourceUsed, warnings, observations: sortPoints(sub), subgraphRequests: client.stats.requests };
  }

  private need(): FeedState {
    if (!this.state) throw new LookbackError("the RAI feed has no data yet", { hint: "call update() first" });
    return this.state;
  }

  get lastUpdate(): FeedState | undefined {
    return this.state;
  }

  /** TWAP over [now - twapLength, now]; null when no rate is known in that window. */
  currentPrice(): bigint | null {
    return this.historicalPrice(this.need().now);
  }

  /** TWAP over [t - twapLength, t]. Throws LookbackError when t is outside what update() fetched. */
  historicalPrice(t: number): bigint | null {
    const s = this.need();
    const earliest = s.fetched.start + this.twapLength;
    if (t < earliest) {
      throw new LookbackError(`time ${t} is older than the feed's lookback (earliest ${earliest}, ${this.lookback} s before ${s.now})`, { hint: "raise lookback or update the feed for that time" });
    }
    if (t > s.now) throw new LookbackError(`time ${t} is after the feed's last update (${s.now})`, { hint: "update the feed first" });
    return computeTwap(s.observations, t - this.twapLength, t);
  }

  /** Observations in force during the window (including the one carried in at its start), oldest first. */
  observations(window?: TimeWindow): RateObservation[] {
    const s = this.need();
    const w = window ?? s.fetched;
    const inside = s.observations.filter((o) => o.timestamp > w.start && o.timestamp <= w.end);
    const carried = s.observations.filter((o) => o.timestamp <= w.start).pop();
    return carried ? [carried, ...inside] : inside;
  }
}
