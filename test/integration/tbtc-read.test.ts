import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type KeepctlProvider } from "../../src/lib/chain/provider";
import { State } from "../../src/lib/tbtc/abis";
import { readDeposits } from "../../src/lib/tbtc/read/deposits";
import { cacheFile } from "../../src/lib/tbtc/read/cache";
import { judgeLive } from "../../src/lib/tbtc/read/report";
import { loadOperatorDeposits, type LoadOptions, type TbtcReport } from "../../src/lib/tbtc/read/scan";
import { openDeposit } from "../../src/devnet/deposits";
import { type Devnet, startDevnet } from "../../src/devnet/scenario";
import { currentWeiPerSat, depositContract, keepContract, setEthBtcPrice } from "../../src/devnet/tbtc";

let devnet: Devnet;
let dataDir: string;
const providers: KeepctlProvider[] = [];

async function fresh(): Promise<KeepctlProvider> {
  const p = await connect({ rpcUrls: [devnet.rpcUrl], chainId: 31337 });
  providers.push(p);
  p.resetStats();
  return p;
}

function opts(operators: string[], over: Partial<LoadOptions> = {}): LoadOptions {
  return {
    chainId: 31337,
    factory: devnet.deployment.addresses.BondedECDSAKeepFactory,
    system: devnet.deployment.addresses.TBTCSystem,
    startBlock: devnet.deployment.deploymentBlock,
    operators,
    ...over,
  };
}

const rpc = (method: string, params: unknown[] = []) => devnet.provider.send(method, params);
const seededFor = (op: string) => devnet.scenario.deposits.filter((d) => d.members.some((m) => m.toLowerCase() === op.toLowerCase()));
const sortedDeposits = (r: TbtcReport) => r.deposits.map((d) => d.deposit.toLowerCase()).sort();

beforeAll(async () => {
  devnet = await startDevnet();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-tbtc-read-"));
}, 600_000);

afterAll(async () => {
  for (const p of providers) p.destroy();
  await devnet?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("finding an operator's keeps", () => {
  it("finds exactly the seeded keeps of each operator, whatever the address case", async () => {
    const p = await fresh();
    for (const op of devnet.scenario.operators) {
      const expected = seededFor(op).map((d) => d.deposit.toLowerCase()).sort();
      expect(expected.length).toBeGreaterThan(3);
      for (const typed of [op, op.toLowerCase(), "0x" + op.slice(2).toUpperCase()]) {
        const r = await loadOperatorDeposits(p, opts([typed]));
        expect(sortedDeposits(r), typed).toEqual(expected);
        for (const d of r.deposits) expect(d.operators).toEqual([op]);
      }
    }
    // both at once: the union, each keep once
    const both = await loadOperatorDeposits(p, opts(devnet.scenario.operators));
    const union = new Set(devnet.scenario.operators.flatMap((op) => seededFor(op).map((d) => d.deposit.toLowerCase())));
    expect(sortedDeposits(both)).toEqual([...union].sort());
    // a stranger signs nothing
    const none = await loadOperatorDeposits(p, opts([ethers.Wallet.createRandom().address]));
    expect(none.deposits).toEqual([]);
  });
});

describe("reading deposits", () => {
  it("matches direct contract reads at the same block", async () => {
    const p = await fresh();
    const r = await loadOperatorDeposits(p, opts(devnet.scenario.operators));
    // deposit fields came from storage (two words each on a cold read), not from the fallback getters
    expect(p.stats.byMethod.eth_getStorageAt).toBe(2 * r.deposits.length);
    const price = await currentWeiPerSat(devnet.deployment);
    expect(r.priceWeiPerSat).toBe(price);
    const blockTag = r.block;
    // one sample cross-checked against the contract's own figure, and it agrees
    expect(r.priceCheck?.ok).toBe(true);
    expect(r.priceCheck!.contractPercent).toBe(await depositContract(devnet.deployment, r.priceCheck!.deposit, devnet.provider).collateralizationPercentage({ blockTag }));
    for (const d of r.deposits) {
      const seeded = devnet.scenario.deposits.find((s) => s.deposit === d.deposit)!;
      const dc = depositContract(devnet.deployment, d.deposit, devnet.provider);
      const kc = keepContract(devnet.deployment, d.keep, devnet.provider);
      expect(d.keep).toBe(seeded.keep);
      expect(d.members).toEqual(seeded.members);
      expect(d.state).toBe(Number(await dc.currentState({ blockTag })));
      expect(d.stateName).toBe(seeded.expectedState);
      expect(d.lotSizeSatoshis).toBe(await dc.lotSizeSatoshis({ blockTag }));
      expect(d.initialCollateralizedPercent).toBe(Number(await dc.initialCollateralizedPercent({ blockTag })));
      expect(d.undercollateralizedThresholdPercent).toBe(Number(await dc.undercollateralizedThresholdPercent({ blockTag })));
      expect(d.severelyUndercollateralizedThresholdPercent).toBe(Number(await dc.severelyUndercollateralizedThresholdPercent({ blockTag })));
      expect(d.bondWei).toBe(await kc.checkBondAmount({ blockTag }));
      expect(d.keepActive).toBe(await kc.isActive({ blockTag }));
      expect(d.keepClosed).toBe(await kc.isClosed({ blockTag }));
      expect(d.keepTerminated).toBe(await kc.isTerminated({ blockTag }));
      expect(d.finished).toBe(seeded.keepFinished);
      if (d.finished) {
        expect(d.collateralBp).toBeUndefined();
        continue;
      }
      expect(d.remainingTermSec).toBe(await dc.remainingTerm({ blockTag }));
      const contractPct = (await dc.collateralizationPercentage({ blockTag })) as bigint;
      // two decimals: the seeded bond is the lot's value at exactly this percent (rounded up by
      // under a wei), so the basis points are the scenario's percent; the integer part is the
      // deposit contract's own figure
      expect(d.collateralBp).toBe(BigInt(Math.round(seeded.collateralPercent! * 100)));
      expect(d.collateralBp! / 100n).toBe(contractPct);
      expect(Number(contractPct)).toBe(seeded.collateralPercent);
    }
  });

  it("dates the courtesy call from its event and judges the scenario", async () => {
    const p = await fresh();
    const r = await loadOperatorDeposits(p, opts(devnet.scenario.operators));
    const cc = r.deposits.find((d) => d.state === State.COURTESY_CALL)!;
    expect(cc).toBeDefined();
    const logs = await devnet.deployment.contracts.system.queryFilter(devnet.deployment.contracts.system.filters.CourtesyCalled(cc.deposit));
    expect(logs.length).toBe(1);
    const block = await devnet.provider.getBlock(logs[0].blockNumber);
    expect(cc.courtesyCalledAt).toBe(block!.timestamp);
    expect(cc.courtesyDeadline).toBe(block!.timestamp + 6 * 3600);
    for (const d of r.deposits) if (d.state !== State.COURTESY_CALL) expect(d.courtesyDeadline).toBeUndefined();

    const judged = judgeLive(r, { warnThresholdPct: 130 });
    const byLabel = new Map(judged.map((j) => [devnet.scenario.deposits.find((s) => s.deposit === j.deposit.deposit)!.label, j.health]));
    expect(byLabel.get("courtesy-call-1btc")).toBe("courtesy-call");
    expect(byLabel.get("at-risk-5btc-127pct")).toBe("warn");
    expect(byLabel.get("at-risk-1btc-128pct-vm")).toBe("warn");
    expect(byLabel.get("healthy-1btc")).toBe("ok");
    expect(byLabel.has("redeemed-1btc")).toBe(false); // finished deposits are not judged
    expect(byLabel.has("liquidated-1btc")).toBe(false);
    // 5 h 10 min later the courtesy call is within the 1 h margin
    const snap = await rpc("evm_snapshot");
    try {
      await rpc("evm_increaseTime", [5 * 3600 + 600]);
      await rpc("evm_mine");
      const later = await loadOperatorDeposits(p, opts(devnet.scenario.operators));
      const j = judgeLive(later, { warnThresholdPct: 130 }).find((x) => x.deposit.deposit === cc.deposit)!;
      expect(j.health).toBe("liquidation-risk");
      expect(j.reason).toMatch(/expires in (49|50)m/);
    } finally {
      await rpc("evm_revert", [snap]);
    }
  });
});

describe("reading something that is not a deposit", () => {
  it("falls back to the getters and reports the failure on that row only", async () => {
    const p = await fresh();
    const good = devnet.scenario.deposits[0];
    const bogus = { deposit: devnet.deployment.addresses.TBTCToken, keep: good.keep };
    const reads = await readDeposits(p, [{ deposit: good.deposit, keep: good.keep }, bogus], {
      block: "latest",
      needFixed: new Set([good.deposit.toLowerCase(), bogus.deposit.toLowerCase()]),
    });
    expect(reads.get(good.deposit.toLowerCase())!.live!.state).toBe(State.ACTIVE);
    expect(reads.get(bogus.deposit.toLowerCase())!.error).toMatch(/currentState\(\) failed|undecodable/);
  });
});

describe("the cache", () => {
  it("makes a warm run ask only about new blocks and live deposits", async () => {
    const snap = await rpc("evm_snapshot");
    try {
      const op = devnet.scenario.operators[0];
      const mine = seededFor(op);
      const finished = mine.filter((d) => d.keepFinished).length;
      expect(finished).toBeGreaterThan(0);

      const cold = await fresh();
      const r1 = await loadOperatorDeposits(cold, opts([op], { dataDir }));
      expect(r1.deposits.length).toBe(mine.length);
      expect(r1.scannedBlocks).toBe(r1.block - devnet.deployment.deploymentBlock + 1);
      expect(cold.stats.byMethod.eth_getLogs).toBeGreaterThanOrEqual(1);
      expect(fs.readdirSync(path.join(dataDir, "cache")).filter((f) => f.endsWith(".tmp"))).toEqual([]);

      // nothing changed: one HTTP request (head + cursor check), no logs, no calls
      const warm = await fresh();
      const r2 = await loadOperatorDeposits(warm, opts([op], { dataDir }));
      expect(warm.stats.httpRequests).toBe(1);
      expect(warm.stats.byMethod.eth_getLogs).toBeUndefined();
      expect(warm.stats.byMethod.eth_call).toBeUndefined();
      expect(r2.readDeposits).toBe(0);
      expect(sortedDeposits(r2)).toEqual(sortedDeposits(r1));
      expect(r2.deposits.map((d) => d.collateralBp)).toEqual(r1.deposits.map((d) => d.collateralBp));

      // a new deposit and a price move: only the new blocks are scanned, only live deposits read
      const added = await openDeposit(devnet.deployment, { lotSats: 10n ** 8n, members: mine[0].members });
      await setEthBtcPrice(devnet.deployment, 0.025);
      const next = await fresh();
      const r3 = await loadOperatorDeposits(next, opts([op], { dataDir }));
      expect(r3.scannedBlocks).toBe(r3.block - r2.block);
      expect(r3.readDeposits).toBe(mine.length + 1 - finished);
      expect(sortedDeposits(r3)).toContain(added.deposit.toLowerCase());
      const healthy = r3.deposits.find((d) => d.deposit === mine.find((m) => m.label === "healthy-1btc")!.deposit)!;
      const newPrice = await currentWeiPerSat(devnet.deployment);
      expect(r3.priceWeiPerSat).toBe(newPrice);
      // the deposit contract's own figure after the price move, at the same block
      const healthyPct = (await depositContract(devnet.deployment, healthy.deposit, devnet.provider).collateralizationPercentage({ blockTag: r3.block })) as bigint;
      expect(healthy.collateralBp! / 100n).toBe(healthyPct);
      // 150 % at 0.03 ETH/BTC is 125 % at 0.025 (less a rounding hair)
      expect(Number(healthy.collateralBp)).toBeGreaterThan(12490);
      expect(Number(healthy.collateralBp)).toBeLessThanOrEqual(12500);

      // the --no-cache path reads everything again and agrees
      const nocache = await fresh();
      const r4 = await loadOperatorDeposits(nocache, opts([op]));
      expect(r4.readDeposits).toBe(mine.length + 1);
      expect(r4.deposits.map((d) => [d.deposit, d.state, d.collateralBp])).toEqual(r3.deposits.map((d) => [d.deposit, d.state, d.collateralBp]));
    } finally {
      await rpc("evm_revert", [snap]);
    }
  });

  it("drops the cache when the cached block was replaced (reorg or a new devnet)", async () => {
    const op = devnet.scenario.operators[1];
    // Cache a head that a revert then removes: the cached last block is above the new head.
    const snap = await rpc("evm_snapshot");
    for (let i = 0; i < 3; i++) await rpc("evm_mine");
    await loadOperatorDeposits(await fresh(), opts([op], { dataDir }));
    await rpc("evm_revert", [snap]);
    const file = cacheFile(dataDir, { chainId: 31337, factory: devnet.deployment.addresses.BondedECDSAKeepFactory });
    const cached = JSON.parse(fs.readFileSync(file, "utf8")) as { lastBlock: number };
    expect(cached.lastBlock).toBeGreaterThan(await devnet.provider.getBlockNumber());

    const p = await fresh();
    const r = await loadOperatorDeposits(p, opts([op], { dataDir }));
    expect(r.scannedBlocks).toBe(r.block - devnet.deployment.deploymentBlock + 1);
    expect(sortedDeposits(r)).toEqual(seededFor(op).map((d) => d.deposit.toLowerCase()).sort());
  });
});
