/**
 * The Bitcoin networks the wallet knows and what each one changes: the bech32 prefix of its
 * addresses, the BIP44 coin type in the account path (0 on mainnet, 1 on every test network), and
 * the version bytes of its extended keys (BIP32 xpub/tpub, SLIP-132 zpub/vpub for BIP84 accounts).
 * testnet, testnet4, signet and regtest share coin type 1 and the tpub/vpub versions: keys move
 * between them, only the address prefix of regtest differs. Mainnet keys never mix with them.
 */
export type BtcNetwork = "mainnet" | "testnet" | "testnet4" | "signet" | "regtest";
export const BTC_NETWORKS: readonly BtcNetwork[] = ["mainnet", "testnet", "testnet4", "signet", "regtest"];

/** mainnet, or one of the networks whose coins are worthless (the same keys and versions). */
export type KeyFamily = "mainnet" | "test";

export interface ExtendedKeyVersions {
  public: number;
  private: number;
}

export interface NetworkParams {
  name: BtcNetwork;
  family: KeyFamily;
  /** bech32 human-readable part: bc, tb, bcrt. */
  hrp: string;
  coinType: 0 | 1;
  /** BIP32's own versions (xpub/xprv, tpub/tprv): what descriptors and Bitcoin Core use. */
  bip32: ExtendedKeyVersions;
  /** SLIP-132 versions for P2WPKH accounts (zpub/zprv, vpub/vprv): what many wallets export for BIP84. */
  slip132: ExtendedKeyVersions;
  /** @scure/btc-signer's network object (address encoding). */
  signer: { bech32: string; pubKeyHash: number; scriptHash: number; wif: number };
}

const MAIN_BIP32 = { public: 0x0488b21e, private: 0x0488ade4 };
const TEST_BIP32 = { public: 0x043587cf, private: 0x04358394 };
const MAIN_SLIP132 = { public: 0x04b24746, private: 0x04b2430c };
const TEST_SLIP132 = { public: 0x045f1cf6, private: 0x045f18bc };

function params(name: BtcNetwork): NetworkParams {
  const main = name === "mainnet";
  const hrp = main ? "bc" : name === "regtest" ? "bcrt" : "tb";
  return {
    name,
    family: main ? "mainnet" : "test",
    hrp,
    coinType: main ? 0 : 1,
    bip32: main ? MAIN_BIP32 : TEST_BIP32,
    slip132: main ? MAIN_SLIP132 : TEST_SLIP132,
    signer: main ? { bech32: hrp, pubKeyHash: 0x00, scriptHash: 0x05, wif: 0x80 } : { bech32: hrp, pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef },
  };
}

export function networkParams(name: BtcNetwork): NetworkParams {
  return params(name);
}

export function familyOf(name: BtcNetwork): KeyFamily {
  return name === "mainnet" ? "mainnet" : "test";
}

export function isBtcNetwork(s: string): s is BtcNetwork {
  return (BTC_NETWORKS as readonly string[]).includes(s);
}

/**
 * The Bitcoin network that goes with the Ethereum side, when the `btcNetwork` setting was not set
 * anywhere (see walletBtcNetwork): Ethereum mainnet pairs with Bitcoin mainnet, the local devnet
 * (chain 31337) with the devnet's regtest chain, and any other chain (a testnet deployment) with
 * Bitcoin testnet.
 */
export function defaultBtcNetwork(eth: { network: string; chainId: number }): BtcNetwork {
  if (eth.network === "mainnet" || eth.chainId === 1) return "mainnet";
  if (eth.chainId === 31337) return "regtest";
  return "testnet";
}

/**
 * The wallet's network: the `btcNetwork` setting when it was given (flag, env, config file, the
 * mainnet preset, a deployment's `bitcoin.network`), else the Ethereum side's pairing above, so
 * that a devnet deployment without a Bitcoin section still means regtest.
 */
export function walletBtcNetwork(setting: BtcNetwork | undefined, eth: { network: string; chainId: number }): BtcNetwork {
  return setting ?? defaultBtcNetwork(eth);
}

/** walletBtcNetwork over the configuration (structurally: lib/btc imports no config). */
export function configuredWalletNetwork(cfg: { sources: Record<string, string>; btc: { network: BtcNetwork }; network: string; chainId: number }): BtcNetwork {
  const set = cfg.sources.btcNetwork !== undefined && cfg.sources.btcNetwork !== "default";
  return walletBtcNetwork(set ? cfg.btc.network : undefined, cfg);
}

/** BIP84 account path for account 0 of a network: m/84'/0'/0' on mainnet, m/84'/1'/0' elsewhere. */
export function bip84AccountPath(network: BtcNetwork, account = 0): number[] {
  const H = 0x80000000;
  return [84 + H, params(network).coinType + H, account + H];
}

/** m/84'/1'/0' (apostrophes, as BIP32 paths are usually written and as @scure/bip32 takes them). */
export function formatPath(path: readonly number[], hardened: "'" | "h" = "'"): string {
  return ["m", ...path.map((n) => (n >= 0x80000000 ? `${n - 0x80000000}${hardened}` : String(n)))].join("/");
}
