/**
 * Pure: when a journaled "mined" is a chain fact. A receipt is only as good as the block it is in;
 * until that block is deep enough (`--confirmations`, or the node's `finalized` block), a reorg may
 * take it back, so each pass re-reads the receipts of such entries and this module says what
 * their answers mean. No network here: reconcile.ts asks, this decides.
 */
export type Confirmations = number | "auto";

/** Depth used when the chain has no usable `finalized` tag. */
export const DEFAULT_CONFIRMATIONS = 12;

/**
 * The highest block number that counts as final. `auto`: the node's `finalized` block when it
 * answers one BELOW the head (a dev node such as Hardhat answers its head for `finalized`: that
 * is taken as "no finality information"), else `DEFAULT_CONFIRMATIONS` deep. A number N: N deep
 * (a receipt in the head block has 1 confirmation; 0 makes everything final at once).
 */
export function finalBlock(head: number, confirmations: Confirmations, finalizedTag?: number): number {
  if (confirmations === "auto") {
    if (finalizedTag !== undefined && finalizedTag < head) return finalizedTag;
    return head - DEFAULT_CONFIRMATIONS + 1;
  }
  return head - confirmations + 1;
}

export interface MinedEntry {
  key: string;
  nonce: number;
  blockNumber?: number;
  blockHash?: string;
  final?: boolean;
}

export interface SeenReceipt {
  blockNumber: number;
  blockHash?: string;
  status: number;
}

export type EntryVerdict =
  /** Deep enough now: record it final, stop re-reading it. */
  | { kind: "final"; blockNumber: number; blockHash?: string }
  /** Still in the chain, not deep enough yet: read again next pass. */
  | { kind: "pending-depth" }
  /** In the chain, but in another block than journaled (re-mined after a reorg): record where. */
  | { kind: "moved"; blockNumber: number; blockHash?: string }
  /** The endpoint does not know the receipt: ask the others before calling it gone. */
  | { kind: "ask-others" }
  /** Final and not re-read (its nonce is still below the account's count: nothing can have taken it). */
  | { kind: "untouched" };

/**
 * What one entry's receipt (from the pass's batch) says. `receipt` undefined: not asked (a final
 * entry); null: the endpoint knows no such receipt. `accountNonce` is the account's mined count:
 * a final entry at or above it has left the chain (nothing else uses our nonces), so it is
 * re-checked whatever its depth.
 */
export function judgeEntry(e: MinedEntry, receipt: SeenReceipt | null | undefined, o: { finalBlock: number; accountNonce?: number }): EntryVerdict {
  if (e.final && receipt === undefined) {
    return o.accountNonce !== undefined && e.nonce >= o.accountNonce ? { kind: "ask-others" } : { kind: "untouched" };
  }
  if (!receipt) return { kind: "ask-others" };
  const moved = receipt.blockNumber !== e.blockNumber || (e.blockHash !== undefined && receipt.blockHash !== undefined && receipt.blockHash !== e.blockHash);
  if (receipt.blockNumber <= o.finalBlock) return e.final && !moved ? { kind: "untouched" } : { kind: "final", blockNumber: receipt.blockNumber, blockHash: receipt.blockHash };
  if (moved) return { kind: "moved", blockNumber: receipt.blockNumber, blockHash: receipt.blockHash };
  return { kind: "pending-depth" };
}

/**
 * A head this far below a block where one of our own transactions was mined is no evidence that
 * the transaction left the chain: a real reorg replaces blocks with a chain at least as long, so
 * the endpoint is lagging (or the chain was reset). Returns the journaled block it trails, if any.
 */
export function headBehindJournal(head: number, minedBlocks: readonly number[], maxLag: number): number | undefined {
  if (maxLag <= 0) return undefined; // --max-lag 0: no lag checks at all
  let highest: number | undefined;
  for (const b of minedBlocks) if (highest === undefined || b > highest) highest = b;
  return highest !== undefined && highest - head > maxLag ? highest : undefined;
}
