import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { appendSyncedLine, parseJsonLines, readLines } from "../../src/lib/jsonl";

const corrupt = (n: number) => new Error(`line ${n} is not JSON`);

describe("JSON-lines files", () => {
  it("reads a missing file as no lines, and appends private, newline-terminated lines", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "jsonl-"));
    const file = path.join(dir, "j.jsonl");
    expect(readLines(file)).toEqual([]);
    const old = process.umask(0o022);
    try {
      appendSyncedLine(file, JSON.stringify({ a: 1 }));
      appendSyncedLine(file, JSON.stringify({ a: 2 }));
    } finally {
      process.umask(old);
    }
    expect(fs.readFileSync(file, "utf8")).toBe('{"a":1}\n{"a":2}\n');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(parseJsonLines<{ a: number }>(readLines(file), corrupt).map((l) => l.a)).toEqual([1, 2]);
  });

  it("skips blank lines and a torn last line, but refuses a bad line with good ones after it", () => {
    expect(parseJsonLines(["{\"a\":1}", "", "  ", "{\"a\":2}", ""], corrupt)).toEqual([{ a: 1 }, { a: 2 }]);
    // A crash mid-write leaves a partial last line (followed by nothing, or by the final "").
    expect(parseJsonLines(["{\"a\":1}", "{\"a\":"], corrupt)).toEqual([{ a: 1 }]);
    expect(parseJsonLines(["{\"a\":1}", "{\"a\":", ""], corrupt)).toEqual([{ a: 1 }]);
    expect(() => parseJsonLines(["{\"a\":1}", "{\"a\":", "{\"a\":3}", ""], corrupt)).toThrow("line 2 is not JSON");
    expect(() => parseJsonLines(["nope", "{\"a\":1}", "{\"a\":2}"], corrupt)).toThrow("line 1 is not JSON");
  });
});
