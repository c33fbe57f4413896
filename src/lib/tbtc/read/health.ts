import { COURTESY_CALL_DURATION_SEC, State, stateName } from "../abis";

/**
 * Pure judgement of one deposit. No network: the reader gathers the facts, this decides.
 * Collateralization is carried in basis points of a percent (15023 = 150.23 %) as a bigint so
 * that the comparison with the contract's integer thresholds is exact.
 */
export type Health = "ok" | "warn" | "courtesy-call" | "liquidation-risk";

export const HEALTH_ORDER: readonly Health[] = ["ok", "warn", "courtesy-call", "liquidation-risk"];

export const DEFAULT_WARN_THRESHOLD_PCT = 130;
/** Treat a courtesy call that ends within this margin as a liquidation risk. */
export const DEFAULT_COURTESY_MARGIN_SEC = 60 * 60;

export interface HealthFacts {
  state: number;
  /** Collateralization × 100 (two decimals), floored; undefined when unknown (no price). */
  collateralBp?: bigint;
  undercollateralizedThresholdPercent: number;
  severelyUndercollateralizedThresholdPercent: number;
  /** Unix seconds at which the current courtesy call may be turned into a liquidation. */
  courtesyDeadline?: number;
}

export interface HealthOptions {
  /** Warn below this collateralization (percent, may have decimals). Default 130. */
  warnThresholdPct?: number;
  courtesyMarginSec?: number;
  /** Unix seconds (the chain's latest block time, so time travel on a devnet is honoured). */
  now: number;
}

export interface Judgement {
  health: Health;
  reason: string;
}

/** bond × 10000 / (lot × price): collateralization in hundredths of a percent, rounded down. */
export function collateralBasisPoints(bondWei: bigint, lotSizeSatoshis: bigint, weiPerSatoshi: bigint): bigint | undefined {
  const lotWei = lotSizeSatoshis * weiPerSatoshi;
  if (lotWei <= 0n) return undefined;
  return (bondWei * 10000n) / lotWei;
}

/** "150.23" from 15023n. */
export function formatPercentBp(bp: bigint): string {
  const neg = bp < 0n;
  const abs = neg ? -bp : bp;
  return `${neg ? "-" : ""}${abs / 100n}.${(abs % 100n).toString().padStart(2, "0")}`;
}

/** Courtesy deadline from the CourtesyCalled event's timestamp. */
export function courtesyDeadlineOf(courtesyCalledAt: number): number {
  return courtesyCalledAt + COURTESY_CALL_DURATION_SEC;
}

export function formatDuration(sec: number): string {
  if (sec <= 0) return "0m";
  const d = Math.floor(sec / 86400);
  const h = Math.floor((sec % 86400) / 3600);
  const m = Math.floor((sec % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  return `${Math.max(m, 1)}m`;
}

export function judgeDeposit(f: HealthFacts, o: HealthOptions): Judgement {
  const warnBp = BigInt(Math.round((o.warnThresholdPct ?? DEFAULT_WARN_THRESHOLD_PCT) * 100));
  const margin = o.courtesyMarginSec ?? DEFAULT_COURTESY_MARGIN_SEC;
  const underBp = BigInt(f.undercollateralizedThresholdPercent) * 100n;
  const severeBp = BigInt(f.severelyUndercollateralizedThresholdPercent) * 100n;
  const c = f.collateralBp;
  const pct = c === undefined ? "unknown" : `${formatPercentBp(c)}%`;

  if (f.state === State.LIQUIDATION_IN_PROGRESS || f.state === State.FRAUD_LIQUIDATION_IN_PROGRESS) {
    return { health: "liquidation-risk", reason: `${stateName(f.state)}: the bond is being seized` };
  }
  if (f.state !== State.ACTIVE && f.state !== State.COURTESY_CALL) {
    // Not funded yet, being redeemed, or finished: collateral cannot be called in these states.
    return { health: "ok", reason: `${stateName(f.state)}: no collateral call possible` };
  }
  if (c !== undefined && c < severeBp) {
    return { health: "liquidation-risk", reason: `collateralization ${pct} below the ${f.severelyUndercollateralizedThresholdPercent}% liquidation threshold` };
  }
  if (f.state === State.COURTESY_CALL) {
    if (f.courtesyDeadline !== undefined) {
      const left = f.courtesyDeadline - o.now;
      if (left <= 0) return { health: "liquidation-risk", reason: `courtesy call expired ${formatDuration(-left)} ago; liquidation can start now` };
      if (left <= margin) return { health: "liquidation-risk", reason: `courtesy call expires in ${formatDuration(left)}` };
      return { health: "courtesy-call", reason: `in courtesy call (collateralization ${pct}); expires in ${formatDuration(left)}` };
    }
    return { health: "courtesy-call", reason: `in courtesy call (collateralization ${pct})` };
  }
  if (c === undefined) return { health: "warn", reason: "collateralization unknown (no price)" };
  if (c < underBp) {
    return { health: "courtesy-call", reason: `collateralization ${pct} below the ${f.undercollateralizedThresholdPercent}% courtesy-call threshold` };
  }
  if (c < warnBp) return { health: "warn", reason: `collateralization ${pct} below the ${formatPercentBp(warnBp)}% warning threshold` };
  return { health: "ok", reason: `collateralization ${pct}` };
}

export function worstHealth(list: Health[]): Health {
  let worst = 0;
  for (const h of list) worst = Math.max(worst, HEALTH_ORDER.indexOf(h));
  return HEALTH_ORDER[worst];
}
