import { describe, expect, it } from "vitest";
import { CLOCK_TOLERANCE_SEC, explainFuture, explainStale, medianSkew } from "../../src/lib/chain/head-clock";
import { judgeHead } from "../../src/lib/chain/preflight";
import { RpcError } from "../../src/lib/errors";

/**
 * The clock: whose fault a stale head likelier is, from this machine's clock (injected), the
 * servers' clocks and the other endpoints' heads. The refusal itself never depends on it.
 */
const NOW = 1_700_000_000;
const head = { number: 20_000_000, timestamp: NOW - 7200, hash: `0x${"ab".repeat(32)}` };

describe("explainStale", () => {
  it("the local clock 2 h ahead, the server's clock (HTTP Date) agrees with the head: the local clock, with timedatectl/NTP", () => {
    const v = explainStale({ now: NOW, head, maxAgeSec: 600, evidence: { peers: [], serverSkewSec: [-7188] } });
    expect(v.likely).toBe("local-clock");
    expect(v.reason).toBe("this machine's clock is likelier wrong: it is 7188 s ahead of the RPC server's (HTTP Date), by whose clock the head is 12 s old");
    expect(v.hint).toMatch(/timedatectl status.*NTP/);
  });

  it("another endpoint is ahead: the node is behind, named with its lead", () => {
    const v = explainStale({ now: NOW, head, maxAgeSec: 600, maxLag: 3, evidence: { peers: [{ label: "http://a", head: head.number }, { label: "https://b.example/***", head: head.number + 600 }], serverSkewSec: [0, 1] } });
    expect(v.likely).toBe("node");
    expect(v.reason).toBe("the node is stuck or not synced: https://b.example/*** is at block 20000600 (600 blocks ahead)");
    // within --max-lag it is no evidence
    expect(explainStale({ now: NOW, head, maxAgeSec: 600, maxLag: 3, evidence: { peers: [{ label: "b", head: head.number + 3 }], serverSkewSec: [0] } }).likely).toBe("node");
    expect(explainStale({ now: NOW, head, maxAgeSec: 600, maxLag: 3, evidence: { peers: [{ label: "b", head: head.number + 3 }], serverSkewSec: [0] } }).reason).toMatch(/server's clock agrees/);
  });

  it("several endpoints agree on the head: with agreeing server clocks the chain (or all) stalled; without dates, the local clock is the odd one out", () => {
    const peers = [{ label: "a", head: head.number }, { label: "b", head: head.number - 1 }];
    const all = explainStale({ now: NOW, head, maxAgeSec: 600, evidence: { peers, serverSkewSec: [2, -1] } });
    expect(all.likely).toBe("all-endpoints");
    expect(all.reason).toBe("all 2 endpoints agree on this head and their servers' clocks (HTTP Date) agree with this machine's: the chain, or every endpoint, has stalled");
    const odd = explainStale({ now: NOW, head, maxAgeSec: 600, evidence: { peers, serverSkewSec: [] } });
    expect(odd.likely).toBe("local-clock");
    expect(odd.hint).toMatch(/timedatectl/);
  });

  it("one endpoint whose server clock agrees with ours: the node; no evidence at all: both said", () => {
    expect(explainStale({ now: NOW, head, maxAgeSec: 600, evidence: { peers: [{ label: "a", head: head.number }], serverSkewSec: [CLOCK_TOLERANCE_SEC] } }).reason).toBe("the node is stuck or not synced (the RPC server's clock agrees with this machine's)");
    const none = explainStale({ now: NOW, head, maxAgeSec: 600 });
    expect(none).toMatchObject({ likely: "unknown", reason: "the node is stuck or not synced, or this machine's clock is ahead" });
  });

  it("a server clock that is off too but still calls the head stale is no excuse for the node", () => {
    // The server is 1 h behind us: by its clock the head is 3600 s old, still over the limit.
    expect(explainStale({ now: NOW, head, maxAgeSec: 600, evidence: { peers: [], serverSkewSec: [-3600] } }).likely).toBe("unknown");
  });

  it("the median of the servers' clocks decides, so one wrong server does not", () => {
    expect(medianSkew([])).toBeUndefined();
    expect(medianSkew([5])).toBe(5);
    expect(medianSkew([-7200, -7190, 3])).toBe(-7190);
    expect(medianSkew([1, 3, 10, 0])).toBe(2);
  });
});

describe("explainFuture", () => {
  it("the local clock behind the server's: the local clock; agreeing clocks: junk from the node", () => {
    const ahead = { timestamp: NOW + 7200 };
    expect(explainFuture({ now: NOW, head: ahead, toleranceSec: 900, evidence: { peers: [], serverSkewSec: [7195] } })).toMatchObject({ likely: "local-clock", reason: "this machine's clock is likelier wrong: it is 7195 s behind the RPC server's (HTTP Date)" });
    expect(explainFuture({ now: NOW, head: ahead, toleranceSec: 900, evidence: { peers: [], serverSkewSec: [0] } }).likely).toBe("node");
    expect(explainFuture({ now: NOW, head: ahead, toleranceSec: 900 }).likely).toBe("unknown");
    // The server is ahead too, but the head is still far beyond it: not the clock.
    expect(explainFuture({ now: NOW, head: { timestamp: NOW + 90_000 }, toleranceSec: 900, evidence: { peers: [], serverSkewSec: [7200] } }).likely).toBe("node");
  });
});

describe("judgeHead with an injected clock: the same refusal whatever the clock's story, the right words", () => {
  const refusal = (now: number, skew: number[]) => {
    try {
      judgeHead(head, { chainId: 1, maxAgeSec: 600, stale: "error", now, evidence: { peers: [], serverSkewSec: skew } });
    } catch (e) {
      return e as RpcError;
    }
    return undefined;
  };
  it("a fresh head passes; a stale one is STALE_HEAD, naming the local clock only when the server disagrees with it", () => {
    expect(refusal(head.timestamp + 30, [])).toBeUndefined();
    const clock = refusal(NOW, [-7190])!;
    expect(clock.code).toBe("STALE_HEAD");
    expect(clock.message).toMatch(/^the RPC node's latest block 20000000 is 7200 s old \(2023-11-14T20:13:20Z; limit 600 s\): this machine's clock is likelier wrong/);
    expect(clock.hint).toMatch(/timedatectl/);
    const node = refusal(NOW, [0])!;
    expect(node.message).toMatch(/the node is stuck or not synced \(the RPC server's clock agrees with this machine's\)$/);
    expect(node.hint).not.toMatch(/timedatectl/);
  });
});
