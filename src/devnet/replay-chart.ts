import type { ReplayAction, ReplayReport, ReplayTrace, WalkKind } from "./replay";

/**
 * The replay's chart, twice: a compact text chart for the terminal and an SVG for `--plot-out`.
 * Pure (numbers in, text out), written by hand: an SVG of lines and shapes needs no library.
 * Both show the price, the deposits' collateralization against the contracts' 150/125/110 %
 * lines, and every action of every walk.
 */

/** The lines tBTC v1.1.0 draws: the bond's opening level, courtesy call, liquidation. */
export const LINES = [
  { pct: 150, name: "opening bond (150 %)" },
  { pct: 125, name: "courtesy call (125 %)" },
  { pct: 110, name: "liquidation (110 %)" },
] as const;

const WALK_NAME: Record<WalkKind, string> = { bot: "bot", "no-replenish": "nrep", seed: "seed", none: "none" };
const WALK_COLOUR: Record<WalkKind, string> = { bot: "#1a7f37", "no-replenish": "#8250df", seed: "#9a6700", none: "#cf222e" };
const KIND_LETTER: Record<ReplayAction["kind"], string> = { "courtesy-call": "C", redemption: "R", liquidation: "L" };

/** The collateralization axis: always shows 100..160, widened to the data (capped, a deposit may open far above). */
function pctRange(trace: ReplayTrace): { lo: number; hi: number } {
  let lo = 100;
  let hi = 160;
  for (const series of Object.values(trace.collateral)) {
    for (const v of series) {
      if (v === null) continue;
      lo = Math.min(lo, v);
      hi = Math.max(hi, Math.min(v, 250));
    }
  }
  return { lo: Math.floor(lo / 5) * 5, hi: Math.ceil(hi / 5) * 5 };
}

/** The lowest live collateralization at each point (null when no deposit is live). */
function lowestPerPoint(trace: ReplayTrace): Array<number | null> {
  const out: Array<number | null> = trace.t.map(() => null);
  for (const series of Object.values(trace.collateral)) {
    series.forEach((v, i) => {
      if (v !== null && (out[i] === null || v < out[i]!)) out[i] = v;
    });
  }
  return out;
}

const indexOfIso = (trace: ReplayTrace, iso: string): number => {
  const t = Date.parse(iso) / 1000;
  let lo = 0;
  let hi = trace.t.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (trace.t[mid] <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
};

/**
 * The terminal chart: a price strip, the lowest live deposit's collateralization on a grid with
 * the 150/125/110 lines, and one row of action letters per walk (C, R, L).
 */
export function textChart(report: ReplayReport, trace: ReplayTrace, width = 64): string[] {
  const n = trace.t.length;
  const cols = Math.max(8, Math.min(width, n));
  const colOf = (i: number) => Math.min(cols - 1, Math.floor((i * cols) / n));
  const lowest = lowestPerPoint(trace);
  const colLow: Array<number | null> = new Array(cols).fill(null);
  const colPrice: number[] = new Array(cols).fill(0);
  const colCount: number[] = new Array(cols).fill(0);
  for (let i = 0; i < n; i++) {
    const c = colOf(i);
    colPrice[c] += trace.ethBtc[i];
    colCount[c]++;
    const v = lowest[i];
    if (v !== null && (colLow[c] === null || v < colLow[c]!)) colLow[c] = v;
  }
  const prices = colPrice.map((s, c) => s / Math.max(1, colCount[c]));
  const pMin = Math.min(...trace.ethBtc);
  const pMax = Math.max(...trace.ethBtc);
  const bars = "▁▂▃▄▅▆▇█";
  const strip = prices.map((p) => bars[pMax === pMin ? 3 : Math.min(7, Math.floor(((p - pMin) / (pMax - pMin)) * 8))]).join("");
  const out: string[] = [];
  out.push(`ETH/BTC ${pMin} .. ${pMax}`);
  out.push(`        ${strip}`);
  out.push("lowest live deposit's collateralization, %:");
  const { lo, hi } = pctRange(trace);
  const rows = 10;
  const band = (hi - lo) / rows;
  for (let r = 0; r < rows; r++) {
    const top = hi - r * band;
    const bottom = top - band;
    const line = LINES.find((l) => l.pct < top && l.pct >= bottom);
    const cells = colLow.map((v) => (v !== null && v < top && v >= bottom ? "*" : line ? (line.pct === 110 ? "_" : line.pct === 125 ? "=" : "-") : " "));
    const label = line ? String(line.pct).padStart(4) : r === 0 ? String(Math.round(top)).padStart(4) : r === rows - 1 ? String(Math.round(bottom)).padStart(4) : "    ";
    out.push(`${label} |${cells.join("")}`);
  }
  for (const run of report.runs) {
    const row: string[] = new Array(cols).fill(".");
    // Several actions in one column: the gravest shows (L over R over C).
    for (const a of report.actions) {
      if (a.walk !== run.walk) continue;
      const c = colOf(indexOfIso(trace, a.at));
      if ("._C_R_L".indexOf(row[c]) < "._C_R_L".indexOf(KIND_LETTER[a.kind])) row[c] = KIND_LETTER[a.kind];
    }
    out.push(`${WALK_NAME[run.walk].padStart(4)} |${row.join("")}`);
  }
  out.push(`     ${report.window.from.slice(0, 10)}${" ".repeat(Math.max(1, cols - 19))}${report.window.to.slice(0, 10)}`);
  out.push("     * lowest live deposit; lines 150 - opening, 125 = courtesy call, 110 _ liquidation; C courtesy call, R redemption, L liquidation");
  return out;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
const f = (x: number) => (Math.round(x * 10) / 10).toString();

/** A deposit's readings thinned to at most `max` points, keeping each bucket's lowest (the dips matter). */
function thin(series: Array<number | null>, max: number): Array<{ i: number; v: number }> {
  const pts: Array<{ i: number; v: number }> = [];
  series.forEach((v, i) => {
    if (v !== null) pts.push({ i, v });
  });
  if (pts.length <= max) return pts;
  const size = Math.ceil(pts.length / max);
  const out: Array<{ i: number; v: number }> = [];
  for (let k = 0; k < pts.length; k += size) {
    let best = pts[k];
    for (let j = k; j < Math.min(pts.length, k + size); j++) if (pts[j].v < best.v) best = pts[j];
    out.push(best);
  }
  return out;
}

/**
 * The SVG: price on top, one polyline per deposit below against the three lines, one marker per
 * action (shape by kind, colour by walk, each with a title). Identical for identical reports.
 */
export function svgChart(report: ReplayReport, trace: ReplayTrace): string {
  const W = 1000;
  const left = 70;
  const right = 180;
  const plotW = W - left - right;
  const price = { top: 40, h: 150 };
  const coll = { top: 240, h: 320 };
  const H = coll.top + coll.h + 50;
  const n = trace.t.length;
  const x = (i: number) => left + (n <= 1 ? 0 : (i / (n - 1)) * plotW);
  const pMin = Math.min(...trace.ethBtc);
  const pMax = Math.max(...trace.ethBtc);
  const yPrice = (p: number) => price.top + price.h - (pMax === pMin ? price.h / 2 : ((p - pMin) / (pMax - pMin)) * price.h);
  const { lo, hi } = pctRange(trace);
  const yPct = (v: number) => coll.top + coll.h - ((Math.min(v, hi) - lo) / (hi - lo)) * coll.h;
  const o: string[] = [];
  o.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  o.push(`<title>keepctl replay ${esc(report.window.from)} .. ${esc(report.window.to)}</title>`);
  o.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  // Price panel.
  o.push(`<text x="${left}" y="${price.top - 12}" font-weight="bold">ETH/BTC (${pMin} .. ${pMax})</text>`);
  o.push(`<rect x="${left}" y="${price.top}" width="${plotW}" height="${price.h}" fill="none" stroke="#d0d7de"/>`);
  const pricePts = thin(trace.ethBtc, 2000).map(({ i, v }) => `${f(x(i))},${f(yPrice(v))}`).join(" ");
  o.push(`<polyline class="price" fill="none" stroke="#0969da" stroke-width="1.2" points="${pricePts}"/>`);
  o.push(`<text x="${left - 6}" y="${f(yPrice(pMax) + 4)}" text-anchor="end">${pMax}</text>`);
  o.push(`<text x="${left - 6}" y="${f(yPrice(pMin) + 4)}" text-anchor="end">${pMin}</text>`);
  // Collateralization panel.
  o.push(`<text x="${left}" y="${coll.top - 12}" font-weight="bold">collateralization of each deposit, % (collateralizationPercentage())</text>`);
  o.push(`<rect x="${left}" y="${coll.top}" width="${plotW}" height="${coll.h}" fill="none" stroke="#d0d7de"/>`);
  for (const l of LINES) {
    const y = f(yPct(l.pct));
    o.push(`<line class="threshold" x1="${left}" y1="${y}" x2="${left + plotW}" y2="${y}" stroke="${l.pct === 110 ? "#cf222e" : l.pct === 125 ? "#bf8700" : "#8c959f"}" stroke-dasharray="6 4"/>`);
    o.push(`<text x="${left - 6}" y="${f(Number(y) + 4)}" text-anchor="end">${l.pct}%</text>`);
  }
  const labels = Object.keys(trace.collateral);
  const shade = (k: number) => `hsl(${Math.round((k * 360) / Math.max(1, labels.length))}, 45%, 45%)`;
  labels.forEach((label, k) => {
    const pts = thin(trace.collateral[label], 1500).map(({ i, v }) => `${f(x(i))},${f(yPct(v))}`).join(" ");
    o.push(`<polyline class="deposit" data-deposit="${esc(label)}" fill="none" stroke="${shade(k)}" stroke-width="1" points="${pts}"><title>${esc(label)}</title></polyline>`);
  });
  // Actions: on the deposit's line at the point of the pass that sent them.
  for (const a of report.actions) {
    const i = indexOfIso(trace, a.at);
    const v = trace.collateral[a.deposit]?.[i] ?? null;
    const cx = f(x(i));
    const cy = f(v === null ? yPct(125) : yPct(v));
    const colour = WALK_COLOUR[a.walk];
    const title = `<title>${esc(`${a.walk}: ${a.kind} of ${a.deposit} at ${a.at} by ${a.by}`)}</title>`;
    const attrs = `class="action" data-walk="${a.walk}" data-kind="${a.kind}" data-deposit="${esc(a.deposit)}"`;
    if (a.kind === "courtesy-call") o.push(`<circle ${attrs} cx="${cx}" cy="${cy}" r="5" fill="none" stroke="${colour}" stroke-width="2">${title}</circle>`);
    else if (a.kind === "redemption") o.push(`<rect ${attrs} x="${f(Number(cx) - 4)}" y="${f(Number(cy) - 4)}" width="8" height="8" fill="${colour}">${title}</rect>`);
    else o.push(`<path ${attrs} d="M ${f(Number(cx) - 5)} ${f(Number(cy) - 5)} L ${f(Number(cx) + 5)} ${f(Number(cy) + 5)} M ${f(Number(cx) - 5)} ${f(Number(cy) + 5)} L ${f(Number(cx) + 5)} ${f(Number(cy) - 5)}" stroke="${colour}" stroke-width="2.5">${title}</path>`);
  }
  // Axis dates and the legend.
  o.push(`<text x="${left}" y="${coll.top + coll.h + 18}">${esc(report.window.from)}</text>`);
  o.push(`<text x="${left + plotW}" y="${coll.top + coll.h + 18}" text-anchor="end">${esc(report.window.to)}</text>`);
  const lx = left + plotW + 16;
  let ly = coll.top;
  o.push(`<text x="${lx}" y="${ly}" font-weight="bold">actions</text>`);
  for (const run of report.runs) {
    ly += 18;
    o.push(`<text x="${lx}" y="${ly}" fill="${WALK_COLOUR[run.walk]}">${run.walk === "bot" ? "with the bot" : run.walk === "no-replenish" ? "bot, no replenish" : run.walk === "seed" ? "seed's policy" : "no bot"}</text>`);
  }
  ly += 24;
  o.push(`<circle cx="${lx + 5}" cy="${ly - 4}" r="5" fill="none" stroke="#57606a" stroke-width="2"/><text x="${lx + 16}" y="${ly}">courtesy call</text>`);
  ly += 18;
  o.push(`<rect x="${lx + 1}" y="${ly - 8}" width="8" height="8" fill="#57606a"/><text x="${lx + 16}" y="${ly}">redemption</text>`);
  ly += 18;
  o.push(`<path d="M ${lx} ${ly - 9} L ${lx + 10} ${ly + 1} M ${lx} ${ly + 1} L ${lx + 10} ${ly - 9}" stroke="#57606a" stroke-width="2.5"/><text x="${lx + 16}" y="${ly}">liquidation</text>`);
  o.push(`</svg>`);
  return o.join("\n") + "\n";
}
