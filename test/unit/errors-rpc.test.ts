import { describe, expect, it } from "vitest";
import { NODE_ERROR_TABLE, classifyNodeError, classifyNodeMessage, isDefiniteRejection } from "../../src/lib/chain/errors-rpc";
import { RpcError } from "../../src/lib/errors";

/**
 * The node error table, one case per wording a client or a hosted provider is known to return for
 * eth_sendRawTransaction. The kind decides whether the engine may ever sign the action again.
 */
const CASES: [string, string, string][] = [
  // [client, message, kind]
  ["geth", "already known", "already-known"],
  ["Erigon", "ALREADY_EXISTS: already known", "already-known"],
  ["Nethermind", "AlreadyKnown", "already-known"],
  ["Besu", "Known transaction", "already-known"],
  ["Besu", "KNOWN_TRANSACTION", "already-known"],
  ["Anvil", "transaction already imported", "already-known"],
  ["Alchemy", "tx already in mempool", "already-known"],
  ["geth", "replacement transaction underpriced", "replacement-underpriced"],
  ["Hardhat", "Replacement transaction underpriced. A gasPrice/maxFeePerGas of at least 11000000000 is necessary to replace the existing transaction with nonce 0.", "replacement-underpriced"],
  ["Besu", "REPLACEMENT_UNDERPRICED", "replacement-underpriced"],
  ["Nethermind", "ReplacementNotAllowed: fee too low to replace", "replacement-underpriced"],
  ["geth", "insufficient funds for gas * price + value: balance 0, tx cost 21000", "insufficient-funds"],
  ["Hardhat", "Sender doesn't have enough funds to send tx. The max upfront cost is: 2100000 and the sender's balance is: 0.", "insufficient-funds"],
  ["Nethermind", "InsufficientFunds, Balance is zero, cannot pay gas", "insufficient-funds"],
  ["Besu", "UPFRONT_COST_EXCEEDS_BALANCE", "insufficient-funds"],
  ["Erigon", "nonce too high", "nonce-too-high"],
  ["Besu", "NONCE_TOO_HIGH", "nonce-too-high"],
  ["Nethermind", "NonceGap, Future nonce", "nonce-too-high"],
  ["geth", "nonce too low: address 0xabc, tx: 3 state: 5", "nonce-too-low"],
  ["Hardhat", "Nonce too low. Expected nonce to be 5 but got 3.", "nonce-too-low"],
  ["Nethermind", "OldNonce, Current nonce: 5, nonce of rejected tx: 3", "nonce-too-low"],
  ["Besu", "NONCE_TOO_LOW", "nonce-too-low"],
  ["Infura", "err: nonce too low (supplied gas 21000)", "nonce-too-low"],
  ["geth", "transaction underpriced: tip needed 1, tip permitted 0", "underpriced"],
  ["geth", "max fee per gas less than block base fee: address 0xabc, maxFeePerGas: 1 baseFee: 7", "underpriced"],
  ["Hardhat", "Transaction maxFeePerGas (1000) is too low for the next block, which has a baseFeePerGas of 875000000", "underpriced"],
  ["Nethermind", "FeeTooLow, MaxFeePerGas too low", "underpriced"],
  ["Besu", "GAS_PRICE_BELOW_MINIMUM", "underpriced"],
  ["geth", "intrinsic gas too low", "rejected"],
  ["geth", "exceeds block gas limit", "rejected"],
  ["geth", "invalid sender", "rejected"],
  ["geth", "tx fee (1.50 ether) exceeds the configured cap (1.00 ether)", "rejected"],
  ["Hardhat", "Trying to send an incompatible EIP-155 transaction, signed for another chain: invalid chain id", "rejected"],
  ["any", "header not found", "unknown"],
  ["any", "internal error", "unknown"],
  ["any", "execution timeout", "unknown"],
];

describe("node error table", () => {
  it.each(CASES)("%s: %s -> %s", (_client, message, kind) => {
    expect(classifyNodeMessage(message)).toBe(kind);
    // as ethers hands it over: a JSON-RPC error object inside info.error
    expect(classifyNodeError({ code: "UNKNOWN_ERROR", shortMessage: "could not coalesce error", info: { error: { code: -32000, message } } })).toBe(kind);
  });

  it("every row of the table is exercised by a case", () => {
    for (const row of NODE_ERROR_TABLE) expect(CASES.some(([, m, k]) => k === row.kind && row.pattern.test(m.toLowerCase())), row.seenIn).toBe(true);
  });

  it("transport failures are unknown even when they quote a node's words", () => {
    expect(classifyNodeError(new RpcError("no RPC endpoint answered: http://127.0.0.1:1 (HTTP 502)"))).toBe("unknown");
    expect(classifyNodeError(new RpcError("no RPC endpoint answered: http://x (timed out after 100 ms) nonce too low"))).toBe("unknown");
    expect(classifyNodeError({ code: "TIMEOUT", message: "nonce too low" })).toBe("unknown");
    expect(classifyNodeError({ code: "SERVER_ERROR", message: "already known" })).toBe("unknown");
    expect(classifyNodeError(new Error("socket hang up"))).toBe("unknown");
  });

  it("ethers' own codes win", () => {
    expect(classifyNodeError({ code: "NONCE_EXPIRED", message: "x" })).toBe("nonce-too-low");
    expect(classifyNodeError({ code: "REPLACEMENT_UNDERPRICED", message: "x" })).toBe("replacement-underpriced");
    expect(classifyNodeError({ code: "INSUFFICIENT_FUNDS", message: "x" })).toBe("insufficient-funds");
  });

  it("only refusals that leave the tx in no pool are definite; unknown, already-known and nonce-too-low never are", () => {
    expect(["insufficient-funds", "rejected", "underpriced", "nonce-too-high"].every((k) => isDefiniteRejection(k as never))).toBe(true);
    expect(["unknown", "already-known", "nonce-too-low", "replacement-underpriced"].some((k) => isDefiniteRejection(k as never))).toBe(false);
  });
});
