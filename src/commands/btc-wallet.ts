import fs from "node:fs";
import type { Command } from "commander";
import type { Config } from "../lib/config";
import { ConfigError, UsageError } from "../lib/errors";
import type { Output } from "../lib/output";
import { formatUnits } from "ethers";
import {
  AddressBook, bip84AccountPath, CHANGE, checkBtcKeyFilePerms, configuredWalletNetwork, encryptKeystore, formatPath, historyLookup, mnemonicInput, newKeystorePassword, newMnemonic,
  openBtcWallet, openWalletChain, RECEIVE, summarizeCoins, unlockBtcWallet, walletCoins, writeNewKeystore, writeNewPrivateFile,
  type BtcNetwork, type BtcWalletSettings, type KeystoreFile, type OpenedWallet, type Utxo,
} from "../lib/btc/wallet";
import { addBitcoinOptions, globalsOf, loadCommandConfig, outputOf } from "./common";

/**
 * `keepctl btc-wallet create|import|address|xpub|balance|utxos`: the operator's Bitcoin wallet (docs/btc-wallet.md).
 * Thin: settings from config, the work in src/lib/btc/wallet, rendering here. The one secret this
 * command ever prints is a new mnemonic, once, straight to a terminal's stderr.
 */
/** What the `btc-wallet` subcommands share: their wallet options, settings and network. */
const interactive = () => !!process.stdin.isTTY && !!process.stderr.isTTY;

/**
 * The Bitcoin network of this run: `btcNetwork` when it was set anywhere (flag, env, config, the
 * mainnet preset, the deployment's bitcoin.network), else the Ethereum side's pairing (mainnet
 * with mainnet, regtest with the devnet's chain 31337, testnet otherwise).
 */
function btcNetworkOf(cfg: Config): BtcNetwork {
  return configuredWalletNetwork(cfg);
}

function settingsOf(cfg: Config): BtcWalletSettings {
  return { ...cfg.btcWallet, xpubOrigin: cfg.origins.btcXpub, strictPerms: cfg.signing.strictPerms };
}

function walletOptions(cmd: Command, keystoreOnly = false): Command {
  cmd.option("--btc-keystore <file>", "the hot wallet's encrypted keystore (env KEEPCTL_BTC_KEYSTORE)")
    .option("--btc-password-file <file>", "file holding the keystore password (env KEEPCTL_BTC_PASSWORD_FILE; else a hidden prompt on a terminal)");
  if (!keystoreOnly) cmd.option("--btc-xpub <key>", "watch-only: the account's xpub/tpub, zpub/vpub or wpkh(...) descriptor (env KEEPCTL_BTC_XPUB)");
  return cmd.option("--strict-perms", "a keystore or password file readable by group/others is an error, not a warning (env KEEPCTL_STRICT_PERMS)");
}

function load(cmd: Command, writesDataDir = false): { g: Record<string, unknown>; out: Output; cfg: Config; network: BtcNetwork } {
  const g = globalsOf(cmd);
  const out = outputOf(cmd);
  const cfg = loadCommandConfig(g, out, { requireRpc: false, writesDataDir });
  return { g, out, cfg, network: btcNetworkOf(cfg) };
}

function requireKeystorePath(cfg: Config, sub: string): string {
  const file = cfg.btcWallet.keystore;
  if (!file) throw new UsageError(`keepctl btc-wallet ${sub} needs the path of the keystore to write`, { hint: "pass --btc-keystore <file> (env KEEPCTL_BTC_KEYSTORE)" });
  return file;
}

/** The new mnemonic, shown once: on the terminal's stderr, never through the redacting logger, never on stdout. */
function showMnemonicOnce(mnemonic: string): void {
  const words = mnemonic.split(" ");
  const cells = words.map((w, i) => `${String(i + 1).padStart(2)}. ${w.padEnd(9)}`);
  const rows: string[] = [];
  for (let i = 0; i < cells.length; i += 4) rows.push("  " + cells.slice(i, i + 4).join("  "));
  process.stderr.write([
    "",
    `WRITE THESE ${words.length} WORDS DOWN, in order, and keep them offline. They are shown this once.`,
    "Anyone who has them can spend the wallet's coins; without them, a lost keystore or password loses the coins.",
    "",
    ...rows,
    "",
    "",
  ].join("\n"));
}

function keystoreSummary(ks: KeystoreFile, file: string, w: OpenedWallet) {
  return {
    keystore: file,
    network: ks.network,
    accountPath: ks.accountPath,
    masterFingerprint: ks.masterFingerprint,
    xpub: w.account.xpub,
    slip132: w.account.slip132,
    descriptor: w.account.descriptor(),
  };
}

function printFields(out: Output, doc: Record<string, unknown>): void {
  if (out.json) return out.document(doc);
  for (const [k, v] of Object.entries(doc)) out.line(`${k}: ${v === null || v === undefined ? "-" : String(v)}`);
}

/** Writes a new keystore for `mnemonic` and reports it; `mnemonicOut` gets the words (0600) first. */
async function writeKeystore(cfg: Config, out: Output, network: BtcNetwork, file: string, mnemonic: string, password: string, mnemonicOut?: string): Promise<void> {
  const ks = await encryptKeystore(mnemonic, password, network);
  // The backup first: a keystore must never exist without a way back to its seed.
  if (mnemonicOut) writeNewPrivateFile(mnemonicOut, mnemonic + "\n", "mnemonic file");
  writeNewKeystore(file, ks);
  const opened = openBtcWallet({ keystore: file, strictPerms: cfg.signing.strictPerms }, network, (m) => out.warn(m));
  printFields(out, keystoreSummary(ks, file, opened));
}

export function register(program: Command): void {
  const wallet = program
    .command("btc-wallet")
    .description("the operator's Bitcoin wallet: BIP84 native segwit, hot keystore or watch-only (docs/btc-wallet.md)")
    .addHelpText("after", "\nExit codes: 0 done, 2 bad input (a bad mnemonic word, an existing file, no terminal for the mnemonic),\n3 missing or bad setting (no wallet, a key of the other network, a keystore not ours, a wrong password,\nno Bitcoin server for balance/utxos), 4 no Bitcoin server answered, or their data did not verify.\nSee docs/exit-codes.md.");

  walletOptions(wallet.command("create"), true)
    .description("create a hot wallet: a new BIP39 seed in an encrypted keystore (the words are shown once, on a terminal)")
    .option("--words <n>", "12 or 24 words (default 24)")
    .option("--mnemonic-out <file>", "also write the words to this new file (0600); required off a terminal")
    .action(async (_opts, cmd: Command) => {
      const { g, out, cfg, network } = load(cmd);
      const words = g.words === undefined ? 24 : Number(g.words);
      if (words !== 12 && words !== 24) throw new UsageError(`--words must be 12 or 24, got "${String(g.words)}"`);
      const mnemonicOut = g.mnemonicOut as string | undefined;
      // Refused before anything is asked or generated: the words must reach a person or a file.
      if (!mnemonicOut && !interactive()) {
        throw new UsageError("keepctl btc-wallet create shows the new mnemonic only on a terminal, and there is none", { hint: "run it on a terminal, or pass --mnemonic-out <file> (written 0600) and move the file offline" });
      }
      const file = requireKeystorePath(cfg, "create");
      for (const [what, f] of [["Bitcoin keystore", file], ["mnemonic file", mnemonicOut]] as const) {
        if (f && fs.existsSync(f)) throw new UsageError(`${what} ${f} already exists; keepctl never writes over it`, { hint: "choose another path, or move the old file aside yourself" });
      }
      checkBtcKeyFilePerms({ passwordFile: cfg.btcWallet.passwordFile, strictPerms: cfg.signing.strictPerms }, (m) => out.warn(m));
      const password = await newKeystorePassword({ interactive: interactive(), passwordFile: cfg.btcWallet.passwordFile, keystore: file });
      const mnemonic = newMnemonic(words);
      await writeKeystore(cfg, out, network, file, mnemonic, password, mnemonicOut);
      if (!mnemonicOut) showMnemonicOnce(mnemonic);
      out.info(`wrote Bitcoin keystore ${file} (${network}, ${formatPath(bip84AccountPath(network))})`);
    });

  walletOptions(wallet.command("import"), true)
    .description("import an existing BIP39 mnemonic into an encrypted keystore (from a file or the hidden prompt, never argv)")
    .option("--mnemonic-file <file>", "file holding the words (else a hidden prompt on a terminal)")
    .action(async (_opts, cmd: Command) => {
      const { g, out, cfg, network } = load(cmd);
      const file = requireKeystorePath(cfg, "import");
      if (fs.existsSync(file)) throw new UsageError(`Bitcoin keystore ${file} already exists; keepctl never writes over it`, { hint: "choose another path, or move the old file aside yourself" });
      const mnemonicFile = g.mnemonicFile as string | undefined;
      checkBtcKeyFilePerms({ passwordFile: cfg.btcWallet.passwordFile, mnemonicFile, strictPerms: cfg.signing.strictPerms }, (m) => out.warn(m));
      const mnemonic = await mnemonicInput({ interactive: interactive(), mnemonicFile });
      const password = await newKeystorePassword({ interactive: interactive(), passwordFile: cfg.btcWallet.passwordFile, keystore: file });
      await writeKeystore(cfg, out, network, file, mnemonic, password);
      out.info(`wrote Bitcoin keystore ${file} (${network}); the mnemonic file can now go offline`);
    });

  addBitcoinOptions(walletOptions(wallet.command("address")))
    .description("hand out the next unused receive (or change) address; it is never handed out again (with Bitcoin servers, one with history is skipped)")
    .option("--change", "an address of the change chain (m/…/1/i) instead of the receive chain")
    .action(async (_opts, cmd: Command) => {
      const { g, out, cfg, network } = load(cmd, true);
      const w = openBtcWallet(settingsOf(cfg), network, (m) => out.warn(m));
      const chain = g.change ? CHANGE : RECEIVE;
      const book = AddressBook.forAccount(cfg.dataDir, w.account);
      const servers = await openWalletChain(cfg.btc, network, { onWarning: (m) => out.warn(m) });
      let r;
      try {
        r = await book.reserve(chain, servers && historyLookup(servers.chain));
      } finally {
        await servers?.close();
      }
      const path = w.account.originKnown ? `${formatPath(w.account.origin.path)}/${chain}/${r.index}` : `${chain}/${r.index} (from the account key)`;
      const doc = { address: r.address, network, chain: chain === CHANGE ? "change" : "receive", index: r.index, path, wallet: w.kind, checkedHistory: r.checked, skippedUsed: r.skipped };
      if (out.json) out.document(doc);
      else out.line(r.address);
      out.info(r.checked
        ? `${doc.chain} address ${r.index} (${path}): no history on the Bitcoin chain${r.skipped ? `; ${r.skipped} address(es) past the counter already had history and were skipped` : ""}`
        : `${doc.chain} address ${r.index} (${path}); not checked against the chain (no Bitcoin server configured): the counter in ${book.file} alone keeps it from being handed out twice`);
    });

  walletOptions(wallet.command("xpub"))
    .description("show the account's public key and descriptor, for a watch-only or signing setup elsewhere")
    .option("--verify", "unlock the keystore (password) and check its seed derives the xpub stored in clear")
    .action(async (_opts, cmd: Command) => {
      const { g, out, cfg, network } = load(cmd);
      const s = settingsOf(cfg);
      const w = openBtcWallet(s, network, (m) => out.warn(m));
      let verified: boolean | null = null;
      if (g.verify) {
        const hot = await unlockBtcWallet(w, s, { interactive: interactive() });
        hot.signer.wipe();
        verified = true;
      }
      const a = w.account;
      printFields(out, {
        network,
        wallet: w.kind,
        xpub: a.xpub,
        slip132: a.slip132,
        masterFingerprint: a.originKnown ? a.origin.fingerprint.toString(16).padStart(8, "0") : null,
        accountPath: a.path ?? null,
        descriptor: a.descriptor(),
        receiveDescriptor: a.descriptor(RECEIVE),
        changeDescriptor: a.descriptor(CHANGE),
        ...(verified === null ? {} : { verified }),
      });
      if (!a.originKnown) out.warn("the key's origin (master fingerprint and path) is unknown: a hardware wallet will not sign PSBTs for it; give a wpkh([fingerprint/84h/…]…) descriptor instead");
    });

  registerCoinCommands(wallet);
}

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

function registerCoinCommands(wallet: Command): void {
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
