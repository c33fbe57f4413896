import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { startDevnet, devnetWallet, type Devnet } from "../../src/devnet/scenario";
import { BIN, buildOnce, cliEnv } from "../helpers/cli";

/**
 * The keystore password prompt (@inquirer/password) as an operator meets it: the built binary on
 * a real terminal (util-linux `script` allocates a pty), the password typed on its stdin, against
 * the devnet. Without a terminal there is no prompt at all (covered in test/integration/tx.test.ts).
 */
const hasScript = spawnSync("script", ["--version"]).status === 0;
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-prompts-"));
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
    fs.rmSync(home, { recursive: true, force: true });
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
