import { connectWithConfig, type KeepctlProvider, type RpcStats } from "../chain/provider";
import { requireContract, type Config } from "../config";
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
}

export interface TbtcRun extends TbtcReport {
  chainId: number;
  stats: RpcStats;
}

/** The configured endpoints, connected (the same settings every command uses). */
export const connectFromConfig: (cfg: Config, o?: { onWarning?: (message: string) => void }) => Promise<KeepctlProvider> = connectWithConfig;

export async function loadTbtcRun(cfg: Config, o: TbtcRunOptions): Promise<TbtcRun> {
  const factory = requireContract(cfg, "BondedECDSAKeepFactory");
  const system = requireContract(cfg, "TBTCSystem");
  const provider = o.provider ?? (await connectFromConfig(cfg, { onWarning: o.onRpcWarning }));
  try {
    const report = await loadOperatorDeposits(provider, {
      chainId: cfg.chainId,
      factory,
      system,
      startBlock: cfg.startBlock,
      operators: o.operators,
      dataDir: o.useCache ? cfg.dataDir : undefined,
      logChunkSize: cfg.logChunkSize,
      onScanProgress: o.onScanProgress,
    });
    return { ...report, chainId: cfg.chainId, stats: { ...provider.stats, byMethod: { ...provider.stats.byMethod } } };
  } finally {
    if (!o.provider) provider.destroy();
  }
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
