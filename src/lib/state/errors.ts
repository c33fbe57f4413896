import { ConfigError, ExitCode, KeepctlError } from "../errors";

/** Another keepctl took the lease (its epoch is newer than ours): sign nothing more, exit 14. */
export class LeaseLostError extends KeepctlError {
  constructor(message: string, details?: Record<string, unknown>) {
    super("LEASE_LOST", ExitCode.LEASE_LOST, message, {
      hint: "another keepctl on the same --state-url holds the account now; this one stopped signing. Let the supervisor restart it: it comes back as the standby",
      details,
    });
  }
}

/**
 * The lease is ours but not provably current (no renewal confirmed within the signing window, or
 * too little of it left in the database's time): nothing is signed until a renewal succeeds.
 */
export class LeaseNotCurrentError extends KeepctlError {
  constructor(message: string) {
    super("LEASE_NOT_CURRENT", ExitCode.RPC, message, {
      hint: "the state database did not confirm the lease in time; keepctl signs again once it does (check the database and the link to it)",
    });
  }
}

/** The state database did not answer (refused, timed out, reset). Exit 4, like an RPC endpoint. */
export class StateUnreachableError extends KeepctlError {
  constructor(message: string, cause?: unknown) {
    super("STATE_UNREACHABLE", ExitCode.RPC, message, { cause, hint: "check that the PostgreSQL server of --state-url / KEEPCTL_STATE_URL runs and this host can reach it" });
  }
}

export function stateConfigError(code: string, message: string, hint: string, cause?: unknown): ConfigError {
  return new ConfigError(message, { code, hint, cause });
}
