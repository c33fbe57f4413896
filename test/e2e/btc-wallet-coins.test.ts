import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HDKey } from "@scure/bip32";
import { mnemonicToSeedSync } from "@scure/bip39";
import { p2wpkh } from "@scure/btc-signer";
import { startBitcoinFaultProxy, startBitcoinNetwork, type BitcoinFaultProxy, type BitcoinNetwork } from "../../src/devnet/bitcoin";
import { buildOnce, runKeepctl, type Run } from "../helpers/cli";

/**
 * `keepctl btc-wallet balance|utxos|address` through the binary against the devnet's Bitcoin
 * network double (real Electrum and Esplora servers on loopback). The oracle: addresses derived in
 * the test straight from @scure/bip32 (m/84'/1'/0' of the BIP39 test mnemonic), the coins the test
 * itself sent with the double's wallet, and confirmations from the heights it mined them at.
 */
const ABANDON = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const PASSWORD = "correct horse battery staple";
const REGTEST = { bech32: "bcrt", pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };
const TEST_VERSIONS = { private: 0x04358394, public: 0x043587cf };
const account = HDKey.fromMasterSeed(mnemonicToSeedSync(ABANDON), TEST_VERSIONS).derive("m/84'/1'/0'");
const addressAt = (chain: 0 | 1, index: number) => p2wpkh(account.deriveChild(chain).deriveChild(index).publicKey!, REGTEST).address!;
const TPUB = account.publicExtendedKey;

const root = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-btcc-"));
let btc: BitcoinNetwork;
let proxy: BitcoinFaultProxy;
let h: string;
let ks: string;

/** A home whose deployment file is the devnet's shape: chain 31337 and a `bitcoin` section. */
function home(bitcoin: { electrumUrls: string[]; esploraUrls: string[] } | undefined): string {
  const dir = fs.mkdtempSync(path.join(root, "h"));
  fs.writeFileSync(path.join(dir, "pw"), PASSWORD + "\n", { mode: 0o600 });
  fs.writeFileSync(path.join(dir, "m.txt"), ABANDON + "\n", { mode: 0o600 });
  fs.writeFileSync(path.join(dir, "dep.json"), JSON.stringify({ network: "devnet", chainId: 31337, contracts: {}, ...(bitcoin ? { bitcoin: { network: "regtest", ...bitcoin } } : {}) }));
  return dir;
}
const run = (dir: string, args: string[], dataDir?: string): Promise<Run> => runKeepctl(["--deployment", path.join(dir, "dep.json"), ...args], { home: dir, dataDir });
const json = (r: Run) => {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
};

/** What the test paid the wallet: txid, output, value, and the height it was mined at (0: mempool). */
interface Sent { txid: string; vout: number; value: bigint; address: string; height: number }
const sent: Sent[] = [];
function pay(address: string, value: bigint): Sent {
  const f = btc.wallet.fund(address, value);
  const s = { txid: f.txid, vout: f.vout, value, address, height: 0 };
  sent.push(s);
  return s;
}
function mineOne(): void {
  btc.mine(1);
  for (const s of sent) if (s.height === 0) s.height = btc.height();
}

beforeAll(async () => {
  buildOnce();
  btc = await startBitcoinNetwork();
  proxy = await startBitcoinFaultProxy({ electrumTcp: btc.electrumTcpUrl, esplora: btc.esploraUrl, lies: { merkle: 1 } });
  h = home({ electrumUrls: [btc.electrumTcpUrl], esploraUrls: [btc.esploraUrl] });
  ks = path.join(h, "btc.json");
  const r = await run(h, ["btc-wallet", "import", "--btc-keystore", ks, "--btc-password-file", path.join(h, "pw"), "--mnemonic-file", path.join(h, "m.txt")]);
  expect(r.code, r.stderr).toBe(0);
});
afterAll(async () => {
  await proxy?.close();
  await btc?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

describe("address checks the chain's history", () => {
  it("receive 0 first (checked), then skips index 1 once it has been paid elsewhere", async () => {
    const a = json(await run(h, ["btc-wallet", "address", "--btc-keystore", ks, "--json"]));
    expect(a).toMatchObject({ address: addressAt(0, 0), index: 0, network: "regtest", checkedHistory: true, skippedUsed: 0 });
    // Index 1 gets a payment the counter knows nothing of (the same seed in another wallet).
    pay(addressAt(0, 1), 2_000_000n);
    const b = json(await run(h, ["btc-wallet", "address", "--btc-keystore", ks, "--json"]));
    expect(b).toMatchObject({ address: addressAt(0, 2), index: 2, checkedHistory: true, skippedUsed: 1 });
  });
});

describe("balance and utxos", () => {
  beforeAll(() => {
    pay(addressAt(0, 0), 30_000_000n);
    pay(addressAt(0, 0), 20_000_000n);
    // Past the counter but within the gap limit: a change address never handed out here.
    pay(addressAt(1, 4), 1_000_000n);
    mineOne();
    btc.mine(2);
    // In the mempool only, at a receive index past the counter (3) within the gap.
    pay(addressAt(0, 9), 5_000_000n);
    // Past the gap limit (20 unused after index 9): not the wallet's to find, and not counted.
    pay(addressAt(0, 30), 7_000_000n);
  });

  const confirmed = () => sent.filter((s) => s.height > 0 && s.address !== addressAt(0, 30));
  const unconfirmed = () => sent.filter((s) => s.height === 0 && s.address !== addressAt(0, 30));
  const sum = (l: Sent[]) => l.reduce((a, s) => a + s.value, 0n);

  it("balance: confirmed and mempool coins, summed from what the test paid", async () => {
    const doc = json(await run(h, ["btc-wallet", "balance", "--btc-keystore", ks, "--json"]));
    expect(doc).toEqual({
      network: "regtest",
      wallet: "hot",
      confirmedSats: String(sum(confirmed())),
      confirmedCoins: 4,
      unconfirmedSats: String(sum(unconfirmed())),
      unconfirmedCoins: 1,
      totalSats: String(sum(confirmed()) + sum(unconfirmed())),
      tipHeight: btc.height(),
      // receive: index 9 is the last with history before 20 without (index 30 is past them);
      // change: index 4.
      addressRange: { receive: 10, change: 5 },
    });
    expect(sum(confirmed())).toBe(53_000_000n);
  });

  it("utxos: every outpoint, value and confirmation count, in spending order", async () => {
    const doc = json(await run(h, ["btc-wallet", "utxos", "--btc-keystore", ks, "--json"]));
    const tip = btc.height();
    const expected = [...confirmed()].sort((a, b) => Number(b.value - a.value)).concat(unconfirmed());
    expect(doc.utxos.map((u: { txid: string; vout: number; valueSats: string; confirmations: number; address: string }) => [u.txid, u.vout, u.valueSats, u.confirmations, u.address]))
      .toEqual(expected.map((s) => [s.txid, s.vout, String(s.value), s.height === 0 ? 0 : tip - s.height + 1, s.address]));
    expect(doc.utxos.find((u: { address: string }) => u.address === addressAt(1, 4))).toMatchObject({ chain: "change", index: 4, path: "m/84'/1'/0'/1/4" });
  });

  it("watch-only from the tpub: the same coins", async () => {
    const w = home({ electrumUrls: [btc.electrumWsUrl], esploraUrls: [] });
    const doc = json(await run(w, ["btc-wallet", "balance", "--btc-xpub", TPUB, "--json"]));
    expect(doc).toMatchObject({ wallet: "watch-only", confirmedSats: String(sum(confirmed())), unconfirmedSats: String(sum(unconfirmed())) });
  });

  it("a server whose merkle branches lie is refused: the honest one answers; alone it is exit 4, BTC_BAD_DATA", async () => {
    const mixed = home({ electrumUrls: [proxy.electrumTcpUrl!], esploraUrls: [btc.esploraUrl] });
    const ok = json(await run(mixed, ["btc-wallet", "balance", "--btc-xpub", TPUB, "--json"]));
    expect(ok.confirmedSats).toBe(String(sum(confirmed())));
    const lies = proxy.counts.lies.merkle;
    expect(lies).toBeGreaterThan(0);
    const alone = home({ electrumUrls: [proxy.electrumTcpUrl!], esploraUrls: [proxy.esploraUrl!] });
    const r = await run(alone, ["btc-wallet", "balance", "--btc-xpub", TPUB, "--json"]);
    expect(r.code).toBe(4);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: "BTC_BAD_DATA" });
    expect(proxy.counts.lies.merkle).toBeGreaterThan(lies);
  });

  it("no Bitcoin server configured: exit 3, nothing read", async () => {
    const none = home(undefined);
    const r = await run(none, ["btc-wallet", "balance", "--btc-xpub", TPUB]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^error: no Bitcoin server configured$/m);
  });
});
