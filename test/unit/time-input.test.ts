import { describe, expect, it } from "vitest";
import { daysInMonth, parseTimeInput, readTime } from "../../src/lib/time-input";
import { UsageError } from "../../src/lib/errors";

/** Expected instants from GNU date (`date -u -d <time> +%s`), not from this code. */
const GNU_DATE: [string, number][] = [
  ["2021-06-01T00:00:00Z", 1622505600],
  ["2024-02-29T12:00:00Z", 1709208000],
  ["2021-06-01T02:00:00+02:00", 1622505600],
  ["2000-02-29T23:59:59-05:30", 951888599],
  ["1970-01-01T00:00:00Z", 0],
  ["2100-03-01T00:00:00Z", 4107542400],
  ["0099-06-01T00:00:00Z", -59029948800],
  ["2021-06-01T00:00:00.999Z", 1622505600],
  ["2020-12-20T00:00:00Z", 1608422400],
];

const why = (raw: string) => {
  const r = readTime(raw);
  return r.ok ? `ok ${r.seconds}` : r.why;
};

describe("time input: unix seconds or ISO 8601 with a zone", () => {
  it.each(GNU_DATE)("%s is %d", (raw, seconds) => {
    expect(readTime(raw)).toEqual({ ok: true, seconds });
  });

  it("minutes without seconds, and unix seconds of any length (the caller checks the range)", () => {
    expect(readTime("2021-06-01T00:00Z")).toEqual({ ok: true, seconds: 1622505600 });
    expect(readTime("1622505600")).toEqual({ ok: true, seconds: 1622505600 });
    expect(readTime(" 0 ")).toEqual({ ok: true, seconds: 0 });
    expect(readTime("99999999999999999999")).toEqual({ ok: true, seconds: 1e20 });
  });

  it("the same instant whatever the TZ of this machine (no local-time reading at all)", () => {
    const before = process.env.TZ;
    try {
      const seen = ["UTC", "America/New_York", "Asia/Kolkata"].map((tz) => {
        process.env.TZ = tz;
        return readTime("2027-02-09T15:00:00+01:00");
      });
      expect(new Set(seen.map((s) => JSON.stringify(s))).size).toBe(1);
    } finally {
      if (before === undefined) delete process.env.TZ;
      else process.env.TZ = before;
    }
  });

  it("refuses zone-less times and bare dates, which would depend on the local time zone", () => {
    expect(why("2027-02-09T15:00:00")).toBe("a time without a zone (it would be read in this machine's local time)");
    expect(why("2027-02-09 15:00")).toBe("a time without a zone (it would be read in this machine's local time)");
    expect(why("2027-02-09")).toBe("a date without a time and zone");
  });

  it("refuses impossible dates and times instead of rolling them over", () => {
    expect(why("2026-02-29T00:00:00Z")).toBe("an impossible date (2026-02 has no day 29)");
    expect(why("1900-02-29T00:00:00Z")).toBe("an impossible date (1900-02 has no day 29)");
    expect(why("2021-04-31T00:00:00Z")).toBe("an impossible date (2021-04 has no day 31)");
    expect(why("2021-00-10T00:00:00Z")).toBe("an impossible date (there is no month 00)");
    expect(why("2021-13-10T00:00:00Z")).toBe("an impossible date (there is no month 13)");
    expect(why("2021-01-00T00:00:00Z")).toBe("an impossible date (2021-01 has no day 00)");
    expect(why("2021-01-01T24:00:00Z")).toBe("an impossible time of day (24:00:00)");
    expect(why("2021-01-01T23:60Z")).toBe("an impossible time of day (23:60)");
    expect(why("2021-01-01T23:59:60Z")).toBe("an impossible time of day (23:59:60)");
    expect(why("2021-01-01T00:00:00+15:00")).toBe("an impossible zone (+15:00)");
    expect(why("2021-01-01T00:00:00+14:30")).toBe("an impossible zone (+14:30)");
    expect(why("2021-01-01T00:00:00+01:60")).toBe("an impossible zone (+01:60)");
    expect(why("2021-01-01T00:00:00+14:00")).toBe("ok 1609408800");
    expect(why("2021-01-01T00:00:00-12:00")).toBe("ok 1609502400");
  });

  it("refuses what is no time at all", () => {
    for (const raw of ["yesterday", "-5", "1e9", "0x10", "", "2021-06-01T00:00:00ZZ", "2021-6-1T00:00:00Z", "2021-06-01T00:00:00+0200"]) expect(why(raw)).toBe("not a time");
  });

  it("leap years by the Gregorian rule", () => {
    expect([2000, 2004, 1900, 2100, 2023].map((y) => daysInMonth(y, 2))).toEqual([29, 29, 28, 28, 28]);
    expect([1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((m) => daysInMonth(2021, m))).toEqual([31, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]);
  });

  it("as a flag: exit 2 naming the flag, with the expected forms in the hint", () => {
    let e: unknown;
    try {
      parseTimeInput("--at", "2026-02-29T00:00:00Z");
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).message).toBe('--at: "2026-02-29T00:00:00Z" is an impossible date (2026-02 has no day 29)');
    expect((e as UsageError).hint).toBe("give unix seconds (1700000000) or ISO 8601 with a zone (2021-06-01T00:00:00Z, 2021-06-01T02:00:00+02:00)");
    expect(parseTimeInput("--at", "1700000000")).toBe(1700000000);
  });
});
