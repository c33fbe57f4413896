import type { Command } from "commander";
import { formatUnits } from "ethers";
import { ConfigError } from "../lib/errors";
import { AddressBook, CHANGE, formatPath, openBtcWallet, openWalletChain, summarizeCoins, walletCoins, type OpenedWallet, type Utxo } from "../lib/btc/wallet";
import { addBitcoinOptions } from "./common";
import { load, settingsOf, walletOptions } from "./btc-wallet-common";

/**
 * `keepctl btc-wallet balance|utxos`: the wallet's coins as the Bitcoin servers show them, a
 * confirmed coin counted only once proven in a verified block (lib/btc/wallet/client-chain.ts).
 * Read-only: no address is handed out, nothing is signed.
 */
const btc = (sats: bigint) => formatUnits(sats, 8);

function coinPath(w: OpenedWallet, u: Utxo): string {
  return w.account.originKnown ? `${formatPath(w.account.origin.path)}/${u.chain}/${u.index}` : `${u.chain}/${u.index}`;
}

async function readCoins(cmd: Command) {
  const { out, cfg, network } = load(cmd);
  const w = openBtcWallet(settingsOf(cfg), network, (m) => out.warn(m));
  const counters = AddressBook.forAccount(cfg.dataDir, w.account).read();
  const servers = await openWalletChain(cfg.btc, network, { onWarning: (m) => out.warn(m) });
  if (!servers) {
    throw new ConfigError("no Bitcoin server configured", { hint: "the coins are read from Bitcoin servers: set --btc-electrum-url or --btc-esplora-url (or KEEPCTL_BTC_ELECTRUM_URLS / KEEPCTL_BTC_ESPLORA_URLS)" });
  }
  try {
    const { utxos, extent } = await walletCoins(w.account, servers.chain, counters);
    const tip = servers.btc.verifiedTip();
    return { out, network, w, utxos, extent, tipHeight: tip?.height };
  } finally {
    await servers.close();
  }
}

export function registerCoinCommands(wallet: Command): void {
  addBitcoinOptions(walletOptions(wallet.command("balance")))
    .description("the wallet's confirmed and unconfirmed BTC, from the Bitcoin servers (confirmed coins proven in verified blocks)")
    .action(async (_opts, cmd: Command) => {
      const { out, network, w, utxos, extent, tipHeight } = await readCoins(cmd);
      const s = summarizeCoins(utxos);
      if (out.json) {
        out.document({ network, wallet: w.kind, ...s, totalSats: s.confirmedSats + s.unconfirmedSats, tipHeight, addressRange: extent });
        return;
      }
      out.line(`confirmed: ${btc(s.confirmedSats)} BTC (${s.confirmedCoins} coin${s.confirmedCoins === 1 ? "" : "s"})`);
      out.line(`unconfirmed: ${btc(s.unconfirmedSats)} BTC (${s.unconfirmedCoins} coin${s.unconfirmedCoins === 1 ? "" : "s"})`);
      out.info(`${network} tip ${tipHeight ?? "?"}; coins looked up at ${extent.receive} receive and ${extent.change} change addresses (every one handed out, and past them up to the last with history before 20 in a row without)`);
    });

  addBitcoinOptions(walletOptions(wallet.command("utxos")))
    .description("the wallet's unspent outputs, in the order coin selection spends them (confirmed first, largest first)")
    .action(async (_opts, cmd: Command) => {
      const { out, network, w, utxos, tipHeight } = await readCoins(cmd);
      const rows = utxos.map((u) => ({ ...u, address: w.account.address(u.chain, u.index), path: coinPath(w, u), chainName: u.chain === CHANGE ? "change" : "receive" }));
      if (out.json) {
        out.document({ network, wallet: w.kind, tipHeight, utxos: rows.map((r) => ({ txid: r.txid, vout: r.vout, valueSats: r.valueSats, confirmations: r.confirmations, address: r.address, chain: r.chainName, index: r.index, path: r.path })) });
        return;
      }
      out.table(rows, [
        { header: "Outpoint", value: (r) => `${r.txid}:${r.vout}` },
        { header: "BTC", align: "right", value: (r) => btc(r.valueSats) },
        { header: "Confirmations", align: "right", value: (r) => String(r.confirmations) },
        { header: "Address", value: (r) => r.address },
        { header: "Path", value: (r) => r.path },
      ]);
      if (rows.length === 0) out.info("no unspent outputs");
    });
}
