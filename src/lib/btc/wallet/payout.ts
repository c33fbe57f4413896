import type { BtcSettings } from "../index";
import { RECEIVE } from "./account";
import { AddressBook } from "./address-book";
import { historyLookup } from "./chain";
import { openWalletChain } from "./client-chain";
import type { BtcNetwork } from "./network";
import { openBtcWallet, type BtcWalletSettings } from "./wallet";

/**
 * The wallet's next receive address, handed out for a payment to the wallet (a redemption's
 * payout), so that redeemed BTC lands where keepctl can spend it. Never one handed out before;
 * with Bitcoin servers configured, one with history is skipped too. Servers that cannot be asked
 * do not block the caller (a redemption is urgent): the counter alone decides, and `warn` says so.
 */
export async function reserveReceiveAddress(
  wallet: BtcWalletSettings,
  network: BtcNetwork,
  dataDir: string,
  btc: BtcSettings,
  warn: (m: string) => void,
): Promise<{ address: string; index: number; wallet: "hot" | "watch-only"; checked: boolean }> {
  const w = openBtcWallet(wallet, network, warn);
  const book = AddressBook.forAccount(dataDir, w.account);
  let servers;
  try {
    servers = await openWalletChain(btc, network, { onWarning: warn });
  } catch (e) {
    warn(`the payout address is not checked against the Bitcoin chain (${(e as Error).message}); the address counter alone keeps it unused`);
  }
  try {
    const r = await book.reserve(RECEIVE, servers && historyLookup(servers.chain));
    return { address: r.address, index: r.index, wallet: w.kind, checked: r.checked };
  } finally {
    await servers?.close();
  }
}

/** Whether a wallet is configured at all (a keystore or a watch-only key). */
export function hasBtcWallet(wallet: BtcWalletSettings): boolean {
  return !!(wallet.keystore || wallet.xpub);
}
