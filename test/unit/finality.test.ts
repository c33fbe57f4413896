import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIRMATIONS, finalBlock, headBehindJournal, judgeEntry, type MinedEntry } from "../../src/lib/chain/finality";

/** "Done" is a chain fact with a depth: the pure rules, with block numbers worked out by hand. */
describe("finalBlock: the highest block that counts as final", () => {
  it("N confirmations: a receipt in the head block has 1, so N deep is head - N + 1", () => {
    expect(finalBlock(100, 12)).toBe(89); // blocks 89..100 are 12 blocks
    expect(finalBlock(100, 1)).toBe(100);
    expect(finalBlock(100, 0)).toBe(101); // 0: final at once, the head included
  });

  it("auto: the finalized tag when it is below the head; a dev node that answers its head for it, or none, means 12 deep", () => {
    expect(DEFAULT_CONFIRMATIONS).toBe(12);
    expect(finalBlock(1000, "auto", 936)).toBe(936);
    expect(finalBlock(1000, "auto", 1000)).toBe(989); // Hardhat: finalized == latest
    expect(finalBlock(1000, "auto", 1001)).toBe(989);
    expect(finalBlock(1000, "auto")).toBe(989);
    expect(finalBlock(1000, "auto", 0)).toBe(0);
    // An explicit number wins over the tag.
    expect(finalBlock(1000, 3)).toBe(998);
  });
});

describe("judgeEntry: what a re-read receipt means", () => {
  const e: MinedEntry = { key: "0xD:redeem", nonce: 5, blockNumber: 95, blockHash: "0xaa" };
  const at = (blockNumber: number, blockHash = "0xaa") => ({ blockNumber, blockHash, status: 1 });

  it("still there, not deep enough: read again; deep enough: final", () => {
    expect(judgeEntry(e, at(95), { finalBlock: 94 })).toEqual({ kind: "pending-depth" });
    expect(judgeEntry(e, at(95), { finalBlock: 95 })).toEqual({ kind: "final", blockNumber: 95, blockHash: "0xaa" });
    expect(judgeEntry(e, at(95), { finalBlock: 200 })).toEqual({ kind: "final", blockNumber: 95, blockHash: "0xaa" });
  });

  it("in another block (same number, other hash; or another number): moved, or final where it is now", () => {
    expect(judgeEntry(e, at(95, "0xbb"), { finalBlock: 90 })).toEqual({ kind: "moved", blockNumber: 95, blockHash: "0xbb" });
    expect(judgeEntry(e, at(97), { finalBlock: 90 })).toEqual({ kind: "moved", blockNumber: 97, blockHash: "0xaa" });
    expect(judgeEntry(e, at(97, "0xcc"), { finalBlock: 97 })).toEqual({ kind: "final", blockNumber: 97, blockHash: "0xcc" });
    // A journal line from before block hashes were kept: the number alone decides.
    expect(judgeEntry({ ...e, blockHash: undefined }, at(95, "0xbb"), { finalBlock: 90 })).toEqual({ kind: "pending-depth" });
    expect(judgeEntry(e, { blockNumber: 95, status: 1 }, { finalBlock: 90 })).toEqual({ kind: "pending-depth" });
  });

  it("no receipt at this endpoint: ask the others before calling it gone", () => {
    expect(judgeEntry(e, null, { finalBlock: 90 })).toEqual({ kind: "ask-others" });
    expect(judgeEntry({ ...e, final: true }, null, { finalBlock: 90 })).toEqual({ kind: "ask-others" });
  });

  it("a final entry is not re-read, unless the account's mined count fell to or below its nonce (a deep reorg)", () => {
    const f = { ...e, final: true };
    expect(judgeEntry(f, undefined, { finalBlock: 90 })).toEqual({ kind: "untouched" });
    expect(judgeEntry(f, undefined, { finalBlock: 90, accountNonce: 6 })).toEqual({ kind: "untouched" });
    expect(judgeEntry(f, undefined, { finalBlock: 90, accountNonce: 5 })).toEqual({ kind: "ask-others" });
    expect(judgeEntry(f, undefined, { finalBlock: 90, accountNonce: 0 })).toEqual({ kind: "ask-others" });
    // Read again (a caller forced it) and still where it was: nothing to record.
    expect(judgeEntry(f, at(95), { finalBlock: 96 })).toEqual({ kind: "untouched" });
    expect(judgeEntry(f, at(96, "0xdd"), { finalBlock: 96 })).toEqual({ kind: "final", blockNumber: 96, blockHash: "0xdd" });
  });
});

describe("headBehindJournal: a head below our own mined block is a lagging view, not a reorg", () => {
  it("names the highest mined block when the head trails it by more than the lag limit", () => {
    expect(headBehindJournal(100, [90, 104], 3)).toBe(104);
    expect(headBehindJournal(101, [90, 104], 3)).toBeUndefined(); // 3 behind: within the limit
    expect(headBehindJournal(100, [], 3)).toBeUndefined();
    expect(headBehindJournal(0, [5], 3)).toBe(5);
    expect(headBehindJournal(0, [5], 0)).toBeUndefined(); // --max-lag 0: no lag checks
  });
});
