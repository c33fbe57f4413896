import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers } from "ethers";
import { loadConfig } from "../lib/config";
import { InterruptedError } from "../lib/errors";
import { formatFixedTrimmed } from "../lib/fixed-point";
import { annualize } from "../lib/rai/math";
import { openBotSession, type BotSession } from "../lib/uma/bot-session";
import type { PriceSource } from "../lib/uma/bot-loop";
import { EmpLiquidator } from "../lib/uma/liquidator";
import { EmpDisputer } from "../lib/uma/disputer";
import { empInterface, encodeCreateLiquidation, encodeWithdrawLiquidation } from "../lib/uma/emp-client";
import { startHardhatNode } from "./node";
import { devnetProvider, devnetWallet } from "./scenario";
import { deployRai } from "./rai";
import { startSubgraphServer } from "./subgraph-server";
import { deployEmp, loadUmaArtifact } from "./uma";
import { isoTime } from "./replay-data";
import { nodePid, procPeakRssMiB } from "./replay";
import type { RateUpdate } from "./replay-rates-data";
import { expectedPrice } from "./replay-rates-check";

/**
 * `keepctl replay --rates`: RAI's real redemption-rate history walked in chain time through the
 * devnet's RateSetter and OracleRelayer doubles, indexed by the loopback subgraph with a lag, and
 * priced by the real RAI feed inside the real EMP bots (the passes `emp-liquidate` and
 * `emp-dispute` run, opened by the same session code with their journal and sender), against
 * UMA's real ExpiringMultiParty. A careless third party liquidates at a stale, marked-up price so
 * the disputer has work; the mock oracle settles each dispute at the true historical price.
 * Every price a bot was given is checked against replay-rates-check.ts (plain bigint math from
 * the CSV), and every outcome in the report is read back from the EMP's events.
 */

const WAD = 10n ** 18n;
const GAS = { gasLimit: 3_000_000 };
const TWAP_SEC = 28_800; // the feed's default, as the bots run it
const CR = 125n * 10n ** 16n; // the EMP's collateral requirement (1.25)
const LIVENESS = 7200;
/** Hardhat accounts: 0 deploys and runs the mock oracle; the bots; the careless third party. */
const LIQUIDATOR = 1;
const DISPUTER = 2;
const CARELESS = 3;
/** Sponsors are further HD accounts of the devnet mnemonic, funded with hardhat_setBalance. */
const FIRST_SPONSOR = 100;
/** Collateral ratios (at the price of the moment) each batch of sponsors opens at. */
export const SPONSOR_RATIOS = ["1.26", "1.32", "1.45"] as const;
const TOKENS_PER_SPONSOR = 100n * WAD;
/**
 * The liquidator's own position: thin (0.8 collateral per token) and large, so the EMP's global
 * ratio stays below every new sponsor's (the EMP admits a new position only at or above it).
 * It is also where the bot's synthetic tokens come from; a bot never liquidates its own position.
 */
const ANCHOR = { tokens: 20_000n * WAD, collateral: 16_000n * WAD };
const CARELESS_TOKENS = 4_000n * WAD;
/** The careless liquidator runs at every this-many-th update (a cron job, not a bot). */
const CARELESS_EVERY = 4;
/** How many updates old the careless liquidator's price is (14: a week). */
const CARELESS_STALE = 14;
const DISPUTER_COLLATERAL = 5_000n * WAD;

export interface RatesReplayOptions {
  /** The Hardhat node's port (default: a free one). */
  port?: number;
  /** The window's updates (at least 2), the update carried in before them (or null), the whole series (truth). */
  walk: RateUpdate[];
  carryIn: RateUpdate | null;
  series: RateUpdate[];
  /** Seconds after each update at which the bots run (default 4 h: the TWAP then mixes two rates). */
  passOffsetSec?: number;
  /** Open a batch of sponsors every this many updates (default: 16 batches over the walk). */
  sponsorEvery?: number;
  /** The careless liquidator's mark-up on its stale price (1e18 = 100 %; default 0). */
  carelessMarkup?: bigint;
  /** Run both bots at every update, also where they cannot act (default false: see the quiet points). */
  everyPoint?: boolean;
  /** The subgraph's indexing lag in blocks (default 3). */
  subgraphLagBlocks?: number;
  onProgress?: (msg: string) => void;
  signal?: AbortSignal;
}

export interface PriceCheck {
  /** Series time (ISO) the price is for. */
  at: string;
  /** What the RAI feed gave the bot (decimal). */
  feed: string | null;
  /** The independent recomputation from the CSV (decimal). */
  recomputed: string | null;
  match: boolean;
}

export interface RatesLiquidation {
  sponsor: string;
  id: number;
  by: "bot" | "careless";
  /** The pass (series time) that sent it. */
  at: string;
  tokens: string;
  lockedCollateral: string;
  /** What the liquidator priced it at: the bot's feed price with its check, or the careless one's wrong price. */
  price: PriceCheck | { at: string; careless: string; truth: string | null };
  /** collateral / (tokens × true price) at the liquidation's time: below 1.25 the liquidation was right. */
  ratioAtTruePrice: string | null;
  dispute: null | {
    at: string;
    bond: string;
    /** The disputer's feed price at the liquidation's time, and its recomputation. */
    price: PriceCheck;
  };
  /** How the EMP settled it (from its events); null while still in liveness or unresolved at the end. */
  settlement: null | {
    oraclePrice: string | null;
    disputeSucceeded: boolean | null;
    paidToSponsor: string;
    paidToLiquidator: string;
    paidToDisputer: string;
  };
  state: "withdrawn" | "disputed-unresolved" | "in-liveness";
}

export interface RatesReplayReport {
  window: { from: string; to: string; updates: number; carriedIn: string | null; passOffsetSec: number; twapSec: number };
  setup: {
    collateralRequirement: string;
    liquidationLivenessSec: number;
    disputeBondPct: string;
    crThreshold: string;
    subgraphLagBlocks: number;
    careless: string;
    sponsors: Array<{ label: string; openedAt: string; ratio: string; tokens: string; collateral: string; priceAtOpen: string }>;
  };
  liquidations: RatesLiquidation[];
  /** Points where the bots could act (the rest were quiet), and the price checks of their passes. */
  passes: { points: number; liquidator: number; disputer: number };
  checks: { liquidatorPrices: number; disputerPrices: number; differ: number };
  totals: {
    liquidationsByBot: number;
    liquidationsByCareless: number;
    disputes: number;
    disputesSucceeded: number;
    carelessLeftUndisputed: number;
    paidToSponsors: string;
    paidToLiquidators: string;
    paidToDisputer: string;
  };
}

export interface RatesReplayRun {
  report: RatesReplayReport;
  stats: {
    points: number; seconds: number; pointsPerSecond: number; peakRssMiB: number; nodePeakRssMiB: number | null;
    /** Feed updates where the subgraph lagged and the newest rate came from events: depends on
     *  when the loopback subgraph indexed, so it is timing, not part of the (deterministic) report. */
    subgraphBehindUpdates: number;
  };
}

const dec = (v: bigint | null | undefined) => (v === null || v === undefined ? null : formatFixedTrimmed(v, 18));
const wadMul = (a: bigint, b: bigint) => (a * b) / WAD;

/**
 * The world's transactions (setup, sponsors, the careless liquidator, the oracle), sent from the
 * node's unlocked or impersonated accounts: two RPC calls each on an automining node, where an
 * ethers signer would spend six (nonce, fees, gas, polling).
 */
async function sendRaw(jp: ethers.JsonRpcProvider, from: string, to: string, data: string): Promise<ethers.Log[]> {
  const hash = (await jp.send("eth_sendTransaction", [{ from, to, data, gas: ethers.toQuantity(GAS.gasLimit) }])) as string;
  const r = (await jp.send("eth_getTransactionReceipt", [hash])) as { status: string; logs: Array<{ address: string; topics: string[]; data: string }> } | null;
  if (!r || r.status !== "0x1") throw new Error(`replay: a world transaction to ${to} failed (${hash})`);
  return r.logs as unknown as ethers.Log[];
}

interface Sponsor { label: string; address: string }

export async function runRatesReplay(opts: RatesReplayOptions): Promise<RatesReplayRun> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-replay-rates-"));
  const walk = opts.walk;
  const first = opts.carryIn ?? walk[0];
  const last = walk[walk.length - 1];
  const posted = opts.carryIn ? [opts.carryIn, ...walk] : walk;
  const minGap = Math.min(...posted.slice(1).map((u, i) => u.t - posted[i].t));
  // The bots pass between updates: at most a third of the shortest gap after an update.
  const passOffset = Math.min(opts.passOffsetSec ?? 4 * 3600, Math.floor(minGap / 3));
  const sponsorEvery = opts.sponsorEvery ?? Math.max(1, Math.round(walk.length / 16));
  const markup = opts.carelessMarkup ?? 0n;
  const lagBlocks = opts.subgraphLagBlocks ?? 3;
  const truth = (t: number) => expectedPrice(opts.series, t, TWAP_SEC);

  opts.onProgress?.("starting the devnet (RAI doubles, loopback subgraph, UMA EMP) ...");
  const node = await startHardhatNode({ port: opts.port });
  const jp = devnetProvider(node.rpcUrl);
  const sessions: BotSession[] = [];
  let subgraph: Awaited<ReturnType<typeof startSubgraphServer>> | undefined;
  try {
    const deployer = await jp.getSigner(0);
    const rai = await deployRai(deployer, { updateRateDelay: Math.min(10_800, minGap) });
    const span = last.t - first.t;
    const emp = await deployEmp(deployer, { expiresIn: span + 40 * 86400, liquidationLiveness: LIVENESS });
    subgraph = await startSubgraphServer({ rpcUrl: node.rpcUrl, rateSetter: rai.addresses.RateSetter, lagBlocks });
    const A = emp.addresses;
    const oracle = new ethers.Contract(A.mockOracle, loadUmaArtifact("MockOracle").abi, deployer);
    const collateralI = new ethers.Interface(loadUmaArtifact("TestnetERC20").abi);
    const syntheticI = new ethers.Interface(loadUmaArtifact("SyntheticToken").abi);
    const oracleI = oracle.interface;
    const liqAddr = devnetWallet(LIQUIDATOR).address;
    const disAddr = devnetWallet(DISPUTER).address;
    const carAddr = devnetWallet(CARELESS).address;
    const world = (from: string, to: string, data: string) => sendRaw(jp, from, to, data);
    const empFullI = new ethers.Interface(loadUmaArtifact("ExpiringMultiParty").abi);
    const createCall = (collateral: bigint, tokens: bigint) => empFullI.encodeFunctionData("create", [{ rawValue: collateral }, { rawValue: tokens }]);

    // Funding: the liquidator's own (anchor) position mints the synthetic tokens the bot and the
    // careless liquidator burn; the disputer holds collateral for its bonds.
    await world(liqAddr, A.collateral, collateralI.encodeFunctionData("allocateTo", [liqAddr, ANCHOR.collateral]));
    await world(liqAddr, A.collateral, collateralI.encodeFunctionData("approve", [A.emp, ANCHOR.collateral]));
    await world(liqAddr, A.emp, createCall(ANCHOR.collateral, ANCHOR.tokens));
    await world(liqAddr, A.synthetic, syntheticI.encodeFunctionData("transfer", [carAddr, CARELESS_TOKENS]));
    await world(disAddr, A.collateral, collateralI.encodeFunctionData("allocateTo", [disAddr, DISPUTER_COLLATERAL]));
    await world(carAddr, A.synthetic, syntheticI.encodeFunctionData("approve", [A.emp, ethers.MaxUint256]));
    await world(carAddr, A.collateral, collateralI.encodeFunctionData("approve", [A.emp, ethers.MaxUint256]));

    // The bots as the commands open them: config from a deployment file, their own data dirs
    // (journal, audit), the raw test key the way CI passes one, the feed from RateSetter + subgraph.
    const file = path.join(home, "deployment.json");
    fs.writeFileSync(file, JSON.stringify({
      network: "devnet", chainId: 31337, rpcUrl: node.rpcUrl, operators: [], deploymentBlock: rai.deploymentBlock,
      contracts: { ExpiringMultiParty: A.emp, RateSetter: rai.addresses.RateSetter, OracleRelayer: rai.addresses.OracleRelayer },
      subgraphUrl: subgraph.url,
    }));
    let subgraphBehind = 0;
    const open = async (bot: "liquidator" | "disputer", index: number) => {
      const env = { KEEPCTL_PRIVATE_KEY: devnetWallet(index).privateKey, KEEPCTL_LOCK_DIR: path.join(home, "locks"), KEEPCTL_TX_POLL_MS: "20" };
      const cfg = loadConfig({ deployment: file, dataDir: path.join(home, bot) }, env, { dotenv: false });
      const s = await openBotSession(cfg, {
        bot, dryRun: false, interactive: false, signal: opts.signal ?? new AbortController().signal,
        // The bots' events are not kept (memory stays flat): the report reads the chain. Only the
        // feed's fallback to events when the lagging subgraph is behind is counted.
        emit: (ev) => {
          if (ev.type === "warning" && /subgraph is behind/.test(String((ev as { message?: string }).message))) subgraphBehind++;
        },
      });
      sessions.push(s);
      return s;
    };
    const liqSession = await open("liquidator", LIQUIDATOR);
    const disSession = await open("disputer", DISPUTER);
    // What the feed gave each bot, recorded on the way through (the bots' own code is untouched).
    const liquidatorPrices: Array<{ now: number; price: bigint | null }> = [];
    const disputerPrices = new Map<bigint, bigint | null>();
    const watch = (inner: PriceSource, onCurrent?: (now: number, p: bigint | null) => void, onAt?: (t: bigint, p: bigint | null) => void): PriceSource => {
      let now = 0;
      return {
        label: inner.label,
        update: async () => {
          await inner.update();
          // The time the feed priced at (its own head read): a block mined meanwhile by the other
          // bot must not shift the recomputation's window.
          now = inner.pricedAt?.() ?? (await jp.getBlock("latest"))!.timestamp;
        },
        pricedAt: () => inner.pricedAt?.(),
        current: () => {
          const p = inner.current();
          onCurrent?.(now, p);
          return p;
        },
        at: (t) => {
          const p = inner.at(t);
          onAt?.(t, p);
          return p;
        },
      };
    };
    liqSession.ctx.price = watch(liqSession.ctx.price, (now, p) => liquidatorPrices.push({ now, price: p }));
    disSession.ctx.price = watch(disSession.ctx.price, undefined, (t, p) => disputerPrices.set(t, p));
    const liquidator = new EmpLiquidator(liqSession.ctx, liqSession.liquidation);
    const disputer = new EmpDisputer(disSession.ctx, disSession.dispute);

    // Series time <-> chain time: a constant offset from an hour after the head.
    const head = (await jp.getBlock("latest"))!.timestamp;
    const chainBase = head + 3600;
    const chainOf = (t: number) => chainBase + (t - first.t);
    const seriesOf = (ts: number) => first.t + (ts - chainBase);
    const at = async (seriesT: number, mine = true) => {
      await jp.send("evm_setNextBlockTimestamp", [chainOf(seriesT)]);
      if (mine) await jp.send("evm_mine", []);
    };
    const postRate = async (u: RateUpdate) => {
      await at(u.t, false);
      // The CSV has no market price; the feed reads only the rate (the event's third field).
      await world(deployer.address, rai.addresses.RateSetter, rai.rateSetter.interface.encodeFunctionData("updateRate", [0n, u.rate]));
    };

    // What the replay knows of the EMP, kept from its events (the quiet-point rule reads it).
    const positions = new Map<string, { tokens: bigint; collateral: bigint }>();
    const book = new Map<string, { sponsor: string; id: bigint; liquidator: string; lt: number; disputed: boolean; withdrawn: boolean; answered: boolean }>();
    const key = (sponsor: string, id: bigint | number) => `${sponsor.toLowerCase()}#${id}`;
    let scanned = emp.deployBlock;
    const syncBook = async () => {
      const headBlock = await jp.getBlockNumber();
      if (headBlock <= scanned) return;
      const logs = await jp.getLogs({ address: A.emp, fromBlock: scanned + 1, toBlock: headBlock });
      scanned = headBlock;
      for (const log of logs) {
        const ev = (() => { try { return empInterface.parseLog(log); } catch { return null; } })();
        if (!ev) continue;
        if (ev.name === "LiquidationCreated") {
          book.set(key(ev.args.sponsor, ev.args.liquidationId), { sponsor: ev.args.sponsor, id: ev.args.liquidationId, liquidator: (ev.args.liquidator as string).toLowerCase(), lt: seriesOf(Number(ev.args.liquidationTime)), disputed: false, withdrawn: false, answered: false });
          const pos = positions.get((ev.args.sponsor as string).toLowerCase());
          if (pos) {
            pos.tokens -= ev.args.tokensOutstanding as bigint;
            pos.collateral -= ev.args.lockedCollateral as bigint;
          }
        } else if (ev.name === "LiquidationDisputed") {
          book.get(key(ev.args.sponsor, ev.args.liquidationId))!.disputed = true;
        } else if (ev.name === "LiquidationWithdrawn") {
          const call = empInterface.parseTransaction({ data: (await jp.getTransaction(log.transactionHash))!.data })!;
          book.get(key(call.args[1] as string, call.args[0] as bigint))!.withdrawn = true;
        }
      }
    };

    const sponsors: Sponsor[] = [];
    const sponsorRows: RatesReplayReport["setup"]["sponsors"] = [];
    const labelOf = new Map<string, string>([[liqAddr.toLowerCase(), "liquidator's own"]]);
    const openSponsors = async (seriesT: number) => {
      const price = truth(seriesT);
      if (price === null) return;
      for (const ratio of SPONSOR_RATIOS) {
        const k = sponsors.length;
        // Sponsors need no keys: impersonated addresses, funded by the node.
        const address = ethers.getAddress(ethers.toBeHex(0x5e0000n + BigInt(FIRST_SPONSOR + k), 20));
        await jp.send("hardhat_impersonateAccount", [address]);
        await jp.send("hardhat_setBalance", [address, ethers.toQuantity(10n ** 20n)]);
        const collateral = wadMul(wadMul(TOKENS_PER_SPONSOR, price), ethers.parseEther(ratio));
        await world(address, A.collateral, collateralI.encodeFunctionData("allocateTo", [address, collateral]));
        await world(address, A.collateral, collateralI.encodeFunctionData("approve", [A.emp, collateral]));
        await world(address, A.emp, createCall(collateral, TOKENS_PER_SPONSOR));
        const label = `s${String(k + 1).padStart(2, "0")}@${ratio}`;
        sponsors.push({ label, address });
        positions.set(address.toLowerCase(), { tokens: TOKENS_PER_SPONSOR, collateral });
        labelOf.set(address.toLowerCase(), label);
        sponsorRows.push({ label, openedAt: isoTime(seriesT), ratio, tokens: dec(TOKENS_PER_SPONSOR)!, collateral: dec(collateral)!, priceAtOpen: dec(price)! });
      }
    };

    // The careless third party: prices with the annualized rate of an OLD update
    // (CARELESS_STALE updates old: a week), marks it up by `markup`, uses no TWAP and no safety margin, and runs
    // only every CARELESS_EVERY updates. It collects what its liquidations earned first.
    const carelessMeta = new Map<string, { at: number; price: bigint }>();
    const carelessPass = async (seriesT: number, staleRate: bigint | null) => {
      let k = 0;
      const next = () => at(seriesT + 60 + k++, false);
      for (const l of book.values()) {
        if (l.liquidator !== carAddr.toLowerCase() || l.withdrawn) continue;
        if (l.disputed ? !l.answered : chainOf(seriesT) < chainOf(l.lt) + LIVENESS) continue;
        await next();
        await world(carAddr, A.emp, encodeWithdrawLiquidation(A.emp, l.id, l.sponsor).data);
      }
      if (staleRate === null) return;
      const wrongPrice = wadMul(annualize(staleRate), WAD + markup);
      for (const s of sponsors) {
        const p = positions.get(s.address.toLowerCase())!;
        if (p.tokens === 0n || p.tokens * wrongPrice * CR <= p.collateral * WAD * WAD) continue;
        await next();
        const logs = await world(carAddr, A.emp, encodeCreateLiquidation(A.emp, { sponsor: s.address, minCollateralPerToken: 0n, maxCollateralPerToken: 10n ** 30n, maxTokensToLiquidate: p.tokens, deadline: BigInt(chainOf(seriesT) + 86400) }).data);
        const ev = logs.map((x) => { try { return empInterface.parseLog(x); } catch { return null; } }).find((e) => e?.name === "LiquidationCreated")!;
        carelessMeta.set(key(s.address, ev.args.liquidationId), { at: seriesT, price: wrongPrice });
      }
    };

    // The mock oracle answers every pending request at once, with the true historical price.
    const settleOracle = async (seriesT: number) => {
      const pending = (await oracle.getPendingQueries()) as Array<{ identifier: string; time: bigint }>;
      let k = 0;
      for (const q of pending) {
        const price = truth(seriesOf(Number(q.time)));
        if (price === null) continue;
        await at(seriesT + 900 + k++, false);
        await world(deployer.address, A.mockOracle, oracleI.encodeFunctionData("pushPrice", [q.identifier, q.time, price]));
        for (const l of book.values()) if (l.disputed && chainOf(l.lt) === Number(q.time)) l.answered = true;
      }
    };

    /*
     * Quiet points: a pass of a bot is skipped where it cannot act, as the tBTC replay skips
     * quiet hours. The liquidator cannot act when every position is at or above the line at the
     * price of the moment (its own check shades the price down 2 %, a margin) and none of its
     * liquidations waits to be withdrawn; the disputer, when no liquidation is open to dispute
     * and none of its disputes waits to be withdrawn. --every-point runs every pass.
     */
    const liquidatorBusy = (seriesT: number) => {
      const price = truth(seriesT);
      if (price === null) return true;
      for (const p of positions.values()) if (p.tokens > 0n && p.tokens * price * CR > p.collateral * WAD * WAD) return true;
      for (const l of book.values()) if (l.liquidator === liqAddr.toLowerCase() && !l.withdrawn) return true;
      return false;
    };
    const disputerBusy = (seriesT: number) => {
      for (const l of book.values()) {
        if (l.withdrawn) continue;
        if (l.disputed ? true : chainOf(seriesT) < chainOf(l.lt) + LIVENESS) return true;
      }
      return false;
    };

    let pass = 0;
    const ran = { liquidator: 0, disputer: 0 };
    const botLiq = new Map<string, number>(); // sponsor#id -> the pass's series time
    const disputeAt = new Map<string, number>();
    const passes = async (seriesT: number, staleRate: bigint | null, careless: boolean) => {
      pass++;
      await syncBook();
      if (opts.everyPoint || liquidatorBusy(seriesT)) {
        await at(seriesT);
        ran.liquidator++;
        const s = await liquidator.runPass(pass);
        for (const l of s.liquidations) if (l.status === "liquidated" && l.liquidationId !== undefined) botLiq.set(key(l.sponsor, l.liquidationId), seriesT);
        await syncBook();
      }
      if (careless) {
        await carelessPass(seriesT, staleRate);
        await syncBook();
      }
      if (opts.everyPoint || disputerBusy(seriesT + 600)) {
        await at(seriesT + 600);
        ran.disputer++;
        const d = await disputer.runPass(pass);
        for (const x of d.disputes) if (x.status === "disputed") disputeAt.set(key(x.sponsor, x.liquidationId), seriesT + 600);
        await syncBook();
        await settleOracle(seriesT);
      }
    };

    const started = performance.now();
    if (opts.carryIn) await postRate(opts.carryIn);
    for (let i = 0; i < walk.length; i++) {
      if (opts.signal?.aborted) throw new InterruptedError();
      const u = walk[i];
      if (opts.onProgress && (i % 40 === 0 || i === walk.length - 1)) opts.onProgress(`rates: ${isoTime(u.t)} (${i + 1}/${walk.length})`);
      await postRate(u);
      const passT = u.t + passOffset;
      if (i % sponsorEvery === 0) {
        await at(passT - Math.min(1800, Math.floor(passOffset / 2)), false);
        await openSponsors(passT);
      }
      const stale = opts.series[opts.series.indexOf(u) - CARELESS_STALE];
      await passes(passT, stale ? stale.rate : null, i % CARELESS_EVERY === CARELESS_EVERY - 1);
    }
    // Settle: past every liveness, twice (the second collects what the first round's oracle answered).
    const endT = last.t + passOffset + LIVENESS + 1200;
    await passes(endT, null, true);
    await passes(endT + 1200, null, true);
    const seconds = (performance.now() - started) / 1000;

    // ---- the report, from the EMP's events
    const logs = await jp.getLogs({ address: A.emp, fromBlock: emp.deployBlock, toBlock: "latest" });
    const parsed = logs.map((l) => ({ log: l, ev: (() => { try { return empInterface.parseLog(l); } catch { return null; } })() })).filter((x) => x.ev);
    const withdrawn = new Map<string, { paidToSponsor: bigint; paidToLiquidator: bigint; paidToDisputer: bigint; settlementPrice: bigint }>();
    const settled = new Map<string, boolean>();
    const disputed = new Map<string, bigint>();
    for (const { log, ev } of parsed) {
      if (ev!.name === "LiquidationWithdrawn") {
        const tx = await jp.getTransaction(log.transactionHash);
        const call = empInterface.parseTransaction({ data: tx!.data })!;
        withdrawn.set(key(call.args[1] as string, call.args[0] as bigint), {
          paidToSponsor: ev!.args.paidToSponsor, paidToLiquidator: ev!.args.paidToLiquidator, paidToDisputer: ev!.args.paidToDisputer, settlementPrice: ev!.args.settlementPrice,
        });
      } else if (ev!.name === "DisputeSettled") settled.set(key(ev!.args.sponsor, ev!.args.liquidationId), ev!.args.disputeSucceeded);
      else if (ev!.name === "LiquidationDisputed") disputed.set(key(ev!.args.sponsor, ev!.args.liquidationId), ev!.args.disputeBondAmount);
    }
    const check = (seriesT: number, feed: bigint | null): PriceCheck => {
      const want = truth(seriesT);
      return { at: isoTime(seriesT), feed: dec(feed), recomputed: dec(want), match: feed !== null && feed === want };
    };
    let differ = 0;
    for (const p of liquidatorPrices) if (!check(seriesOf(p.now), p.price).match) differ++;
    for (const [t, p] of disputerPrices) if (!check(seriesOf(Number(t)), p).match) differ++;

    const liquidations: RatesLiquidation[] = [];
    for (const { ev } of parsed) {
      if (ev!.name !== "LiquidationCreated") continue;
      const sponsor = ev!.args.sponsor as string;
      const id = ev!.args.liquidationId as bigint;
      const k = key(sponsor, id);
      const lt = seriesOf(Number(ev!.args.liquidationTime));
      const tokens = ev!.args.tokensOutstanding as bigint;
      const locked = ev!.args.lockedCollateral as bigint;
      const liquidated = ev!.args.liquidatedCollateral as bigint;
      const byBot = (ev!.args.liquidator as string).toLowerCase() === liqAddr.toLowerCase();
      const careless = carelessMeta.get(k);
      const passT = byBot ? botLiq.get(k)! : careless!.at;
      // The bot's liquidation is judged at its pass's price time (its block's second is wall-clock noise).
      const judgeT = byBot ? passT : lt;
      const truePrice = truth(judgeT);
      const bond = disputed.get(k);
      const w = withdrawn.get(k);
      const feedNow = byBot ? liquidatorPrices.find((p) => seriesOf(p.now) === passT) : undefined;
      liquidations.push({
        sponsor: labelOf.get(sponsor.toLowerCase()) ?? sponsor,
        id: Number(id),
        by: byBot ? "bot" : "careless",
        at: isoTime(passT),
        tokens: dec(tokens)!,
        lockedCollateral: dec(locked)!,
        price: byBot ? check(passT, feedNow?.price ?? null) : { at: isoTime(lt), careless: dec(careless!.price)!, truth: dec(truePrice) },
        ratioAtTruePrice: truePrice ? formatFixedTrimmed((liquidated * WAD * 10000n) / (tokens * truePrice), 4) : null,
        dispute: bond === undefined ? null : { at: isoTime(disputeAt.get(k)!), bond: dec(bond)!, price: check(lt, disputerPrices.get(BigInt(chainOf(lt))) ?? null) },
        settlement: w ? {
          oraclePrice: bond === undefined ? null : dec(w.settlementPrice),
          disputeSucceeded: bond === undefined ? null : (settled.get(k) ?? null),
          paidToSponsor: dec(w.paidToSponsor)!, paidToLiquidator: dec(w.paidToLiquidator)!, paidToDisputer: dec(w.paidToDisputer)!,
        } : null,
        state: w ? "withdrawn" : bond !== undefined ? "disputed-unresolved" : "in-liveness",
      });
    }
    const sum = (f: (w: { paidToSponsor: bigint; paidToLiquidator: bigint; paidToDisputer: bigint }) => bigint) => dec([...withdrawn.values()].reduce((a, w) => a + f(w), 0n))!;
    const report: RatesReplayReport = {
      window: { from: isoTime(walk[0].t), to: isoTime(last.t), updates: walk.length, carriedIn: opts.carryIn ? isoTime(opts.carryIn.t) : null, passOffsetSec: passOffset, twapSec: TWAP_SEC },
      setup: {
        collateralRequirement: dec(emp.params.collateralRequirement)!, liquidationLivenessSec: LIVENESS,
        disputeBondPct: formatFixedTrimmed(emp.params.disputeBondPercentage * 100n, 18),
        crThreshold: liqSession.liquidation.crThreshold === undefined ? "0.02" : dec(liqSession.liquidation.crThreshold)!,
        subgraphLagBlocks: lagBlocks,
        careless: `runs every ${CARELESS_EVERY} updates; prices with the annualized rate of ${CARELESS_STALE} updates before (a week stale, no TWAP, no margin)${markup ? ` marked up ${formatFixedTrimmed(markup * 100n, 18)} %` : ""}`,
        sponsors: sponsorRows,
      },
      liquidations,
      passes: { points: pass, liquidator: ran.liquidator, disputer: ran.disputer },
      checks: { liquidatorPrices: liquidatorPrices.length, disputerPrices: disputerPrices.size, differ },
      totals: {
        liquidationsByBot: liquidations.filter((l) => l.by === "bot").length,
        liquidationsByCareless: liquidations.filter((l) => l.by === "careless").length,
        disputes: liquidations.filter((l) => l.dispute).length,
        disputesSucceeded: liquidations.filter((l) => l.settlement?.disputeSucceeded === true).length,
        carelessLeftUndisputed: liquidations.filter((l) => l.by === "careless" && !l.dispute).length,
        paidToSponsors: sum((w) => w.paidToSponsor), paidToLiquidators: sum((w) => w.paidToLiquidator), paidToDisputer: sum((w) => w.paidToDisputer),
      },
    };
    return {
      report,
      stats: {
        points: walk.length, seconds: Math.round(seconds * 10) / 10, pointsPerSecond: Math.round((walk.length / seconds) * 10) / 10,
        peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024), nodePeakRssMiB: procPeakRssMiB(nodePid(node.port)),
        subgraphBehindUpdates: subgraphBehind,
      },
    };
  } finally {
    for (const s of sessions) s.close();
    await subgraph?.stop();
    jp.destroy();
    await node.stop();
    fs.rmSync(home, { recursive: true, force: true });
  }
}
