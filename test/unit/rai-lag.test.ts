import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JsonRpcProvider, Network } from "ethers";
import { SubgraphServer } from "../../src/devnet/subgraph-server";
import { RAY, RaiFeed } from "../../src/lib/rai";
import { blockAt, startRpcDouble, type RpcDouble } from "../helpers/rpc-double";

// The lag rule: the subgraph's newest rate is trusted until one updateRateDelay has passed since
// it; past that the chain is asked for newer UpdateRedemptionRate events. Real HTTP servers on
// loopback: a subgraph with preloaded rates and a JSON-RPC node whose block n is at n*100 s.
const DELAY = 10_800;
const NEWEST = { perSecondRate: RAY + 10n ** 18n, timestamp: 4000, block: 40 };
const HEAD = 400;

let sub: SubgraphServer;
let subUrl: string;
let rpc: RpcDouble;
let provider: JsonRpcProvider;

beforeAll(async () => {
  sub = new SubgraphServer({});
  sub.preload([{ perSecondRate: RAY, timestamp: 1000, block: 10 }, NEWEST]);
  subUrl = await sub.start();
  rpc = await startRpcDouble((c) => {
    if (c.method === "eth_chainId") return { result: "0x7a69" };
    if (c.method === "eth_blockNumber") return { result: "0x" + HEAD.toString(16) };
    if (c.method === "eth_getBlockByNumber") {
      const n = Number(c.params[0]);
      return { result: blockAt(n, n * 100) };
    }
    if (c.method === "eth_getLogs") return { result: [] };
    return { error: { code: -32601, message: `method ${c.method} not expected` } };
  });
  provider = new JsonRpcProvider(rpc.url, Network.from(31337), { staticNetwork: true, batchMaxCount: 1 });
});
afterAll(async () => {
  provider?.destroy();
  await rpc?.close();
  await sub?.stop();
});

const feed = () => new RaiFeed({ provider, rateSetter: "0x" + "11".repeat(20), subgraphUrl: subUrl, source: "auto", updateRateDelay: DELAY, twapLength: 600, lookback: 0 });

describe("RAI feed lag rule (subgraph vs chain)", () => {
  it("a rate exactly one delay old is still fresh: not one request to the node", async () => {
    rpc.calls.length = 0;
    const s = await feed().update(NEWEST.timestamp + DELAY);
    expect(s.sourceUsed).toBe("subgraph");
    expect(s.warnings).toEqual([]);
    expect(rpc.calls).toEqual([]);
  });

  it("a lag below the delay issues no eth_getLogs", async () => {
    rpc.calls.length = 0;
    await feed().update(NEWEST.timestamp + 1);
    await feed().update(NEWEST.timestamp + DELAY - 1);
    expect(rpc.calls.map((c) => c.method)).toEqual([]);
  });

  it("one second past the delay asks the chain for the events after the subgraph's newest block", async () => {
    rpc.calls.length = 0;
    const s = await feed().update(NEWEST.timestamp + DELAY + 1);
    const logs = rpc.calls.filter((c) => c.method === "eth_getLogs");
    expect(logs.length).toBeGreaterThan(0);
    const filter = logs[0].params[0] as { fromBlock: string; toBlock: string };
    expect(Number(filter.fromBlock)).toBe(NEWEST.block + 1);
    // the block at or before now: block n is at n*100 s
    const last = logs[logs.length - 1].params[0] as { toBlock: string };
    expect(Number(last.toBlock)).toBe(Math.floor((NEWEST.timestamp + DELAY + 1) / 100));
    // nothing newer on chain: the subgraph's data stands
    expect(s.sourceUsed).toBe("subgraph");
  });

  it("without a node to check, a lagging subgraph is used with a warning naming the age", async () => {
    const f = new RaiFeed({ subgraphUrl: subUrl, source: "auto", updateRateDelay: DELAY, twapLength: 600, lookback: 0 });
    const s = await f.update(NEWEST.timestamp + DELAY + 1);
    expect(s.warnings).toEqual([`subgraph's newest rate is ${DELAY + 1} s old and no RPC/RateSetter is configured to check for newer ones`]);
    const fresh = await f.update(NEWEST.timestamp + DELAY);
    expect(fresh.warnings).toEqual([]);
  });
});
