import { redact } from "./redact";

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
  /** The shared state's lease (PostgreSQL) was taken over by another keepctl: this one signs nothing more. */
  LEASE_LOST: 14,
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

/**
 * A required setting or secret is missing or invalid, or a configured address is not the contract
 * it should be. Exit 3.
 */
export class ConfigError extends KeepctlError {
  constructor(message: string, opts: KeepctlErrorOptions & { code?: string } = {}) {
    super(opts.code ?? "CONFIG", ExitCode.CONFIG, message, opts);
  }
}

/**
 * No RPC endpoint answered, it answered for the wrong chain, with a JSON-RPC error object
 * (NODE_ERROR), with a result that is not what the method returns (BAD_RESPONSE), or with a head
 * too old to judge from (STALE_HEAD). Exit 4.
 */
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

// ---- the one mapping from anything thrown to a KeepctlError ------------------------------------

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === "object";

/** Node messages can be long, multi-line and carry the endpoint's URL: one short redacted line. */
function oneLine(text: string, max = 300): string {
  const t = redact(text.replace(/\s+/g, " ").trim());
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

export interface NodeErrorInfo {
  /** JSON-RPC error code, when the node gave a number. */
  code?: number;
  message: string;
  /** The JSON-RPC method that failed, when ethers kept the payload. */
  method?: string;
  /** Revert data the node attached, if any. */
  data?: string;
}

/**
 * The JSON-RPC error object a node answered, wherever ethers put it: `error` for UNKNOWN_ERROR
 * ("could not coalesce error"), `info.error` for CALL_EXCEPTION and the transaction errors.
 */
export function nodeErrorOf(e: unknown): NodeErrorInfo | undefined {
  if (!isObj(e)) return undefined;
  const info = isObj(e.info) ? e.info : undefined;
  const raw = [e.error, info?.error].find((x) => isObj(x) && (typeof x.message === "string" || typeof x.code === "number")) as Obj | undefined;
  if (!raw) return undefined;
  const payload = [e.payload, info?.payload].find(isObj) as Obj | undefined;
  const nested = isObj(raw.data) ? raw.data : undefined;
  const data = typeof raw.data === "string" ? raw.data : typeof nested?.data === "string" ? nested.data : undefined;
  return {
    code: typeof raw.code === "number" ? raw.code : undefined,
    message: typeof raw.message === "string" ? raw.message : JSON.stringify(raw),
    method: typeof payload?.method === "string" ? payload.method : undefined,
    data,
  };
}

const REVERT_TEXT = /revert|invalid opcode|out of gas|vm exception|stack (under|over)flow|invalid jump|function selector was not recognized/i;

/**
 * True when a failed eth_call is the contract reverting, not the node failing. ethers turns EVERY
 * JSON-RPC error of an eth_call into CALL_EXCEPTION, so "header not found" or a gateway's "rate
 * limited" would otherwise pass for a revert (and a per-row "reverted" hides an outage).
 */
export function isRevert(e: unknown): boolean {
  if (!isObj(e) || e.code !== "CALL_EXCEPTION") return false;
  const node = nodeErrorOf(e);
  if (!node) return true; // raised by ethers itself (e.g. a decoded Error(string) or empty revert)
  if (node.data && /^0x[0-9a-f]*$/i.test(node.data) && node.data.length >= 10) return true;
  return node.code === 3 || REVERT_TEXT.test(node.message);
}

function rpcMessage(node: NodeErrorInfo): string {
  const code = node.code === undefined ? "" : ` (code ${node.code})`;
  return oneLine(`the RPC node answered ${node.method ?? "a request"} with an error: ${node.message}${code}`);
}

const NODE_HINT = "the endpoint is failing or limiting you: retry, or add a second URL to KEEPCTL_RPC_URLS for failover";
const BAD_RESPONSE_HINT = "the endpoint answers with malformed data: point --rpc-url / KEEPCTL_RPC_URLS at a working node";

/**
 * Maps anything thrown to the keepctl error it means, once, for every command:
 * - KeepctlError: as is;
 * - transport (timeout, connection, HTTP status): RpcError RPC_UNREACHABLE, exit 4;
 * - a JSON-RPC error object from the node ("could not coalesce error" and friends): RpcError
 *   NODE_ERROR with the node's own message, exit 4;
 * - junk or ill-typed results (BAD_DATA, or INVALID_ARGUMENT raised on a "%response"): RpcError
 *   BAD_RESPONSE, exit 4;
 * - a contract revert: RevertError, exit 5; too little ETH: InsufficientFundsError, exit 6;
 * - anything else, including an ethers INVALID_ARGUMENT about a value keepctl passed in (user
 *   input is validated before it reaches ethers, so that is a bug): INTERNAL, exit 1.
 */
export function toKeepctlError(e: unknown): KeepctlError {
  if (e instanceof KeepctlError) return e;
  const code = isObj(e) && typeof e.code === "string" ? e.code : undefined;
  const short = oneLine(shortMessageOf(e));
  const node = nodeErrorOf(e);
  switch (code) {
    case "CALL_EXCEPTION":
      if (!isRevert(e)) return new RpcError(rpcMessage(node!), { code: "NODE_ERROR", cause: e, hint: NODE_HINT });
      return new RevertError(oneLine(`a contract call reverted${revertText(e)}`), {
        cause: e,
        hint: "check the contract addresses for this network (`keepctl config`)",
      });
    case "UNKNOWN_ERROR":
    case "SERVER_ERROR":
    case "UNSUPPORTED_OPERATION":
    case "NONCE_EXPIRED":
    case "REPLACEMENT_UNDERPRICED":
      if (node) return new RpcError(rpcMessage(node), { code: "NODE_ERROR", cause: e, hint: NODE_HINT });
      if (code === "SERVER_ERROR") return new RpcError(oneLine(`RPC request failed: ${short}`), { cause: e, hint: NODE_HINT });
      break;
    case "TIMEOUT":
    case "NETWORK_ERROR":
      return new RpcError(oneLine(`RPC request failed: ${short}`), { cause: e, hint: NODE_HINT });
    case "BAD_DATA":
      return new RpcError(oneLine(`the RPC node returned data keepctl cannot use: ${short}`), { code: "BAD_RESPONSE", cause: e, hint: BAD_RESPONSE_HINT });
    case "INVALID_ARGUMENT":
    case "NUMERIC_FAULT": {
      // ethers names the value it was given by a node "%response" (getBlockNumber, getBalance, ...).
      const arg = isObj(e) ? String(e.argument ?? "") : "";
      if (arg.startsWith("%response")) {
        return new RpcError(oneLine(`the RPC node returned data keepctl cannot use: ${short}`), { code: "BAD_RESPONSE", cause: e, hint: BAD_RESPONSE_HINT });
      }
      break;
    }
    case "INSUFFICIENT_FUNDS":
      return new InsufficientFundsError(oneLine(`not enough ETH: ${node?.message ?? short}`), { cause: e, hint: "fund the sending account with ETH for value and gas" });
  }
  return new KeepctlError("INTERNAL", ExitCode.INTERNAL, `internal error: ${short}`, { cause: e, hint: "run again with --verbose and report it" });
}

function revertText(e: unknown): string {
  const o = e as { reason?: unknown; revert?: { name?: string; args?: unknown[] } | null };
  if (typeof o.reason === "string" && o.reason) return `: ${o.reason}`;
  if (o.revert?.name) return `: ${o.revert.name}(${(o.revert.args ?? []).map(String).join(", ")})`;
  const node = nodeErrorOf(e);
  return node ? `: ${node.message}` : "";
}
