import { bruteTwap } from "../helpers/rai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers } from "ethers";
import { startHardhatNode, type LocalNode } from "../../src/devnet/node";
import { deployRai, seedRateHistory, type SeededRate } from "../../src/devnet/rai";
import { startSubgraphServer, type SubgraphServer } from "../../src/devnet/subgraph-server";
import { buildOnce, runKeepctl } from "../helpers/cli";

/** Runs the built binary (built by the vitest globalSetup; buildOnce checks it is current). */
const keepctl = (args: string[], env: Record<string, string> = {}) => runKeepctl(args, { home: tmp, env });

let tmp: string;
let node: LocalNode;
let provider: ethers.JsonRpcProvider;
let seeded: SeededRate[];
let deployment: string;
let server: SubgraphServer;

beforeAll(async () => {
  buildOnce();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-rai-e2e-"));
  node = await startHardhatNode();
  provider = new ethers.JsonRpcProvider(node.rpcUrl, undefined, { staticNetwork: true });
  const dep = await deployRai(await provider.getSigner(0));
  seeded = await seedRateHistory(dep, { count: 5, intervalSec: 10800 });
  deployment = path.join(tmp, "deployment.json");
  fs.writeFileSync(deployment, JSON.stringify({ network: "devnet", chainId: 31337, rpcUrl: node.rpcUrl, contracts: { ...dep.addresses }, deploymentBlock: dep.deploymentBlock }));
  server = await startSubgraphServer({ rpcUrl: node.rpcUrl, rateSetter: dep.addresses.RateSetter });
});

afterAll(async () => {
  await server?.stop();
  provider?.destroy();
  await node?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const expected = (at: number, window: number) => bruteTwap(seeded, at - window, at)!;

describe("keepctl rai-price", () => {
  it("--json prints one document with the price in decimal and wei, from events", async () => {
    const at = seeded[4].timestamp + 60;
    const r = await keepctl(["rai-price", "--json", "--deployment", deployment, "--at", String(at)]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    const want = expected(at, 28800);
    expect(doc.priceWei).toBe(want.toString());
    expect(doc.price).toBe(ethers.formatUnits(want, 18).padEnd(20, "0"));
    expect(doc.price).toMatch(/^\d+\.\d{18}$/);
    expect(doc.window).toMatchObject({ start: at - 28800, end: at, seconds: 28800 });
    expect(doc.source).toBe("events");
    expect(doc.warnings).toEqual([]);
    expect(doc.points[0].timestamp).toBeLessThanOrEqual(at - 28800);
    expect(doc.points.map((p: { block: number }) => p.block)).toContain(seeded[4].block);
  });

  it("--subgraph-url with an ISO --at and --window gives the same price from the subgraph", async () => {
    const at = seeded[3].timestamp + 1000;
    const isoAt = new Date(at * 1000).toISOString();
    const r = await keepctl(["rai-price", "--json", "--deployment", deployment, "--subgraph-url", server.url, "--at", isoAt, "--window", "20000"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.source).toBe("subgraph");
    expect(doc.priceWei).toBe(expected(at, 20000).toString());
  });

  it("subgraph down: falls back to events and warns on stderr", async () => {
    server.goDown("503");
    try {
      const at = seeded[4].timestamp + 60;
      const r = await keepctl(["rai-price", "--deployment", deployment, "--subgraph-url", server.url, "--at", String(at), "--points", "--plot"]);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/^warning: subgraph unavailable \(subgraph answered HTTP 503\)/m);
      expect(r.stdout).toContain(`wei     ${expected(at, 28800)}`);
      expect(r.stdout).toMatch(/^source  events$/m);
      expect(r.stdout).toMatch(/^time\ttimestamp\tblock\tper-second_rate\tannualized$/m);
      expect(r.stdout).toContain("annualized redemption rate");
    } finally {
      server.goUp();
    }
  });

  it("bad --window exits 2 with a usage message", async () => {
    const why: Record<string, string> = {
      "0": "--window must be between 1 and 31536000, got 0",
      abc: '--window must be a whole number, got "abc"',
      "-5": '--window must be a whole number, got "-5"',
    };
    for (const [w, message] of Object.entries(why)) {
      const r = await keepctl(["rai-price", "--deployment", deployment, "--window", w]);
      expect(r.code).toBe(2);
      expect(r.stderr.split("\n")[0]).toBe(`error: ${message}`);
    }
  });

  it("bad --at exits 2", async () => {
    const r = await keepctl(["rai-price", "--deployment", deployment, "--at", "yesterday"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --at: "yesterday" is not a time\nhint: give unix seconds \(1700000000\) or ISO 8601 with a zone/);
  });

  it("no rate in the window: clear error, exit 7, JSON error document", async () => {
    const at = seeded[0].timestamp - 1;
    const r = await keepctl(["rai-price", "--json", "--deployment", deployment, "--at", String(at), "--window", "600"]);
    expect(r.code).toBe(7);
    expect(JSON.parse(r.stdout).error.code).toBe("NO_PRICE");
    expect(r.stderr).toMatch(/^error: no redemption rate is known for the window/m);
  });

  it("a --rate-setter without code: exit 3, not 7", async () => {
    const empty = ethers.Wallet.createRandom().address;
    const r = await keepctl(["rai-price", "--deployment", deployment, "--rate-setter", empty]);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(`error: no contract at RateSetter address ${empty}\nhint: check --rate-setter or contracts.RateSetter for this network\n`);
  });

  it("no RateSetter configured: exit 3 naming the fix", async () => {
    const r = await keepctl(["rai-price", "--rpc-url", node.rpcUrl, "--network", "devnet"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/--rate-setter/);
  });
});
