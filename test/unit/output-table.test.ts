import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { keepColumns } from "../../src/commands/list-keeps";
import { Output, fitColumns, shortHex, stampText, type Column } from "../../src/lib/output";

/** A stdout that says it is a terminal of `columns` columns and keeps what is written. */
function terminal(columns?: number): Writable & { isTTY: boolean; columns?: number; text: string } {
  const w = new Writable({
    write(chunk, _enc, cb) {
      w.text += String(chunk);
      cb();
    },
  }) as Writable & { isTTY: boolean; columns?: number; text: string };
  w.isTTY = true;
  w.columns = columns;
  w.text = "";
  return w;
}

interface Row { keep: string; deposit: string; state: string; lot: string; pct: string; note: string }
const hex40 = (d: string) => `0x${d.repeat(40)}`;
const rows: Row[] = ["a", "b", "c"].map((d, i) => ({
  keep: hex40(d), deposit: hex40(String(i + 1)), state: "AWAITING_SIGNER_SETUP", lot: "10.00000000", pct: "127.50", note: "below the 130.00% warning threshold, courtesy call possible",
}));
const columns: Column<Row>[] = (["keep", "deposit", "state", "lot", "pct", "note"] as const).map((k) => ({ header: k.toUpperCase(), value: (r: Row) => r[k] }));

function render(cols?: number, isTTY = true, wide = false): string {
  const stdout = terminal(cols);
  new Output({ stdout, isTTY, envAllowsColor: false, wide }).table(rows, columns);
  return stdout.text;
}

describe("tables fit the terminal", () => {
  it("an 80-column terminal gets lines of at most 80 columns, addresses shortened at both ends", () => {
    const text = render(80);
    const lines = text.trimEnd().split("\n");
    for (const l of lines) expect([...l].length, l).toBeLessThanOrEqual(80);
    expect(text).toContain("0xaaaa…aaaa");
    expect(text).toContain("0x1111…1111");
    expect(text).not.toContain(hex40("a"));
    // Narrowed cells end in the ellipsis cli-table3 puts there.
    expect(text).toContain("…");
  });

  it("a wide terminal keeps every value whole; so does a pipe (tab-separated), whatever the width", () => {
    const wide = render(400);
    expect(wide).toContain(hex40("a"));
    expect(wide).toContain(rows[0].note);
    const piped = render(80, false);
    expect(piped.split("\n")[1].split("\t")).toEqual(Object.values(rows[0]));
  });

  it("--wide: full addresses and uncut cells on an 80-column terminal too", () => {
    const text = render(80, true, true);
    for (const r of rows) {
      expect(text).toContain(r.keep);
      expect(text).toContain(r.deposit);
    }
    expect(text).toContain(rows[0].note);
    expect(text).not.toContain("…");
    expect(Math.max(...text.trimEnd().split("\n").map((l) => [...l].length))).toBeGreaterThan(80);
  });

  it("--wide reaches the commands that shorten their own cells (list-keeps' Keep and Deposit)", () => {
    const d = { keep: hex40("a"), deposit: hex40("b") } as unknown as Parameters<ReturnType<typeof keepColumns>[0]["value"]>[0];
    const cells = (wide: boolean) => keepColumns(new Output({ stdout: terminal(80), isTTY: true, envAllowsColor: false, wide }), 0).slice(0, 2).map((c) => c.value(d));
    expect(cells(false)).toEqual(["0xaaaaaa…aaaa", "0xbbbbbb…bbbb"]);
    expect(cells(true)).toEqual([hex40("a"), hex40("b")]);
  });

  it("when shortening addresses is enough, no column is cut", () => {
    const fit = fitColumns(["KEEP", "N"], [[hex40("a"), "1"]], 30);
    expect(fit).toEqual({ cells: [["0xaaaa…aaaa", "1"]] });
    expect(shortHex("0x12")).toBe("0x12");
    // A 32-byte hash is shortened the same way.
    expect(fitColumns(["TX"], [[`0x${"e".repeat(64)}`]], 20).cells[0][0]).toBe("0xeeee…eeee");
  });

  it("unknown width (no columns reported): the table is left as it is", () => {
    expect(render(undefined)).toContain(hex40("c"));
  });
});

describe("colour: --no-color, then FORCE_COLOR, then NO_COLOR, then the terminal", () => {
  const ESC = "\x1b[";
  const errorText = (o: { tty: boolean; colorMode: "always" | "never" | "auto"; color?: boolean }) => {
    const stderr = terminal(80);
    stderr.isTTY = o.tty;
    new Output({ stdout: terminal(80), stderr, colorMode: o.colorMode, color: o.color }).error("boom");
    return stderr.text;
  };
  it("forced colour reaches a pipe; never and --no-color win over a terminal", () => {
    expect(errorText({ tty: false, colorMode: "always" })).toContain(ESC);
    expect(errorText({ tty: false, colorMode: "auto" })).toBe("error: boom\n");
    expect(errorText({ tty: true, colorMode: "auto" })).toContain(ESC);
    expect(errorText({ tty: true, colorMode: "never" })).toBe("error: boom\n");
    expect(errorText({ tty: true, colorMode: "always", color: false })).toBe("error: boom\n");
  });
});

describe("a loop's lines: ISO time and level on every human line", () => {
  const STAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z (INFO|WARN) /;
  it("info, warn and data lines are stamped once stampLines() is on, and only then", () => {
    const stdout = terminal(80);
    const stderr = terminal(80);
    stdout.isTTY = false;
    stderr.isTTY = false;
    const out = new Output({ stdout, stderr, envAllowsColor: false });
    out.info("plain");
    out.stampLines();
    out.info("serving");
    out.warn("endpoint failed");
    out.line("pass 1: block 7");
    const err = stderr.text.split("\n").filter(Boolean);
    expect(err[0]).toBe("plain");
    expect(err[1]).toMatch(STAMP);
    expect(err[1]).toMatch(/ INFO serving$/);
    expect(err[2]).toMatch(/ WARN endpoint failed$/);
    expect(stdout.text).toMatch(/^\S+Z INFO pass 1: block 7\n$/);
    expect(stdout.text).toMatch(STAMP);
  });
  it("stampText puts the time to the second, then the level", () => {
    expect(stampText("WARN", "x", new Date("2026-12-02T04:50:58.123Z"))).toBe("2026-12-02T04:50:58Z WARN x");
  });
});
