import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decryptKeystore, encryptKeystore, keystoreAccount, parseKeystore, readKeystoreFile, SCRYPT_PARAMS, unlockKeystore, writeNewKeystore, type KeystoreFile } from "../../src/lib/btc/wallet/keystore";
import { openBtcWallet, unlockBtcWallet } from "../../src/lib/btc/wallet/wallet";
import { btcKeyFilePermProblems, keystorePassword, mnemonicInput, newKeystorePassword } from "../../src/lib/btc/wallet/secret-input";
import { CHANGE, RECEIVE } from "../../src/lib/btc/wallet/account";
import { redact } from "../../src/lib/redact";

/**
 * The hot keystore: a round trip, and every way it must refuse — a wrong password (its own code),
 * a flipped bit of ciphertext or tag, a swapped clear xpub (authenticated as GCM's additional
 * data), a file that is not ours — with the decryption redone in the test by node:crypto alone.
 */
const MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const PASSWORD = "correct horse battery staple";
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-btc-ks-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let ks: KeystoreFile;

beforeAll(async () => {
  ks = await encryptKeystore(MNEMONIC, PASSWORD, "regtest");
}, 60_000);

const clone = (k: KeystoreFile): KeystoreFile => JSON.parse(JSON.stringify(k));
const flip = (h: string, at = 0) => h.slice(0, at) + (h[at] === "0" ? "1" : "0") + h.slice(at + 1);
async function failure(p: Promise<unknown>): Promise<{ code?: string; exitCode?: number; message: string; hint?: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code?: string; exitCode?: number; message: string };
  }
  throw new Error("expected a failure");
}

describe("keystore format", () => {
  it("clear header: format, version, network, path, master fingerprint, account xpub; scrypt N=2^17 r=8 p=1", () => {
    expect(ks).toMatchObject({ format: "keepctl-btc-keystore", version: 1, network: "regtest", accountPath: "m/84'/1'/0'", masterFingerprint: "73c5da0a" });
    expect(ks.accountXpub).toBe("tpubDC8msFGeGuwnKG9Upg7DM2b4DaRqg3CUZa5g8v2SRQ6K4NSkxUgd7HsL2XVWbVm39yBA4LAxysQAm397zwQSQoQgewGiYZqrA9DsP4zbQ1M");
    expect(ks.crypto.kdfparams).toMatchObject({ n: 131072, r: 8, p: 1, dklen: 64 });
    expect(SCRYPT_PARAMS.n).toBeGreaterThanOrEqual(2 ** 17);
    expect(ks.crypto.cipher).toBe("aes-256-gcm");
    expect(JSON.stringify(ks)).not.toContain("abandon");
  });
  it("decrypts independently with node:crypto from the documented parameters", async () => {
    const k = ks.crypto.kdfparams;
    const dk = crypto.scryptSync(PASSWORD, Buffer.from(k.salt, "hex"), 64, { N: k.n, r: k.r, p: k.p, maxmem: 512 * 1024 * 1024 });
    const d = crypto.createDecipheriv("aes-256-gcm", dk.subarray(0, 32), Buffer.from(ks.crypto.iv, "hex"));
    d.setAAD(Buffer.from(JSON.stringify([ks.format, ks.version, ks.network, ks.accountPath, ks.masterFingerprint, ks.accountXpub])));
    d.setAuthTag(Buffer.from(ks.crypto.tag, "hex"));
    expect(Buffer.concat([d.update(Buffer.from(ks.crypto.ciphertext, "hex")), d.final()]).toString()).toBe(MNEMONIC);
    expect(crypto.createHash("sha256").update(dk.subarray(32)).digest("hex")).toBe(ks.crypto.passwordCheck);
  }, 30_000);
  it("random salt and IV: two encryptions of the same seed differ", async () => {
    const again = await encryptKeystore(MNEMONIC, PASSWORD, "regtest");
    expect(again.crypto.salt).toBeUndefined();
    expect(again.crypto.kdfparams.salt).not.toBe(ks.crypto.kdfparams.salt);
    expect(again.crypto.iv).not.toBe(ks.crypto.iv);
    expect(again.crypto.ciphertext).not.toBe(ks.crypto.ciphertext);
  }, 30_000);
});

describe("unlocking", () => {
  it("round trip: the mnemonic, the account and its signer", async () => {
    expect(await decryptKeystore(ks, PASSWORD, "k.json")).toBe(MNEMONIC);
    const hot = await unlockKeystore(ks, PASSWORD, "k.json");
    expect(hot.account.address(RECEIVE, 0)).toMatch(/^bcrt1q/);
    expect(hot.account.xpub).toBe(ks.accountXpub);
    hot.signer.privateKey(CHANGE, 0);
    // Every secret form met on the way is now masked.
    expect(redact(`x ${MNEMONIC} y ${PASSWORD}`)).toBe("x *** y ***");
  }, 30_000);
  it("a wrong password: WRONG_PASSWORD, exit 3, one line", async () => {
    const e = await failure(decryptKeystore(ks, "Tr0ub4dor&3", "/k/btc.json"));
    expect(e).toMatchObject({ code: "WRONG_PASSWORD", exitCode: 3, message: "wrong password for Bitcoin keystore /k/btc.json", hint: "check the password file (one line, the password only)" });
  }, 30_000);
  it.each([
    ["a ciphertext bit", (k: KeystoreFile) => { k.crypto.ciphertext = flip(k.crypto.ciphertext, 3); }],
    ["the GCM tag", (k: KeystoreFile) => { k.crypto.tag = flip(k.crypto.tag, 5); }],
    ["the IV", (k: KeystoreFile) => { k.crypto.iv = flip(k.crypto.iv); }],
    ["the clear xpub (another account's)", (k: KeystoreFile) => { k.accountXpub = "tpubDDpWvmUrPZrhSPmUzCMBHffvC3HyMAPnWDSAQNBTnj1iZeJa7BZQEttFiP4DS4GCcXQHezdXhn86Hj6LHX5EDstXPWrMaSneRWM8yUf6NFd"; }],
    ["the clear master fingerprint", (k: KeystoreFile) => { k.masterFingerprint = "00000000"; }],
    ["the network (regtest -> testnet)", (k: KeystoreFile) => { k.network = "testnet"; }],
  ])("an altered file (%s): BTC_KEYSTORE_CORRUPT, not 'wrong password'", async (_what, tamper) => {
    const k = clone(ks);
    tamper(k);
    const e = await failure(unlockKeystore(parseKeystore(JSON.stringify(k), "k.json"), PASSWORD, "k.json"));
    expect(e).toMatchObject({ code: "BTC_KEYSTORE_CORRUPT", exitCode: 3, message: "Bitcoin keystore k.json was altered after it was written: its contents do not authenticate" });
  }, 30_000);
  it("watch-only side from the clear header, no password; the network family is checked", () => {
    const a = keystoreAccount(ks, "regtest", "k.json");
    expect(a.origin).toEqual({ fingerprint: 0x73c5da0a, path: [0x80000054, 0x80000001, 0x80000000] });
    expect(() => keystoreAccount(ks, "mainnet", "k.json")).toThrow("Bitcoin keystore k.json is a test-network key (tpub), but the Bitcoin network is mainnet");
  });
});

describe("files", () => {
  it("written 0600, never over an existing file", () => {
    const file = path.join(dir, "sub", "btc.json");
    writeNewKeystore(file, ks);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    const before = fs.readFileSync(file, "utf8");
    expect(() => writeNewKeystore(file, ks)).toThrow(`Bitcoin keystore ${file} already exists; keepctl never writes over it`);
    expect(fs.readFileSync(file, "utf8")).toBe(before);
    expect(readKeystoreFile(file)).toEqual(ks);
    expect(fs.readdirSync(path.dirname(file))).toEqual(["btc.json"]);
  });
  it("refuses files that are not ours, naming the reason", () => {
    const notOurs = (text: string) => { try { parseKeystore(text, "f.json"); } catch (e) { return e as { code: string; message: string; hint: string }; } throw new Error("accepted"); };
    expect(notOurs("nope")).toMatchObject({ code: "BTC_KEYSTORE_INVALID", message: "f.json is not a keepctl Bitcoin keystore (not JSON)" });
    expect(notOurs("[1]").message).toMatch(/not a JSON object/);
    const eth = notOurs(JSON.stringify({ address: "abc", crypto: { cipher: "aes-128-ctr" }, version: 3 }));
    expect(eth.message).toBe("f.json is not a keepctl Bitcoin keystore (it looks like an Ethereum keystore)");
    expect(eth.hint).toMatch(/goes to --keystore/);
    expect(notOurs(JSON.stringify({ ...ks, version: 2 })).message).toBe("Bitcoin keystore f.json has format version 2; this keepctl reads version 1");
    expect(notOurs(JSON.stringify({ ...ks, crypto: { ...ks.crypto, kdfparams: { ...ks.crypto.kdfparams, n: 1024 } } })).message).toBe("Bitcoin keystore f.json is damaged: bad crypto.kdfparams");
    expect(notOurs(JSON.stringify({ ...ks, crypto: { ...ks.crypto, kdfparams: { ...ks.crypto.kdfparams, n: 2 ** 30 } } })).message).toMatch(/bad crypto\.kdfparams/);
    expect(notOurs(JSON.stringify({ ...ks, accountPath: "m/84'/0'/0'" })).message).toMatch(/bad accountPath/);
    expect(notOurs(JSON.stringify({ ...ks, network: "litecoin" })).message).toMatch(/bad network/);
    expect(notOurs(JSON.stringify({ ...ks, crypto: { ...ks.crypto, tag: "zz" } })).message).toMatch(/bad crypto\.iv\/tag/);
    expect(() => readKeystoreFile(path.join(dir, "missing.json"))).toThrow(/does not exist/);
  });
  it("mode checks: open to others is a warning, or an error under --strict-perms", () => {
    const file = path.join(dir, "open.json");
    fs.writeFileSync(file, JSON.stringify(ks));
    fs.chmodSync(file, 0o644);
    expect(btcKeyFilePermProblems({ keystore: file })).toEqual([`Bitcoin keystore ${file} is open to group/others (mode 0644); run chmod 600 on it`]);
    const warned: string[] = [];
    expect(openBtcWallet({ keystore: file }, "regtest", (m) => warned.push(m)).kind).toBe("hot");
    expect(warned).toHaveLength(1);
    expect(() => openBtcWallet({ keystore: file, strictPerms: true }, "regtest", () => undefined)).toThrow(/open to group\/others \(mode 0644\)/);
    fs.chmodSync(file, 0o600);
    expect(btcKeyFilePermProblems({ keystore: file })).toEqual([]);
  });
});

describe("passwords and mnemonics from files or prompts", () => {
  it("the password file: one trailing newline stripped, spaces kept; the prompt off a terminal refused", async () => {
    const pw = path.join(dir, "pw");
    fs.writeFileSync(pw, " spaced out \n");
    expect(await keystorePassword({ interactive: false, passwordFile: pw, keystore: "k" })).toBe(" spaced out ");
    await expect(keystorePassword({ interactive: false, keystore: "k" })).rejects.toThrow("the Bitcoin keystore needs a password and there is no terminal to ask for it");
    expect(await keystorePassword({ interactive: true, keystore: "k", prompt: async (m) => (m === "Password for Bitcoin keystore k:" ? "typed" : "?") })).toBe("typed");
  });
  it("a new password is typed twice and must be long enough", async () => {
    const answers = ["a long enough one", "a long enough one"];
    expect(await newKeystorePassword({ interactive: true, keystore: "k", prompt: async () => answers.shift()! })).toBe("a long enough one");
    const differ = ["a long enough one", "another long one"];
    await expect(newKeystorePassword({ interactive: true, keystore: "k", prompt: async () => differ.shift()! })).rejects.toThrow("the two passwords differ; nothing was written");
    const short = path.join(dir, "short");
    fs.writeFileSync(short, "1234567\n");
    await expect(newKeystorePassword({ interactive: false, passwordFile: short, keystore: "k" })).rejects.toThrow(/at least 8 characters/);
    await expect(newKeystorePassword({ interactive: false, keystore: "k" })).rejects.toThrow(/no terminal/);
  });
  it("the mnemonic from a file or the prompt, never otherwise", async () => {
    const m = path.join(dir, "m.txt");
    fs.writeFileSync(m, `${MNEMONIC}\n`);
    expect(await mnemonicInput({ interactive: false, mnemonicFile: m })).toBe(MNEMONIC);
    expect(await mnemonicInput({ interactive: true, prompt: async () => ` ${MNEMONIC} ` })).toBe(MNEMONIC);
    await expect(mnemonicInput({ interactive: false })).rejects.toThrow(/there is no terminal/);
    await expect(mnemonicInput({ interactive: false, mnemonicFile: path.join(dir, "none") })).rejects.toThrow(/cannot be read/);
  });
  it("unlockBtcWallet: a watch-only wallet has nothing to unlock", async () => {
    const w = openBtcWallet({ xpub: ks.accountXpub }, "regtest", () => undefined);
    await expect(unlockBtcWallet(w, {}, { interactive: false })).rejects.toThrow(/watch-only: it has no key to sign with/);
    expect(() => openBtcWallet({ xpub: ks.accountXpub, keystore: "k" }, "regtest", () => undefined)).toThrow(/both a Bitcoin keystore and a watch-only key/);
    expect(() => openBtcWallet({}, "regtest", () => undefined)).toThrow("no Bitcoin wallet configured");
  });
});
