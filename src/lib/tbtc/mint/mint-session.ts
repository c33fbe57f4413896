import { ConfigError } from "../../errors";
import { requireContract, type Config } from "../../config";
import { AddressBook, configuredWalletNetwork, openBtcWallet, openWalletChain, unlockBtcWallet, type HotAccount, type OpenedWalletChain } from "../../btc/wallet";
import type { RedeemSession } from "../redeem/redeem-session";
import type { MintAddresses } from "./mint-facts";
import type { MintDeps } from "./mint-flow";
import { MintJournal } from "./mint-journal";

/**
 * What `mint` and `watch --replenish-to` share: the hot Bitcoin wallet, unlocked, with the
 * configured Bitcoin servers, and the flow's dependencies around an open signing session.
 */
export interface MintWalletHandle {
  /** The account, and its signer unless the wallet is watch-only (PSBTs). */
  hot: Pick<HotAccount, "account"> & { signer?: HotAccount["signer"] };
  psbtOut?: string;
  servers: OpenedWalletChain;
  close(): Promise<void>;
}

export function mintContractsOf(cfg: Config): MintAddresses {
  return { system: requireContract(cfg, "TBTCSystem"), depositFactory: requireContract(cfg, "DepositFactory"), vendingMachine: requireContract(cfg, "VendingMachine"), depositToken: requireContract(cfg, "TBTCDepositToken"), token: requireContract(cfg, "TBTCToken") };
}

/** `psbt`: a watch-only wallet is allowed (its funding goes out as a PSBT to `psbtOut`, or comes back signed). */
export async function openMintWallet(cfg: Config, o: { interactive: boolean; warn: (m: string) => void; what: string; psbt?: { out?: string } }): Promise<MintWalletHandle> {
  const network = configuredWalletNetwork(cfg);
  const settings = { ...cfg.btcWallet, xpubOrigin: cfg.origins.btcXpub, strictPerms: cfg.signing.strictPerms };
  if (settings.xpub && !settings.keystore && !o.psbt) throw new ConfigError(`${o.what} funds deposits from a hot wallet; a watch-only --btc-xpub cannot sign the funding transaction`, { hint: o.what === "keepctl mint" ? "configure --btc-keystore (KEEPCTL_BTC_KEYSTORE), or write the funding as a PSBT with --psbt-out FILE" : "configure --btc-keystore (KEEPCTL_BTC_KEYSTORE)" });
  const w = openBtcWallet(settings, network, o.warn);
  const servers = await openWalletChain(cfg.btc, network, { onWarning: o.warn });
  if (!servers) throw new ConfigError(`${o.what} needs a Bitcoin server to fund and prove deposits`, { hint: "set --btc-electrum-url or --btc-esplora-url (or KEEPCTL_BTC_ELECTRUM_URLS / KEEPCTL_BTC_ESPLORA_URLS)" });
  if (w.kind === "watch-only") return { hot: { account: w.account }, psbtOut: o.psbt?.out, servers, close: () => servers.close() };
  try {
    const hot = await unlockBtcWallet(w, settings, { interactive: o.interactive });
    return { hot, psbtOut: o.psbt?.out, servers, close: async () => { hot.signer.wipe(); await servers.close(); } };
  } catch (e) {
    await servers.close();
    throw e;
  }
}

export function mintDepsOf(cfg: Config, session: RedeemSession, w: MintWalletHandle, onNote: (text: string) => void): MintDeps {
  return {
    sender: session.sender, provider: session.fresh, contracts: mintContractsOf(cfg), journal: MintJournal.open(cfg.dataDir), btc: w.servers.btc,
    wallet: { account: w.hot.account, signer: w.hot.signer, psbtOut: w.psbtOut, book: AddressBook.forAccount(cfg.dataDir, w.hot.account), chain: w.servers.chain, maxFeeRateSatVb: cfg.btcWallet.maxFeeRate },
    confirmations: cfg.tbtc.btcConfirmations, fromBlock: cfg.startBlock, onNote,
  };
}
