import { ethers } from "ethers";
import { describe, expect, it } from "vitest";
import { keepFactoryInterface, KEEP_CREATED_TOPIC } from "../../src/lib/tbtc/abis";
import { decodeKeepCreated } from "../../src/lib/tbtc/read/keeps";

/**
 * decodeKeepCreated decodes members as words and checksums them through a per-process memo (a
 * mainnet scan decodes thousands of logs of the same few hundred operators): the result must be
 * what ethers' own event decoding gives, and a word that is no address must still be refused.
 */
const wallet = (i: number) => ethers.getAddress(ethers.dataSlice(ethers.id(`member-${i}`), 12));

function keepLog(keep: string, owner: string, app: string, members: string[], data?: string): ethers.Log {
  const ev = keepFactoryInterface.getEvent("BondedECDSAKeepCreated")!;
  const encoded = keepFactoryInterface.encodeEventLog(ev, [keep, members, owner, app, 3]);
  return { topics: encoded.topics, data: data ?? encoded.data, blockNumber: 7, transactionHash: "0x" + "11".repeat(32), index: 0, address: wallet(99) } as unknown as ethers.Log;
}

describe("decodeKeepCreated", () => {
  it("matches ethers' decoding, checksummed, for repeated and fresh members", () => {
    for (let k = 0; k < 20; k++) {
      const members = [wallet(k % 4), wallet((k + 1) % 4), wallet(100 + k)];
      const log = keepLog(wallet(200 + k), wallet(300 + k), wallet(400), members);
      const parsed = keepFactoryInterface.parseLog(log)!;
      const got = decodeKeepCreated(log);
      expect(got.members).toEqual([...(parsed.args.members as string[])]);
      expect(got.keep).toBe(parsed.args.keepAddress);
      expect(got.deposit).toBe(parsed.args.owner);
      expect(got.application).toBe(parsed.args.application);
      expect(got.block).toBe(7);
      // checksummed even when the log's data is lower-case hex
      expect(decodeKeepCreated({ ...log, data: log.data.toLowerCase() } as ethers.Log).members).toEqual(members);
    }
  });

  it("refuses a member word that is no address", () => {
    const log = keepLog(wallet(1), wallet(2), wallet(3), [wallet(4), wallet(5), wallet(6)]);
    // the first member's word (after offset, threshold, length) with a high bit set
    const words = ethers.dataSlice(log.data, 0);
    const bad = words.slice(0, 2 + 64 * 3) + "ff" + words.slice(2 + 64 * 3 + 2);
    expect(() => decodeKeepCreated({ ...log, data: bad } as ethers.Log)).toThrow(/not an address/);
    expect(log.topics[0]).toBe(KEEP_CREATED_TOPIC);
  });
});
