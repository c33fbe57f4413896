import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { devnetWallet, startDevnet, type Devnet } from "../../src/devnet/scenario";
import { openDeposit } from "../../src/devnet/deposits";
import { depositContract, send, setEthBtcPrice } from "../../src/devnet/tbtc";
import { buildOnce, spawnKeepctl } from "../helpers/cli";

/**
 * The built binary: `watch --once` between --threshold and --redeem-below pre-approves the
 * VendingMachine deposit's exact requirement (counted from the chain), and once the price has
 * recovered `keepctl redemptions` counts that approval as left standing (text and --json).
 */
const BTC = 100_000_000n;
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-preapprove-"));
const deploymentFile = path.join(home, "deployment.json");
const operator = devnetWallet(1).address;
const redeemer = ethers.Wallet.createRandom();
let devnet: Devnet;
let deposit: string;

beforeAll(async () => {
  buildOnce();
  devnet = await startDevnet({ seed: false, out: deploymentFile });
  deposit = (await openDeposit(devnet.deployment, { lotSats: 1n * BTC, members: [operator, devnetWallet(3).address, devnetWallet(4).address], fundWith: "vendingMachine" })).deposit;
  await openDeposit(devnet.deployment, { lotSats: 5n * BTC, members: [devnetWallet(5).address, devnetWallet(3).address, devnetWallet(4).address], fundWith: "vendingMachine" });
  await devnet.provider.send("hardhat_setBalance", [redeemer.address, ethers.toQuantity(ethers.parseEther("10"))]);
  await send(devnet.deployment.contracts.tbtcToken.transfer(redeemer.address, 2n * 10n ** 18n));
}, 600_000);

afterAll(async () => {
  await devnet?.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

const run = (args: string[]) => spawnKeepctl(["--deployment", deploymentFile, ...args], { home, env: { KEEPCTL_PRIVATE_KEY: redeemer.privateKey, KEEPCTL_BTC_ADDRESS: "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx" } }).done;

describe("keepctl watch pre-approval, end to end", () => {
  it("approves once in the zone, and redemptions counts it as left once the price recovers", async () => {
    const c = depositContract(devnet.deployment, deposit);
    const need = ((await c.lotSizeTbtc()) as bigint) + ((await c.getOwnerRedemptionTbtcRequirement(redeemer.address)) as bigint);
    await setEthBtcPrice(devnet.deployment, 0.027); // 150 % -> 135 %
    const w = await run(["watch", "--once", "--json", "--operator", operator, "--threshold", "140", "--redeem-below", "130"]);
    expect(w.code, w.stderr).toBe(0);
    const token = devnet.deployment.contracts.tbtcToken;
    expect(await token.allowance(redeemer.address, devnet.deployment.addresses.VendingMachine)).toBe(need);
    expect(await devnet.provider.getTransactionCount(redeemer.address)).toBe(1);
    const events = w.stdout.trim().split("\n").map((l) => JSON.parse(l) as { type: string; status?: string });
    expect(events.filter((e) => e.type === "preapproval").map((e) => e.status)).toEqual(["mined"]);

    await setEthBtcPrice(devnet.deployment, 0.03);
    const json = await run(["redemptions", "--json", "--operator", operator]);
    expect(json.code, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout) as { preapprovalsLeft: { account: string; spender: string; allowanceTbtc: string }[] };
    expect(doc.preapprovalsLeft).toEqual([expect.objectContaining({ account: redeemer.address.toLowerCase(), spender: devnet.deployment.addresses.VendingMachine, allowanceTbtc: ethers.formatUnits(need, 18) })]);
    const text = await run(["redemptions", "--operator", operator]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout + text.stderr).toMatch(/1 pre-approval\(s\) no longer needed, left standing/);
  });
});
