import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HDKey } from "@scure/bip32";
import { mnemonicToSeedSync } from "@scure/bip39";
import { p2wpkh } from "@scure/btc-signer";
import { loadConfig } from "../../src/lib/config";
import { payoutScriptOf } from "../../src/lib/tbtc/redeem/redeem-session";

/**
 * The redemption payout address when none is given: the Bitcoin wallet's next receive address.
 * The oracle: addresses and scripts derived in the test straight from @scure/bip32 / btc-signer
 * (m/84'/1'/0'/0/i of the BIP39 test mnemonic, regtest on a devnet-shaped deployment).
 */
const ABANDON = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const REGTEST = { bech32: "bcrt", pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };
const account = HDKey.fromMasterSeed(mnemonicToSeedSync(ABANDON), { private: 0x04358394, public: 0x043587cf }).derive("m/84'/1'/0'");
const receive = (i: number) => p2wpkh(account.deriveChild(0).deriveChild(i).publicKey!, REGTEST);
const root = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-payout-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function cfgFor(env: Record<string, string>) {
  const dir = fs.mkdtempSync(path.join(root, "c"));
  fs.writeFileSync(path.join(dir, "dep.json"), JSON.stringify({ network: "devnet", chainId: 31337, rpcUrl: "http://127.0.0.1:1", contracts: {} }));
  return loadConfig({ deployment: path.join(dir, "dep.json") }, { KEEPCTL_DATA_DIR: path.join(dir, "data"), ...env }, { dotenv: false, cwd: dir });
}

describe("payoutScriptOf", () => {
  it("no --btc-address, a watch-only wallet: its receive addresses 0, 1, … one per call, never the same", async () => {
    const cfg = cfgFor({ KEEPCTL_BTC_XPUB: account.publicExtendedKey });
    const said: string[] = [];
    const a = await payoutScriptOf(cfg, true, (m) => said.push(m));
    const b = await payoutScriptOf(cfg, true);
    expect([a!.address, b!.address]).toEqual([receive(0).address, receive(1).address]);
    const script = Buffer.from(receive(0).script).toString("hex");
    expect(a!.redeemerOutputScript).toBe("0x" + (script.length / 2).toString(16).padStart(2, "0") + script);
    expect(said.join("\n")).toMatch(/receive address 0 \(watch-only\)/);
  });
  it("--btc-address wins over the wallet, and hands out no wallet address", async () => {
    const cfg = cfgFor({ KEEPCTL_BTC_XPUB: account.publicExtendedKey, KEEPCTL_BTC_ADDRESS: receive(7).address! });
    expect((await payoutScriptOf(cfg, true))!.address).toBe(receive(7).address);
    expect(fs.existsSync(path.join(cfg.dataDir, "btc-wallet"))).toBe(false);
  });
  it("neither: undefined when optional (watch), CONFIG error naming both ways when required (redeem)", async () => {
    const cfg = cfgFor({});
    expect(await payoutScriptOf(cfg, false)).toBeUndefined();
    await expect(payoutScriptOf(cfg, true)).rejects.toMatchObject({ exitCode: 3, message: "no BTC address to redeem to", hint: expect.stringMatching(/KEEPCTL_BTC_XPUB/) });
  });
});
