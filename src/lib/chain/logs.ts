import { ethers } from "ethers";
import { RpcError } from "../errors";
import { chunkAfterRefusal } from "./log-limits";

/**
 * eth_getLogs over a long block range. Public endpoints cap a query at some number of blocks or
 * results (often 10k) and say so in an error; we scan in chunks, and when told the range is too
 * large we retry at the limit the refusal names (log-limits.ts), or at half when it names none,
 * instead of failing the whole scan.
 */
export interface LogQuery {
  address?: string | string[];
  topics?: (string | string[] | null)[];
  fromBlock: number;
  toBlock: number;
}

export interface GetLogsOptions {
  /** Blocks per eth_getLogs call to start with. Default 5000. */
  chunkSize?: number;
  /** Give up (RpcError) when a chunk this small is still refused. Default 1. */
  minChunkSize?: number;
  onProgress?: (doneBlocks: number, totalBlocks: number) => void;
  /**
   * Chunks in flight at once. Calls made together share one HTTP request when the provider
   * batches. Default 1.
   */
  concurrency?: number;
  /** A refusal named the endpoint's block cap (smaller than the chunk asked): worth remembering. */
  onLearnedCap?: (blocks: number) => void;
}

/** What most hosted providers allow per eth_getLogs when nothing better is known. */
export const DEFAULT_LOG_CHUNK_SIZE = 10_000;

/**
 * Chunks in flight at once for a scan from a deployment to today's head. Latency, not the node,
 * bounds a scan on a hosted provider: 10M blocks are 1,000-2,000 chunks, and 4 at a time cost 250+
 * sequential round trips (20-40 s at 80 ms). All at once, the provider's batching packs them
 * batchMaxCount to an HTTP request and sends those requests side by side: one round trip (plus
 * one per halving if the endpoint refuses the chunk size). Bounded so a scan of a very long
 * chain does not hold an unbounded number of answers in flight.
 */
export const SCAN_LOG_CONCURRENCY = 2000;

const RANGE_ERROR_RE =
  /range|too many|too large|limit exceeded|exceeds? (the )?(max|limit)|more than \d+|result(s)? (set )?(size|window)|response size|query timeout|-32005/i;

/** True for the errors endpoints use to say "ask for fewer blocks". */
export function isRangeTooLargeError(e: unknown): boolean {
  return RANGE_ERROR_RE.test(errorText(e));
}

function errorText(e: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  const walk = (v: unknown, depth: number) => {
    if (!v || depth > 4 || seen.has(v)) return;
    seen.add(v);
    if (typeof v === "string") return void parts.push(v);
    if (typeof v !== "object") return;
    const o = v as Record<string, unknown>;
    for (const k of ["shortMessage", "message"]) if (typeof o[k] === "string") parts.push(o[k] as string);
    if (typeof o.code === "number") parts.push(String(o.code));
    for (const k of ["error", "info", "cause"]) walk(o[k], depth + 1);
  };
  walk(e, 0);
  return parts.join(" | ");
}

interface Range { from: number; to: number }

export async function getLogsChunked(
  provider: ethers.Provider,
  q: LogQuery,
  opts: GetLogsOptions = {},
): Promise<ethers.Log[]> {
  if (q.toBlock < q.fromBlock) return [];
  const minChunk = Math.max(1, opts.minChunkSize ?? 1);
  let chunk = Math.max(minChunk, opts.chunkSize ?? DEFAULT_LOG_CHUNK_SIZE);
  const concurrency = Math.max(1, opts.concurrency ?? 1);
  const total = q.toBlock - q.fromBlock + 1;
  let done = 0;
  let next = q.fromBlock;
  // Ranges refused as too large, waiting to be re-asked in smaller pieces.
  const retryQueue: Range[] = [];
  const found: ethers.Log[] = [];

  const take = (): Range | undefined => {
    const r = retryQueue.shift();
    if (r) {
      if (r.to - r.from + 1 <= chunk) return r;
      retryQueue.unshift({ from: r.from + chunk, to: r.to });
      return { from: r.from, to: r.from + chunk - 1 };
    }
    if (next > q.toBlock) return undefined;
    const range = { from: next, to: Math.min(q.toBlock, next + chunk - 1) };
    next = range.to + 1;
    return range;
  };

  const worker = async () => {
    for (let r = take(); r; r = take()) {
      try {
        const logs = await provider.getLogs({ address: q.address, topics: q.topics, fromBlock: r.from, toBlock: r.to });
        found.push(...logs);
        done += r.to - r.from + 1;
        opts.onProgress?.(done, total);
      } catch (e) {
        const size = r.to - r.from + 1;
        // A transport RpcError means no endpoint answered at all: smaller ranges will not help.
        // The node's own refusal (NODE_ERROR, its words kept) may be a range limit.
        if ((e instanceof RpcError && e.code !== "NODE_ERROR") || !isRangeTooLargeError(e)) throw e;
        if (size <= minChunk) {
          throw new RpcError(`eth_getLogs refused even a ${size}-block range (blocks ${r.from}-${r.to})`, {
            code: "LOG_RANGE",
            cause: e,
            hint: "the endpoint limits log queries; try another RPC URL",
          });
        }
        // The endpoint's limit is stable: keep the smaller chunk for the rest of the scan.
        const next = chunkAfterRefusal(size, errorText(e), minChunk);
        if (next.learnedCap !== undefined && next.learnedCap < chunk) opts.onLearnedCap?.(next.learnedCap);
        chunk = Math.min(chunk, next.chunk);
        retryQueue.unshift(r);
      }
    }
  };

  await Promise.all(Array.from({ length: concurrency }, worker));
  found.sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
  return found;
}
