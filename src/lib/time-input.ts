import { UsageError } from "./errors";
import { echo } from "./redact";

/**
 * The one reader of times a user types (`rai-price --at`, `replay --from/--to`;
 * no setting takes a time): unix seconds, or ISO 8601 WITH its zone (`Z` or `±hh:mm`). A time without a zone would
 * be read in this machine's local time — a different instant under every `TZ` for a feed anyone
 * must reproduce to the wei — and `Date.parse` rolls impossible dates over (2026-02-29 becomes
 * March 1): both are refused, with the expected form in the hint. Output times stay UTC.
 */
export const TIME_FORMS = "unix seconds (1700000000) or ISO 8601 with a zone (2021-06-01T00:00:00Z, 2021-06-01T02:00:00+02:00)";

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})$/;

/** Days in `month` (1..12) of `year`, proleptic Gregorian. */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * Why `raw` is not a time, or its unix seconds (fractions cut, as a block timestamp would be).
 * Pure: the caller wraps the reason into its own error.
 */
export function readTime(raw: string): { ok: true; seconds: number } | { ok: false; why: string } {
  const s = raw.trim();
  if (/^\d+$/.test(s)) return { ok: true, seconds: Number(s) }; // the caller checks the range
  const m = ISO.exec(s);
  if (!m) {
    if (/^\d{4}-\d{2}-\d{2}$/.test(s)) return { ok: false, why: "a date without a time and zone" };
    if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(s)) return { ok: false, why: "a time without a zone (it would be read in this machine's local time)" };
    return { ok: false, why: "not a time" };
  }
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0));
  const zone = m[8];
  if (month < 1 || month > 12) return { ok: false, why: `an impossible date (there is no month ${m[2]})` };
  if (day < 1 || day > daysInMonth(year, month)) return { ok: false, why: `an impossible date (${m[1]}-${m[2]} has no day ${m[3]})` };
  if (hour > 23 || minute > 59 || second > 59) return { ok: false, why: `an impossible time of day (${m[4]}:${m[5]}${m[6] === undefined ? "" : `:${m[6]}`})` };
  let offsetMin = 0;
  if (zone !== "Z") {
    const zh = Number(zone.slice(1, 3));
    const zm = Number(zone.slice(4, 6));
    if (zh > 14 || zm > 59 || (zh === 14 && zm > 0)) return { ok: false, why: `an impossible zone (${zone})` };
    offsetMin = (zh * 60 + zm) * (zone[0] === "-" ? -1 : 1);
  }
  // Not Date.UTC: it maps the years 0..99 to 1900..1999.
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  const utcMs = d.getTime() - offsetMin * 60_000;
  return { ok: true, seconds: Math.floor(utcMs / 1000) };
}

/** `readTime` for a flag or setting named `what`: exit 2 with the expected forms in the hint. */
export function parseTimeInput(what: string, raw: string): number {
  const r = readTime(raw);
  if (r.ok) return r.seconds;
  throw new UsageError(`${what}: "${echo(raw)}" is ${r.why}`, { hint: `give ${TIME_FORMS}` });
}
