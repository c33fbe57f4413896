import { UsageError } from "../lib/errors";
import { isoTime } from "./replay-data";

/**
 * Plain-data side of `keepctl replay --rates`: the redemption-rate CSV and the window. No chain
 * here, so every rule about bad input fails before a node starts.
 */

/** One `UpdateRedemptionRate` of the series. */
export interface RateUpdate {
  /** Block timestamp on mainnet (unix seconds). */
  t: number;
  /** Mainnet block number (kept for the report; the devnet has its own blocks). */
  block: number;
  /** Per-second redemption rate, RAY (1e27 = 1.0). */
  rate: bigint;
  /** 1-based line of the CSV (for messages). */
  line: number;
}

export const RAY = 10n ** 27n;
/** Shortest spacing of two updates the walk can pass between. */
export const MIN_GAP_SEC = 3600;

/**
 * Parses `timestamp,block,per_second_rate_ray`. A rate must be a RAY integer as the RateSetter
 * emits it (digits only, 0 < rate < 2 RAY: what the OracleRelayer accepts, and at least 0.1 RAY
 * so a rate written as a decimal, or scaled by 1e18, cannot pass). Timestamps and blocks strictly
 * increase. The first bad row stops everything, with its line number.
 */
export function parseRatesCsv(text: string, name = "rates"): RateUpdate[] {
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? "").trim().toLowerCase().split(",").map((s) => s.trim());
  if (!(header.length === 3 && header[0] === "timestamp" && header[1] === "block" && header[2] === "per_second_rate_ray")) {
    throw new UsageError(`${name}:1: header must be "timestamp,block,per_second_rate_ray", got "${(lines[0] ?? "").slice(0, 60)}"`);
  }
  const out: RateUpdate[] = [];
  for (let i = 1; i < lines.length; i++) {
    const raw = lines[i].trim();
    if (raw === "") continue;
    const at = `${name}:${i + 1}`;
    const cols = raw.split(",").map((s) => s.trim());
    if (cols.length !== 3) throw new UsageError(`${at}: expected 3 columns, got ${cols.length}: "${raw.slice(0, 60)}"`);
    if (!/^\d{1,12}$/.test(cols[0])) throw new UsageError(`${at}: timestamp must be unix seconds, got "${cols[0].slice(0, 30)}"`);
    if (!/^\d{1,12}$/.test(cols[1])) throw new UsageError(`${at}: block must be a block number, got "${cols[1].slice(0, 30)}"`);
    const t = Number(cols[0]);
    const block = Number(cols[1]);
    const rateText = cols[2];
    const rate = /^\d{1,40}$/.test(rateText) ? BigInt(rateText) : -1n;
    if (rate < RAY / 10n || rate >= 2n * RAY) {
      throw new UsageError(`${at}: per_second_rate_ray must be a RAY integer (27 decimals, e.g. 999999999340827030001673352), got "${rateText.slice(0, 40)}"`);
    }
    const prev = out[out.length - 1];
    if (prev && t === prev.t) throw new UsageError(`${at}: duplicate timestamp ${t} (${isoTime(t)}), also on line ${prev.line}`);
    if (prev && t < prev.t) throw new UsageError(`${at}: timestamps must increase: ${isoTime(t)} comes after ${isoTime(prev.t)} (line ${prev.line})`);
    if (prev && block <= prev.block) throw new UsageError(`${at}: blocks must increase: ${block} comes after ${prev.block} (line ${prev.line})`);
    out.push({ t, block, rate, line: i + 1 });
  }
  if (!out.length) throw new UsageError(`${name}: no rate rows after the header`);
  return out;
}

/**
 * The updates in [from, to] to walk, and the one before them (carried in: the chain needs the rate
 * in force when the window opens, or the first prices would average over less than the TWAP).
 */
export function selectRateWindow(updates: RateUpdate[], from?: number, to?: number): { walk: RateUpdate[]; carryIn: RateUpdate | null } {
  const first = updates[0].t;
  const last = updates[updates.length - 1].t;
  if (from !== undefined && to !== undefined && to < from) throw new UsageError(`--to (${isoTime(to)}) is before --from (${isoTime(from)})`);
  if ((from !== undefined && from > last) || (to !== undefined && to < first)) {
    throw new UsageError(`the window ${from !== undefined ? isoTime(from) : "start"} .. ${to !== undefined ? isoTime(to) : "end"} is outside the data (${isoTime(first)} .. ${isoTime(last)})`);
  }
  const walk = updates.filter((u) => (from === undefined || u.t >= from) && (to === undefined || u.t <= to));
  if (walk.length < 2) throw new UsageError(`the window holds ${walk.length} rate update(s): a replay needs at least 2`);
  const i = updates.indexOf(walk[0]);
  // The bots pass between updates (a liquidation, then a dispute 10 minutes later, then the oracle).
  for (let k = Math.max(1, i); k < i + walk.length; k++) {
    if (updates[k].t - updates[k - 1].t < MIN_GAP_SEC) {
      throw new UsageError(`line ${updates[k].line}: updates ${isoTime(updates[k - 1].t)} and ${isoTime(updates[k].t)} are ${updates[k].t - updates[k - 1].t} s apart; the replay needs at least ${MIN_GAP_SEC} s between updates (Reflexer's RateSetter waits 3 h or more)`);
    }
  }
  return { walk, carryIn: i > 0 ? updates[i - 1] : null };
}
