// The text-format parser is a third-party library on purpose: our own regex over our own output
// would agree with whatever we print, right or wrong.
import parse from "parse-prometheus-text-format";

const parsePrometheusTextFormat = parse as unknown as (text: string) => Family[];

export interface Sample {
  labels?: Record<string, string>;
  /** Counters and gauges. */
  value?: string;
  /** Histograms and summaries. */
  count?: string;
  sum?: string;
  buckets?: Record<string, string>;
}

export interface Family {
  name: string;
  help: string;
  type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "SUMMARY" | "UNTYPED";
  metrics: Sample[];
}

export function parseMetrics(text: string): Map<string, Family> {
  return new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
}

/** GET /metrics and parse it; throws on a status other than 200 or a wrong content type. */
export async function scrape(base: string): Promise<Map<string, Family>> {
  const r = await fetch(`${base}/metrics`);
  if (r.status !== 200) throw new Error(`GET /metrics: ${r.status}`);
  const type = r.headers.get("content-type") ?? "";
  if (!type.startsWith("text/plain; version=0.0.4")) throw new Error(`GET /metrics: content-type ${type}`);
  return parseMetrics(await r.text());
}

/** The samples of `name` whose labels include `labels`. */
export function samples(m: Map<string, Family>, name: string, labels: Record<string, string> = {}): Sample[] {
  const f = m.get(name);
  if (!f) return [];
  return f.metrics.filter((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
}

/** The one value of `name` with `labels` (a counter or gauge), as a number; undefined when absent. */
export function valueOf(m: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const s = samples(m, name, labels);
  if (s.length > 1) throw new Error(`${name} ${JSON.stringify(labels)}: ${s.length} samples`);
  return s.length ? Number(s[0].value) : undefined;
}

/** Sum of every sample of `name` whose labels include `labels`. */
export function sumOf(m: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  return samples(m, name, labels).reduce((a, s) => a + Number(s.value ?? s.count ?? 0), 0);
}
