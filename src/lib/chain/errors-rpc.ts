import { Interface, type InterfaceAbi } from "ethers";
import { InsufficientFundsError, RevertError, shortMessageOf } from "../errors";

/**
 * What a node's answer to eth_sendRawTransaction means for the sender. Geth, Erigon, Nethermind,
 * Hardhat and ethers all word these differently, so we look at ethers' code AND at every nested
 * message we can find.
 */
export type NodeErrorKind =
  | "nonce-too-low" // the nonce is already used: look at the receipts of our hashes
  | "already-known" // the node has this exact tx: keep waiting
  | "underpriced" // replacement fee too low: the previous tx is still the live one
  | "nonce-too-high" // gap: resync the nonce
  | "insufficient-funds"
  | "network" // timeout / connection: the tx may or may not have reached the node
  | "other";

function messagesOf(e: unknown, depth = 0): string[] {
  if (!e || typeof e !== "object" || depth > 4) return typeof e === "string" ? [e] : [];
  const o = e as Record<string, unknown>;
  const out: string[] = [];
  for (const k of ["shortMessage", "message", "reason"]) if (typeof o[k] === "string") out.push(o[k] as string);
  for (const k of ["error", "info", "cause", "data"]) if (o[k] && typeof o[k] === "object") out.push(...messagesOf(o[k], depth + 1));
  return out;
}

export function classifyNodeError(e: unknown): NodeErrorKind {
  const code = e && typeof e === "object" ? (e as { code?: unknown }).code : undefined;
  if (code === "INSUFFICIENT_FUNDS") return "insufficient-funds";
  if (code === "REPLACEMENT_UNDERPRICED") return "underpriced";
  const text = messagesOf(e).join(" | ").toLowerCase();
  if (/insufficient funds|doesn't have enough funds|not enough funds/.test(text)) return "insufficient-funds";
  if (/already known|known transaction|alreadyknown|already imported|already in (the )?(mempool|pool)/.test(text)) return "already-known";
  if (/replacement (transaction )?underpriced|replacement fee too low|transaction underpriced|fee too low to replace/.test(text)) return "underpriced";
  if (/nonce too high|nonce gap|nonce too far/.test(text)) return "nonce-too-high";
  if (code === "NONCE_EXPIRED" || /nonce too low|nonce has already been used|oldnonce|invalid nonce/.test(text)) return "nonce-too-low";
  if (code === "TIMEOUT" || code === "NETWORK_ERROR" || code === "SERVER_ERROR" || /econnrefused|econnreset|socket hang up|timeout/.test(text)) return "network";
  return "other";
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
