import fs from "node:fs";
import { secretFilePermProblems } from "../../file-perms";
import { generateMnemonic as bip39Generate, validateMnemonic } from "@scure/bip39";
import { wordlist } from "@scure/bip39/wordlists/english";
import { ConfigError, ExitCode, InterruptedError, KeepctlError, UsageError } from "../../errors";
import { registerSecret } from "../../redact";

/**
 * Where the wallet's secrets come from, mirroring the Ethereum keystore (src/lib/chain/wallet.ts):
 * a password file (one trailing newline ignored) or a hidden prompt on a terminal, never argv;
 * the mnemonic from a file or the hidden prompt. Each secret is registered for redaction as soon
 * as it is read, and no message built here contains one (a bad mnemonic word is named by its
 * position, never echoed).
 */
export interface SecretPrompt {
  /** True when stdin and stderr are a terminal. */
  interactive: boolean;
  /** Asks for a hidden answer; defaults to an @inquirer/password prompt on stderr. */
  prompt?: (message: string) => Promise<string>;
}

export const MIN_NEW_PASSWORD = 8;


/** What is wrong with the modes of the wallet's secret files, one sentence each (as keyFilePermProblems for Ethereum). */
export function btcKeyFilePermProblems(files: { keystore?: string; passwordFile?: string; mnemonicFile?: string }): string[] {
  return secretFilePermProblems([["Bitcoin keystore", files.keystore], ["Bitcoin password file", files.passwordFile], ["mnemonic file", files.mnemonicFile]]);
}

/** A warning each, or with --strict-perms a ConfigError before any secret is read. */
export function checkBtcKeyFilePerms(s: { keystore?: string; passwordFile?: string; mnemonicFile?: string; strictPerms?: boolean }, warn: (msg: string) => void): void {
  const problems = btcKeyFilePermProblems(s);
  if (problems.length === 0) return;
  if (s.strictPerms) throw new ConfigError(problems[0], { hint: "chmod 600 the file, or drop --strict-perms / KEEPCTL_STRICT_PERMS to only warn" });
  for (const p of problems) warn(p);
}

async function inquirerPassword(message: string): Promise<string> {
  // Loaded lazily: only needed on a terminal. The prompt is on stderr so stdout stays data.
  const { default: password } = await import("@inquirer/password");
  try {
    return await password({ message, mask: "*" }, { output: process.stderr });
  } catch (e) {
    // Ctrl-C or the end of input at the prompt: the operator stopped, nothing was written.
    if ((e as Error).name === "ExitPromptError") throw new InterruptedError("the prompt was closed before it was answered; nothing was written");
    throw e;
  }
}

function readPasswordFile(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    throw new ConfigError(`Bitcoin password file ${file} cannot be read`, { hint: "check --btc-password-file (env KEEPCTL_BTC_PASSWORD_FILE)" });
  }
  // Editors add a trailing newline; everything else (spaces included) is part of the password.
  const password = text.replace(/\r?\n$/, "");
  registerSecret(password);
  return password;
}

/** The password that unlocks an existing keystore. */
export async function keystorePassword(o: SecretPrompt & { passwordFile?: string; keystore: string }): Promise<string> {
  if (o.passwordFile) return readPasswordFile(o.passwordFile);
  if (!o.interactive) {
    throw new ConfigError("the Bitcoin keystore needs a password and there is no terminal to ask for it", { hint: "pass --btc-password-file <file> (env KEEPCTL_BTC_PASSWORD_FILE)" });
  }
  const password = await (o.prompt ?? inquirerPassword)(`Password for Bitcoin keystore ${o.keystore}:`);
  registerSecret(password);
  return password;
}

/** The password for a new keystore: from the file, or typed twice on a terminal. */
export async function newKeystorePassword(o: SecretPrompt & { passwordFile?: string; keystore: string }): Promise<string> {
  let password: string;
  if (o.passwordFile) {
    password = readPasswordFile(o.passwordFile);
  } else {
    if (!o.interactive) {
      throw new ConfigError("a new Bitcoin keystore needs a password and there is no terminal to ask for it", { hint: "pass --btc-password-file <file> (env KEEPCTL_BTC_PASSWORD_FILE)" });
    }
    const ask = o.prompt ?? inquirerPassword;
    password = await ask(`New password for Bitcoin keystore ${o.keystore}:`);
    registerSecret(password);
    const again = await ask("The same password again:");
    if (again !== password) throw new UsageError("the two passwords differ; nothing was written", { hint: "run the command again" });
  }
  if ([...password].length < MIN_NEW_PASSWORD) {
    throw new UsageError(`the keystore password must have at least ${MIN_NEW_PASSWORD} characters; nothing was written`, { hint: "use a long passphrase; it protects the seed if the file leaks" });
  }
  return password;
}

function badMnemonic(message: string): KeepctlError {
  return new KeepctlError("BAD_MNEMONIC", ExitCode.USAGE, message, { hint: "check the words against the written copy: English BIP39 words, 12 to 24 of them, in order" });
}

/**
 * A mnemonic as typed or stored: lowercase English BIP39 words separated by any whitespace,
 * normalized to single spaces, with the word count and checksum checked.
 */
export function normalizeMnemonic(text: string): string {
  registerSecret(text.trim());
  const words = text.normalize("NFKD").trim().toLowerCase().split(/\s+/).filter((w) => w !== "");
  const phrase = words.join(" ");
  registerSecret(phrase);
  if (![12, 15, 18, 21, 24].includes(words.length)) throw badMnemonic(`a BIP39 mnemonic has 12, 15, 18, 21 or 24 words; this one has ${words.length}`);
  const bad = words.findIndex((w) => !wordlist.includes(w));
  if (bad >= 0) throw badMnemonic(`word ${bad + 1} of ${words.length} is not in the BIP39 English word list`);
  if (!validateMnemonic(phrase, wordlist)) throw badMnemonic(`the mnemonic's checksum does not match: a word is wrong or the words are out of order`);
  return phrase;
}

/** A new mnemonic from the system's random source: 24 words (256 bits) by default. */
export function newMnemonic(words: 12 | 24 = 24): string {
  const phrase = bip39Generate(wordlist, words === 24 ? 256 : 128);
  registerSecret(phrase);
  return phrase;
}

/** The mnemonic to import: from a file, or the hidden prompt on a terminal. */
export async function mnemonicInput(o: SecretPrompt & { mnemonicFile?: string }): Promise<string> {
  if (o.mnemonicFile) {
    let text: string;
    try {
      text = fs.readFileSync(o.mnemonicFile, "utf8");
    } catch {
      throw new ConfigError(`mnemonic file ${o.mnemonicFile} cannot be read`, { hint: "check --mnemonic-file" });
    }
    return normalizeMnemonic(text);
  }
  if (!o.interactive) {
    throw new UsageError("the mnemonic to import is read from a file or typed on a terminal, and there is no terminal", { hint: "pass --mnemonic-file <file> (mode 0600; never on the command line)" });
  }
  const typed = await (o.prompt ?? inquirerPassword)("Mnemonic (the words, separated by spaces):");
  return normalizeMnemonic(typed);
}
