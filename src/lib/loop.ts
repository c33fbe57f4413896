import { ExitCode, KeepctlError, shortMessageOf } from "./errors";
import { redact } from "./redact";

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
