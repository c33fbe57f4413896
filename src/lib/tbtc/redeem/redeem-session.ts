import type { Wallet } from "ethers";
import { ConfigError } from "../../errors";
import { requireContract, type Config } from "../../config";
import { openSigningAccount, type SigningAccountOptions } from "../../chain/session";
import type { Alert } from "../../alert/types";
import type { KeepctlProvider } from "../../chain/provider";
import type { AccountLock } from "../../chain/account-lock";
import type { Journal } from "../../chain/journal";
import { connectFromConfig } from "../read/report";
import { btcNetworkForChain, decodeBtcAddress, type DecodedBtcAddress } from "../btc-address";
import { configuredWalletNetwork, hasBtcWallet, reserveReceiveAddress } from "../../btc/wallet";
import { JournaledSender, redeemEventOf, type RedeemEvent } from "./redeemer";
import type { TbtcContracts } from "./redeem-facts";

/**
 * What `redeem` and `watch` share before acting: the tBTC addresses, the payout script, the
 * provider, the signing wallet with its journaled sender, and the per-account lock.
 */
export function tbtcContractsOf(cfg: Config): TbtcContracts {
  return {
    system: requireContract(cfg, "TBTCSystem"),
    token: requireContract(cfg, "TBTCToken"),
    vendingMachine: requireContract(cfg, "VendingMachine"),
    depositToken: requireContract(cfg, "TBTCDepositToken"),
    startBlock: cfg.startBlock,
  };
}

/**
 * The BTC payout address, decoded and checked against the chain's Bitcoin network: --btc-address
 * when given, else the operator's Bitcoin wallet's next receive address (docs/btc-wallet.md), so
 * that redeemed BTC lands in a wallet keepctl can spend. `warn` hears which one was chosen.
 */
export async function payoutScriptOf(cfg: Config, required: boolean, warn: (m: string) => void = () => undefined): Promise<DecodedBtcAddress | undefined> {
  let addr = cfg.tbtc.btcAddress;
  const wallet = { ...cfg.btcWallet, xpubOrigin: cfg.origins.btcXpub, strictPerms: cfg.signing.strictPerms };
  if (!addr && hasBtcWallet(wallet)) {
    const r = await reserveReceiveAddress(wallet, configuredWalletNetwork(cfg), cfg.dataDir, cfg.btc, warn);
    warn(`paying out to the Bitcoin wallet's receive address ${r.index} (${r.wallet}), handed out for this run only`);
    addr = r.address;
  }
  if (!addr) {
    if (!required) return undefined;
    throw new ConfigError("no BTC address to redeem to", { hint: "pass --btc-address ADDR or set KEEPCTL_BTC_ADDRESS, or configure a Bitcoin wallet (KEEPCTL_BTC_KEYSTORE or KEEPCTL_BTC_XPUB)" });
  }
  return decodeBtcAddress(addr, btcNetworkForChain(cfg.chainId));
}

export function hasSigningKey(cfg: Config): boolean {
  return cfg.signing.keySource !== "none";
}

export interface RedeemSession {
  /** Scans (cached responses are fine there). */
  provider: KeepctlProvider;
  /** Sends and reads around sends (the same provider; it keeps no response cache). */
  fresh: KeepctlProvider;
  wallet: Wallet;
  journal: Journal;
  sender: JournaledSender;
  contracts: TbtcContracts;
  lock?: AccountLock;
  close(): void;
  /** Ends the shared state's lease and connections (no-op with the data dir's files). */
  closeState(): Promise<void>;
}

export interface OpenSessionOptions {
  interactive: boolean;
  prompt?: (msg: string) => Promise<string>;
  /** --dry-run: simulate only; no lock is taken and nothing is journaled or sent. */
  dryRun: boolean;
  onEvent?: (ev: RedeemEvent) => void;
  provider?: KeepctlProvider;
  signal?: AbortSignal;
  /** Engine alerts (fee cap, account conflict) through the configured channels. */
  alert?: (a: Alert) => Promise<void>;
  timings?: SigningAccountOptions["timings"];
  /** Where the provider's "endpoint failing" lines go when it is opened here. */
  onRpcWarning?: (message: string) => void;
  /** With a shared state store (--state-url): how the account's lease is held. */
  lease?: SigningAccountOptions["lease"];
}

export async function openRedeemSession(cfg: Config, o: OpenSessionOptions): Promise<RedeemSession> {
  const contracts = tbtcContractsOf(cfg);
  const provider = o.provider ?? (await connectFromConfig(cfg, { onWarning: o.onRpcWarning }));
  try {
    const fresh = provider;
    const account = await openSigningAccount(
      cfg.signing,
      cfg.dataDir,
      { interactive: o.interactive, prompt: o.prompt, dryRun: o.dryRun, signal: o.signal, alert: o.alert, timings: o.timings, lease: o.lease, onEvent: (ev) => o.onEvent?.(redeemEventOf(ev)) },
      fresh,
    );
    const { wallet: signer, lock, journal, shared } = account;
    const sender = new JournaledSender(account.sender, o.onEvent);
    return {
      provider,
      fresh,
      wallet: signer,
      journal,
      sender,
      contracts,
      lock,
      close: () => {
        lock?.release();
        if (!o.provider) provider.destroy();
      },
      closeState: async () => {
        await shared?.close();
      },
    };
  } catch (e) {
    if (!o.provider) provider.destroy();
    throw e;
  }
}
