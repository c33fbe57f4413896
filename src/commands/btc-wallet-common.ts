import type { Command } from "commander";
import type { Config } from "../lib/config";
import type { Output } from "../lib/output";
import { walletBtcNetwork, type BtcNetwork, type BtcWalletSettings } from "../lib/btc/wallet";
import { globalsOf, loadCommandConfig, outputOf } from "./common";

/** What the `btc-wallet` subcommands share: their wallet options, settings and network. */
export const interactive = () => !!process.stdin.isTTY && !!process.stderr.isTTY;

/**
 * The Bitcoin network of this run: `btcNetwork` when it was set anywhere (flag, env, config, the
 * mainnet preset, the deployment's bitcoin.network), else the Ethereum side's pairing (mainnet
 * with mainnet, regtest with the devnet's chain 31337, testnet otherwise).
 */
export function btcNetworkOf(cfg: Config): BtcNetwork {
  const set = cfg.sources.btcNetwork !== undefined && cfg.sources.btcNetwork !== "default";
  return walletBtcNetwork(set ? cfg.btc.network : undefined, { network: cfg.network, chainId: cfg.chainId });
}

export function settingsOf(cfg: Config): BtcWalletSettings {
  return { ...cfg.btcWallet, xpubOrigin: cfg.origins.btcXpub, strictPerms: cfg.signing.strictPerms };
}

export function walletOptions(cmd: Command, keystoreOnly = false): Command {
  cmd.option("--btc-keystore <file>", "the hot wallet's encrypted keystore (env KEEPCTL_BTC_KEYSTORE)")
    .option("--btc-password-file <file>", "file holding the keystore password (env KEEPCTL_BTC_PASSWORD_FILE; else a hidden prompt on a terminal)");
  if (!keystoreOnly) cmd.option("--btc-xpub <key>", "watch-only: the account's xpub/tpub, zpub/vpub or wpkh(...) descriptor (env KEEPCTL_BTC_XPUB)");
  return cmd.option("--strict-perms", "a keystore or password file readable by group/others is an error, not a warning (env KEEPCTL_STRICT_PERMS)");
}

export function load(cmd: Command, writesDataDir = false): { g: Record<string, unknown>; out: Output; cfg: Config; network: BtcNetwork } {
  const g = globalsOf(cmd);
  const out = outputOf(cmd);
  const cfg = loadCommandConfig(g, out, { requireRpc: false, writesDataDir });
  return { g, out, cfg, network: btcNetworkOf(cfg) };
}
