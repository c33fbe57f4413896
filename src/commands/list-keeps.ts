import type { Command } from "commander";
import { ethers } from "ethers";
import { requireOperators } from "../lib/config";
import { UsageError } from "../lib/errors";
import { echo } from "../lib/redact";
import { formatFixedTrimmed } from "../lib/fixed-point";
import type { Column, Output } from "../lib/output";
import { DEPOSIT_STATES, State, parseStateName } from "../lib/tbtc/abis";
import { formatDuration, formatPercentBp } from "../lib/tbtc/read/health";
import { loadTbtcRun, scanScope, tbtcReportHeader } from "../lib/tbtc/read/report";
import type { OperatorDeposit } from "../lib/tbtc/read/scan";
import { addCacheOption, addOperatorOption, collect, globalsOf, loadCommandConfig, outputOf, splitOption, withScanProgress } from "./common";

export function register(program: Command): void {
  const cmd = program
    .command("list-keeps")
    .description("every keep and deposit the operators sign for, with collateral and deadlines");
  addCacheOption(
    addOperatorOption(cmd)
      .option("--state <name>", `only deposits in this state; repeatable (${DEPOSIT_STATES.join(", ")})`, collect)
      .option("--active", "only deposits that can still change (keep active, not finished)"),
  )
    .action(async (_opts, cmd: Command) => {
      const g = globalsOf(cmd);
      const states = parseStates(g.state as string[] | undefined);
      const out = outputOf(cmd);
      const cfg = loadCommandConfig(g, out, { writesDataDir: g.cache !== false });
      const operators = requireOperators(cfg);
      // A stale head only warns here: list-keeps judges nothing (check fails on it).
      const run = await withScanProgress(out, (hooks) => loadTbtcRun(cfg, { operators, useCache: g.cache !== false, staleHead: "warn", ...hooks }));
      const rows = run.deposits.filter(
        (d) => (!states || (d.state !== undefined && states.has(d.state))) && (!g.active || (!d.finished && d.keepActive)),
      );
      if (out.json) return out.document({ ...tbtcReportHeader(cfg, run), keeps: rows.map(depositJson) });
      if (rows.length === 0) return out.info(`no keeps found for ${cfg.operators.join(", ")} ${scanScope(run)}`);
      out.table(rows, keepColumns(out, run.blockTime));
    });
}

export function parseStates(raw: string[] | undefined): Set<number> | undefined {
  if (!raw || raw.length === 0) return undefined;
  return new Set(
    splitOption("--state", raw).map((s) => {
      const n = parseStateName(s);
      if (n === undefined) throw new UsageError(`unknown deposit state "${echo(s)}" (known: ${DEPOSIT_STATES.join(", ")})`);
      return n;
    }),
  );
}

const iso = (unix?: number) => (unix === undefined ? null : new Date(unix * 1000).toISOString());

/** A deposit for --json: big numbers as decimal strings, absent values as null. */
export function depositJson(d: OperatorDeposit) {
  return {
    keep: d.keep,
    deposit: d.deposit,
    members: d.members,
    operators: d.operators,
    createdBlock: d.createdBlock,
    state: d.stateName,
    stateCode: d.state ?? null,
    finished: d.finished,
    keepActive: d.keepActive ?? null,
    keepClosed: d.keepClosed ?? null,
    keepTerminated: d.keepTerminated ?? null,
    lotSizeSatoshis: d.lotSizeSatoshis?.toString() ?? null,
    lotBtc: d.lotSizeSatoshis === undefined ? null : ethers.formatUnits(d.lotSizeSatoshis, 8),
    bondWei: d.bondWei?.toString() ?? null,
    bondEth: d.bondWei === undefined ? null : ethers.formatEther(d.bondWei),
    collateralization: d.collateralBp === undefined ? null : formatPercentBp(d.collateralBp),
    thresholds: {
      initial: d.initialCollateralizedPercent ?? null,
      undercollateralized: d.undercollateralizedThresholdPercent ?? null,
      severelyUndercollateralized: d.severelyUndercollateralizedThresholdPercent ?? null,
    },
    courtesyCalledAt: iso(d.courtesyCalledAt),
    courtesyCallDeadline: iso(d.courtesyDeadline),
    remainingTermSeconds: d.remainingTermSec?.toString() ?? null,
    error: d.error ?? null,
  };
}

const short = (a: string) => `${a.slice(0, 8)}…${a.slice(-4)}`;

/** ETH on a terminal: cut (not rounded) to 4 decimals to fit the table; piped and --json: exact. */
function bondText(wei: bigint, tty: boolean): string {
  return tty ? formatFixedTrimmed(wei / 10n ** 14n, 4) : formatFixedTrimmed(wei, 18);
}

export function keepColumns(out: Output, now: number): Column<OperatorDeposit>[] {
  const addr = (a: string) => (out.isTTY && !out.wide ? short(a) : a);
  return [
    { header: "Keep", value: (d) => addr(d.keep) },
    { header: "Deposit", value: (d) => addr(d.deposit) },
    { header: "State", value: (d) => (d.error ? `ERROR: ${d.error}` : d.stateName),
      color: (d, t) => out.paint(d.error || d.state === State.COURTESY_CALL || d.state === State.FRAUD_LIQUIDATION_IN_PROGRESS || d.state === State.LIQUIDATION_IN_PROGRESS ? "bad" : d.finished ? "dim" : "ok", t) },
    { header: "Lot BTC", align: "right", value: (d) => (d.lotSizeSatoshis === undefined ? "-" : formatFixedTrimmed(d.lotSizeSatoshis, 8)) },
    { header: "Bond ETH", align: "right", value: (d) => (d.bondWei === undefined ? "-" : bondText(d.bondWei, out.isTTY)) },
    { header: "Collat %", align: "right", value: (d) => (d.collateralBp === undefined ? "-" : formatPercentBp(d.collateralBp)) },
    { header: "Thresholds", value: (d) =>
      d.initialCollateralizedPercent === undefined ? "-"
        : `${d.initialCollateralizedPercent}/${d.undercollateralizedThresholdPercent}/${d.severelyUndercollateralizedThresholdPercent}` },
    { header: "Courtesy deadline", value: (d) =>
      d.courtesyDeadline === undefined ? "-"
        : `${iso(d.courtesyDeadline)} (${d.courtesyDeadline > now ? "in " + formatDuration(d.courtesyDeadline - now) : "expired"})` },
    { header: "Remaining term", align: "right", value: (d) => (d.remainingTermSec === undefined || d.finished ? "-" : formatDuration(Number(d.remainingTermSec))) },
  ];
}
