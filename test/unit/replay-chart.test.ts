import { describe, expect, it } from "vitest";
import { svgChart, textChart } from "../../src/devnet/replay-chart";
import type { ReplayAction, ReplayReport, ReplayTrace, RunResult } from "../../src/devnet/replay";

/** The chart from a small hand-made report: structure of the SVG and the terminal chart's marks. */
const H = 3600;
const T0 = Date.parse("2020-12-20T00:00:00Z") / 1000;
const iso = (i: number) => new Date((T0 + i * H) * 1000).toISOString().replace(/\.000Z$/, "Z");
const N = 40;

function trace(): ReplayTrace {
  const t = Array.from({ length: N }, (_, i) => T0 + i * H);
  const ethBtc = t.map((_, i) => 0.0276 - i * 0.0001);
  return {
    t, ethBtc,
    collateral: {
      // opened at point 0, liquidated after point 20 in every walk
      "a<&>\"'": t.map((_, i) => (i <= 20 ? 150 - i * 2 : null)),
      // opened at point 10
      b: t.map((_, i) => (i < 10 ? null : 140 - (i - 10))),
    },
  };
}

const run = (walk: RunResult["walk"]): RunResult => ({
  walk, bot: walk !== "none", deposits: [], courtesyCalled: 0, redeemedByBot: 0, liquidated: 0, bondsSeizedEth: "0.0", operatorBondsSeizedEth: "0.0",
  operatorTbtcSpent: "0.0", operatorEthSpent: "0.0", operatorGasUsed: 0, operatorTxs: 0, chainPoints: N,
});

function report(actions: ReplayAction[]): ReplayReport {
  return {
    window: { from: iso(0), to: iso(N - 1), points: N, walked: N, step: 1 }, gaps: [],
    policy: { warnBelowPct: 130, redeemBelowPct: 130, notifyCourtesy: false }, budget: { tbtc: 20, eth: 10 },
    runs: [run("bot"), run("none"), run("seed")], saved: null, savedVsSeed: null, actions,
  };
}

const ACTIONS: ReplayAction[] = [
  { walk: "bot", at: iso(8), deposit: "a<&>\"'", kind: "redemption", by: "operator" },
  { walk: "none", at: iso(13), deposit: "a<&>\"'", kind: "courtesy-call", by: "other" },
  { walk: "none", at: iso(19), deposit: "a<&>\"'", kind: "liquidation", by: "other" },
  { walk: "seed", at: iso(13), deposit: "a<&>\"'", kind: "courtesy-call", by: "other" },
  { walk: "seed", at: iso(13), deposit: "a<&>\"'", kind: "redemption", by: "operator" },
  { walk: "seed", at: iso(35), deposit: "b", kind: "courtesy-call", by: "other" },
];

/**
 * Well-formedness, checked by hand (no XML parser is installed): every tag closes in order,
 * attributes are quoted, no stray `&` or `<` in text or attribute values.
 */
function assertWellFormed(svg: string): Array<{ name: string; attrs: Record<string, string> }> {
  const body = svg.replace(/^<\?xml[^?]*\?>\s*/, "");
  const stack: string[] = [];
  const elements: Array<{ name: string; attrs: Record<string, string> }> = [];
  const token = /<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < body.length) {
    token.lastIndex = at;
    m = token.exec(body);
    if (!m) throw new Error(`not well-formed at ${at}: ${body.slice(at, at + 60)}`);
    at = token.lastIndex;
    if (m[5] !== undefined) {
      expect(m[5]).not.toMatch(/&(?!(amp|lt|gt|quot|apos);)/);
      continue;
    }
    const [, close, name, rawAttrs, selfClose] = m;
    if (close) {
      expect(stack.pop(), `</${name}>`).toBe(name);
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of rawAttrs.matchAll(/([\w:-]+)="([^"]*)"/g)) {
      expect(a[2]).not.toMatch(/&(?!(amp|lt|gt|quot|apos);)/);
      expect(attrs[a[1]], `duplicate attribute ${a[1]}`).toBeUndefined();
      attrs[a[1]] = a[2];
    }
    elements.push({ name, attrs });
    if (!selfClose) stack.push(name);
  }
  expect(stack).toEqual([]);
  expect(elements[0].name).toBe("svg");
  return elements;
}

describe("replay chart", () => {
  it("SVG: well-formed, one polyline per deposit, one marker per action with its walk and kind", () => {
    const svg = svgChart(report(ACTIONS), trace());
    const els = assertWellFormed(svg);
    const deposits = els.filter((e) => e.name === "polyline" && e.attrs.class === "deposit");
    expect(deposits.map((e) => e.attrs["data-deposit"])).toEqual(["a&lt;&amp;&gt;&quot;&apos;", "b"]);
    // a polyline has exactly the points where the deposit was live
    expect(deposits[0].attrs.points.split(" ")).toHaveLength(21);
    expect(deposits[1].attrs.points.split(" ")).toHaveLength(30);
    const markers = els.filter((e) => e.attrs.class === "action");
    expect(markers).toHaveLength(ACTIONS.length);
    expect(markers.map((e) => `${e.attrs["data-walk"]}:${e.attrs["data-kind"]}`)).toEqual(ACTIONS.map((a) => `${a.walk}:${a.kind}`));
    expect(els.filter((e) => e.attrs.class === "threshold")).toHaveLength(3);
  });

  it("SVG: markers sit on their deposit's line at the action's point", () => {
    const els = assertWellFormed(svgChart(report(ACTIONS), trace()));
    const line = els.find((e) => e.attrs.class === "deposit" && e.attrs["data-deposit"] === "b")!;
    const pts = line.attrs.points.split(" ").map((p) => p.split(",").map(Number));
    const courtesyB = els.find((e) => e.attrs.class === "action" && e.attrs["data-deposit"] === "b")!;
    // point 35 is the 26th point of b's line (b starts at point 10)
    expect([Number(courtesyB.attrs.cx), Number(courtesyB.attrs.cy)]).toEqual(pts[25]);
  });

  it("SVG: identical for identical input, and a report without actions has no markers", () => {
    expect(svgChart(report(ACTIONS), trace())).toBe(svgChart(report(ACTIONS), trace()));
    expect(svgChart(report([]), trace())).not.toMatch(/class="action"/);
  });

  it("text chart: one action row per walk, the gravest action of a column shows", () => {
    const lines = textChart(report(ACTIONS), trace(), N);
    const row = (w: string) => lines.find((l) => l.startsWith(w.padStart(4) + " |"))!.slice(6);
    expect(row("bot")).toBe(".".repeat(8) + "R" + ".".repeat(N - 9));
    expect(row("none")[13]).toBe("C");
    expect(row("none")[19]).toBe("L");
    expect(row("seed")[13]).toBe("R"); // courtesy call and redemption in one pass
    expect(row("seed")[35]).toBe("C");
    expect(row("seed").replace(/\./g, "")).toBe("RC");
    // The grid: the lowest live deposit per column; a's line reaches 110 % at point 20 (its last).
    const gridRow = (label: string) => lines.find((l) => l.startsWith(`${label} |`))!.slice(6);
    expect(gridRow(" 110")[20]).toBe("*");
    expect(gridRow(" 110")[21]).toBe("_");
    expect(lines.some((l) => l.startsWith(" 125 |"))).toBe(true);
    expect(lines.some((l) => l.startsWith(" 110 |"))).toBe(true);
  });
});
