import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { ConfigError, UsageError } from "../../errors";
import { ensurePrivateDir, PRIVATE_FILE_MODE } from "../../fs-safe";
import { registerSecret } from "../../redact";
import { Bip84Account, openMnemonic, type HotAccount } from "./account";
import { parseExtendedPublicKey } from "./extended-key";
import { bip84AccountPath, formatPath, isBtcNetwork, type BtcNetwork } from "./network";

/**
 * The hot wallet's keystore: a BIP39 mnemonic encrypted with a key stretched from a password.
 *
 * - KDF: scrypt, N = 2^17, r = 8, p = 1 (ethers' default keystore cost: ~128 MiB and a few
 *   tenths of a second per try), a random 32-byte salt, 64 bytes out: the first 32 are the
 *   AES-256-GCM key, the last 32 hashed (SHA-256) into `passwordCheck`, which tells a wrong
 *   password from a file altered after it was written.
 * - Cipher: AES-256-GCM, random 12-byte IV, 16-byte tag; the clear header (format, version,
 *   network, account path, master fingerprint, account xpub) is its additional authenticated data,
 *   so a changed xpub fails to decrypt rather than redirecting deposits.
 * - In clear: the account xpub and its origin, so watch-only work (addresses, PSBTs) needs no password.
 * Written 0600 and never over an existing file.
 */
export const KEYSTORE_FORMAT = "keepctl-btc-keystore";
export const KEYSTORE_VERSION = 1;
export const SCRYPT_PARAMS = { n: 2 ** 17, r: 8, p: 1, dklen: 64 } as const;

export interface KeystoreHeader {
  format: typeof KEYSTORE_FORMAT;
  version: typeof KEYSTORE_VERSION;
  network: BtcNetwork;
  /** m/84'/0'/0' or m/84'/1'/0'. */
  accountPath: string;
  /** 8 hex digits. */
  masterFingerprint: string;
  /** The account's xpub/tpub (BIP32 versions). */
  accountXpub: string;
}

export interface KeystoreFile extends KeystoreHeader {
  crypto: {
    kdf: "scrypt";
    kdfparams: { n: number; r: number; p: number; dklen: number; salt: string };
    cipher: "aes-256-gcm";
    iv: string;
    ciphertext: string;
    tag: string;
    passwordCheck: string;
  };
}

const scrypt = promisify(crypto.scrypt) as (password: string | Buffer, salt: Buffer, keylen: number, options: crypto.ScryptOptions) => Promise<Buffer>;

function deriveKey(password: string, salt: Buffer, k: { n: number; r: number; p: number; dklen: number }): Promise<Buffer> {
  registerSecret(password);
  // Node's default scrypt memory limit (32 MiB) is below N = 2^17 (128 MiB).
  return scrypt(Buffer.from(password.normalize("NFKC"), "utf8"), salt, k.dklen, { N: k.n, r: k.r, p: k.p, maxmem: 256 * k.n * k.r * k.p });
}

function aad(h: KeystoreHeader): Buffer {
  return Buffer.from(JSON.stringify([h.format, h.version, h.network, h.accountPath, h.masterFingerprint, h.accountXpub]), "utf8");
}

const check = (dk: Buffer) => crypto.createHash("sha256").update(dk.subarray(32, 64)).digest("hex");

/** Encrypts a mnemonic (already checked) for `network`. */
export async function encryptKeystore(mnemonic: string, password: string, network: BtcNetwork): Promise<KeystoreFile> {
  const hot = await openMnemonic(mnemonic, network);
  hot.signer.wipe();
  const header: KeystoreHeader = {
    format: KEYSTORE_FORMAT,
    version: KEYSTORE_VERSION,
    network,
    accountPath: formatPath(bip84AccountPath(network)),
    masterFingerprint: hot.masterFingerprint.toString(16).padStart(8, "0"),
    accountXpub: hot.account.xpub,
  };
  const salt = crypto.randomBytes(32);
  const iv = crypto.randomBytes(12);
  const dk = await deriveKey(password, salt, SCRYPT_PARAMS);
  const cipher = crypto.createCipheriv("aes-256-gcm", dk.subarray(0, 32), iv);
  cipher.setAAD(aad(header));
  const ciphertext = Buffer.concat([cipher.update(mnemonic, "utf8"), cipher.final()]);
  const passwordCheck = check(dk);
  dk.fill(0);
  return {
    ...header,
    crypto: {
      kdf: "scrypt",
      kdfparams: { ...SCRYPT_PARAMS, salt: salt.toString("hex") },
      cipher: "aes-256-gcm",
      iv: iv.toString("hex"),
      ciphertext: ciphertext.toString("hex"),
      tag: cipher.getAuthTag().toString("hex"),
      passwordCheck,
    },
  };
}

function notOurs(file: string, why: string, looksEthereum = false): ConfigError {
  return new ConfigError(`${file} is not a keepctl Bitcoin keystore (${why})`, {
    code: "BTC_KEYSTORE_INVALID",
    hint: looksEthereum ? "that is an Ethereum keystore: it goes to --keystore; create a Bitcoin one with `keepctl btc-wallet create`" : "point --btc-keystore at a file written by `keepctl btc-wallet create` or `import`",
  });
}

const isHex = (s: unknown, bytes?: number): boolean => typeof s === "string" && /^([0-9a-f]{2})+$/.test(s) && (bytes === undefined || s.length === bytes * 2);

/** Checks the shape of a keystore document; every refusal names the file and what is wrong. */
export function parseKeystore(text: string, file: string): KeystoreFile {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw notOurs(file, "not JSON");
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw notOurs(file, "not a JSON object");
  if (doc.format !== KEYSTORE_FORMAT) {
    const eth = typeof doc.address === "string" && (typeof doc.crypto === "object" || typeof doc.Crypto === "object");
    throw notOurs(file, eth ? "it looks like an Ethereum keystore" : "no \"format\": \"keepctl-btc-keystore\"", eth);
  }
  if (doc.version !== KEYSTORE_VERSION) {
    throw new ConfigError(`Bitcoin keystore ${file} has format version ${String(doc.version)}; this keepctl reads version ${KEYSTORE_VERSION}`, { code: "BTC_KEYSTORE_INVALID", hint: "use the keepctl version that wrote it" });
  }
  const c = doc.crypto as KeystoreFile["crypto"] | undefined;
  const k = c?.kdfparams;
  const problems: string[] = [];
  if (typeof doc.network !== "string" || !isBtcNetwork(doc.network)) problems.push("network");
  if (typeof doc.masterFingerprint !== "string" || !/^[0-9a-f]{8}$/.test(doc.masterFingerprint)) problems.push("masterFingerprint");
  if (typeof doc.accountXpub !== "string") problems.push("accountXpub");
  if (typeof doc.network === "string" && isBtcNetwork(doc.network) && doc.accountPath !== formatPath(bip84AccountPath(doc.network))) problems.push("accountPath");
  if (!c || c.kdf !== "scrypt" || c.cipher !== "aes-256-gcm") problems.push("crypto.kdf/cipher");
  if (!k || !isHex(k.salt, 32) || !scryptParamsOk(k)) problems.push("crypto.kdfparams");
  if (c && (!isHex(c.iv, 12) || !isHex(c.tag, 16) || !isHex(c.ciphertext) || !isHex(c.passwordCheck, 32))) problems.push("crypto.iv/tag/ciphertext/passwordCheck");
  if (problems.length) throw new ConfigError(`Bitcoin keystore ${file} is damaged: bad ${problems.join(", ")}`, { code: "BTC_KEYSTORE_INVALID", hint: "restore it from a backup, or import the mnemonic again" });
  return doc as unknown as KeystoreFile;
}

/** Our parameters or stronger, within a memory bound (a crafted file must not exhaust the machine). */
function scryptParamsOk(k: { n: number; r: number; p: number; dklen: number }): boolean {
  const pow2 = Number.isInteger(k.n) && k.n >= SCRYPT_PARAMS.n && k.n <= 2 ** 20 && (k.n & (k.n - 1)) === 0;
  return pow2 && Number.isInteger(k.r) && k.r >= 8 && k.r <= 32 && Number.isInteger(k.p) && k.p >= 1 && k.p <= 16 && k.dklen === 64 && 128 * k.n * k.r * k.p <= 2 ** 30;
}

export function readKeystoreFile(file: string): KeystoreFile {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(`Bitcoin keystore ${file} ${code === "ENOENT" ? "does not exist" : "cannot be read"}`, { hint: "pass --btc-keystore <file> (env KEEPCTL_BTC_KEYSTORE); create one with `keepctl btc-wallet create`" });
  }
  return parseKeystore(text, file);
}

/** The mnemonic inside; a wrong password and a file altered since it was written are told apart. */
export async function decryptKeystore(ks: KeystoreFile, password: string, file: string): Promise<string> {
  const k = ks.crypto.kdfparams;
  const dk = await deriveKey(password, Buffer.from(k.salt, "hex"), k);
  try {
    if (!crypto.timingSafeEqual(Buffer.from(check(dk), "hex"), Buffer.from(ks.crypto.passwordCheck, "hex"))) {
      throw new ConfigError(`wrong password for Bitcoin keystore ${file}`, { code: "WRONG_PASSWORD", hint: "check the password file (one line, the password only)" });
    }
    const decipher = crypto.createDecipheriv("aes-256-gcm", dk.subarray(0, 32), Buffer.from(ks.crypto.iv, "hex"));
    decipher.setAAD(aad(ks));
    decipher.setAuthTag(Buffer.from(ks.crypto.tag, "hex"));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(Buffer.from(ks.crypto.ciphertext, "hex")), decipher.final()]);
    } catch {
      throw altered(file);
    }
    const mnemonic = plain.toString("utf8");
    plain.fill(0);
    registerSecret(mnemonic);
    return mnemonic;
  } finally {
    dk.fill(0);
  }
}

function altered(file: string): ConfigError {
  return new ConfigError(`Bitcoin keystore ${file} was altered after it was written: its contents do not authenticate`, { code: "BTC_KEYSTORE_CORRUPT", hint: "restore it from a backup, or import the mnemonic again" });
}

/** Decrypts and opens the hot wallet; the seed must derive the xpub the file shows in clear. */
export async function unlockKeystore(ks: KeystoreFile, password: string, file: string): Promise<HotAccount> {
  const mnemonic = await decryptKeystore(ks, password, file);
  const hot = await openMnemonic(mnemonic, ks.network);
  if (hot.account.xpub !== ks.accountXpub || hot.masterFingerprint.toString(16).padStart(8, "0") !== ks.masterFingerprint) {
    hot.signer.wipe();
    throw altered(file);
  }
  return hot;
}

/** The watch-only side from the clear header: no password. */
export function keystoreAccount(ks: KeystoreFile, network: BtcNetwork, file: string): Bip84Account {
  const key = parseExtendedPublicKey(ks.accountXpub);
  const source = `Bitcoin keystore ${file}`;
  return Bip84Account.fromParsedKey(network, key, { fingerprint: parseInt(ks.masterFingerprint, 16) >>> 0, path: bip84AccountPath(ks.network) }, source);
}

/** Writes a new keystore 0600; an existing file is never replaced (it may hold the only copy of a seed). */
export function writeNewKeystore(file: string, ks: KeystoreFile): void {
  writeNewPrivateFile(file, JSON.stringify(ks, null, 2) + "\n", "Bitcoin keystore");
}

/** A new 0600 file, refused when `file` exists: written to a temp file, then linked (atomic, never clobbers). */
export function writeNewPrivateFile(file: string, data: string, what: string): void {
  if (fs.existsSync(file)) throw new UsageError(`${what} ${file} already exists; keepctl never writes over it`, { hint: "choose another path, or move the old file aside yourself" });
  ensurePrivateDir(path.dirname(file));
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    fs.writeFileSync(tmp, data, { mode: PRIVATE_FILE_MODE, flag: "wx" });
    fs.chmodSync(tmp, PRIVATE_FILE_MODE);
    try {
      fs.linkSync(tmp, file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new UsageError(`${what} ${file} already exists; keepctl never writes over it`, { hint: "choose another path, or move the old file aside yourself" });
      throw e;
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}
