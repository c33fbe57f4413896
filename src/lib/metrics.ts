import { formatEther } from "ethers";
import http from "node:http";
import net from "node:net";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { EndpointPool } from "./chain/endpoint-pool";
import { KeepctlError, ExitCode, UsageError } from "./errors";
import type { BotEvent, WatchEvent } from "./events";

/**
 * The Prometheus exporter of the long-running loops (watch, emp-liquidate, emp-dispute, emp-guard). Off
 * unless --metrics-addr is given. Values come from what the loop already reports: its events
 * (deposits, transactions), its pass ends, the RPC endpoints' per-attempt observers, and the
 * journal. Each loop owns a Registry of its own (prom-client's global one would leak between
 * tests and between two loops in one process). `/healthz` answers 200 only while the last good
 * pass is recent, so a supervisor or a load balancer can tell a stuck loop from a running one.
 */

export const DEFAULT_METRICS_PORT = 9464;
/** /healthz turns 503 when no pass succeeded within this many intervals. */
export const DEFAULT_HEALTH_INTERVALS = 3;

export interface MetricsAddr {
  host: string;
  port: number;
}

const LOOPBACK_NAMES = new Set(["localhost", "ip6-localhost", "ip6-loopback"]);

export function isLoopbackHost(host: string): boolean {
  if (LOOPBACK_NAMES.has(host.toLowerCase())) return true;
  if (net.isIPv4(host)) return host.startsWith("127.");
  if (net.isIPv6(host)) return host === "::1" || /^(0{0,4}:){7}0{0,3}1$/.test(host) || /^::ffff:127\./i.test(host);
  return false;
}

/**
 * `--metrics-addr`: `PORT`, `:PORT`, `HOST:PORT` or `[V6]:PORT`. No host means 127.0.0.1. The
 * exporter shows balances, addresses and RPC origins: a host other than loopback is refused
 * unless the operator also passes --metrics-allow-remote.
 */
export function parseMetricsAddr(value: string, allowRemote = false): MetricsAddr {
  const bad = (why: string) =>
    new UsageError(`--metrics-addr ${JSON.stringify(value)}: ${why}`, { hint: "use HOST:PORT, e.g. 127.0.0.1:9464, or just the port" });
  const v = value.trim();
  let host = "127.0.0.1";
  let portText: string;
  const v6 = /^\[([^\]]+)\]:(\d*)$/.exec(v);
  if (v6) {
    host = v6[1];
    portText = v6[2];
    if (!net.isIPv6(host)) throw bad(`"${host}" is not an IPv6 address`);
  } else if (/^\d+$/.test(v)) {
    portText = v;
  } else {
    const i = v.lastIndexOf(":");
    if (i < 0) throw bad("no port");
    if (v.indexOf(":") !== i) throw bad("an IPv6 host goes in brackets: [::1]:9464");
    if (i > 0) host = v.slice(0, i);
    portText = v.slice(i + 1);
    if (!/^[A-Za-z0-9.-]+$/.test(host)) throw bad(`"${host}" is not a host name or address`);
  }
  if (!/^\d{1,5}$/.test(portText)) throw bad("the port must be a number");
  const port = Number(portText);
  if (port > 65_535) throw bad("the port must be 0..65535 (0: any free port, printed at start)");
  if (!allowRemote && !isLoopbackHost(host)) {
    throw new UsageError(`--metrics-addr ${JSON.stringify(value)}: ${host} is not a loopback address; the metrics show balances and addresses`, {
      hint: "keep it on 127.0.0.1 behind a proxy, or pass --metrics-allow-remote to listen there anyway",
    });
  }
  return { host, port };
}

export function parseHealthIntervals(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1 || Number(value) > 1000) {
    throw new UsageError(`--health-intervals ${JSON.stringify(value)}: must be a whole number 1..1000`, { hint: `default ${DEFAULT_HEALTH_INTERVALS}` });
  }
  return Number(value);
}

/** Which action a transaction event belongs to: tBTC events carry `action`, bot keys end in it. */
function txKind(ev: { key?: string; action?: string }): string {
  // A pre-approval's action carries its amount and deposit set (its journal identity): one kind.
  if (ev.action) return ev.action.startsWith("preapprove:") ? "preapprove" : ev.action;
  const k = ev.key ?? "";
  if (k.includes(":preapprove:")) return "preapprove";
  const i = k.lastIndexOf(":");
  return i >= 0 ? k.slice(i + 1) : k || "unknown";
}

interface DepositSeen {
  state: string;
  collateralPct: number | null;
}

export interface LoopMetricsOptions {
  /** watch | emp-liquidate | emp-dispute | emp-guard: the `loop` label of every series. */
  loop: string;
  intervalSec: number;
  healthIntervals?: number;
  /** watch: the warn threshold, so a deposit's health can be read without the thresholds. */
  warnBelowPct?: number;
  now?: () => number;
}

/** Anything with the fields of an event that metrics read (watch, bot and transaction events). */
type AnyEvent = { type: string } & Record<string, unknown>;

export class LoopMetrics {
  readonly registry = new Registry();
  private readonly now: () => number;
  private lastGoodAt?: number;
  private readonly healthIntervals: number;
  private deposits = new Map<string, DepositSeen>();
  private nextDeposits = new Map<string, DepositSeen>();
  private readonly pools = new Set<EndpointPool>();
  private inFlight?: () => number;
  private leaseHeld?: Gauge;
  private leaseState?: "standby" | "held";

  private readonly passes: Counter<"outcome">;
  private readonly passDuration: Histogram;
  private readonly lastGood: Gauge;
  private readonly txs: Counter<"kind" | "outcome">;
  private readonly sent: Counter<"kind">;
  private readonly replacements: Counter<"kind">;
  private readonly feeCap: Counter<"kind">;
  private readonly rpcRequests: Counter<"endpoint">;
  private readonly rpcErrors: Counter<"endpoint">;
  private readonly rpcLatency: Histogram<"endpoint">;
  private readonly balances: Gauge<"asset">;
  private readonly empPositions: Gauge;
  private readonly empMinRatio: Gauge;
  private readonly empLiquidations: Gauge;
  private readonly preapprovalsLeft: Gauge;
  private readonly preapprovalsLeftTbtc: Gauge;

  constructor(private readonly o: LoopMetricsOptions) {
    this.now = o.now ?? Date.now;
    this.healthIntervals = o.healthIntervals ?? DEFAULT_HEALTH_INTERVALS;
    const registers = [this.registry];
    const self = this; // collect() callbacks run with `this` bound to their metric
    this.registry.setDefaultLabels({ loop: o.loop });
    this.passes = new Counter({ name: "keepctl_passes_total", help: "Loop passes ended, by outcome (ok, failed).", labelNames: ["outcome"], registers });
    this.passDuration = new Histogram({ name: "keepctl_pass_duration_seconds", help: "Wall time of a pass, retries included.", buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300], registers });
    this.lastGood = new Gauge({ name: "keepctl_last_good_pass_timestamp_seconds", help: "Unix time the last good pass ended (0: none yet).", registers });
    new Gauge({ name: "keepctl_loop_interval_seconds", help: "Configured seconds between passes.", registers }).set(o.intervalSec);
    new Gauge({
      name: "keepctl_up", help: "1 while the last good pass is within the health window (what /healthz answers).", registers,
      collect: function (this: Gauge) { this.set(self.healthy() ? 1 : 0); },
    });
    this.txs = new Counter({ name: "keepctl_transactions_total", help: "Transactions that ended, by kind (action) and outcome (mined, reverted, failed, pending).", labelNames: ["kind", "outcome"], registers });
    this.sent = new Counter({ name: "keepctl_transactions_sent_total", help: "Transactions broadcast (first send of a nonce), by kind.", labelNames: ["kind"], registers });
    this.replacements = new Counter({ name: "keepctl_transaction_replacements_total", help: "Fee-bumped replacements broadcast, by kind.", labelNames: ["kind"], registers });
    this.feeCap = new Counter({ name: "keepctl_fee_cap_hits_total", help: "Times no replacement fit under --max-fee-gwei, by kind.", labelNames: ["kind"], registers });
    this.rpcRequests = new Counter({ name: "keepctl_rpc_requests_total", help: "HTTP requests to an RPC endpoint (origin only).", labelNames: ["endpoint"], registers });
    this.rpcErrors = new Counter({ name: "keepctl_rpc_errors_total", help: "HTTP requests to an RPC endpoint that failed.", labelNames: ["endpoint"], registers });
    this.rpcLatency = new Histogram({ name: "keepctl_rpc_request_duration_seconds", help: "Latency of an HTTP request to an RPC endpoint.", labelNames: ["endpoint"], buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15], registers });
    new Gauge({
      name: "keepctl_rpc_endpoint_cooling", help: "1 while an endpoint is set aside after failures.", labelNames: ["endpoint"], registers,
      collect: function (this: Gauge<"endpoint">) {
        this.reset();
        for (const p of self.pools) for (const s of p.stats) this.set({ endpoint: s.url }, s.state === "cooling" ? 1 : 0);
      },
    });
    new Gauge({
      name: "keepctl_journal_in_flight", help: "Journaled actions whose transaction may still be in flight.", registers,
      collect: function (this: Gauge) { this.set(self.inFlight ? self.inFlight() : 0); },
    });
    this.balances = new Gauge({ name: "keepctl_balance", help: "The signing account's balances after the last good pass (ETH in ether, TBTC in tokens).", labelNames: ["asset"], registers });
    if (o.loop === "watch") {
      new Gauge({
        name: "keepctl_deposit_collateralization_percent", help: "Collateralization of each live deposit, from the last good pass.", labelNames: ["deposit", "state"], registers,
        collect: function (this: Gauge<"deposit" | "state">) {
          this.reset();
          for (const [d, s] of self.deposits) if (s.collateralPct !== null) this.set({ deposit: d, state: s.state }, s.collateralPct);
        },
      });
      new Gauge({
        name: "keepctl_deposit_healthy", help: "1 when a deposit's collateralization is at or above the warn threshold, 0 below (or unknown).", labelNames: ["deposit", "state"], registers,
        collect: function (this: Gauge<"deposit" | "state">) {
          this.reset();
          for (const [d, s] of self.deposits) this.set({ deposit: d, state: s.state }, s.collateralPct !== null && s.collateralPct >= (o.warnBelowPct ?? 0) ? 1 : 0);
        },
      });
      new Gauge({
        name: "keepctl_deposits", help: "Live deposits watched in the last good pass.", registers,
        collect: function (this: Gauge) { this.set(self.deposits.size); },
      });
      new Gauge({
        name: "keepctl_min_collateralization_percent", help: "Lowest collateralization among the live deposits (NaN when none).", registers,
        collect: function (this: Gauge) {
          const v = [...self.deposits.values()].map((s) => s.collateralPct).filter((x): x is number => x !== null);
          this.set(v.length ? Math.min(...v) : NaN);
        },
      });
    }
    this.preapprovalsLeft = new Gauge({ name: "keepctl_preapprovals_left", help: "watch's pre-approvals still standing that no deposit below the warn level needs (left, not revoked).", registers: o.loop === "watch" ? registers : [] });
    this.preapprovalsLeftTbtc = new Gauge({ name: "keepctl_preapprovals_left_tbtc", help: "TBTC (tokens) those left pre-approvals still allow.", registers: o.loop === "watch" ? registers : [] });
    this.empPositions = new Gauge({ name: "keepctl_emp_positions", help: "EMP sponsor positions open at the last good pass (liquidator: all; guard: its own, 0 or 1).", registers: o.loop === "emp-liquidate" || o.loop === "emp-guard" ? registers : [] });
    this.empMinRatio = new Gauge({ name: "keepctl_emp_min_collateral_ratio", help: "Lowest collateral / (tokens x price) among the EMP positions, net of pending withdrawals (guard: its own after the pass; NaN when none or no price).", registers: o.loop === "emp-liquidate" || o.loop === "emp-guard" ? registers : [] });
    this.empLiquidations = new Gauge({ name: "keepctl_emp_liquidations", help: "EMP liquidations the disputer tracks at the last good pass.", registers: o.loop === "emp-dispute" ? registers : [] });
  }

  /** The RPC endpoints whose attempts are counted (a pool shared by two providers counts once). */
  watchPool(pool: EndpointPool): void {
    if (this.pools.has(pool)) return;
    this.pools.add(pool);
    for (const ep of pool.endpoints) {
      const endpoint = ep.label; // origin only (redactUrl): URLs embed API keys
      ep.observers.add((ms, ok) => {
        this.rpcRequests.inc({ endpoint });
        if (!ok) this.rpcErrors.inc({ endpoint });
        this.rpcLatency.observe({ endpoint }, ms / 1000);
      });
    }
  }

  /**
   * The shared state's lease (--state-url): `keepctl_lease_held` 1 while this process holds it,
   * 0 as the standby; /healthz answers 200 `standby` while it waits (a waiting standby is well).
   */
  setLease(state: "standby" | "held"): void {
    if (!this.leaseHeld) this.leaseHeld = new Gauge({ name: "keepctl_lease_held", help: "1 while this process holds the account's lease in the shared state store, 0 as the standby.", registers: [this.registry] });
    this.leaseState = state;
    this.leaseHeld.set(state === "held" ? 1 : 0);
  }

  /** How many journal entries may have a transaction in flight, read at each scrape. */
  watchJournal(count: () => number): void {
    this.inFlight = count;
  }

  /** A pass ended (good or bad). */
  passEnded(ok: boolean, ms: number): void {
    this.passes.inc({ outcome: ok ? "ok" : "failed" });
    this.passDuration.observe(ms / 1000);
    if (ok) {
      this.lastGoodAt = this.now();
      this.lastGood.set(Math.floor(this.lastGoodAt / 1000));
      this.deposits = this.nextDeposits;
    }
    this.nextDeposits = new Map();
  }

  setBalance(asset: "ETH" | "TBTC", value: number): void {
    this.balances.set({ asset }, value);
  }

  setEmpPositions(count: number, minRatio: number | null): void {
    this.empPositions.set(count);
    this.empMinRatio.set(minRatio ?? NaN);
  }

  setEmpLiquidations(count: number): void {
    this.empLiquidations.set(count);
  }

  /** Every event the loop emits passes through here; only the ones metrics count are read. */
  observe(event: WatchEvent | BotEvent): void {
    // Read by field name: the unions share `type`, and each case checks the fields it reads.
    const ev = event as unknown as AnyEvent;
    const kind = () => txKind(ev as { key?: string; action?: string });
    switch (ev.type) {
      case "deposit":
        this.nextDeposits.set(String(ev.deposit), { state: String(ev.state), collateralPct: typeof ev.collateralPct === "number" ? ev.collateralPct : null });
        break;
      case "heartbeat":
        // watch's pass end (the bots' heartbeat is mid-pass; their runner calls passEnded).
        if (this.o.loop === "watch" && typeof ev.ok === "boolean") this.passEnded(ev.ok, Number(ev.ms));
        break;
      case "preapprovals-left":
        this.preapprovalsLeft.set(Number(ev.count));
        this.preapprovalsLeftTbtc.set(Number(formatEther(ev.tbtc as bigint)));
        break;
      case "sent":
        if ("key" in ev) this.sent.inc({ kind: kind() });
        break;
      case "replaced":
        this.replacements.inc({ kind: kind() });
        break;
      case "fee-cap-reached":
        this.feeCap.inc({ kind: kind() });
        break;
      case "mined":
        this.txs.inc({ kind: kind(), outcome: ev.status === 1 ? "mined" : "reverted" });
        break;
      case "failed":
        if ("label" in ev) this.txs.inc({ kind: kind(), outcome: "failed" });
        break;
      case "pending":
        if ("hashes" in ev && "label" in ev) this.txs.inc({ kind: kind(), outcome: "pending" });
        break;
    }
  }

  healthy(): boolean {
    if (this.lastGoodAt === undefined) return false;
    return this.now() - this.lastGoodAt <= this.healthIntervals * this.o.intervalSec * 1000;
  }

  health(): { status: "ok" | "stale" | "starting" | "standby"; lastGoodPassAt: string | null; maxAgeSec: number } {
    return {
      status: this.leaseState === "standby" ? "standby" : this.lastGoodAt === undefined ? "starting" : this.healthy() ? "ok" : "stale",
      lastGoodPassAt: this.lastGoodAt === undefined ? null : new Date(this.lastGoodAt).toISOString(),
      maxAgeSec: this.healthIntervals * this.o.intervalSec,
    };
  }
}

export interface MetricsServer {
  /** The address really bound (port 0 picks one). */
  address: MetricsAddr;
  close(): Promise<void>;
}

/** Serves GET /metrics (Prometheus text format) and GET /healthz (200 ok, 503 stale) until closed. */
export async function startMetricsServer(m: LoopMetrics, addr: MetricsAddr): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (path === "/metrics") {
      m.registry.metrics().then(
        (body) => res.writeHead(200, { "content-type": m.registry.contentType }).end(body),
        (e: unknown) => res.writeHead(500, { "content-type": "text/plain" }).end(`metrics failed: ${String(e)}\n`),
      );
      return;
    }
    if (path === "/healthz") {
      const h = m.health();
      res.writeHead(h.status === "ok" || h.status === "standby" ? 200 : 503, { "content-type": "application/json" }).end(`${JSON.stringify(h)}\n`);
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found: try /metrics or /healthz\n");
  });
  // A scraper holding a connection open must not keep a stopping loop alive.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        new KeepctlError("METRICS_LISTEN", ExitCode.USAGE, `--metrics-addr ${addr.host}:${addr.port}: cannot listen (${e.code ?? e.message})`, {
          hint: e.code === "EADDRINUSE" ? "another process holds that port: pick another" : "pick an address this host has",
          cause: e,
        }),
      ),
    );
    server.listen(addr.port, addr.host, () => resolve());
  });
  const bound = server.address() as net.AddressInfo;
  return {
    address: { host: addr.host, port: bound.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
