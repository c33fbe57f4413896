import { Interface, type InterfaceAbi } from "ethers";
import { InsufficientFundsError, RevertError, shortMessageOf } from "../errors";

/**
 * What a node's answer to eth_sendRawTransaction means for the sender. The rule the engine lives
 * by: only a DEFINITE rejection of this very transaction proves it can never be mined. Everything
 * else — a timeout, a reset, a 5xx, a truncated answer, an error wording we do not know — is
 * "unknown": the transaction may be in a pool somewhere, so it is treated as sent and settled from
 * the chain, never by signing the action again at another nonce.
 */
export type NodeErrorKind =
  | "nonce-too-low" // the nonce is used (by ours or by a foreign tx): look at the receipts of our hashes
  | "already-known" // the node has this exact tx: it was sent
  | "replacement-underpriced" // another tx holds this nonce in the pool and ours does not outbid it
  | "underpriced" // below the node's minimum price / the block's base fee: rejected, not pooled
  | "nonce-too-high" // gap: rejected (or queued by geth, which says nothing): resync the nonce
  | "insufficient-funds" // rejected: balance below value + gas × max fee
  | "rejected" // other definite rejections of this tx: intrinsic gas, block gas limit, bad signature, chain id
  | "unknown"; // anything else: may have reached a pool -> treat as sent

/**
 * One table of node wordings: geth, Erigon, Nethermind, Besu, Hardhat, Anvil and the hosted
 * providers' variants (Infura, Alchemy, QuickNode pass the client's words through, some with their
 * own prefix). Order matters: the first matching row wins ("replacement transaction underpriced"
 * must win over "transaction underpriced"). Each row has a unit test in test/unit/errors-rpc.test.ts.
 */
export const NODE_ERROR_TABLE: readonly { kind: Exclude<NodeErrorKind, "unknown">; pattern: RegExp; seenIn: string }[] = [
  { kind: "already-known", pattern: /already known|known[ _]transaction|alreadyknown|already imported|already in (the )?(mempool|pool|txpool)|transaction already exists|tx already in mempool/, seenIn: "geth/Erigon 'already known', Nethermind 'AlreadyKnown', Besu 'KNOWN_TRANSACTION', Anvil 'transaction already imported'" },
  { kind: "replacement-underpriced", pattern: /replacement (transaction )?underpriced|replacement fee too low|fee too low to replace|replacement_underpriced|replacement transaction has lower gas price|transaction_replacement_underpriced/, seenIn: "geth/Erigon 'replacement transaction underpriced', Besu 'REPLACEMENT_UNDERPRICED', Hardhat 'Replacement transaction underpriced'" },
  { kind: "insufficient-funds", pattern: /insufficient funds|doesn't have enough funds|not enough funds|insufficientfunds|upfront[ _]cost[ _]exceeds|sender balance too low/, seenIn: "geth 'insufficient funds for gas * price + value', Nethermind 'InsufficientFunds', Besu 'UPFRONT_COST_EXCEEDS_BALANCE', Hardhat 'sender doesn't have enough funds'" },
  { kind: "nonce-too-high", pattern: /nonce too high|nonce ?gap|nonce too far|nonce_too_high|incorrect_nonce.*future|nonce is too far in the future/, seenIn: "Erigon/Anvil 'nonce too high', Besu 'NONCE_TOO_HIGH', Nethermind 'NonceGap'" },
  { kind: "nonce-too-low", pattern: /nonce too low|nonce has already been used|oldnonce|nonce_too_low|invalid nonce|nonce is too low|expected nonce to be/, seenIn: "geth 'nonce too low', Nethermind 'OldNonce', Besu 'NONCE_TOO_LOW', Hardhat 'Nonce too low. Expected nonce to be N'" },
  { kind: "underpriced", pattern: /transaction underpriced|feetoolow|fee too low|gas price too low|max fee per gas less than block base fee|maxfeepergas .*too low|is too low for the next block|below minimum|min(imum)? gas price|gas_price_below_minimum|feecap.*below/, seenIn: "geth 'transaction underpriced' / 'max fee per gas less than block base fee', Hardhat 'Transaction maxFeePerGas (x) is too low for the next block', Nethermind 'FeeTooLow', Besu 'GAS_PRICE_BELOW_MINIMUM'" },
  { kind: "rejected", pattern: /intrinsic gas too low|exceeds block gas limit|gas limit reached|invalid sender|invalid signature|invalid chain ?id|chain id mismatch|incorrect chain ?id|tx type not supported|transaction type not supported|oversized data|exceeds the configured cap|tx fee .* exceeds|signer .* not authorized|only replay-protected/, seenIn: "geth 'intrinsic gas too low', 'exceeds block gas limit', 'invalid sender', 'tx fee exceeds the configured cap'; Hardhat 'Trying to send an incompatible EIP-155 transaction'" },
];

function messagesOf(e: unknown, depth = 0): string[] {
  if (!e || typeof e !== "object" || depth > 4) return typeof e === "string" ? [e] : [];
  const o = e as Record<string, unknown>;
  const out: string[] = [];
  for (const k of ["shortMessage", "message", "reason"]) if (typeof o[k] === "string") out.push(o[k] as string);
  for (const k of ["error", "info", "cause", "data"]) if (o[k] && typeof o[k] === "object") out.push(...messagesOf(o[k], depth + 1));
  return out;
}

/** The kind of a node wording (the table above), or "unknown". */
export function classifyNodeMessage(text: string): NodeErrorKind {
  const t = text.toLowerCase();
  for (const row of NODE_ERROR_TABLE) if (row.pattern.test(t)) return row.kind;
  return "unknown";
}

/**
 * Classifies what a broadcast threw. Transport failures (our own RpcError "no RPC endpoint
 * answered", ethers' TIMEOUT/NETWORK_ERROR/SERVER_ERROR) are "unknown" even when their text
 * happens to quote a node: nothing definite came back about THIS transaction.
 */
export function classifyNodeError(e: unknown): NodeErrorKind {
  const code = e && typeof e === "object" ? (e as { code?: unknown }).code : undefined;
  if (code === "RPC_UNREACHABLE" || code === "TIMEOUT" || code === "NETWORK_ERROR" || code === "SERVER_ERROR" || code === "BAD_DATA") return "unknown";
  if (code === "INSUFFICIENT_FUNDS") return "insufficient-funds";
  if (code === "REPLACEMENT_UNDERPRICED") return "replacement-underpriced";
  if (code === "NONCE_EXPIRED") return "nonce-too-low";
  return classifyNodeMessage(messagesOf(e).join(" | "));
}

/** Kinds after which this signed transaction can never be mined (it is not in any pool). */
export function isDefiniteRejection(kind: NodeErrorKind): boolean {
  return kind === "insufficient-funds" || kind === "rejected" || kind === "underpriced" || kind === "nonce-too-high";
}

/** Finds the revert payload (hex) ethers put somewhere on a CALL_EXCEPTION. */
function revertDataOf(e: unknown, depth = 0): string | undefined {
  if (!e || typeof e !== "object" || depth > 4) return undefined;
  const o = e as Record<string, unknown>;
  if (typeof o.data === "string" && /^0x[0-9a-f]{8}/i.test(o.data)) return o.data;
  for (const k of ["error", "info", "cause"]) {
    const d = revertDataOf(o[k], depth + 1);
    if (d) return d;
  }
  return undefined;
}

/** Human reason of a revert: Error(string), Panic(uint), or a custom error decoded with `abi`. */
export function decodeRevertReason(e: unknown, abi?: InterfaceAbi | Interface): string | undefined {
  const o = (e && typeof e === "object" ? e : {}) as { reason?: unknown; revert?: { name?: string; args?: unknown[] } | null };
  if (typeof o.reason === "string" && o.reason) return o.reason;
  const data = revertDataOf(e);
  if (data && abi) {
    try {
      const iface = abi instanceof Interface ? abi : new Interface(abi);
      const parsed = iface.parseError(data);
      if (parsed) return `${parsed.name}(${parsed.args.map((a) => String(a)).join(", ")})`;
    } catch {
      // not one of the contract's errors; fall through to the raw selector
    }
  }
  if (o.revert?.name) return `${o.revert.name}(${(o.revert.args ?? []).map((a) => String(a)).join(", ")})`;
  if (data) return `custom error ${data.slice(0, 10)}`;
  return undefined;
}

function isCallException(e: unknown): boolean {
  if (!e || typeof e !== "object") return false;
  const code = (e as { code?: unknown }).code;
  if (code === "CALL_EXCEPTION") return true;
  return /revert|invalid opcode|out of gas/i.test(messagesOf(e).join(" "));
}

/**
 * Maps a failed simulation (eth_call / eth_estimateGas) to a keepctl error: reverts become
 * RevertError with the decoded reason, a lack of ETH becomes InsufficientFundsError; anything
 * else is returned unchanged for the caller's RPC handling.
 */
export function simulationError(e: unknown, label: string, abi?: InterfaceAbi | Interface): unknown {
  if (classifyNodeError(e) === "insufficient-funds") {
    return new InsufficientFundsError(`${label}: the account cannot pay for this transaction`, {
      cause: e,
      hint: "fund the sending account with ETH for value and gas",
    });
  }
  if (isCallException(e)) {
    const reason = decodeRevertReason(e, abi);
    return new RevertError(`${label} would revert${reason ? `: ${reason}` : ""}`, {
      cause: e,
      reason,
      hint: "nothing was sent; check the target's state (someone may have acted first)",
    });
  }
  return e;
}

export { shortMessageOf };
