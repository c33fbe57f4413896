import { ethers } from "ethers";
import { getLogsChunked } from "../../chain/logs";
import { RpcError } from "../../errors";
import {
  COURTESY_CALLED_TOPIC,
  EXITED_COURTESY_CALL_TOPIC,
  FUNDED_TOPIC,
  KEEP_CREATED_TOPIC,
} from "../abis";

/**
 * Finding an operator's keeps. `members` is not indexed in BondedECDSAKeepCreated, so no log
 * filter can select an operator: we read every tBTC keep's creation event and match members
 * ourselves, case-insensitively (the original script compared checksummed to lower-case strings
 * and silently found nothing).
 */
export interface KeepCreated {
  keep: string;
  /** The keep's owner: the tBTC Deposit contract. */
  deposit: string;
  members: string[];
  application: string;
  block: number;
}

export type CourtesyEvent = { kind: "called" | "exited"; deposit: string; at: number; block: number };

export interface TbtcEvents {
  keeps: KeepCreated[];
  /** In chain order. */
  courtesy: CourtesyEvent[];
  /** Funded events: the deposit's fundedAt, from which its remaining term follows without a call. */
  funded: { deposit: string; at: number }[];
}

const coder = ethers.AbiCoder.defaultAbiCoder();
// Checksumming hashes (keccak): a mainnet scan decodes thousands of keep logs whose members are
// a few hundred operators over and over, so each address is checksummed once per process.
const checksums = new Map<string, string>();
function checksum(lowerHex: string): string {
  let c = checksums.get(lowerHex);
  if (c === undefined) {
    c = ethers.getAddress(lowerHex);
    if (checksums.size < 100_000) checksums.set(lowerHex, c);
  }
  return c;
}
const topicAddress = (t: string) => checksum("0x" + t.slice(26).toLowerCase());
const MAX_ADDRESS = (1n << 160n) - 1n;

// Decoded by hand rather than with Interface.parseLog, which recomputes every event's topic hash
// per log: on a mainnet-sized scan that was most of the run time.
export function decodeKeepCreated(log: ethers.Log): KeepCreated {
  if (log.topics[0] !== KEEP_CREATED_TOPIC || log.topics.length !== 4) {
    throw new Error(`log ${log.transactionHash}:${log.index} is not BondedECDSAKeepCreated`);
  }
  // As uint256[] rather than address[]: the coder would checksum every member again.
  const [words] = coder.decode(["uint256[]", "uint256"], log.data) as unknown as [bigint[]];
  const members = [...words].map((w) => {
    if (w > MAX_ADDRESS) throw new Error(`member ${w.toString(16)} is not an address`);
    return checksum("0x" + w.toString(16).padStart(40, "0"));
  });
  return {
    keep: topicAddress(log.topics[1]),
    deposit: topicAddress(log.topics[2]),
    members,
    application: topicAddress(log.topics[3]),
    block: log.blockNumber,
  };
}

/** `_timestamp`, the last word of the data of every TBTCSystem deposit event we read. */
function eventTimestamp(log: ethers.Log): number {
  const len = ethers.dataLength(log.data);
  if (len < 32 || len % 32 !== 0) throw new Error("data is not whole 32-byte words");
  const t = BigInt(ethers.dataSlice(log.data, len - 32));
  if (t > 253_402_300_799n) throw new Error(`timestamp ${t} is not a date`);
  return Number(t);
}

/**
 * A log the node returned that does not decode as the event its topic names: the node's answer
 * is junk (the real contracts only emit well-formed events), so exit 4, not an internal error.
 */
function malformedLog(log: ethers.Log, what: string, e: unknown): RpcError {
  return new RpcError(`the RPC node returned a malformed ${what} log (block ${log.blockNumber}, tx ${log.transactionHash}): ${(e as Error).message?.split("\n")[0]}`, {
    code: "BAD_RESPONSE",
    cause: e,
    hint: "the endpoint answers with malformed data: point --rpc-url / KEEPCTL_RPC_URLS at a working node",
  });
}

/** Lower-cased set of operator addresses, whatever case they were typed in. */
export function operatorSet(operators: Iterable<string>): Set<string> {
  return new Set([...operators].map((o) => o.trim().toLowerCase()));
}

/** The members of `keep` that are among `operators` (checksummed), empty when none. */
export function matchingMembers(members: readonly string[], operators: ReadonlySet<string>): string[] {
  return members.filter((m) => operators.has(m.toLowerCase()));
}

export interface ScanOptions {
  factory: string;
  system: string;
  fromBlock: number;
  toBlock: number;
  chunkSize?: number;
  concurrency?: number;
  onProgress?: (doneBlocks: number, totalBlocks: number) => void;
  /** The endpoint named its eth_getLogs block cap in a refusal. */
  onLearnedCap?: (blocks: number) => void;
}

/**
 * One chunked log scan for keep creations (on the factory), courtesy calls and fundings (on
 * the system): one pass over the range instead of several. Keeps opened for other applications than
 * this tBTC system are dropped.
 */
export async function scanTbtcEvents(provider: ethers.Provider, o: ScanOptions): Promise<TbtcEvents> {
  const logs = await getLogsChunked(
    provider,
    {
      address: [o.factory, o.system],
      topics: [[KEEP_CREATED_TOPIC, COURTESY_CALLED_TOPIC, EXITED_COURTESY_CALL_TOPIC, FUNDED_TOPIC]],
      fromBlock: o.fromBlock,
      toBlock: o.toBlock,
    },
    { chunkSize: o.chunkSize, concurrency: o.concurrency ?? 4, onProgress: o.onProgress, onLearnedCap: o.onLearnedCap },
  );
  const factory = o.factory.toLowerCase();
  const system = o.system.toLowerCase();
  const out: TbtcEvents = { keeps: [], courtesy: [], funded: [] };
  for (const log of logs) {
    const addr = log.address.toLowerCase();
    const topic = log.topics[0];
    if (addr === factory && topic === KEEP_CREATED_TOPIC) {
      let k: KeepCreated;
      try {
        k = decodeKeepCreated(log);
      } catch (e) {
        throw malformedLog(log, "BondedECDSAKeepCreated", e);
      }
      if (k.application.toLowerCase() === system) out.keeps.push(k);
    } else if (addr === system && log.topics.length >= 2) {
      let deposit: string;
      let at: number;
      try {
        deposit = topicAddress(log.topics[1]);
        at = eventTimestamp(log);
      } catch (e) {
        throw malformedLog(log, "TBTCSystem deposit event", e);
      }
      if (topic === FUNDED_TOPIC) out.funded.push({ deposit, at });
      else if (topic === COURTESY_CALLED_TOPIC) out.courtesy.push({ kind: "called", deposit, at, block: log.blockNumber });
      else if (topic === EXITED_COURTESY_CALL_TOPIC) out.courtesy.push({ kind: "exited", deposit, at, block: log.blockNumber });
    }
  }
  return out;
}
