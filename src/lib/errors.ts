/**
 * Every failure keepctl reports is a KeepctlError: a machine `code`, a one-line `message`, an
 * optional `hint` that says what to do, the process `exitCode`, and the original `cause`.
 * The CLI prints `message` (and `hint`), never a stack trace unless --verbose.
 */
export const ExitCode = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  CONFIG: 3,
  RPC: 4,
  REVERT: 5,
  FUNDS: 6,
  /** A price or data point was asked for but no data covers it (e.g. rai-price with no rate in the window). */
  NO_DATA: 7,
  /** Another sender uses the signing account (a nonce keepctl cannot explain): the account stops. */
  ACCOUNT_CONFLICT: 8,
  /** A transaction was sent but not mined by the deadline: still tracked, resumed by the next run. */
  TX_PENDING: 9,
  UNHEALTHY: 10,
  LOOP_FAILING: 11, // watch / an EMP bot gave up after --max-failed-passes failed passes in a row
  INTERRUPTED: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export interface KeepctlErrorOptions {
  hint?: string;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class KeepctlError extends Error {
  readonly code: string;
  readonly exitCode: ExitCodeValue;
  readonly hint?: string;
  readonly details?: Record<string, unknown>;
  constructor(code: string, exitCode: ExitCodeValue, message: string, opts: KeepctlErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
    this.hint = opts.hint;
    this.details = opts.details;
  }
}

/** Bad flag, bad argument, malformed address, command not built. Exit 2. */
export class UsageError extends KeepctlError {
  constructor(message: string, opts: KeepctlErrorOptions = {}) {
    super("USAGE", ExitCode.USAGE, message, opts);
  }
}

/** A required setting or secret is missing or invalid. Exit 3. */
export class ConfigError extends KeepctlError {
  constructor(message: string, opts: KeepctlErrorOptions = {}) {
    super("CONFIG", ExitCode.CONFIG, message, opts);
  }
}

/** No RPC endpoint answered, or it answered for the wrong chain. Exit 4. */
export class RpcError extends KeepctlError {
  constructor(message: string, opts: KeepctlErrorOptions & { code?: string } = {}) {
    super(opts.code ?? "RPC_UNREACHABLE", ExitCode.RPC, message, opts);
  }
}

/** A call or transaction reverted on chain (or in simulation). Exit 5. */
export class RevertError extends KeepctlError {
  readonly reason?: string;
  constructor(message: string, opts: KeepctlErrorOptions & { reason?: string } = {}) {
    super("REVERT", ExitCode.REVERT, message, opts);
    this.reason = opts.reason;
  }
}

/** Not enough ETH for gas or not enough tokens for the action. Exit 6. */
export class InsufficientFundsError extends KeepctlError {
  constructor(message: string, opts: KeepctlErrorOptions = {}) {
    super("INSUFFICIENT_FUNDS", ExitCode.FUNDS, message, opts);
  }
}

/** SIGINT / SIGTERM. Exit 130. */
export class InterruptedError extends KeepctlError {
  constructor(message = "interrupted", opts: KeepctlErrorOptions = {}) {
    super("INTERRUPTED", ExitCode.INTERRUPTED, message, opts);
  }
}

export function isKeepctlError(e: unknown): e is KeepctlError {
  return e instanceof KeepctlError;
}

/** Bare message of any thrown value, preferring ethers' shortMessage. */
export function shortMessageOf(e: unknown): string {
  if (e && typeof e === "object") {
    const any = e as { shortMessage?: unknown; message?: unknown };
    if (typeof any.shortMessage === "string" && any.shortMessage) return any.shortMessage;
    if (typeof any.message === "string" && any.message) return any.message.split("\n")[0];
  }
  return String(e);
}
