import { bruteTwap } from "../helpers/rai";
import { referenceAnnualize } from "../helpers/rai-reference";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { startHardhatNode, type LocalNode } from "../../src/devnet/node";
import { deployRai, seedRateHistory, type RaiDeployment, type SeededRate } from "../../src/devnet/rai";
import { startSubgraphServer, type SubgraphServer } from "../../src/devnet/subgraph-server";
import { RAY, annualize, rpower } from "../../src/lib/rai/math";
import { BlockClock, RaiFeed, fetchRaiPrice, LookbackError, NoPriceError } from "../../src/lib/rai";
import { connect } from "../../src/lib/chain/provider";

let node: LocalNode;
let provider: ethers.JsonRpcProvider;
let dep: RaiDeployment;
let seeded: SeededRate[];
let head: number; // chain time after seeding
let server: SubgraphServer;

beforeAll(async () => {
  node = await startHardhatNode();
  provider = new ethers.JsonRpcProvider(node.rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1 });
  dep = await deployRai(await provider.getSigner(0));
  seeded = await seedRateHistory(dep, { count: 8, intervalSec: 10800 });
  await provider.send("evm_increaseTime", [600]);
  await provider.send("evm_mine", []);
  head = (await provider.getBlock("latest"))!.timestamp;
  server = await startSubgraphServer({ rpcUrl: node.rpcUrl, rateSetter: dep.addresses.RateSetter });
});

afterAll(async () => {
  await server?.stop();
  provider?.destroy();
  await node?.stop();
});

const base = () => ({ provider, rateSetter: dep.addresses.RateSetter, chunkSize: 7 });

describe("seeded history", () => {
  it("has rates above and below 1 RAY, 3 h apart", () => {
    expect(seeded.some((r) => r.perSecondRate > RAY)).toBe(true);
    expect(seeded.some((r) => r.perSecondRate < RAY)).toBe(true);
    for (let i = 1; i < seeded.length; i++) expect(seeded[i].timestamp - seeded[i - 1].timestamp).toBeGreaterThanOrEqual(10800);
  });

  it("our annualize equals an independent 90-decimal power to the wei, for every seeded rate", async () => {
    // (OracleRelayerDouble.rpower is this project's transcription, not an oracle: the reference is
    // a different algorithm, see test/helpers/rai-reference.ts)
    for (const r of seeded) expect(annualize(r.perSecondRate)).toBe(referenceAnnualize(r.perSecondRate));
    // and the rates the feed read from chain are the seeded ones, priced the same way
    const feed = new RaiFeed({ ...base(), source: "events", twapLength: 600, lookback: 86400 });
    await feed.update(head);
    for (const o of feed.observations()) {
      const s = seeded.find((x) => x.block === o.block)!;
      expect(o.perSecondRate).toBe(s.perSecondRate);
      expect(o.price).toBe(referenceAnnualize(s.perSecondRate));
    }
  });
});

describe("events source", () => {
  it("prices the chain head from events alone, equal to the price from the seeded rates", async () => {
    const r = await fetchRaiPrice({ ...base(), windowSec: 28800 });
    expect(r.sourceUsed).toBe("events");
    expect(r.window).toEqual({ start: head - 28800, end: head });
    expect(r.price).toBe(bruteTwap(seeded, head - 28800, head));
    expect(r.warnings).toEqual([]);
  });

  it("includes the observation in force at the window start (found by searching backwards)", async () => {
    const at = seeded[4].timestamp + 5000;
    const r = await fetchRaiPrice({ ...base(), windowSec: 1000, at });
    // no change inside [at-1000, at]: only the carried-in rate
    expect(r.observations.map((o) => o.block)).toEqual([seeded[4].block]);
    expect(r.price).toBe(referenceAnnualize(seeded[4].perSecondRate));
  });

  it("prices a historical window across several changes", async () => {
    const at = seeded[5].timestamp + 123;
    const r = await fetchRaiPrice({ ...base(), windowSec: 28800, at });
    expect(r.price).toBe(bruteTwap(seeded, at - 28800, at));
    expect(r.observations[0].timestamp).toBeLessThanOrEqual(at - 28800);
  });

  it("has no price for a window before the first rate", async () => {
    const at = seeded[0].timestamp - 1;
    await expect(fetchRaiPrice({ ...base(), windowSec: 600, at })).rejects.toBeInstanceOf(NoPriceError);
  });
});

describe("subgraph source", () => {
  it("agrees with events: same observations and the same price", async () => {
    const at = seeded[6].timestamp + 77;
    const ev = await fetchRaiPrice({ ...base(), windowSec: 28800, at, source: "events" });
    const sg = await fetchRaiPrice({ subgraphUrl: server.url, windowSec: 28800, at, source: "subgraph" });
    expect(sg.sourceUsed).toBe("subgraph");
    expect(sg.price).toBe(ev.price);
    expect(sg.observations.map((o) => [o.timestamp, o.block, o.perSecondRate])).toEqual(ev.observations.map((o) => [o.timestamp, o.block, o.perSecondRate]));
  });

  it("pages with createdAt cursoring and gets every rate", async () => {
    const before = server.stats.queries;
    const feed = new RaiFeed({ subgraphUrl: server.url, source: "subgraph", twapLength: 28800, lookback: 86400, subgraphPageSize: 2 });
    await feed.update(head);
    const inRange = seeded.filter((r) => r.timestamp <= head);
    const carried = inRange.filter((r) => r.timestamp <= head - 28800 - 86400).pop();
    const expected = [...(carried ? [carried] : []), ...inRange.filter((r) => r.timestamp > head - 28800 - 86400)].map((r) => r.block);
    expect(feed.observations().map((o) => o.block)).toEqual(expected);
    // 1 in-force query + pages of 2 (a last, short page ends it), each row read once
    const n = expected.length - (carried ? 1 : 0);
    expect(n).toBeGreaterThan(4);
    expect(server.stats.queries - before).toBe(1 + Math.floor(n / 2) + 1);
    expect(feed.currentPrice()).toBe(bruteTwap(seeded, head - 28800, head));
  });

  it("auto: a lagging subgraph gets the newest event appended, with a warning", async () => {
    server.lagBlocks = 2; // the last update and the 600 s mine are not indexed yet
    try {
      const fresh = await startSubgraphServer({ rpcUrl: node.rpcUrl, rateSetter: dep.addresses.RateSetter, lagBlocks: 2 });
      try {
        const r = await fetchRaiPrice({ ...base(), subgraphUrl: fresh.url, windowSec: 28800, at: head });
        expect(r.sourceUsed).toBe("subgraph+events");
        expect(r.warnings.join("\n")).toMatch(/subgraph is behind: appended 1 newer rate/);
        const last = r.observations[r.observations.length - 1];
        expect(last.block).toBe(seeded[seeded.length - 1].block);
        expect(last.source).toBe("events");
        expect(r.price).toBe(bruteTwap(seeded, head - 28800, head));
      } finally {
        await fresh.stop();
      }
    } finally {
      server.lagBlocks = 0;
    }
  });

  it("auto: a subgraph lagging in seconds is caught up from events too", async () => {
    const slow = await startSubgraphServer({ rpcUrl: node.rpcUrl, rateSetter: dep.addresses.RateSetter, lagSeconds: 5000 });
    try {
      const r = await fetchRaiPrice({ ...base(), subgraphUrl: slow.url, windowSec: 28800, at: head });
      expect(r.sourceUsed).toBe("subgraph+events");
      expect(r.observations.filter((o) => o.source === "events").map((o) => o.block)).toEqual([seeded[seeded.length - 1].block]);
      expect(r.price).toBe(bruteTwap(seeded, head - 28800, head));
    } finally {
      await slow.stop();
    }
  });

  it("auto: an up-to-date subgraph is used alone", async () => {
    const r = await fetchRaiPrice({ ...base(), subgraphUrl: server.url, windowSec: 28800, at: head });
    expect(r.sourceUsed).toBe("subgraph");
    expect(r.warnings).toEqual([]);
  });

  it("auto: a subgraph answering 503 falls back to events with a warning", async () => {
    server.goDown("503");
    try {
      const r = await fetchRaiPrice({ ...base(), subgraphUrl: server.url, windowSec: 28800, at: head });
      expect(r.sourceUsed).toBe("events");
      expect(r.warnings[0]).toMatch(/subgraph unavailable \(subgraph answered HTTP 503\); used UpdateRedemptionRate events/);
      expect(r.price).toBe(bruteTwap(seeded, head - 28800, head));
      await expect(fetchRaiPrice({ subgraphUrl: server.url, windowSec: 28800, at: head, source: "subgraph" })).rejects.toThrow(/HTTP 503/);
    } finally {
      server.goUp();
    }
  });

  it("auto: a subgraph that stops answering times out and falls back", async () => {
    server.goDown("hang");
    try {
      const t0 = Date.now();
      const r = await fetchRaiPrice({ ...base(), subgraphUrl: server.url, subgraphTimeoutMs: 300, windowSec: 28800, at: head });
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(r.sourceUsed).toBe("events");
      expect(r.warnings[0]).toMatch(/did not answer within 300 ms/);
    } finally {
      server.goUp();
    }
  });
});

describe("devnet doubles", () => {
  it("the relayer compounds its redemption price with rpower (non-view, read by static call)", async () => {
    const snap = await provider.send("evm_snapshot", []);
    try {
      const fresh = await deployRai(await provider.getSigner(0));
      const relayer = fresh.oracleRelayer;
      const p0: bigint = await relayer.redemptionPrice.staticCall();
      expect(p0).toBe((314n * RAY) / 100n);
      const rate = RAY + 3_000_000_000_000_000n;
      await (await relayer.modifyParameters(ethers.encodeBytes32String("redemptionRate"), rate)).wait();
      expect(await relayer.redemptionRate()).toBe(rate);
      const tMod = Number(await relayer.redemptionPriceUpdateTime());
      await provider.send("evm_increaseTime", [86400]);
      await provider.send("evm_mine", []);
      const t1 = (await provider.getBlock("latest"))!.timestamp;
      const now: bigint = await relayer.redemptionPrice.staticCall({ blockTag: "latest" });
      // the old rate (1 RAY) applied up to the change, the new one after it
      expect(now).toBe((rpower(rate, BigInt(t1 - tMod)) * p0) / RAY);
      // a static call does not store anything
      expect(Number(await relayer.redemptionPriceUpdateTime())).toBe(tMod);
      expect(await fresh.rateSetter.updateRateDelay()).toBe(10800n);
      expect(Number(await dep.rateSetter.lastUpdateTime())).toBe(seeded[seeded.length - 1].timestamp);
    } finally {
      await provider.send("evm_revert", [snap]);
    }
  });

  it("the setter refuses an update before updateRateDelay has passed", async () => {
    await expect(dep.rateSetter.updateRate.staticCall(RAY, RAY)).rejects.toThrow(/wait-more/);
  });
});

describe("RaiFeed", () => {
  it("serves historical prices inside the lookback and refuses older ones", async () => {
    const feed = new RaiFeed({ ...base(), twapLength: 28800, lookback: 28800 });
    const state = await feed.update();
    expect(state.now).toBe((await provider.getBlock("latest"))!.timestamp);
    const t = state.now - 20000;
    expect(feed.historicalPrice(t)).toBe(bruteTwap(seeded, t - 28800, t));
    expect(feed.currentPrice()).toBe(bruteTwap(seeded, state.now - 28800, state.now));
    expect(() => feed.historicalPrice(state.now - 28801)).toThrow(LookbackError);
    expect(() => feed.historicalPrice(state.now + 1)).toThrow(/after the feed's last update/);
  });
});

// Last: it mines thousands of blocks on top of the seeded history.
describe("block search (issue 13: a year of blocks)", () => {
  it("blockAtOrBefore finds the right block in a few round trips, not one per halving", async () => {
    await provider.send("hardhat_mine", [ethers.toQuantity(5000), ethers.toQuantity(7)]);
    const counted = await connect({ rpcUrls: [node.rpcUrl], chainId: 31337 });
    try {
      const top = await counted.getBlockNumber();
      const topTs = (await provider.getBlock(top))!.timestamp;
      for (const back of [1, 2, 3333, 7 * 2500 + 3, 7 * 4999]) {
        const ts = topTs - back;
        const clock = new BlockClock(counted);
        const before = counted.stats.httpRequests;
        const b = await clock.blockAtOrBefore(ts, top);
        // ≤ 1 (head) + 3 probe steps of 63 blocks for 5,000 blocks; halving would take 13+.
        expect(counted.stats.httpRequests - before).toBeLessThanOrEqual(4);
        expect((await provider.getBlock(b))!.timestamp).toBeLessThanOrEqual(ts);
        expect((await provider.getBlock(b + 1))!.timestamp).toBeGreaterThan(ts);
      }
    } finally {
      counted.destroy();
    }
  });
});
