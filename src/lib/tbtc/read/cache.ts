import fs from "node:fs";
import path from "node:path";
import { writableByOthers, writePrivateFile } from "../../fs-safe";

/**
 * What a scan learned and need not learn again, one JSON file per chain + keep factory:
 * - every tBTC keep seen (members, deposit) and the last block scanned, so the next run only
 *   asks for logs of new blocks;
 * - facts fixed at deposit creation (lot, thresholds) and the facts of finished deposits
 *   (final state or closed keep), which never change;
 * - courtesy-call and funding timestamps from events, so deadlines and remaining terms need
 *   neither a scan from the start block nor a call;
 * - the last live read with its block: when the head has not moved, nothing can have changed.
 * The last block's hash is kept too: a different hash means a reorg or a fresh devnet on the
 * same chain id, and the cache is dropped.
 */
export const CACHE_VERSION = 3;

export interface CachedKeep {
  deposit: string;
  members: string[];
  block: number;
}

/** Facts copied into a deposit at creation (decimal strings for bigints). */
export interface FixedDepositFacts {
  lotSizeSatoshis: string;
  initialCollateralizedPercent: number;
  undercollateralizedThresholdPercent: number;
  severelyUndercollateralizedThresholdPercent: number;
}

/** One read of a deposit's changing facts, as stored (bigints as decimal strings). */
export interface StoredLiveFacts {
  state: number;
  bondWei: string;
  keepActive: boolean;
  keepClosed: boolean;
  keepTerminated: boolean;
}

export interface StoredSnapshot {
  block: number;
  blockTime: number;
  priceWeiPerSat?: string;
  /** Deposit address -> live facts at `block`. */
  facts: Record<string, StoredLiveFacts>;
}

export interface TbtcCache {
  version: number;
  chainId: number;
  factory: string;
  system: string;
  startBlock: number;
  /** Last block whose logs are included; startBlock - 1 before any scan. */
  lastBlock: number;
  lastBlockHash?: string;
  /** Keep address (lower case) -> keep. */
  keeps: Record<string, CachedKeep>;
  /** Deposit address (lower case) -> fixed facts. */
  fixed: Record<string, FixedDepositFacts>;
  /** Deposit address (lower case) -> the last facts read, for deposits that can no longer change. */
  finished: Record<string, StoredLiveFacts>;
  /** Deposit address (lower case) -> unix time of its latest CourtesyCalled (absent after an exit). */
  courtesyCalledAt: Record<string, number>;
  /** Deposit address (lower case) -> unix time it was funded (the Funded event). */
  fundedAt: Record<string, number>;
  snapshot?: StoredSnapshot;
}

export interface CacheKey {
  chainId: number;
  factory: string;
  system: string;
  startBlock: number;
}

export function emptyCache(k: CacheKey): TbtcCache {
  return {
    version: CACHE_VERSION,
    chainId: k.chainId,
    factory: k.factory.toLowerCase(),
    system: k.system.toLowerCase(),
    startBlock: k.startBlock,
    lastBlock: k.startBlock - 1,
    keeps: {},
    fixed: {},
    finished: {},
    courtesyCalledAt: {},
    fundedAt: {},
  };
}

export function cacheFile(dataDir: string, k: Pick<CacheKey, "chainId" | "factory">): string {
  return path.join(dataDir, "cache", `tbtc-${k.chainId}-${k.factory.toLowerCase()}.json`);
}

/** The cache for `k`, or an empty one when absent, unreadable, of another version or setup. */
export function loadCache(file: string, k: CacheKey): TbtcCache {
  // A cache others could edit might hide deposits: ignore it, rescan, and the save replaces it 0600.
  if (writableByOthers(file)) return emptyCache(k);
  let raw: string;
  try {
    raw = fs.readFileSync(file, "utf8");
  } catch {
    return emptyCache(k);
  }
  try {
    const c = JSON.parse(raw) as TbtcCache;
    const matches =
      c &&
      c.version === CACHE_VERSION &&
      c.chainId === k.chainId &&
      c.factory === k.factory.toLowerCase() &&
      c.system === k.system.toLowerCase() &&
      c.startBlock === k.startBlock &&
      typeof c.lastBlock === "number" &&
      c.keeps && c.fixed && c.finished && c.courtesyCalledAt && c.fundedAt;
    return matches ? c : emptyCache(k);
  } catch {
    // A corrupt cache only costs a rescan.
    return emptyCache(k);
  }
}

/** Writes through a temp file and a rename (a crash never leaves half a JSON document), mode 0600 in a 0700 dir. */
export function saveCache(file: string, cache: TbtcCache): void {
  // cache/ sits in the data dir: both are created private if missing.
  writePrivateFile(file, JSON.stringify(cache));
}
