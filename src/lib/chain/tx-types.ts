import type { Interface, InterfaceAbi, TransactionReceipt } from "ethers";
import type { Fees } from "./fees";
import type { NodeErrorKind } from "./errors-rpc";

/** Types of the transaction engine (tx.ts), apart so callers can import them cheaply. */
export interface TxRequest {
  to: string;
  data?: string;
  value?: bigint;
  /** Short name for events and messages, e.g. "redeem 0xabc…". */
  label: string;
  /** ABI of the target, to decode custom errors on revert. */
  abi?: InterfaceAbi | Interface;
  /**
   * Where this transaction's signed bytes go (first send, rebroadcasts, replacements); default:
   * the provider's endpoints. Everything else — simulation, nonce, receipts — stays on the provider.
   */
  transport?: RawTxTransport;
}

/**
 * A way to hand a signed transaction to the network other than the public endpoint (a private
 * relay that keeps it out of the public mempool). One attempt per call, never retried: like the
 * provider's own broadcast, an answer that is not a definite rejection means "may be pooled".
 */
export interface RawTxTransport {
  /** Journaled with the action (meta.transport), so an adopted tx is rebroadcast the same way. */
  name: string;
  broadcast(raw: string): Promise<{ kind: NodeErrorKind | "accepted"; error?: unknown }>;
}

export interface PreparedTx extends Fees {
  gasEstimate: bigint;
  gasLimit: bigint;
  baseFee: bigint;
  worstCaseFeeWei: bigint;
}

export interface TxResult {
  hash: string;
  receipt: TransactionReceipt;
  nonce: number;
  /** Every hash broadcast for this nonce (the mined one among them). */
  hashes: string[];
}

export type TxEvent =
  /** confirmed=false: the node's answer was lost; the tx is treated as sent and settled from the chain. */
  | { type: "sent"; label: string; nonce: number; hash: string; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint; confirmed: boolean }
  | { type: "replaced"; label: string; nonce: number; hash: string; previousHash: string; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }
  /** The same signed bytes sent again because the node knew none of our hashes for the nonce. */
  | { type: "rebroadcast"; label: string; nonce: number; hash: string; outcome: string }
  /** No valid replacement step fits under the cap; the fees shown are the ones live in the pool. */
  | { type: "fee-cap-reached"; label: string; nonce: number; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint; cap: bigint }
  | { type: "replace-rejected"; label: string; nonce: number; reason: string; kind: import("./errors-rpc").NodeErrorKind | "accepted" }
  | { type: "mined"; label: string; nonce: number; hash: string; blockNumber: number; blockHash?: string; status: number; gasUsed: bigint }
  /** Not mined by the deadline: unknown, still tracked (journal state stays "sent"). */
  | { type: "pending"; label: string; nonce: number; hashes: string[] }
  /**
   * sent=false: nothing of this action can be in a pool. final: none of its hashes can ever be
   * mined (refused, or the nonce went to a foreign tx), so the action may be planned again.
   */
  | { type: "failed"; label: string; nonce?: number; hash?: string; error: string; sent: boolean; final: boolean; code?: string };

export type BeforeBroadcast = (signedTx: string, hash: string, nonce: number, ctx: { label: string; attempt: number }) => Promise<void> | void;

/** Per-send hooks (the journal of one action). */
export interface TxHooks {
  beforeBroadcast?: BeforeBroadcast;
  onEvent?: (ev: TxEvent) => void;
}

export interface TxSenderOptions {
  /** Operator's hard cap on maxFeePerGas, in gwei. Never signed above. */
  maxFeeGwei: number | string;
  /** Gas limit = estimate × margin (default 1.25). */
  gasMargin?: number;
  /** Percent both fee fields rise per replacement (default 12.5). */
  bumpPct?: number;
  /** The node's replacement rule: the least rise it accepts on both fields (default 10). */
  replacementPct?: number;
  /** Rebroadcast the same bytes when the node knows none of our hashes, this often (default 10 s). */
  rebroadcastMs?: number;
  /** Nonces the journal knows this account signed (explains a pending count above our own). */
  journaledNonces?: () => number[];
  /** Resend at the same nonce when not mined this long after the last send (default 60 s). */
  replaceAfterMs?: number;
  /** Receipt polling interval (default 2 s). */
  pollMs?: number;
  /** Give up waiting for a receipt after this long (default 15 min); the tx may still mine. */
  receiptTimeoutMs?: number;
  /** Floor for the priority fee, in wei. */
  minTipWei?: bigint;
  onEvent?: (ev: TxEvent) => void;
  /** Persist the signed tx BEFORE it leaves the process (see journal.ts); throwing aborts the send. */
  beforeBroadcast?: BeforeBroadcast;
  /**
   * Asked before the account guard blames another sender (nonces this process and its journal
   * cannot explain): throws when this process may not be the account's signer any more. With a
   * shared lease, a renewal now: the "other sender" may be the keepctl that took the lease over,
   * and that is a lost lease (exit 14), not a conflict (exit 8).
   */
  confirmSigner?: () => Promise<void>;
  signal?: AbortSignal;
}
