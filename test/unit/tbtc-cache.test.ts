import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CACHE_VERSION, type TbtcCache, cacheFile, emptyCache, loadCache, saveCache } from "../../src/lib/tbtc/read/cache";

// A cache from another setup would hide deposits or invent them: every mismatch must read as empty
// (a full rescan), never as the stored data.
let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-cache-unit-")); });
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const FACTORY = "0xA7e9c3a5D5B9E7f1f0bD3c1E1aA1c1C1c1C1c1C1";
const SYSTEM = "0xB0b0b0B0b0B0B0b0b0b0B0B0b0b0B0B0B0B0b0b0";
const key = { chainId: 1, factory: FACTORY, system: SYSTEM, startBlock: 100 };

/** A cache with data in it, as a scan would leave it. */
function full(): TbtcCache {
  return {
    ...emptyCache(key),
    lastBlock: 250,
    lastBlockHash: "0x" + "12".repeat(32),
    keeps: { ["0x" + "cc".repeat(20)]: { deposit: "0x" + "dd".repeat(20), members: ["0x" + "ee".repeat(20)], block: 120 } },
    fixed: {},
    finished: {},
    courtesyCalledAt: { ["0x" + "dd".repeat(20)]: 1_700_000_000 },
    fundedAt: {},
  };
}

function store(c: unknown): string {
  const file = cacheFile(dir, key);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, typeof c === "string" ? c : JSON.stringify(c), { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return file;
}

const isEmpty = (c: TbtcCache) => expect(c).toEqual(emptyCache(key));

describe("tBTC scan cache", () => {
  it("an empty cache starts one block before the start block, addresses lower case", () => {
    expect(emptyCache(key)).toEqual({
      version: CACHE_VERSION, chainId: 1, factory: FACTORY.toLowerCase(), system: SYSTEM.toLowerCase(), startBlock: 100,
      lastBlock: 99, keeps: {}, fixed: {}, finished: {}, courtesyCalledAt: {}, fundedAt: {},
    });
    expect(cacheFile("/data", key)).toBe(path.join("/data", "cache", `tbtc-1-${FACTORY.toLowerCase()}.json`));
  });

  it("reads back what it saved, for the same setup whatever the address case", () => {
    const file = cacheFile(dir, key);
    saveCache(file, full());
    expect(loadCache(file, key)).toEqual(full());
    expect(loadCache(file, { ...key, factory: FACTORY.toLowerCase(), system: SYSTEM.toUpperCase().replace("0X", "0x") })).toEqual(full());
  });

  it("a missing file is an empty cache", () => {
    isEmpty(loadCache(path.join(dir, "nope.json"), key));
  });

  it.each([
    ["another version", { version: CACHE_VERSION - 1 }],
    ["a newer version", { version: CACHE_VERSION + 1 }],
    ["another chain", { chainId: 5 }],
    ["another factory", { factory: "0x" + "99".repeat(20) }],
    ["another system", { system: "0x" + "98".repeat(20) }],
    ["another start block", { startBlock: 101 }],
    ["a lastBlock that is not a number", { lastBlock: "250" }],
    ["no lastBlock", { lastBlock: undefined }],
    ["no keeps", { keeps: undefined }],
    ["no fixed facts", { fixed: undefined }],
    ["no finished facts", { finished: undefined }],
    ["no courtesy-call times", { courtesyCalledAt: undefined }],
    ["no funding times", { fundedAt: undefined }],
  ])("%s: read as empty (a rescan)", (_why, change) => {
    const file = store({ ...full(), ...change });
    isEmpty(loadCache(file, key));
  });

  it.each([
    ["truncated JSON", JSON.stringify(full()).slice(0, 40)],
    ["not JSON", "garbage"],
    ["JSON null", "null"],
    ["a JSON number", "3"],
    ["a JSON array", "[]"],
    ["an empty file", ""],
  ])("corrupt (%s): read as empty, never a crash", (_why, text) => {
    isEmpty(loadCache(store(text), key));
  });

  it("a cache others can write is not trusted", () => {
    const file = store(full());
    fs.chmodSync(file, 0o666);
    isEmpty(loadCache(file, key));
    fs.chmodSync(file, 0o600);
    expect(loadCache(file, key)).toEqual(full());
  });

  it("saves owner-only, replacing the old file whole", () => {
    const file = cacheFile(dir, key);
    saveCache(file, full());
    saveCache(file, emptyCache(key));
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).toEqual(emptyCache(key));
    expect(fs.readdirSync(path.dirname(file))).toEqual([path.basename(file)]);
  });
});
