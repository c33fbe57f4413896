import { describe, expect, it } from "vitest";
import { Bip84Account, CHANGE, RECEIVE } from "../../src/lib/btc/wallet/account";
import { broadcastSigned, cappedFeeRate, historyLookup, walletUtxos, type ChainUtxo } from "../../src/lib/btc/wallet/chain";
import { loadConfig, parseBtcWatchOnlyKey } from "../../src/lib/config";
import { redact } from "../../src/lib/redact";

/**
 * The wallet's side of the BtcWalletChain interface (what the data layer's client will satisfy):
 * the answers here are plain values standing for a server's, so that the wallet's own handling of
 * them is judged (which scripts it asks about, what it refuses). Also the config rows and the
 * redaction of extended private keys.
 */
const TPUB = "tpubDC8msFGeGuwnKG9Upg7DM2b4DaRqg3CUZa5g8v2SRQ6K4NSkxUgd7HsL2XVWbVm39yBA4LAxysQAm397zwQSQoQgewGiYZqrA9DsP4zbQ1M";
const account = Bip84Account.fromWatchOnly(TPUB, "regtest", "--btc-xpub");

describe("walletUtxos", () => {
  it("asks for every handed-out address of both chains and tags each coin with its key's place", async () => {
    const asked: string[] = [];
    const funded = account.scriptHex(CHANGE, 1);
    const coin: ChainUtxo = { txid: "ab".repeat(32), vout: 2, valueSats: 5000n, confirmations: 0 };
    const utxos = await walletUtxos(account, { unspent: async (s) => { asked.push(s); return s === funded ? [coin] : []; } }, { receive: 2, change: 2 });
    expect(asked.sort()).toEqual([account.scriptHex(RECEIVE, 0), account.scriptHex(RECEIVE, 1), account.scriptHex(CHANGE, 0), funded].sort());
    expect(utxos).toEqual([{ ...coin, scriptHex: funded, chain: CHANGE, index: 1 }]);
  });
  it.each([
    ["a short txid", { txid: "ab", vout: 0, valueSats: 1n, confirmations: 1 }],
    ["a negative vout", { txid: "ab".repeat(32), vout: -1, valueSats: 1n, confirmations: 1 }],
    ["a zero value", { txid: "ab".repeat(32), vout: 0, valueSats: 0n, confirmations: 1 }],
    ["a number value", { txid: "ab".repeat(32), vout: 0, valueSats: 5 as unknown as bigint, confirmations: 1 }],
    ["negative confirmations", { txid: "ab".repeat(32), vout: 0, valueSats: 1n, confirmations: -1 }],
  ])("refuses a malformed answer: %s", async (_what, bad) => {
    await expect(walletUtxos(account, { unspent: async () => [bad as ChainUtxo] }, { receive: 1, change: 0 })).rejects.toThrow(/malformed unspent output/);
  });
});

describe("fee rate, history, broadcast", () => {
  it("the estimate is refused above the cap (FEE_CAP) and when it is no rate", async () => {
    expect(await cappedFeeRate({ feeRate: async () => 12.5 }, 6, 20)).toBe(12.5);
    expect(await cappedFeeRate({ feeRate: async () => 20 }, 6, 20)).toBe(20);
    await expect(cappedFeeRate({ feeRate: async () => 20.5 }, 6, 20)).rejects.toMatchObject({ code: "FEE_CAP", exitCode: 3, message: "the Bitcoin fee rate for 6 blocks is 20.5 sat/vB, above --max-btc-fee-rate 20 sat/vB; nothing is signed above the cap" });
    await expect(cappedFeeRate({ feeRate: async () => 0 }, 6, 20)).rejects.toThrow(/is not a rate/);
    await expect(cappedFeeRate({ feeRate: async () => Number.NaN }, 6, 20)).rejects.toThrow(/is not a rate/);
  });
  it("history: any transaction counts as used", async () => {
    const lookup = historyLookup({ history: async (s) => (s === "aa" ? [{ txid: "t", height: 0 }] : []) });
    expect(await lookup(["aa", "bb"])).toEqual([true, false]);
  });
  it("a broadcast answered with another txid is not believed", async () => {
    const tx = { rawHex: "00", txid: "cd".repeat(32), vsize: 1, weight: 4, feeSats: 1n };
    expect(await broadcastSigned({ broadcast: async () => "CD".repeat(32) }, tx)).toBe(tx.txid);
    await expect(broadcastSigned({ broadcast: async () => "ef".repeat(32) }, tx)).rejects.toThrow(/answered txid/);
  });
});

describe("config rows", () => {
  const base = { KEEPCTL_DATA_DIR: "/tmp/x" };
  it("reads the four settings from flags and env, with the fee cap's default", () => {
    const cfg = loadConfig({ btcKeystore: "k.json", btcPasswordFile: "pw" }, { ...base, KEEPCTL_BTC_XPUB: TPUB, KEEPCTL_MAX_BTC_FEE_RATE: "35.5" }, { dotenv: false, requireRpc: false });
    expect(cfg.btcWallet).toMatchObject({ xpub: TPUB, maxFeeRate: 35.5 });
    expect(cfg.btcWallet.keystore).toMatch(/\/k\.json$/);
    expect(cfg.origins.btcXpub).toBe("KEEPCTL_BTC_XPUB");
    expect(loadConfig({}, base, { dotenv: false, requireRpc: false }).btcWallet.maxFeeRate).toBe(200);
  });
  it("refuses a bad checksum, a private key (without echoing it), a fee cap that is not a number", () => {
    const xprv = "tprv8ZgxMBicQKsPd7Uf69XL1XwhmjHopUGep8GuEiJDZmbQz6o58LninorQAfcKZWARbtRtfnLcJ5MQ2AtHcQJCCRUcMRvmDUjyEmNUWwx8UbK";
    expect(() => parseBtcWatchOnlyKey(`wpkh(${TPUB}/0/*)#aaaaaaaa`)).toThrow(/checksum #aaaaaaaa does not match/);
    expect(() => loadConfig({ btcXpub: xprv }, base, { dotenv: false, requireRpc: false })).toThrow("that is an extended PRIVATE key; a watch-only wallet takes the account's public key (from --btc-xpub)");
    expect(redact(`x ${xprv}`)).toBe("x ***");
    expect(() => loadConfig({ maxBtcFeeRate: "1e3" }, base, { dotenv: false, requireRpc: false })).toThrow(/expected a decimal number/);
    expect(() => loadConfig({}, { ...base, KEEPCTL_MAX_BTC_FEE_RATE: "0.5" }, { dotenv: false, requireRpc: false })).toThrow(/must be between 1 and 100000/);
  });
  it("redacts extended private keys of every prefix, not public ones", () => {
    const body = "8ZgxMBicQKsPd7Uf69XL1XwhmjHopUGep8GuEiJDZmbQz6o58LninorQAfcKZWARbtRtfnLcJ5MQ2AtHcQJCCRUcMRvmDUjyEmNUWwx8UbK";
    for (const p of ["xprv", "tprv", "zprv", "vprv", "yprv", "uprv", "Zprv", "Vprv"]) expect(redact(`k=${p}${body}.`)).toBe("k=***.");
    expect(redact(`k=${TPUB}`)).toBe(`k=${TPUB}`);
  });
});
