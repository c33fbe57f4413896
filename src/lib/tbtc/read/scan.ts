import { ethers } from "ethers";
import { SCAN_LOG_CONCURRENCY } from "../../chain/logs";
import { parseBlockHeader, readHead, type BlockHeader } from "../../chain/preflight";
import { COURTESY_CALL_DURATION_SEC, DEPOSIT_TERM_SEC, FINAL_STATES, State, stateName } from "../abis";
import { cacheFile, emptyCache, loadCache, saveCache, type StoredLiveFacts, type TbtcCache } from "./cache";
import { fetchPriceWeiPerSat, readContractCollateral, readDeposits, type DepositRef, type FixedFacts, type LiveFacts } from "./deposits";
import { collateralBasisPoints } from "./health";
import { matchingMembers, operatorSet, scanTbtcEvents, type TbtcEvents } from "./keeps";

/**
 * An operator's tBTC position, from the cache where it can be and the chain where it must be:
 * 1. one request for the head block (and the cached last block, to detect a reorg or a new devnet);
 * 2. logs of the blocks not scanned yet (keep creations + courtesy calls);
 * 3. one burst of batched reads for the deposits that can still change, plus the price.
 * Finished deposits (final state or closed keep) are served from the cache, never read again.
 */
export interface OperatorDeposit {
  keep: string;
  deposit: string;
  members: string[];
  /** The requested operators that sign for this keep. */
  operators: string[];
  createdBlock: number;
  /** Final state or closed keep: cannot change any more. */
  finished: boolean;
  state?: number;
  stateName: string;
  lotSizeSatoshis?: bigint;
  initialCollateralizedPercent?: number;
  undercollateralizedThresholdPercent?: number;
  severelyUndercollateralizedThresholdPercent?: number;
  bondWei?: bigint;
  keepActive?: boolean;
  keepClosed?: boolean;
  keepTerminated?: boolean;
  /** Collateralization × 100 from bond, lot and price (two decimals, rounded down). */
  collateralBp?: bigint;
  courtesyCalledAt?: number;
  courtesyDeadline?: number;
  remainingTermSec?: bigint;
  error?: string;
}

export interface TbtcReport {
  /** First block of the scan (the configured start block): the report covers fromBlock..block. */
  fromBlock: number;
  block: number;
  blockTime: number;
  priceWeiPerSat?: bigint;
  deposits: OperatorDeposit[];
  /** Blocks whose logs this run fetched (0 when the cache was current). */
  scannedBlocks: number;
  /** Deposits read from the chain this run (the rest came from the cache). */
  readDeposits: number;
  /**
   * Our figure against the contract's collateralizationPercentage() for one deposit read this
   * run: all deposits share the system's price, so one agreeing sample proves the price source.
   */
  priceCheck?: PriceCheck;
  /** Wall time of each phase (ms): head check, log scan, reads. */
  timings: { headMs: number; scanMs: number; readMs: number };
}

export interface PriceCheck {
  deposit: string;
  contractPercent: bigint;
  computedPercent: bigint;
  ok: boolean;
}

export interface LoadOptions {
  chainId: number;
  factory: string;
  system: string;
  startBlock: number;
  operators: readonly string[];
  /** Cache directory root; undefined disables the cache (--no-cache). */
  dataDir?: string;
  logChunkSize?: number;
  /** The endpoint named its eth_getLogs block cap in a refusal (to remember it). */
  onLearnedLogCap?: (blocks: number) => void;
  logConcurrency?: number;
  onScanProgress?: (doneBlocks: number, totalBlocks: number) => void;
  /**
   * The head, already read (and judged) by the preflight; its request shares a batch with the
   * cursor check below when the caller starts both in the same tick.
   */
  head?: Promise<BlockHeader>;
  /**
   * The head as already read and judged (watch's poll): the logs and the reads are sent with the
   * cursor check, in one batch.
   */
  knownHead?: BlockHeader;
}

const toStored = (l: LiveFacts): StoredLiveFacts => ({
  state: l.state,
  bondWei: l.bondWei.toString(),
  keepActive: l.keepActive,
  keepClosed: l.keepClosed,
  keepTerminated: l.keepTerminated,
});
const fromStored = (s: StoredLiveFacts): LiveFacts => ({
  ...s,
  bondWei: BigInt(s.bondWei),
});

/** What Deposit.remainingTerm() answers: fundedAt + term - now, floored at 0 (0 when never funded). */
export function remainingTerm(fundedAt: number | undefined, now: number): bigint {
  if (fundedAt === undefined) return 0n;
  return BigInt(Math.max(0, fundedAt + DEPOSIT_TERM_SEC - now));
}

/** Deposits in a final state, or whose keep was closed, will not change again. */
export function isFinished(l: LiveFacts): boolean {
  return FINAL_STATES.has(l.state) || l.keepClosed;
}

export async function loadOperatorDeposits(provider: ethers.JsonRpcProvider, o: LoadOptions): Promise<TbtcReport> {
  const key = { chainId: o.chainId, factory: o.factory, system: o.system, startBlock: o.startBlock };
  const file = o.dataDir ? cacheFile(o.dataDir, key) : undefined;
  let cache: TbtcCache = file ? loadCache(file, key) : emptyCache(key);

  // 1. Head and the cached block's hash in one batch.
  const t0 = performance.now();
  const hasCursor = cache.lastBlock >= o.startBlock && !!cache.lastBlockHash;
  const cursorP = hasCursor
    ? provider.send("eth_getBlockByNumber", [ethers.toQuantity(cache.lastBlock), false]).then((raw) => parseBlockHeader(raw, `block ${cache.lastBlock}`))
    : Promise.resolve(null);
  // A head known already (watch's poll read it): the new blocks' logs and the live deposits'
  // reads need not wait for the cursor check; they go out in the same batch, and are thrown
  // away in the rare case the check finds a reorg.
  let early = o.knownHead ? startScan(provider, o, cache, o.knownHead) : undefined;
  // Every answer is validated as it arrives: a junk head would otherwise become "block NaN".
  let head: BlockHeader;
  let cursor: BlockHeader | null;
  try {
    // The preflight's verdict on the head (o.head) is awaited even when the head is known: nothing
    // is cached from a chain that failed it.
    [head, cursor] = await Promise.all([o.head ?? o.knownHead ?? readHead(provider), cursorP]);
  } catch (e) {
    early?.discard();
    throw e;
  }
  if (early && head.hash !== o.knownHead?.hash) {
    early.discard();
    early = undefined;
  }
  const block = head.number;
  const blockTime = head.timestamp;
  if (hasCursor && (!cursor || cursor.hash !== cache.lastBlockHash || block < cache.lastBlock)) {
    // Reorg past our cursor, or another chain behind the same id (a restarted devnet): start over.
    early?.discard();
    early = undefined;
    cache = emptyCache(key);
  }

  // 2. New blocks' logs, and (side by side) the reads of the live deposits the cache knows.
  const t1 = performance.now();
  const work = early ?? startScan(provider, o, cache, head);
  let ev: Awaited<typeof work.events>;
  try {
    ev = await work.events;
  } catch (e) {
    work.discard();
    throw e;
  }
  const scannedBlocks = work.scannedBlocks;
  if (ev) {
    for (const k of ev.keeps) {
      cache.keeps[k.keep.toLowerCase()] = { deposit: k.deposit, members: k.members, block: k.block };
    }
    for (const c of ev.courtesy) {
      const d = c.deposit.toLowerCase();
      if (c.kind === "called") cache.courtesyCalledAt[d] = c.at;
      else delete cache.courtesyCalledAt[d];
    }
    for (const f of ev.funded) cache.fundedAt[f.deposit.toLowerCase()] = f.at;
  }
  cache.lastBlock = block;
  cache.lastBlockHash = head.hash;

  // 3. The operators' keeps; read what can still change (what the logs just revealed, too).
  const t2 = performance.now();
  const mine = myKeeps(cache, o.operators);
  const snap = work.snap;
  const firstDone = await work.reads;
  const more = toReadOf(mine, cache, snap).filter((r) => !work.requested.has(r.deposit.toLowerCase()));
  const rest = more.length || (snap.priceWeiPerSat === undefined && firstDone.price === undefined && !work.priceAsked)
    ? await readPhase(provider, o, cache, snap, mine, more, block, work.requested.size === 0)
    : undefined;
  const reads = new Map([...firstDone.reads, ...(rest?.reads ?? [])]);
  const price = firstDone.price ?? rest?.price;
  const samples = [...firstDone.samples, ...(rest?.samples ?? [])];
  const sampledPcts = [...firstDone.sampledPcts, ...(rest?.sampledPcts ?? [])];
  const readCount = work.requested.size + more.length;
  const t3 = performance.now();
  if (price !== undefined) snap.priceWeiPerSat = price.toString();
  const priceWeiPerSat = snap.priceWeiPerSat === undefined ? undefined : BigInt(snap.priceWeiPerSat);

  const errors = new Map<string, string>();
  for (const [d, r] of reads) {
    if (r.error) { errors.set(d, r.error); continue; }
    if (r.fixed) {
      cache.fixed[d] = { ...r.fixed, lotSizeSatoshis: r.fixed.lotSizeSatoshis.toString() };
    }
    if (r.live) {
      if (isFinished(r.live)) cache.finished[d] = toStored(r.live);
      else snap.facts[d] = toStored(r.live);
    }
  }
  cache.snapshot = snap;
  if (file) saveCache(file, cache);

  const deposits = mine.map((k): OperatorDeposit => {
    const d = k.deposit.toLowerCase();
    const stored = cache.finished[d] ?? snap.facts[d];
    const live = stored ? fromStored(stored) : undefined;
    const f = cache.fixed[d];
    const fixed: FixedFacts | undefined = f ? { ...f, lotSizeSatoshis: BigInt(f.lotSizeSatoshis) } : undefined;
    const courtesyCalledAt = live?.state === State.COURTESY_CALL ? cache.courtesyCalledAt[d] : undefined;
    const finished = !!cache.finished[d];
    return {
      keep: k.keep,
      deposit: k.deposit,
      members: k.members,
      operators: k.operators,
      createdBlock: k.block,
      finished,
      state: live?.state,
      stateName: live ? stateName(live.state) : "UNKNOWN",
      ...fixed,
      ...(live ? { bondWei: live.bondWei, keepActive: live.keepActive, keepClosed: live.keepClosed, keepTerminated: live.keepTerminated,
        remainingTermSec: remainingTerm(cache.fundedAt[d], blockTime) } : {}),
      collateralBp: live && fixed && priceWeiPerSat !== undefined && !finished ? collateralBasisPoints(live.bondWei, fixed.lotSizeSatoshis, priceWeiPerSat) : undefined,
      courtesyCalledAt,
      courtesyDeadline: courtesyCalledAt === undefined ? undefined : courtesyCalledAt + COURTESY_CALL_DURATION_SEC,
      error: errors.get(d),
    };
  });
  let priceCheck: PriceCheck | undefined;
  for (const [i, addr] of samples.entries()) {
    const d = deposits.find((x) => x.deposit === addr);
    const contractPercent = sampledPcts[i];
    if (!d || d.collateralBp === undefined || contractPercent === undefined) continue;
    const computedPercent = d.collateralBp / 100n;
    priceCheck = { deposit: d.deposit, contractPercent, computedPercent, ok: computedPercent === contractPercent };
    break;
  }
  return { fromBlock: o.startBlock, block, blockTime, priceWeiPerSat, deposits, scannedBlocks, readDeposits: readCount, priceCheck,
    timings: { headMs: t1 - t0, scanMs: t2 - t1, readMs: t3 - t2 } };
}

type Snapshot = NonNullable<TbtcCache["snapshot"]>;
type MyKeep = { keep: string; deposit: string; members: string[]; block: number; operators: string[] };

/** The requested operators' keeps in the cache, oldest first. */
function myKeeps(cache: TbtcCache, operators: readonly string[]): MyKeep[] {
  const ops = operatorSet(operators);
  // Matched before checksumming: getAddress hashes, and a mainnet cache holds thousands of other
  // operators' keeps (3,500 checksums were most of a warm run's time).
  return Object.entries(cache.keeps)
    .map(([keep, k]) => ({ keep, ...k, operators: matchingMembers(k.members, ops) }))
    .filter((k) => k.operators.length > 0)
    .map((k) => ({ ...k, keep: ethers.getAddress(k.keep) }))
    .sort((a, b) => a.block - b.block || a.keep.localeCompare(b.keep));
}

/** Deposits that can still change and were not read at this block yet. */
function toReadOf(mine: MyKeep[], cache: TbtcCache, snap: Snapshot): DepositRef[] {
  return mine
    .filter((k) => !cache.finished[k.deposit.toLowerCase()] && !snap.facts[k.deposit.toLowerCase()])
    .map((k) => ({ deposit: k.deposit, keep: k.keep }));
}

interface ReadPhase {
  reads: Map<string, Awaited<ReturnType<typeof readDeposits>> extends Map<string, infer V> ? V : never>;
  price?: bigint;
  samples: string[];
  sampledPcts: (bigint | undefined)[];
}

/** One burst of batched reads at `block`: the deposits, the price when missing, a few contract samples. */
function readPhase(provider: ethers.JsonRpcProvider, o: LoadOptions, cache: TbtcCache, snap: Snapshot, mine: MyKeep[], toRead: DepositRef[], block: number, sample: boolean): Promise<ReadPhase> {
  const needFixed = new Set(toRead.map((r) => r.deposit.toLowerCase()).filter((d) => !cache.fixed[d]));
  const wantPrice = snap.priceWeiPerSat === undefined && mine.some((k) => !cache.finished[k.deposit.toLowerCase()]);
  const priceFrom = toRead[0]?.deposit ?? mine.find((k) => !cache.finished[k.deposit.toLowerCase()])?.deposit;
  // Newest deposits are the likeliest to be live (a finished one has no figure to compare); a
  // few samples cost three calls and spare a second round trip.
  const samples = sample ? toRead.slice(-3).map((r) => r.deposit) : [];
  return Promise.all([
    toRead.length > 0 ? readDeposits(provider, toRead, { block, needFixed }) : Promise.resolve(new Map()),
    wantPrice && priceFrom ? fetchPriceWeiPerSat(provider, o.system, priceFrom, block) : Promise.resolve(undefined),
    Promise.all(samples.map((d) => readContractCollateral(provider, d, block))),
  ]).then(([reads, price, sampledPcts]) => ({ reads, price, samples, sampledPcts }));
}

interface StartedScan {
  /** Undefined when no block is new. */
  events: Promise<TbtcEvents | undefined>;
  scannedBlocks: number;
  snap: Snapshot;
  reads: Promise<ReadPhase>;
  /** Deposits whose reads were sent (lower case). */
  requested: Set<string>;
  priceAsked: boolean;
  /** Observes the promises of work whose results will not be used. */
  discard(): void;
}

/**
 * Sends, in one tick (one batch), the logs of the blocks after the cache's cursor up to `head`
 * and the reads of the live deposits the cache already knows, at `head`. Keeps the logs reveal
 * are read afterwards (loadOperatorDeposits).
 */
function startScan(provider: ethers.JsonRpcProvider, o: LoadOptions, cache: TbtcCache, head: BlockHeader): StartedScan {
  const block = head.number;
  const from = Math.max(o.startBlock, cache.lastBlock + 1);
  const events = from <= block
    ? scanTbtcEvents(provider, {
        factory: o.factory,
        system: o.system,
        fromBlock: from,
        toBlock: block,
        chunkSize: o.logChunkSize,
        // Every chunk in one tick: one round trip for the whole range (see SCAN_LOG_CONCURRENCY).
        concurrency: o.logConcurrency ?? SCAN_LOG_CONCURRENCY,
        onProgress: o.onScanProgress,
        onLearnedCap: o.onLearnedLogCap,
      })
    : Promise.resolve(undefined);
  const snap: Snapshot = cache.snapshot && cache.snapshot.block === block ? cache.snapshot : { block, blockTime: head.timestamp, facts: {} as Record<string, StoredLiveFacts> };
  const mine = myKeeps(cache, o.operators);
  const toRead = toReadOf(mine, cache, snap);
  const priceAsked = snap.priceWeiPerSat === undefined && mine.some((k) => !cache.finished[k.deposit.toLowerCase()]);
  const reads = toRead.length || priceAsked ? readPhase(provider, o, cache, snap, mine, toRead, block, true) : Promise.resolve({ reads: new Map(), samples: [], sampledPcts: [] } as ReadPhase);
  return {
    events, scannedBlocks: from <= block ? block - from + 1 : 0, snap, reads, priceAsked,
    requested: new Set(toRead.map((r) => r.deposit.toLowerCase())),
    discard: () => {
      events.catch(() => undefined);
      reads.catch(() => undefined);
    },
  };
}
