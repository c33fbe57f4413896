/**
 * `npm run demo`: a newcomer's first contact. Starts the devnet in-process (real tBTC v1 contracts,
 * seeded scenario, RAI rate feed doubles, a UMA EMP), then runs the real CLI against it exactly as
 * a user would type it.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { main } from "../cli";
import { ExitCode } from "../lib/errors";
import { startDevnet } from "./scenario";
import { setEthBtcPrice } from "./tbtc";
import { startAutoSigner } from "./autosign";
import { devnetWallet } from "./scenario";

function banner(text: string): void {
  process.stderr.write(`\n\x1b[1m$ ${text}\x1b[0m\n`);
}

async function run(args: string[]): Promise<number> {
  banner(`keepctl ${args.join(" ")}`);
  const code = await main(["node", "keepctl", ...args]);
  process.stderr.write(`(exit code ${code})\n`);
  return code;
}

async function demo(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-demo-"));
  const out = path.join(work, "deployment.devnet.json");
  process.stderr.write("Starting a local Hardhat node and deploying tBTC v1.1.0, the RAI doubles and a UMA EMP (a few seconds) ...\n");
  const devnet = await startDevnet({ out, rai: true, emp: true });
  const signer = startAutoSigner(devnet.deployment);
  const [op1] = devnet.file.operators;
  const common = ["--deployment", out, "--data-dir", path.join(work, "data")];
  try {
    process.stderr.write(`Devnet at ${devnet.rpcUrl}; operators ${devnet.file.operators.join(", ")}\n`);
    await run(["list-keeps", ...common, "--operator", op1]);
    await run(["check", ...common, "--operator", op1]);

    process.stderr.write("\nETH falls against BTC: the medianizer's ETH/BTC goes from 0.03 to 0.026.\n");
    await setEthBtcPrice(devnet.deployment, 0.026);
    await run(["check", ...common, "--operator", op1]);

    // The devnet operator's key is a well-known test key; a real operator uses --keystore.
    process.env.KEEPCTL_PRIVATE_KEY = devnetWallet(1).privateKey;
    await run(["watch", ...common, "--operator", op1, "--once", "--notify-courtesy", "--btc-address", "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"]);
    await run(["list-keeps", ...common, "--operator", op1]);

    // The redemptions only free the bonds once their Bitcoin transactions are proven: the signers
    // sign, nobody else broadcasts. A Bitcoin block every second from here on.
    devnet.bitcoin?.net.setAutoMine(1000);
    await run(["redemptions", ...common, "--operator", op1]);
    process.stderr.write("\nredeem --follow stays with the redemptions in flight: Bitcoin broadcast, six confirmations, the SPV proof.\n");
    await run(["redeem", ...common, "--operator", op1, "--yes", "--follow", "--btc-address", "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"]);
    delete process.env.KEEPCTL_PRIVATE_KEY;
    devnet.bitcoin?.net.setAutoMine(0);
    await run(["redemptions", ...common, "--operator", op1, "--all"]);

    process.stderr.write("\nRAI: the redemption-rate TWAP over the seeded rate updates (events of the RateSetter double).\n");
    await run(["rai-price", ...common, "--points"]);

    const emp = devnet.file.emp!;
    process.stderr.write(`\nUMA EMP at ${devnet.file.contracts.ExpiringMultiParty}: the liquidator bot decides which of ${emp.sponsors.length} sponsors to liquidate, sending nothing.\n`);
    process.env.KEEPCTL_PRIVATE_KEY = devnetWallet(emp.liquidator.accountIndex).privateKey;
    await run(["emp-liquidate", ...common, "--once", "--dry-run"]);
    delete process.env.KEEPCTL_PRIVATE_KEY;
  } finally {
    signer.stop();
    await devnet.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

demo().then(
  () => process.exit(ExitCode.OK),
  (e) => {
    process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(ExitCode.INTERNAL);
  },
);
