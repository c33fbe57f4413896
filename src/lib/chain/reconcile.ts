import { Transaction, type JsonRpcProvider, type TransactionReceipt } from "ethers";
import { RevertError, RpcError, shortMessageOf } from "../errors";
import type { Journal, JournalEntry } from "./journal";
import { finalBlock, headBehindJournal, judgeEntry, type Confirmations, type SeenReceipt } from "./finality";
import { simulationError } from "./errors-rpc";
import { parseBlockHeader } from "./preflight";

/**
 * Each pass, before anything is planned: are the journal's "mined" still in the chain? One batch
 * reads the head, the `finalized` block, the account's mined nonce count and the receipts of the
 * entries not yet final; finality.ts judges the answers. A receipt the endpoint does not know is
 * asked of every other endpoint before it counts as gone. A transaction that left the chain is
 * handled like a lost broadcast — its entry goes back to "sent" and the SAME signed bytes are sent
 * again (its nonce is free again, and only these bytes may take it) — unless the chain now
 * refuses it (simulated at "pending"): then it is reported as no longer possible and its nonce is
 * given back. Nothing here signs a new action.
 */
export interface ReorgFinding {
  key: string;
  /** The hash that was mined and is gone (or was re-mined elsewhere). */
  hash: string;
  nonce: number;
  /** Where it was journaled as mined. */
  blockNumber?: number;
  /** re-mined: the same tx is in another block; rebroadcast: gone, sent again; no-longer-possible: gone, and the chain refuses it now. */
  outcome: "re-mined" | "rebroadcast" | "no-longer-possible";
  /** The revert reason for no-longer-possible; the new block for re-mined. */
  detail?: string;
  /** The entry's own metadata (what the action was). */
  meta?: Record<string, unknown>;
}

export interface ReconcileResult {
  findings: ReorgFinding[];
  /** Keys recorded final this pass. */
  finalized: string[];
  /** Nonces given back (their tx left the chain and is not sent again). */
  released: number[];
}

export interface ReconcileOptions {
  provider: JsonRpcProvider;
  journal: Journal;
  account: string;
  chainId: bigint;
  confirmations: Confirmations;
  maxLagBlocks: number;
  /** Report only: no journal line, no broadcast. */
  dryRun: boolean;
  /** Only these keys, final ones included (a caller whose chain facts contradict the journal). */
  keys?: readonly string[];
}

interface Candidate {
  entry: JournalEntry;
  nonce: number;
  tx: Transaction;
}

type WithReceiptFromAny = JsonRpcProvider & { receiptFromAny?: (hashes: readonly string[]) => Promise<TransactionReceipt | null> };

const seen = (r: TransactionReceipt | null | undefined): SeenReceipt | null | undefined =>
  r === undefined ? undefined : r === null ? null : { blockNumber: r.blockNumber, blockHash: r.blockHash, status: r.status ?? 0 };

function candidatesOf(o: ReconcileOptions): Candidate[] {
  const out: Candidate[] = [];
  for (const entry of o.journal.mined(o.account)) {
    if (o.keys && !o.keys.includes(entry.key)) continue;
    const last = entry.attempts.at(-1);
    if (!last) continue;
    const tx = Transaction.from(last.rawTx);
    if (tx.chainId !== o.chainId) continue; // another chain's journal lines (one data dir, two chains)
    out.push({ entry, nonce: last.nonce, tx });
  }
  return out;
}

export async function reconcileJournal(o: ReconcileOptions): Promise<ReconcileResult> {
  const result: ReconcileResult = { findings: [], finalized: [], released: [] };
  const all = candidatesOf(o);
  if (all.length === 0) return result;
  const p = o.provider as WithReceiptFromAny;
  const forced = o.keys !== undefined;
  const reread = all.filter((c) => forced || !c.entry.final);
  // One batch (every send in this tick): head, finalized, the account's count, the receipts.
  const head = p.send("eth_getBlockByNumber", ["latest", false]);
  const finalized = o.confirmations === "auto" ? p.send("eth_getBlockByNumber", ["finalized", false]).catch(() => null) : Promise.resolve(null);
  const count = p.getTransactionCount(o.account, "latest");
  const receipts = reread.map((c) => p.getTransactionReceipt(c.entry.minedHash ?? c.tx.hash!));
  for (const x of [head, count, ...receipts]) x.catch(() => undefined);
  const h = parseBlockHeader(await head, "the latest block");
  if (!h) throw new RpcError("the RPC node returned no latest block", { code: "BAD_RESPONSE" });
  const fin = parseBlockHeader(await finalized, "the finalized block")?.number;
  const accountNonce = await count;
  const byKey = new Map<string, TransactionReceipt | null>();
  for (const [i, c] of reread.entries()) byKey.set(c.entry.key, await receipts[i]);

  const behind = headBehindJournal(h.number, all.map((c) => c.entry.blockNumber ?? 0), o.maxLagBlocks);
  const bar = finalBlock(h.number, o.confirmations, fin);
  const gone: Candidate[] = [];
  for (const c of all) {
    let receipt = byKey.get(c.entry.key);
    let v = judgeEntry({ ...c.entry, nonce: c.nonce }, seen(receipt), { finalBlock: bar, accountNonce });
    if (v.kind === "ask-others") {
      if (behind !== undefined) {
        // No receipt, from an endpoint whose head is below our own mined block: it lags; a
        // rebroadcast or a new nonce decided on it would be acting on a stale view.
        throw new RpcError(`the RPC endpoint's head ${h.number} is ${behind - h.number} blocks behind block ${behind}, where a transaction of this account was mined (journal): it is lagging, or the chain was reset`, {
          code: "STALE_HEAD",
          hint: `point --rpc-url at a synced node; after resetting a devnet, move the journal (${o.journal.file}) aside`,
        });
      }
      const hashes = [...new Set([c.entry.minedHash, ...c.entry.attempts.map((a) => a.hash)].filter((x): x is string => !!x))];
      receipt = p.receiptFromAny ? await p.receiptFromAny(hashes) : await firstReceipt(p, hashes);
      if (!receipt) {
        gone.push(c);
        continue;
      }
      v = judgeEntry({ ...c.entry, nonce: c.nonce, final: false }, seen(receipt), { finalBlock: bar, accountNonce });
    }
    const at = { hash: receipt?.hash ?? c.entry.minedHash ?? c.tx.hash!, status: receipt?.status ?? c.entry.status ?? 0 };
    if (v.kind === "final" || v.kind === "moved") {
      const moved = v.blockNumber !== c.entry.blockNumber || at.hash !== c.entry.minedHash;
      if (!o.dryRun && moved) o.journal.recordMined(c.entry.key, { ...at, blockNumber: v.blockNumber, blockHash: v.blockHash });
      if (moved) result.findings.push(finding(c, "re-mined", `block ${v.blockNumber}`));
    }
    if (v.kind === "final") {
      if (!o.dryRun) o.journal.recordFinal(c.entry.key, v);
      result.finalized.push(c.entry.key);
    }
  }
  // Gone: lowest nonce first, so each later one is simulated on top of the earlier ones sent again.
  gone.sort((a, b) => a.nonce - b.nonce);
  const inFlight = o.journal.resume(o.account).flatMap((e) => e.attempts.map((a) => a.nonce));
  for (const c of gone) {
    const refusal = await refusedNow(p, o.account, c.tx);
    // A later nonce of ours waits behind this one: leaving it out would leave that one unminable
    // forever, so the same bytes go again even though the chain now refuses them (they revert).
    const blocksLater = gone.some((g) => g.nonce > c.nonce) || inFlight.some((n) => n > c.nonce);
    if (refusal !== undefined && !blocksLater) {
      if (!o.dryRun) o.journal.recordSkipped(c.entry.key, `reorged out of block ${c.entry.blockNumber ?? "?"}; no longer possible: ${refusal}`);
      result.released.push(c.nonce);
      result.findings.push(finding(c, "no-longer-possible", refusal));
      continue;
    }
    if (!o.dryRun) {
      o.journal.recordReorged(c.entry.key, `reorged out of block ${c.entry.blockNumber ?? "?"}`);
      // The same bytes, at once (the settle that follows re-prices and waits as for any sent tx).
      await p.send("eth_sendRawTransaction", [c.entry.attempts.at(-1)!.rawTx]).catch(() => undefined);
    }
    result.findings.push(finding(c, "rebroadcast", refusal === undefined ? undefined : `sent again to keep the nonce order, though the chain now refuses it: ${refusal}`));
  }
  return result;
}

function finding(c: Candidate, outcome: ReorgFinding["outcome"], detail?: string): ReorgFinding {
  return { key: c.entry.key, hash: c.entry.minedHash ?? c.tx.hash!, nonce: c.nonce, blockNumber: c.entry.blockNumber, outcome, detail, meta: c.entry.meta };
}

async function firstReceipt(p: JsonRpcProvider, hashes: readonly string[]): Promise<TransactionReceipt | null> {
  for (const h of hashes) {
    const r = await p.getTransactionReceipt(h);
    if (r) return r;
  }
  return null;
}

/**
 * The chain's answer to the signed call now, at "pending" (on top of what was just sent again):
 * a revert reason when it refuses it, undefined when it would go through — or when the node could
 * not say (an RPC failure is no verdict: the same bytes are then sent again, which is always safe).
 */
async function refusedNow(p: JsonRpcProvider, from: string, tx: Transaction): Promise<string | undefined> {
  try {
    await p.call({ from, to: tx.to, data: tx.data, value: tx.value, blockTag: "pending" });
    return undefined;
  } catch (e) {
    const mapped = simulationError(e, "the journaled transaction");
    return mapped instanceof RevertError ? (mapped.reason ?? shortMessageOf(mapped)) : undefined;
  }
}
