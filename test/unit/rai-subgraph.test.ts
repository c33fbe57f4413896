import { afterAll, beforeAll, describe, expect, it } from "vitest";
import net from "node:net";
import { SubgraphServer } from "../../src/devnet/subgraph-server";
import { RAY, SubgraphClient, SubgraphError, annualize, computeTwap } from "../../src/lib/rai";

// A real HTTP server on 127.0.0.1 serving preloaded rates (no chain needed).
const rates = [
  { perSecondRate: 999999999848547411861463422n, timestamp: 1000, block: 10 },
  { perSecondRate: RAY, timestamp: 2000, block: 20 },
  // three rates sharing one createdAt, to straddle a page edge
  { perSecondRate: RAY + 10n ** 18n, timestamp: 3000, block: 30 },
  { perSecondRate: RAY + 2n * 10n ** 18n, timestamp: 3000, block: 31 },
  { perSecondRate: RAY - 10n ** 18n, timestamp: 3000, block: 32 },
  { perSecondRate: RAY + 5n * 10n ** 17n, timestamp: 4000, block: 40 },
];
let server: SubgraphServer;
let url: string;

beforeAll(async () => {
  server = new SubgraphServer({});
  server.preload(rates);
  url = await server.start();
});
afterAll(async () => server?.stop());

describe("SubgraphClient against the local subgraph server", () => {
  it("fetches the rate in force at the start plus every later one, each once, across tied page edges", async () => {
    for (const pageSize of [1, 2, 3, 1000]) {
      const obs = await new SubgraphClient({ url, pageSize }).fetchWindow({ start: 1500, end: 3500 });
      expect(obs.map((o) => o.block).sort((a, b) => a - b)).toEqual([10, 20, 30, 31, 32]);
    }
  });

  it("recomputes the price from perSecondRate, never the float annualizedRate", async () => {
    const obs = await new SubgraphClient({ url }).fetchWindow({ start: 0, end: 1500 });
    expect(obs).toHaveLength(1);
    expect(obs[0].perSecondRate).toBe(999999999848547411861463422n);
    expect(obs[0].price).toBe(995235179127827689n);
    const raw = await fetch(url, { method: "POST", body: JSON.stringify({ query: "{ redemptionRates(first: 1) { perSecondRate annualizedRate } }" }) }).then((r) => r.json());
    // the float field is close but not exact: 18-decimal digits beyond float64 precision
    expect(Math.abs(Number(raw.data.redemptionRates[0].annualizedRate) - 0.995235179127827689)).toBeLessThan(1e-8);
    expect(raw.data.redemptionRates[0].perSecondRate).toBe("0.999999999848547411861463422");
  });

  it("TWAP over subgraph data matches TWAP over the source rates", async () => {
    const obs = await new SubgraphClient({ url, pageSize: 2 }).fetchWindow({ start: 500, end: 5000 });
    const direct = computeTwap(rates.map((r) => ({ timestamp: r.timestamp, block: r.block, price: annualize(r.perSecondRate) })), 500, 5000);
    expect(computeTwap(obs, 500, 5000)).toBe(direct);
  });

  it("turns 503 and silence into SubgraphError with a clear message", async () => {
    server.goDown("503");
    await expect(new SubgraphClient({ url }).fetchWindow({ start: 0, end: 10 })).rejects.toThrow(/subgraph answered HTTP 503/);
    server.goDown("hang");
    const err = await new SubgraphClient({ url, timeoutMs: 200 }).fetchWindow({ start: 0, end: 10 }).catch((e) => e);
    expect(err).toBeInstanceOf(SubgraphError);
    expect(err.message).toBe("subgraph did not answer within 200 ms");
    server.goUp();
    await expect(new SubgraphClient({ url }).fetchWindow({ start: 0, end: 10 })).resolves.toEqual([]);
  });

  it("an unreachable subgraph says which setting to check", async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const err = await new SubgraphClient({ url: `http://127.0.0.1:${port}/graphql` }).fetchWindow({ start: 0, end: 10 }).catch((e) => e);
    expect(err).toBeInstanceOf(SubgraphError);
    expect(err.message).toMatch(/^subgraph request failed: /);
    expect(err.hint).toBe("check --subgraph-url / KEEPCTL_SUBGRAPH_URL, or use --source auto");
  });

  it("reports GraphQL errors", async () => {
    const bad = await fetch(url, { method: "POST", body: JSON.stringify({ query: "{ redemptionRates(first: 5000) { id } }" }) }).then((r) => r.json());
    expect(bad.errors[0].message).toMatch(/first/);
  });
});

describe("the server's GraphQL (graphql-js)", () => {
  const post = (body: unknown) =>
    fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }).then((r) => r.json());

  it("reads variables, nested filter objects, enums and aliases", async () => {
    const r = await post({
      query: `query Q($a: BigInt!) { r: redemptionRates(first: 2, orderBy: createdAt, orderDirection: desc, where: { createdAt_lte: $a }) { id createdAt } }`,
      variables: { a: "2500" },
    });
    expect(r.errors).toBeUndefined();
    expect(r.data.r.map((x: { createdAt: string }) => x.createdAt)).toEqual(["2000", "1000"]);
    expect(Object.keys(r.data.r[0]).sort()).toEqual(["createdAt", "id"]);
    const undef = await post({ query: "{ redemptionRates(first: $nope) { id } }" });
    expect(undef.errors[0].message).toMatch(/Variable "\$nope" is not defined/);
  });

  // The three below are what the hand-written parser got wrong.
  it("expands a fragment spread into its fields", async () => {
    const r = await post({
      query: "{ redemptionRates(first: 1, orderBy: createdAtBlock) { ...F createdAtBlock } } fragment F on RedemptionRate { id perSecondRate }",
    });
    expect(r.errors).toBeUndefined();
    expect(r.data.redemptionRates).toEqual([{ id: expect.any(String), perSecondRate: "0.999999999848547411861463422", createdAtBlock: "10" }]);
  });

  it("uses a variable's default when the variable is not sent", async () => {
    const q = "query Q($n: Int = 3, $after: BigInt = 1500) { redemptionRates(first: $n, orderBy: createdAtBlock, where: { createdAt_gt: $after }) { createdAtBlock } }";
    const dflt = await post({ query: q });
    expect(dflt.errors).toBeUndefined();
    expect(dflt.data.redemptionRates.map((x: { createdAtBlock: string }) => x.createdAtBlock)).toEqual(["20", "30", "31"]);
    const given = await post({ query: q, variables: { n: 1, after: "3500" } });
    expect(given.data.redemptionRates).toEqual([{ createdAtBlock: "40" }]);
  });

  it("runs the operation named by operationName, and asks for one when there are two", async () => {
    const doc = "query A { redemptionRates(first: 1) { id } } query B { redemptionRates(first: 4, orderBy: createdAtBlock, orderDirection: desc) { createdAtBlock } }";
    const b = await post({ query: doc, operationName: "B" });
    expect(b.errors).toBeUndefined();
    expect(b.data.redemptionRates.map((x: { createdAtBlock: string }) => x.createdAtBlock)).toEqual(["40", "32", "31", "30"]);
    const a = await post({ query: doc, operationName: "A" });
    expect(a.data.redemptionRates).toHaveLength(1);
    const none = await post({ query: doc });
    expect(none.errors[0].message).toMatch(/Must provide operation name/);
  });

  it("rejects unknown fields, filters and orderings by validation, and syntax errors by parsing", async () => {
    expect((await post({ query: "{ redemptionRates { nope } }" })).errors[0].message).toMatch(/Cannot query field "nope" on type "RedemptionRate"/);
    expect((await post({ query: "{ redemptionRates(where: { price_gt: 1 }) { id } }" })).errors[0].message).toMatch(/"price_gt" is not defined by type "RedemptionRate_filter"/);
    expect((await post({ query: "{ redemptionRates(orderBy: price) { id } }" })).errors[0].message).toMatch(/RedemptionRate_orderBy/);
    expect((await post({ query: "{ redemptionRates { id }" })).errors[0].message).toMatch(/^Syntax Error/);
    expect((await post({ query: "{ users { id } }" })).errors[0].message).toMatch(/Cannot query field "users" on type "Query"/);
  });
});
