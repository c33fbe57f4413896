import type { Command } from "commander";
import { Output } from "../lib/output";
import { UsageError } from "../lib/errors";

/** Options every command accepts (declared once on the root program). */
export interface GlobalOptions {
  json?: boolean;
  verbose?: boolean;
  rpcUrl?: string[];
  network?: string;
  deployment?: string;
  config?: string;
  dataDir?: string;
  color?: boolean;
  quiet?: boolean;
}

export function globalsOf(cmd: Command): GlobalOptions & Record<string, unknown> {
  return cmd.optsWithGlobals() as GlobalOptions & Record<string, unknown>;
}

export function outputOf(cmd: Command): Output {
  const g = globalsOf(cmd);
  return new Output({ json: !!g.json, color: g.color !== false, quiet: !!g.quiet });
}

/** Exit code a command asks for without failing (e.g. `check` found an unhealthy deposit). */
export const runState = { exitCode: 0 };

/** Aborted on SIGINT/SIGTERM; long-running commands stop at the next safe point. */
export const shutdown = new AbortController();

export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(",").map((s) => s.trim()).filter(Boolean)];
}

export function parseIntOption(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (raw: string): number => {
    if (!/^\d+$/.test(raw.trim())) throw new UsageError(`${name} must be a whole number, got "${raw}"`);
    const n = Number(raw);
    if (n < min || n > max) throw new UsageError(`${name} must be between ${min} and ${max}, got ${n}`);
    return n;
  };
}

export function parseNumberOption(name: string, min: number, max: number) {
  return (raw: string): number => {
    const n = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(n)) throw new UsageError(`${name} must be a number, got "${raw}"`);
    if (n < min || n > max) throw new UsageError(`${name} must be between ${min} and ${max}, got ${n}`);
    return n;
  };
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
 * The options of every command that signs: where the key comes from and the fee cap. A raw key
 * has no flag on purpose (argv is visible to every user of the machine): KEEPCTL_PRIVATE_KEY only.
 */
export function addSigningOptions(cmd: Command): Command {
  return cmd
    .option("--keystore <file>", "encrypted JSON keystore (env KEEPCTL_KEYSTORE; a raw key only via KEEPCTL_PRIVATE_KEY)")
    .option("--password-file <file>", "keystore password file (env KEEPCTL_PASSWORD_FILE; else a hidden prompt on a terminal)")
    .option("--max-fee-gwei <gwei>", "hard cap on maxFeePerGas, never signed above (env KEEPCTL_MAX_FEE_GWEI; default 200)");
}
