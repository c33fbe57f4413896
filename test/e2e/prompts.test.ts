import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { startDevnet, devnetWallet, type Devnet } from "../../src/devnet/scenario";
import { openDeposit } from "../../src/devnet/deposits";
import { send, setEthBtcPrice } from "../../src/devnet/tbtc";
import { BIN, buildOnce, cliEnv } from "../helpers/cli";

/**
 * The keystore password prompt (@inquirer/password) as an operator meets it: the built binary on
 * a real terminal (util-linux `script` allocates a pty), the password typed on its stdin, against
 * the devnet; and the redeem confirmation (@inquirer/confirm) the same way. Without a terminal
 * there is no prompt at all (test/integration/tx.test.ts, test/e2e/redeem.test.ts).
 */
const hasScript = spawnSync("script", ["--version"]).status === 0;
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-prompts-"));
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));
const PASSWORD = "correct horse";
let devnet: Devnet;
let deploymentFile: string;
let keystore: string;
let address: string;

function onTerminal(args: string[], typed: string): { code: number | null; screen: string } {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  // The typed text waits in the pty until the prompt reads it; the screen is what the user saw.
  const r = spawnSync("script", ["-qec", `stty cols 120; exec ${quoted}`, "/dev/null"], {
    cwd: home, input: typed, env: { ...cliEnv({ home }), TERM: "xterm", KEEPCTL_BTC_ADDRESS: "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx" }, encoding: "utf8", timeout: 120_000,
  });
  if (r.error) throw r.error;
  return { code: r.status, screen: r.stdout.replace(/\r/g, "") };
}

describe.skipIf(!hasScript)("keystore password prompt on a terminal", () => {
  beforeAll(async () => {
    buildOnce();
    deploymentFile = path.join(home, "deployment.json");
    devnet = await startDevnet({ seed: false, out: deploymentFile });
    const wallet = ethers.Wallet.createRandom();
    address = wallet.address;
    keystore = path.join(home, "key.json");
    fs.writeFileSync(keystore, wallet.encryptSync(PASSWORD), { mode: 0o600 });
  }, 300_000);
  afterAll(async () => {
    await devnet?.stop();
  });

  const args = () => ["--deployment", deploymentFile, "redeem", "--dry-run", "--keystore", keystore, "--operator", devnetWallet(1).address];

  it("asks for the password (masked), and the typed password unlocks the keystore", () => {
    const r = onTerminal(args(), `${PASSWORD}\n`);
    expect(r.screen).toContain(`Password for keystore ${keystore}:`);
    // Typed ahead, the password is echoed by the pty before the prompt takes the terminal; from
    // the prompt on, only the mask is shown.
    expect(r.screen.slice(r.screen.indexOf("Password for keystore"))).not.toContain(PASSWORD);
    expect(r.screen).toContain("*".repeat(PASSWORD.length));
    expect(r.screen, r.screen).not.toMatch(/error: /);
    expect(r.code, r.screen).toBe(0);
    // the run went on as the keystore's account (the dry run names what it would sign with)
    expect(r.screen.toLowerCase()).toContain(address.toLowerCase().slice(0, 6));
  }, 120_000);

  it("a wrong password is a one-line error, nothing else asked", () => {
    const r = onTerminal(args(), "wrong\n");
    expect(r.screen).toContain(`Password for keystore ${keystore}:`);
    expect(r.code, r.screen).not.toBe(0);
    expect(r.screen).toMatch(/error: .*password/i);
  }, 120_000);
});

describe.skipIf(!hasScript)("redeem's confirmation on a terminal", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-confirm-"));
  let net: Devnet;
  let file: string;
  let provider: ethers.JsonRpcProvider;
  let redeemer: ethers.Wallet;
  let pwFile: string;
  let ks: string;
  const operator = devnetWallet(1).address;

  beforeAll(async () => {
    buildOnce();
    file = path.join(dir, "deployment.json");
    net = await startDevnet({ seed: false, out: file });
    provider = new ethers.JsonRpcProvider(net.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1 });
    await openDeposit(net.deployment, { lotSats: 100_000_000n, members: [operator, devnetWallet(3).address, devnetWallet(4).address], fundWith: "vendingMachine" });
    // A second deposit of other members, so the deployer holds the TBTC the redeemer needs.
    await openDeposit(net.deployment, { lotSats: 100_000_000n, members: [devnetWallet(5).address, devnetWallet(3).address, devnetWallet(4).address], fundWith: "vendingMachine" });
    redeemer = new ethers.Wallet(ethers.Wallet.createRandom().privateKey, provider);
    await provider.send("hardhat_setBalance", [redeemer.address, ethers.toQuantity(ethers.parseEther("10"))]);
    await send(net.deployment.contracts.tbtcToken.transfer(redeemer.address, 10n ** 18n + 10n ** 16n));
    await setEthBtcPrice(net.deployment, 0.024);
    // The key from a keystore and a password file: the only question left is the confirmation.
    ks = path.join(dir, "key.json");
    fs.writeFileSync(ks, redeemer.encryptSync(PASSWORD), { mode: 0o600 });
    pwFile = path.join(dir, "pw");
    fs.writeFileSync(pwFile, PASSWORD, { mode: 0o600 });
  }, 300_000);
  afterAll(async () => {
    provider?.destroy();
    await net?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const args = () => ["--deployment", file, "redeem", "--keystore", ks, "--password-file", pwFile, "--operator", operator];

  it("asks before sending; 'n' sends nothing (nonce unchanged), 'y' sends", async () => {
    const nonce = await provider.getTransactionCount(redeemer.address);
    const no = onTerminal(args(), "n\n");
    expect(no.screen).toContain(`Send 1 redemption(s) from ${redeemer.address}?`);
    expect(await provider.getTransactionCount(redeemer.address), no.screen).toBe(nonce);

    const yes = onTerminal(args(), "y\n");
    expect(yes.screen).toContain(`Send 1 redemption(s) from ${redeemer.address}?`);
    expect(yes.code, yes.screen).toBe(0);
    expect(await provider.getTransactionCount(redeemer.address), yes.screen).toBeGreaterThan(nonce);
  }, 240_000);
});
