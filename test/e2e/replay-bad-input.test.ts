import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { buildOnce, runKeepctl } from "../helpers/cli";

/** `keepctl replay` refuses bad input in one line, exit 2, before any node starts. */
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-replay-"));
const write = (name: string, text: string) => {
  const p = path.join(home, name);
  fs.writeFileSync(p, text);
  return p;
};

beforeAll(() => buildOnce());

describe("keepctl replay: bad input", () => {
  const good = () => write("good.csv", "timestamp,iso_time,eth_btc\n1608422400,2020-12-20T00:00:00Z,0.0276\n1608426000,2020-12-20T01:00:00Z,0.0277\n");
  it.each([
    ["a malformed row", ["--prices", "@bad.csv"], "timestamp,iso_time,eth_btc\n1608422400,2020-12-20T00:00:00Z,0.0276\n1608426000,oops\n", /^error: .*bad\.csv:3: expected 3 columns, got 2/],
    ["a non-positive price", ["--prices", "@bad.csv"], "timestamp,iso_time,eth_btc\n1608422400,2020-12-20T00:00:00Z,-1\n", /^error: .*bad\.csv:2: eth_btc must be a positive number/],
    ["a missing file", ["--prices", "nope.csv"], undefined, /^error: --prices: cannot read nope\.csv \(ENOENT\)/],
    ["a window outside the data", ["--prices", "@good", "--from", "2021-01-01T00:00:00Z"], undefined, /^error: the window .* is outside the data/],
    ["a bad portfolio", ["--prices", "@good", "--portfolio", "@pf.json"], '[{"lotBtc":2}]', /^error: .*pf\.json\[0\]\.lotBtc must be one of/],
    ["a bad --step", ["--prices", "@good", "--step", "0"], undefined, /^error: --step/],
    ["a --replenish-to that is not a number", ["--prices", "@good", "--replenish-to", "lots"], undefined, /^error: --replenish-to must be a decimal number, got "lots"$/],
    ["a --replenish-to of zero", ["--prices", "@good", "--replenish-to", "0"], undefined, /^error: --replenish-to must be between 0\.01 and 1000, got 0$/],
    ["a negative --hot-btc", ["--prices", "@good", "--replenish-to", "2", "--hot-btc", "-1"], undefined, /^error: --hot-btc must be a decimal number, got "-1"$/],
    ["--hot-btc without --replenish-to", ["--prices", "@good", "--hot-btc", "0.5"], undefined, /^error: --hot-btc is the hot wallet of --replenish-to; give --replenish-to TBTC too \(or drop --hot-btc\)$/],
    // 2020-12-20T01:00 -> 2020-12-21T08:00: 30 hours missing
    ["a gap longer than --max-gap", ["--prices", "@gap.csv"], "timestamp,iso_time,eth_btc\n1608422400,2020-12-20T00:00:00Z,0.0276\n1608426000,2020-12-20T01:00:00Z,0.0277\n1608537600,2020-12-21T08:00:00Z,0.0270\n", /^error: gap in the series: 2020-12-20T02:00:00Z \.\. 2020-12-21T07:00:00Z \(30 h missing\) is longer than --max-gap 24 h; pick a window without it or raise --max-gap$/],
    ["the same gap with a smaller --max-gap", ["--prices", "@gap3.csv", "--max-gap", "2"], "timestamp,iso_time,eth_btc\n1608422400,2020-12-20T00:00:00Z,0.0276\n1608436800,2020-12-20T04:00:00Z,0.0277\n", /^error: gap in the series: .* \(3 h missing\) is longer than --max-gap 2 h/],
    ["a --plot-out in a missing directory", ["--prices", "@good", "--plot-out", "no-such-dir/chart.svg"], undefined, /^error: --plot-out: cannot write into no-such-dir \(ENOENT\); give a file in an existing, writable directory$/],
    ["a --plot-out that is a directory", ["--prices", "@good", "--plot-out", "@@dir"], undefined, /^error: --plot-out: .* is a directory; give a file name/],
    // --rates (the RAI side)
    ["a rate that is not a RAY integer", ["--rates", "@bad-rates.csv"], "timestamp,block,per_second_rate_ray\n1645158362,14227921,0.999999999340827030001673352\n", /^error: .*bad-rates\.csv:2: per_second_rate_ray must be a RAY integer \(27 decimals/],
    ["a rate scaled as a WAD, not a RAY", ["--rates", "@wad-rates.csv"], "timestamp,block,per_second_rate_ray\n1645158362,14227921,999999999340827030\n", /^error: .*wad-rates\.csv:2: per_second_rate_ray must be a RAY integer/],
    ["unsorted rate timestamps", ["--rates", "@unsorted.csv"], "timestamp,block,per_second_rate_ray\n1645203368,14231287,999999999422705703456154869\n1645158362,14227921,999999999340827030001673352\n", /^error: .*unsorted\.csv:3: timestamps must increase/],
    ["duplicate rate timestamps", ["--rates", "@dup.csv"], "timestamp,block,per_second_rate_ray\n1645158362,14227921,999999999340827030001673352\n1645158362,14227922,999999999422705703456154869\n", /^error: .*dup\.csv:3: duplicate timestamp 1645158362/],
    ["a malformed rates CSV", ["--rates", "@short.csv"], "timestamp,block,per_second_rate_ray\n1645158362,999999999340827030001673352\n", /^error: .*short\.csv:2: expected 3 columns, got 2/],
    ["a rates CSV with the wrong header", ["--rates", "@hdr.csv"], "timestamp,rate\n1645158362,999999999340827030001673352\n", /^error: .*hdr\.csv:1: header must be "timestamp,block,per_second_rate_ray"/],
    ["both --prices and --rates", ["--prices", "@good", "--rates", "@r.csv"], "timestamp,block,per_second_rate_ray\n", /^error: replay: give either --prices FILE \(tBTC\) or --rates FILE \(RAI\)$/],
    ["neither --prices nor --rates", [], undefined, /^error: replay: give either --prices FILE \(tBTC\) or --rates FILE \(RAI\)$/],
    ["a --prices option with --rates", ["--rates", "@ok-rates.csv", "--portfolio", "x.json"], "timestamp,block,per_second_rate_ray\n1645158362,14227921,999999999340827030001673352\n1645203368,14231287,999999999422705703456154869\n", /^error: --rates does not take --portfolio \(a --prices option\)$/],
    ["--replenish-to with --rates", ["--rates", "@ok-rates.csv", "--replenish-to", "2"], "timestamp,block,per_second_rate_ray\n1645158362,14227921,999999999340827030001673352\n1645203368,14231287,999999999422705703456154869\n", /^error: --rates does not take --replenish-to \(a --prices option\)$/],
  ])("%s: one line, exit 2, no node started", async (_what, args, content, re) => {
    const resolved = args.map((a) => (a === "@good" ? good() : a === "@@dir" ? home : a.startsWith("@") ? write(a.slice(1), content as string) : a));
    const started = Date.now();
    const r = await runKeepctl(["replay", ...resolved], { home });
    expect(r.code).toBe(2);
    const errLines = r.stderr.split("\n").filter((l) => l.startsWith("error:"));
    expect(errLines).toHaveLength(1);
    expect(errLines[0]).toMatch(re);
    expect(r.stdout).toBe("");
    expect(r.stderr).not.toMatch(/starting the devnet/);
    expect(Date.now() - started).toBeLessThan(15_000);
    if (args.includes("--plot-out")) expect(fs.existsSync(path.join(home, "no-such-dir"))).toBe(false);
  });
});
