import Table from "cli-table3";
import chalk, { type Chalk } from "chalk";
import { colorMode, type ColorMode } from "./config";
import { escapeControls, redact } from "./redact";

/**
 * The one renderer. Data goes to stdout: a table on a TTY, tab-separated lines when piped, or
 * exactly one JSON document with --json. Human messages (info/warn/progress) go to stderr.
 */
export interface Column<Row> {
  header: string;
  /** Plain text of the cell (also used for the tab-separated form). */
  value: (row: Row) => string;
  align?: "left" | "right";
  /** Optional colouring on a TTY only. */
  color?: (row: Row, text: string) => string;
}

export interface OutputOptions {
  json?: boolean;
  /** Overrides detection (tests). */
  isTTY?: boolean;
  stdout?: NodeJS.WritableStream & { isTTY?: boolean };
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
  color?: boolean;
  /** false: the environment rules colour out (tests); overrides `colorMode`. */
  envAllowsColor?: boolean;
  /** What the environment says (FORCE_COLOR, NO_COLOR); defaults to config.ts's colorMode(). */
  colorMode?: ColorMode;
  quiet?: boolean;
  /** Terminal width the tables must fit; defaults to stdout's (process.stdout.columns on a TTY). */
  columns?: number;
  /** --wide: tables keep full addresses and hashes whatever the terminal's width. */
  wide?: boolean;
}

export type Level = "INFO" | "WARN";

/** `2026-12-02T04:50:58Z INFO text`: the ISO time (to the second) and the level lead every line of a loop. */
export function stampText(level: Level, text: string, now: Date = new Date()): string {
  return `${now.toISOString().replace(/\.\d+Z$/, "Z")} ${level} ${text}`;
}

/** JSON.stringify with bigints as decimal strings. */
export function toJson(value: unknown, space?: number): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v), space);
}

export class Output {
  readonly json: boolean;
  readonly isTTY: boolean;
  readonly stderrTTY: boolean;
  private readonly out: NodeJS.WritableStream;
  private readonly err: NodeJS.WritableStream;
  private readonly colored: boolean;
  private readonly errColored: boolean;
  /** chalk at a level of our choosing: chalk's own guess follows stdout only and ignores NO_COLOR. */
  private readonly chalk: Chalk;
  private readonly quiet: boolean;
  private readonly columns?: number;
  /** --wide: no value shortened to fit the terminal (commands that shorten their own cells ask here). */
  readonly wide: boolean;
  /** Set by the loops (watch, the EMP bots): every human line carries its time and level. */
  private stamped = false;

  constructor(opts: OutputOptions = {}) {
    this.out = opts.stdout ?? process.stdout;
    this.err = opts.stderr ?? process.stderr;
    this.json = !!opts.json;
    this.isTTY = opts.isTTY ?? !!(this.out as { isTTY?: boolean }).isTTY;
    this.stderrTTY = opts.isTTY ?? !!(this.err as { isTTY?: boolean }).isTTY;
    const mode: ColorMode = opts.envAllowsColor === false ? "never" : opts.colorMode ?? colorMode();
    // --no-color first, then the environment (FORCE_COLOR beats NO_COLOR), then "is it a terminal".
    const colorFor = (tty: boolean) => (opts.color ?? true) && (mode === "always" || (mode === "auto" && tty));
    this.colored = colorFor(this.isTTY);
    this.errColored = colorFor(this.stderrTTY);
    this.chalk = new chalk.Instance({ level: this.colored || this.errColored ? Math.max(chalk.level, 1) as 1 | 2 | 3 : 0 });
    this.quiet = !!opts.quiet;
    this.columns = opts.columns ?? (this.out as { columns?: number }).columns;
    this.wide = !!opts.wide;
  }

  /** From now on every human line (info, warn, data lines, event lines) starts with its ISO time and level. */
  stampLines(): void {
    this.stamped = true;
  }

  /** Print the command's result document (JSON mode) — call exactly once. */
  document(doc: unknown): void {
    this.out.write(toJson(doc, this.isTTY ? 2 : undefined) + "\n");
  }

  /** One NDJSON event line (watch --json and bots); every event carries `at` (ISO time). */
  event(ev: Record<string, unknown>): void {
    this.out.write(toJson({ at: new Date().toISOString(), ...ev }) + "\n");
  }

  table<Row>(rows: Row[], columns: Column<Row>[]): void {
    if (this.isTTY) {
      const texts = rows.map((r) => columns.map((c) => c.value(r)));
      const fit = fitColumns(columns.map((c) => c.header), texts, this.wide ? undefined : this.columns);
      const t = new Table({
        head: columns.map((c) => (this.colored ? this.chalk.bold(c.header) : c.header)),
        colAligns: columns.map((c) => c.align ?? "left"),
        style: { head: [], border: [] },
        ...(fit.colWidths ? { colWidths: fit.colWidths } : {}),
      });
      rows.forEach((r, i) => {
        t.push(columns.map((c, j) => {
          const text = fit.cells[i][j];
          return this.colored && c.color ? c.color(r, text) : text;
        }));
      });
      this.out.write(t.toString() + "\n");
    } else {
      this.out.write(columns.map((c) => c.header.toLowerCase().replace(/\s+/g, "_")).join("\t") + "\n");
      for (const r of rows) this.out.write(columns.map((c) => c.value(r).replace(/[\t\n]/g, " ")).join("\t") + "\n");
    }
  }

  /** A line of data on stdout (human mode). */
  line(text = ""): void {
    this.out.write((this.stamped ? stampText("INFO", text) : text) + "\n");
  }

  // Messages on stderr are redacted here, whoever built them. info/warn keep 0x tx hashes (keepctl
  // reports "sent ... 0x<hash>" on purpose); errors mask every unlabelled 32-byte hex (see redact.ts).
  info(msg: string): void {
    if (this.quiet) return;
    const text = redact(msg, { keepHashes: true });
    this.err.write((this.stamped ? stampText("INFO", text) : text) + "\n");
  }
  warn(msg: string): void {
    const text = redact(msg, { keepHashes: true });
    if (this.stamped) return void this.err.write(this.paintLevel(stampText("WARN", text), this.errColored) + "\n");
    this.err.write((this.errColored ? this.chalk.yellow("warning: ") : "warning: ") + text + "\n");
  }
  error(msg: string, hint?: string): void {
    // One line each, whatever the message carries (a JSON parser's error quotes the file's lines).
    this.err.write((this.errColored ? this.chalk.red("error: ") : "error: ") + escapeControls(redact(msg)) + "\n");
    if (hint) this.err.write("hint: " + escapeControls(redact(hint)) + "\n");
  }
  /** A stamped event line (events.ts): stdout for a daemon's log, else stderr; quiet drops only non-warnings on stderr. */
  log(line: string, o: { stderr: boolean; warn: boolean }): void {
    const text = redact(line, { keepHashes: true });
    if (!o.stderr) return void this.out.write(this.paintLevel(text, o.warn && this.colored) + "\n");
    if (this.quiet && !o.warn) return;
    this.err.write(this.paintLevel(text, o.warn && this.errColored) + "\n");
  }
  /** A stamped line's WARN in yellow (the time and the text stay plain, so logs grep the same). */
  private paintLevel(line: string, on: boolean): string {
    return on ? line.replace(/^(\S+) WARN /, (_m, t: string) => `${t} ${this.chalk.yellow("WARN")} `) : line;
  }
  /** Progress for long scans: stderr, TTY only, overwritten in place. */
  progress(msg: string): void {
    if (this.stderrTTY && !this.json && !this.quiet) this.err.write("\r\x1b[2K" + msg);
  }
  progressDone(): void {
    if (this.stderrTTY && !this.json && !this.quiet) this.err.write("\r\x1b[2K");
  }
  paint(kind: "ok" | "warn" | "bad" | "dim", text: string): string {
    if (!this.colored) return text;
    const c = this.chalk;
    return kind === "ok" ? c.green(text) : kind === "warn" ? c.yellow(text) : kind === "bad" ? c.red(text) : c.dim(text);
  }
}

const FULL_HEX = /0x[0-9a-fA-F]{40}(?:[0-9a-fA-F]{24})?\b/g;

/** 0x1234…abcd: both ends kept, since addresses and hashes are told apart by their first and last digits. */
export function shortHex(h: string): string {
  return h.length > 14 ? `${h.slice(0, 6)}…${h.slice(-4)}` : h;
}

/** Width of a bordered table with these column text widths (cli-table3: 1 space padding each side, 1 border between). */
function tableWidth(widths: number[]): number {
  return widths.reduce((a, w) => a + w + 2, 0) + widths.length + 1;
}

const MIN_COLUMN = 6;

/**
 * Makes a table fit `limit` terminal columns (an 80-column terminal used to get ~173): first
 * addresses and hashes are shortened to 0x1234…abcd, then the widest columns are narrowed until
 * it fits (cli-table3 cuts the cell with "…"). Unknown width (not a TTY): nothing changes; the
 * tab-separated and JSON forms always carry full values.
 */
export function fitColumns(headers: string[], cells: string[][], limit?: number): { cells: string[][]; colWidths?: number[] } {
  const widthsOf = (rows: string[][]) => headers.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)));
  if (!limit || limit <= 0 || tableWidth(widthsOf(cells)) <= limit) return { cells };
  const short = cells.map((r) => r.map((t) => t.replace(FULL_HEX, shortHex)));
  const widths = widthsOf(short);
  if (tableWidth(widths) <= limit) return { cells: short };
  while (tableWidth(widths) > limit) {
    const widest = widths.indexOf(Math.max(...widths));
    if (widths[widest] <= MIN_COLUMN) break; // as narrow as it is useful: let the terminal wrap
    widths[widest]--;
  }
  return { cells: short, colWidths: widths.map((w) => w + 2) };
}
