import { describe, expect, it } from "vitest";
import { Bip84Account, CHANGE, RECEIVE } from "../../src/lib/btc/wallet/account";
import { broadcastSigned, cappedFeeRate, historyLookup, summarizeCoins, walletCoins, walletExtent, walletUtxos, type ChainUtxo } from "../../src/lib/btc/wallet/chain";
import { walletBtcNetwork } from "../../src/lib/btc/wallet/network";
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

describe("walletExtent: which addresses can hold coins", () => {
  /** A chain where exactly these (chain, index) places have history; counts the lookups. */
  function chainWith(used: [0 | 1, number][]) {
    const scripts = new Set(used.map(([c, i]) => account.scriptHex(c, i)));
    const asked: string[] = [];
    return { asked, chain: { history: async (s: string) => (asked.push(s), scripts.has(s) ? [{ txid: "t", height: 5 }] : []) } };
  }
  it("a restored seed (no counters): up to the last used index before 20 unused in a row, per chain", async () => {
    const { chain } = chainWith([[RECEIVE, 0], [RECEIVE, 19], [RECEIVE, 39], [CHANGE, 3]]);
    // 19 is within 20 of 0, 39 within 20 of 19; on change, 3 then 20 unused.
    expect(await walletExtent(account, chain, undefined)).toEqual({ receive: 40, change: 4 });
  });
  it("an index 20 unused addresses past the last used one is not reached", async () => {
    const { chain } = chainWith([[RECEIVE, 0], [RECEIVE, 21]]);
    expect(await walletExtent(account, chain, undefined)).toEqual({ receive: 1, change: 0 });
  });
  it("with counters: every handed-out index counts (used or not), and the gap is measured from the counter", async () => {
    const { chain, asked } = chainWith([[RECEIVE, 40]]);
    // Nothing below 25 was paid, but 0..24 were handed out; 40 is within 20 of the counter 25.
    expect(await walletExtent(account, chain, { receive: 25, change: 2 })).toEqual({ receive: 41, change: 2 });
    expect(asked).not.toContain(account.scriptHex(RECEIVE, 24));
    expect(asked).toContain(account.scriptHex(RECEIVE, 25));
    expect(asked).toContain(account.scriptHex(CHANGE, 2));
  });
  it("a smaller gap limit stops sooner", async () => {
    // 1..4 are four unused in a row: a gap limit of 4 stops there, one of 5 reaches 5.
    const { chain } = chainWith([[RECEIVE, 0], [RECEIVE, 5]]);
    expect(await walletExtent(account, chain, undefined, 4)).toEqual({ receive: 1, change: 0 });
    expect(await walletExtent(account, chain, undefined, 5)).toEqual({ receive: 6, change: 0 });
  });
});

describe("walletCoins and summarizeCoins", () => {
  const coin = (txid: string, valueSats: bigint, confirmations: number): ChainUtxo => ({ txid: txid.repeat(64), vout: 0, valueSats, confirmations });
  it("finds a coin past the counter, lists coins confirmed first, largest first, and sums them apart", async () => {
    const late = account.scriptHex(RECEIVE, 7);
    const first = account.scriptHex(RECEIVE, 0);
    const byScript = new Map<string, ChainUtxo[]>([[first, [coin("a", 500n, 0), coin("b", 100n, 3)]], [late, [coin("c", 900n, 1), coin("d", 50n, 0)]]]);
    const chain = { history: async (s: string) => (byScript.has(s) ? [{ txid: "t", height: 1 }] : []), unspent: async (s: string) => byScript.get(s) ?? [] };
    const { utxos, extent } = await walletCoins(account, chain, { receive: 1, change: 0 });
    expect(extent).toEqual({ receive: 8, change: 0 });
    expect(utxos.map((u) => [u.txid[0], u.index])).toEqual([["c", 7], ["b", 0], ["a", 0], ["d", 7]]);
    expect(summarizeCoins(utxos)).toEqual({ confirmedSats: 1000n, confirmedCoins: 2, unconfirmedSats: 550n, unconfirmedCoins: 2 });
    expect(summarizeCoins([])).toEqual({ confirmedSats: 0n, confirmedCoins: 0, unconfirmedSats: 0n, unconfirmedCoins: 0 });
  });
});

describe("the wallet's network", () => {
  it("the btcNetwork setting when given, else the Ethereum side's pairing", () => {
    expect(walletBtcNetwork("signet", { network: "mainnet", chainId: 1 })).toBe("signet");
    expect(walletBtcNetwork(undefined, { network: "mainnet", chainId: 1 })).toBe("mainnet");
    expect(walletBtcNetwork(undefined, { network: "devnet", chainId: 31337 })).toBe("regtest");
    expect(walletBtcNetwork(undefined, { network: "custom", chainId: 5 })).toBe("testnet");
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
