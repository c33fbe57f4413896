import type { RateObservation, TimeWindow } from "./types";

/**
 * Text chart of the annualized rate (step function) across a window. Returns lines; the command
 * prints them. Floats are fine here: the chart is for eyes, the price itself stays exact.
 */
export function plotRates(points: readonly RateObservation[], window: TimeWindow, opts: { width?: number; height?: number } = {}): string[] {
  const width = Math.max(10, opts.width ?? 60);
  const height = Math.max(3, opts.height ?? 10);
  const span = Math.max(1, window.end - window.start);
  // value in force at each column's time; undefined before the first known rate
  const cols: (number | undefined)[] = [];
  let j = -1;
  for (let c = 0; c < width; c++) {
    const t = window.start + (span * c) / (width - 1);
    while (j + 1 < points.length && points[j + 1].timestamp <= t) j++;
    cols.push(j >= 0 ? Number(points[j].price) / 1e18 : undefined);
  }
  const known = cols.filter((v): v is number => v !== undefined);
  if (known.length === 0) return ["(no rate known in the window)"];
  let lo = Math.min(...known);
  let hi = Math.max(...known);
  if (hi - lo < 1e-12) { lo -= 1e-6; hi += 1e-6; }
  const label = (v: number) => `${((v - 1) * 100).toFixed(4)}%`.padStart(10);
  const rows: string[] = [];
  for (let r = height - 1; r >= 0; r--) {
    const level = lo + ((hi - lo) * r) / (height - 1);
    const cells = cols.map((v) => (v === undefined ? " " : Math.round(((v - lo) / (hi - lo)) * (height - 1)) === r ? "*" : " "));
    rows.push(`${r === height - 1 || r === 0 || r === Math.floor((height - 1) / 2) ? label(level) : " ".repeat(10)} |${cells.join("")}`);
  }
  rows.push(" ".repeat(10) + " +" + "-".repeat(width));
  const left = new Date(window.start * 1000).toISOString().slice(0, 16).replace("T", " ");
  const right = new Date(window.end * 1000).toISOString().slice(0, 16).replace("T", " ");
  rows.push(" ".repeat(12) + left + right.padStart(width - left.length));
  rows.push(" ".repeat(12) + "annualized redemption rate, % per year");
  return rows;
}
