import net from "node:net";
import type { Command } from "commander";
import { Output } from "../lib/output";
import { ExitCode, UsageError } from "../lib/errors";
import { loadConfig, parseAddress, type Config, type LoadOptions } from "../lib/config";
import { echo } from "../lib/redact";
import { ensurePrivateDir } from "../lib/fs-safe";
import { DEFAULT_HEALTH_INTERVALS, LoopMetrics, parseHealthIntervals, parseMetricsAddr, startMetricsServer } from "../lib/metrics";

/** Options every command accepts (declared once on the root program). */
export interface GlobalOptions {
  json?: boolean;
  verbose?: boolean;
  rpcUrl?: string[];
  rpcUrlFile?: string;
  network?: string;
  deployment?: string;
  config?: string;
  dataDir?: string;
  color?: boolean;
  quiet?: boolean;
  wide?: boolean;
}

export function globalsOf(cmd: Command): GlobalOptions & Record<string, unknown> {
  return cmd.optsWithGlobals() as GlobalOptions & Record<string, unknown>;
}

export function outputOf(cmd: Command): Output {
  const g = globalsOf(cmd);
  return new Output({ json: !!g.json, color: g.color !== false, quiet: !!g.quiet, wide: !!g.wide });
}

/** Exit code a command asks for without failing (e.g. `check` found an unhealthy deposit). */
export const runState: { exitCode: number } = { exitCode: ExitCode.OK };

/** Aborted on SIGINT/SIGTERM; long-running commands stop at the next safe point. */
export const shutdown = new AbortController();

/**
 * A repeatable option. Values are kept as given (comma lists are split by config.ts), so that an
 * empty one (`--operator ""`) reaches validation and fails instead of vanishing.
 */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** A collect()ed option's items: comma-split and trimmed; an empty item is a usage error. */
export function splitOption(name: string, raw: string[]): string[] {
  const items = raw.flatMap((v) => v.split(",").map((s) => s.trim()));
  if (items.some((s) => s === "")) throw new UsageError(`${name}: empty value`, { hint: `give ${name} a value, or leave the option out` });
  return items;
}

/** Plain digits only (" 12", "0x80", "1e3" are rejected), within [min, max]. */
export function parseIntOption(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (raw: string): number => {
    if (!/^\d+$/.test(raw)) throw new UsageError(`${name} must be a whole number, got "${echo(raw)}"`);
    const n = Number(raw);
    if (n < min || n > max) throw new UsageError(`${name} must be between ${min} and ${max}, got ${n}`);
    return n;
  };
}

/** Digits with an optional decimal part, within [min, max]. */
export function parseNumberOption(name: string, min: number, max: number) {
  return (raw: string): number => {
    if (!/^\d+(\.\d+)?$/.test(raw)) throw new UsageError(`${name} must be a decimal number, got "${echo(raw)}"`);
    const n = Number(raw);
    if (n < min || n > max) throw new UsageError(`${name} must be between ${min} and ${max}, got ${n}`);
    return n;
  };
}

/**
 * Loads the config for a command and shows its warnings (a key source overridden, ...) on stderr.
 * `writesDataDir`: the command keeps a cache, journal, lock or audit log, so the data dir is
 * created 0700 here, before any of those (some create it themselves, subject to the umask).
 */
export function loadCommandConfig(flags: Record<string, unknown>, out: Output, opts?: LoadOptions & { writesDataDir?: boolean }): Config {
  const cfg = loadConfig(flags, undefined, opts);
  for (const w of cfg.warnings) out.warn(w);
  if (opts?.writesDataDir) ensurePrivateDir(cfg.dataDir);
  return cfg;
}

/** Placeholder for commands another issue delivers. */
export function notBuilt(program: Command, name: string, summary: string): void {
  program
    .command(name)
    .description(`${summary} (not built yet)`)
    .allowUnknownOption(true)
    .helpOption(false)
    .argument("[args...]")
    .action(() => {
      throw new UsageError(`keepctl ${name} is not built yet`, { hint: "see README.md for the commands available" });
    });
}

/**
 * `--operator`, declared once for every command that takes it. Repeatable, comma lists allowed;
 * config.ts splits and validates the addresses (KEEPCTL_OPERATORS when the flag is absent).
 */
export function addOperatorOption(cmd: Command, what = "operator address"): Command {
  return cmd
    .option("--operator <address>", `${what}; repeat or comma-separate (env KEEPCTL_OPERATORS)`, collect)
    .option("--operators-file <file>", "file of operator addresses, one a line, # comments (env KEEPCTL_OPERATORS_FILE)");
}

/** `--no-cache` of the commands that scan for keeps (list-keeps, check). */
export function addCacheOption(cmd: Command): Command {
  return cmd.option("--no-cache", "neither read nor write the scan cache");
}

/** The hooks a long scan reports through: progress on a TTY, RPC failover warnings on stderr. */
export interface ScanHooks {
  onScanProgress: (doneBlocks: number, totalBlocks: number) => void;
  onRpcWarning: (message: string) => void;
}

/**
 * Runs a scan with its progress line shown on stderr and cleared whatever happens, then prints
 * the findings that did not stop it (a stale head under the "warn" policy, ...).
 */
export async function withScanProgress<T extends { warnings: readonly string[] }>(out: Output, scan: (hooks: ScanHooks) => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await scan({ onScanProgress: (done, total) => out.progress(`scanning blocks: ${done}/${total}`), onRpcWarning: (m) => out.warn(m) });
  } finally {
    out.progressDone();
  }
  for (const w of result.warnings) out.warn(w);
  return result;
}

/**
 * The options of every command that signs: where the key comes from and the fee cap. A raw key
 * has no flag on purpose (argv is visible to every user of the machine): KEEPCTL_PRIVATE_KEY only.
 */
export function addSigningOptions(cmd: Command): Command {
  return cmd
    .option("--keystore <file>", "encrypted JSON keystore (env KEEPCTL_KEYSTORE); beats KEEPCTL_PRIVATE_KEY, the raw key for CI")
    .option("--password-file <file>", "keystore password file (env KEEPCTL_PASSWORD_FILE; else a hidden prompt on a terminal)")
    .option("--max-fee-gwei <gwei>", "hard cap on maxFeePerGas, never signed above (env KEEPCTL_MAX_FEE_GWEI; default 200)")
    .option("--strict-perms", "a keystore or password file readable by group/others is an error, not a warning (env KEEPCTL_STRICT_PERMS)")
    .option("--confirmations <n>", "blocks deep a mined transaction must be before its action is final; auto = the finalized block, else 12 (env KEEPCTL_CONFIRMATIONS)")
    .option("--state-url <url>", "PostgreSQL URL of the state shared by a standby host: journal and fenced lease (env KEEPCTL_STATE_URL; visible in ps: prefer --state-url-file)")
    .option("--state-url-file <file>", "file holding the state URL (env KEEPCTL_STATE_URL_FILE)")
    .option("--lease-refresh <seconds>", "seconds between lease renewals and standby retries (env KEEPCTL_LEASE_REFRESH; default 2; at most half the duration)")
    .option("--lease-duration <seconds>", "seconds a renewal holds the lease, by the database's clock (env KEEPCTL_LEASE_DURATION; default 15)");
}

/**
 * How a redemption is followed to its end on Bitcoin (watch, redeem --follow, redemptions): the
 * confirmations before a proof and the cap on the cumulative BTC fee a fee increase may ask for.
 */
export function addRedemptionFollowOptions(cmd: Command): Command {
  return cmd
    .option("--btc-confirmations <n>", "Bitcoin confirmations before a redemption proof is sent (env KEEPCTL_BTC_CONFIRMATIONS; default 6)")
    .option("--max-btc-fee-sats <sats>", "most cumulative BTC fee a fee increase may ask for; alert at the cap (env KEEPCTL_MAX_BTC_FEE_SATS; default 100000)");
}

/**
 * The Bitcoin data layer's options (lib/btc, docs/bitcoin.md), for commands that read or send on
 * the Bitcoin chain. Server URLs may carry API keys: prefer the file forms.
 */
export function addBitcoinOptions(cmd: Command): Command {
  return cmd
    .option("--btc-network <name>", "Bitcoin network: mainnet, testnet, testnet4, signet, regtest (env KEEPCTL_BTC_NETWORK; default mainnet on the mainnet preset, else the deployment file's bitcoin.network, else testnet)")
    .option("--btc-electrum-url <url>", "Electrum server, tcp:// tls:// ssl:// ws:// wss://; repeat or comma-separate (env KEEPCTL_BTC_ELECTRUM_URLS)", collect)
    .option("--btc-electrum-url-file <file>", "file with one Electrum server URL per line (env KEEPCTL_BTC_ELECTRUM_URLS_FILE)")
    .option("--btc-esplora-url <url>", "Esplora REST base URL, http(s)://…/api; repeat or comma-separate (env KEEPCTL_BTC_ESPLORA_URLS)", collect)
    .option("--btc-esplora-url-file <file>", "file with one Esplora URL per line (env KEEPCTL_BTC_ESPLORA_URLS_FILE)");
}

/** --metrics-addr and its companions, shared by watch and the EMP bots (docs/operations.md). */
export function addMetricsOptions(cmd: Command): Command {
  return cmd
    .option("--metrics-addr <host:port>", "serve Prometheus /metrics and /healthz here (off by default; a bare port means 127.0.0.1)")
    .option("--metrics-allow-remote", "allow --metrics-addr on a non-loopback address (the metrics show balances and addresses)")
    .option("--health-intervals <n>", `/healthz answers 503 when no pass succeeded within this many intervals (default ${DEFAULT_HEALTH_INTERVALS})`);
}

/**
 * Starts the exporter when --metrics-addr was given (undefined otherwise). Parsing happens before
 * anything connects, so a bad address is a usage error with nothing sent.
 */
export async function startLoopMetrics(
  flags: Record<string, unknown>,
  loop: string,
  o: { intervalSec: number; warnBelowPct?: number; out: Output },
): Promise<{ metrics: LoopMetrics; close: () => Promise<void> } | undefined> {
  if (flags.metricsAddr === undefined) {
    if (flags.metricsAllowRemote || flags.healthIntervals !== undefined) throw new UsageError("--metrics-allow-remote and --health-intervals need --metrics-addr", { hint: "add --metrics-addr 127.0.0.1:9464" });
    return undefined;
  }
  const addr = parseMetricsAddr(String(flags.metricsAddr), !!flags.metricsAllowRemote);
  const healthIntervals = flags.healthIntervals === undefined ? DEFAULT_HEALTH_INTERVALS : parseHealthIntervals(String(flags.healthIntervals));
  const metrics = new LoopMetrics({ loop, intervalSec: o.intervalSec, healthIntervals, warnBelowPct: o.warnBelowPct });
  const server = await startMetricsServer(metrics, addr);
  const host = server.address.host.includes(":") ? `[${server.address.host}]` : server.address.host;
  // No URL path in the line: the redactor treats a URL's path as a possible secret.
  o.out.info(`serving metrics on ${host}:${server.address.port} (GET /metrics, GET /healthz)`);
  return { metrics, close: () => server.close() };
}

/** A port the devnet's servers (devnet, replay) must bind on 127.0.0.1: taken is exit 2 before anything starts. */
export async function assertPortFree(port: number, flag = "--port"): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        e.code === "EADDRINUSE"
          ? new UsageError(`port ${port} on 127.0.0.1 is already in use`, { hint: `stop whatever listens there or pass ${flag} N` })
          : e,
      ),
    );
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve()));
  });
}

/** The bounds of a TBTC buy from the Uniswap V2 pool (buy-tbtc, redeem/watch --buy-shortfall), declared once. */
export function addBuyBoundOptions(cmd: Command): Command {
  return cmd
    .option("--max-price <pct>", "most premium (%) over the system's ETH/BTC price a TBTC buy may pay (env KEEPCTL_BUY_MAX_PRICE; default 5)")
    .option("--max-slippage <pct>", "most the pool's price may move (%) between the quote and the swap (env KEEPCTL_BUY_MAX_SLIPPAGE; default 0.5)")
    .option("--max-eth-per-day <eth>", "most ETH TBTC buys may spend in any 24 h (env KEEPCTL_BUY_MAX_ETH_PER_DAY; default 10)")
    .option("--private-tx-url <url>", "send the swap to this eth_sendRawTransaction relay, not the public endpoint (env KEEPCTL_PRIVATE_TX_URL; visible in ps: prefer --private-tx-url-file)")
    .option("--private-tx-url-file <file>", "file holding the private relay URL (env KEEPCTL_PRIVATE_TX_URL_FILE)");
}

/** `--buy-shortfall` and the buy bounds, for redeem and watch. */
export function addBuyShortfallOptions(cmd: Command): Command {
  return addBuyBoundOptions(cmd.option("--buy-shortfall", "buy the TBTC an at-risk deposit lacks from the Uniswap V2 pool (contracts.UniswapV2Router02), then redeem it (env KEEPCTL_BUY_SHORTFALL)"));
}
/** stdin and stderr are a terminal: prompts may be shown. */
export function onTerminal(): boolean {
  return !!process.stdin.isTTY && !!process.stderr.isTTY;
}

/**
 * A command that sends needs a yes: asked on a terminal, `--yes` anywhere else. Checked before
 * the key or the network is touched, so nothing can be sent without one.
 */
export function requireYesOffTerminal(command: string, g: Record<string, unknown>): void {
  if (!g.dryRun && !g.yes && !onTerminal()) {
    throw new UsageError(`keepctl ${command} sends transactions and needs --yes when not run on a terminal`, { hint: "add --yes, or --dry-run to only see the plan" });
  }
}

/** Asks on stderr (stdout stays data); loaded lazily, only a terminal needs it. */
export async function confirmOnTerminal(message: string): Promise<boolean> {
  const { default: ask } = await import("@inquirer/confirm");
  return ask({ message, default: false }, { output: process.stderr });
}

/** A decimal ratio or amount typed by a person: up to 18 places, nothing else. */
export function decimalArg(name: string) {
  return (raw: string): string => {
    if (!/^\d+(\.\d{1,18})?$/.test(raw)) throw new UsageError(`${name} must be a decimal number with at most 18 places, got "${echo(raw)}"`);
    return raw;
  };
}

export function addressArg(name: string) {
  return (raw: string): string => {
    try {
      return parseAddress(raw);
    } catch (e) {
      throw new UsageError(`${name}: ${(e as Error).message}`);
    }
  };
}

