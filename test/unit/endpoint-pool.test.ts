import { describe, expect, it } from "vitest";
import { EndpointPool, type Endpoint } from "../../src/lib/chain/endpoint-pool";

/** The failover memory as a state machine on a hand-driven clock (the HTTP side is in provider.test.ts). */
function pool(urls: string[], o: { coolDownMs?: number; maxCoolDownMs?: number } = {}) {
  let t = 1_000_000;
  const warnings: string[] = [];
  const p = new EndpointPool(urls, { ...o, now: () => t, onWarning: (m) => warnings.push(m) });
  return { p, warnings, advance: (ms: number) => (t += ms), at: () => t };
}
const A = "https://a.example/v3/SECRETKEY1234567";
const B = "https://b.example";
const C = "https://c.example";
const order = (p: EndpointPool, tried: Endpoint[] = []) => {
  const seen = new Set(tried);
  const out: string[] = [];
  for (let e = p.next(seen); e; e = p.next(seen)) {
    seen.add(e);
    out.push(e.label);
  }
  return out;
};

describe("EndpointPool", () => {
  it("keeps the configured order while all are healthy", () => {
    const { p } = pool([A, B, C]);
    expect(order(p)).toEqual(["https://a.example/***", "https://b.example", "https://c.example"]);
  });

  it("sets a failing endpoint aside for a cool-down that doubles up to the cap, warning once per cool-down", () => {
    const { p, warnings, advance, at } = pool([A, B], { coolDownMs: 30_000, maxCoolDownMs: 100_000 });
    const [a] = p.endpoints;
    p.failed(a, "HTTP 503");
    expect(order(p)).toEqual(["https://b.example", "https://a.example/***"]);
    expect(a.stats).toMatchObject({ state: "cooling", coolingUntil: at() + 30_000, strikes: 1, coolDowns: 1, failures: 1, lastError: "HTTP 503" });
    // a second failure inside the cool-down (a concurrent call) neither extends it nor warns again
    p.failed(a, "HTTP 503");
    expect(a.stats).toMatchObject({ coolingUntil: at() + 30_000, coolDowns: 1, failures: 2 });
    expect(warnings).toEqual(["RPC endpoint https://a.example/*** failed (HTTP 503); other endpoints are used first for 30 s"]);
    advance(30_000);
    expect(p.needsProbe(a)).toBe(true);
    p.failed(a, "ECONNREFUSED"); // the probe failed: twice as long
    expect(a.stats.coolingUntil).toBe(at() + 60_000);
    advance(60_000);
    p.failed(a, "ECONNREFUSED");
    expect(a.stats.coolingUntil).toBe(at() + 100_000); // capped
    expect(warnings).toHaveLength(3);
    expect(warnings.join("\n")).not.toContain("SECRETKEY");
  });

  it("a probe re-admits without forgiving the backoff; a real call forgives it", () => {
    const { p, advance, at } = pool([A, B], { coolDownMs: 1000 });
    const [a] = p.endpoints;
    p.failed(a, "HTTP 503");
    advance(1000);
    p.succeeded(a, "probe");
    expect(a.stats).toMatchObject({ state: "healthy", coolingUntil: null, strikes: 1 });
    expect(order(p)[0]).toBe("https://a.example/***");
    p.failed(a, "HTTP 503");
    expect(a.stats.coolingUntil).toBe(at() + 2000);
    advance(2000);
    p.succeeded(a, "call");
    p.failed(a, "HTTP 503");
    expect(a.stats.coolingUntil).toBe(at() + 1000);
  });

  it("when every endpoint cools down, still offers them all, the one that failed longest ago first", () => {
    const { p, advance } = pool([A, B, C]);
    const [a, b, c] = p.endpoints;
    p.failed(b, "HTTP 503");
    advance(10);
    p.failed(c, "HTTP 503");
    advance(10);
    p.failed(a, "HTTP 503");
    expect(order(p)).toEqual(["https://b.example", "https://c.example", "https://a.example/***"]);
    expect(p.hasHealthyBesides(a, new Set())).toBe(false);
  });

  it("honours a Retry-After longer than the backoff, and warns only when there is something to fail over to", () => {
    const two = pool([A, B], { coolDownMs: 1000 });
    two.p.failed(two.p.endpoints[0], "HTTP 429", 5000);
    expect(two.p.endpoints[0].stats.coolingUntil).toBe(two.at() + 5000);
    const one = pool([A], { coolDownMs: 1000 });
    one.p.failed(one.p.endpoints[0], "HTTP 503");
    expect(one.p.endpoints[0].stats.state).toBe("cooling");
    expect(one.warnings).toEqual([]);
  });

  it("a lagging endpoint is set aside like a failing one, with one warning naming it, its head, its lag and who is ahead", () => {
    const { p, warnings, at } = pool([A, B], { coolDownMs: 30_000 });
    const [a, b] = p.endpoints;
    p.observeHead(a, 950);
    p.observeHead(b, 1000);
    expect(p.best).toEqual({ number: 1000, endpoint: b });
    p.lagging(a, 50);
    expect(a.stats).toMatchObject({ state: "cooling", coolingUntil: at() + 30_000, lagCoolDowns: 1, lastError: "its head is 50 blocks behind" });
    expect(a.demotedFor).toBe("lag");
    p.lagging(a, 51); // inside the cool-down: no second warning
    expect(warnings).toEqual(["RPC endpoint https://a.example/*** is lagging: its head 950 is 50 blocks behind block 1000 (at https://b.example); it is not used for 30 s"]);
    expect(warnings.join()).not.toContain("SECRETKEY");
    expect(order(p)[0]).toBe("https://b.example");
    p.succeeded(a, "probe");
    expect(a.demotedFor).toBeUndefined();
  });

  it("a flapping endpoint that itself answered the freshest head and then went back is told so, not credited to another", () => {
    const { p, warnings } = pool([A, B], { coolDownMs: 30_000 });
    const [a, b] = p.endpoints;
    p.observeHead(a, 1000);
    p.observeHead(b, 998);
    p.observeHead(a, 950); // the same endpoint, 50 blocks back
    expect(p.best).toEqual({ number: 1000, endpoint: a });
    p.lagging(a, 50);
    expect(warnings).toEqual(["RPC endpoint https://a.example/*** is lagging: its head 950 is 50 blocks behind block 1000 (its own earlier answer); it is not used for 30 s"]);
  });

  it("reads go to the freshest head first; unknown heads keep the configured order; a census starts from scratch", () => {
    const { p } = pool([A, B, C]);
    const [a, b, c] = p.endpoints;
    p.observeHead(a, 10);
    p.observeHead(c, 12);
    expect(order(p)).toEqual(["https://c.example", "https://a.example/***", "https://b.example"]);
    p.observeHead(b, 12);
    expect(order(p)).toEqual(["https://b.example", "https://c.example", "https://a.example/***"]);
    p.observeHead(a, 3); // a lower head never lowers the best
    expect(p.best?.number).toBe(12);
    p.resetBest();
    expect(p.best).toBeUndefined();
    p.observeHead(a, 3);
    expect(p.best).toEqual({ number: 3, endpoint: a });
  });

  it("a one-endpoint view of a bigger pool shares the endpoint and warns as the pool would", () => {
    const { p, warnings } = pool([A, B]);
    const one = p.single(p.endpoints[0]);
    one.failed(one.endpoints[0], "ECONNREFUSED");
    expect(p.endpoints[0].stats.state).toBe("cooling");
    expect(warnings).toHaveLength(1);
    const alone = pool([A]);
    alone.p.single(alone.p.endpoints[0]).failed(alone.p.endpoints[0], "ECONNREFUSED");
    expect(alone.warnings).toEqual([]);
  });
});
