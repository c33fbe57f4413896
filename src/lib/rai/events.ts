import type { ethers } from "ethers";
import { getLogsChunked } from "../chain/logs";
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

  /** Timestamps of many blocks, requested 100 at a time so the provider batches them. */
  async timestampsOf(blocks: number[]): Promise<Map<number, number>> {
    const unique = [...new Set(blocks)];
    for (let i = 0; i < unique.length; i += 100) await Promise.all(unique.slice(i, i + 100).map((b) => this.timestampOf(b)));
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
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if ((await this.timestampOf(mid)) <= ts) lo = mid;
      else hi = mid;
    }
    return lo;
  }
}

async function rateLogs(provider: ethers.Provider, opts: EventSourceOptions, fromBlock: number, toBlock: number): Promise<ethers.Log[]> {
  return getLogsChunked(provider, { address: opts.rateSetter, topics: [UPDATE_REDEMPTION_RATE_TOPIC], fromBlock, toBlock }, { chunkSize: opts.chunkSize });
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
