import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { batchCapFromRefusal, chunkAfterRefusal, isBatchTooLarge, limitFromRefusal } from "../../src/lib/chain/log-limits";
import { endpointKey, endpointLimitsFile, loadEndpointLimits, rememberBatchCalls, rememberLogBlocks, startingBatchMax, startingLogChunk } from "../../src/lib/chain/endpoint-limits";

// The refusals hosted providers send for an eth_getLogs range they will not serve (their wordings).
const ALCHEMY = "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit on the response size, or you can request any block range with a cap of 10K logs in the response. Based on your parameters, this block range should work: [0x1, 0x7d0]";
const INFURA = "query returned more than 10000 results. Try with this block range [0xf4240, 0xf4a0f].";
const QUICKNODE = "eth_getLogs is limited to a 10,000 range";
const QUICKNODE_2 = "eth_getLogs and eth_newFilter are limited to a 10,000 blocks range";
const GETH_PUBLIC = "exceed maximum block range: 5000";
const PROXY = "block range is too wide (20000 blocks, max 3000)";
const DRPC = "ranges over 10000 blocks are not supported on freetier";
const PLAIN = "block range is too wide";
const RESULTS_ONLY = "query returned more than 10000 results";

describe("limitFromRefusal", () => {
  it("reads the block cap the wordings name", () => {
    expect(limitFromRefusal(ALCHEMY)).toEqual({ blocks: 2000, kind: "cap" });
    expect(limitFromRefusal(QUICKNODE)).toEqual({ blocks: 10_000, kind: "cap" });
    expect(limitFromRefusal(QUICKNODE_2)).toEqual({ blocks: 10_000, kind: "cap" });
    expect(limitFromRefusal(GETH_PUBLIC)).toEqual({ blocks: 5000, kind: "cap" });
    expect(limitFromRefusal(PROXY)).toEqual({ blocks: 3000, kind: "cap" });
    expect(limitFromRefusal(DRPC)).toEqual({ blocks: 10_000, kind: "cap" });
  });
  it("a suggested range is a size that works from here, not a cap (0xf4a0f - 0xf4240 + 1 = 2000)", () => {
    expect(limitFromRefusal(INFURA)).toEqual({ blocks: 2000, kind: "suggested" });
    expect(limitFromRefusal("try [100, 149]")).toEqual({ blocks: 50, kind: "suggested" });
    expect(limitFromRefusal("try [0x10, 0x0f]")).toBeUndefined();
  });
  it("a count of results or logs is no block cap; a refusal naming nothing is undefined", () => {
    expect(limitFromRefusal(RESULTS_ONLY)).toBeUndefined();
    expect(limitFromRefusal(PLAIN)).toBeUndefined();
    expect(limitFromRefusal("you can request any block range with a cap of 10K logs")).toBeUndefined();
    expect(limitFromRefusal("")).toBeUndefined();
  });
  it("whatever the case of the words, and with spaces inside a suggested range", () => {
    for (const w of [ALCHEMY, QUICKNODE, GETH_PUBLIC, PROXY, DRPC]) expect(limitFromRefusal(w.toUpperCase())).toEqual(limitFromRefusal(w));
    expect(limitFromRefusal("TRY WITH THIS BLOCK RANGE [0X10, 0X2A]")).toEqual({ blocks: 27, kind: "suggested" });
    expect(limitFromRefusal("try [ 100 , 149 ]")).toEqual({ blocks: 50, kind: "suggested" });
  });
  it("reads K as thousands and drops thousands separators", () => {
    expect(limitFromRefusal("requests with up to a 1.5K block range")).toEqual({ blocks: 1500, kind: "cap" });
    expect(limitFromRefusal("eth_getLogs is limited to a 1,000,000 range")).toEqual({ blocks: 1_000_000, kind: "cap" });
    expect(limitFromRefusal("exceed maximum block range: 0")).toBeUndefined();
    expect(limitFromRefusal("exceed maximum block range: 1")).toEqual({ blocks: 1, kind: "cap" });
    expect(limitFromRefusal("try [5, 5]")).toEqual({ blocks: 1, kind: "suggested" });
  });
});

describe("chunkAfterRefusal", () => {
  it("jumps to the named cap in one step and reports it to remember", () => {
    expect(chunkAfterRefusal(10_000, ALCHEMY)).toEqual({ chunk: 2000, learnedCap: 2000 });
    expect(chunkAfterRefusal(10_000, GETH_PUBLIC)).toEqual({ chunk: 5000, learnedCap: 5000 });
  });
  it("uses a suggested range for the retry without remembering it", () => {
    expect(chunkAfterRefusal(10_000, INFURA)).toEqual({ chunk: 2000 });
  });
  it("halves when nothing smaller than the refused range is named", () => {
    expect(chunkAfterRefusal(10_000, PLAIN)).toEqual({ chunk: 5000 });
    expect(chunkAfterRefusal(10_001, RESULTS_ONLY)).toEqual({ chunk: 5000 });
    // a cap no smaller than what was refused cannot be the reason: halve
    expect(chunkAfterRefusal(10_000, QUICKNODE)).toEqual({ chunk: 5000 });
    expect(chunkAfterRefusal(3000, PROXY)).toEqual({ chunk: 1500 });
  });
  it("never goes below the minimum chunk", () => {
    expect(chunkAfterRefusal(3, PLAIN, 2)).toEqual({ chunk: 2 });
    expect(chunkAfterRefusal(10_000, "exceed maximum block range: 5", 10)).toEqual({ chunk: 10, learnedCap: 5 });
  });
});

describe("endpoint limits, remembered", () => {
  const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-limits-"));
  const URL_WITH_KEY = "https://eth-mainnet.example.com/v2/SECRETAPIKEY0123456789";

  it("stores the cap under a hash of the URL, never the URL or its key", () => {
    const d = dir();
    rememberLogBlocks(d, URL_WITH_KEY, 2000, new Date("2026-12-07T00:00:00Z"));
    const text = fs.readFileSync(endpointLimitsFile(d), "utf8");
    expect(text).not.toContain("SECRETAPIKEY");
    expect(text).not.toContain("example.com");
    expect(JSON.parse(text)).toEqual({ version: 1, endpoints: { [endpointKey(URL_WITH_KEY)]: { logBlocks: 2000, learnedAt: "2026-12-07T00:00:00.000Z" } } });
    expect(loadEndpointLimits(d, URL_WITH_KEY)).toEqual({ logBlocks: 2000 });
    expect(loadEndpointLimits(d, "http://127.0.0.1:8545")).toEqual({});
    expect((fs.statSync(endpointLimitsFile(d)).mode & 0o077)).toBe(0);
  });
  it("keeps the smaller cap, per endpoint", () => {
    const d = dir();
    rememberLogBlocks(d, "http://a", 5000);
    rememberLogBlocks(d, "http://a", 8000);
    rememberLogBlocks(d, "http://b", 800);
    rememberLogBlocks(d, "http://a", 3000);
    expect(loadEndpointLimits(d, "http://a")).toEqual({ logBlocks: 3000 });
    expect(loadEndpointLimits(d, "http://b")).toEqual({ logBlocks: 800 });
  });
  it("an absent, torn or foreign file remembers nothing", () => {
    const d = dir();
    expect(loadEndpointLimits(d, "http://a")).toEqual({});
    fs.mkdirSync(path.dirname(endpointLimitsFile(d)), { recursive: true });
    fs.writeFileSync(endpointLimitsFile(d), "{\"version\":1,\"endp");
    expect(loadEndpointLimits(d, "http://a")).toEqual({});
    fs.writeFileSync(endpointLimitsFile(d), JSON.stringify({ version: 2, endpoints: { [endpointKey("http://a")]: { logBlocks: 5 } } }));
    expect(loadEndpointLimits(d, "http://a")).toEqual({});
    fs.writeFileSync(endpointLimitsFile(d), JSON.stringify({ version: 1, endpoints: { [endpointKey("http://a")]: { logBlocks: -1 } } }));
    expect(loadEndpointLimits(d, "http://a")).toEqual({});
  });
  it("a scan starts at the remembered cap when it is below the configured size", () => {
    expect(startingLogChunk(10_000, { logBlocks: 2000 })).toBe(2000);
    expect(startingLogChunk(1000, { logBlocks: 2000 })).toBe(1000);
    expect(startingLogChunk(10_000, {})).toBe(10_000);
  });
});

describe("batch refusals", () => {
  it("reads the batch cap a refusal names", () => {
    expect(batchCapFromRefusal("batch size too large (150 calls, max 100)")).toBe(100);
    expect(batchCapFromRefusal("batch limit of 50 exceeded")).toBe(50);
    expect(batchCapFromRefusal("requests are limited to 10 requests per batch")).toBe(10);
    expect(batchCapFromRefusal("maximum batch size is 1,000")).toBe(1000);
    expect(batchCapFromRefusal("Batch size is too large")).toBeUndefined();
    expect(batchCapFromRefusal("batch limit of 0 exceeded")).toBeUndefined();
    expect(batchCapFromRefusal("batch limit of 1 exceeded")).toBe(1);
    expect(batchCapFromRefusal("batch limit 50")).toBe(50);
    expect(batchCapFromRefusal("batch limit:25")).toBe(25);
    expect(batchCapFromRefusal("maximum batch is 20")).toBe(20);
    expect(batchCapFromRefusal("batch too large, max:30")).toBe(30);
    expect(batchCapFromRefusal("limited to 1,000 calls per batch")).toBe(1000);
    expect(batchCapFromRefusal("limited to 40 per batch")).toBe(40);
    expect(batchCapFromRefusal("limited to 40 requests in a batch")).toBe(40);
  });
  it("tells a batch too large from other refusals of a batch", () => {
    expect(isBatchTooLarge("batch size too large (150 calls, max 100)")).toBe(true);
    expect(isBatchTooLarge("Batch size is too large")).toBe(true);
    expect(isBatchTooLarge("batch limit exceeded")).toBe(true);
    expect(isBatchTooLarge("batch requests are not supported")).toBe(false);
    expect(isBatchTooLarge("request too large")).toBe(false);
  });
  it("the batch cap is remembered like the log cap, and a provider starts at it when smaller", () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-limits-"));
    rememberLogBlocks(d, "http://a", 2000);
    rememberBatchCalls(d, "http://a", 50);
    rememberBatchCalls(d, "http://a", 80);
    expect(loadEndpointLimits(d, "http://a")).toEqual({ logBlocks: 2000, batchCalls: 50 });
    expect(startingBatchMax(100, { batchCalls: 50 })).toBe(50);
    expect(startingBatchMax(20, { batchCalls: 50 })).toBe(20);
    expect(startingBatchMax(100, {})).toBe(100);
  });
});
