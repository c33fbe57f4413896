import { ethers } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeepctlProvider } from "../../src/lib/chain/provider";
import { parseBlockHeader, judgeHead, readHead } from "../../src/lib/chain/preflight";
import { ConfigError, ExitCode, KeepctlError, RevertError, RpcError, isRevert, toKeepctlError } from "../../src/lib/errors";
import { blockAt, startRpcDouble, type RpcAnswer, type RpcCall, type RpcDouble } from "../helpers/rpc-double";

/**
 * The one ethers-error -> KeepctlError mapping, fed with errors ethers itself raised while talking
 * to a loopback JSON-RPC double (no hand-built error objects): what the node did decides the code.
 */
let double: RpcDouble;
let answerFor: (c: RpcCall) => RpcAnswer = () => ({ result: null });

beforeAll(async () => {
  double = await startRpcDouble((c) => (c.method === "eth_chainId" ? { result: "0x1" } : answerFor(c)));
});
afterAll(async () => {
  await double?.close();
});

/** A provider the way keepctl builds one, answering `answer` for everything but the chain id. */
function providerAnswering(answer: (c: RpcCall) => RpcAnswer): KeepctlProvider {
  answerFor = answer;
  return new KeepctlProvider([double.url], 1, { retries: 1, timeoutMs: 5000 });
}

async function thrown(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

const errorString = (reason: string) => ethers.concat(["0x08c379a0", ethers.AbiCoder.defaultAbiCoder().encode(["string"], [reason])]);
const call = { to: "0x000000000000000000000000000000000000dEaD", data: "0x12345678" };

describe("toKeepctlError on real ethers errors", () => {
  it("a JSON-RPC error object (ethers: 'could not coalesce error') is exit 4 with the node's message", async () => {
    const p = providerAnswering(() => ({ error: { code: -32000, message: "header not found" } }));
    const raw = await thrown(p.send("eth_getBlockByNumber", ["latest", false]));
    // KeepctlProvider maps it where it enters, keeping the node's words; the mapping is idempotent.
    expect((raw as Error).message).not.toMatch(/could not coalesce error/);
    const e = toKeepctlError(raw);
    expect(e).toBeInstanceOf(RpcError);
    expect(e.exitCode).toBe(ExitCode.RPC);
    expect(e.code).toBe("NODE_ERROR");
    expect(e.message).toBe("the RPC node answered eth_getBlockByNumber with an error: header not found (code -32000)");
    p.destroy();
  });

  it("an eth_call the node fails (not a revert) is exit 4, not a revert", async () => {
    const p = providerAnswering(() => ({ error: { code: -32000, message: "missing trie node abc (path )" } }));
    const raw = await thrown(p.call(call));
    // Not a CALL_EXCEPTION ("missing revert data") as plain ethers would have it: a node failure.
    expect((raw as { code: string }).code).toBe("NODE_ERROR");
    expect(isRevert(raw)).toBe(false);
    const e = toKeepctlError(raw);
    expect(e.exitCode).toBe(ExitCode.RPC);
    expect(e.message).toContain("missing trie node abc");
    p.destroy();
  });

  it("a revert with a reason is exit 5 and says the reason", async () => {
    const p = providerAnswering(() => ({ error: { code: 3, message: "execution reverted: Deposit: not redeemable", data: errorString("Deposit: not redeemable") } }));
    const raw = await thrown(p.call(call));
    expect(isRevert(raw)).toBe(true);
    const e = toKeepctlError(raw);
    expect(e).toBeInstanceOf(RevertError);
    expect(e.exitCode).toBe(ExitCode.REVERT);
    expect(e.message).toBe("a contract call reverted: Deposit: not redeemable");
    p.destroy();
  });

  it("junk where a number belongs (ethers INVALID_ARGUMENT on %response) is exit 4, not a usage error", async () => {
    const p = providerAnswering(() => ({ result: "block NaN" }));
    const raw = await thrown(p.getBlockNumber());
    expect((raw as { code: string }).code).toBe("INVALID_ARGUMENT");
    const e = toKeepctlError(raw);
    expect(e.exitCode).toBe(ExitCode.RPC);
    expect(e.code).toBe("BAD_RESPONSE");
    expect(e.message).toMatch(/^the RPC node returned data keepctl cannot use: /);
    p.destroy();
  });

  it("an ill-typed block (ethers BAD_DATA) is exit 4", async () => {
    const p = providerAnswering(() => ({ result: { ...blockAt(5, 1_700_000_000), number: "NaN" } }));
    const raw = await thrown(p.getBlock("latest"));
    expect((raw as { code: string }).code).toBe("BAD_DATA");
    const e = toKeepctlError(raw);
    expect(e.exitCode).toBe(ExitCode.RPC);
    expect(e.code).toBe("BAD_RESPONSE");
    p.destroy();
  });

  it("an ethers INVALID_ARGUMENT about a value keepctl passed in is a bug: exit 1", () => {
    let raw: unknown;
    try {
      ethers.getAddress("0xnot-an-address");
    } catch (e) {
      raw = e;
    }
    const e = toKeepctlError(raw);
    expect(e.exitCode).toBe(ExitCode.INTERNAL);
    expect(e.message).toMatch(/^internal error: invalid address/);
  });

  it("keeps a KeepctlError as it is, and turns a plain Error into an internal error", () => {
    const c = new ConfigError("no RPC URL configured");
    expect(toKeepctlError(c)).toBe(c);
    const e = toKeepctlError(new TypeError("x is undefined"));
    expect(e).toBeInstanceOf(KeepctlError);
    expect(e.exitCode).toBe(1);
  });

  it("puts the node's message on one line and redacts URLs in it", async () => {
    const p = providerAnswering(() => ({ error: { code: -32603, message: "upstream https://gw.example/v3/SECRETKEY123 failed:\n  503 Service Unavailable" } }));
    const e = toKeepctlError(await thrown(p.send("eth_blockNumber", [])));
    expect(e.message).not.toContain("SECRETKEY123");
    expect(e.message).not.toContain("\n");
    expect(e.message).toContain("https://gw.example/***");
    expect(e.message).toContain("503 Service Unavailable");
    p.destroy();
  });
});

describe("the head as it enters", () => {
  it("rejects junk fields with exit 4 naming the field", async () => {
    for (const [bad, field] of [
      [{ ...blockAt(1, 1_700_000_000), number: "NaN" }, "number"],
      [{ ...blockAt(1, 1_700_000_000), timestamp: "0xzz" }, "timestamp"],
      [{ ...blockAt(1, 1_700_000_000), timestamp: 1700000000 }, "timestamp"],
      [{ ...blockAt(1, 1_700_000_000), hash: "0x12" }, "hash"],
    ] as const) {
      const p = providerAnswering(() => ({ result: bad }));
      const e = (await thrown(readHead(p))) as RpcError;
      expect(e).toBeInstanceOf(RpcError);
      expect(e.code).toBe("BAD_RESPONSE");
      expect(e.message).toContain(`the latest block.${field}`);
      p.destroy();
    }
    expect(parseBlockHeader(blockAt(16, 1_700_000_000), "b")).toEqual({ number: 16, hash: "0x" + "ab".repeat(32), timestamp: 1_700_000_000 });
  });

  it("judges the head's time: future is junk off dev chains, stale is an error or a warning", () => {
    const now = 1_700_000_000;
    const h = (t: number) => ({ number: 10, hash: "0x" + "ab".repeat(32), timestamp: t });
    expect(() => judgeHead(h(now + 3600), { chainId: 1, maxAgeSec: 600, stale: "warn", now })).toThrow(/3600 s in the future/);
    expect(judgeHead(h(now + 3600), { chainId: 31337, maxAgeSec: 0, stale: "error", now })).toEqual([]);
    expect(judgeHead(h(now - 600), { chainId: 1, maxAgeSec: 600, stale: "error", now })).toEqual([]);
    expect(() => judgeHead(h(now - 601), { chainId: 1, maxAgeSec: 600, stale: "error", now })).toThrow(/601 s old/);
    expect(judgeHead(h(now - 601), { chainId: 1, maxAgeSec: 600, stale: "warn", now })[0]).toMatch(/latest block 10 is 601 s old/);
    expect(judgeHead(h(now - 10 ** 6), { chainId: 1, maxAgeSec: 0, stale: "error", now })).toEqual([]);
  });
});
