import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { ethers } from "ethers";
import { PACKAGE_ROOT, startHardhatNode, type LocalNode } from "./node";
import { startDevnet, devnetWallet, type Devnet } from "./scenario";
import { openDeposit } from "./deposits";
import { depositContract, send, setEthBtcPrice } from "./tbtc";
import { deployEmp, seedSponsors, type EmpDeployment, type EmpSeed } from "./uma";
import { FAULT_KINDS, startFaultProxy, type FaultKind } from "./fault-proxy";
import { startLagProxy, type LagProxy } from "./lag-proxy";
import { startBitcoinFaultProxy } from "./bitcoin/fault-proxy";
import { startAutoSigner } from "./autosign";
import { encodeApprove, encodeCreateLiquidation, empInterface } from "../lib/uma/emp-client";
import { parseFixedStrict } from "../lib/fixed-point";

/** An 18-decimal amount from its decimal text ("1.25" -> 1.25e18). */
const wad = (text: string): bigint => parseFixedStrict(text, 18);

/**
 * The exactly-once harness: the real binary, through the fault-injecting proxy, against the real
 * contracts; re-run like cron would until it exits 0; then everything is counted FROM THE CHAIN —
 * every transaction the key sent since the case began, the contracts' events per target — never
 * from keepctl's own output. Used by test/integration/chaos.test.ts (a few seeds) and
 * `npm run chaos` (many).
 */
export type ChaosCommand = "watch" | "watch-preapprove" | "redeem" | "redeem-follow" | "emp-liquidate" | "emp-dispute";
export const CHAOS_COMMANDS: readonly ChaosCommand[] = ["watch", "watch-preapprove", "redeem", "redeem-follow", "emp-liquidate", "emp-dispute"];
/** The commands that run in the tBTC world. */
export const TBTC_CHAOS_COMMANDS: ReadonlySet<ChaosCommand> = new Set(["watch", "watch-preapprove", "redeem"]);

/**
 * Besides the lossy wire, a case may carry one "twist" of the chain's own making:
 * - `reorg-N`: once the case has exited 0, its transactions are buried N-1 blocks deeper and a
 *   pass sees them there (final at N >= 12), then the chain is reverted to before the case's first
 *   run and a longer chain without them is mined; the re-runs must bring every action back.
 * - `lag-first` / `lag-second`: a second endpoint that serves a view LAG_BLOCKS behind the head
 *   (src/devnet/lag-proxy.ts), before or after the lossy one.
 */
export type ChaosTwist = "none" | "reorg-1" | "reorg-3" | "reorg-13" | "lag-first" | "lag-second";
export const CHAOS_TWISTS: readonly ChaosTwist[] = ["none", "reorg-1", "reorg-3", "reorg-13", "lag-first", "lag-second"];
/** Blocks the lagging endpoint trails the head: past --max-lag (3), and past the case's setup. */
export const LAG_BLOCKS = 8;

export interface ChaosCaseResult {
  command: ChaosCommand;
  seed: number;
  rate: number;
  twist: ChaosTwist;
  /** Invocations until exit 0 (cron-style re-runs after a failed one). */
  runs: number;
  exitCodes: number[];
  /** Actions the scenario needs (a redemption per at-risk deposit, a liquidation per sponsor, ...). */
  required: number;
  /** Of those, done on chain exactly once. */
  done: number;
  /** Transactions beyond one per action: more than one event per target, or the same call twice. */
  duplicates: number;
  reverted: number;
  transactions: number;
  faults: Record<FaultKind, number>;
  /** Faults that hit an eth_sendRawTransaction (lost or late answers to a broadcast). */
  broadcastFaults: number;
  /** redeem-follow: faults the Bitcoin servers' proxy injected (drops, stalls, junk, errors). */
  btcFaults: number;
  /** Critical "failed" alerts for an action that succeeded on chain. */
  falseFailureAlerts: number;
  ms: number;
  stderrTail?: string;
}

interface World {
  provider: ethers.JsonRpcProvider;
  rpcUrl: string;
  home: string;
  deploymentFile: string;
  snapshot: string;
  close(): Promise<void>;
}

const BTC = 100_000_000n;
const PAYOUT = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx";
const BIN = path.join(PACKAGE_ROOT, "bin", "keepctl");
const RR_TOPIC = ethers.id("RedemptionRequested(address,address,bytes32,uint256,bytes,uint256,bytes)");
const CC_TOPIC = ethers.id("CourtesyCalled(address,uint256)");
const REDEEMED_TOPIC = ethers.id("Redeemed(address,bytes32,uint256)");
const PROOF_SELECTOR = ethers.id("provideRedemptionProof(bytes4,bytes,bytes,bytes4,bytes,uint256,bytes)").slice(0, 10);

// ---- worlds: one chain per family, reverted to a snapshot before every case ----------------------

export interface TbtcWorld extends World {
  kind: "tbtc";
  devnet: Devnet;
  operator: string;
  deposits: string[];
  redeemer: ethers.Wallet;
}

export async function startTbtcWorld(lots: bigint[] = [1n, 1n, 5n]): Promise<TbtcWorld> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-chaos-tbtc-"));
  const deploymentFile = path.join(home, "deployment.json");
  const devnet = await startDevnet({ seed: false, out: deploymentFile });
  const provider = new ethers.JsonRpcProvider(devnet.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1 });
  const operator = devnetWallet(1).address;
  const members = [operator, devnetWallet(3).address, devnetWallet(4).address];
  const deposits: string[] = [];
  for (const lot of lots) deposits.push((await openDeposit(devnet.deployment, { lotSats: lot * BTC, members, fundWith: "vendingMachine" })).deposit);
  // Another operator's deposit: the deployer then holds the TBTC to hand out.
  await openDeposit(devnet.deployment, { lotSats: 5n * BTC, members: [devnetWallet(5).address, devnetWallet(3).address, devnetWallet(4).address], fundWith: "vendingMachine" });
  const redeemer = new ethers.Wallet(ethers.Wallet.createRandom().privateKey, provider);
  await provider.send("hardhat_setBalance", [redeemer.address, ethers.toQuantity(ethers.parseEther("10"))]);
  const total = lots.reduce((a, b) => a + b, 0n);
  await send(devnet.deployment.contracts.tbtcToken.transfer(redeemer.address, total * 10n ** 18n + 10n ** 17n));
  const snapshot = await provider.send("evm_snapshot", []);
  return {
    kind: "tbtc", devnet, provider, rpcUrl: devnet.rpcUrl, home, deploymentFile, snapshot, operator, deposits, redeemer,
    close: async () => {
      provider.destroy();
      await devnet.stop();
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}

export interface EmpWorld extends World {
  kind: "emp";
  node: LocalNode;
  dep: EmpDeployment;
  seed: EmpSeed;
}

const OTHER = 8;

export async function startEmpWorld(): Promise<EmpWorld> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-chaos-emp-"));
  const node = await startHardhatNode();
  const provider = new ethers.JsonRpcProvider(node.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1 });
  const dep = await deployEmp(await provider.getSigner(0));
  const seed = await seedSponsors(dep, provider);
  // Another liquidator, for the disputer's case: it liquidates a healthy position.
  const syn = new ethers.Contract(dep.addresses.synthetic, ["function transfer(address,uint256) returns (bool)"], await provider.getSigner(seed.liquidator.index));
  await (await syn.transfer(await (await provider.getSigner(OTHER)).getAddress(), wad("150"))).wait();
  const deploymentFile = path.join(home, "deployment.json");
  fs.writeFileSync(deploymentFile, JSON.stringify({ network: "devnet", chainId: 31337, rpcUrl: node.rpcUrl, deploymentBlock: 0, contracts: { ExpiringMultiParty: dep.addresses.emp } }));
  const snapshot = await provider.send("evm_snapshot", []);
  return {
    kind: "emp", node, dep, seed, provider, rpcUrl: node.rpcUrl, home, deploymentFile, snapshot,
    close: async () => {
      provider.destroy();
      await node.stop();
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}

async function resetWorld(w: World): Promise<void> {
  await w.provider.send("evm_revert", [w.snapshot]);
  w.snapshot = await w.provider.send("evm_snapshot", []);
}

// ---- one case ---------------------------------------------------------------------------------

export interface ChaosCaseOptions {
  seed: number;
  /** Share of HTTP requests that fail (default 0.3). */
  rate?: number;
  /** Cron-style re-runs before giving up (default 12). */
  maxRuns?: number;
  /** A reorg or a lagging endpoint on top of the faults (default none). */
  twist?: ChaosTwist;
}

async function mine(provider: ethers.JsonRpcProvider, blocks: number): Promise<void> {
  for (let i = 0; i < blocks; i++) await provider.send("evm_mine", []);
}

export async function runChaosCase(world: TbtcWorld | EmpWorld, command: ChaosCommand, o: ChaosCaseOptions): Promise<ChaosCaseResult> {
  const rate = o.rate ?? 0.3;
  const twist = o.twist ?? "none";
  await resetWorld(world);
  const started = Date.now();
  const setup = await prepare(world, command, { seed: o.seed, rate });
  const fromBlock = (await world.provider.getBlockNumber()) + 1;
  const nonceBefore = await world.provider.getTransactionCount(setup.account, "latest");
  // The reorg's fork point: after the setup, before anything keepctl sends.
  const forkPoint = twist.startsWith("reorg-") ? await world.provider.send("evm_snapshot", []) : undefined;
  // A stall outlasts the client's timeout (so the answer is lost), then reaches the node anyway.
  const proxy = await startFaultProxy({ target: world.rpcUrl, rate, seed: o.seed, stallMs: 2_500 });
  const lag: LagProxy | undefined = twist.startsWith("lag-") ? await startLagProxy({ target: world.rpcUrl, lag: LAG_BLOCKS }) : undefined;
  const urls = !lag ? [proxy.url] : twist === "lag-first" ? [lag.url, proxy.url] : [proxy.url, lag.url];
  const alerts = await startAlertSink();
  const dataDir = fs.mkdtempSync(path.join(world.home, "data-"));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    HOME: world.home,
    NO_COLOR: "1",
    KEEPCTL_RPC_URLS: urls.join(","),
    KEEPCTL_DATA_DIR: dataDir,
    KEEPCTL_LOCK_DIR: path.join(dataDir, "locks"),
    KEEPCTL_PRIVATE_KEY: setup.key,
    // Short enough to make stalls timeouts, long enough for a loaded 2-core box's honest answers.
    KEEPCTL_RPC_TIMEOUT_MS: "2000",
    KEEPCTL_RPC_RETRIES: "4",
    KEEPCTL_TX_POLL_MS: "100",
    KEEPCTL_REBROADCAST_MS: "400",
    KEEPCTL_RECEIPT_TIMEOUT: "30",
    KEEPCTL_WEBHOOK_URL: `${alerts.url}/hook`,
    ...setup.env,
  };
  const exitCodes: number[] = [];
  let stderrTail = "";
  const maxRuns = o.maxRuns ?? 12;
  const runOnce = async (): Promise<number> => {
    const r = await runBinary(["--deployment", world.deploymentFile, ...setup.args], env, world.home);
    exitCodes.push(r.code);
    if (process.env.KEEPCTL_CHAOS_LOG) fs.appendFileSync(process.env.KEEPCTL_CHAOS_LOG, `=== ${command} seed ${o.seed} (${twist}) run ${exitCodes.length} exit ${r.code}\n${r.stdout}\n--- stderr\n${r.stderr}\n`);
    stderrTail = r.stderr.trim().split("\n").slice(-3).join("\n");
    return r.code;
  };
  // Like cron: run again until it exits 0 (or the budget of runs is spent).
  const untilDone = async (): Promise<boolean> => {
    while (exitCodes.length < maxRuns) if ((await runOnce()) === 0) return true;
    return false;
  };
  try {
    if ((await untilDone()) && forkPoint !== undefined) {
      const depth = Number(twist.slice("reorg-".length));
      // The last transaction `depth` blocks deep, seen there by a pass (its entries final at >= 12)...
      await mine(world.provider, depth - 1);
      await runOnce();
      // ...then a longer chain from before the case's first transaction, without any of them.
      await world.provider.send("evm_revert", [forkPoint]);
      await mine(world.provider, depth + 1);
      await untilDone();
    }
  } finally {
    await proxy.close();
    await lag?.close();
    await alerts.close();
    await setup.close?.();
  }
  const counted = await setup.count(fromBlock);
  const txs = await transactionsFrom(world.provider, setup.account, fromBlock);
  const nonceAfter = await world.provider.getTransactionCount(setup.account, "latest");
  if (nonceAfter - nonceBefore !== txs.length) throw new Error(`chaos: ${nonceAfter - nonceBefore} nonces used but ${txs.length} transactions found`);
  const sameCall = new Map<string, number>();
  for (const t of txs) sameCall.set(`${t.to}:${t.data}`, (sameCall.get(`${t.to}:${t.data}`) ?? 0) + 1);
  const exactRepeats = [...sameCall.values()].reduce((a, n) => a + n - 1, 0);
  const falseFailureAlerts = alerts.got.filter((a) => a.level === "critical" && /failed/.test(a.title) && counted.succeeded(a)).length;
  return {
    command, seed: o.seed, rate, twist, runs: exitCodes.length, exitCodes,
    required: counted.required, done: counted.done, duplicates: Math.max(counted.extraEvents, exactRepeats),
    reverted: txs.filter((t) => t.status !== 1).length, transactions: txs.length,
    faults: { ...proxy.counts.faults }, broadcastFaults: proxy.counts.broadcastFaults, btcFaults: setup.btcFaults?.() ?? 0, falseFailureAlerts, ms: Date.now() - started,
    stderrTail: exitCodes.at(-1) === 0 ? undefined : stderrTail,
  };
}

interface Setup {
  account: string;
  key: string;
  args: string[];
  env: Record<string, string>;
  count(fromBlock: number): Promise<{ required: number; done: number; extraEvents: number; succeeded: (a: SinkAlert) => boolean }>;
  /** What the case started besides the binary (Bitcoin proxy, signers, miner). */
  close?(): Promise<void>;
  btcFaults?(): number;
}

/**
 * watch's pre-approval: the deposits at ~135 %, between --threshold 140 and --redeem-below 130.
 * Exactly one approve() of the VendingMachine for the exact total the contracts price (every world
 * deposit is held by it), and no redemption request.
 */
async function preparePreapprove(world: TbtcWorld): Promise<Setup> {
  await setEthBtcPrice(world.devnet.deployment, 0.027);
  const vm = world.devnet.deployment.addresses.VendingMachine;
  let want = 0n;
  for (const d of world.deposits) {
    const c = depositContract(world.devnet.deployment, d);
    want += ((await c.lotSizeTbtc()) as bigint) + ((await c.getOwnerRedemptionTbtcRequirement(world.redeemer.address)) as bigint);
  }
  return {
    account: world.redeemer.address,
    key: world.redeemer.privateKey,
    args: ["watch", "--once", "--json", "--operator", world.operator, "--threshold", "140", "--redeem-below", "130"],
    env: { KEEPCTL_BTC_ADDRESS: PAYOUT },
    count: async (fromBlock) => {
      const logs = await world.provider.getLogs({ address: world.devnet.deployment.addresses.TBTCToken, topics: [ethers.id("Approval(address,address,uint256)"), ethers.zeroPadValue(world.redeemer.address, 32)], fromBlock, toBlock: "latest" });
      const approvals: { spender: string; amount: bigint }[] = [];
      for (const l of logs) {
        if (!(await world.provider.getTransaction(l.transactionHash))?.data.startsWith("0x095ea7b3")) continue;
        approvals.push({ spender: ethers.getAddress(ethers.dataSlice(l.topics[2], 12)), amount: BigInt(l.data) });
      }
      const rr = await world.provider.getLogs({ topics: [RR_TOPIC], fromBlock, toBlock: "latest" });
      const exact = approvals.filter((a) => a.spender === ethers.getAddress(vm) && a.amount === want).length;
      return { required: 1, done: exact === 1 ? 1 : 0, extraEvents: Math.max(0, approvals.length - 1) + rr.length, succeeded: () => false };
    },
  };
}

async function prepare(world: TbtcWorld | EmpWorld, command: ChaosCommand, o: { seed: number; rate: number }): Promise<Setup> {
  if (world.kind === "tbtc" && command === "redeem-follow") return prepareFollow(world, o);
  if (world.kind === "tbtc") {
    if (!TBTC_CHAOS_COMMANDS.has(command)) throw new Error(`${command} needs the EMP world`);
    if (command === "watch-preapprove") return preparePreapprove(world);
    // 150% -> ~107%: under the redeem line and under the courtesy-call threshold.
    await setEthBtcPrice(world.devnet.deployment, 0.024);
    const args = command === "watch"
      ? ["watch", "--once", "--json", "--operator", world.operator, "--notify-courtesy"]
      : ["redeem", "--yes", "--json", "--operator", world.operator];
    return {
      account: world.redeemer.address,
      key: world.redeemer.privateKey,
      args,
      env: { KEEPCTL_BTC_ADDRESS: PAYOUT },
      count: async (fromBlock) => {
        let done = 0;
        let extra = 0;
        for (const d of world.deposits) {
          const rr = await world.provider.getLogs({ topics: [RR_TOPIC, ethers.zeroPadValue(d, 32)], fromBlock, toBlock: "latest" });
          const cc = await world.provider.getLogs({ topics: [CC_TOPIC, ethers.zeroPadValue(d, 32)], fromBlock, toBlock: "latest" });
          if (rr.length === 1) done++;
          extra += Math.max(0, rr.length - 1) + Math.max(0, cc.length - 1);
        }
        const redeemed = new Set(world.deposits.map((d) => d.toLowerCase()));
        return { required: world.deposits.length, done, extraEvents: extra, succeeded: (a) => /redemption/.test(a.title) && [...redeemed].some((d) => a.text.toLowerCase().includes(d)) };
      },
    };
  }
  const { dep, seed, provider } = world;
  const empI = empInterface;
  if (command === "emp-liquidate") {
    const bot = await provider.getSigner(seed.liquidator.index);
    // At price 1.0 with the default 2% shading, the 1.2 and pending-withdrawal positions are under 1.25.
    return {
      account: await bot.getAddress(),
      key: keyOf(seed.liquidator.index),
      args: ["emp-liquidate", "--once", "--json", "--price", "1"],
      env: {},
      count: async (fromBlock) => {
        const logs = await provider.getLogs({ address: dep.addresses.emp, topics: [empI.getEvent("LiquidationCreated")!.topicHash], fromBlock, toBlock: "latest" });
        const bySponsor = new Map<string, number>();
        for (const l of logs) {
          const ev = empI.parseLog(l)!;
          if ((ev.args.liquidator as string).toLowerCase() !== seed.liquidator.address.toLowerCase()) continue;
          const s = (ev.args.sponsor as string).toLowerCase();
          bySponsor.set(s, (bySponsor.get(s) ?? 0) + 1);
        }
        const required = seed.sponsors.filter((s) => s.label === "cr-1.2" || s.label === "pending-withdrawal").map((s) => s.address.toLowerCase());
        return {
          required: required.length,
          done: required.filter((s) => bySponsor.get(s) === 1).length,
          extraEvents: [...bySponsor.values()].reduce((a, n) => a + n - 1, 0),
          succeeded: () => false,
        };
      },
    };
  }
  // emp-dispute: another liquidator liquidates a healthy (2.0) position; the disputer disputes it.
  const victim = seed.sponsors.find((s) => s.label === "cr-2.0")!;
  const other = await provider.getSigner(OTHER);
  // The next block's time is at least the wall clock: a long run leaves the snapshot's head far behind.
  const now = BigInt(Math.max((await provider.getBlock("latest"))!.timestamp, Math.floor(Date.now() / 1000)));
  await (await other.sendTransaction(encodeApprove(dep.addresses.synthetic, dep.addresses.emp))).wait();
  await (await other.sendTransaction(encodeCreateLiquidation(dep.addresses.emp, { sponsor: victim.address, minCollateralPerToken: 0n, maxCollateralPerToken: wad("2.5"), maxTokensToLiquidate: victim.tokens, deadline: now + 3600n }))).wait();
  await provider.send("evm_increaseTime", [61]);
  await provider.send("evm_mine", []);
  return {
    account: seed.disputer.address,
    key: keyOf(seed.disputer.index),
    args: ["emp-dispute", "--once", "--json", "--price", "1"],
    env: {},
    count: async (fromBlock) => {
      const logs = await provider.getLogs({ address: dep.addresses.emp, topics: [empI.getEvent("LiquidationDisputed")!.topicHash], fromBlock, toBlock: "latest" });
      const ours = logs.map((l) => empI.parseLog(l)!).filter((e) => (e.args.disputer as string).toLowerCase() === seed.disputer.address.toLowerCase());
      return { required: 1, done: ours.length === 1 ? 1 : 0, extraEvents: Math.max(0, ours.length - 1), succeeded: () => false };
    },
  };
}

/**
 * redeem --follow end to end under faults on both sides: the Ethereum proxy of the case and a
 * Bitcoin proxy (same rate, its own seed) in front of the double's Electrum and Esplora servers;
 * the signers sign (never broadcast), a Bitcoin block every 700 ms. Needs a world whose deposits
 * have never been redeemed on Bitcoin (Bitcoin is not reverted with the Ethereum snapshot):
 * `runFollowChaosCase` starts one per case. Counted from both chains: one request and one
 * `Redeemed` per deposit, one provideRedemptionProof per deposit from the key, and the proven
 * txid in a block of the Bitcoin chain.
 */
async function prepareFollow(world: TbtcWorld, o: { seed: number; rate: number }): Promise<Setup> {
  const net = world.devnet.bitcoin?.net;
  if (!net) throw new Error("redeem-follow needs the devnet's Bitcoin network");
  await setEthBtcPrice(world.devnet.deployment, 0.024);
  const btcProxy = await startBitcoinFaultProxy({ electrumTcp: net.electrumTcpUrl, esplora: net.esploraUrl, rate: o.rate, seed: o.seed + 1000, stallMs: 2_500 });
  const signer = startAutoSigner(world.devnet.deployment, { intervalMs: 300 });
  net.setAutoMine(700);
  return {
    account: world.redeemer.address,
    key: world.redeemer.privateKey,
    args: ["redeem", "--yes", "--json", "--follow", "--operator", world.operator],
    env: {
      KEEPCTL_BTC_ADDRESS: PAYOUT,
      KEEPCTL_BTC_ELECTRUM_URLS: btcProxy.electrumTcpUrl!,
      KEEPCTL_BTC_ESPLORA_URLS: btcProxy.esploraUrl!,
      KEEPCTL_BTC_TIMEOUT_MS: "2000",
      KEEPCTL_BTC_RETRIES: "4",
      KEEPCTL_INTERVAL: "1",
    },
    close: async () => {
      net.setAutoMine(0);
      signer.stop();
      await btcProxy.close();
    },
    btcFaults: () => Object.values(btcProxy.counts.faults).reduce((a, b) => a + b, 0),
    count: async (fromBlock) => {
      const txs = await transactionsFrom(world.provider, world.redeemer.address, fromBlock);
      let done = 0;
      let extra = 0;
      for (const d of world.deposits) {
        const rr = await world.provider.getLogs({ topics: [RR_TOPIC, ethers.zeroPadValue(d, 32)], fromBlock, toBlock: "latest" });
        const redeemed = await world.provider.getLogs({ topics: [REDEEMED_TOPIC, ethers.zeroPadValue(d, 32)], fromBlock, toBlock: "latest" });
        const proofs = txs.filter((t) => t.to === d.toLowerCase() && t.data.startsWith(PROOF_SELECTOR)).length;
        // The contract's txid is in internal byte order; the Bitcoin chain's in display order.
        const txid = redeemed[0] ? ethers.hexlify(ethers.getBytes(redeemed[0].topics[2]).reverse()).slice(2) : undefined;
        const inBlock = txid !== undefined && net.node.findTx(txid)?.block !== undefined;
        if (rr.length === 1 && redeemed.length === 1 && proofs === 1 && inBlock) done++;
        extra += Math.max(0, rr.length - 1) + Math.max(0, proofs - 1);
      }
      const ours = new Set(world.deposits.map((d) => d.toLowerCase()));
      return { required: world.deposits.length, done, extraEvents: extra, succeeded: (a) => /redemption/.test(a.title) && [...ours].some((d) => a.text.toLowerCase().includes(d)) };
    },
  };
}

/** One redeem-follow case on a world of its own (see prepareFollow), closed afterwards. */
export async function runFollowChaosCase(o: ChaosCaseOptions & { lots?: bigint[] }): Promise<ChaosCaseResult> {
  const world = await startTbtcWorld(o.lots ?? [1n, 1n, 5n]);
  try {
    return await runChaosCase(world, "redeem-follow", o);
  } finally {
    await world.close();
  }
}

const MNEMONIC = "test test test test test test test test test test test junk";
function keyOf(index: number): string {
  return ethers.HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`).privateKey;
}

/** Every transaction `account` sent from `fromBlock` on, with its receipt status: what the chain says the key did. */
export async function transactionsFrom(provider: ethers.JsonRpcProvider, account: string, fromBlock: number): Promise<{ to: string; data: string; status: number }[]> {
  const head = await provider.getBlockNumber();
  const out: { to: string; data: string; status: number }[] = [];
  for (let b = fromBlock; b <= head; b++) {
    const block = await provider.getBlock(b, true);
    for (const tx of block?.prefetchedTransactions ?? []) {
      if (tx.from.toLowerCase() !== account.toLowerCase()) continue;
      const r = await provider.getTransactionReceipt(tx.hash);
      out.push({ to: (tx.to ?? "").toLowerCase(), data: tx.data, status: r?.status ?? 0 });
    }
  }
  return out;
}

function runBinary(args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    // A run that hangs is a failure of its own: end it (the harness re-runs, as cron would).
    const t = setTimeout(() => child.kill("SIGKILL"), 180_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(t);
      resolve({ code: code ?? 137, stdout, stderr });
    });
  });
}

interface SinkAlert {
  level: string;
  title: string;
  text: string;
}

/** The generic-webhook alert channel on loopback: what an operator would have been told. */
async function startAlertSink(): Promise<{ url: string; got: SinkAlert[]; close(): Promise<void> }> {
  const got: SinkAlert[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      try {
        const j = JSON.parse(body) as Partial<SinkAlert>;
        got.push({ level: String(j.level ?? ""), title: String(j.title ?? ""), text: String(j.text ?? "") });
      } catch {
        // not an alert
      }
      res.end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    got,
    close: () => new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    }),
  };
}

export function emptyFaultCounts(): Record<FaultKind, number> {
  return Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
}
