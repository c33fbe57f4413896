import { describe, expect, it } from "vitest";
import { accountsOfLines, linesOfAccount, unmigratedInFlight } from "../../src/lib/state/migrate";
import { inFlightOf, splitStateName } from "../../src/lib/state/status";

const A = "0xAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAa";
const B = "0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const at = "2026-12-07T00:00:00.000Z";
const attempt = (nonce: number) => ({ nonce, hash: `0x${String(nonce).padStart(64, "0")}`, rawTx: "0x02" });
const L = (o: Record<string, unknown>) => JSON.stringify({ at, ...o });

// Hand-written lines in the journal's format: two accounts interleaved, one entry of each in flight.
const lines = [
  L({ key: "d1:redeem", state: "planned", account: A }),
  L({ key: "d2:redeem", state: "planned", account: B }),
  L({ key: "d1:redeem", state: "sending", attempt: attempt(0) }),
  L({ key: "d2:redeem", state: "sending", attempt: attempt(7) }),
  L({ key: "d1:redeem", state: "sent" }),
  L({ key: "d3:redeem", state: "planned", account: A }),
  L({ key: "d3:redeem", state: "sending", attempt: attempt(1) }),
  L({ key: "d3:redeem", state: "mined", minedHash: attempt(1).hash, status: 1, blockNumber: 9 }),
  "",
];

describe("state migrate: the lines of one account", () => {
  it("names every account once, lower case, in the order first seen", () => {
    expect(accountsOfLines(lines)).toEqual([A.toLowerCase(), B]);
    expect(accountsOfLines([])).toEqual([]);
  });

  it("keeps exactly the lines of the account's entries, in order, as written (any case of the address)", () => {
    expect(linesOfAccount(lines, A.toUpperCase().replace("0X", "0x"))).toEqual([lines[0], lines[2], lines[4], lines[5], lines[6], lines[7]]);
    expect(linesOfAccount(lines, B)).toEqual([lines[1], lines[3]]);
    expect(linesOfAccount(lines, "0x" + "c".repeat(40))).toEqual([]);
  });

  it("skips a torn last line, but refuses damage elsewhere", () => {
    expect(linesOfAccount([...lines.slice(0, 2), '{"key":"d1:re'], A)).toEqual([lines[0]]);
    expect(() => linesOfAccount([lines[0], "{nope", lines[1], lines[2]], A)).toThrow(/journal line 2 is not JSON/);
  });
});

describe("state status", () => {
  it("splits a lease name at the account (the chain part has dashes)", () => {
    expect(splitStateName(`31337-0a1b2c3d4e5f-${B}`)).toEqual({ chain: "31337-0a1b2c3d4e5f", account: B });
    expect(splitStateName("nodash")).toEqual({ chain: "", account: "nodash" });
  });

  it("lists the entries still in flight with their nonces and hashes (mined and planned ones are not)", () => {
    expect(inFlightOf(lines)).toEqual([
      { key: "d1:redeem", state: "sent", nonces: [0], hashes: [attempt(0).hash] },
      { key: "d2:redeem", state: "sending", nonces: [7], hashes: [attempt(7).hash] },
    ]);
    expect(inFlightOf([])).toEqual([]);
  });
});

describe("--state-url beside a data dir journal with transactions in flight", () => {
  const e = (key: string, ...hashes: string[]) => ({ key, attempts: hashes.map((hash) => ({ hash })) });
  it("names the entries with any attempt the shared journal lacks (hashes in any case)", () => {
    const shared = new Set(["0xaa", "0xbb"]);
    expect(unmigratedInFlight([e("k1", "0xAA"), e("k2", "0xbb", "0xcc"), e("k3", "0xdd"), e("k4")], shared)).toEqual(["k2", "k3"]);
    expect(unmigratedInFlight([e("k1", "0xaa")], new Set())).toEqual(["k1"]);
    expect(unmigratedInFlight([], shared)).toEqual([]);
  });
});
