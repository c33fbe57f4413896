import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers } from "ethers";
import { startHardhatNode, type LocalNode } from "../../src/devnet/node";
import { deployEmp, seedSponsors, loadUmaArtifact, type EmpDeployment, type EmpSeed } from "../../src/devnet/uma";
import { deployRai, seedRateHistory } from "../../src/devnet/rai";
import { RAY } from "../../src/lib/rai/math";
import { EmpClient, encodeApprove, encodeCreateLiquidation } from "../../src/lib/uma/emp-client";
import { LiquidationState } from "../../src/lib/uma/dispute-strategy";
import { parseFixedStrict } from "../../src/lib/fixed-point";
import { FP_DECIMALS, FP_ONE, fpMul } from "../../src/lib/uma/fixed-point";

const parseFixed = (text: string): bigint => parseFixedStrict(text, FP_DECIMALS);
import { buildOnce, spawnKeepctl } from "../helpers/cli";

/** Runs the built binary (built by the vitest globalSetup; buildOnce checks it is current). */
const MNEMONIC = "test test test test test test test test test test test junk";
const keyOf = (i: number) => ethers.HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).privateKey;
const OTHER = 8;

let tmp: string;
let node: LocalNode;
let provider: ethers.JsonRpcProvider;
let dep: EmpDeployment;
let seed: EmpSeed;
let client: EmpClient;
let deployment: string;
let snapshot: string;

const start = (args: string[], env: Record<string, string> = {}) => spawnKeepctl(args, { home: tmp, env });
const keepctl = (args: string[], env: Record<string, string> = {}) => start(args, env).done;
const asBot = (index: number) => ({ KEEPCTL_PRIVATE_KEY: keyOf(index) });
const events = (stdout: string) => stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
const byLabel = (l: string) => seed.sponsors.find((s) => s.label === l)!;
const collateralOf = (a: string): Promise<bigint> =>
  new ethers.Contract(dep.addresses.collateral, ["function balanceOf(address) view returns (uint256)"], provider).balanceOf(a);

async function sendAs(index: number, req: { to: string; data: string }, extra: ethers.TransactionRequest = {}) {
  const signer = await provider.getSigner(index);
  return signer.sendTransaction({ ...req, ...extra });
}

async function increaseTime(seconds: number): Promise<void> {
  await provider.send("evm_increaseTime", [seconds]);
  await provider.send("evm_mine", []);
}

async function liquidateWrongly(sponsor: string, tokens: bigint): Promise<void> {
  const now = BigInt((await provider.getBlock("latest"))!.timestamp);
  await (await sendAs(OTHER, encodeApprove(dep.addresses.synthetic, dep.addresses.emp))).wait();
  await (await sendAs(OTHER, encodeCreateLiquidation(dep.addresses.emp, { sponsor, minCollateralPerToken: 0n, maxCollateralPerToken: parseFixed("2.5"), maxTokensToLiquidate: tokens, deadline: now + 300n }))).wait();
}

beforeAll(async () => {
  buildOnce();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-emp-e2e-"));
  node = await startHardhatNode();
  provider = new ethers.JsonRpcProvider(node.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1 });
  const deployer = await provider.getSigner(0);
  const rai = await deployRai(deployer);
  await seedRateHistory(rai, { count: 3, intervalSec: 10800, rates: [RAY, RAY - 3_000_000_000n, RAY + 1_000_000_000n] });
  dep = await deployEmp(deployer);
  seed = await seedSponsors(dep, provider);
  client = new EmpClient(provider, dep.addresses.emp);
  const syn = new ethers.Contract(dep.addresses.synthetic, ["function transfer(address,uint256) returns (bool)"], await provider.getSigner(seed.liquidator.index));
  await (await syn.transfer(await (await provider.getSigner(OTHER)).getAddress(), parseFixed("150"))).wait();
  deployment = path.join(tmp, "deployment.json");
  fs.writeFileSync(deployment, JSON.stringify({
    network: "devnet", chainId: 31337, rpcUrl: node.rpcUrl, deploymentBlock: rai.deploymentBlock,
    contracts: { ExpiringMultiParty: dep.addresses.emp, RateSetter: rai.addresses.RateSetter },
  }));
  snapshot = await provider.send("evm_snapshot", []);
}, 120_000);

afterAll(async () => {
  provider?.destroy();
  await node?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

beforeEach(async () => {
  await provider.send("evm_revert", [snapshot]);
  snapshot = await provider.send("evm_snapshot", []);
  fs.rmSync(path.join(tmp, "data"), { recursive: true, force: true });
});

describe("keepctl emp-liquidate", () => {
  it("--once --json with the RAI feed liquidates the reference case (locked 200, liquidated 100) and leaves healthy positions alone", async () => {
    const r = await keepctl(["emp-liquidate", "--once", "--json", "--deployment", deployment], asBot(seed.liquidator.index));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const evs = events(r.stdout);
    expect(evs.every((e) => e.bot === "liquidator")).toBe(true);
    const ref = byLabel("pending-withdrawal");
    const liquidate = evs.filter((e) => e.type === "decision" && e.action === "liquidate");
    expect(liquidate.map((e) => e.sponsor)).toEqual([byLabel("cr-1.2").address, ref.address]);
    const price = BigInt(liquidate[0].price as string);
    expect(price > FP_ONE - 10n ** 9n && price < FP_ONE + 10n ** 9n).toBe(true);
    const mined = evs.filter((e) => e.type === "mined" && String(e.label).startsWith("liquidate"));
    expect(mined.find((e) => String(e.label).includes(ref.address))).toMatchObject({ status: 1, lockedCollateral: parseFixed("200").toString(), liquidatedCollateral: parseFixed("100").toString() });
    expect(evs.at(-1)).toMatchObject({ type: "heartbeat", liquidated: 2 });
    const [onChain] = await client.readLiquidations(ref.address);
    expect(onChain).toMatchObject({ liquidator: seed.liquidator.address, lockedCollateral: parseFixed("200"), liquidatedCollateral: parseFixed("100") });
    for (const healthy of ["cr-1.3", "cr-1.5", "cr-2.0"]) expect(await client.readLiquidations(byLabel(healthy).address)).toEqual([]);
  });

  it("--price 1 in human mode: progress lines on stderr, a summary on stdout", async () => {
    const r = await keepctl(["emp-liquidate", "--once", "--price", "1", "--emp", dep.addresses.emp, "--rpc-url", node.rpcUrl, "--network", "devnet"], asBot(seed.liquidator.index));
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^\S+Z INFO liquidate 0x\w{6}….{4}: undercollateralized, 100 tokens, max 1\.225 collateral\/token$/m);
    expect(r.stderr).toMatch(/^\S+Z INFO mined liquidate 0x[0-9a-fA-F]{40} in block \d+$/m);
    expect(r.stdout).toMatch(/^\S+Z INFO pass 1: block \d+, price 1, \d+ positions$/m);
    // A loop's log: every human line, on either stream, carries its ISO time and level.
    for (const line of (r.stderr + r.stdout).split("\n").filter(Boolean)) expect(line).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z (INFO|WARN) /);
    expect(r.stdout).toContain("liquidated 2, lost races 0, dry-run 0, withdrawn 0");
    expect(r.stdout).toContain(`liquidated\t${byLabel("pending-withdrawal").address}\t100 tokens locked 200 liquidated 100\t0x`);
  });

  it("--dry-run decides and simulates but sends nothing (nonce unchanged)", async () => {
    const nonce = await provider.getTransactionCount(seed.liquidator.address);
    const r = await keepctl(["emp-liquidate", "--once", "--dry-run", "--json", "--price", "1", "--deployment", deployment], asBot(seed.liquidator.index));
    expect(r.code).toBe(0);
    const evs = events(r.stdout);
    expect(evs.filter((e) => e.type === "skipped" && e.reason === "dry-run").map((e) => e.action)).toEqual(["approve", "liquidate", "liquidate"]);
    expect(evs.some((e) => e.type === "sent" || e.type === "mined")).toBe(false);
    expect(await provider.getTransactionCount(seed.liquidator.address)).toBe(nonce);
    expect(await client.readLiquidations(byLabel("pending-withdrawal").address)).toEqual([]);
  });

  it("another liquidator gets there first: warning, skip, exit 0", async () => {
    // The bot has approved already; the rival's liquidation waits in the mempool with a higher tip.
    await (await sendAs(seed.liquidator.index, encodeApprove(dep.addresses.synthetic, dep.addresses.emp))).wait();
    await (await sendAs(OTHER, encodeApprove(dep.addresses.synthetic, dep.addresses.emp))).wait();
    const ref = byLabel("pending-withdrawal");
    await provider.send("evm_setAutomine", [false]);
    try {
      const now = BigInt((await provider.getBlock("latest"))!.timestamp);
      await sendAs(OTHER, encodeCreateLiquidation(dep.addresses.emp, { sponsor: ref.address, minCollateralPerToken: 0n, maxCollateralPerToken: parseFixed("2.5"), maxTokensToLiquidate: parseFixed("100"), deadline: now + 300n }), {
        maxPriorityFeePerGas: ethers.parseUnits("50", "gwei"), maxFeePerGas: ethers.parseUnits("100", "gwei"), gasLimit: 1_000_000n,
      });
      const bot = start(["emp-liquidate", "--once", "--json", "--price", "1", "--deployment", deployment], asBot(seed.liquidator.index));
      // Mine once the bot's first liquidation joins the rival's in the pool; then mine as usual.
      for (let waited = 0; ; waited += 100) {
        const pending = await provider.send("eth_getBlockByNumber", ["pending", false]);
        if (pending.transactions.length >= 2) break;
        if (waited >= 60_000) {
          bot.child.kill("SIGTERM");
          throw new Error(`the bot's liquidation never reached the mempool in 60 s (pending: ${pending.transactions.length}); bot stderr: ${bot.stderr()}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      await provider.send("evm_mine", []);
      await provider.send("evm_setAutomine", [true]);
      const r = await bot.done;
      expect(r.code).toBe(0);
      const evs = events(r.stdout);
      const warning = evs.find((e) => e.type === "warning" && e.reason === "lost-race")!;
      expect(warning.sponsor).toBe(ref.address);
      expect(warning.message).toContain(`liquidated by ${await (await provider.getSigner(OTHER)).getAddress()} first`);
      expect(evs.at(-1)).toMatchObject({ type: "heartbeat", liquidated: 1 });
    } finally {
      await provider.send("evm_setAutomine", [true]);
    }
  });

  it("a malformed --emp is a usage error (exit 2, one line)", async () => {
    const r = await keepctl(["emp-liquidate", "--once", "--emp", "0x12", "--deployment", deployment], asBot(seed.liquidator.index));
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('error: invalid address "0x12" (from --emp)\n');
    expect(r.stdout).toBe("");
  });

  it("no EMP address at all is a configuration error (exit 3), like a missing RateSetter", async () => {
    const r = await keepctl(["emp-liquidate", "--once", "--price", "1", "--rpc-url", node.rpcUrl, "--network", "devnet"], asBot(seed.liquidator.index));
    expect(r.code).toBe(3);
    expect(r.stderr).toBe("error: no EMP address: pass --emp ADDR\nhint: or set KEEPCTL_EMP_ADDRESS, or contracts.ExpiringMultiParty in the deployment file\n");
  });

  it("an --emp without code is a configuration error (exit 3)", async () => {
    const empty = ethers.Wallet.createRandom().address;
    const r = await keepctl(["emp-dispute", "--once", "--emp", empty, "--deployment", deployment], asBot(seed.disputer.index));
    expect(r.code).toBe(3);
    expect(r.stderr.split("\n")[0]).toBe(`error: no contract at EMP address ${empty}`);
  });

  it("stops cleanly on SIGTERM between passes", async () => {
    const bot = start(["emp-liquidate", "--json", "--interval", "30", "--price", "1", "--deployment", deployment], asBot(seed.liquidator.index));
    for (let waited = 0; !bot.stdout().includes('"heartbeat"'); waited += 100) {
      if (waited >= 60_000) {
        bot.child.kill("SIGKILL");
        throw new Error(`no heartbeat from the bot in 60 s; stdout: ${bot.stdout()} stderr: ${bot.stderr()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    bot.child.kill("SIGTERM");
    const r = await bot.done;
    expect(r.code).toBe(130);
    expect(r.stderr).toBe("");
    // the machine-wide lock (here the test's KEEPCTL_LOCK_DIR) is released on the way out
    expect(fs.readdirSync(path.join(tmp, "locks"))).toEqual([]);
  });
});

describe("keepctl emp-dispute", () => {
  it("disputes a wrong liquidation; after the oracle's price both bots withdraw what they are owed", async () => {
    const liq = await keepctl(["emp-liquidate", "--once", "--json", "--price", "1", "--deployment", deployment], asBot(seed.liquidator.index));
    expect(liq.code).toBe(0);
    const victim = byLabel("cr-2.0");
    await liquidateWrongly(victim.address, victim.tokens);
    await increaseTime(61);

    const d = await keepctl(["emp-dispute", "--once", "--json", "--deployment", deployment], asBot(seed.disputer.index));
    expect(d.stderr).toBe("");
    expect(d.code).toBe(0);
    let evs = events(d.stdout);
    const decisions = evs.filter((e) => e.type === "decision");
    expect(decisions.filter((e) => e.action === "dispute").map((e) => e.sponsor)).toEqual([victim.address]);
    expect(decisions.filter((e) => e.reason === "correct-liquidation")).toHaveLength(2);
    expect(evs.at(-1)).toMatchObject({ type: "heartbeat", disputed: 1 });
    const [l] = await client.readLiquidations(victim.address);
    expect(l).toMatchObject({ state: LiquidationState.Disputed, disputer: seed.disputer.address });

    const oracle = new ethers.Contract(dep.addresses.mockOracle, loadUmaArtifact("MockOracle").abi, await provider.getSigner(0));
    await (await oracle.pushPrice(ethers.encodeBytes32String("RaiRedemptionRate"), l.liquidationTime, FP_ONE)).wait();
    await increaseTime(Number(dep.params.liquidationLiveness));

    let before = await collateralOf(seed.disputer.address);
    const w = await keepctl(["emp-dispute", "--once", "--json", "--deployment", deployment], asBot(seed.disputer.index));
    expect(w.code).toBe(0);
    evs = events(w.stdout);
    const withdrawn = evs.find((e) => e.type === "withdrawn")!;
    expect(withdrawn).toMatchObject({ role: "disputer", sponsor: victim.address, liquidationId: "0" });
    const paid = BigInt(withdrawn.paidToDisputer as string);
    expect(paid).toBe(fpMul(victim.collateral, dep.params.disputeBondPercentage) + fpMul(victim.tokens, dep.params.disputerDisputeRewardPercentage));
    expect((await collateralOf(seed.disputer.address)) - before).toBe(paid);

    before = await collateralOf(seed.liquidator.address);
    const lw = await keepctl(["emp-liquidate", "--once", "--json", "--price", "1", "--deployment", deployment], asBot(seed.liquidator.index));
    expect(lw.code).toBe(0);
    const rewards = events(lw.stdout).filter((e) => e.type === "withdrawn");
    expect(rewards).toHaveLength(2);
    const total = rewards.reduce((a, e) => a + BigInt(e.paidToLiquidator as string), 0n);
    expect(total).toBe(parseFixed("320"));
    expect((await collateralOf(seed.liquidator.address)) - before).toBe(total);
  });
});
