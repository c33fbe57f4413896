import { isError, type JsonRpcProvider } from "ethers";
import { ExitCode, KeepctlError } from "../errors";

/**
 * Another sender uses this account: its nonce moved in a way our own journal cannot explain, or a
 * nonce we signed for was taken by a transaction we never sent. Sending on would risk acting twice
 * (the other sender may be a second keepctl doing the same work), so the account stops.
 */
export class AccountConflictError extends KeepctlError {
  constructor(message: string, opts: { hint?: string; details?: Record<string, unknown>; code?: string } = {}) {
    super(opts.code ?? "ACCOUNT_CONFLICT", ExitCode.ACCOUNT_CONFLICT, message, {
      hint: opts.hint ?? "another program (or a second keepctl) is sending from this key: stop it, or give keepctl its own account",
      details: opts.details,
    });
  }
}

/**
 * The account's next nonce, owned by us rather than by ethers (whose NonceManager never rolls a
 * failed send back), and the account-wide guard. next = max(node's pending count, last nonce we
 * used + 1). Once this process has a baseline, a pending count ABOVE what we expect can only come
 * from another sender: that is a conflict, never a reason to pick a higher nonce and go on.
 */
export class NonceTracker {
  private lastUsed: number | undefined;
  /** The pending count when the session started (after the journal was settled). */
  private baseline: number | undefined;

  constructor(
    private readonly provider: JsonRpcProvider,
    readonly address: string,
    /** What the journal knows this account signed (nonces of every attempt, any state). */
    private readonly journaled: () => Iterable<number> = () => [],
  ) {}

  /** The node's pending count, checked against what this process and its journal explain. */
  async next(): Promise<number> {
    const pending = await this.count("pending");
    const local = this.localExpected();
    if (local !== undefined && pending > local) {
      const ours = new Set(this.journaled());
      const unexplained: number[] = [];
      for (let n = local; n < pending; n++) if (!ours.has(n)) unexplained.push(n);
      if (unexplained.length) {
        throw new AccountConflictError(`account ${this.address}: the chain's pending nonce is ${pending}, but keepctl signed nothing at nonce ${unexplained.join(", ")}`, {
          details: { pending, expected: local, unexplained },
        });
      }
    }
    this.baseline ??= pending;
    return local === undefined ? pending : Math.max(pending, local);
  }

  /**
   * Takes the baseline for this session (call it after settling what an earlier run left): the
   * pending count, refusing when transactions are pending at nonces our journal never signed —
   * another sender is at work on this account right now.
   */
  async startSession(): Promise<number> {
    const [latest, pending] = await Promise.all([this.count("latest"), this.count("pending")]);
    const ours = new Set(this.journaled());
    const foreign: number[] = [];
    for (let n = latest; n < pending; n++) if (!ours.has(n)) foreign.push(n);
    if (foreign.length) {
      throw new AccountConflictError(`account ${this.address} has ${foreign.length} pending transaction(s) keepctl did not sign (nonces ${foreign.join(", ")})`, {
        details: { latest, pending, foreign },
      });
    }
    this.baseline = pending;
    this.lastUsed = undefined;
    return pending;
  }

  /** Called only after the node accepted (or may have accepted) a tx at `nonce`. */
  markUsed(nonce: number): void {
    if (this.lastUsed === undefined || nonce > this.lastUsed) this.lastUsed = nonce;
  }

  /** The next nonce by this process's own reckoning; undefined before any baseline. */
  private localExpected(): number | undefined {
    if (this.baseline === undefined && this.lastUsed === undefined) return undefined;
    return Math.max(this.baseline ?? 0, this.lastUsed === undefined ? 0 : this.lastUsed + 1);
  }

  private async count(tag: "latest" | "pending"): Promise<number> {
    let n: number;
    try {
      n = await this.provider.getTransactionCount(this.address, tag);
    } catch (e) {
      // ethers refuses answers that are not a whole number in the safe range ("0x", "0x-1",
      // 2^53); it passes a negative JSON number through, checked below.
      if (isError(e, "INVALID_ARGUMENT")) throw badCount(tag, e.value);
      throw e;
    }
    if (n < 0) throw badCount(tag, n);
    return n;
  }

  /** Our tx at `nonce` left the chain (a reorg) and is not sent again: the nonce is free for the next one. */
  release(nonce: number): void {
    if (this.lastUsed !== undefined && this.lastUsed >= nonce) this.lastUsed = nonce > 0 ? nonce - 1 : undefined;
    if (this.baseline !== undefined && this.baseline > nonce) this.baseline = nonce;
  }

  /** After "nonce too high": a gap the node will not fill; trust the node's count again. */
  reset(): void {
    this.lastUsed = undefined;
    this.baseline = undefined;
  }
}

/**
 * Runs tasks one at a time in arrival order. Used so that parallel callers pick nonces and
 * broadcast in sequence (consecutive nonces), while the waiting for receipts runs in parallel.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

function badCount(tag: string, answer: unknown): KeepctlError {
  return new KeepctlError("RPC_BAD_ANSWER", ExitCode.RPC, `the node answered a ${tag} nonce that is not a count: ${String(answer)}`);
}
