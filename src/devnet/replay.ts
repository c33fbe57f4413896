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
import { connectFromConfig } from "../lib/tbtc/report";
import { JournaledSender } from "../lib/tbtc/redeemer";
import { tbtcContractsOf } from "../lib/tbtc/redeem-session";
import { decodeBtcAddress } from "../lib/tbtc/btc-address";
import { watchOnce, type LoopState } from "../lib/tbtc/watch-loop";
import type { WatchPolicy } from "../lib/tbtc/watch-decide";
import { startDevnet, devnetWallet, type Devnet } from "./scenario";
import { DepositState, openDeposit, signRedemptionDigest } from "./deposits";
import { depositContract, ethBtcToMedianizerValue, send, weiPerSat, type TbtcDeployment } from "./tbtc";
import { bondForPercent } from "./deposits";
import { buildRedemptionProof, redemptionProofArgs } from "./spv";
import { tbtcAbi } from "./artifacts";
import { type Gap, type PortfolioEntry, type PricePoint, isoTime, priceAt } from "./replay-data";

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

export interface ReplayOptions {
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
  onProgress?: (msg: string) => void;
  /** Called after each walk, before the chain is reverted (tests read the events themselves). */
  onWalkEnd?: (w: { bot: boolean; devnet: Devnet; fromBlock: number; seriesOf: (chainTs: number) => number; operator: string; deposits: Array<{ label: string; deposit: string }> }) => Promise<void>;
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
  outcome: "redeemed" | "redeeming" | "liquidated" | "courtesy-called" | "survived";
  bondLost: boolean;
  /** With the bot, a deposit it did not redeem: the last reason the watch loop gave for skipping it. */
  botSkipped: string | null;
}

export interface RunResult {
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
}

export interface ReplayReport {
  window: { from: string; to: string; points: number; walked: number; step: number };
  gaps: Array<{ from: string; to: string; missingHours: number }>;
  policy: { warnBelowPct: number; redeemBelowPct: number; notifyCourtesy: boolean };
  budget: { tbtc: number; eth: number };
  runs: RunResult[];
  /** Bonds the bot kept from being seized, against the no-bot run (ETH; operator's third). */
  saved: { bondsEth: string; operatorEth: string } | null;
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

/** What the rest of mainnet does after the operator's pass: notify, exit, sign, prove. */
async function worldActs(dep: TbtcDeployment, world: ethers.Signer, deposits: Opened[], seriesNow: number, courtesyAt: Map<string, { t: number; chain: number }>): Promise<void> {
  const jp = dep.provider as ethers.JsonRpcProvider;
  const system = dep.contracts.system;
  for (const o of deposits) {
    const d = depositContract(dep, o.deposit, world);
    const state = Number(await d.currentState());
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
      const pct = Number(await d.collateralizationPercentage());
      const severe = Number(await d.severelyUndercollateralizedThresholdPercent());
      const under = Number(await d.undercollateralizedThresholdPercent());
      if (pct < severe) {
        await tryCall("notifyUndercollateralizedLiquidation");
      } else if (state === DepositState.ACTIVE && pct < under) {
        if (await tryCall("notifyCourtesyCall")) courtesyAt.set(o.deposit, { t: seriesNow, chain: (await jp.getBlock("latest"))!.timestamp });
      } else if (state === DepositState.COURTESY_CALL && pct >= under) {
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
    } else if (state === DepositState.AWAITING_WITHDRAWAL_SIGNATURE || state === DepositState.AWAITING_WITHDRAWAL_PROOF) {
      // The signing group: sign the requested digest, then broadcast the Bitcoin payout and
      // prove it (anyone may submit both), as a live keep does within the hour.
      const logs = await system.queryFilter(system.filters.RedemptionRequested(o.deposit), dep.deploymentBlock);
      const req = (logs.at(-1) as ethers.EventLog).args;
      if (state === DepositState.AWAITING_WITHDRAWAL_SIGNATURE) {
        const sig = await signRedemptionDigest(dep, o.keep, req[2] as string);
        await send(d.provideRedemptionSignature(sig.v, sig.r, sig.s, GAS));
      }
      const proof = buildRedemptionProof(req[6] as string, (req[3] as bigint) - (req[5] as bigint), req[4] as string);
      await send(d.provideRedemptionProof(...redemptionProofArgs(proof), GAS));
    }
  }
}

/**
 * Gas the operator paid, from the receipts of its transactions in the run's blocks (its balance
 * cannot tell: a redeemed deposit's keep hands the bond back to its members).
 */
async function operatorGas(jp: ethers.JsonRpcProvider, operator: string, fromBlock: number): Promise<{ wei: bigint; gas: bigint; txs: number }> {
  const head = await jp.getBlockNumber();
  let total = 0n;
  let gas = 0n;
  let txs = 0;
  for (let n = fromBlock; n <= head; n++) {
    const block = (await jp.send("eth_getBlockByNumber", [ethers.toQuantity(n), true])) as { transactions: Array<{ from: string; hash: string }> };
    for (const tx of block.transactions) {
      if (tx.from.toLowerCase() !== operator.toLowerCase()) continue;
      const r = await jp.getTransactionReceipt(tx.hash);
      if (!r) continue;
      total += r.gasUsed * r.gasPrice;
      gas += r.gasUsed;
      txs++;
    }
  }
  return { wei: total, gas, txs };
}

/** The walk itself, from the current chain state; returns the per-deposit outcomes read from events. */
async function walk(devnet: Devnet, opts: ReplayOptions, bot: boolean, dataDir: string, file: string): Promise<RunResult> {
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

  // The operator's keepctl, as `watch --once` builds it: config from the deployment file, its own
  // data dir (journal, audit log, scan cache), the journaled sender on its key.
  fs.rmSync(dataDir, { recursive: true, force: true });
  const cfg = loadConfig({ deployment: file, dataDir }, {}, { dotenv: false });
  const provider: KeepctlProvider = await connectFromConfig(cfg);
  const wallet = new ethers.Wallet(devnetWallet(OPERATOR_INDEX).privateKey, provider);
  const sender = new JournaledSender(new ActionSender(wallet, provider, Journal.open(cfg.dataDir), { maxFeeGwei: 1000, pollMs: 50, dryRun: false }));
  const script = opts.redeem === false ? undefined : decodeBtcAddress(PAYOUT_ADDRESS, "testnet").redeemerOutputScript;
  const hub = new AlertHub([{ name: "log", send: async () => undefined }]);
  const audit = AuditLog.open(cfg.dataDir);
  const contracts = tbtcContractsOf(cfg);
  const tbtcBefore = (await dep.contracts.tbtcToken.balanceOf(operator)) as bigint;
  let chainNow = chainBase;
  const st: LoopState = { loop: 0, lastHead: -1, lastNewBlockAt: chainNow };

  const opened: Opened[] = [];
  const pending = [...opts.portfolio].sort((a, b) => a.openAt - b.openAt);
  const lowest = new Map<string, { pct: number; t: number }>();
  const courtesyAt = new Map<string, { t: number; chain: number }>();
  const botSkipped = new Map<string, string>();
  try {
    for (let i = 0; i < opts.points.length; i++) {
      if (opts.signal?.aborted) throw new InterruptedError();
      const p = opts.points[i];
      const latest = (await jp.getBlock("latest"))!.timestamp;
      const ts = Math.max(chainOf(p.t), latest + 1);
      await rpc(jp, "evm_setNextBlockTimestamp", [ts]);
      await send(dep.contracts.medianizer.setValue(ethBtcToMedianizerValue(p.ethBtc), GAS));
      chainNow = ts;
      while (pending.length && pending[0].openAt <= p.t) {
        const entry = pending.shift()!;
        const bondedAt = entry.openAt < t0 ? entry.openAt : p.t;
        const bondPrice = entry.openAt < t0 ? priceAt(opts.series, entry.openAt, entry.label) : p.ethBtc;
        const d = await openPortfolioDeposit(dep, entry.lotBtc, bondPrice);
        opened.push({ entry, ...d, bondedAt, openedT: p.t });
      }
      for (const o of opened) {
        const c = depositContract(dep, o.deposit);
        const state = Number(await c.currentState());
        if (state !== DepositState.ACTIVE && state !== DepositState.COURTESY_CALL) continue;
        const pct = Number(await c.collateralizationPercentage());
        const low = lowest.get(o.deposit);
        if (!low || pct < low.pct) lowest.set(o.deposit, { pct, t: p.t });
      }
      if (bot) {
        st.loop = i + 1;
        await watchOnce(
          {
            cfg, provider, contracts, operators: [operator], sender, script, hub, audit, policy: opts.policy,
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
      }
      await worldActs(dep, world, opened, p.t, courtesyAt);
      if (opts.onProgress && (i % 24 === 0 || i === opts.points.length - 1)) opts.onProgress(`${bot ? "bot" : "no bot"}: ${isoTime(p.t)} ETH/BTC ${p.ethBtc} (${i + 1}/${opts.points.length})`);
    }
  } finally {
    provider.destroy();
  }

  await opts.onWalkEnd?.({ bot, devnet, fromBlock: startBlock + 1, seriesOf, operator, deposits: opened.map((o) => ({ label: o.entry.label, deposit: o.deposit })) });
  // The outcome, from the contracts' events of this run's blocks.
  const system = new ethers.Contract(dep.addresses.TBTCSystem, tbtcAbi("TBTCSystem"), jp);
  const q = async (name: string) => (await system.queryFilter(name, startBlock + 1)) as ethers.EventLog[];
  const [courtesy, requested, redeemed, liquidations] = await Promise.all([q("CourtesyCalled"), q("RedemptionRequested"), q("Redeemed"), q("StartedLiquidation")]);
  const blockTime = async (e: ethers.EventLog) => (await e.getBlock()).timestamp;
  const firstFor = async (list: ethers.EventLog[], addr: string) => list.find((e) => (e.args[0] as string).toLowerCase() === addr.toLowerCase());
  // An event is reported at the walked point whose pass sent it: the seconds a pass takes in
  // chain time follow the wall clock (Hardhat), and the report must not.
  const pointOf = (t: number) => {
    let best = opts.points[0].t;
    for (const p of opts.points) if (p.t <= t) best = p.t;
    return best;
  };
  const when = async (e?: ethers.EventLog) => (e ? isoTime(pointOf(seriesOf(await blockTime(e)))) : null);
  const deposits: DepositOutcome[] = [];
  let seized = 0n;
  let redeemedByBot = 0;
  for (const o of opened) {
    const cc = await firstFor(courtesy, o.deposit);
    const rq = await firstFor(requested, o.deposit);
    const rd = await firstFor(redeemed, o.deposit);
    const lq = await firstFor(liquidations, o.deposit);
    const by = rq ? ((rq.args[1] as string).toLowerCase() === operator.toLowerCase() ? "bot" : "other") : null;
    if (by === "bot") redeemedByBot++;
    if (lq) seized += o.bondWei;
    const low = lowest.get(o.deposit);
    const state = Number(await depositContract(dep, o.deposit).currentState());
    deposits.push({
      label: o.entry.label, lotBtc: o.entry.lotBtc, deposit: o.deposit, openedAt: isoTime(o.openedT), bondedAtEthBtc: o.bondedAt === o.openedT ? opts.points.find((x) => x.t === o.openedT)!.ethBtc : priceAt(opts.series, o.bondedAt, o.entry.label),
      bondEth: ethers.formatEther(o.bondWei), operatorBondEth: ethers.formatEther(o.bondWei / 3n),
      lowestCollateralPct: low?.pct ?? null, lowestAt: low ? isoTime(low.t) : null,
      courtesyCalledAt: await when(cc), redemptionRequestedAt: await when(rq), redemptionRequestedBy: by, redeemedAt: await when(rd), liquidationStartedAt: await when(lq),
      outcome: lq ? "liquidated" : rd ? "redeemed" : rq ? "redeeming" : state === DepositState.COURTESY_CALL ? "courtesy-called" : "survived",
      bondLost: !!lq,
      botSkipped: !rq && bot ? (botSkipped.get(o.deposit.toLowerCase()) ?? null) : null,
    });
  }
  const tbtcAfter = (await dep.contracts.tbtcToken.balanceOf(operator)) as bigint;
  const spent = await operatorGas(jp, operator, startBlock + 1);
  return {
    bot, deposits,
    courtesyCalled: deposits.filter((d) => d.courtesyCalledAt).length,
    redeemedByBot, liquidated: deposits.filter((d) => d.bondLost).length,
    bondsSeizedEth: ethers.formatEther(seized), operatorBondsSeizedEth: ethers.formatEther(seized / 3n),
    operatorTbtcSpent: ethers.formatEther(tbtcBefore - tbtcAfter), operatorEthSpent: ethers.formatEther(spent.wei), operatorGasUsed: Number(spent.gas), operatorTxs: spent.txs,
  };
}

/** Starts the devnet, funds the operator, walks with the bot, reverts, walks without it. */
export async function runReplay(opts: ReplayOptions): Promise<ReplayReport> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-replay-"));
  const file = path.join(home, "deployment.json");
  opts.onProgress?.("starting the devnet (real tBTC v1.1.0 contracts) ...");
  const devnet = await startDevnet({ seed: false, out: file, ethBtc: opts.points[0].ethBtc });
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
    const snapshot = await rpc(jp, "evm_snapshot", []);
    const runs: RunResult[] = [];
    runs.push(await walk(devnet, opts, true, path.join(home, "bot"), file));
    if (opts.baseline !== false) {
      await rpc(jp, "evm_revert", [snapshot]);
      runs.push(await walk(devnet, opts, false, path.join(home, "nobot"), file));
    }
    const [withBot, noBot] = runs;
    const saved = noBot
      ? { bondsEth: ethers.formatEther(ethers.parseEther(noBot.bondsSeizedEth) - ethers.parseEther(withBot.bondsSeizedEth)), operatorEth: ethers.formatEther(ethers.parseEther(noBot.operatorBondsSeizedEth) - ethers.parseEther(withBot.operatorBondsSeizedEth)) }
      : null;
    return {
      window: { from: isoTime(opts.points[0].t), to: isoTime(opts.points[opts.points.length - 1].t), points: opts.windowPoints, walked: opts.points.length, step: opts.step },
      gaps: opts.gaps.map((g) => ({ from: isoTime(g.from), to: isoTime(g.to), missingHours: g.missing })),
      policy: { warnBelowPct: opts.policy.warnBelowPct, redeemBelowPct: opts.policy.redeemBelowPct, notifyCourtesy: opts.policy.notifyCourtesy },
      budget: { tbtc: opts.tbtc, eth: opts.eth },
      runs, saved,
    };
  } finally {
    await devnet.stop();
    fs.rmSync(home, { recursive: true, force: true });
  }
}
