import { UsageError } from "../lib/errors";
import { parseTimeInput } from "../lib/time-input";

/**
 * Plain-data side of `keepctl replay`: the price CSV, the window, the gaps and the portfolio file.
 * No chain here, so every rule about bad input is unit-tested and fails before a node starts.
 */

export interface PricePoint {
  /** Unix seconds (UTC) the row is labelled with. */
  t: number;
  /** ETH price in BTC (the medianizer's value). */
  ethBtc: number;
  /** 1-based line of the CSV (for messages). */
  line: number;
}

export interface Gap {
  /** First missing hour (unix seconds). */
  from: number;
  /** Last missing hour. */
  to: number;
  /** Missing points in the run. */
  missing: number;
}

export const HOUR = 3600;

const iso = (t: number) => new Date(t * 1000).toISOString().replace(".000Z", "Z");
export { iso as isoTime };

/**
 * Parses `timestamp,iso_time,eth_btc` (or `timestamp,eth_btc`): unix seconds, optional ISO copy
 * of the same instant, positive price. The first bad row stops everything with its line number:
 * a replay of silently skipped rows would report on a series nobody gave it.
 */
export function parsePriceCsv(text: string, name = "prices"): PricePoint[] {
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? "").trim().toLowerCase().split(",").map((s) => s.trim());
  const withIso = header.length === 3 && header[0] === "timestamp" && header[1] === "iso_time" && header[2] === "eth_btc";
  if (!withIso && !(header.length === 2 && header[0] === "timestamp" && header[1] === "eth_btc")) {
    throw new UsageError(`${name}:1: header must be "timestamp,iso_time,eth_btc" or "timestamp,eth_btc", got "${(lines[0] ?? "").slice(0, 60)}"`);
  }
  const points: PricePoint[] = [];
  for (let i = 1; i < lines.length; i++) {
    const raw = lines[i].trim();
    if (raw === "") continue;
    const at = `${name}:${i + 1}`;
    const cols = raw.split(",").map((s) => s.trim());
    if (cols.length !== header.length) throw new UsageError(`${at}: expected ${header.length} columns, got ${cols.length}: "${raw.slice(0, 60)}"`);
    if (!/^\d{1,12}$/.test(cols[0])) throw new UsageError(`${at}: timestamp must be unix seconds, got "${cols[0].slice(0, 30)}"`);
    const t = Number(cols[0]);
    if (withIso && Date.parse(cols[1]) !== t * 1000) throw new UsageError(`${at}: iso_time "${cols[1].slice(0, 30)}" is not the instant of timestamp ${t} (${iso(t)})`);
    const priceText = cols[cols.length - 1];
    const ethBtc = /^\d+(\.\d+)?([eE][-+]?\d+)?$/.test(priceText) ? Number(priceText) : NaN;
    if (!(ethBtc > 0) || !Number.isFinite(ethBtc)) throw new UsageError(`${at}: eth_btc must be a positive number, got "${priceText.slice(0, 30)}"`);
    const prev = points[points.length - 1];
    if (prev && t === prev.t) throw new UsageError(`${at}: duplicate timestamp ${t} (${iso(t)}), also on line ${prev.line}`);
    if (prev && t < prev.t) throw new UsageError(`${at}: timestamps must increase: ${iso(t)} comes after ${iso(prev.t)} (line ${prev.line})`);
    points.push({ t, ethBtc, line: i + 1 });
  }
  if (!points.length) throw new UsageError(`${name}: no price rows after the header`);
  return points;
}

/**
 * A short gap is held over (the caller warns); a run longer than `maxGapHours` would replay a
 * price nobody saw for that long: refused (exit 2) before any node starts.
 */
export function refuseLongGaps(gaps: Gap[], maxGapHours: number): void {
  const long = gaps.find((gap) => gap.missing > maxGapHours);
  if (long) throw new UsageError(`gap in the series: ${iso(long.from)} .. ${iso(long.to)} (${long.missing} h missing) is longer than --max-gap ${maxGapHours} h; pick a window without it or raise --max-gap`);
}

/** Runs of missing points in a series sampled every `interval` seconds (the ETH/BTC file: hourly). */
export function findGaps(points: Array<{ t: number }>, interval = HOUR): Gap[] {
  const gaps: Gap[] = [];
  for (let i = 1; i < points.length; i++) {
    const dt = points[i].t - points[i - 1].t;
    if (dt > interval) {
      const missing = Math.ceil(dt / interval) - 1;
      gaps.push({ from: points[i - 1].t + interval, to: points[i - 1].t + missing * interval, missing });
    }
  }
  return gaps;
}

/** `--from` / `--to`: unix seconds or ISO 8601 with a zone (lib/time-input.ts). */
export function parseTimeOption(flag: string, raw: string): number {
  return parseTimeInput(flag, raw);
}

/** The points in [from, to], both inclusive. */
export function selectWindow(points: PricePoint[], from?: number, to?: number): PricePoint[] {
  const first = points[0].t;
  const last = points[points.length - 1].t;
  if (from !== undefined && to !== undefined && to < from) throw new UsageError(`--to (${iso(to)}) is before --from (${iso(from)})`);
  if ((from !== undefined && from > last) || (to !== undefined && to < first)) {
    throw new UsageError(`the window ${from !== undefined ? iso(from) : "start"} .. ${to !== undefined ? iso(to) : "end"} is outside the data (${iso(first)} .. ${iso(last)})`);
  }
  const sel = points.filter((p) => (from === undefined || p.t >= from) && (to === undefined || p.t <= to));
  if (sel.length < 2) throw new UsageError(`the window holds ${sel.length} price point(s): a replay needs at least 2`);
  return sel;
}

/** Every `step`th point, always keeping the last (so the walk ends where the window ends). */
export function samplePoints<T>(points: T[], step: number): T[] {
  if (step <= 1) return points.slice();
  const out = points.filter((_, i) => i % step === 0);
  if ((points.length - 1) % step !== 0) out.push(points[points.length - 1]);
  return out;
}

/** One deposit of the operator's portfolio. */
export interface PortfolioEntry {
  label: string;
  lotBtc: number;
  /**
   * When it was opened (unix seconds). Inside the window: opened at that point's price. Before
   * the window: bonded at the price of that hour (which must be in the file) and already open
   * when the walk starts, as deposits opened in November were when December came.
   */
  openAt: number;
}

/** Lot sizes the devnet allows (BTC), the real system's list through governance. */
export const ALLOWED_LOTS_BTC = [0.01, 0.1, 0.2, 0.5, 1, 5, 10];

/** Default: a mix of 1, 5 and 10 BTC lots opened over the first two days of the walk. */
export function defaultPortfolio(start: number): PortfolioEntry[] {
  const plan: Array<[number, number]> = [[1, 0], [5, 6], [10, 12], [1, 24], [5, 30], [10, 36], [1, 48], [5, 54]];
  return plan.map(([lotBtc, h], i) => ({ label: `d${i + 1}-${lotBtc}btc`, lotBtc, openAt: start + h * HOUR }));
}

/**
 * `--portfolio FILE`: a JSON array of `{ "lotBtc": 5, "openAt": "2020-11-24T00:00:00Z", "label": "a" }`
 * (`openAt` optional: the walk's first point; ISO time or unix seconds).
 */
export function parsePortfolio(text: string, name: string, walkStart: number): PortfolioEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${name}: not JSON (${(e as Error).message.split("\n")[0]})`);
  }
  if (!Array.isArray(doc) || doc.length === 0) throw new UsageError(`${name}: expected a non-empty JSON array of {"lotBtc", "openAt"?, "label"?}`);
  return doc.map((e: unknown, i: number) => {
    const at = `${name}[${i}]`;
    if (!e || typeof e !== "object") throw new UsageError(`${at}: expected an object like {"lotBtc": 5}`);
    const o = e as Record<string, unknown>;
    if (typeof o.lotBtc !== "number" || !ALLOWED_LOTS_BTC.includes(o.lotBtc)) throw new UsageError(`${at}.lotBtc must be one of ${ALLOWED_LOTS_BTC.join(", ")}, got ${JSON.stringify(o.lotBtc)}`);
    let openAt = walkStart;
    if (o.openAt !== undefined) {
      if (typeof o.openAt === "number" && Number.isInteger(o.openAt)) openAt = o.openAt;
      else if (typeof o.openAt === "string") openAt = parseTimeOption(`${at}.openAt`, o.openAt);
      else throw new UsageError(`${at}.openAt must be an ISO time or unix seconds`);
    }
    if (o.label !== undefined && (typeof o.label !== "string" || !/^[\w.-]{1,40}$/.test(o.label))) throw new UsageError(`${at}.label must be 1-40 letters, digits, '.', '_' or '-'`);
    return { label: (o.label as string | undefined) ?? `d${i + 1}-${o.lotBtc}btc`, lotBtc: o.lotBtc, openAt };
  });
}

/** Price of the point at `t` (the bond of a deposit opened before the window); none: bad input. */
export function priceAt(points: PricePoint[], t: number, what: string): number {
  let lo = 0;
  let hi = points.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid].t === t) return points[mid].ethBtc;
    if (points[mid].t < t) lo = mid + 1;
    else hi = mid - 1;
  }
  throw new UsageError(`${what}: no price at ${iso(t)} in the series (opening times before the window must be on a row of the file)`);
}
