import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { discoverNextIndex, firstUnusedFrom, GAP_LIMIT, nextIndex, type UsedLookup } from "../../src/lib/btc/wallet/address-policy";
import { AddressBook } from "../../src/lib/btc/wallet/address-book";
import { Bip84Account, CHANGE, RECEIVE } from "../../src/lib/btc/wallet/account";

/** A chain's history as a set of used indexes; records every window asked. */
function chainOf(used: number[]): { lookup: UsedLookup; asked: number[][] } {
  const set = new Set(used);
  const asked: number[][] = [];
  return { asked, lookup: async (ix) => { asked.push(ix); return ix.map((i) => set.has(i)); } };
}

describe("firstUnusedFrom", () => {
  it("the index itself when unused", async () => {
    expect(await firstUnusedFrom(5, chainOf([1, 2]).lookup)).toBe(5);
  });
  it("skips used indexes, across window boundaries", async () => {
    expect(await firstUnusedFrom(0, chainOf([0, 1, 2]).lookup)).toBe(3);
    const used = Array.from({ length: 45 }, (_, i) => i + 3);
    const c = chainOf(used);
    expect(await firstUnusedFrom(3, c.lookup, 20)).toBe(48);
    expect(c.asked.map((w) => [w[0], w.length])).toEqual([[3, 20], [23, 20], [43, 20]]);
  });
  it("asks one window when the first is enough", async () => {
    const c = chainOf([7]);
    expect(await firstUnusedFrom(7, c.lookup, 4)).toBe(8);
    expect(c.asked).toEqual([[7, 8, 9, 10]]);
  });
  it("refuses a negative or fractional start, and a lookup that answers short", async () => {
    await expect(firstUnusedFrom(-1, chainOf([]).lookup)).rejects.toThrow(/not a whole number/);
    await expect(firstUnusedFrom(1.5, chainOf([]).lookup)).rejects.toThrow(/not a whole number/);
    await expect(firstUnusedFrom(0, async (ix) => ix.slice(1).map(() => false))).rejects.toThrow(/answered 19 of 20/);
  });
});

describe("discoverNextIndex (gap limit)", () => {
  it("0 for a never used chain, after one window", async () => {
    const c = chainOf([]);
    expect(await discoverNextIndex(c.lookup)).toBe(0);
    expect(c.asked).toHaveLength(1);
    expect(c.asked[0]).toEqual(Array.from({ length: GAP_LIMIT }, (_, i) => i));
  });
  it("the index after the last used one", async () => {
    expect(await discoverNextIndex(chainOf([0, 1, 4]).lookup)).toBe(5);
    expect(await discoverNextIndex(chainOf([19]).lookup)).toBe(20);
    expect(await discoverNextIndex(chainOf([0, 20]).lookup)).toBe(21);
    // 20 unused in a row (0..19) end the scan before index 20, as BIP44 prescribes.
    expect(await discoverNextIndex(chainOf([20]).lookup)).toBe(0);
  });
  it("follows used addresses across windows while gaps stay under the limit", async () => {
    expect(await discoverNextIndex(chainOf([3, 22, 41]).lookup)).toBe(42);
  });
  it("stops after gapLimit unused in a row", async () => {
    // 10 unused after index 0 is within a limit of 20, but a gap of 25 with a limit of 5 is not:
    expect(await discoverNextIndex(chainOf([0, 11]).lookup)).toBe(12);
    expect(await discoverNextIndex(chainOf([0, 30]).lookup, 5)).toBe(1);
  });
  it("a window boundary right after a used index", async () => {
    expect(await discoverNextIndex(chainOf([4]).lookup, 5)).toBe(5);
    expect(await discoverNextIndex(chainOf([4, 5]).lookup, 5)).toBe(6);
  });
  it("a gap limit of 1 stops at the first unused index", async () => {
    expect(await discoverNextIndex(chainOf([0, 1, 3]).lookup, 1)).toBe(2);
  });
  it("refuses a gap limit below 1", async () => {
    await expect(discoverNextIndex(chainOf([]).lookup, 0)).rejects.toThrow(/at least 1/);
    await expect(discoverNextIndex(chainOf([]).lookup, 2.5)).rejects.toThrow(/at least 1/);
  });
});

describe("nextIndex", () => {
  it("without a chain: the counter alone (0 when none)", async () => {
    expect(await nextIndex({ persisted: 7 })).toEqual({ index: 7, checked: false, skipped: 0 });
    expect(await nextIndex({ persisted: undefined })).toEqual({ index: 0, checked: false, skipped: 0 });
  });
  it("with a counter: the first unused at or after it, never below it", async () => {
    expect(await nextIndex({ persisted: 2, lookup: chainOf([0, 1]).lookup })).toEqual({ index: 2, checked: true, skipped: 0 });
    expect(await nextIndex({ persisted: 2, lookup: chainOf([2, 3]).lookup })).toEqual({ index: 4, checked: true, skipped: 2 });
    // Index 0 is unused on chain but was handed out already: never again.
    expect((await nextIndex({ persisted: 3, lookup: chainOf([]).lookup })).index).toBe(3);
  });
  it("without a counter (restored seed): discovered, then the first unused", async () => {
    expect(await nextIndex({ persisted: undefined, lookup: chainOf([0, 2]).lookup })).toEqual({ index: 3, checked: true, skipped: 0 });
    expect((await nextIndex({ persisted: undefined, lookup: chainOf([0, 8]).lookup, gapLimit: 5 })).index).toBe(1);
  });
  it("the gap limit also sizes the windows asked", async () => {
    const c = chainOf([4, 5]);
    expect((await nextIndex({ persisted: 4, lookup: c.lookup, gapLimit: 3 })).index).toBe(6);
    expect(c.asked).toEqual([[4, 5, 6]]);
  });
});

describe("AddressBook: the persisted counters", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-addrbook-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const TPUB = "tpubDC8msFGeGuwnKG9Upg7DM2b4DaRqg3CUZa5g8v2SRQ6K4NSkxUgd7HsL2XVWbVm39yBA4LAxysQAm397zwQSQoQgewGiYZqrA9DsP4zbQ1M";
  const account = Bip84Account.fromWatchOnly(TPUB, "testnet", "--btc-xpub");

  it("hands out each address once, per chain, and persists the counters 0600", async () => {
    const book = AddressBook.forAccount(path.join(dir, "a"), account);
    expect(book.read()).toBeUndefined();
    const a = await book.reserve(RECEIVE);
    const b = await book.reserve(RECEIVE);
    const c = await book.reserve(CHANGE);
    expect([a.index, b.index, c.index]).toEqual([0, 1, 0]);
    expect(a.address).toBe("tb1q6rz28mcfaxtmd6v789l9rrlrusdprr9pqcpvkl");
    expect(c.address).toBe(account.address(CHANGE, 0));
    expect(a.checked).toBe(false);
    expect(book.read()).toEqual({ receive: 2, change: 1 });
    expect(fs.statSync(book.file).mode & 0o777).toBe(0o600);
    // A second process (a new book on the same file) continues from the counters.
    const again = await AddressBook.forAccount(path.join(dir, "a"), account).reserve(RECEIVE);
    expect(again.index).toBe(2);
  });
  it("with a chain: skips addresses that already have history", async () => {
    const book = AddressBook.forAccount(path.join(dir, "b"), account);
    const used = new Set([account.scriptHex(RECEIVE, 0), account.scriptHex(RECEIVE, 1), account.scriptHex(RECEIVE, 3)]);
    const lookup = async (scripts: string[]) => scripts.map((s) => used.has(s));
    const first = await book.reserve(RECEIVE, lookup);
    expect(first).toMatchObject({ index: 4, checked: true, skipped: 0 });
    expect((await book.reserve(RECEIVE, lookup)).index).toBe(5);
    expect(book.read()).toEqual({ receive: 6, change: 0 });
  });
  it("refuses a file of another account, a damaged file, and a foreign one", async () => {
    const other = Bip84Account.fromWatchOnly("vpub5Y6cjg78GGuNLsaPhmYsiw4gYX3HoQiRBiSwDaBXKUafCt9bNwWQiitDk5VZ5BVxYnQdwoTyXSs2JHRPAgjAvtbBrf8ZhDYe2jWAqvZVnsc", "regtest", "x");
    const book = new AddressBook(path.join(dir, "c.json"), account);
    await book.reserve();
    expect(() => new AddressBook(book.file, other).read()).toThrow(/belongs to another account or network/);
    fs.writeFileSync(book.file, "{");
    expect(() => book.read()).toThrow(/is not valid JSON/);
    fs.writeFileSync(book.file, JSON.stringify({ format: "keepctl-btc-addresses", version: 1, network: "testnet", account: account.xpub, next: { receive: -1, change: 0 } }));
    expect(() => book.read()).toThrow(/is not a keepctl address index/);
  });
  it("a stale lock (its process gone) is taken over; a live one makes the caller wait, then fail", async () => {
    const book = new AddressBook(path.join(dir, "d.json"), account);
    fs.writeFileSync(`${book.file}.lock`, "999999999");
    expect((await book.reserve()).index).toBe(0);
    expect(fs.existsSync(`${book.file}.lock`)).toBe(false);
    fs.writeFileSync(`${book.file}.lock`, String(process.pid));
    await expect(book.reserve()).rejects.toThrow(/is locked by another keepctl process/);
    expect(book.read()).toEqual({ receive: 1, change: 0 });
    fs.rmSync(`${book.file}.lock`);
  }, 20_000);
  it("concurrent reservations never share an index", async () => {
    const book = new AddressBook(path.join(dir, "e.json"), account);
    const got = await Promise.all(Array.from({ length: 6 }, () => book.reserve()));
    expect(new Set(got.map((g) => g.index)).size).toBe(6);
    expect(book.read()?.receive).toBe(6);
  });
});
