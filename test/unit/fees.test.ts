import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JsonRpcProvider, Network } from "ethers";
import { FeeCapError, bumpFees, formatGwei, gweiToWei, initialFees, raiseByPct, worstCaseFeeWei } from "../../src/lib/chain/fees";
import { blockAt, startRpcDouble, type RpcDouble } from "../helpers/rpc-double";

const G = 1_000_000_000n;

describe("fee math", () => {
  it("converts decimal gwei exactly", () => {
    expect(gweiToWei(30)).toBe(30n * G);
    expect(gweiToWei("1.5")).toBe(1_500_000_000n);
    expect(gweiToWei("0.000000001")).toBe(1n);
    expect(gweiToWei(0.1)).toBe(100_000_000n);
    expect(() => gweiToWei("-1")).toThrow(/not a fee in gwei/);
    expect(() => gweiToWei("abc")).toThrow(/not a fee in gwei/);
  });

  it("raises by a percentage rounding up", () => {
    expect(raiseByPct(100n, 12.5)).toBe(113n); // 112.5 -> 113, never under the bump
    expect(raiseByPct(8n, 12.5)).toBe(9n);
    expect(raiseByPct(1000n, 12.5)).toBe(1125n);
    expect(raiseByPct(1000n, 0)).toBe(1000n);
  });

  it("bumps both fields by at least the percentage", () => {
    const r = bumpFees({ maxFeePerGas: 40n * G, maxPriorityFeePerGas: 2n * G }, 12.5, 100n * G)!;
    expect(r).toEqual({ maxFeePerGas: 45n * G, maxPriorityFeePerGas: 2_250_000_000n });
  });

  it("never steps by less than the node's replacement rule (10% by default, configurable)", () => {
    const r = bumpFees({ maxFeePerGas: 40n * G, maxPriorityFeePerGas: 2n * G }, 5, 100n * G)!;
    expect(r).toEqual({ maxFeePerGas: 44n * G, maxPriorityFeePerGas: 2_200_000_000n });
    const r2 = bumpFees({ maxFeePerGas: 40n * G, maxPriorityFeePerGas: 2n * G }, 5, 100n * G, 20)!;
    expect(r2).toEqual({ maxFeePerGas: 48n * G, maxPriorityFeePerGas: 2_400_000_000n });
  });

  it("raises tiny values by at least one wei", () => {
    const r = bumpFees({ maxFeePerGas: 3n, maxPriorityFeePerGas: 0n }, 12.5, 100n)!;
    expect(r.maxFeePerGas).toBe(4n);
    expect(r.maxPriorityFeePerGas).toBe(1n);
  });

  it("no replacement when the next valid step would exceed the cap (a step clipped to the cap would be refused)", () => {
    expect(bumpFees({ maxFeePerGas: 95n * G, maxPriorityFeePerGas: 94n * G }, 12.5, 100n * G)).toBeNull();
    // exactly at the cap is allowed
    expect(bumpFees({ maxFeePerGas: 80n * G, maxPriorityFeePerGas: 2n * G }, 12.5, 90n * G)).toEqual({ maxFeePerGas: 90n * G, maxPriorityFeePerGas: 2_250_000_000n });
    expect(bumpFees({ maxFeePerGas: 80n * G, maxPriorityFeePerGas: 2n * G }, 12.5, 90n * G - 1n)).toBeNull();
  });

  it("keeps the tip under the max fee", () => {
    const r = bumpFees({ maxFeePerGas: 10n, maxPriorityFeePerGas: 10n }, 12.5, 100n)!;
    expect(r.maxPriorityFeePerGas).toBeLessThanOrEqual(r.maxFeePerGas);
  });

  it("returns null at the cap: nothing can rise any more", () => {
    expect(bumpFees({ maxFeePerGas: 100n * G, maxPriorityFeePerGas: 2n * G }, 12.5, 100n * G)).toBeNull();
    expect(bumpFees({ maxFeePerGas: 101n * G, maxPriorityFeePerGas: 2n * G }, 12.5, 100n * G)).toBeNull();
  });

  it("a repeated bump sequence climbs geometrically, each step valid, and stops below the cap", () => {
    let fees = { maxFeePerGas: 10n * G, maxPriorityFeePerGas: 1n * G };
    const seen: bigint[] = [];
    for (let i = 0; i < 50; i++) {
      const next = bumpFees(fees, 12.5, 30n * G);
      if (!next) break;
      expect(next.maxFeePerGas * 100n).toBeGreaterThanOrEqual(fees.maxFeePerGas * 110n);
      expect(next.maxPriorityFeePerGas * 100n).toBeGreaterThanOrEqual(fees.maxPriorityFeePerGas * 110n);
      fees = next;
      seen.push(next.maxFeePerGas);
    }
    expect(seen.length).toBe(9); // 10 * 1.125^9 = 28.87 <= 30; 1.125^10 = 32.5 > 30
    expect(seen.at(-1)! <= 30n * G).toBe(true);
    expect(seen.at(-1)! * 1125n / 1000n > 30n * G).toBe(true);
  });


  it("worst-case fee is gas limit times max fee", () => {
    expect(worstCaseFeeWei(250_000n, 50n * G)).toBe(12_500_000n * G);
  });

  it("formats gwei without trailing zeros", () => {
    expect(formatGwei(50n * G)).toBe("50");
    expect(formatGwei(1_500_000_000n)).toBe("1.5");
    expect(formatGwei(1n)).toBe("0.000000001");
  });

  it("refuses a negative or non-finite bump", () => {
    expect(() => raiseByPct(100n, -1)).toThrow(/fee bump must be a non-negative percentage, got -1/);
    expect(() => raiseByPct(100n, Number.NaN)).toThrow(/non-negative percentage/);
    expect(() => raiseByPct(100n, Number.POSITIVE_INFINITY)).toThrow(/non-negative percentage/);
    expect(() => bumpFees({ maxFeePerGas: 10n, maxPriorityFeePerGas: 1n }, -20, 100n, -20)).toThrow(/non-negative percentage/);
  });

  it("a zero-percent rule still moves both fields by one wei (equal fees are not a replacement)", () => {
    expect(bumpFees({ maxFeePerGas: 100n, maxPriorityFeePerGas: 5n }, 0, 1000n, 0)).toEqual({ maxFeePerGas: 101n, maxPriorityFeePerGas: 6n });
  });

  it("clips a tip that would exceed the max fee (a journaled tx with tip above max fee)", () => {
    expect(bumpFees({ maxFeePerGas: 10n, maxPriorityFeePerGas: 20n }, 12.5, 100n)).toEqual({ maxFeePerGas: 12n, maxPriorityFeePerGas: 12n });
    // tip equal to the max fee is kept as is
    expect(bumpFees({ maxFeePerGas: 8n, maxPriorityFeePerGas: 8n }, 12.5, 100n)).toEqual({ maxFeePerGas: 9n, maxPriorityFeePerGas: 9n });
  });

  it("reads decimals beyond wei precision by truncating, and whitespace around", () => {
    expect(gweiToWei(" 2.1234567899 ")).toBe(2_123_456_789n);
    expect(gweiToWei("7.")).toBe(7n * G);
    expect(gweiToWei("25")).toBe(25n * G);
    expect(gweiToWei("0")).toBe(0n);
    expect(() => gweiToWei("1.2.3")).toThrow(/not a fee in gwei: "1.2.3"/);
    expect(() => gweiToWei("")).toThrow(/not a fee in gwei/);
  });
});

describe("initial fees from the node", () => {
  // A JSON-RPC node on loopback: latest block with `baseFee`, and a tip answer (or an error).
  let baseFee = 0n;
  let tip: string | null = null;
  let rpc: RpcDouble;
  let provider: JsonRpcProvider;
  beforeAll(async () => {
    rpc = await startRpcDouble((c) => {
      if (c.method === "eth_chainId") return { result: "0x7a69" };
      if (c.method === "eth_blockNumber") return { result: "0x10" };
      if (c.method === "eth_getBlockByNumber") {
        const { baseFeePerGas: _omit, ...legacy } = blockAt(16, 1_700_000_000);
        return { result: baseFee < 0n ? legacy : { ...legacy, baseFeePerGas: "0x" + baseFee.toString(16) } };
      }
      if (c.method === "eth_maxPriorityFeePerGas") return tip === null ? { error: { code: -32601, message: "method not found" } } : { result: tip };
      return { error: { code: -32601, message: `method ${c.method} not expected` } };
    });
    provider = new JsonRpcProvider(rpc.url, Network.from(31337), { staticNetwork: true, cacheTimeout: -1 });
  });
  afterAll(async () => {
    provider?.destroy();
    await rpc?.close();
  });

  it("max fee is twice the base fee plus the node's tip", async () => {
    baseFee = 10n * G; tip = "0x" + (2n * G).toString(16);
    expect(await initialFees(provider, 100n * G)).toEqual({ baseFee: 10n * G, maxFeePerGas: 22n * G, maxPriorityFeePerGas: 2n * G });
  });

  it("asks the node for its tip with no parameters", async () => {
    baseFee = 10n * G; tip = "0x1";
    rpc.calls.length = 0;
    await initialFees(provider, 100n * G);
    expect(rpc.calls.filter((c) => c.method === "eth_maxPriorityFeePerGas").map((c) => c.params)).toEqual([[]]);
  });

  it("a block without a base fee (pre-London chain) counts as base fee 0", async () => {
    baseFee = -1n; tip = "0x" + (2n * G).toString(16);
    expect(await initialFees(provider, 100n * G)).toEqual({ baseFee: 0n, maxFeePerGas: 2n * G, maxPriorityFeePerGas: 2n * G });
  });

  it("a node without eth_maxPriorityFeePerGas: 1 gwei tip", async () => {
    baseFee = 10n * G; tip = null;
    expect(await initialFees(provider, 100n * G)).toEqual({ baseFee: 10n * G, maxFeePerGas: 21n * G, maxPriorityFeePerGas: G });
  });

  it("a tip below the operator's minimum is raised to it", async () => {
    baseFee = 10n * G; tip = "0x1";
    expect(await initialFees(provider, 100n * G, 3n * G)).toEqual({ baseFee: 10n * G, maxFeePerGas: 23n * G, maxPriorityFeePerGas: 3n * G });
    // at the minimum it stays
    tip = "0x" + (3n * G).toString(16);
    expect((await initialFees(provider, 100n * G, 3n * G)).maxPriorityFeePerGas).toBe(3n * G);
  });

  it("clips the max fee to the cap and the tip to what is left above the base fee", async () => {
    baseFee = 10n * G; tip = "0x" + (5n * G).toString(16);
    expect(await initialFees(provider, 12n * G)).toEqual({ baseFee: 10n * G, maxFeePerGas: 12n * G, maxPriorityFeePerGas: 2n * G });
    // exactly at the cap: nothing clipped
    expect(await initialFees(provider, 25n * G)).toEqual({ baseFee: 10n * G, maxFeePerGas: 25n * G, maxPriorityFeePerGas: 5n * G });
  });

  it("a base fee at or above the cap is a FeeCapError (exit 3) naming both in gwei", async () => {
    baseFee = 30n * G; tip = "0x1";
    const err = await initialFees(provider, 30n * G).catch((e) => e);
    expect(err).toBeInstanceOf(FeeCapError);
    expect(err).toMatchObject({ code: "FEE_CAP", exitCode: 3, message: "base fee 30 gwei is at or above the fee cap 30 gwei" });
    expect(err.hint).toMatch(/--max-fee-gwei/);
    // one wei under the base fee is refused too, one wei over is not
    await expect(initialFees(provider, 30n * G - 1n)).rejects.toBeInstanceOf(FeeCapError);
    await expect(initialFees(provider, 30n * G + 1n)).resolves.toMatchObject({ maxFeePerGas: 30n * G + 1n });
  });
});
