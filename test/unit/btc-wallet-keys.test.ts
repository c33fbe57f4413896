import { describe, expect, it } from "vitest";
import { mnemonicToSeed } from "@scure/bip39";
import { createBase58check } from "@scure/base";
import { sha256 } from "@noble/hashes/sha2";
import { Bip84Account, CHANGE, openMnemonic, RECEIVE } from "../../src/lib/btc/wallet/account";
import { parseExtendedPublicKey, toSlip132, withVersion } from "../../src/lib/btc/wallet/extended-key";
import { defaultBtcNetwork } from "../../src/lib/btc/wallet/network";
import { newMnemonic, normalizeMnemonic } from "../../src/lib/btc/wallet/secret-input";
import { redact } from "../../src/lib/redact";

/**
 * Keys against published vectors: BIP39 (trezor/python-mnemonic vectors.json, passphrase "TREZOR"
 * and none), BIP84's own test vectors, SLIP-132's zpub of the same account, and the testnet
 * account (m/84'/1'/0') of the same mnemonic as other wallets publish it.
 */
const ABANDON = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const ZPUB = "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs";
const VPUB = "vpub5Y6cjg78GGuNLsaPhmYsiw4gYX3HoQiRBiSwDaBXKUafCt9bNwWQiitDk5VZ5BVxYnQdwoTyXSs2JHRPAgjAvtbBrf8ZhDYe2jWAqvZVnsc";
const TPUB = "tpubDC8msFGeGuwnKG9Upg7DM2b4DaRqg3CUZa5g8v2SRQ6K4NSkxUgd7HsL2XVWbVm39yBA4LAxysQAm397zwQSQoQgewGiYZqrA9DsP4zbQ1M";

/** The version swap done here independently: base58check decode, four new leading bytes, encode. */
const b58 = createBase58check(sha256);
function swapVersion(key: string, version: number): string {
  const raw = Uint8Array.from(b58.decode(key));
  raw[0] = version >>> 24;
  raw[1] = (version >>> 16) & 0xff;
  raw[2] = (version >>> 8) & 0xff;
  raw[3] = version & 0xff;
  return b58.encode(raw);
}

describe("BIP39 seeds (trezor vectors)", () => {
  const vectors: [string, string, string][] = [
    [ABANDON, "TREZOR", "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04"],
    ["legal winner thank year wave sausage worth useful legal winner thank yellow", "TREZOR", "2e8905819b8723fe2c1d161860e5ee1830318dbf49a83bd451cfb8440c28bd6fa457fe1296106559a3c80937a1c1069be3a3a5bd381ee6260e8d9739fce1f607"],
    [`${"abandon ".repeat(23)}art`, "TREZOR", "bda85446c68413707090a52022edd26a1c9462295029f2e60cd7c4f2bbd3097170af7a4d73245cafa9c3cca8d561a7c3de6f5d4a10be8ed2a5e608d68f92fcc8"],
    [ABANDON, "", "5eb00bbddcf069084889a8ab9155568165f5c453ccb85e70811aaed6f6da5fc19a5ac40b389cd370d086206dec8aa6c43daea6690f20ad3d8d48b2d2ce9e38e4"],
  ];
  it.each(vectors)("%s (passphrase %j)", async (m, pass, seed) => {
    expect(normalizeMnemonic(m)).toBe(m);
    expect(Buffer.from(await mnemonicToSeed(m, pass)).toString("hex")).toBe(seed);
  });
});

describe("mnemonic checks", () => {
  it("normalizes whitespace and case", () => {
    expect(normalizeMnemonic(`  ${ABANDON.toUpperCase().replace(/ /g, "\n\t ")}\n`)).toBe(ABANDON);
  });
  it("names a bad word by its position, never echoing it", () => {
    const bad = ABANDON.replace(/about$/, "abuot");
    expect(() => normalizeMnemonic(bad)).toThrow(/^word 12 of 12 is not in the BIP39 English word list$/);
    try {
      normalizeMnemonic(bad);
    } catch (e) {
      expect((e as Error).message).not.toContain("abuot");
      expect((e as { code: string; exitCode: number }).code).toBe("BAD_MNEMONIC");
      expect((e as { exitCode: number }).exitCode).toBe(2);
    }
  });
  it("refuses a wrong checksum (every word valid, one swapped)", () => {
    expect(() => normalizeMnemonic(ABANDON.replace(/about$/, "abandon"))).toThrow(/checksum does not match/);
  });
  it("refuses a word count BIP39 does not have", () => {
    expect(() => normalizeMnemonic("abandon ".repeat(11).trim())).toThrow(/has 11$/);
  });
  it("new mnemonics: 24 words by default, valid, different each time, and redacted", () => {
    const a = newMnemonic();
    const b = newMnemonic(12);
    expect(a.split(" ")).toHaveLength(24);
    expect(b.split(" ")).toHaveLength(12);
    expect(normalizeMnemonic(a)).toBe(a);
    expect(newMnemonic()).not.toBe(a);
    expect(redact(`oops: ${a}`)).toBe("oops: ***");
  });
});

describe("BIP84 test vectors (abandon … about)", () => {
  it("mainnet account m/84'/0'/0': zpub, first receive and change addresses", async () => {
    const { account, masterFingerprint } = await openMnemonic(ABANDON, "mainnet");
    expect(account.slip132).toBe(ZPUB);
    expect(account.xpub).toBe(swapVersion(ZPUB, 0x0488b21e));
    expect(account.address(RECEIVE, 0)).toBe("bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu");
    expect(account.address(RECEIVE, 1)).toBe("bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g");
    expect(account.address(CHANGE, 0)).toBe("bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el");
    expect(Buffer.from(account.publicKey(RECEIVE, 0)).toString("hex")).toBe("0330d54fd0dd420a6e5f8d3624f5f3482cae350f79d5f0753bf5beef9c2d91af3c");
    expect(masterFingerprint.toString(16)).toBe("73c5da0a");
    expect(account.path).toBe("m/84'/0'/0'");
  });
  it("the BIP84 private keys sign for the published public keys (HotSigner)", async () => {
    const { signer, account } = await openMnemonic(ABANDON, "mainnet");
    const { secp256k1 } = await import("@noble/curves/secp256k1");
    expect(Buffer.from(secp256k1.getPublicKey(signer.privateKey(CHANGE, 0), true)).toString("hex")).toBe("03025324888e429ab8e3dbaf1f7802648b9cd01e9b418485c5fa4c1b9b5700e1a6");
    expect(Buffer.from(account.publicKey(CHANGE, 0)).toString("hex")).toBe("03025324888e429ab8e3dbaf1f7802648b9cd01e9b418485c5fa4c1b9b5700e1a6");
  });
  it("test networks use coin type 1: vpub/tpub and tb1 / bcrt1 addresses", async () => {
    const testnet = await openMnemonic(ABANDON, "testnet");
    expect(testnet.account.slip132).toBe(VPUB);
    expect(testnet.account.xpub).toBe(TPUB);
    expect(testnet.account.address(RECEIVE, 0)).toBe("tb1q6rz28mcfaxtmd6v789l9rrlrusdprr9pqcpvkl");
    expect(testnet.account.path).toBe("m/84'/1'/0'");
    const regtest = await openMnemonic(ABANDON, "regtest");
    expect(regtest.account.xpub).toBe(TPUB);
    // The same key hash under regtest's prefix.
    expect(regtest.account.address(RECEIVE, 0)).toMatch(/^bcrt1q/);
    expect(regtest.account.scriptHex(RECEIVE, 0)).toBe(testnet.account.scriptHex(RECEIVE, 0));
  });
  it("derivation info carries the master fingerprint and the full path", async () => {
    const { account } = await openMnemonic(ABANDON, "testnet");
    const [pub, d] = account.derivation(CHANGE, 7);
    expect(d.fingerprint).toBe(0x73c5da0a);
    expect(d.path).toEqual([0x80000054, 0x80000001, 0x80000000, 1, 7]);
    expect(pub).toEqual(account.publicKey(CHANGE, 7));
  });
});

describe("SLIP-132 and watch-only keys", () => {
  it("zpub <-> xpub and vpub <-> tpub are version swaps of the same key", () => {
    const z = parseExtendedPublicKey(ZPUB);
    expect(z.kind).toBe("zpub");
    expect(z.family).toBe("mainnet");
    expect(z.standard).toBe(swapVersion(ZPUB, 0x0488b21e));
    expect(toSlip132(z.standard, "mainnet")).toBe(ZPUB);
    const v = parseExtendedPublicKey(VPUB);
    expect(v.standard).toBe(TPUB);
    expect(toSlip132(TPUB, "signet")).toBe(VPUB);
    expect(withVersion(TPUB, 0x045f1cf6)).toBe(VPUB);
  });
  it("a watch-only zpub gives the BIP84 addresses", () => {
    const a = Bip84Account.fromWatchOnly(ZPUB, "mainnet", "--btc-xpub");
    expect(a.address(RECEIVE, 0)).toBe("bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu");
    expect(a.address(CHANGE, 0)).toBe("bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el");
    expect(a.originKnown).toBe(false);
    expect(a.path).toBeUndefined();
    const t = Bip84Account.fromWatchOnly(TPUB, "testnet4", "--btc-xpub");
    expect(t.address(RECEIVE, 0)).toBe("tb1q6rz28mcfaxtmd6v789l9rrlrusdprr9pqcpvkl");
  });
  it("refuses a key of the other network, naming both", () => {
    expect(() => Bip84Account.fromWatchOnly(ZPUB, "regtest", "--btc-xpub")).toThrow("--btc-xpub is a mainnet key (zpub), but the Bitcoin network is regtest");
    expect(() => Bip84Account.fromWatchOnly(VPUB, "mainnet", "KEEPCTL_BTC_XPUB")).toThrow("KEEPCTL_BTC_XPUB is a test-network key (vpub), but the Bitcoin network is mainnet");
    try {
      Bip84Account.fromWatchOnly(TPUB, "mainnet", "x");
    } catch (e) {
      expect((e as { code: string }).code).toBe("BTC_NETWORK_MISMATCH");
      expect((e as { exitCode: number }).exitCode).toBe(3);
    }
  });
  it("refuses private keys (and redacts them), other script types, other depths, damaged keys", async () => {
    const { signer } = await openMnemonic(ABANDON, "mainnet");
    void signer;
    const { HDKey } = await import("@scure/bip32");
    const xprv = HDKey.fromMasterSeed(await mnemonicToSeed(ABANDON)).derive("m/84'/0'/0'").privateExtendedKey;
    expect(() => parseExtendedPublicKey(xprv)).toThrow(/extended PRIVATE key/);
    expect(redact(`got ${xprv}`)).toBe("got ***");
    const ypub = swapVersion(ZPUB, 0x049d7cb2);
    expect(() => parseExtendedPublicKey(ypub)).toThrow(/ypub \(BIP49/);
    expect(() => parseExtendedPublicKey(ZPUB.slice(0, -1) + (ZPUB.endsWith("s") ? "t" : "s"))).toThrow(/checksum does not match/);
    const master = HDKey.fromMasterSeed(await mnemonicToSeed(ABANDON)).publicExtendedKey;
    expect(() => Bip84Account.fromWatchOnly(master, "mainnet", "--btc-xpub")).toThrow(/--btc-xpub is a key at depth 0; an account key \(depth 3/);
  });
});

describe("the Bitcoin network of a run (until the data layer's btcNetwork setting)", () => {
  it("mainnet with mainnet, regtest with the devnet, testnet otherwise", () => {
    expect(defaultBtcNetwork({ network: "mainnet", chainId: 1 })).toBe("mainnet");
    expect(defaultBtcNetwork({ network: "custom", chainId: 1 })).toBe("mainnet");
    expect(defaultBtcNetwork({ network: "devnet", chainId: 31337 })).toBe("regtest");
    expect(defaultBtcNetwork({ network: "custom", chainId: 11155111 })).toBe("testnet");
  });
});
