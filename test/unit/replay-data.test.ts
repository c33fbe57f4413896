import { describe, expect, it } from "vitest";
import { ExitCode, UsageError } from "../../src/lib/errors";
import { HOUR, defaultPortfolio, findGaps, parsePortfolio, parsePriceCsv, parseTimeOption, priceAt, samplePoints, selectWindow } from "../../src/devnet/replay-data";

/** The plain-data rules of `keepctl replay`: CSV, gaps, window, sampling, portfolio. */
const T0 = 1608422400; // 2020-12-20T00:00:00Z
const iso = (t: number) => new Date(t * 1000).toISOString().replace(".000Z", "Z");
const csv = (rows: Array<[number, string]>) => ["timestamp,iso_time,eth_btc", ...rows.map(([t, p]) => `${t},${iso(t)},${p}`)].join("\n") + "\n";

function usage(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).exitCode).toBe(ExitCode.USAGE);
    expect((e as Error).message).not.toMatch(/\n/);
    return e as UsageError;
  }
  throw new Error("expected a UsageError");
}

describe("parsePriceCsv", () => {
  it("reads the shipped format (and the two-column one) exactly", () => {
    const pts = parsePriceCsv(csv([[T0, "0.027602000"], [T0 + HOUR, "0.027713"]]), "p.csv");
    expect(pts).toEqual([{ t: T0, ethBtc: 0.027602, line: 2 }, { t: T0 + HOUR, ethBtc: 0.027713, line: 3 }]);
    expect(parsePriceCsv(`timestamp,eth_btc\n${T0},0.03\n`)).toEqual([{ t: T0, ethBtc: 0.03, line: 2 }]);
  });

  it.each([
    ["a bad header", "time,price\n1,2\n", /^p\.csv:1: header must be/],
    ["a missing column", `timestamp,iso_time,eth_btc\n${T0},0.03\n`, /^p\.csv:2: expected 3 columns, got 2/],
    ["a timestamp that is not unix seconds", `timestamp,iso_time,eth_btc\n2020-12-20,${iso(T0)},0.03\n`, /^p\.csv:2: timestamp must be unix seconds/],
    ["an iso_time of another instant", `timestamp,iso_time,eth_btc\n${T0},${iso(T0 + HOUR)},0.03\n`, /^p\.csv:2: iso_time .* is not the instant of timestamp/],
    ["a zero price", csv([[T0, "0"]]), /^p\.csv:2: eth_btc must be a positive number, got "0"/],
    ["a negative price", csv([[T0, "-0.03"]]), /^p\.csv:2: eth_btc must be a positive number/],
    ["a price that is not a number", csv([[T0, "abc"]]), /^p\.csv:2: eth_btc must be a positive number/],
    ["a duplicate timestamp", csv([[T0, "0.03"], [T0, "0.031"]]), /^p\.csv:3: duplicate timestamp .* also on line 2/],
    ["unsorted timestamps", csv([[T0 + HOUR, "0.03"], [T0, "0.031"]]), /^p\.csv:3: timestamps must increase/],
    ["no rows", "timestamp,iso_time,eth_btc\n", /^p\.csv: no price rows/],
  ])("rejects %s with one line naming the row", (_what, text, re) => {
    expect(usage(() => parsePriceCsv(text, "p.csv")).message).toMatch(re);
  });
});

describe("findGaps", () => {
  it("reports each run of missing hours, not the hours that are there", () => {
    const ts = [0, 1, 2, /* 3,4,5 missing */ 6, 7, /* 8 missing */ 9, 10].map((h) => ({ t: T0 + h * HOUR }));
    expect(findGaps(ts)).toEqual([
      { from: T0 + 3 * HOUR, to: T0 + 5 * HOUR, missing: 3 },
      { from: T0 + 8 * HOUR, to: T0 + 8 * HOUR, missing: 1 },
    ]);
    expect(findGaps(ts.slice(0, 3))).toEqual([]);
  });
});

describe("window, sampling, times", () => {
  const pts = parsePriceCsv(csv(Array.from({ length: 10 }, (_, i) => [T0 + i * HOUR, String(0.03 - i * 0.001)] as [number, string])));

  it("selects [from, to] and refuses a window outside the data or one with fewer than 2 points", () => {
    expect(selectWindow(pts, T0 + 2 * HOUR, T0 + 4 * HOUR).map((p) => p.t)).toEqual([T0 + 2 * HOUR, T0 + 3 * HOUR, T0 + 4 * HOUR]);
    expect(usage(() => selectWindow(pts, T0 + 20 * HOUR)).message).toMatch(/is outside the data \(2020-12-20T00:00:00Z \.\. 2020-12-20T09:00:00Z\)/);
    expect(usage(() => selectWindow(pts, T0 + 9 * HOUR)).message).toMatch(/holds 1 price point/);
    expect(usage(() => selectWindow(pts, T0 + 5 * HOUR, T0)).message).toMatch(/--to .* is before --from/);
  });

  it("samples every Nth point and keeps the last", () => {
    expect(samplePoints([0, 1, 2, 3, 4, 5, 6], 3)).toEqual([0, 3, 6]);
    expect(samplePoints([0, 1, 2, 3, 4, 5, 6, 7], 3)).toEqual([0, 3, 6, 7]);
    expect(samplePoints([0, 1], 1)).toEqual([0, 1]);
  });

  it("parses dates, ISO times and unix seconds", () => {
    expect(parseTimeOption("--from", "2020-12-20T00:00:00Z")).toBe(T0);
    expect(parseTimeOption("--from", "2020-12-20T01:00:00Z")).toBe(T0 + HOUR);
    expect(parseTimeOption("--from", "2020-12-20T03:00:00+02:00")).toBe(T0 + HOUR);
    expect(parseTimeOption("--from", String(T0))).toBe(T0);
    expect(usage(() => parseTimeOption("--from", "yesterday")).message).toBe('--from: "yesterday" is not a time');
    // A date alone or a time without its zone would be read in this machine's local time: refused.
    expect(usage(() => parseTimeOption("--from", "2020-12-20")).message).toMatch(/a date without a time and zone/);
    expect(usage(() => parseTimeOption("--to", "2020-12-20T01:00:00")).message).toMatch(/a time without a zone/);
  });

  it("prices a bond set before the window from the file, and refuses an hour it does not hold", () => {
    expect(priceAt(pts, T0 + 3 * HOUR, "x")).toBe(0.027);
    expect(usage(() => priceAt(pts, T0 + 30, "nov-lot")).message).toMatch(/^nov-lot: no price at 2020-12-20T00:00:30Z/);
  });
});

describe("portfolio", () => {
  it("defaults to 1/5/10 BTC lots over the first two days", () => {
    const p = defaultPortfolio(T0);
    expect(new Set(p.map((e) => e.lotBtc))).toEqual(new Set([1, 5, 10]));
    expect(Math.max(...p.map((e) => e.openAt)) - T0).toBeLessThanOrEqual(3 * 86400);
  });

  it("reads lots, opening times and labels, and rejects bad entries with one line", () => {
    expect(parsePortfolio('[{"lotBtc":5,"openAt":"2020-11-24T00:00:00Z","label":"nov"},{"lotBtc":1}]', "pf.json", T0)).toEqual([
      { label: "nov", lotBtc: 5, openAt: 1606176000 },
      { label: "d2-1btc", lotBtc: 1, openAt: T0 },
    ]);
    expect(usage(() => parsePortfolio("{", "pf.json", T0)).message).toMatch(/^pf\.json: not JSON/);
    expect(usage(() => parsePortfolio("[]", "pf.json", T0)).message).toMatch(/non-empty JSON array/);
    expect(usage(() => parsePortfolio('[{"lotBtc":3}]', "pf.json", T0)).message).toMatch(/^pf\.json\[0\]\.lotBtc must be one of 0\.01, 0\.1, 0\.2, 0\.5, 1, 5, 10, got 3/);
    expect(usage(() => parsePortfolio('[{"lotBtc":1,"openAt":true}]', "pf.json", T0)).message).toMatch(/openAt must be/);
  });
});
