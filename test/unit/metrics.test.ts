import { afterEach, describe, expect, it } from "vitest";
import { ExitCode, KeepctlError } from "../../src/lib/errors";
import { EndpointPool } from "../../src/lib/chain/endpoint-pool";
import { LoopMetrics, parseMetricsAddr, startMetricsServer, type MetricsServer } from "../../src/lib/metrics";
import { parseMetrics, scrape, samples, valueOf } from "../helpers/prometheus";

type Json = Awaited<ReturnType<LoopMetrics["registry"]["getMetricsAsJSON"]>>;
/** count and sum of one labelled histogram series, from prom-client's JSON. */
function histogram(json: Json, name: string, labels: Record<string, string>): { count: number; sum: number } {
  const f = json.find((x) => x.name === name)!;
  const match = (v: { labels: Record<string, unknown> }) => Object.entries(labels).every(([k, x]) => v.labels[k] === x);
  const vals = (f.values as { metricName?: string; value: number; labels: Record<string, unknown> }[]).filter(match);
  return { count: vals.find((v) => v.metricName === `${name}_count`)!.value, sum: vals.find((v) => v.metricName === `${name}_sum`)!.value };
}

describe("parseMetricsAddr", () => {
  it("a bare port or :port binds loopback; host:port and [v6]:port are read", () => {
    expect(parseMetricsAddr("9464")).toEqual({ host: "127.0.0.1", port: 9464 });
    expect(parseMetricsAddr(":9100")).toEqual({ host: "127.0.0.1", port: 9100 });
    expect(parseMetricsAddr("localhost:9100")).toEqual({ host: "localhost", port: 9100 });
    expect(parseMetricsAddr("127.0.0.2:1")).toEqual({ host: "127.0.0.2", port: 1 });
    expect(parseMetricsAddr("[::1]:9464")).toEqual({ host: "::1", port: 9464 });
  });

  it("refuses a non-loopback host unless allowed, and bad ports or hosts, as usage errors", () => {
    for (const bad of ["0.0.0.0:9464", "10.0.0.5:9464", "[::]:9464", "example.com:80"]) {
      const e = (() => { try { parseMetricsAddr(bad); } catch (x) { return x; } })();
      expect(e, bad).toBeInstanceOf(KeepctlError);
      expect((e as KeepctlError).exitCode).toBe(ExitCode.USAGE);
      expect((e as KeepctlError).hint).toContain("--metrics-allow-remote");
    }
    expect(parseMetricsAddr("0.0.0.0:9464", true)).toEqual({ host: "0.0.0.0", port: 9464 });
    for (const bad of ["", "host", "127.0.0.1:", "127.0.0.1:70000", "127.0.0.1:9x", "::1:9464", "[nope]:1", "a b:1"]) {
      expect(() => parseMetricsAddr(bad), bad).toThrow(KeepctlError);
    }
  });
});

describe("the exporter over HTTP", () => {
  let server: MetricsServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("/healthz: 503 before the first good pass, 200 after it, 503 once it is older than N intervals", async () => {
    let now = 1_000_000;
    const m = new LoopMetrics({ loop: "watch", intervalSec: 10, healthIntervals: 2, now: () => now });
    server = await startMetricsServer(m, { host: "127.0.0.1", port: 0 });
    const base = `http://127.0.0.1:${server.address.port}`;
    const health = async () => {
      const r = await fetch(`${base}/healthz`);
      return { status: r.status, body: (await r.json()) as { status: string } };
    };
    expect(await health()).toMatchObject({ status: 503, body: { status: "starting" } });
    m.passEnded(false, 5);
    expect((await health()).status).toBe(503);
    m.passEnded(true, 1500);
    expect(await health()).toMatchObject({ status: 200, body: { status: "ok" } });
    now += 20_000; // exactly 2 intervals: still within
    expect((await health()).status).toBe(200);
    now += 1;
    expect(await health()).toMatchObject({ status: 503, body: { status: "stale" } });
    const parsed = await scrape(base);
    expect(valueOf(parsed, "keepctl_passes_total", { outcome: "ok", loop: "watch" })).toBe(1);
    expect(valueOf(parsed, "keepctl_passes_total", { outcome: "failed" })).toBe(1);
    expect(valueOf(parsed, "keepctl_up")).toBe(0);
    expect(valueOf(parsed, "keepctl_last_good_pass_timestamp_seconds")).toBe(1000);
    // Histograms from prom-client's own JSON: the text parser flattens labelled histograms away.
    expect(parsed.get("keepctl_pass_duration_seconds")?.type).toBe("HISTOGRAM");
    const d = histogram(await m.registry.getMetricsAsJSON(), "keepctl_pass_duration_seconds", {});
    expect(d).toEqual({ count: 2, sum: 1.505 });
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: "POST" })).status).toBe(405);
  });

  it("a taken port is a usage error naming the address", async () => {
    const m = new LoopMetrics({ loop: "watch", intervalSec: 10 });
    server = await startMetricsServer(m, { host: "127.0.0.1", port: 0 });
    const e = await startMetricsServer(m, { host: "127.0.0.1", port: server.address.port }).catch((x) => x);
    expect(e).toBeInstanceOf(KeepctlError);
    expect(e.exitCode).toBe(ExitCode.USAGE);
    expect(e.message).toContain(`127.0.0.1:${server.address.port}`);
    expect(e.hint).toContain("another process");
  });
});

describe("what the events become", () => {
  it("deposits of the last good pass, their minimum, transactions by kind and outcome, endpoints redacted", async () => {
    const m = new LoopMetrics({ loop: "watch", intervalSec: 60, warnBelowPct: 130 });
    const pool = new EndpointPool(["https://eth.example.org/v2/SECRETKEY123456789", "http://127.0.0.1:8545"]);
    m.watchPool(pool);
    m.watchJournal(() => 2);
    m.observe({ type: "deposit", deposit: "0xA", state: "ACTIVE", collateralPct: 127.5 });
    m.observe({ type: "deposit", deposit: "0xB", state: "ACTIVE", collateralPct: 150 });
    // Not yet shown: the pass has not ended.
    let parsed = parseMetrics(await m.registry.metrics());
    expect(samples(parsed, "keepctl_deposit_collateralization_percent")).toHaveLength(0);
    m.observe({ type: "heartbeat", loop: 1, ok: true, ms: 10, block: 5, deposits: 2, atRisk: 1 });
    m.observe({ type: "sent", label: "redeem", nonce: 0, hash: "0x1", maxFeePerGas: 1n, maxPriorityFeePerGas: 1n, confirmed: true, key: "0xA:redeem", deposit: "0xA", action: "redeem" });
    m.observe({ type: "replaced", label: "redeem", nonce: 0, hash: "0x2", previousHash: "0x1", maxFeePerGas: 2n, maxPriorityFeePerGas: 2n, key: "0xA:redeem", deposit: "0xA", action: "redeem" });
    m.observe({ type: "fee-cap-reached", label: "redeem", nonce: 0, maxFeePerGas: 2n, maxPriorityFeePerGas: 2n, cap: 2n, key: "0xA:redeem", deposit: "0xA", action: "redeem" });
    m.observe({ type: "mined", label: "redeem", nonce: 0, hash: "0x2", blockNumber: 6, status: 1, gasUsed: 1n, key: "0xA:redeem", deposit: "0xA", action: "redeem" });
    m.observe({ type: "mined", label: "x", nonce: 1, hash: "0x3", blockNumber: 7, status: 0, gasUsed: 1n, key: "0xE:0xS:liquidate" });
    m.observe({ type: "failed", label: "x", error: "no", sent: false, final: true, key: "0xE:0xT:approve" });
    for (const ep of pool.endpoints) for (const f of ep.observers) f(250, ep.label.startsWith("https"));
    parsed = parseMetrics(await m.registry.metrics());
    expect(valueOf(parsed, "keepctl_deposit_collateralization_percent", { deposit: "0xA", state: "ACTIVE" })).toBe(127.5);
    expect(valueOf(parsed, "keepctl_deposit_healthy", { deposit: "0xA" })).toBe(0);
    expect(valueOf(parsed, "keepctl_deposit_healthy", { deposit: "0xB" })).toBe(1);
    expect(valueOf(parsed, "keepctl_min_collateralization_percent")).toBe(127.5);
    expect(valueOf(parsed, "keepctl_transactions_sent_total", { kind: "redeem" })).toBe(1);
    expect(valueOf(parsed, "keepctl_transaction_replacements_total", { kind: "redeem" })).toBe(1);
    expect(valueOf(parsed, "keepctl_fee_cap_hits_total", { kind: "redeem" })).toBe(1);
    expect(valueOf(parsed, "keepctl_transactions_total", { kind: "redeem", outcome: "mined" })).toBe(1);
    expect(valueOf(parsed, "keepctl_transactions_total", { kind: "liquidate", outcome: "reverted" })).toBe(1);
    expect(valueOf(parsed, "keepctl_transactions_total", { kind: "approve", outcome: "failed" })).toBe(1);
    expect(valueOf(parsed, "keepctl_journal_in_flight")).toBe(2);
    const endpoints = samples(parsed, "keepctl_rpc_requests_total").map((s) => s.labels!.endpoint);
    expect(endpoints.sort()).toEqual(["http://127.0.0.1:8545", pool.endpoints[0].label].sort());
    expect(endpoints.join(" ")).not.toContain("SECRETKEY");
    expect(valueOf(parsed, "keepctl_rpc_errors_total", { endpoint: "http://127.0.0.1:8545" })).toBe(1);
    expect(valueOf(parsed, "keepctl_rpc_errors_total", { endpoint: pool.endpoints[0].label })).toBeUndefined();
    expect(histogram(await m.registry.getMetricsAsJSON(), "keepctl_rpc_request_duration_seconds", { endpoint: "http://127.0.0.1:8545" })).toEqual({ count: 1, sum: 0.25 });
    // A deposit gone from the next good pass (redeemed) is gone from the metrics.
    m.observe({ type: "deposit", deposit: "0xB", state: "ACTIVE", collateralPct: 151 });
    m.passEnded(true, 10);
    parsed = parseMetrics(await m.registry.metrics());
    expect(samples(parsed, "keepctl_deposit_collateralization_percent").map((s) => s.labels!.deposit)).toEqual(["0xB"]);
    expect(valueOf(parsed, "keepctl_min_collateralization_percent")).toBe(151);
  });

  it("pre-approvals: one transaction kind whatever the amount in the key, and the left ones as gauges", async () => {
    const m = new LoopMetrics({ loop: "watch", intervalSec: 60, warnBelowPct: 130 });
    m.observe({ type: "sent", label: "x", nonce: 0, hash: "0x1", maxFeePerGas: 1n, maxPriorityFeePerGas: 1n, confirmed: true, key: "0xV:preapprove:5:0:e40c292c", deposit: "0xV", action: "preapprove:5:0:e40c292c" });
    m.observe({ type: "mined", label: "x", nonce: 1, hash: "0x2", blockNumber: 7, status: 1, gasUsed: 1n, key: "0xW:preapprove:7:1:811c9dc5" });
    m.observe({ type: "preapprovals-left", count: 2, tbtc: 3n * 10n ** 18n / 2n, spenders: ["0xV", "0xW"] });
    const parsed = parseMetrics(await m.registry.metrics());
    expect(valueOf(parsed, "keepctl_transactions_sent_total", { kind: "preapprove" })).toBe(1);
    expect(valueOf(parsed, "keepctl_transactions_total", { kind: "preapprove", outcome: "mined" })).toBe(1);
    expect(samples(parsed, "keepctl_transactions_sent_total")).toHaveLength(1);
    expect(valueOf(parsed, "keepctl_preapprovals_left")).toBe(2);
    expect(valueOf(parsed, "keepctl_preapprovals_left_tbtc")).toBe(1.5);
  });
});
