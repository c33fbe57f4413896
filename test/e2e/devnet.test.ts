import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devnetWallet } from "../../src/devnet/scenario";
import { freePort } from "../../src/devnet/node";
import { buildOnce, runKeepctl, spawnKeepctl, type Spawned } from "../helpers/cli";

/**
 * `keepctl devnet` as a user runs it: the spawned binary deploys tBTC, RAI and the UMA EMP, and
 * the other commands work against the file it writes. Then Ctrl-C must stop everything.
 */
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-devnet-"));
const file = path.join(home, "out", "deployment.devnet.json");
let port: number;
let devnet: Spawned;
let dep: {
  rpcUrl: string;
  contracts: Record<string, string>;
  operators: string[];
  subgraphUrl: string;
  deposits: Array<{ label: string; deposit: string }>;
  rai: { rates: Array<{ timestamp: number }> };
  emp: { sponsors: Array<{ label: string; address: string; accountIndex: number }>; liquidator: { accountIndex: number; address: string } };
};

const keepctl = (args: string[], env: Record<string, string> = {}) => runKeepctl(["--deployment", file, ...args], { home, env });
const events = (stdout: string) => stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
const sponsor = (label: string) => dep.emp.sponsors.find((s) => s.label === label)!;

function listening(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(p, "127.0.0.1");
    s.once("connect", () => { s.destroy(); resolve(true); });
    s.once("error", () => resolve(false));
  });
}

beforeAll(async () => {
  buildOnce();
  port = await freePort();
  devnet = spawnKeepctl(["devnet", "--port", String(port), "--out", file], { home });
  let exited = false;
  void devnet.done.then(() => { exited = true; });
  const deadline = Date.now() + 540_000;
  while (!devnet.stderr().includes("press Ctrl-C")) {
    if (exited) throw new Error(`keepctl devnet exited early: ${devnet.stderr()}`);
    if (Date.now() > deadline) throw new Error(`keepctl devnet not ready in time: ${devnet.stderr()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  dep = JSON.parse(fs.readFileSync(file, "utf8"));
}, 600_000);

afterAll(async () => {
  if (devnet && devnet.child.exitCode === null) {
    devnet.child.kill("SIGINT");
    await devnet.done;
  }
  fs.rmSync(home, { recursive: true, force: true });
});

describe("keepctl devnet (tBTC + RAI + UMA EMP)", () => {
  it("writes the RAI, EMP and subgraph entries and prints the example commands", async () => {
    expect(dep.rpcUrl).toBe(`http://127.0.0.1:${port}`);
    for (const name of ["TBTCSystem", "RateSetter", "OracleRelayer", "ExpiringMultiParty", "EmpCollateralToken", "EmpSyntheticToken", "UmaMockOracle", "UmaFinder"]) {
      expect(dep.contracts[name], name).toMatch(/^0x[0-9a-fA-F]{40}$/);
    }
    expect(dep.subgraphUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    const ts = dep.rai.rates.map((r) => r.timestamp);
    expect(ts.length).toBeGreaterThanOrEqual(3);
    expect(ts.at(-1)! - ts[0]).toBeGreaterThanOrEqual(8 * 3600);
    // The EMP's wallets do not overlap the tBTC operators'.
    expect(dep.operators.map((o) => o.toLowerCase())).not.toContain(dep.emp.liquidator.address.toLowerCase());
    expect(devnetWallet(dep.emp.liquidator.accountIndex).address).toBe(dep.emp.liquidator.address);
    expect(devnet.stdout()).toContain(`rai-price`);
    expect(devnet.stdout()).toContain(`emp-liquidate --emp ${dep.contracts.ExpiringMultiParty} --once --dry-run`);
    // The loopback subgraph answers.
    const r = await fetch(dep.subgraphUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "{ redemptionRates(first: 10) { id } }" }) });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { data: { redemptionRates: unknown[] } }).data.redemptionRates.length).toBe(dep.rai.rates.length);
  });

  it("rai-price uses the deployment's loopback subgraph, and the RateSetter events agree to the wei", async () => {
    const a = await keepctl(["rai-price", "--json"]);
    expect(a.stderr).toBe("");
    expect(a.code).toBe(0);
    const fromSubgraph = JSON.parse(a.stdout);
    expect(fromSubgraph.source).toBe("subgraph");
    expect(fromSubgraph.price).toMatch(/^\d+\.\d{18}$/);
    expect(Math.abs(Number(fromSubgraph.price) - 1)).toBeLessThan(0.01);
    const b = await keepctl(["rai-price", "--json", "--source", "events", "--at", String(fromSubgraph.window.end)]);
    expect(b.code).toBe(0);
    const fromEvents = JSON.parse(b.stdout);
    expect(fromEvents.source).toBe("events");
    expect(fromEvents.priceWei).toBe(fromSubgraph.priceWei);
  });

  it("emp-liquidate --once --dry-run decides to liquidate exactly the under-collateralized sponsors", async () => {
    const r = await keepctl(["emp-liquidate", "--once", "--dry-run", "--json"], { KEEPCTL_PRIVATE_KEY: devnetWallet(dep.emp.liquidator.accountIndex).privateKey });
    expect(r.code).toBe(0);
    const evs = events(r.stdout);
    const liquidate = evs.filter((e) => e.type === "decision" && e.action === "liquidate").map((e) => e.sponsor);
    expect(liquidate).toEqual([sponsor("cr-1.2").address, sponsor("pending-withdrawal").address]);
    for (const healthy of ["cr-1.3", "cr-1.5", "cr-2.0"]) {
      expect(evs.find((e) => e.type === "decision" && e.sponsor === sponsor(healthy).address)).toMatchObject({ action: "skip" });
    }
    expect(evs.some((e) => e.type === "sent" || e.type === "mined")).toBe(false);
    expect(evs.filter((e) => e.type === "skipped" && e.reason === "dry-run").map((e) => e.action)).toEqual(["approve", "liquidate", "liquidate"]);
  });

  it("check exits 10 with the courtesy call still inside its 6 h window after the rate seeding", async () => {
    const r = await keepctl(["check", "--operator", dep.operators[1], "--json"]);
    expect(r.code).toBe(10);
    const doc = JSON.parse(r.stdout);
    const cc = dep.deposits.find((d) => d.label === "courtesy-call-1btc")!;
    const row = doc.deposits.find((d: { deposit: string }) => d.deposit === cc.deposit);
    expect(row).toMatchObject({ state: "COURTESY_CALL", health: "courtesy-call" });
    const deadline = typeof row.courtesyCallDeadline === "number" ? row.courtesyCallDeadline : Date.parse(row.courtesyCallDeadline) / 1000;
    // More than an hour left: the 12 h of rate history were seeded before the courtesy call.
    expect(deadline - Date.parse(doc.blockTime) / 1000).toBeGreaterThan(3600);
  });

  it("stops the node and the subgraph server on SIGINT", async () => {
    const sgPort = Number(new URL(dep.subgraphUrl).port);
    expect(await listening(port)).toBe(true);
    devnet.child.kill("SIGINT");
    const r = await devnet.done;
    expect(r.stderr).toContain("stopping the devnet");
    expect(r.code).toBe(130);
    expect(await listening(port)).toBe(false);
    expect(await listening(sgPort)).toBe(false);
  }, 30_000);
});
