import { connectWithConfig, type KeepctlProvider, type RpcStats } from "../../chain/provider";
import { headPolicyOf, preflightTbtc, type BlockHeader, type HeadPolicy, type TbtcPreflight } from "../../chain/preflight";
import { requireContract, type Config } from "../../config";
import { loadEndpointLimits, rememberLogBlocks, startingLogChunk } from "../../chain/endpoint-limits";
import { judgeDeposit, type Judgement } from "./health";
import { loadOperatorDeposits, type OperatorDeposit, type TbtcReport } from "./scan";

/**
 * What `list-keeps`, `check` (and `watch`) share: connect with the configured endpoints, find
 * and read the operators' deposits, and judge the live ones.
 */
export interface TbtcRunOptions {
  operators: readonly string[];
  /** false: neither read nor write the cache (--no-cache). */
  useCache: boolean;
  onScanProgress?: (doneBlocks: number, totalBlocks: number) => void;
  /** An already connected provider (tests, bench, watch); otherwise one is opened and closed here. */
  provider?: KeepctlProvider;
  /** Where the provider's "endpoint failing" lines go (the command prints them on stderr). */
  onRpcWarning?: (message: string) => void;
  /** A head older than KEEPCTL_MAX_HEAD_AGE: "error" (default; check, watch, redeem) or "warn" (list-keeps). */
  staleHead?: HeadPolicy["stale"];
  /** The head as just read (watch's poll): not read again; logs and reads share one batch. */
  knownHead?: BlockHeader;
}

export interface TbtcRun extends TbtcReport {
  chainId: number;
  stats: RpcStats;
  /** BondedECDSAKeepFactory.getKeepCount(): keeps of every operator, so "0 of N" can be told apart from a wrong address. */
  factoryKeepCount?: bigint;
  /** Findings that did not stop the run (a stale head under the "warn" policy). */
  warnings: string[];
}

/** The configured endpoints, connected (the same settings every command uses). */
export const connectFromConfig: (cfg: Config, o?: { onWarning?: (message: string) => void }) => Promise<KeepctlProvider> = connectWithConfig;

/**
 * The tBTC preflight of a command that acts (redeem): a stale head is an error, and every
 * `--deposit` must be a real tBTC deposit (exit 2), not skipped as "not redeemable".
 */
export function preflightTbtcFromConfig(provider: KeepctlProvider, cfg: Config, deposits: readonly string[] = []): Promise<TbtcPreflight> {
  return preflightTbtc(provider, { contracts: cfg.contracts, startBlock: cfg.startBlock, policy: headPolicyOf(cfg.rpc, "error"), deposits });
}

/**
 * Where the scan's log chunks start and where a cap the endpoint names goes: the configured size
 * (the provider's cap from the deployment file or config, else 10,000), or the cap this endpoint
 * named on an earlier run when smaller (remembered in the data dir's cache, not with --no-cache).
 */
function logChunkingOf(cfg: Config, provider: KeepctlProvider, useCache?: boolean): { logChunkSize: number; onLearnedLogCap?: (blocks: number) => void } {
  const url = provider.pool?.endpoints[0]?.url;
  if (!useCache || !url) return { logChunkSize: cfg.logChunkSize };
  return {
    logChunkSize: startingLogChunk(cfg.logChunkSize, loadEndpointLimits(cfg.dataDir, url)),
    onLearnedLogCap: (blocks) => {
      try {
        rememberLogBlocks(cfg.dataDir, url, blocks);
      } catch {
        // a read-only data dir costs a refusal next run, nothing more
      }
    },
  };
}

export async function loadTbtcRun(cfg: Config, o: TbtcRunOptions): Promise<TbtcRun> {
  const factory = requireContract(cfg, "BondedECDSAKeepFactory");
  const system = requireContract(cfg, "TBTCSystem");
  // A one-shot read: the chain id is proved in the first batch (head, cursor, contract checks),
  // before any answer is used; a warm run with nothing new costs that one round trip.
  const provider = o.provider ?? (await connectWithConfig(cfg, { onWarning: o.onRpcWarning, chainCheck: "batched" }));
  try {
    // Started in the same tick as the scan's first requests, so they share one batch; the scan
    // waits for the preflight's head, so nothing is scanned from a chain that failed it.
    const pre = preflightTbtc(provider, { contracts: cfg.contracts, startBlock: cfg.startBlock, policy: headPolicyOf(cfg.rpc, o.staleHead ?? "error"), head: o.knownHead });
    const head = pre.then((p) => p.head);
    head.catch(() => undefined); // observed below (and by the scan); never an unhandled rejection
    const report = await loadOperatorDeposits(provider, {
      head,
      // Only once the preflight judged it (synchronously, for a head given as a value).
      knownHead: o.knownHead,
      chainId: cfg.chainId,
      factory,
      system,
      startBlock: cfg.startBlock,
      operators: o.operators,
      dataDir: o.useCache ? cfg.dataDir : undefined,
      ...logChunkingOf(cfg, provider, o.useCache),
      onScanProgress: o.onScanProgress,
    });
    const { factoryKeepCount, warnings } = await pre;
    return { ...report, chainId: cfg.chainId, factoryKeepCount, warnings, stats: { ...provider.stats, byMethod: { ...provider.stats.byMethod } } };
  } finally {
    if (!o.provider) provider.destroy();
  }
}

/**
 * What an empty answer covered: the block range and how many keeps the factory has in all, so a
 * wrong address or start block can never pass for an operator with nothing at risk.
 */
export function scanScope(run: Pick<TbtcRun, "fromBlock" | "block" | "factoryKeepCount">): string {
  const total = run.factoryKeepCount === undefined ? "" : `; the keep factory has ${run.factoryKeepCount} keep(s) in all`;
  return `in blocks ${run.fromBlock}..${run.block}${total}`;
}

/** The head of every tBTC --json document (list-keeps, check): what was read, from where, when. */
export function tbtcReportHeader(cfg: Pick<Config, "network" | "operators">, run: TbtcRun) {
  return {
    network: cfg.network,
    chainId: run.chainId,
    block: run.block,
    blockTime: new Date(run.blockTime * 1000).toISOString(),
    scannedBlocks: { from: run.fromBlock, to: run.block },
    factoryKeepCount: run.factoryKeepCount?.toString() ?? null,
    operators: cfg.operators,
    priceWeiPerSatoshi: run.priceWeiPerSat ?? null,
    priceCheck: run.priceCheck ?? null,
    warnings: run.warnings,
  };
}

export interface JudgedDeposit extends Judgement {
  deposit: OperatorDeposit;
}

/** Judges every deposit that can still change; finished ones are history, not risk. */
export function judgeLive(report: Pick<TbtcReport, "deposits" | "blockTime">, o: { warnThresholdPct: number; courtesyMarginSec?: number }): JudgedDeposit[] {
  return report.deposits
    .filter((d) => !d.finished)
    .map((d) => {
      if (d.error || d.state === undefined || d.undercollateralizedThresholdPercent === undefined) {
        return { deposit: d, health: "warn" as const, reason: `could not read the deposit: ${d.error ?? "no data"}` };
      }
      const j = judgeDeposit(
        {
          state: d.state,
          collateralBp: d.collateralBp,
          undercollateralizedThresholdPercent: d.undercollateralizedThresholdPercent,
          severelyUndercollateralizedThresholdPercent: d.severelyUndercollateralizedThresholdPercent!,
          courtesyDeadline: d.courtesyDeadline,
        },
        { now: report.blockTime, warnThresholdPct: o.warnThresholdPct, courtesyMarginSec: o.courtesyMarginSec },
      );
      return { deposit: d, ...j };
    });
}
