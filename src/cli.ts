import fs from "node:fs";
import path from "node:path";
import { Command, CommanderError, Option } from "commander";
import { ExitCode, KeepctlError, toKeepctlError } from "./lib/errors";
import { Output, toJson } from "./lib/output";
import { redact, sanitizeCommanderText } from "./lib/redact";
import { collect, runState, shutdown } from "./commands/common";
import * as listKeeps from "./commands/list-keeps";
import * as check from "./commands/check";
import * as redeem from "./commands/redeem";
import * as watch from "./commands/watch";
import * as buyTbtc from "./commands/buy-tbtc";
import * as redemptions from "./commands/redemptions";
import * as raiPrice from "./commands/rai-price";
import * as empLiquidate from "./commands/emp-liquidate";
import * as empDispute from "./commands/emp-dispute";
import * as empPosition from "./commands/emp-position";
import * as empSponsor from "./commands/emp-sponsor";
import * as empGuard from "./commands/emp-guard";
import * as empLaunch from "./commands/emp-launch";
import * as devnet from "./commands/devnet";
import * as replay from "./commands/replay";
import * as config from "./commands/config";
import * as completion from "./commands/completion";
import * as btcWallet from "./commands/btc-wallet";
import * as mint from "./commands/mint";
import * as state from "./commands/state";
import * as deposits from "./commands/deposits";

const VERSION: string = require("../../package.json").version;

/**
 * The commit this dist/ was built from, baked in by scripts/build-info.js at build time (a
 * package has no .git to ask at run time); "unknown" when the build was not made in a checkout.
 */
export function buildCommit(file = path.join(__dirname, "build-info.json")): string {
  try {
    const commit = (JSON.parse(fs.readFileSync(file, "utf8")) as { commit?: unknown }).commit;
    return typeof commit === "string" && /^[0-9a-f]{7,40}(-dirty)?$|^unknown$/.test(commit) ? commit : "unknown";
  } catch {
    return "unknown";
  }
}

/** What a bug report needs in one line: our version, the commit built, the Node running it. */
export function versionLine(): string {
  return `keepctl ${VERSION} (commit ${buildCommit()}, node ${process.version})`;
}

export function buildProgram(): Command {
  const program = new Command("keepctl")
    .description("Operator toolkit for tBTC v1 keeps, the RAI redemption-rate feed and UMA EMP bots")
    .version(versionLine(), "-V, --version", "print the version, the commit it was built from and the Node version")
    .option("--json", "print one JSON document (NDJSON events for loops) on stdout")
    .option("-v, --verbose", "show stack traces and debug detail on stderr")
    .option("-q, --quiet", "no informational messages on stderr")
    .option("--rpc-url <url>", "JSON-RPC endpoint (http(s):// or ws(s)://); repeat for failover (env KEEPCTL_RPC_URLS; visible in ps: prefer --rpc-url-file)", collect)
    .option("--rpc-url-file <file>", "file with JSON-RPC endpoints, one per line, keeping API keys out of argv (env KEEPCTL_RPC_URLS_FILE)")
    .option("--max-lag <blocks>", "set an RPC endpoint aside while its head trails the freshest by more than this (env KEEPCTL_MAX_LAG; default 3)")
    .addOption(new Option("--network <name>", "network preset (env KEEPCTL_NETWORK)").choices(["mainnet", "devnet"]))
    .option("--deployment <file>", "deployment JSON for a non-preset chain, e.g. the devnet's (env KEEPCTL_DEPLOYMENT)")
    .option("--config <file>", "config file (JSON; env KEEPCTL_CONFIG)")
    .option("--data-dir <dir>", "cache, journal and lock directory (env KEEPCTL_DATA_DIR)")
    .option("--wide", "full addresses and hashes in tables, even when wider than the terminal")
    .option("--no-color", "no colour in output (beats FORCE_COLOR; NO_COLOR=1 does the same)");
  // Every subcommand's help lists these too (`keepctl check --help` shows --json and --rpc-url):
  // set before the subcommands are created, which copy the root's help settings.
  program.configureHelp({ showGlobalOptions: true });
  program.showHelpAfterError("(run with --help for usage)");
  // Commander's own errors echo option names and values: redacted, escaped and cut like ours.
  program.configureOutput({ writeErr: (s) => process.stderr.write(sanitizeCommanderText(s)), writeOut: (s) => process.stdout.write(s) });

  listKeeps.register(program);
  check.register(program);
  redeem.register(program);
  watch.register(program);
  buyTbtc.register(program);
  redemptions.register(program);
  raiPrice.register(program);
  empLiquidate.register(program);
  empDispute.register(program);
  empPosition.register(program);
  empSponsor.register(program);
  empGuard.register(program);
  empLaunch.register(program);
  devnet.register(program);
  replay.register(program);
  btcWallet.register(program);
  mint.register(program);
  state.register(program);
  deposits.register(program);
  config.register(program);
  completion.register(program);

  // Every level, subcommands of subcommands too (emp-sponsor create): commander's own exit is 1.
  const override = (c: Command) => {
    c.exitOverride();
    for (const sub of c.commands) override(sub);
  };
  override(program);
  return program;
}

function wantsJson(argv: string[]): boolean {
  return argv.includes("--json");
}

/** Runs the CLI; resolves to the process exit code. Never throws. */
export async function main(argv: string[]): Promise<number> {
  // `keepctl list-keeps | head`: the reader went away. Not an error of ours: stop quietly, exit 0.
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listenerCount("error") === 0) {
      stream.on("error", (e: NodeJS.ErrnoException) => {
        if (e.code === "EPIPE") process.exit(ExitCode.OK);
        throw e;
      });
    }
  }
  const onSignal = () => {
    if (shutdown.signal.aborted) process.exit(ExitCode.INTERRUPTED);
    shutdown.abort();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  // main() may run several times in one process (the demo, tests): start each run clean.
  runState.exitCode = ExitCode.OK;
  const program = buildProgram();
  const verbose = argv.includes("--verbose") || argv.includes("-v");
  const json = wantsJson(argv);
  try {
    await program.parseAsync(argv);
    if (shutdown.signal.aborted && runState.exitCode === ExitCode.OK) return ExitCode.INTERRUPTED;
    return runState.exitCode;
  } catch (e) {
    return reportError(e, { json, verbose, color: !argv.includes("--no-color") });
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
}

export function reportError(e: unknown, opts: { json: boolean; verbose: boolean; color?: boolean }): number {
  if (e instanceof CommanderError) {
    // Bare `keepctl`: commander printed the help on stderr and flags it as an error (exitCode 1).
    const noCommand = e.code === "commander.help" && e.exitCode !== 0;
    if (!noCommand && (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help")) return 0;
    // commander already printed its message on stderr
    const message = noCommand ? "no command given" : sanitizeCommanderText(e.message).replace(/^error: /, "");
    if (opts.json) process.stdout.write(toJson({ error: { code: "USAGE", message } }) + "\n");
    return ExitCode.USAGE;
  }
  // One mapping for every command (src/lib/errors.ts): node and transport failures exit 4 with
  // the node's message, reverts 5, and only what nothing explains is an internal error.
  const err: KeepctlError = toKeepctlError(e);
  const message = redact(err.message);
  const hint = err.hint ? redact(err.hint) : undefined;
  if (opts.json) {
    process.stdout.write(toJson({ error: { code: err.code, message, ...(hint ? { hint } : {}) } }) + "\n");
  }
  new Output({ json: opts.json, color: opts.color }).error(message, hint);
  if (opts.verbose) {
    let cur: unknown = e;
    while (cur) {
      if (cur instanceof Error && cur.stack) process.stderr.write(redact(cur.stack) + "\n");
      cur = cur instanceof Error ? (cur as Error & { cause?: unknown }).cause : undefined;
      if (cur) process.stderr.write("caused by:\n");
    }
  }
  return err.exitCode;
}
