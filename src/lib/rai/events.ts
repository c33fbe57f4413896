import type { ethers } from "ethers";
import { getLogsChunked, SCAN_LOG_CONCURRENCY } from "../chain/logs";
import { RpcError } from "../errors";
import { annualize } from "./math";
import { sortPoints } from "./twap";
import { UPDATE_REDEMPTION_RATE_TOPIC, rateSetterInterface, type RateObservation, type TimeWindow } from "./types";

/**
 * Redemption-rate history straight from the chain: the RateSetter's UpdateRedemptionRate logs,
 * each timestamped by its block. Slower than the subgraph but needs nothing except an RPC node.
 */
export interface EventSourceOptions {
  rateSetter: string;
  /** Blocks per eth_getLogs call. */
  chunkSize?: number;
  /** Never search for logs below this block (e.g. the RateSetter's deployment). Default 0. */
  floorBlock?: number;
}

/** Blocks probed per step of blockAtOrBefore's search (one JSON-RPC batch). */
const SEARCH_PROBES = 63;

/** Block timestamps fetched once per run; concurrent calls share JSON-RPC batches. */
export class BlockClock {
  private readonly cache = new Map<number, number>();
  constructor(readonly provider: ethers.Provider) {}

  async timestampOf(block: number): Promise<number> {
    const hit = this.cache.get(block);
    if (hit !== undefined) return hit;
    const b = await this.provider.getBlock(block);
    if (!b) throw new RpcError(`the RPC node has no block ${block}`);
    this.cache.set(block, b.timestamp);
    return b.timestamp;
  }

  /**
   * Timestamps of many blocks, all requested at once: the provider packs them batchMaxCount to an
   * HTTP request and sends those side by side. A year of hourly rates is 8,760 blocks; 100 at a
   * time, one batch after another, cost 88 sequential round trips.
   */
  async timestampsOf(blocks: number[]): Promise<Map<number, number>> {
    const unique = [...new Set(blocks)];
    await Promise.all(unique.map((b) => this.timestampOf(b)));
    return new Map(unique.map((b) => [b, this.cache.get(b)!]));
  }

  /** Highest block whose timestamp is <= ts (binary search; timestamps never decrease), or -1. */
  async blockAtOrBefore(ts: number, head: number): Promise<number> {
    const headTs = await this.timestampOf(head);
    if (headTs <= ts) return head;
    // Each block is at least one second after its parent, so the answer is at most
    // (headTs - ts) blocks below head: a much shorter search than from genesis.
    let lo = Math.max(0, head - (headTs - ts) - 1);
    if ((await this.timestampOf(lo)) > ts) {
      if (lo === 0 || (await this.timestampOf(0)) > ts) return -1;
      lo = 0; // a chain with equal timestamps (some devnets): search it all
    }
    let hi = head; // timestamp(hi) > ts
    // A search with SEARCH_PROBES blocks per step, sent together (one round trip): a year of
    // blocks (2.6M) takes 4 steps where halving takes 22 sequential round trips.
    while (hi - lo > 1) {
      const step = (hi - lo) / (SEARCH_PROBES + 1);
      const probes = [...new Set(Array.from({ length: SEARCH_PROBES }, (_, i) => lo + Math.max(1, Math.round(step * (i + 1)))).filter((b) => b > lo && b < hi))];
      const times = await Promise.all(probes.map((b) => this.timestampOf(b)));
      for (let i = 0; i < probes.length; i++) {
        if (times[i] <= ts) lo = probes[i];
        else {
          hi = probes[i];
          break;
        }
      }
    }
    return lo;
  }
}

async function rateLogs(provider: ethers.Provider, opts: EventSourceOptions, fromBlock: number, toBlock: number): Promise<ethers.Log[]> {
  return getLogsChunked(provider, { address: opts.rateSetter, topics: [UPDATE_REDEMPTION_RATE_TOPIC], fromBlock, toBlock }, { chunkSize: opts.chunkSize, concurrency: SCAN_LOG_CONCURRENCY });
}

async function toObservations(clock: BlockClock, logs: ethers.Log[]): Promise<RateObservation[]> {
  const times = await clock.timestampsOf(logs.map((l) => l.blockNumber));
  return logs.map((log) => {
    const parsed = rateSetterInterface.decodeEventLog("UpdateRedemptionRate", log.data, log.topics);
    const perSecondRate = parsed.redemptionRate as bigint;
    return {
      timestamp: times.get(log.blockNumber)!,
      block: log.blockNumber,
      logIndex: log.index,
      perSecondRate,
      price: annualize(perSecondRate),
      source: "events" as const,
      txHash: log.transactionHash,
    };
  });
}

/** The newest rate change at or below `toBlock`, searching backwards one chunk at a time. */
export async function latestEventAtOrBefore(clock: BlockClock, opts: EventSourceOptions, toBlock: number): Promise<RateObservation | undefined> {
  const step = Math.max(1, opts.chunkSize ?? 5000);
  const floor = opts.floorBlock ?? 0;
  for (let to = toBlock; to >= floor; to -= step) {
    const logs = await rateLogs(clock.provider, opts, Math.max(floor, to - step + 1), to);
    if (logs.length) return (await toObservations(clock, [logs[logs.length - 1]]))[0];
  }
  return undefined;
}

/**
 * Every rate change in force during [start, end]: the changes inside it plus the one in force at
 * `start` (the newest at or before it), oldest first.
 */
export async function fetchEventObservations(clock: BlockClock, opts: EventSourceOptions, window: TimeWindow, head?: number): Promise<RateObservation[]> {
  const top = head ?? (await clock.provider.getBlockNumber());
  const endBlock = await clock.blockAtOrBefore(window.end, top);
  if (endBlock < 0) return [];
  const startBlock = Math.max(0, await clock.blockAtOrBefore(window.start, endBlock));
  const inWindow = (await toObservations(clock, await rateLogs(clock.provider, opts, Math.max(startBlock, opts.floorBlock ?? 0), endBlock)))
    .filter((o) => o.timestamp <= window.end);
  const out = sortPoints(inWindow);
  if (!out.some((o) => o.timestamp <= window.start)) {
    const before = await latestEventAtOrBefore(clock, opts, startBlock - 1);
    if (before) out.unshift(before);
  }
  return out;
}

/** Rate changes in blocks after `afterBlock` with timestamps <= `end` (the subgraph's missing tail). */
export async function fetchEventsAfter(clock: BlockClock, opts: EventSourceOptions, afterBlock: number, end: number, head?: number): Promise<RateObservation[]> {
  const top = head ?? (await clock.provider.getBlockNumber());
  const endBlock = await clock.blockAtOrBefore(end, top);
  if (endBlock <= afterBlock) return [];
  const obs = await toObservations(clock, await rateLogs(clock.provider, opts, afterBlock + 1, endBlock));
  return sortPoints(obs.filter((o) => o.timestamp <= end));
}
