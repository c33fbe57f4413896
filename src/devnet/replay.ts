import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers } from "ethers";
import { loadConfig } from "../lib/config";
import { InterruptedError } from "../lib/errors";
import { KeepctlProvider } from "../lib/chain/provider";
import { Journal } from "../lib/chain/journal";
import { ActionSender } from "../lib/chain/sender";
import { AlertHub } from "../lib/alert";
import { AuditLog } from "../lib/audit";
import { connectFromConfig } from "../lib/tbtc/read/report";
import { JournaledSender } from "../lib/tbtc/redeem/redeemer";
import { tbtcContractsOf } from "../lib/tbtc/redeem/redeem-session";
import { decodeBtcAddress } from "../lib/tbtc/btc-address";
import { watchOnce, type LoopState } from "../lib/tbtc/watch/watch-loop";
import { openRedemptionBitcoin } from "../lib/tbtc/redeem/bitcoin";
import { spendableCoins } from "../lib/tbtc/mint/mint-funding";
import { followPolicyOf } from "../lib/tbtc/redeem/follow-policy";
import type { WatchPolicy } from "../lib/tbtc/watch/watch-decide";
import { startDevnet, devnetWallet, type Devnet } from "./scenario";
import { DepositState, openDeposit, signRedemptionDigest } from "./deposits";
import { depositContract, ethBtcToMedianizerValue, send, weiPerSat, type TbtcDeployment } from "./tbtc";
import { bondForPercent } from "./deposits";
import { tbtcAbi } from "./artifacts";
import { type Gap, type PortfolioEntry, type PricePoint, isoTime, priceAt } from "./replay-data";
import { openReplayHotWallet, publishNewKeepKeys, replenishTotals, type ReplayHotWallet, type ReplenishTotals } from "./replay-replenish";
import type { Replenisher } from "../lib/tbtc/mint/replenish";
import { mintedTbtc } from "../lib/tbtc/mint/replenish-decide";

export * from "./replay-data";

/**
 * `keepctl replay`: a real price history walked through the real tBTC v1.1.0 contracts on the
 * devnet, in chain time, with the real watch loop (watchOnce, the journaled sender) acting for
 * one operator and a "world" of other accounts acting as on mainnet after each pass. The same
 * walk runs twice from one chain snapshot: with the bot, then without it. Every outcome in the
 * report is read back from the contracts' events, not from what keepctl said it did.
 */

/** The operator (hardhat account 1) shares every keep with accounts 3 and 4. */
const OPERATOR_INDEX = 1;
const CO_SIGNERS = [3, 4];
/** Deposits that only supply the TBTC the operator holds (never at risk: bonded at 600 % of the first price). */
const LIQUIDITY_SIGNERS = [5, 6, 7];
/** "The world": notifies courtesy calls and liquidations, buys nothing. */
const WORLD_INDEX = 8;
const BTC = 100_000_000n;
const GAS = { gasLimit: 6_000_000 };
/** tBTC v1.1.0: TBTCConstants.COURTESY_CALL_DURATION. */
const COURTESY_SEC = 6 * 3600;
const PAYOUT_ADDRESS = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx";

/**
 * The walks from one snapshot: the watch loop, the seed's policy (act only once courtesy-called),
 * nobody; with --replenish-to, "bot" mints back and "no-replenish" is the same bot without it.
 */
export type WalkKind = "bot" | "no-replenish" | "seed" | "none";

/** One action on the chain, as the events of a walk show it (the chart's markers, the report's timeline). */
export interface ReplayAction {
  walk: WalkKind;
  /** The walked point (series time, ISO) whose pass sent it. */
  at: string;
  deposit: string;
  kind: "courtesy-call" | "redemption" | "liquidation";
  by: "operator" | "other";
}

/** Per walked point: the price and each deposit's collateralizationPercentage() while it was live (null otherwise). */
export interface ReplayTrace {
  t: number[];
  ethBtc: number[];
  /** label -> percent per point; merged over the walks (same price and bond give the same reading). */
  collateral: Record<string, Array<number | null>>;
}

export interface ReplayStats {
  walks: number;
  points: number;
  seconds: number;
  pointsPerSecond: number;
  /** Peak resident memory of this process and of the Hardhat node (MiB; the node's when readable). */
  peakRssMiB: number;
  nodePeakRssMiB: number | null;
}

export interface ReplayOptions {
  /** The Hardhat node's port (default: a free one). */
  port?: number;
  /** The window's points (already selected), the full series (for bonds set before the window), the gaps. */
  points: PricePoint[];
  series: PricePoint[];
  gaps: Gap[];
  step: number;
  /** Points in the window before sampling every `step`th. */
  windowPoints: number;
  portfolio: PortfolioEntry[];
  /** Operator's budget (whole TBTC / ETH). */
  tbtc: number;
  eth: number;
  policy: WatchPolicy;
  /** False: the bot never redeems (no payout script, as `watch --no-redeem`). */
  redeem?: boolean;
  /** Run the no-bot baseline too (default true). */
  baseline?: boolean;
  /** Run the seed-policy walk too (default true). */
  seed?: boolean;
  /** Touch the chain at every point, quiet or not (default false: quiet points are computed, see walk). */
  everyPoint?: boolean;
  /**
   * --replenish-to (whole TBTC): the bot redeems to a hot Bitcoin wallet of its own and mints
   * lots back with the real mint flow; a walk of the same bot without it runs too ("no-replenish").
   */
  replenishTo?: number;
  /** The hot wallet's BTC at the start of each of those walks (default DEFAULT_HOT_BTC, 0.01). */
  hotBtc?: number;
  onProgress?: (msg: string) => void;
  /** Called after each walk, before the chain is reverted (tests read the events themselves). */
  onWalkEnd?: (w: { walk: WalkKind; bot: boolean; devnet: Devnet; fromBlock: number; seriesOf: (chainTs: number) => number; operator: string; deposits: Array<{ label: string; deposit: string }> }) => Promise<void>;
  signal?: AbortSignal;
}

export interface DepositOutcome {
  label: string;
  lotBtc: number;
  deposit: string;
  openedAt: string;
  bondedAtEthBtc: number;
  bondEth: string;
  operatorBondEth: string;
  lowestCollateralPct: number | null;
  lowestAt: string | null;
  courtesyCalledAt: string | null;
  redemptionRequestedAt: string | null;
  redemptionRequestedBy: "bot" | "other" | null;
  redeemedAt: string | null;
  liquidationStartedAt: string | null;
  /** redemption-timed-out: requested, never proven within 6 h, liquidated by someone's notifyRedemptionProofTimedOut. */
  outcome: "redeemed" | "redeeming" | "redemption-timed-out" | "liquidated" | "courtesy-called" | "survived";
  bondLost: boolean;
  /** With the bot, a deposit it did not redeem: the last reason the watch loop gave for skipping it. */
  botSkipped: string | null;
}

export interface RunResult {
  walk: WalkKind;
  /** The watch loop acted for the operator (bot and seed walks). */
  bot: boolean;
  deposits: DepositOutcome[];
  courtesyCalled: number;
  redeemedByBot: number;
  liquidated: number;
  bondsSeizedEth: string;
  operatorBondsSeizedEth: string;
  /** The operator's spend: TBTC paid for redemptions (BTC comes back on Bitcoin) and ETH for gas. */
  operatorTbtcSpent: string;
  operatorEthSpent: string;
  /** Gas units and transactions of the operator (the devnet's gas price is not mainnet's; the units are). */
  operatorGasUsed: number;
  operatorTxs: number;
  /** Points where the chain moved (price, clock, a pass of the loop and the world); the rest were quiet. */
  chainPoints: number;
  /** Walks with a hot Bitcoin wallet (--replenish-to): what was minted and spent, from both chains. */
  replenish?: ReplenishTotals & { depositsSaved: number; depositsLost: number };
}

/** --replenish-to: the bot with it and without it, side by side (same snapshot, same TBTC). */
export interface ReplenishComparison {
  targetTbtc: number;
  hotBtc: number;
  with: NonNullable<RunResult["replenish"]>;
  without: NonNullable<RunResult["replenish"]>;
  /** with − without. */
  difference: { depositsSaved: number; depositsLost: number; depositsFunded: number; tbtcMinted: string; btcSpent: string; btcReceived: string };
}

export interface ReplayReport {
  window: { from: string; to: string; points: number; walked: number; step: number };
  gaps: Array<{ from: string; to: string; missingHours: number }>;
  policy: { warnBelowPct: number; redeemBelowPct: number; notifyCourtesy: boolean };
  budget: { tbtc: number; eth: number };
  runs: RunResult[];
  /** Bonds the bot kept from being seized, against the no-bot run (ETH; operator's third). */
  saved: { bondsEth: string; operatorEth: string } | null;
  /** The same against the seed's policy (act only once courtesy-called). */
  savedVsSeed: { bondsEth: string; operatorEth: string } | null;
  /** Every courtesy call, redemption request and liquidation of every walk, in time order per walk. */
  actions: ReplayAction[];
  /** With --replenish-to: the bot with and without it. */
  replenish?: ReplenishComparison;
}

/** What runReplay returns: the report (deterministic), the chart's trace, and the timing (not deterministic). */
export interface ReplayRun {
  report: ReplayReport;
  trace: ReplayTrace;
  stats: ReplayStats;
}

interface Opened { entry: PortfolioEntry; deposit: string; keep: string; bondWei: bigint; bondedAt: number; openedT: number }

async function rpc(p: ethers.JsonRpcProvider, method: string, params: unknown[]): Promise<unknown> {
  return p.send(method, params);
}

/** Creates the operator's deposit with the bond the system gave it at `bondPrice` (150 % then). */
async function openPortfolioDeposit(dep: TbtcDeployment, lotBtc: number, bondPrice: number): Promise<{ deposit: string; keep: string; bondWei: bigint }> {
  const lotSats = BigInt(Math.round(lotBtc * 1e8));
  const members = [OPERATOR_INDEX, ...CO_SIGNERS].map((i) => devnetWallet(i).address);
  const bondWei = bondForPercent(lotSats, weiPerSat(ethBtcToMedianizerValue(bondPrice)), 150);
  // Configure the keep ourselves, so the bond is the one of the opening price even when the
  // deposit was opened before the window (openDeposit then leaves the configuration alone).
  await send(dep.contracts.keepFactory.configureNextKeep(members, bondWei, GAS));
  const d = await openDeposit(dep, { lotSats, members, fundWith: "vendingMachine" });
  return { deposit: d.deposit, keep: d.keep, bondWei: d.bondWei };
}

/** States after which neither the world nor the walk's readings have anything left to do. */
const DONE_STATES: ReadonlySet<number> = new Set([DepositState.REDEEMED, DepositState.LIQUIDATED, DepositState.LIQUIDATION_IN_PROGRESS, DepositState.FRAUD_LIQUIDATION_IN_PROGRESS, DepositState.FAILED_SETUP]);

/** Per walk: the deposits' contract handles and what the walk has learnt that cannot change. */
interface WalkBook {
  reader: Map<string, ethers.Contract>;
  writer: Map<string, ethers.Contract>;
  done: Set<string>;
  /** The contracts' thresholds (constant per deposit): undercollateralized, severely. */
  thresholds: Map<string, { under: number; severe: number }>;
}

/**
 * One batched read of every live deposit's state and collateralization (the replay's own
 * provider batches concurrent calls into one HTTP request; the node answers them in order).
 */
async function readLive(book: WalkBook, deposits: Opened[], withPct: boolean): Promise<Map<string, { state: number; pct?: number }>> {
  const live = deposits.filter((o) => !book.done.has(o.deposit));
  const states = await Promise.all(live.map((o) => book.reader.get(o.deposit)!.currentState() as Promise<bigint>));
  const pcts = withPct
    ? await Promise.all(live.map((o, i) => (Number(states[i]) === DepositState.ACTIVE || Number(states[i]) === DepositState.COURTESY_CALL ? (book.reader.get(o.deposit)!.collateralizationPercentage() as Promise<bigint>) : Promise.resolve(undefined))))
    : [];
  const out = new Map<string, { state: number; pct?: number }>();
  live.forEach((o, i) => {
    const state = Number(states[i]);
    if (DONE_STATES.has(state)) book.done.add(o.deposit);
    out.set(o.deposit, { state, pct: pcts[i] === undefined ? undefined : Number(pcts[i]) });
  });
  return out;
}

/** What the rest of mainnet does around the operator's pass: notify, exit, sign (never broadcast or prove), time out. */
async function worldActs(dep: TbtcDeployment, book: WalkBook, deposits: Opened[], seriesNow: number, pctNow: Map<string, number>, courtesyAt: Map<string, { t: number; chain: number }>): Promise<number> {
  const jp = dep.provider as ethers.JsonRpcProvider;
  const system = dep.contracts.system;
  // States again (the bot may have just changed some); the price, hence the percentage, has not moved.
  const now = await readLive(book, deposits, false);
  let signed = 0;
  for (const o of deposits) {
    const seen = now.get(o.deposit);
    if (!seen) continue;
    const state = seen.state;
    const d = book.writer.get(o.deposit)!;
    const tryCall = async (fn: string): Promise<boolean> => {
      try {
        await d[fn].staticCall(GAS);
      } catch {
        return false;
      }
      await send(d[fn](GAS));
      return true;
    };
    if (state === DepositState.ACTIVE || state === DepositState.COURTESY_CALL) {
      const pct = pctNow.get(o.deposit) ?? Number(await book.reader.get(o.deposit)!.collateralizationPercentage());
      let th = book.thresholds.get(o.deposit);
      if (!th) {
        const [under, severe] = await Promise.all([d.undercollateralizedThresholdPercent(), d.severelyUndercollateralizedThresholdPercent()]);
        th = { under: Number(under), severe: Number(severe) };
        book.thresholds.set(o.deposit, th);
      }
      if (pct < th.severe) {
        await tryCall("notifyUndercollateralizedLiquidation");
      } else if (state === DepositState.ACTIVE && pct < th.under) {
        if (await tryCall("notifyCourtesyCall")) courtesyAt.set(o.deposit, { t: seriesNow, chain: (await jp.getBlock("latest"))!.timestamp });
      } else if (state === DepositState.COURTESY_CALL && pct >= th.under) {
        // The signers leave the courtesy call as soon as the price lets them (it saves their bond).
        await tryCall("exitCourtesyCall");
      } else if (state === DepositState.COURTESY_CALL) {
        // Expired at the first point 6 h (series time) after the call; someone calls it the second
        // it expires (the call's block may sit a few seconds into this point's hour).
        const cc = courtesyAt.get(o.deposit);
        if (cc && seriesNow >= cc.t + COURTESY_SEC) {
          const latest = (await jp.getBlock("latest"))!.timestamp;
          if (cc.chain + COURTESY_SEC > latest) await rpc(jp, "evm_setNextBlockTimestamp", [cc.chain + COURTESY_SEC]);
          await send(d.notifyCourtesyCallExpired(GAS));
        }
      }
    } else if (state === DepositState.AWAITING_WITHDRAWAL_SIGNATURE) {
      // The signing group signs the requested digest within the hour, as the keep-ecdsa client
      // does — and, like it, never broadcasts the Bitcoin payout nor proves it: whoever requested
      // the redemption (the operator's keepctl) must, or the proof times out.
      const logs = await system.queryFilter(system.filters.RedemptionRequested(o.deposit), dep.deploymentBlock);
      const req = (logs.at(-1) as ethers.EventLog).args;
      const sig = await signRedemptionDigest(dep, o.keep, req[2] as string);
      await send(d.provideRedemptionSignature(sig.v, sig.r, sig.s, GAS));
      signed++;
    } else if (state === DepositState.AWAITING_WITHDRAWAL_PROOF) {
      // Mainnet's bots end an unproven redemption the second its 6 h are up (the bond goes to auction).
      await tryCall("notifyRedemptionProofTimedOut");
    }
  }
  return signed;
}

/**
 * Gas the operator paid, from the receipts of its transactions in the run's blocks (its balance
 * cannot tell: a redeemed deposit's keep hands the bond back to its members). Blocks are read in
 * batches: a whole-series walk mines tens of thousands of them.
 */
async function operatorGas(rp: ethers.JsonRpcProvider, operator: string, fromBlock: number): Promise<{ wei: bigint; gas: bigint; txs: number }> {
  const head = await rp.getBlockNumber();
  const hashes: string[] = [];
  for (let n = fromBlock; n <= head; n += 200) {
    const blocks = await Promise.all(
      Array.from({ length: Math.min(200, head - n + 1) }, (_, k) => rp.send("eth_getBlockByNumber", [ethers.toQuantity(n + k), true]) as Promise<{ transactions: Array<{ from: string; hash: string }> }>),
    );
    for (const b of blocks) for (const tx of b.transactions) if (tx.from.toLowerCase() === operator.toLowerCase()) hashes.push(tx.hash);
  }
  const receipts = await Promise.all(hashes.map((h) => rp.getTransactionReceipt(h)));
  let total = 0n;
  let gas = 0n;
  for (const r of receipts) {
    if (!r) continue;
    total += r.gasUsed * r.gasPrice;
    gas += r.gasUsed;
  }
  return { wei: total, gas, txs: receipts.filter(Boolean).length };
}

/** The index of the last walked point at or before `t` (series time). */
function pointIndexAt(points: PricePoint[], t: number): number {
  let lo = 0;
  let hi = points.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (points[mid].t <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** collateralizationPercentage() as the contract computes it: bond * 100 / (lot * wei per satoshi), floored. */
export function contractPercent(bondWei: bigint, lotSats: bigint, ethBtc: number): number {
  return Number((bondWei * 100n) / (lotSats * weiPerSat(ethBtcToMedianizerValue(ethBtc))));
}

interface WalkOut { run: RunResult; actions: ReplayAction[] }

/** The walk itself, from the current chain state; returns the per-deposit outcomes read from events. */
async function walk(devnet: Devnet, rp: ethers.JsonRpcProvider, opts: ReplayOptions, kind: WalkKind, trace: ReplayTrace, dataDir: string, file: string, btcTime: { now: number }): Promise<WalkOut> {
  const bot = kind !== "none";
  /** The watch loop acts before the world (the bot's policy), with or without --replenish-to. */
  const isBot = kind === "bot" || kind === "no-replenish";
  const dep = devnet.deployment;
  const jp = devnet.provider as ethers.JsonRpcProvider;
  const world = await jp.getSigner(devnetWallet(WORLD_INDEX).address);
  const operator = devnetWallet(OPERATOR_INDEX).address;
  const startBlock = await jp.getBlockNumber();
  const head = await jp.getBlock("latest");
  const t0 = opts.points[0].t;
  const chainBase = head!.timestamp + 3600;
  const chainOf = (t: number) => chainBase + (t - t0);
  const seriesOf = (ts: number) => t0 + (ts - chainBase);
  // The seed's policy: redeem a deposit only once it is courtesy-called. Its watch loop runs after
  // the world (which courtesy-calls everything below 125 %) and redeems below 125 % only, so what
  // it redeems is exactly what the world has just courtesy-called; it never sends courtesy calls.
  const policy: WatchPolicy = kind === "seed" ? { ...opts.policy, redeemBelowPct: 125, notifyCourtesy: false } : opts.policy;

  // The operator's keepctl, as `watch --once` builds it: config from the deployment file, its own
  // data dir (journal, audit log, scan cache), the journaled sender on its key.
  fs.rmSync(dataDir, { recursive: true, force: true });
  const cfg = loadConfig({ deployment: file, dataDir }, {}, { dotenv: false });
  const provider: KeepctlProvider = await connectFromConfig(cfg);
  const wallet = new ethers.Wallet(devnetWallet(OPERATOR_INDEX).privateKey, provider);
  const sender = new JournaledSender(new ActionSender(wallet, provider, Journal.open(cfg.dataDir), { maxFeeGwei: 1000, pollMs: 50, dryRun: false }));
  // --replenish-to: a hot Bitcoin wallet of the walk's own; the bot's redemptions pay into it and,
  // in the "bot" walk, the real mint flow (watch's replenish path) spends it on new lots.
  btcTime.now = opts.points[0].t - 3600;
  const hotWallet: ReplayHotWallet | undefined = opts.replenishTo !== undefined && isBot && devnet.bitcoin
    ? await openReplayHotWallet(cfg, kind, { sender, provider, net: devnet.bitcoin.net, floatSats: BigInt(Math.round((opts.hotBtc ?? DEFAULT_HOT_BTC) * 1e8)) })
    : undefined;
  const replenish: Replenisher | undefined = hotWallet && kind === "bot" ? { targetTbtc: ethers.parseEther(String(opts.replenishTo)), deps: hotWallet.deps } : undefined;
  const script = opts.redeem === false ? undefined : hotWallet ? hotWallet.payout.redeemerOutputScript : decodeBtcAddress(PAYOUT_ADDRESS, "testnet").redeemerOutputScript;
  // The mint's keeps are formed by other signers (the portfolio's keeps name the operator).
  if (hotWallet) await send(dep.contracts.keepFactory.setNextMembers(LIQUIDITY_SIGNERS.map((j) => devnetWallet(j).address), GAS));
  let keyCursor = startBlock + 1;
  const mintMark = async () => `${await jp.getTransactionCount(operator)}:${fs.existsSync(hotWallet!.journal.file) ? fs.statSync(hotWallet!.journal.file).size : 0}`;
  const mintInFlight = () => !!hotWallet && hotWallet.journal.unfinished(operator).length > 0;
  // A point where a mint could start is busy too: TBTC a lot short of the target and BTC for a lot.
  const minLotSats = replenish ? ((await dep.contracts.system.getAllowedLotSizes()) as bigint[]).reduce((a, b) => (b < a ? b : a)) : 0n;
  const minMint = replenish ? mintedTbtc(minLotSats, (await dep.contracts.system.getSignerFeeDivisor()) as bigint) : 0n;
  const mintWanted = async () => {
    if (!replenish) return false;
    if (mintInFlight()) return true;
    const balance = (await dep.contracts.tbtcToken.balanceOf(operator)) as bigint;
    if (balance + minMint > replenish.targetTbtc) return false;
    const coins = await spendableCoins(replenish.deps.wallet, new Set());
    return coins.reduce((s, u) => s + u.valueSats, 0n) >= minLotSats + 100_000n;
  };
  const hub = new AlertHub([{ name: "log", send: async () => undefined }]);
  const audit = AuditLog.open(cfg.dataDir);
  const contracts = tbtcContractsOf(cfg);
  // The operator's Bitcoin servers (the devnet's, from the deployment file): the loop broadcasts and
  // proves its redemptions itself, as on mainnet, while the walk mines Bitcoin blocks at chain time.
  const bitcoin = await openRedemptionBitcoin(cfg);
  const follow = followPolicyOf(cfg);
  let btcClock = (await jp.getBlock("latest"))!.timestamp;
  const tbtcBefore = (await dep.contracts.tbtcToken.balanceOf(operator)) as bigint;
  let chainNow = chainBase;
  const st: LoopState = { loop: 0, lastHead: -1, lastNewBlockAt: chainNow };

  const opened: Opened[] = [];
  const book: WalkBook = { reader: new Map(), writer: new Map(), done: new Set(), thresholds: new Map() };
  const pending = [...opts.portfolio].sort((a, b) => a.openAt - b.openAt);
  const lowest = new Map<string, { pct: number; t: number }>();
  const courtesyAt = new Map<string, { t: number; chain: number }>();
  const botSkipped = new Map<string, string>();
  let lastPrice: bigint | undefined;
  // A quiet point: every live deposit ACTIVE and at or above every line anyone acts on (the
  // bot's warn/redeem lines, the world's 125 %), both at this point's price and when the chain
  // was last read, and no deposit opening. Nobody can act there, so the chain is not touched: the
  // percentages are the contract's own arithmetic (checked against the contract at every point
  // that is read), and the next busy point moves the clock over the quiet stretch at once.
  const line = isBot ? Math.max(policy.warnBelowPct, policy.redeemBelowPct, 125) : 125;
  let settled = false;
  let chainPoints = 0;
  const lotSats = (o: Opened) => BigInt(Math.round(o.entry.lotBtc * 1e8));
  const pass = async (i: number) => {
    st.loop = i + 1;
    await watchOnce(
      {
        cfg, provider, contracts, operators: [operator], sender, script, hub, audit, policy, bitcoin: bitcoin?.client, follow, replenish,
        // The bot's own word is kept only to say why it did not act (never to count outcomes).
        emit: (ev) => {
          if (ev.type === "redeem-skipped") botSkipped.set(ev.deposit.toLowerCase(), ev.reason);
          else if (ev.type === "alert" && ev.key === "tbtc-short") for (const a of ev.text.match(/0x[0-9a-fA-F]{40}/g) ?? []) botSkipped.set(a.toLowerCase(), "not enough TBTC (tbtc-short alert)");
          else if (ev.type === "redemption" && ev.status !== "requested" && ev.status !== "already-requested") botSkipped.set(ev.deposit.toLowerCase(), `${ev.status}${ev.reason ? `: ${ev.reason}` : ""}`);
        }, signal: opts.signal ?? new AbortController().signal, intervalSec: 0, once: true,
        now: () => chainNow,
      },
      st,
    );
  };
  try {
    for (let i = 0; i < opts.points.length; i++) {
      if (opts.signal?.aborted) throw new InterruptedError();
      const p = opts.points[i];
      if (opts.onProgress && (i % 240 === 0 || i === opts.points.length - 1)) opts.onProgress(`${kind === "bot" ? "bot" : kind === "no-replenish" ? "bot without replenish" : kind === "seed" ? "seed policy" : "no bot"}: ${isoTime(p.t)} ETH/BTC ${p.ethBtc} (${i + 1}/${opts.points.length})`);
      const live = opened.filter((o) => !book.done.has(o.deposit));
      if (!opts.everyPoint && settled && i > 0 && i < opts.points.length - 1 && !(pending.length && pending[0].openAt <= p.t)) {
        const computed = live.map((o) => contractPercent(o.bondWei, lotSats(o), p.ethBtc));
        if (computed.every((pct) => pct >= line)) {
          live.forEach((o, k) => {
            trace.collateral[o.entry.label][i] = computed[k];
            const low = lowest.get(o.deposit);
            if (!low || computed[k] < low.pct) lowest.set(o.deposit, { pct: computed[k], t: p.t });
          });
          continue;
        }
      }
      chainPoints++;
      const latest = (await jp.getBlock("latest"))!.timestamp;
      const ts = Math.max(chainOf(p.t), latest + 1);
      await rpc(jp, "evm_setNextBlockTimestamp", [ts]);
      const price = ethBtcToMedianizerValue(p.ethBtc);
      // One block per point for the clock; the medianizer is written only when the price moves.
      if (price !== lastPrice) await send(dep.contracts.medianizer.setValue(price, GAS));
      else await rpc(jp, "evm_mine", []);
      lastPrice = price;
      chainNow = ts;
      btcTime.now = p.t;
      while (pending.length && pending[0].openAt <= p.t) {
        const entry = pending.shift()!;
        const bondedAt = entry.openAt < t0 ? entry.openAt : p.t;
        const bondPrice = entry.openAt < t0 ? priceAt(opts.series, entry.openAt, entry.label) : p.ethBtc;
        const d = await openPortfolioDeposit(dep, entry.lotBtc, bondPrice);
        if (hotWallet) await send(dep.contracts.keepFactory.setNextMembers(LIQUIDITY_SIGNERS.map((j) => devnetWallet(j).address), GAS));
        opened.push({ entry, ...d, bondedAt, openedT: p.t });
        book.reader.set(d.deposit, depositContract(dep, d.deposit, rp));
        book.writer.set(d.deposit, depositContract(dep, d.deposit, world));
        trace.collateral[entry.label] ??= new Array<number | null>(opts.points.length).fill(null);
      }
      const pctNow = new Map<string, number>();
      const read = await readLive(book, opened, true);
      // Bitcoin blocks, one per 10 min of chain time since the last point, while a redemption waits
      // for them (nothing else on Bitcoin needs the clock: fundings mine their own blocks). Such a
      // point always follows a touched one, so the blocks do not depend on which points were quiet.
      // With --replenish-to, likewise while a mint is under way (its funding needs confirmations).
      const redeeming = [...read.values()].some((r) => r.state === DepositState.AWAITING_WITHDRAWAL_SIGNATURE || r.state === DepositState.AWAITING_WITHDRAWAL_PROOF) || mintInFlight();
      const blocks = redeeming ? Math.min(36, Math.floor((ts - btcClock) / 600)) : 0;
      if (blocks > 0 && devnet.bitcoin) devnet.bitcoin.net.mine(blocks);
      btcClock = ts;
      settled = [...read.values()].every((r) => r.state === DepositState.ACTIVE && r.pct !== undefined && r.pct >= line);
      if (settled && (await mintWanted())) settled = false;
      for (const [addr, r] of read) if (r.pct !== undefined) pctNow.set(addr, r.pct);
      for (const o of opened) {
        const pct = pctNow.get(o.deposit);
        // The quiet points rely on this arithmetic being the contract's: checked at every read.
        if (pct !== undefined && pct !== contractPercent(o.bondWei, lotSats(o), p.ethBtc)) {
          throw new Error(`replay: ${o.entry.label}: the contract says ${pct}% at ETH/BTC ${p.ethBtc}, the replay's arithmetic ${contractPercent(o.bondWei, lotSats(o), p.ethBtc)}%`);
        }
      }
      for (const o of opened) {
        const pct = pctNow.get(o.deposit);
        if (pct === undefined) continue;
        trace.collateral[o.entry.label][i] = pct;
        const low = lowest.get(o.deposit);
        if (!low || pct < low.pct) lowest.set(o.deposit, { pct, t: p.t });
      }
      // Every live deposit ACTIVE and above every line: neither the loop nor the world can act on
      // anything at this point (the clock and the price have moved, the deposits opened).
      if (!settled || opts.everyPoint) {
        if (isBot) await pass(i);
        const signed = await worldActs(dep, book, opened, p.t, pctNow, courtesyAt);
        // The loop's next pass, a minute later on mainnet: it broadcasts what was just signed.
        if (kind === "seed" || (isBot && signed > 0)) await pass(i);
        // A mint under way: the new keeps' signing groups publish their keys, and the loop's
        // next passes (minutes apart on mainnet) move it on within the hour — retrieve the key,
        // fund, prove, mint — for as long as each pass still does something.
        for (let k = 0; k < 6 && mintInFlight(); k++) {
          keyCursor = (await publishNewKeepKeys(dep, keyCursor)).next;
          const before = await mintMark();
          await pass(i);
          if ((await mintMark()) === before) break;
        }
      }
    }
  } finally {
    await hotWallet?.close();
    provider.destroy();
    await bitcoin?.close();
  }

  await opts.onWalkEnd?.({ walk: kind, bot, devnet, fromBlock: startBlock + 1, seriesOf, operator, deposits: opened.map((o) => ({ label: o.entry.label, deposit: o.deposit })) });
  // The outcome, from the contracts' events of this run's blocks.
  const system = new ethers.Contract(dep.addresses.TBTCSystem, tbtcAbi("TBTCSystem"), rp);
  const q = async (name: string) => (await system.queryFilter(name, startBlock + 1)) as ethers.EventLog[];
  const [courtesy, requested, redeemed, liquidations] = await Promise.all([q("CourtesyCalled"), q("RedemptionRequested"), q("Redeemed"), q("StartedLiquidation")]);
  const blockTime = async (e: ethers.EventLog) => (await e.getBlock()).timestamp;
  const firstFor = (list: ethers.EventLog[], addr: string) => list.find((e) => (e.args[0] as string).toLowerCase() === addr.toLowerCase());
  // An event is reported at the walked point whose pass sent it: the seconds a pass takes in
  // chain time follow the wall clock (Hardhat), and the report must not.
  const pointOf = (t: number) => opts.points[pointIndexAt(opts.points, t)].t;
  const when = async (e?: ethers.EventLog) => (e ? isoTime(pointOf(seriesOf(await blockTime(e)))) : null);
  const labelOf = new Map(opened.map((o) => [o.deposit.toLowerCase(), o.entry.label]));
  const actions: ReplayAction[] = [];
  const addActions = async (list: ethers.EventLog[], kindOf: ReplayAction["kind"]) => {
    for (const e of list) {
      const label = labelOf.get((e.args[0] as string).toLowerCase());
      if (!label) continue; // the liquidity deposits
      const from = kindOf === "redemption" ? (e.args[1] as string) : (await e.getTransaction()).from;
      actions.push({ walk: kind, at: (await when(e))!, deposit: label, kind: kindOf, by: from.toLowerCase() === operator.toLowerCase() ? "operator" : "other" });
    }
  };
  await addActions(courtesy, "courtesy-call");
  await addActions(requested, "redemption");
  await addActions(liquidations, "liquidation");
  const order = { "courtesy-call": 0, redemption: 1, liquidation: 2 } as const;
  actions.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : order[a.kind] - order[b.kind] || (a.deposit < b.deposit ? -1 : a.deposit > b.deposit ? 1 : 0)));
  const deposits: DepositOutcome[] = [];
  let seized = 0n;
  let redeemedByBot = 0;
  for (const o of opened) {
    const cc = firstFor(courtesy, o.deposit);
    const rq = firstFor(requested, o.deposit);
    const rd = firstFor(redeemed, o.deposit);
    const lq = firstFor(liquidations, o.deposit);
    const by = rq ? ((rq.args[1] as string).toLowerCase() === operator.toLowerCase() ? "bot" : "other") : null;
    if (by === "bot") redeemedByBot++;
    if (lq) seized += o.bondWei;
    const low = lowest.get(o.deposit);
    const state = Number(await book.reader.get(o.deposit)!.currentState());
    deposits.push({
      label: o.entry.label, lotBtc: o.entry.lotBtc, deposit: o.deposit, openedAt: isoTime(o.openedT), bondedAtEthBtc: o.bondedAt === o.openedT ? opts.points.find((x) => x.t === o.openedT)!.ethBtc : priceAt(opts.series, o.bondedAt, o.entry.label),
      bondEth: ethers.formatEther(o.bondWei), operatorBondEth: ethers.formatEther(o.bondWei / 3n),
      lowestCollateralPct: low?.pct ?? null, lowestAt: low ? isoTime(low.t) : null,
      courtesyCalledAt: await when(cc), redemptionRequestedAt: await when(rq), redemptionRequestedBy: by, redeemedAt: await when(rd), liquidationStartedAt: await when(lq),
      outcome: lq && rq && (await blockTime(lq)) >= (await blockTime(rq)) ? "redemption-timed-out" : lq ? "liquidated" : rd ? "redeemed" : rq ? "redeeming" : state === DepositState.COURTESY_CALL ? "courtesy-called" : "survived",
      bondLost: !!lq,
      botSkipped: !rq && bot ? (botSkipped.get(o.deposit.toLowerCase()) ?? null) : null,
    });
  }
  const tbtcAfter = (await dep.contracts.tbtcToken.balanceOf(operator)) as bigint;
  const spent = await operatorGas(rp, operator, startBlock + 1);
  const replenished = hotWallet && devnet.bitcoin
    ? {
        ...(await replenishTotals(dep, devnet.bitcoin.net, { fromBlock: startBlock + 1, operator, when: async (e) => (await when(e))!, portfolio: new Set(opened.map((o) => o.deposit.toLowerCase())), redeemedByOperator: deposits.filter((d) => d.redeemedAt && d.redemptionRequestedBy === "bot").map((d) => d.deposit), walletScripts: hotWallet.owns })),
        depositsSaved: deposits.filter((d) => d.redeemedAt && d.redemptionRequestedBy === "bot" && !d.bondLost).length,
        depositsLost: deposits.filter((d) => d.bondLost).length,
      }
    : undefined;
  return {
    actions,
    run: {
      walk: kind, bot, deposits,
      courtesyCalled: deposits.filter((d) => d.courtesyCalledAt).length,
      redeemedByBot, liquidated: deposits.filter((d) => d.bondLost).length,
      bondsSeizedEth: ethers.formatEther(seized), operatorBondsSeizedEth: ethers.formatEther(seized / 3n),
      // What redemptions took: the balance's fall, plus what --replenish-to minted back meanwhile.
      operatorTbtcSpent: ethers.formatEther(tbtcBefore - tbtcAfter + (replenished ? ethers.parseEther(replenished.tbtcMinted) : 0n)), operatorEthSpent: ethers.formatEther(spent.wei), operatorGasUsed: Number(spent.gas), operatorTxs: spent.txs,
      chainPoints,
      ...(replenished ? { replenish: replenished } : {}),
    },
  };
}

/** Peak resident memory of a process from /proc (Linux), in MiB; null elsewhere. */
export function procPeakRssMiB(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

/** The Hardhat node this process started (a child whose command line names its port), for its peak memory. */
export function nodePid(port: number): number | undefined {
  try {
    for (const task of fs.readdirSync("/proc/self/task")) {
      for (const pid of fs.readFileSync(`/proc/self/task/${task}/children`, "utf8").trim().split(/\s+/).filter(Boolean)) {
        if (fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(String(port))) return Number(pid);
      }
    }
  } catch {
    // not Linux, or /proc unreadable: the node's memory is just not reported
  }
  return undefined;
}

const minus = (a: string, b: string) => ethers.formatEther(ethers.parseEther(a) - ethers.parseEther(b));
const minusBtc = (a: string, b: string) => ethers.formatUnits(ethers.parseUnits(a, 8) - ethers.parseUnits(b, 8), 8);

/**
 * The hot wallet's BTC at the start of a --replenish-to walk: a float for the funding fee and
 * the replenisher's fee reserve (0.001 BTC), so that a redeemed lot (lot − the redemption's BTC
 * fee) can be minted back whole; too small to mint a 0.01 BTC lot on its own.
 */
export const DEFAULT_HOT_BTC = 0.01;

function compareReplenish(targetTbtc: number, hotBtc: number, runs: RunResult[]): ReplenishComparison | undefined {
  const w = runs.find((r) => r.walk === "bot")?.replenish;
  const wo = runs.find((r) => r.walk === "no-replenish")?.replenish;
  if (!w || !wo) return undefined;
  return {
    targetTbtc, hotBtc, with: w, without: wo,
    difference: {
      depositsSaved: w.depositsSaved - wo.depositsSaved, depositsLost: w.depositsLost - wo.depositsLost, depositsFunded: w.depositsFunded - wo.depositsFunded,
      tbtcMinted: minus(w.tbtcMinted, wo.tbtcMinted), btcSpent: minusBtc(w.btcSpent, wo.btcSpent), btcReceived: minusBtc(w.btcReceived, wo.btcReceived),
    },
  };
}

/**
 * Starts the devnet, funds the operator, snapshots, then walks with the bot, without it and with
 * the seed's policy, reverting to the snapshot between walks.
 */
export async function runReplay(opts: ReplayOptions): Promise<ReplayRun> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-replay-"));
  const file = path.join(home, "deployment.json");
  opts.onProgress?.("starting the devnet (real tBTC v1.1.0 contracts) ...");
  // Bitcoin block times follow the series (not the wall clock), so that every proof's bytes, and
  // with them the gas it costs, are the same in every run.
  const btcTime = { now: opts.points[0].t - 86_400 };
  const devnet = await startDevnet({ seed: false, out: file, ethBtc: opts.points[0].ethBtc, port: opts.port, btc: { clock: () => btcTime.now } });
  // Reads go through a provider of our own that batches concurrent calls into one HTTP request.
  const rp = new ethers.JsonRpcProvider(devnet.rpcUrl, 31337, { staticNetwork: true, batchMaxCount: 200, batchStallTime: 0, cacheTimeout: -1 });
  try {
    const dep = devnet.deployment;
    const jp = devnet.provider as ethers.JsonRpcProvider;
    const operator = devnetWallet(OPERATOR_INDEX).address;
    await send(dep.contracts.medianizer.setValue(ethBtcToMedianizerValue(opts.points[0].ethBtc), GAS));
    // The operator's TBTC comes from deposits of other signers, minted through the VendingMachine.
    const wantTbtc = ethers.parseEther(String(opts.tbtc));
    const lots = wantTbtc === 0n ? 0 : Number((wantTbtc + 10n ** 18n) / (10n * 10n ** 18n)) + 1;
    for (let i = 0; i < lots; i++) {
      await send(dep.contracts.keepFactory.configureNextKeep(LIQUIDITY_SIGNERS.map((j) => devnetWallet(j).address), bondForPercent(10n * BTC, weiPerSat(ethBtcToMedianizerValue(opts.points[0].ethBtc / 4)), 150), GAS));
      await openDeposit(dep, { lotSats: 10n * BTC, members: LIQUIDITY_SIGNERS.map((j) => devnetWallet(j).address), fundWith: "vendingMachine" });
    }
    if (wantTbtc > 0n) await send(dep.contracts.tbtcToken.transfer(operator, wantTbtc, GAS));
    await rpc(jp, "hardhat_setBalance", [operator, ethers.toQuantity(ethers.parseEther(String(opts.eth)))]);
    const kinds: WalkKind[] = ["bot", ...(opts.replenishTo !== undefined ? (["no-replenish"] as const) : []), ...(opts.baseline !== false ? (["none"] as const) : []), ...(opts.seed !== false ? (["seed"] as const) : [])];
    const trace: ReplayTrace = { t: opts.points.map((p) => p.t), ethBtc: opts.points.map((p) => p.ethBtc), collateral: {} };
    const runs: RunResult[] = [];
    const actions: ReplayAction[] = [];
    const started = performance.now();
    let snapshot = await rpc(jp, "evm_snapshot", []);
    for (const [k, kind] of kinds.entries()) {
      if (k > 0) {
        await rpc(jp, "evm_revert", [snapshot]);
        snapshot = await rpc(jp, "evm_snapshot", []); // a snapshot is used up by its revert
      }
      const w = await walk(devnet, rp, opts, kind, trace, path.join(home, kind), file, btcTime);
      runs.push(w.run);
      actions.push(...w.actions);
    }
    const seconds = (performance.now() - started) / 1000;
    const withBot = runs[0];
    const noBot = runs.find((r) => r.walk === "none");
    const seedRun = runs.find((r) => r.walk === "seed");
    const savedAgainst = (r?: RunResult) => (r ? { bondsEth: minus(r.bondsSeizedEth, withBot.bondsSeizedEth), operatorEth: minus(r.operatorBondsSeizedEth, withBot.operatorBondsSeizedEth) } : null);
    const walkedPoints = opts.points.length * kinds.length;
    return {
      report: {
        window: { from: isoTime(opts.points[0].t), to: isoTime(opts.points[opts.points.length - 1].t), points: opts.windowPoints, walked: opts.points.length, step: opts.step },
        gaps: opts.gaps.map((g) => ({ from: isoTime(g.from), to: isoTime(g.to), missingHours: g.missing })),
        policy: { warnBelowPct: opts.policy.warnBelowPct, redeemBelowPct: opts.policy.redeemBelowPct, notifyCourtesy: opts.policy.notifyCourtesy },
        budget: { tbtc: opts.tbtc, eth: opts.eth },
        runs, saved: savedAgainst(noBot), savedVsSeed: savedAgainst(seedRun), actions,
        ...(opts.replenishTo !== undefined ? { replenish: compareReplenish(opts.replenishTo, opts.hotBtc ?? DEFAULT_HOT_BTC, runs) } : {}),
      },
      trace,
      stats: {
        walks: kinds.length, points: walkedPoints, seconds: Math.round(seconds * 10) / 10,
        pointsPerSecond: Math.round((walkedPoints / seconds) * 10) / 10,
        peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
        nodePeakRssMiB: procPeakRssMiB(nodePid(devnet.node.port)),
      },
    };
  } finally {
    rp.destroy();
    await devnet.stop();
    fs.rmSync(home, { recursive: true, force: true });
  }
}
