import fs from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { parseAddress, type Config } from "../lib/config";
import { ConfigError, UsageError } from "../lib/errors";
import type { Output } from "../lib/output";
import { connectWithConfig } from "../lib/chain/provider";
import { acquireAccountLock, defaultLockDir } from "../lib/chain/account-lock";
import { chainTag } from "../lib/chain/session";
import { openStateStore } from "../lib/state";
import { inFlightOf, readStateStatus, type StateStatus } from "../lib/state/status";
import { accountsOfLines, linesOfAccount, migrateJournalLines } from "../lib/state/migrate";
import { globalsOf, loadCommandConfig, outputOf } from "./common";

/**
 * `keepctl state status|migrate`: the shared state database of --state-url (docs/high-availability.md).
 * Thin: settings here, the reads and the migration in src/lib/state, rendering here.
 */
function stateOptions(cmd: Command): Command {
  return cmd
    .option("--state-url <url>", "PostgreSQL URL of the shared state (env KEEPCTL_STATE_URL; visible in ps: prefer --state-url-file)")
    .option("--state-url-file <file>", "file holding the state URL (env KEEPCTL_STATE_URL_FILE)");
}

function requireStateUrl(cfg: Config, sub: string): string {
  const url = cfg.signing.stateUrl;
  if (!url) throw new ConfigError(`keepctl state ${sub} needs the state database`, { hint: "pass --state-url-file FILE (or set KEEPCTL_STATE_URL_FILE / KEEPCTL_STATE_URL)" });
  return url;
}

export function register(program: Command): void {
  const state = program
    .command("state")
    .description("the shared state database of --state-url: each account's lease and in-flight journal, and moving a data dir's journal into it (docs/high-availability.md)")
    .addHelpText("after", "\nExit codes: 0 done, 2 bad flag, 3 no state URL, a refused login, a newer schema, a target that already\nholds the account's journal, 4 the state database or the RPC did not answer, 8 a keepctl holds the\naccount (its file lock, or its lease on the state database). See docs/exit-codes.md.");

  stateOptions(state.command("status"))
    .description("every account on the state database: the lease's holder (host, pid), epoch and expiry by the database's clock, and its in-flight journal entries")
    .action(async (_opts, cmd: Command) => {
      const g = globalsOf(cmd);
      const out = outputOf(cmd);
      const cfg = loadCommandConfig(g, out, { requireRpc: false });
      const store = await openStateStore(requireStateUrl(cfg, "status"));
      try {
        renderStatus(out, await readStateStatus(store));
      } finally {
        await store.close();
      }
    });

  stateOptions(state.command("migrate"))
    .description("move a data dir's file journal (one account's entries) into the state database; refused while a keepctl holds the account")
    .requiredOption("--from <dir>", "the data dir whose journal.jsonl is moved")
    .option("--to <url>", "the state database (else --state-url-file / KEEPCTL_STATE_URL_FILE; a URL here is visible in ps)")
    .option("--account <address>", "the account whose entries move (default: the only account in the journal)")
    .action(async (_opts, cmd: Command) => {
      const g = globalsOf(cmd);
      const out = outputOf(cmd);
      if (g.to !== undefined && (g.stateUrl !== undefined || g.stateUrlFile !== undefined)) throw new UsageError("give the state database once: --to, or --state-url / --state-url-file");
      const cfg = loadCommandConfig(g.to === undefined ? g : { ...g, stateUrl: g.to }, out);
      const url = requireStateUrl(cfg, "migrate");
      const file = path.join(String(g.from), "journal.jsonl");
      if (!fs.existsSync(String(g.from))) throw new ConfigError(`no data dir ${String(g.from)}`, { hint: "--from names the data dir of the keepctl whose journal moves (KEEPCTL_DATA_DIR there)" });
      // No journal yet (nothing ever sent): nothing to move, but the account's lock is still checked.
      const all = fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n") : [];
      const accounts = accountsOfLines(all);
      const account = g.account !== undefined ? parseAddress(g.account).toLowerCase() : onlyAccount(accounts, file);
      const lines = linesOfAccount(all, account);
      const provider = await connectWithConfig(cfg, { onWarning: (m) => out.warn(m) });
      try {
        const tag = await chainTag(provider);
        const name = `${tag}-${account}`;
        // The file lock, held while the lines move: no one-machine keepctl of this account may run meanwhile.
        const lock = acquireAccountLock(cfg.signing.lockDir ?? defaultLockDir(), account, tag);
        try {
          const store = await openStateStore(url);
          try {
            const { written } = await migrateJournalLines({ store, name, account, lines, timings: { refreshMs: cfg.signing.leaseRefreshSec * 1000, durationMs: cfg.signing.leaseDurationSec * 1000 } });
            const inFlight = inFlightOf(lines).length;
            if (out.json) out.document({ from: file, to: store.where, name, account, lines: written, inFlight });
            else {
              out.info(`moved ${written} journal line(s) of ${account} from ${file} to ${store.where} (${inFlight} in flight: the first watch --state-url settles them)`);
              out.info(`${file} is no longer read with --state-url; keep it as a backup, and run this account only with --state-url from now on`);
            }
          } finally {
            await store.close();
          }
        } finally {
          lock.release();
        }
      } finally {
        provider.destroy();
      }
    });
}

function onlyAccount(accounts: string[], file: string): string {
  if (accounts.length === 1) return accounts[0];
  if (!accounts.length) throw new ConfigError(`the journal ${file} has no entries to migrate`, { hint: "nothing to move: start watch --state-url directly" });
  throw new UsageError(`the journal ${file} holds entries of ${accounts.length} accounts (${accounts.join(", ")})`, { hint: "pick one with --account ADDRESS" });
}

function renderStatus(out: Output, s: StateStatus): void {
  if (out.json) {
    out.document({ where: s.where, dbNow: s.dbNow.toISOString(), accounts: s.accounts.map((a) => ({ ...a, lease: a.lease && { ...a.lease, acquiredAt: a.lease.acquiredAt.toISOString(), expiresAt: a.lease.expiresAt.toISOString() } })) });
    return;
  }
  if (!s.accounts.length) return out.info(`no account has used the state database ${s.where} yet`);
  out.table(s.accounts, [
    { header: "Account", value: (a) => a.account },
    { header: "Chain", value: (a) => a.chain },
    { header: "Holder", value: (a) => (a.lease ? `pid ${a.lease.pid} on ${a.lease.host}` : "-") },
    { header: "Epoch", align: "right", value: (a) => (a.lease ? String(a.lease.epoch) : "-") },
    { header: "Lease", value: (a) => (!a.lease ? "none" : a.lease.live ? `held, ${(a.lease.remainingMs / 1000).toFixed(1)} s left` : "expired"), color: (a, t) => out.paint(a.lease?.live ? "ok" : "dim", t) },
    { header: "Journal", align: "right", value: (a) => String(a.journalLines) },
    { header: "In flight", align: "right", value: (a) => String(a.inFlight.length), color: (a, t) => out.paint(a.inFlight.length ? "warn" : "ok", t) },
  ]);
  for (const a of s.accounts) for (const e of a.inFlight) out.info(`in flight (${a.account}): ${e.key} ${e.state}, nonce ${e.nonces.join("/")}, tx ${e.hashes.at(-1) ?? "-"}`);
  out.info(`by the database's clock: ${s.dbNow.toISOString()}`);
}
