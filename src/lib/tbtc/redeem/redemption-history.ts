import { ethers } from "ethers";
import { getLogsChunked } from "../../chain/logs";
import { depositWriteInterface, GOT_REDEMPTION_SIGNATURE_TOPIC, keepSignatureInterface, REDEMPTION_REQUESTED_TOPIC, redemptionEventsInterface, SIGNATURE_SUBMITTED_TOPIC } from "./redeem-abi";

/**
 * What Ethereum says about each redemption of a set of deposits: every version (the request and
 * each fee increase, from RedemptionRequested), which of them the keep signed (SignatureSubmitted)
 * and the deposit accepted (GotRedemptionSignature), the signers' key (RegisteredPubkey), and the
 * end (Redeemed, StartedLiquidation). Everything the Bitcoin transaction needs is here, so anyone
 * — not only the redeemer — can rebuild, broadcast and prove it.
 *
 * One eth_getLogs query covers all deposits (topic 1 is the deposit), one more the keeps'
 * signatures; the block timestamps of the requests (the contract's withdrawalRequestTime) and the
 * states are read in the same tick, so the provider batches them.
 */
export const HISTORY_EVENTS_ABI = [
  "event RegisteredPubkey(address indexed _depositContractAddress, bytes32 _signingGroupPubkeyX, bytes32 _signingGroupPubkeyY, uint256 _timestamp)",
  "event Redeemed(address indexed _depositContractAddress, bytes32 indexed _txid, uint256 _timestamp)",
  "event StartedLiquidation(address indexed _depositContractAddress, bool _wasFraud, uint256 _timestamp)",
] as const;
const historyInterface = new ethers.Interface(HISTORY_EVENTS_ABI);
const REGISTERED_PUBKEY_TOPIC = historyInterface.getEvent("RegisteredPubkey")!.topicHash;
const REDEEMED_TOPIC = historyInterface.getEvent("Redeemed")!.topicHash;
const STARTED_LIQUIDATION_TOPIC = historyInterface.getEvent("StartedLiquidation")!.topicHash;

export interface RedemptionVersionFacts {
  index: number;
  digest: string;
  requester: string;
  /** Cumulative fee of this version. */
  feeSats: bigint;
  outputValueSats: bigint;
  block: number;
  /** Block time of its RedemptionRequested: withdrawalRequestTime while it is the latest. */
  requestedAt: number;
  /** The keep's signature of the digest (SignatureSubmitted), when it signed. */
  signature?: { r: string; s: string; recoveryId: number };
  /** The deposit accepted a signature for this digest (GotRedemptionSignature). */
  provided: boolean;
}

export interface RedemptionHistory {
  deposit: string;
  keep: string;
  state: number;
  /** 64 bytes X ‖ Y, from RegisteredPubkey. */
  signerPubkey64?: string;
  utxoValueSats: bigint;
  /** As the contract stores it: txid (internal order) ‖ uint32 LE index. */
  outpoint: string;
  /** With its length byte. */
  redeemerScript: string;
  versions: RedemptionVersionFacts[];
  redeemed?: { txidLE: string; block: number; timestamp: number; hash: string };
  liquidation?: { block: number; fraud: boolean; timestamp: number };
}

export interface HistoryTarget {
  deposit: string;
  /** The deposit's keep (the scan knows it); read from the deposit when absent. */
  keep?: string;
  /** First block worth searching (the deposit's creation). */
  fromBlock: number;
}

const pad = (a: string) => ethers.zeroPadValue(ethers.getAddress(a), 32);
const HISTORY_TOPICS = [REDEMPTION_REQUESTED_TOPIC, GOT_REDEMPTION_SIGNATURE_TOPIC, REGISTERED_PUBKEY_TOPIC, REDEEMED_TOPIC, STARTED_LIQUIDATION_TOPIC];
/** Blocks re-read below what a cache holds: deeper than any reorg a chain's finality allows. */
export const HISTORY_REORG_MARGIN = 64;

/**
 * The deposits' TBTCSystem events a watch loop already read, so that following a redemption for
 * hours does not re-read each deposit's life every pass: a pass asks only from `HISTORY_REORG_MARGIN`
 * blocks below what it read last (a reorg above that is re-read, anything older is final).
 */
export class HistoryCache {
  private readonly byDeposit = new Map<string, { scannedTo: number; logs: ethers.Log[] }>();
  get(deposit: string) {
    return this.byDeposit.get(deposit.toLowerCase());
  }
  set(deposit: string, scannedTo: number, logs: ethers.Log[]): void {
    this.byDeposit.set(deposit.toLowerCase(), { scannedTo, logs });
  }
}

/** The targets' events up to `toBlock`: fresh ones from their creation, cached ones from below their last read. */
async function depositLogs(provider: ethers.JsonRpcProvider, system: string, targets: readonly HistoryTarget[], toBlock: number, o: { logChunkSize?: number; cache?: HistoryCache }): Promise<ethers.Log[]> {
  const cache = o.cache;
  const groups = new Map<number, HistoryTarget[]>();
  for (const t of targets) {
    const c = cache?.get(t.deposit);
    const from = c ? Math.max(t.fromBlock, Math.min(c.scannedTo, toBlock) - HISTORY_REORG_MARGIN + 1) : t.fromBlock;
    groups.set(from, [...(groups.get(from) ?? []), t]);
  }
  // Cached targets share one recent start; fresh ones are grouped by creation block, bounded to two queries.
  const starts = [...groups.keys()].sort((a, b) => a - b);
  const fresh = starts.filter((b) => groups.get(b)!.some((t) => !cache?.get(t.deposit)));
  const recent = starts.filter((b) => !fresh.includes(b));
  const queries: Array<{ from: number; targets: HistoryTarget[] }> = [];
  if (fresh.length) queries.push({ from: fresh[0], targets: fresh.flatMap((b) => groups.get(b)!) });
  if (recent.length) queries.push({ from: recent[0], targets: recent.flatMap((b) => groups.get(b)!) });
  const answers = await Promise.all(
    queries.map((q) =>
      getLogsChunked(provider, { address: system, topics: [HISTORY_TOPICS, q.targets.map((t) => pad(t.deposit))], fromBlock: q.from, toBlock }, { chunkSize: o.logChunkSize, concurrency: 64 }).then((logs) => ({ q, logs })),
    ),
  );
  const out: ethers.Log[] = [];
  for (const { q, logs } of answers) {
    for (const t of q.targets) {
      const mine = logs.filter((l) => l.topics[1].toLowerCase() === pad(t.deposit).toLowerCase());
      const kept = (cache?.get(t.deposit)?.logs ?? []).filter((l) => l.blockNumber < q.from);
      const all = [...kept, ...mine];
      cache?.set(t.deposit, toBlock, all);
      out.push(...all);
    }
  }
  return out.sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
}

/**
 * The redemption history of every target that has one (a RedemptionRequested), as of `toBlock`.
 * Deposits never redeemed are left out.
 */
export async function readRedemptionHistories(
  provider: ethers.JsonRpcProvider,
  system: string,
  targets: readonly HistoryTarget[],
  toBlock: number,
  o: { logChunkSize?: number; cache?: HistoryCache } = {},
): Promise<RedemptionHistory[]> {
  if (!targets.length) return [];
  const logs = await depositLogs(provider, system, targets, toBlock, o);
  const byDeposit = new Map<string, ethers.Log[]>();
  for (const l of logs) {
    const d = ethers.getAddress(ethers.dataSlice(l.topics[1], 12)).toLowerCase();
    byDeposit.set(d, [...(byDeposit.get(d) ?? []), l]);
  }
  const redeemed = targets.filter((t) => byDeposit.get(t.deposit.toLowerCase())?.some((l) => l.topics[0] === REDEMPTION_REQUESTED_TOPIC));
  if (!redeemed.length) return [];

  // Same tick: states, missing keep addresses and request block times share one batch.
  const requestBlocks = [...new Set(redeemed.flatMap((t) => byDeposit.get(t.deposit.toLowerCase())!.filter((l) => l.topics[0] === REDEMPTION_REQUESTED_TOPIC).map((l) => l.blockNumber)))];
  const [states, keeps, times] = await Promise.all([
    Promise.all(redeemed.map((t) => readUint(provider, t.deposit, "currentState"))),
    Promise.all(redeemed.map((t) => (t.keep ? Promise.resolve(t.keep) : readAddress(provider, t.deposit, "keepAddress")))),
    Promise.all(requestBlocks.map((b) => provider.send("eth_getBlockByNumber", [ethers.toQuantity(b), false]).then((x: { timestamp: string }) => [b, Number(x.timestamp)] as const))),
  ]);
  const timeOf = new Map(times);

  const histories = redeemed.map((t, i) => buildHistory(t.deposit, keeps[i], Number(states[i]), byDeposit.get(t.deposit.toLowerCase())!, timeOf));
  // The keeps' signatures of every digest not yet accepted by its deposit (plus the accepted ones:
  // their r, s are in GotRedemptionSignature already).
  const wanted = histories.flatMap((h) => h.versions.filter((v) => !v.signature).map((v) => ({ h, v })));
  if (wanted.length) {
    const sigLogs = await getLogsChunked(
      provider,
      { address: [...new Set(wanted.map((w) => w.h.keep))], topics: [SIGNATURE_SUBMITTED_TOPIC, [...new Set(wanted.map((w) => w.v.digest))]], fromBlock: Math.min(...wanted.map((w) => w.v.block)), toBlock },
      { chunkSize: o.logChunkSize, concurrency: 64 },
    );
    for (const l of sigLogs) {
      const ev = keepSignatureInterface.parseLog({ topics: [...l.topics], data: l.data })!;
      for (const w of wanted) {
        if (w.h.keep.toLowerCase() === l.address.toLowerCase() && w.v.digest === ev.args.digest && l.blockNumber >= w.v.block) {
          w.v.signature = { r: ev.args.r as string, s: ev.args.s as string, recoveryId: Number(ev.args.recoveryID) };
        }
      }
    }
  }
  return histories;
}

function buildHistory(deposit: string, keep: string, state: number, logs: ethers.Log[], timeOf: Map<number, number>): RedemptionHistory {
  const h: RedemptionHistory = { deposit: ethers.getAddress(deposit), keep: ethers.getAddress(keep), state, utxoValueSats: 0n, outpoint: "0x", redeemerScript: "0x", versions: [] };
  for (const l of logs) {
    const topic = l.topics[0];
    if (topic === REDEMPTION_REQUESTED_TOPIC) {
      const ev = redemptionEventsInterface.parseLog({ topics: [...l.topics], data: l.data })!;
      h.utxoValueSats = ev.args._utxoValue as bigint;
      h.outpoint = ev.args._outpoint as string;
      h.redeemerScript = ev.args._redeemerOutputScript as string;
      const feeSats = ev.args._requestedFee as bigint;
      h.versions.push({ index: h.versions.length, digest: ev.args._digest as string, requester: ethers.getAddress(ev.args._requester as string), feeSats, outputValueSats: h.utxoValueSats - feeSats, block: l.blockNumber, requestedAt: timeOf.get(l.blockNumber)!, provided: false });
    } else if (topic === GOT_REDEMPTION_SIGNATURE_TOPIC) {
      const ev = redemptionEventsInterface.parseLog({ topics: [...l.topics], data: l.data })!;
      const v = h.versions.find((x) => x.digest === ev.args._digest);
      if (v) {
        v.provided = true;
        v.signature ??= { r: ev.args._r as string, s: ev.args._s as string, recoveryId: -1 };
      }
    } else if (topic === REGISTERED_PUBKEY_TOPIC) {
      const ev = historyInterface.parseLog({ topics: [...l.topics], data: l.data })!;
      h.signerPubkey64 = ethers.concat([ev.args._signingGroupPubkeyX as string, ev.args._signingGroupPubkeyY as string]);
    } else if (topic === REDEEMED_TOPIC) {
      const ev = historyInterface.parseLog({ topics: [...l.topics], data: l.data })!;
      h.redeemed = { txidLE: ev.args._txid as string, block: l.blockNumber, timestamp: Number(ev.args._timestamp), hash: l.transactionHash };
    } else if (topic === STARTED_LIQUIDATION_TOPIC) {
      const ev = historyInterface.parseLog({ topics: [...l.topics], data: l.data })!;
      h.liquidation = { block: l.blockNumber, fraud: ev.args._wasFraud as boolean, timestamp: Number(ev.args._timestamp) };
    }
  }
  return h;
}

async function readUint(provider: ethers.JsonRpcProvider, to: string, fn: string): Promise<bigint> {
  const raw = await provider.send("eth_call", [{ to, data: depositWriteInterface.encodeFunctionData(fn) }, "latest"]);
  return depositWriteInterface.decodeFunctionResult(fn, raw)[0] as bigint;
}

async function readAddress(provider: ethers.JsonRpcProvider, to: string, fn: string): Promise<string> {
  const raw = await provider.send("eth_call", [{ to, data: depositWriteInterface.encodeFunctionData(fn) }, "latest"]);
  return depositWriteInterface.decodeFunctionResult(fn, raw)[0] as string;
}

/** The latest version, and the time the contract's timers run from. */
export function latestVersion(h: Pick<RedemptionHistory, "versions">): RedemptionVersionFacts | undefined {
  return h.versions.at(-1);
}
