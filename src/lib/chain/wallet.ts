import fs from "node:fs";
import { secretFilePermProblems } from "../file-perms";
import { Wallet, type Provider } from "ethers";
import { ConfigError } from "../errors";
import { registerSecret } from "../redact";

export interface LoadWalletOptions {
  /** Encrypted JSON keystore (geth / ethers / MyCrypto format). */
  keystorePath?: string;
  /** File holding the keystore password; one trailing newline is ignored. */
  passwordFile?: string;
  /** Raw hex key, for CI only; config.ts reads it from the environment and passes it here. */
  privateKeyFromEnv?: string;
  /** True when stdin/stderr are a TTY and a hidden prompt may be shown. */
  interactive: boolean;
  /** Asks for a hidden answer; defaults to an @inquirer/password prompt on stderr. */
  prompt?: (msg: string) => Promise<string>;
  /**
   * When given, the keystore's and password file's modes are checked before they are read:
   * open to group/others -> onWarning, or a ConfigError when strictPerms is true.
   */
  onWarning?: (msg: string) => void;
  strictPerms?: boolean;
}

/** Mode bits that let anyone but the owner read or change a secret file. */

/** What is wrong with the key files' modes, one sentence each (files that cannot be stat'ed are skipped: reading them reports that). */
export function keyFilePermProblems(files: { keystore?: string; passwordFile?: string }): string[] {
  return secretFilePermProblems([["keystore", files.keystore], ["password file", files.passwordFile]]);
}

/**
 * A keystore or password file that others can read is a leak waiting to happen: a warning, or
 * with --strict-perms / KEEPCTL_STRICT_PERMS a ConfigError before the key is read.
 */
export function checkKeyFilePerms(s: { keystore?: string; passwordFile?: string; strictPerms?: boolean }, warn: (msg: string) => void): void {
  const problems = keyFilePermProblems(s);
  if (problems.length === 0) return;
  if (s.strictPerms) throw new ConfigError(problems[0], { hint: "chmod 600 the file, or drop --strict-perms / KEEPCTL_STRICT_PERMS to only warn" });
  for (const p of problems) warn(p);
}

/**
 * The signing wallet, connected to `provider`. Order: raw key from env (CI), else the keystore
 * with its password from a file or a hidden prompt. Secrets are registered for redaction as soon
 * as they are read, and no message built here ever contains them.
 */
export async function loadWallet(opts: LoadWalletOptions, provider: Provider | null): Promise<Wallet> {
  // config.ts keeps only one key source (see its key-source rule); two here would mean a caller
  // bypassed it, and signing with either could be the wrong account.
  if (opts.privateKeyFromEnv && opts.keystorePath) {
    throw new ConfigError("both a keystore and KEEPCTL_PRIVATE_KEY were given; refusing to guess which account signs", { hint: "set only one" });
  }
  if (opts.privateKeyFromEnv) return fromRawKey(opts.privateKeyFromEnv, provider);
  if (!opts.keystorePath) {
    throw new ConfigError("no signing key configured", {
      hint: "pass --keystore <file> (env KEEPCTL_KEYSTORE), or set KEEPCTL_PRIVATE_KEY for CI",
    });
  }
  if (opts.onWarning || opts.strictPerms) {
    checkKeyFilePerms({ keystore: opts.keystorePath, passwordFile: opts.passwordFile, strictPerms: opts.strictPerms }, opts.onWarning ?? (() => undefined));
  }
  const json = readKeystore(opts.keystorePath);
  const password = await readPassword(opts);
  registerSecret(password);
  let wallet: Wallet;
  try {
    const decrypted = await Wallet.fromEncryptedJson(json, password);
    registerSecret(decrypted.privateKey);
    wallet = new Wallet(decrypted.privateKey, provider);
  } catch (e) {
    if (isWrongPassword(e)) {
      throw new ConfigError(`wrong password for keystore ${opts.keystorePath}`, { hint: "check the password file (one line, the password only)" });
    }
    throw new ConfigError(`cannot decrypt keystore ${opts.keystorePath}: not a valid encrypted JSON keystore`, {
      hint: "create one with `cast wallet import` or geth, or point --keystore at the right file",
    });
  }
  return wallet;
}

/** The order of secp256k1: a private key is in [1, n - 1]. */
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

function fromRawKey(raw: string, provider: Provider | null): Wallet {
  const key = raw.trim();
  registerSecret(key);
  registerSecret(key.startsWith("0x") ? key.slice(2) : `0x${key}`);
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(key)) {
    throw new ConfigError("KEEPCTL_PRIVATE_KEY is not a 32-byte hex key", { hint: "use 64 hex characters, with or without 0x" });
  }
  // 64 hex digits can still be no key at all: zero, or at/above the curve order (ethers would
  // throw an untyped error, reported as an internal bug). Checked here so it is a config error.
  const k = BigInt(key.startsWith("0x") ? key : `0x${key}`);
  if (k === 0n || k >= SECP256K1_N) {
    throw new ConfigError("KEEPCTL_PRIVATE_KEY is not a valid secp256k1 key (zero, or not below the curve order)", { hint: "use 64 hex characters of a real key, with or without 0x" });
  }
  return new Wallet(key.startsWith("0x") ? key : `0x${key}`, provider);
}

function readKeystore(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(`keystore ${file} ${code === "ENOENT" ? "does not exist" : "cannot be read"}`, {
      hint: "pass --keystore <file> with the path of an encrypted JSON keystore",
    });
  }
}

async function readPassword(opts: LoadWalletOptions): Promise<string> {
  if (opts.passwordFile) {
    let text: string;
    try {
      text = fs.readFileSync(opts.passwordFile, "utf8");
    } catch {
      throw new ConfigError(`password file ${opts.passwordFile} cannot be read`, { hint: "check --password-file (env KEEPCTL_PASSWORD_FILE)" });
    }
    // Editors add a trailing newline; everything else (spaces included) is part of the password.
    return text.replace(/\r?\n$/, "");
  }
  if (!opts.interactive) {
    throw new ConfigError("the keystore needs a password and there is no terminal to ask for it", {
      hint: "pass --password-file <file> (env KEEPCTL_PASSWORD_FILE)",
    });
  }
  const ask = opts.prompt ?? passwordPrompt;
  return ask(`Password for keystore ${opts.keystorePath}:`);
}

async function passwordPrompt(message: string): Promise<string> {
  // Loaded lazily: only needed on a TTY. Prompt on stderr so stdout stays data.
  const { default: password } = await import("@inquirer/password");
  return password({ message, mask: "*" }, { output: process.stderr });
}

function isWrongPassword(e: unknown): boolean {
  const msg = e instanceof Error ? e.message : String(e);
  return /incorrect password|invalid password/i.test(msg);
}
