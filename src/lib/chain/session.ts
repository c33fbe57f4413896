import type { Provider, Wallet } from "ethers";
import { settingOf, type Config } from "../config";
import { Journal, acquireAccountLock, type AccountLock } from "../journal";
import { loadWallet } from "./wallet";

/**
 * The signing side every sending command opens the same way (redeem, watch, the EMP bots): the
 * wallet from the configured key or keystore, the per-account lock, and the journal.
 */
export interface SigningAccount {
  wallet: Wallet;
  journal: Journal;
  lock?: AccountLock;
}

export interface SigningAccountOptions {
  interactive: boolean;
  prompt?: (msg: string) => Promise<string>;
  /** Take the per-account lock; --dry-run sends nothing, so it may run beside a live process. */
  lock: boolean;
}

export async function openSigningAccount(cfg: Config, o: SigningAccountOptions, provider: Provider): Promise<SigningAccount> {
  const wallet = await loadWallet(
    {
      keystorePath: settingOf<string | undefined>(cfg, "keystore"),
      passwordFile: settingOf<string | undefined>(cfg, "passwordFile"),
      privateKeyFromEnv: settingOf<string | undefined>(cfg, "privateKey"),
      interactive: o.interactive,
      prompt: o.prompt,
    },
    provider,
  );
  const lock = o.lock ? acquireAccountLock(cfg.dataDir, wallet.address) : undefined;
  try {
    return { wallet, lock, journal: Journal.open(cfg.dataDir) };
  } catch (e) {
    lock?.release();
    throw e;
  }
}
