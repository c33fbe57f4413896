import { describe, expect, it } from "vitest";
import { Interface } from "ethers";
import { decodeRevertReason, simulationError } from "../../src/lib/chain/errors-rpc";
import { InsufficientFundsError, RevertError } from "../../src/lib/errors";


// classifyNodeError: the node error table has its own test (errors-rpc.test.ts), one case per row.

// Error shapes as ethers v6 surfaces them: { code, shortMessage, info: { error: { code, message } } }.
const rpc = (message: string, code = "UNKNOWN_ERROR") => ({ code, shortMessage: "could not coalesce error", info: { error: { code: -32000, message } } });

describe("revert decoding", () => {
  const iface = new Interface(["error NotAllowed(address caller, uint256 code)", "error Paused()"]);

  it("prefers the Error(string) reason ethers decoded", () => {
    expect(decodeRevertReason({ code: "CALL_EXCEPTION", reason: "Deposit: not redeemable" })).toBe("Deposit: not redeemable");
  });

  it("decodes a custom error with the target's ABI, or names its selector without it", () => {
    const data = iface.encodeErrorResult("NotAllowed", ["0x000000000000000000000000000000000000dEaD", 7]);
    const e = { code: "CALL_EXCEPTION", reason: null, revert: null, data };
    expect(decodeRevertReason(e, iface)).toBe("NotAllowed(0x000000000000000000000000000000000000dEaD, 7)");
    expect(decodeRevertReason(e)).toBe(`custom error ${data.slice(0, 10)}`);
    expect(decodeRevertReason({ code: "CALL_EXCEPTION", info: { error: { data: iface.encodeErrorResult("Paused", []) } } }, iface)).toBe("Paused()");
  });

  it("maps simulation failures to keepctl errors", () => {
    const rev = simulationError({ code: "CALL_EXCEPTION", reason: "nope" }, "redeem 0xdep");
    expect(rev).toBeInstanceOf(RevertError);
    expect((rev as RevertError).message).toBe("redeem 0xdep would revert: nope");
    expect((rev as RevertError).exitCode).toBe(5);
    const funds = simulationError(rpc("insufficient funds for transfer"), "redeem 0xdep");
    expect(funds).toBeInstanceOf(InsufficientFundsError);
    const other = { code: "NETWORK_ERROR", shortMessage: "network down" };
    expect(simulationError(other, "x")).toBe(other);
  });
});
