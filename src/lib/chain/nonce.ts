import type { JsonRpcProvider } from "ethers";

/**
 * The account's next nonce, owned by us rather than by ethers (whose NonceManager never rolls a
 * failed send back). next = max(node's pending count, last nonce broadcast + 1): the node's
 * count catches transactions sent elsewhere with the same key, the local value covers a node
 * whose pending pool lags behind what we just sent.
 */
export class NonceTracker {
  private lastUsed: number | undefined;
  constructor(
    private readonly provider: JsonRpcProvider,
    readonly address: string,
  ) {}

  async next(): Promise<number> {
    const pending = await this.provider.getTransactionCount(this.address, "pending");
    return this.lastUsed === undefined ? pending : Math.max(pending, this.lastUsed + 1);
  }

  /** Called only after the node accepted (or may have accepted) a tx at `nonce`. */
  markUsed(nonce: number): void {
    if (this.lastUsed === undefined || nonce > this.lastUsed) this.lastUsed = nonce;
  }

  /** After "nonce too high" / "too low": forget the local guess and trust the node again. */
  reset(): void {
    this.lastUsed = undefined;
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
