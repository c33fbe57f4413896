import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { startDevnet, devnetWallet, type Devnet } from "../../src/devnet/scenario";
import { openDeposit, signRedemptionDigest } from "../../src/devnet/deposits";
import { depositContract, send, setEthBtcPrice } from "../../src/devnet/tbtc";
import { loadConfig, type Config } from "../../src/lib/config";
import { KeepctlProvider } from "../../src/lib/chain/provider";
import { AlertHub, createNotifiers } from "../../src/lib/alert";
import { AuditLog } from "../../src/lib/audit";
import { Journal } from "../../src/lib/chain/journal";
import { ActionSender } from "../../src/lib/chain/sender";
import { connectFromConfig } from "../../src/lib/tbtc/read/report";
import { JournaledSender } from "../../src/lib/tbtc/redeem/redeemer";
import { tbtcContractsOf } from "../../src/lib/tbtc/redeem/redeem-session";
import { decodeBtcAddress } from "../../src/lib/tbtc/btc-address";
import { startRecorder, startRpcSwitch, type Recorder } from "../helpers/http";
import { ExitCode } from "../../src/lib/errors";
import { LoopFailingError } from "../../src/lib/loop";
import { runWatch, watchOnce, type WatchDeps, type WatchEvent } from "../../src/lib/tbtc/watch/watch-loop";

/** The watch loop against the devnet, with a local HTTP server standing in for Slack and the webhook. */
const BTC = 100_000_000n;
const operator = devnetWallet(1).address;
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-watch-"));
let devnet: Devnet;
let provider: KeepctlProvider;
let cfg: Config;
let deposit: string;
let snapshot: string;
let hooks: Recorder | undefined;
let got: Recorder["got"] = [];
let port: number;

beforeAll(async () => {
  const file = path.join(home, "deployment.json");
  devnet = await startDevnet({ seed: false, out: file });
  deposit = (await openDeposit(devnet.deployment, { lotSats: 5n * BTC, members: [operator, devnetWallet(3).address, devnetWallet(4).address], fundWith: "vendingMachine" })).deposit;
  // Extra TBTC for the deployer to hand out.
  await openDeposit(devnet.deployment, { lotSats: 1n * BTC, members: [devnetWallet(5).address, devnetWallet(3).address, devnetWallet(4).address], fundWith: "vendingMachine" });
  cfg = loadConfig({ deployment: file, dataDir: path.join(home, "data") }, {}, { dotenv: false });
  provider = await connectFromConfig(cfg);
  hooks = await startRecorder();
  got = hooks.got;
  port = hooks.port;
  snapshot = await provider.send("evm_snapshot", []);
}, 300_000);

beforeEach(async () => {
  await provider.send("evm_revert", [snapshot]);
  snapshot = await provider.send("evm_snapshot", []);
  got.length = 0;
  fs.rmSync(path.join(home, "data"), { recursive: true, force: true });
});

afterAll(async () => {
  await hooks?.close();
  provider?.destroy();
  await devnet?.stop();
});

function deps(over: Partial<WatchDeps> & { events: WatchEvent[] }): WatchDeps {
  const hub = new AlertHub(createNotifiers({ slackWebhookUrl: `http://127.0.0.1:${port}/slack`, webhookUrl: `http://127.0.0.1:${port}/hook` }));
  return {
    cfg,
    provider,
    contracts: tbtcContractsOf(cfg),
    operators: [operator],
    hub,
    audit: AuditLog.open(cfg.dataDir),
    policy: { warnBelowPct: 140, redeemBelowPct: 130, notifyCourtesy: false, feeSats: 10_000n, minEthWei: 10n ** 17n, maxBlockAgeSec: 300 },
    emit: (e) => over.events.push(e),
    signal: new AbortController().signal,
    intervalSec: 1,
    once: true,
    ...over,
  };
}

async function redeemerSender(): Promise<JournaledSender> {
  const fresh = provider;
  const w = new ethers.Wallet(ethers.Wallet.createRandom().privateKey, fresh);
  await provider.send("hardhat_setBalance", [w.address, ethers.toQuantity(ethers.parseEther("10"))]);
  await send(devnet.deployment.contracts.tbtcToken.transfer(w.address, 5n * 10n ** 18n + 10n ** 16n));
  return new JournaledSender(new ActionSender(w, fresh, Journal.open(cfg.dataDir), { maxFeeGwei: 1000, pollMs: 50, dryRun: false }));
}

const slackTexts = () => got.filter((g) => g.path === "/slack").map((g) => JSON.parse(g.body).text as string);

describe("keepctl watch loop", () => {
  it("alerts once per condition across loops (deduped), and resolves when it clears", async () => {
    await setEthBtcPrice(devnet.deployment, 0.027); // 150% -> 135%: below the 140% warning line
    const events: WatchEvent[] = [];
    const d = deps({ events });
    await runWatch(d);
    await runWatch(d);
    const warned = slackTexts().filter((t) => /below warning threshold/.test(t));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatch(new RegExp(`${deposit} collateralization 13[45]\\.\\d\\d% is below 140%`));
    expect(got.filter((g) => g.path === "/hook").length).toBe(1);
    await setEthBtcPrice(devnet.deployment, 0.03);
    await runWatch(d);
    expect(slackTexts().at(-1)).toMatch(/^\[RESOLVED\] deposit below warning threshold/);
  });

  it("an RPC that does not answer is an alert and a failed loop, not a crash", async () => {
    const dead = new KeepctlProvider(["http://127.0.0.1:1"], 31337, { retries: 1, timeoutMs: 500, backoffMs: 10 });
    const events: WatchEvent[] = [];
    const res = await runWatch(deps({ events, provider: dead }));
    dead.destroy();
    expect(res.failures).toBe(1);
    expect(events.map((e) => e.type)).toEqual(["loop-error", "alert", "heartbeat"]);
    expect(events[2].ok).toBe(false);
    expect(slackTexts()[0]).toMatch(/^\[CRITICAL\] RPC failing/);
  });

  it("pings the heartbeat only after good loops, and exits 11 with one critical alert after N failed loops in a row", async () => {
    const rpc = await startRpcSwitch(cfg.rpcUrls[0]);
    const flaky = new KeepctlProvider([rpc.url], 31337, { retries: 2, timeoutMs: 5000, backoffMs: 5 });
    try {
      const events: WatchEvent[] = [];
      const d = deps({
        events, provider: flaky, once: false, intervalSec: 0.01, maxFailedLoops: 3, heartbeatUrl: `http://127.0.0.1:${port}/ping/check-uuid`,
        // the RPC goes down after the first (good) loop
        emit: (e) => { events.push(e); if (e.type === "heartbeat" && e.loop === 1) rpc.down = true; },
      });
      const err = await runWatch(d).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(LoopFailingError);
      expect((err as LoopFailingError).exitCode).toBe(ExitCode.LOOP_FAILING);
      expect((err as LoopFailingError).message).toBe(`watch stopped: 3 loops failed in a row; last: no RPC endpoint answered: ${rpc.url} (HTTP 503)`);
      expect(events.filter((e) => e.type === "heartbeat").map((e) => e.ok)).toEqual([true, false, false, false]);
      expect(got.filter((g) => g.path === "/ping/check-uuid")).toHaveLength(1);
      const hook = got.filter((g) => g.path === "/hook").map((g) => JSON.parse(g.body) as { key: string; level: string; title: string; text: string });
      expect(hook.filter((h) => h.key === "watch-stopping")).toEqual([expect.objectContaining({ level: "critical", title: "watch stopping", text: `3 loops failed in a row; last: no RPC endpoint answered: ${rpc.url} (HTTP 503)` })]);
      expect(events.at(-1)).toEqual({ type: "stopped", reason: "failing", loops: 4, failedInRow: 3 });
    } finally {
      flaky.destroy();
      await rpc.close();
    }
  });

  it("a good loop resets the count of failed loops", async () => {
    const rpc = await startRpcSwitch(cfg.rpcUrls[0]);
    const flaky = new KeepctlProvider([rpc.url], 31337, { retries: 1, timeoutMs: 5000, backoffMs: 5 });
    const ac = new AbortController();
    try {
      const events: WatchEvent[] = [];
      // loops 1, 2 fail, 3 is good, 4, 5 fail, then stop: never 3 in a row
      const plan = [true, true, false, true, true];
      rpc.down = plan[0];
      const d = deps({
        events, provider: flaky, once: false, intervalSec: 0.01, maxFailedLoops: 3, signal: ac.signal, heartbeatUrl: `http://127.0.0.1:${port}/ping/check-uuid`,
        emit: (e) => {
          events.push(e);
          if (e.type !== "heartbeat") return;
          const next = plan[e.loop as number];
          if (next === undefined) ac.abort();
          else rpc.down = next;
        },
      });
      const res = await runWatch(d);
      expect(res).toMatchObject({ loops: 5, failures: 4 });
      expect(events.filter((e) => e.type === "heartbeat").map((e) => e.ok)).toEqual([false, false, true, false, false]);
      expect(got.filter((g) => g.path === "/ping/check-uuid")).toHaveLength(1);
      expect(got.filter((g) => g.path === "/hook" && /watch-stopping/.test(g.body))).toHaveLength(0);
    } finally {
      flaky.destroy();
      await rpc.close();
    }
  });

  it("no new block for longer than the limit raises the stale-chain alert", async () => {
    const events: WatchEvent[] = [];
    const head = await provider.getBlockNumber();
    const summary = await watchOnce(deps({ events, now: () => 10_000 }), { loop: 1, lastHead: head, lastNewBlockAt: 10_000 - 301 });
    expect(summary.alerts.map((a) => a.key)).toContain("stale-chain");
    expect(slackTexts().some((t) => /no new block for 301 s/.test(t))).toBe(true);
  });

  it("redeems by policy, then submits the keep's signature on the next loop", async () => {
    await setEthBtcPrice(devnet.deployment, 0.024); // 120%
    const sender = await redeemerSender();
    const script = decodeBtcAddress("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "testnet").redeemerOutputScript;
    const events: WatchEvent[] = [];
    const d = deps({ events, sender, script });
    await runWatch(d);
    expect(events.filter((e) => e.type === "redemption").map((e) => e.status)).toEqual(["requested"]);
    expect(Number(await depositContract(devnet.deployment, deposit).currentState())).toBe(5);
    expect(slackTexts().some((t) => /^\[INFO\] redemption requested/.test(t))).toBe(true);

    const keep = (await depositContract(devnet.deployment, deposit).keepAddress()) as string;
    await signRedemptionDigest(devnet.deployment, keep);
    events.length = 0;
    await runWatch(d);
    expect(events.find((e) => e.type === "redemption-progress")?.action).toBe("signature-submitted");
    expect(Number(await depositContract(devnet.deployment, deposit).currentState())).toBe(6);
    const audit = fs.readFileSync(path.join(cfg.dataDir, "audit.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).action);
    expect(audit).toEqual(["redeem", "provide-redemption-signature"]);
  });
});
