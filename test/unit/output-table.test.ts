import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { Output, fitColumns, shortHex, type Column } from "../../src/lib/output";

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

function render(cols?: number, isTTY = true): string {
  const stdout = terminal(cols);
  new Output({ stdout, isTTY, envAllowsColor: false }).table(rows, columns);
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
