import { ethers } from "ethers";
import type { Config } from "../lib/config";
import { AddressBook, CHANGE, openMnemonic, openWalletChain, RECEIVE } from "../lib/btc/wallet";
import { decodeBtcAddress } from "../lib/tbtc/btc-address";
import type { JournaledSender } from "../lib/tbtc/redeem/redeemer";
import { mintContractsOf } from "../lib/tbtc/mint/mint-session";
import { MintJournal } from "../lib/tbtc/mint/mint-journal";
import type { MintDeps } from "../lib/tbtc/mint/mint-flow";
import { doubleArtifact, tbtcAbi } from "./artifacts";
import type { BitcoinNetwork } from "./bitcoin";
import { keepPublicKey64 } from "./signer";
import { keepContract, send, type TbtcDeployment } from "./tbtc";

/**
 * `keepctl replay --replenish-to`: the operator's hot Bitcoin wallet for one walk, and the parts
 * of the world the mint flow needs (the signing groups publishing their keys). Each walk gets a
 * wallet of its own (the Bitcoin double is not reverted with the chain), derived from a fixed
 * seed per walk so that two runs see the same addresses, funded with the same float.
 */
export interface ReplayHotWallet {
  /** The mint flow's dependencies (the real flow, the operator's journaled sender). */
  deps: MintDeps;
  /** Where the bot's redemptions pay out: the wallet's first receive address. */
  payout: { address: string; script: string; redeemerOutputScript: string };
  /** Whether an output script (hex) is one of the wallet's (receive or change, first 200 of each). */
  owns(scriptHex: string): boolean;
  journal: MintJournal;
  close(): Promise<void>;
}

/** A throwaway regtest seed per walk (it guards coins of the Bitcoin double only). */
export function replayWalletMnemonic(walk: string): string {
  return ethers.Mnemonic.fromEntropy(ethers.getBytes(ethers.id(`keepctl replay hot wallet v1 ${walk}`)).slice(0, 16)).phrase;
}

export async function openReplayHotWallet(cfg: Config, walk: string, o: { sender: JournaledSender; provider: ethers.JsonRpcProvider; net: BitcoinNetwork; floatSats: bigint }): Promise<ReplayHotWallet> {
  const hot = await openMnemonic(replayWalletMnemonic(walk), "regtest");
  const servers = await openWalletChain(cfg.btc, "regtest");
  if (!servers) throw new Error("replay: the devnet's Bitcoin servers are missing from the deployment file");
  const address = hot.account.address(RECEIVE, 0);
  // The float: one confirmed coin to the second receive address (redemptions pay to the first).
  if (o.floatSats > 0n) {
    o.net.wallet.fund(hot.account.address(RECEIVE, 1), o.floatSats);
    o.net.mine(1);
  }
  const journal = MintJournal.open(cfg.dataDir);
  const deps: MintDeps = {
    sender: o.sender, provider: o.provider, contracts: mintContractsOf(cfg), journal, btc: servers.btc,
    wallet: { account: hot.account, signer: hot.signer, book: AddressBook.forAccount(cfg.dataDir, hot.account), chain: servers.chain, maxFeeRateSatVb: cfg.btcWallet.maxFeeRate },
    confirmations: cfg.tbtc.btcConfirmations, fromBlock: cfg.startBlock,
  };
  const scripts = new Set<string>();
  for (let i = 0; i < 200; i++) for (const chain of [RECEIVE, CHANGE] as const) scripts.add(hot.account.scriptHex(chain, i));
  return {
    deps, journal, owns: (s) => scripts.has(s.toLowerCase()),
    payout: { address, script: hot.account.scriptHex(RECEIVE, 0), redeemerOutputScript: decodeBtcAddress(address, "testnet").redeemerOutputScript },
    close: async () => {
      hot.signer.wipe();
      await servers.close();
    },
  };
}

/**
 * The signing groups of keeps formed since `fromBlock` publish their key, as keep-ecdsa's
 * clients do within minutes of the keep's creation (the portfolio's own keeps already have it).
 * Returns the next block to look from.
 */
export async function publishNewKeepKeys(dep: TbtcDeployment, fromBlock: number): Promise<{ next: number; published: number }> {
  const head = await dep.provider.getBlockNumber();
  if (head < fromBlock) return { next: fromBlock, published: 0 };
  const factory = new ethers.Interface(doubleArtifact("DevBondedECDSAKeepFactory").abi);
  const logs = await dep.provider.getLogs({ address: dep.addresses.BondedECDSAKeepFactory, fromBlock, toBlock: head, topics: [factory.getEvent("BondedECDSAKeepCreated")!.topicHash] });
  let published = 0;
  for (const log of logs) {
    const keep = factory.parseLog(log)!.args.keepAddress as string;
    const k = keepContract(dep, keep);
    if (((await k.getPublicKey()) as string) !== "0x") continue;
    await send(k.submitPublicKey(keepPublicKey64(keep)));
    published++;
  }
  return { next: head + 1, published };
}

/** What the walk's mints and redemptions did, all read from the chains (events, Bitcoin transactions). */
export interface ReplenishTotals {
  /** Mint deposits the operator created in the walk that reached ACTIVE (TBTCSystem's Funded). */
  depositsFunded: number;
  /** TBTC minted to the operator in the walk (TBTCToken Transfer from the zero address). */
  tbtcMinted: string;
  /** BTC the funding transactions of those deposits took from the wallet: the lots plus the fees. */
  btcSpent: string;
  /** BTC the operator's proven redemptions paid to the wallet (their Bitcoin transactions' outputs). */
  btcReceived: string;
  /** Each mint deposit: its lot, the walked point whose pass created it and the one that proved its funding. */
  mints: Array<{ lotBtc: string; createdAt: string; fundedAt: string }>;
}

const sats = (n: bigint) => ethers.formatUnits(n, 8);

/** The Bitcoin double's transaction for a txid as the contracts log it (internal byte order) or as displayed. */
function txOf(net: BitcoinNetwork, txidBytes32: string) {
  const le = txidBytes32.slice(2);
  const display = Buffer.from(le, "hex").reverse().toString("hex");
  return net.node.findTx(display)?.tx ?? net.node.findTx(le)?.tx;
}

export async function replenishTotals(dep: TbtcDeployment, net: BitcoinNetwork, o: { fromBlock: number; operator: string; when: (e: ethers.EventLog) => Promise<string>; portfolio: ReadonlySet<string>; redeemedByOperator: string[]; walletScripts: (script: string) => boolean }): Promise<ReplenishTotals> {
  const system = new ethers.Contract(dep.addresses.TBTCSystem, tbtcAbi("TBTCSystem"), dep.provider);
  const token = new ethers.Contract(dep.addresses.TBTCToken, tbtcAbi("TBTCToken"), dep.provider);
  const me = o.operator.toLowerCase();
  const [created, funded, redeemed, tokenMints] = await Promise.all([
    system.queryFilter(system.filters.Created(), o.fromBlock),
    system.queryFilter(system.filters.Funded(), o.fromBlock),
    system.queryFilter(system.filters.Redeemed(), o.fromBlock),
    token.queryFilter(token.filters.Transfer(ethers.ZeroAddress, o.operator), o.fromBlock),
  ]) as ethers.EventLog[][];
  // The operator's own deposits: created by a transaction it sent, not one of the portfolio's.
  const mine = new Map<string, ethers.EventLog>();
  for (const e of created) {
    const d = (e.args[0] as string).toLowerCase();
    if (!o.portfolio.has(d) && (await e.getTransaction()).from.toLowerCase() === me) mine.set(d, e);
  }
  const fundedMine = funded.filter((e) => mine.has((e.args[0] as string).toLowerCase()));
  const mints: ReplenishTotals["mints"] = [];
  for (const e of fundedMine) {
    const d = new ethers.Contract(e.args[0] as string, ["function lotSizeSatoshis() view returns (uint64)"], dep.provider);
    mints.push({ lotBtc: sats((await d.lotSizeSatoshis()) as bigint), createdAt: await o.when(mine.get((e.args[0] as string).toLowerCase())!), fundedAt: await o.when(e) });
  }
  let spent = 0n;
  for (const txid of new Set(fundedMine.map((e) => e.args[1] as string))) {
    const tx = txOf(net, txid);
    if (!tx) throw new Error(`replay: funding transaction ${txid} is not on the Bitcoin double`);
    let inputs = 0n;
    for (const i of tx.inputs) {
      const prev = net.node.findTx(i.prevTxid)?.tx;
      if (!prev) throw new Error(`replay: input ${i.prevTxid}:${i.vout} of funding ${tx.txid} not found`);
      inputs += prev.outputs[i.vout].value;
    }
    // What left the wallet: every input, less the change that came back to it.
    const change = tx.outputs.filter((out) => o.walletScripts(Buffer.from(out.script).toString("hex"))).reduce((s, out) => s + out.value, 0n);
    spent += inputs - change;
  }
  let received = 0n;
  const redeemedMine = new Set(o.redeemedByOperator.map((a) => a.toLowerCase()));
  for (const e of redeemed) {
    if (!redeemedMine.has((e.args[0] as string).toLowerCase())) continue;
    const tx = txOf(net, e.args[1] as string);
    if (!tx) throw new Error(`replay: redemption transaction ${e.args[1] as string} is not on the Bitcoin double`);
    received += tx.outputs.filter((out) => o.walletScripts(Buffer.from(out.script).toString("hex"))).reduce((s, out) => s + out.value, 0n);
  }
  return {
    depositsFunded: fundedMine.length,
    tbtcMinted: ethers.formatEther(tokenMints.reduce((s, e) => s + (e.args[2] as bigint), 0n)),
    btcSpent: sats(spent),
    btcReceived: sats(received),
    mints,
  };
}
