import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { freePort } from "../../src/devnet/node";
import { devnetWallet, startDevnet, type Devnet } from "../../src/devnet/scenario";
import { EmpClient } from "../../src/lib/uma/emp-client";
import { buildOnce, spawnKeepctl, type Spawned } from "../helpers/cli";
import { startRpcSwitch, type RpcSwitch } from "../helpers/http";
import { samples, scrape, sumOf, valueOf, type Family } from "../helpers/prometheus";

/**
 * `--metrics-addr` end to end: the built binary runs `watch` and `emp-liquidate` against the
 * devnet, the test scrapes the real endpoint, parses it with a third-party Prometheus text-format
 * parser and checks the values against the chain; `/healthz` turns 503 when the RPC goes down.
 */
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-metrics-"));
const deploymentFile = path.join(home, "deployment.json");
const DEPOSIT_ABI = ["function collateralizationPercentage() view returns (uint256)"];
const ERC20_ABI = ["function balanceOf(address) view returns (uint256)"];
let devnet: Devnet;
let provider: ethers.JsonRpcProvider;
let rpc: RpcSwitch;
const running: Spawned[] = [];

beforeAll(async () => {
  buildOnce();
  devnet = await startDevnet({ out: deploymentFile, emp: true });
  provider = devnet.provider;
  rpc = await startRpcSwitch(devnet.rpcUrl);
}, 600_000);

afterAll(async () => {
  for (const s of running) if (s.child.exitCode === null) s.child.kill("SIGKILL");
  await rpc?.close();
  await devnet?.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

async function until<T>(what: string, s: Spawned, f: () => Promise<T | undefined>, ms = 120_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end || s.child.exitCode !== null) throw new Error(`waiting for ${what}; exit ${s.child.exitCode}\n${s.stdout()}\n${s.stderr()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const healthz = async (base: string) => (await fetch(`${base}/healthz`)).status;

async function stop(s: Spawned): Promise<void> {
  s.child.kill("SIGTERM");
  await s.done;
}

describe("watch --metrics-addr", () => {
  it("serves what the chain says, and /healthz turns 503 when passes stop succeeding", async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const operator = devnet.file.operators[0];
    const wallet = devnetWallet(0);
    const nonceBefore = await provider.getTransactionCount(wallet.address);
    const w = spawnKeepctl(
      ["--deployment", deploymentFile, "--rpc-url", rpc.url, "watch", "--json", "--interval", "1", "--operator", operator, "--no-redeem",
        "--max-failed-passes", "0", "--metrics-addr", `127.0.0.1:${port}`, "--health-intervals", "2"],
      { home, env: { KEEPCTL_PRIVATE_KEY: wallet.privateKey } },
    );
    running.push(w);
    try {
    // Two good passes: the balances read after the first one are in place by the second.
    const m = await until("two good passes", w, async () => {
      if ((await healthz(base)) !== 200) return undefined;
      const got = await scrape(base);
      return (valueOf(got, "keepctl_passes_total", { outcome: "ok" }) ?? 0) >= 2 && valueOf(got, "keepctl_balance", { asset: "TBTC" }) !== undefined ? got : undefined;
    });
    expect(w.stderr()).toContain(`serving metrics on 127.0.0.1:${port} (GET /metrics, GET /healthz)`);

    // Every live deposit of the operator, its collateralization as the Deposit contract computes it.
    const deposits = samples(m, "keepctl_deposit_collateralization_percent", { loop: "watch" });
    const live = devnet.file.deposits.filter((d) => d.members.some((x) => x.toLowerCase() === operator.toLowerCase()) && !d.keepFinished);
    expect(deposits.length).toBeGreaterThan(0);
    expect(new Set(deposits.map((d) => d.labels!.deposit.toLowerCase()))).toEqual(new Set(live.filter((d) => d.collateralPercent !== undefined).map((d) => d.deposit.toLowerCase())));
    let min = Infinity;
    for (const d of deposits) {
      const onChain = Number(await new ethers.Contract(d.labels!.deposit, DEPOSIT_ABI, provider).collateralizationPercentage());
      expect(Math.floor(Number(d.value)), d.labels!.deposit).toBe(onChain);
      expect(valueOf(m, "keepctl_deposit_healthy", { deposit: d.labels!.deposit }), d.labels!.deposit).toBe(Number(d.value) >= 130 ? 1 : 0);
      min = Math.min(min, Number(d.value));
    }
    expect(valueOf(m, "keepctl_min_collateralization_percent")).toBe(min);
    expect(valueOf(m, "keepctl_deposits")).toBe(live.length);

    // Balances of the signing account (it sends nothing: --no-redeem, no --notify-courtesy).
    const eth = await provider.getBalance(wallet.address);
    const tbtc = (await new ethers.Contract(devnet.file.contracts.TBTCToken, ERC20_ABI, provider).balanceOf(wallet.address)) as bigint;
    expect(valueOf(m, "keepctl_balance", { asset: "ETH" })).toBe(Number(ethers.formatEther(eth)));
    expect(valueOf(m, "keepctl_balance", { asset: "TBTC" })).toBe(Number(ethers.formatEther(tbtc)));
    expect(await provider.getTransactionCount(wallet.address)).toBe(nonceBefore);
    expect(sumOf(m, "keepctl_transactions_sent_total")).toBe(0);
    expect(valueOf(m, "keepctl_journal_in_flight")).toBe(0);

    // RPC per endpoint, labelled by origin: the requests the switch saw were counted.
    const endpoint = rpc.url;
    expect(valueOf(m, "keepctl_rpc_requests_total", { endpoint })).toBeGreaterThan(0);
    expect(valueOf(m, "keepctl_rpc_requests_total", { endpoint })).toBeLessThanOrEqual(rpc.methods.length);
    expect(valueOf(m, "keepctl_rpc_errors_total", { endpoint })).toBeUndefined();
    expect(m.get("keepctl_rpc_request_duration_seconds")?.type).toBe("HISTOGRAM");
    const last = valueOf(m, "keepctl_last_good_pass_timestamp_seconds")!;
    expect(Math.abs(last - Date.now() / 1000)).toBeLessThan(30);

    // The RPC goes down: passes fail, /healthz turns 503 within 2 intervals, errors are counted.
    rpc.down = true;
    await until("/healthz 503", w, async () => ((await healthz(base)) === 503 ? true : undefined), 60_000);
    const down: Map<string, Family> = await scrape(base);
    expect(valueOf(down, "keepctl_passes_total", { outcome: "failed" })).toBeGreaterThan(0);
    expect(valueOf(down, "keepctl_rpc_errors_total", { endpoint })).toBeGreaterThan(0);
    expect(valueOf(down, "keepctl_up")).toBe(0);
    rpc.down = false;
    await until("/healthz 200 again", w, async () => ((await healthz(base)) === 200 ? true : undefined), 60_000);
    } finally {
      await stop(w);
    }
    // The port is released with the process.
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  }, 300_000);

  it("refuses a non-loopback address without --metrics-allow-remote, before connecting", async () => {
    const methodsBefore = rpc.methods.length;
    const s = spawnKeepctl(["--deployment", deploymentFile, "--rpc-url", rpc.url, "watch", "--once", "--operator", devnet.file.operators[0], "--metrics-addr", "0.0.0.0:9"], { home });
    const r = await s.done;
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("not a loopback address");
    expect(r.stderr).toContain("--metrics-allow-remote");
    expect(rpc.methods.length).toBe(methodsBefore);
  });
});

describe("emp-liquidate --metrics-addr", () => {
  it("counts its transactions as the chain does, and its positions and worst ratio", async () => {
    const emp = devnet.file.emp!;
    const bot = emp.liquidator;
    const key = devnetWallet(bot.accountIndex).privateKey;
    const nonceBefore = await provider.getTransactionCount(bot.address);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const s = spawnKeepctl(["emp-liquidate", "--json", "--interval", "1", "--price", "1", "--deployment", deploymentFile, "--metrics-addr", String(port)], { home, env: { KEEPCTL_PRIVATE_KEY: key } });
    running.push(s);
    let m: Map<string, Family>;
    try {
    // A pass that liquidated, then a quiet one after it (its gauges are from after the liquidations).
    m = await until("liquidations and a pass after them", s, async () => {
      const got = await scrape(base);
      const mined = valueOf(got, "keepctl_transactions_total", { kind: "liquidate", outcome: "mined" }) ?? 0;
      const ok = valueOf(got, "keepctl_passes_total", { outcome: "ok" }) ?? 0;
      return mined > 0 && ok >= 3 && (await healthz(base)) === 200 ? got : undefined;
    });
    } finally {
      await stop(s);
    }
    expect(m.get("keepctl_passes_total")?.metrics[0].labels?.loop).toBe("emp-liquidate");
    // Every transaction the bot's account mined, by kind, against the chain.
    const nonceAfter = await provider.getTransactionCount(bot.address);
    expect(sumOf(m, "keepctl_transactions_total", { outcome: "mined" })).toBe(nonceAfter - nonceBefore);
    expect(sumOf(m, "keepctl_transactions_sent_total")).toBe(nonceAfter - nonceBefore);
    const client = new EmpClient(provider, devnet.file.contracts.ExpiringMultiParty);
    const liquidated = await client.findLiquidatedSponsors({ fromBlock: emp.deployBlock, liquidator: bot.address });
    expect(valueOf(m, "keepctl_transactions_total", { kind: "liquidate", outcome: "mined" })).toBe(liquidated.length);
    // Positions left and the worst collateral / (tokens x price) among them, price 1.
    const state = await client.readState();
    const positions = await client.readPositions(await client.findSponsors({ fromBlock: emp.deployBlock }), state.cumulativeFeeMultiplier);
    expect(valueOf(m, "keepctl_emp_positions")).toBe(positions.length);
    const ratios = positions.filter((p) => p.tokensOutstanding > 0n).map((p) => Number(ethers.formatEther(((p.collateral - p.withdrawalRequestAmount) * 10n ** 18n) / p.tokensOutstanding)));
    expect(valueOf(m, "keepctl_emp_min_collateral_ratio")).toBeCloseTo(Math.min(...ratios), 9);
    expect(valueOf(m, "keepctl_balance", { asset: "ETH" })).toBe(Number(ethers.formatEther(await provider.getBalance(bot.address))));
    expect(valueOf(m, "keepctl_journal_in_flight")).toBe(0);

    // The audit log holds one line per transaction the bot mined, its hash the chain's.
    const audit = fs.readFileSync(path.join(home, "data", "audit.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const mine = audit.filter((a) => a.bot === "liquidator");
    expect(mine.length).toBe(nonceAfter - nonceBefore);
    expect(mine.filter((a) => a.action === "liquidate" && a.status === "mined").length).toBe(liquidated.length);
    for (const a of mine) {
      const tx = await provider.getTransaction(String(a.hash));
      expect(tx?.from, String(a.hash)).toBe(bot.address);
      expect(tx?.nonce).toBe(a.nonce);
      expect(typeof a.at).toBe("string");
    }
  }, 300_000);
});
