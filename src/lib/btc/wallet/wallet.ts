import { ConfigError, UsageError } from "../../errors";
import { Bip84Account, type HotAccount } from "./account";
import { keystoreAccount, readKeystoreFile, unlockKeystore, type KeystoreFile } from "./keystore";
import type { BtcNetwork } from "./network";
import { checkBtcKeyFilePerms, keystorePassword, type SecretPrompt } from "./secret-input";

/**
 * The configured wallet, opened as far as a task needs: the public side (addresses, PSBTs) from
 * the keystore's clear header or a watch-only key, without a password; the private side only for
 * hot signing.
 */
export interface BtcWalletSettings {
  keystore?: string;
  passwordFile?: string;
  /** Watch-only: an xpub/tpub/zpub/vpub or a wpkh(...) descriptor. */
  xpub?: string;
  /** Where `xpub` came from, for messages (`--btc-xpub`, `KEEPCTL_BTC_XPUB`, ...). */
  xpubOrigin?: string;
  strictPerms?: boolean;
}

export type OpenedWallet =
  | { kind: "hot"; account: Bip84Account; keystore: KeystoreFile; file: string }
  | { kind: "watch-only"; account: Bip84Account };

function oneSource(s: BtcWalletSettings): "keystore" | "xpub" {
  if (s.keystore && s.xpub) {
    throw new UsageError("both a Bitcoin keystore and a watch-only key (--btc-xpub) were given; refusing to guess which wallet is meant", { hint: "set only one of --btc-keystore (KEEPCTL_BTC_KEYSTORE) and --btc-xpub (KEEPCTL_BTC_XPUB)" });
  }
  if (s.keystore) return "keystore";
  if (s.xpub) return "xpub";
  throw new ConfigError("no Bitcoin wallet configured", { hint: "pass --btc-keystore <file> (a hot wallet: `keepctl btc-wallet create`) or --btc-xpub <xpub|descriptor> (watch-only)" });
}

export function openBtcWallet(s: BtcWalletSettings, network: BtcNetwork, warn: (msg: string) => void): OpenedWallet {
  if (oneSource(s) === "xpub") return { kind: "watch-only", account: Bip84Account.fromWatchOnly(s.xpub!, network, s.xpubOrigin ?? "--btc-xpub") };
  const file = s.keystore!;
  checkBtcKeyFilePerms({ keystore: file, passwordFile: s.passwordFile, strictPerms: s.strictPerms }, warn);
  const keystore = readKeystoreFile(file);
  return { kind: "hot", account: keystoreAccount(keystore, network, file), keystore, file };
}

/** The hot wallet's signer: the keystore unlocked with its password (file, or the hidden prompt). */
export async function unlockBtcWallet(w: OpenedWallet, s: BtcWalletSettings, prompt: SecretPrompt): Promise<HotAccount> {
  if (w.kind !== "hot") throw new ConfigError("the Bitcoin wallet is watch-only: it has no key to sign with", { hint: "write the transaction as a PSBT for the signer, or configure --btc-keystore" });
  const password = await keystorePassword({ ...prompt, passwordFile: s.passwordFile, keystore: w.file });
  return unlockKeystore(w.keystore, password, w.file);
}
