import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type KeepctlProvider } from "../../src/lib/chain/provider";
import { preflightTbtc, tbtcProbes } from "../../src/lib/chain/preflight";
import { loadConfig } from "../../src/lib/config";
import { ConfigError } from "../../src/lib/errors";
import { loadTbtcRun } from "../../src/lib/tbtc/read/report";
import { type Devnet, startDevnet } from "../../src/devnet/scenario";

/**
 * The preflight against the real tBTC contracts on a local node: what it costs in HTTP round trips
 * (its calls share the scan's first batch) and that it tells the real contracts from others.
 */
let devnet: Devnet;
let home: string;
let deploymentFile: string;
const providers: KeepctlProvider[] = [];

async function fresh(): Promise<KeepctlProvider> {
  const p = await connect({ rpcUrls: [devnet.rpcUrl], chainId: 31337 });
  providers.push(p);
  p.resetStats();
  return p;
}

beforeAll(async () => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-preflight-"));
  deploymentFile = path.join(home, "deployment.json");
  devnet = await startDevnet({ out: deploymentFile });
}, 600_000);

afterAll(async () => {
  for (const p of providers) p.destroy();
  await devnet?.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

const cfgWith = (env: Record<string, string> = {}) => loadConfig({ deployment: deploymentFile, dataDir: path.join(home, "data") }, env, { dotenv: false });

describe("the tBTC preflight", () => {
  it("passes on the real deployment, probing every configured tBTC contract in one HTTP request", async () => {
    const cfg = cfgWith();
    const p = await fresh();
    const probes = tbtcProbes(cfg.contracts);
    expect(probes.map((x) => x.name).sort()).toEqual(["BondedECDSAKeepFactory", "DepositFactory", "TBTCDepositToken", "TBTCSystem", "TBTCToken", "VendingMachine"]);
    const pre = await preflightTbtc(p, { contracts: cfg.contracts, startBlock: cfg.startBlock, policy: { chainId: 31337, maxAgeSec: 0, stale: "error" } });
    expect(p.stats.httpRequests).toBe(1);
    expect(p.stats.byMethod.eth_getCode).toBe(probes.length);
    const factory = new ethers.Contract(cfg.contracts.BondedECDSAKeepFactory, ["function getKeepCount() view returns (uint256)"], devnet.provider);
    expect(pre.factoryKeepCount).toBe(await factory.getKeepCount());
    expect(pre.head.number).toBe(await devnet.provider.getBlockNumber());

    // once per provider: a second run (a watch loop) asks only for the head and the keep count
    p.resetStats();
    await preflightTbtc(p, { contracts: cfg.contracts, startBlock: cfg.startBlock, policy: { chainId: 31337, maxAgeSec: 0, stale: "error" } });
    expect(p.stats.httpRequests).toBe(1);
    expect(p.stats.byMethod).toEqual({ eth_getBlockByNumber: 1, eth_call: 1 });
  });

  it("shares the scan's first batch: a warm list-keeps run is one HTTP request after connect", async () => {
    const cfg = cfgWith();
    const op = devnet.scenario.operators[0];
    const cold = await fresh();
    const r1 = await loadTbtcRun(cfg, { operators: [op], useCache: true, provider: cold });
    expect(r1.deposits.length).toBeGreaterThan(0);
    const warm = await fresh();
    const r2 = await loadTbtcRun(cfg, { operators: [op], useCache: true, provider: warm });
    expect(warm.stats.httpRequests).toBe(1);
    expect(r2.fromBlock).toBe(devnet.deployment.deploymentBlock);
    expect(r2.factoryKeepCount).toBe(r1.factoryKeepCount);
  });

  it("ties the addresses together through DepositFactory: a VendingMachine of another deployment is caught", async () => {
    const real = cfgWith().contracts;
    // Any contract at the VendingMachine slot: DepositFactory's own vendingMachineAddress() differs.
    const contracts = { ...real, VendingMachine: real.TBTCSystem };
    const p = await fresh();
    const e = await preflightTbtc(p, { contracts, startBlock: 0, policy: { chainId: 31337, maxAgeSec: 0, stale: "error" } }).catch((x) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.code).toBe("WRONG_CONTRACT");
    expect(e.message).toBe(
      `configured addresses disagree: DepositFactory ${real.DepositFactory} names ${real.VendingMachine} as its VendingMachine (vendingMachineAddress()), but VendingMachine is configured as ${real.TBTCSystem}`,
    );
    expect(e.hint).toMatch(/^contracts\.DepositFactory and contracts\.VendingMachine must come from the same deployment/);
  });
});
