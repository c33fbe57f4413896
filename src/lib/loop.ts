import { ExitCode, KeepctlError, shortMessageOf } from "./errors";
import { redact } from "./redact";
import { sleep } from "./chain/sleep";
import { pingHeartbeat } from "./alert/heartbeat";

/**
 * What `watch` and the EMP bots share about failing: a loop that fails pass after pass is not
 * "running", it is pretending. After `maxFailedPasses` failures in a row it alerts and exits with
 * LOOP_FAILING (11) so a supervisor restarts it (fresh connections, fresh state) and the operator
 * hears about it, instead of sleeping and failing forever.
 */
export const DEFAULT_MAX_FAILED_PASSES = 5;

export class LoopFailingError extends KeepctlError {
  constructor(message: string, opts: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super("LOOP_FAILING", ExitCode.LOOP_FAILING, message, {
      ...opts,
      hint: "fix the cause above; a supervisor (systemd Restart=on-failure) restarts keepctl. --max-failed-passes 0 never gives up",
    });
  }
}

/** Counts failed passes in a row; `failed` says whether the loop must give up now. */
export class FailureStreak {
  private inRow = 0;
  constructor(private readonly max: number) {}

  get count(): number {
    return this.inRow;
  }

  succeeded(): void {
    this.inRow = 0;
  }

  failed(): boolean {
    this.inRow++;
    return this.max > 0 && this.inRow >= this.max;
  }

  /** One line for the alert and the error: how many in a row, and the last failure (redacted). */
  describe(what: string, last: unknown): string {
    return `${this.inRow} ${what} failed in a row; last: ${redact(shortMessageOf(last))}`;
  }
}

/** Usage (2), config (3), another sender on the account (8), a lost lease (14) and an interrupt (130) end a loop: retrying cannot help. */
export function isFatal(e: unknown): e is KeepctlError {
  if (!(e instanceof KeepctlError)) return false;
  const fatal: number[] = [ExitCode.USAGE, ExitCode.CONFIG, ExitCode.ACCOUNT_CONFLICT, ExitCode.LEASE_LOST, ExitCode.INTERRUPTED];
  return fatal.includes(e.exitCode);
}

export interface PassEnd<T> {
  pass: number;
  ok: boolean;
  ms: number;
  result?: T;
  /** Heartbeat ping after a good pass: "ok" or why it failed; undefined when none was sent. */
  ping?: string;
}

export interface LoopRunnerOptions<T> {
  /** One pass, then return. */
  once: boolean;
  intervalSec: number;
  signal: AbortSignal;
  /** Extra attempts of a failed pass, with doubling backoff, before it counts as failed (default 0). */
  retries?: number;
  backoffMs?: number;
  /** Failed passes in a row after which a long-running loop gives up (exit 11); 0 = never. */
  maxFailedPasses?: number;
  /** Pinged after each good pass only: a dead-man switch must trip when every pass fails. */
  heartbeatUrl?: string;
  /** "loops" / "passes", and who stops, for the give-up message. */
  unit: string;
  name: string;
  /** Each failed attempt (fatal or not). */
  onError?: (e: unknown, info: { pass: number; attempt: number; willRetry: boolean; fatal: boolean }) => void;
  /** A pass failed for good (after its retries): alert the operator. */
  onPassFailed?: (e: unknown, pass: number) => Promise<void>;
  /** After every pass, good or bad (the heartbeat event). */
  onPassEnd?: (end: PassEnd<T>) => void | Promise<void>;
  /** Before LoopFailingError is thrown (a last critical alert). */
  onGiveUp?: (text: string, failedInRow: number, pass: number) => Promise<void>;
  /** Waits between passes (default: the interval, cut short by the signal). */
  wait?: (signal: AbortSignal) => Promise<void>;
  /** Injectable clock and sleep (tests). */
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  ping?: (url: string) => Promise<{ ok: boolean; error?: string }>;
}

export interface LoopRun<T> {
  passes: number;
  failures: number;
  last?: T;
  lastError?: unknown;
  /** The fatal error that ended the loop, if one did. */
  fatal?: KeepctlError;
}

/**
 * The one loop runner of `watch` and the EMP bots: pass -> (retry with backoff) -> alert on
 * failure -> heartbeat after a good pass -> sleep (abortable). A fatal error ends the loop after
 * it is reported; `maxFailedPasses` failures in a row end a long-running loop with
 * LoopFailingError (exit 11). A one-shot run returns its failure for the caller's exit code.
 */
export async function runLoop<T>(pass: (n: number) => Promise<T>, o: LoopRunnerOptions<T>): Promise<LoopRun<T>> {
  const now = o.now ?? Date.now;
  const pause = o.sleep ?? sleep;
  const retries = o.retries ?? 0;
  const streak = new FailureStreak(o.maxFailedPasses ?? DEFAULT_MAX_FAILED_PASSES);
  const run: LoopRun<T> = { passes: 0, failures: 0 };
  for (let n = 1; !o.signal.aborted; n++) {
    const started = now();
    let error: unknown;
    let ok = false;
    let result: T | undefined;
    for (let attempt = 0; attempt <= retries && !o.signal.aborted; attempt++) {
      try {
        result = await pass(n);
        ok = true;
        break;
      } catch (e) {
        error = e;
        const fatal = isFatal(e);
        const willRetry = !fatal && attempt < retries && !o.signal.aborted;
        o.onError?.(e, { pass: n, attempt: attempt + 1, willRetry, fatal });
        if (!willRetry) break;
        await pause((o.backoffMs ?? 1000) * 2 ** attempt, o.signal);
      }
    }
    run.passes = n;
    if (ok) {
      run.last = result;
    } else if (error !== undefined) {
      run.failures++;
      run.lastError = error;
      await o.onPassFailed?.(error, n).catch(() => undefined);
    }
    let ping: string | undefined;
    if (ok && o.heartbeatUrl) {
      const hb = await (o.ping ?? pingHeartbeat)(o.heartbeatUrl);
      ping = hb.ok ? "ok" : hb.error ?? "failed";
    }
    if (ok || error !== undefined) await o.onPassEnd?.({ pass: n, ok, ms: now() - started, result, ping });
    if (isFatal(error)) {
      run.fatal = error;
      return run;
    }
    if (ok) streak.succeeded();
    // Stopping on a signal anyway: exit 130, not "failing".
    else if (error !== undefined && streak.failed() && !o.once && !o.signal.aborted) {
      const text = streak.describe(o.unit, error);
      await o.onGiveUp?.(text, streak.count, n).catch(() => undefined);
      throw new LoopFailingError(`${o.name} stopped: ${text}`, { cause: error, details: { [`failed${o.unit[0].toUpperCase()}${o.unit.slice(1)}`]: streak.count } });
    }
    if (o.once) break;
    await (o.wait ? o.wait(o.signal) : pause(o.intervalSec * 1000, o.signal));
  }
  return run;
}
