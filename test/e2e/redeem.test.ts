import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { devnetWallet, type Devnet } from "../../src/devnet/scenario";
import { depositContract, setEthBtcPrice } from "../../src/devnet/tbtc";
import { startRedeemDevnet } from "../helpers/redeem-devnet";
import { buildOnce, spawnKeepctl } from "../helpers/cli";
import { startRecorder } from "../helpers/http";

/** `keepctl redeem` and `keepctl watch` end to end: the built binary against the devnet. */
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-redeem-"));
const BTC = 100_000_000n;
const PAYOUT = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx";
const RR_TOPIC = ethers.id("RedemptionRequested(address,address,bytes32,uint256,bytes,uint256,bytes)");

let devnet: Devnet;
let provider: ethers.JsonRpcProvider;
let deploymentFile: string;
let snapshot: string;
let dataDir: string;
const operator = devnetWallet(1).address;
const deposits: string[] = [];
let redeemer: ethers.Wallet;

const spawnHere = (args: string[], env: Record<string, string> = {}) => spawnKeepctl(["--deployment", deploymentFile, ...args], { home, dataDir, env });
const start = (args: string[], env: Record<string, string> = {}) => spawnHere(args, env).child;
const keepctl = (args: string[], env: Record<string, string> = {}) => spawnHere(args, env).done;

const keyEnv = () => ({ KEEPCTL_PRIVATE_KEY: redeemer.privateKey, KEEPCTL_BTC_ADDRESS: PAYOUT });
const stateOf = async (d: string) => Number(await depositContract(devnet.deployment, d, provider).currentState());
const requestsFor = async (d: string) => (await provider.getLogs({ topics: [RR_TOPIC, ethers.zeroPadValue(d, 32)], fromBlock: 0, toBlock: "latest" })).length;

beforeAll(async () => {
  buildOnce();
  // 2 deposits of the operator's, and TBTC for both redemptions plus the signer fees.
  const net = await startRedeemDevnet(home, { lotSats: 5n * BTC, tbtcWei: 10n * 10n ** 18n + 10n ** 16n });
  ({ devnet, provider, deploymentFile, redeemer } = net);
  deposits.push(...net.deposits);
  snapshot = await provider.send("evm_snapshot", []);
}, 300_000);

beforeEach(async () => {
  await provider.send("evm_revert", [snapshot]);
  snapshot = await provider.send("evm_snapshot", []);
  dataDir = fs.mkdtempSync(path.join(home, "data-"));
});

afterAll(async () => {
  provider?.destroy();
  await devnet?.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

describe("keepctl redeem", () => {
  it("refuses without --yes when piped: exit 2, nothing sent", async () => {
    await setEthBtcPrice(devnet.deployment, 0.024);
    const nonce = await provider.getTransactionCount(redeemer.address);
    const r = await keepctl(["redeem", "--operator", operator], keyEnv());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: keepctl redeem sends transactions and needs --yes when not run on a terminal\nhint: add --yes, or --dry-run/);
    expect(await provider.getTransactionCount(redeemer.address)).toBe(nonce);
  });

  it("--dry-run shows the plan and sends nothing (nonce unchanged)", async () => {
    await setEthBtcPrice(devnet.deployment, 0.024);
    const nonce = await provider.getTransactionCount(redeemer.address);
    const r = await keepctl(["redeem", "--operator", operator, "--dry-run", "--json"], keyEnv());
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.dryRun).toBe(true);
    expect(doc.plan.map((p: { deposit: string }) => p.deposit).sort()).toEqual([...deposits].sort());
    expect(doc.plan.every((p: { path: string; worstCaseGasWei: string }) => p.path === "vending-machine" && BigInt(p.worstCaseGasWei) > 0n)).toBe(true);
    expect(await provider.getTransactionCount(redeemer.address)).toBe(nonce);
    for (const d of deposits) expect(await requestsFor(d)).toBe(0);
  });

  it("nothing at risk at 150%: exit 0, nothing to redeem", async () => {
    const r = await keepctl(["redeem", "--operator", operator, "--yes"], keyEnv());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/nothing to redeem/);
    expect(r.stderr).toMatch(/is not below 130%/);
  });

  it("rejects a mainnet BTC address on the devnet with a one-line error", async () => {
    const r = await keepctl(["redeem", "--operator", operator, "--yes", "--btc-address", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"], { KEEPCTL_PRIVATE_KEY: redeemer.privateKey });
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toBe('error: BTC address "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa" is a Bitcoin mainnet address but this chain redeems to Bitcoin testnet/regtest');
  });

  it("redeems the operator's at-risk deposits with a keystore and a password file", async () => {
    await setEthBtcPrice(devnet.deployment, 0.024);
    const keystore = path.join(home, "key.json");
    fs.writeFileSync(keystore, await ethers.encryptKeystoreJson({ address: redeemer.address, privateKey: redeemer.privateKey }, "pw-for-test", { scrypt: { N: 1024 } }));
    fs.writeFileSync(path.join(home, "pw"), "pw-for-test\n");
    fs.chmodSync(keystore, 0o600);
    fs.chmodSync(path.join(home, "pw"), 0o644);
    // Another account's raw key in the environment: the named keystore signs, and stderr says so.
    const other = ethers.Wallet.createRandom();
    const r = await keepctl(["redeem", "--operator", operator, "--yes", "--json", "--keystore", keystore, "--password-file", path.join(home, "pw"), "--btc-address", PAYOUT], { KEEPCTL_PRIVATE_KEY: other.privateKey });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.account).toBe(redeemer.address);
    expect(await provider.getTransactionCount(other.address)).toBe(0);
    expect(r.stderr).toContain("warning: KEEPCTL_PRIVATE_KEY ignored: --keystore names the signing key\n");
    expect(r.stderr).toContain(`warning: password file ${path.join(home, "pw")} is open to group/others (mode 0644); run chmod 600 on it\n`);
    expect(r.stdout + r.stderr).not.toContain(other.privateKey.slice(2));
    expect(doc.results.map((x: { status: string }) => x.status)).toEqual(["requested", "requested"]);
    for (const d of deposits) {
      expect(await stateOf(d)).toBe(5); // AWAITING_WITHDRAWAL_SIGNATURE
      expect(await requestsFor(d)).toBe(1);
    }
    expect(r.stdout + r.stderr).not.toContain("pw-for-test");
    const audit = fs.readFileSync(path.join(dataDir, "audit.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(audit.map((a) => [a.action, a.status])).toEqual([["redeem", "requested"], ["redeem", "requested"]]);
  });

  it("--strict-perms: a password file others can read is exit 3, before anything is sent", async () => {
    await setEthBtcPrice(devnet.deployment, 0.024);
    const keystore = path.join(home, "key-strict.json");
    fs.writeFileSync(keystore, await ethers.encryptKeystoreJson({ address: redeemer.address, privateKey: redeemer.privateKey }, "pw-strict", { scrypt: { N: 1024 } }), { mode: 0o600 });
    const pw = path.join(home, "pw-strict");
    fs.writeFileSync(pw, "pw-strict\n");
    fs.chmodSync(pw, 0o640);
    const nonce = await provider.getTransactionCount(redeemer.address);
    const r = await keepctl(["redeem", "--operator", operator, "--yes", "--keystore", keystore, "--password-file", pw, "--btc-address", PAYOUT, "--strict-perms"]);
    expect(r.code).toBe(3);
    expect(r.stderr.split("\n")[0]).toBe(`error: password file ${pw} is open to group/others (mode 0640); run chmod 600 on it`);
    expect(await provider.getTransactionCount(redeemer.address)).toBe(nonce);
    for (const d of deposits) expect(await requestsFor(d)).toBe(0);
  });

  it("--json with too little TBTC prints one document holding the plan and the error, exit 6", async () => {
    await setEthBtcPrice(devnet.deployment, 0.024);
    const poor = ethers.Wallet.createRandom();
    await provider.send("hardhat_setBalance", [poor.address, ethers.toQuantity(ethers.parseEther("1"))]);
    const r = await keepctl(["redeem", "--operator", operator, "--dry-run", "--json"], { KEEPCTL_PRIVATE_KEY: poor.privateKey, KEEPCTL_BTC_ADDRESS: PAYOUT });
    expect(r.code, r.stderr).toBe(6);
    const lines = r.stdout.trim().split("\n");
    const doc = JSON.parse(r.stdout); // throws if stdout held two documents
    expect(doc.account).toBe(poor.address);
    expect(doc.unfunded.length).toBe(2);
    expect(doc.error.code).toBe("INSUFFICIENT_FUNDS");
    expect(doc.error.message).toMatch(/^not enough TBTC: 2 deposit\(s\) need /);
    expect(lines.filter((l) => l.startsWith("{")).length).toBe(1);
    expect(r.stderr).toMatch(/^error: not enough TBTC/m);
  });

  it("a one-shot run short of TBTC alerts the configured channels like the watch loop, exit 6, nothing sent", async () => {
    const hooks = await startRecorder();
    try {
      await setEthBtcPrice(devnet.deployment, 0.024);
      const poor = ethers.Wallet.createRandom();
      await provider.send("hardhat_setBalance", [poor.address, ethers.toQuantity(ethers.parseEther("1"))]);
      const r = await keepctl(["redeem", "--operator", operator, "--yes"], { KEEPCTL_PRIVATE_KEY: poor.privateKey, KEEPCTL_BTC_ADDRESS: PAYOUT, KEEPCTL_WEBHOOK_URL: `http://127.0.0.1:${hooks.port}/hook` });
      expect(r.code, r.stderr).toBe(6);
      expect(r.stderr).toMatch(/^error: not enough TBTC: 2 deposit\(s\) need /m);
      const alerts = hooks.got.filter((g) => g.path === "/hook").map((g) => JSON.parse(g.body));
      expect(alerts.map((a) => a.key)).toEqual(["tbtc-short"]);
      expect(JSON.stringify(alerts[0])).toMatch(/2 at-risk deposit\(s\) cannot be redeemed: \d+\.\d{4} TBTC short/);
      expect(await provider.getTransactionCount(poor.address)).toBe(0);
    } finally {
      await hooks.close();
    }
  });

  it("kill -9 mid-redemption, restart: exactly one redemption request per deposit", async () => {
    await setEthBtcPrice(devnet.deployment, 0.024);
    const journal = path.join(dataDir, "journal.jsonl");
    const lines = () => (fs.existsSync(journal) ? fs.readFileSync(journal, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)) : []);
    const waitFor = async (pred: () => boolean, what: string) => {
      const deadline = Date.now() + 60_000;
      while (!pred()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(lines())}`);
        await new Promise((res) => setTimeout(res, 50));
      }
    };
    const start0 = await provider.getTransactionCount(redeemer.address);
    await provider.send("evm_setAutomine", [false]);
    let child: ChildProcess | undefined;
    let first = "";
    try {
      child = start(["redeem", "--operator", operator, "--yes"], keyEnv());
      await waitFor(() => lines().some((l) => l.key.endsWith(":approve") && l.state === "sent"), "the approval");
      await provider.send("evm_mine", []);
      await waitFor(() => deposits.every((d) => lines().some((l) => l.key === `${d}:redeem` && l.state === "sent")), "both requests");
      child.kill("SIGKILL");
      await new Promise((res) => child!.once("exit", res));
      // The node loses one of them (as after a node restart): the journal must rebroadcast, not re-sign.
      first = lines().find((l) => l.key === `${deposits[0]}:redeem` && l.attempt)!.attempt.hash;
      await provider.send("hardhat_dropTransaction", [first]);
    } finally {
      await provider.send("evm_setAutomine", [true]);
    }
    const r = await keepctl(["redeem", "--operator", operator, "--yes"], keyEnv());
    expect(r.code, r.stderr + r.stdout).toBe(0);
    // Settled from the chain: the node had lost it, so the SAME signed bytes went out again.
    expect(r.stderr).toMatch(new RegExp(`rebroadcast ${deposits[0]}:redeem \\(nonce \\d+\\) ${first}`));
    expect(r.stderr).toMatch(new RegExp(`journal: ${deposits[0]}:redeem was in flight; on chain it is mined`));
    // The very transaction signed before the crash was mined (rebroadcast, not re-signed).
    const log = (await provider.getLogs({ topics: [RR_TOPIC, ethers.zeroPadValue(deposits[0], 32)], fromBlock: 0, toBlock: "latest" }))[0];
    expect(log.transactionHash).toBe(first);
    for (const d of deposits) {
      expect(await requestsFor(d)).toBe(1);
      expect(await stateOf(d)).toBe(5);
    }
    // approve + two requests, nothing more.
    expect(await provider.getTransactionCount(redeemer.address)).toBe(start0 + 3);
  });
});

describe("keepctl watch", () => {
  it("--once after the price drops redeems, and Slack and the webhook hear about it", async () => {
    const hooks = await startRecorder();
    const { got, port } = hooks;
    try {
      await setEthBtcPrice(devnet.deployment, 0.024);
      const r = await keepctl(["watch", "--once", "--json", "--operator", operator, "--notify-courtesy"], {
        ...keyEnv(),
        KEEPCTL_SLACK_WEBHOOK_URL: `http://127.0.0.1:${port}/slack/T000/SECRET`,
        KEEPCTL_WEBHOOK_URL: `http://127.0.0.1:${port}/hook`,
        KEEPCTL_HEARTBEAT_URL: `http://127.0.0.1:${port}/beat`,
      });
      expect(r.code, r.stderr).toBe(0);
      const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
      const types = events.map((e) => e.type);
      // courtesy calls first (cheaper path), then the redemptions, then the heartbeat
      expect(events.filter((e) => e.type === "courtesy-call").map((e) => e.deposit).sort()).toEqual([...deposits].sort());
      expect(events.filter((e) => e.type === "redemption").map((e) => e.status)).toEqual(["requested", "requested"]);
      expect(types.at(-1)).toBe("heartbeat");
      expect(events.at(-1).ping).toBe("ok");
      expect(events.every((e) => typeof e.at === "string" && !Number.isNaN(Date.parse(e.at)))).toBe(true);
      for (const d of deposits) expect(await stateOf(d)).toBe(5);
      const slack = got.filter((g) => g.path.startsWith("/slack/"));
      const hook = got.filter((g) => g.path === "/hook");
      expect(slack.some((g) => /redemption requested/.test(g.body))).toBe(true);
      expect(hook.some((g) => /redemption requested/.test(g.body))).toBe(true);
      expect(got.some((g) => g.path === "/beat")).toBe(true);
      expect(r.stdout + r.stderr).not.toContain("SECRET");
    } finally {
      await hooks.close();
    }
  });

  it("watch --once exits with the failed loop's own code (corrupt journal: 3)", async () => {
    // Line 1 is not JSON and not the torn last line, so reading the journal fails inside the loop.
    fs.writeFileSync(path.join(dataDir, "journal.jsonl"), 'not json\n{"key":"a","state":"planned","at":1}\n{"key":"a","state":"planned","at":2}\n');
    const r = await keepctl(["watch", "--once", "--json", "--operator", operator], keyEnv());
    expect(r.code, r.stderr).toBe(3);
    const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(events.find((e) => e.type === "loop-error")).toMatchObject({ code: "JOURNAL_CORRUPT" });
    expect(events.at(-1)).toMatchObject({ type: "heartbeat", ok: false });
  });

  it("stops cleanly on SIGINT between loops", async () => {
    const child = start(["watch", "--interval", "30", "--json", "--operator", operator], {});
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    const deadline = Date.now() + 60_000;
    while (!out.includes('"heartbeat"')) {
      if (Date.now() > deadline) throw new Error(`no heartbeat: ${out}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    const t0 = Date.now();
    child.kill("SIGINT");
    const code = await new Promise<number | null>((res) => child.once("exit", res));
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(code).toBe(130);
    expect(out.trim().split("\n").map((l) => JSON.parse(l).type)).toContain("stopped");
  });
});
