import path from "node:path";
import crypto from "node:crypto";
import { ExitCode, KeepctlError } from "../../errors";
import { ensurePrivateDir } from "../../fs-safe";
import { appendSyncedLine, parseJsonLines, readLines } from "../../jsonl";

/**
 * The mint flow's own crash-safe record, `<data dir>/mint-journal.jsonl` (0600, one fsynced JSON
 * line per fact, folded on every read like the Ethereum journal): the orders (`--lot`, `--count`),
 * each slot's deposit once its createDeposit is mined, and every Bitcoin funding transaction —
 * raw bytes, txid and which output funds which deposit — written BEFORE the funding clock starts
 * and before the transaction is broadcast. A deposit named by a funding record is never funded
 * again, whatever happens to the process. The Ethereum transactions themselves are the journaled
 * sender's (`mint:<order>:<slot>:create`, `<deposit>:retrieve-pubkey`, ...).
 */
export interface MintOrder {
  id: string;
  account: string;
  lotSats: bigint;
  count: number;
  createdAt: string;
  /** Slot index -> deposit address, once known. */
  deposits: Map<number, string>;
  /** Slot index -> how it ended (minted, setup-failed, ...). */
  ended: Map<number, string>;
}

export interface FundingOutput {
  deposit: string;
  vout: number;
  valueSats: bigint;
  scriptHex: string;
}

export interface FundingRecord {
  txid: string;
  rawHex: string;
  feeSats: bigint;
  vsize: number;
  outputs: FundingOutput[];
  /** Outpoints it spends (`txid:vout`): never selected for another funding while it may confirm. */
  inputs: string[];
  /** The coins themselves (value, script, key path): what an RBF replacement spends again. */
  coins?: JournalCoin[];
  /** Our change output and its key path. */
  change?: { vout: number; scriptHex: string; valueSats: bigint; chain: 0 | 1; index: number };
  /** The funding transaction this one replaces (RBF): the same outputs to the same deposits. */
  replaces?: string;
  broadcast: boolean;
}

/**
 * A CPFP child of a stuck funding: spends the funding's change output (`parent`:`change.vout`) to a
 * fresh change address of ours, its fee lifting the package to the target rate. Journaled before
 * it is broadcast; one per funding transaction, ever (a second child would only be a double spend
 * of the same change, but a journaled child is re-sent as it is, never rebuilt).
 */
export interface ChildRecord {
  txid: string;
  rawHex: string;
  /** The funding transaction whose change it spends. */
  parent: string;
  /** The outpoint it spends (`parent:vout`, the funding's change): never selected for a funding. */
  input: string;
  feeSats: bigint;
  vsize: number;
  /** Its one output: our new change, and the key path. */
  output: { scriptHex: string; valueSats: bigint; chain: 0 | 1; index: number };
  broadcast: boolean;
}

export interface JournalCoin {
  txid: string;
  vout: number;
  valueSats: bigint;
  scriptHex: string;
  chain: 0 | 1;
  index: number;
}

type Line =
  | { type: "order"; id: string; account: string; lotSats: string; count: number; at: string }
  | { type: "deposit"; order: string; slot: number; deposit: string; at: string }
  | { type: "funding"; txid: string; rawHex: string; feeSats: string; vsize: number; outputs: { deposit: string; vout: number; valueSats: string; scriptHex: string }[]; inputs: string[]; coins?: (Omit<JournalCoin, "valueSats"> & { valueSats: string })[]; change?: { vout: number; scriptHex: string; valueSats: string; chain: 0 | 1; index: number }; replaces?: string; at: string }
  | { type: "child"; txid: string; rawHex: string; parent: string; input: string; feeSats: string; vsize: number; output: { scriptHex: string; valueSats: string; chain: 0 | 1; index: number }; at: string }
  | { type: "broadcast"; txid: string; at: string }
  | { type: "psbt"; txid: string; psbt: string; file: string; deposits: string[]; inputs: string[]; at: string }
  | { type: "ended"; order: string; slot: number; outcome: string; at: string };

export interface MintJournalState {
  orders: Map<string, MintOrder>;
  fundings: Map<string, FundingRecord>;
  /** Unsigned funding transactions written as PSBTs for a cold signer, by txid (known before signing: segwit). */
  psbts: Map<string, PendingPsbt>;
  /** CPFP children, by the txid of the funding they spend the change of. */
  children: Map<string, ChildRecord>;
}

export interface PendingPsbt {
  txid: string;
  /** The unsigned PSBT keepctl wrote (base64): the signed one must be the same transaction. */
  psbt: string;
  file: string;
  deposits: string[];
  inputs: string[];
}

export class MintJournal {
  constructor(readonly file: string) {}

  static open(dataDir: string): MintJournal {
    ensurePrivateDir(dataDir);
    return new MintJournal(path.join(dataDir, "mint-journal.jsonl"));
  }

  read(): MintJournalState {
    const orders = new Map<string, MintOrder>();
    const fundings = new Map<string, FundingRecord>();
    const psbts = new Map<string, PendingPsbt>();
    const children = new Map<string, ChildRecord>();
    const lines = parseJsonLines<Line>(readLines(this.file), (n, cause) =>
      new KeepctlError("JOURNAL_CORRUPT", ExitCode.CONFIG, `mint journal ${this.file} line ${n} is not JSON`, { cause, hint: "fix or move the file aside (it records funding transactions: keep a copy)" }));
    for (const l of lines) {
      if (l.type === "order") orders.set(l.id, { id: l.id, account: l.account, lotSats: BigInt(l.lotSats), count: l.count, createdAt: l.at, deposits: new Map(), ended: new Map() });
      else if (l.type === "deposit") orders.get(l.order)?.deposits.set(l.slot, l.deposit.toLowerCase());
      else if (l.type === "ended") orders.get(l.order)?.ended.set(l.slot, l.outcome);
      else if (l.type === "funding") {
        fundings.set(l.txid, {
          txid: l.txid, rawHex: l.rawHex, feeSats: BigInt(l.feeSats), vsize: l.vsize, inputs: l.inputs, broadcast: false, replaces: l.replaces,
          outputs: l.outputs.map((o) => ({ deposit: o.deposit.toLowerCase(), vout: o.vout, valueSats: BigInt(o.valueSats), scriptHex: o.scriptHex })),
          coins: l.coins?.map((c) => ({ ...c, valueSats: BigInt(c.valueSats) })),
          change: l.change && { ...l.change, valueSats: BigInt(l.change.valueSats) },
        });
      } else if (l.type === "psbt") {
        psbts.set(l.txid, { txid: l.txid, psbt: l.psbt, file: l.file, deposits: l.deposits.map((x) => x.toLowerCase()), inputs: l.inputs });
      } else if (l.type === "child") {
        // The first child of a funding is the one: a later line for the same parent is never acted on.
        if (!children.has(l.parent)) children.set(l.parent, { txid: l.txid, rawHex: l.rawHex, parent: l.parent, input: l.input, feeSats: BigInt(l.feeSats), vsize: l.vsize, output: { ...l.output, valueSats: BigInt(l.output.valueSats) }, broadcast: false });
      } else if (l.type === "broadcast") {
        const f = fundings.get(l.txid);
        if (f) f.broadcast = true;
        for (const c of children.values()) if (c.txid === l.txid) c.broadcast = true;
      }
    }
    return { orders, fundings, psbts, children };
  }

  /** Orders of `account` with a slot not ended yet, oldest first. */
  unfinished(account: string): MintOrder[] {
    return [...this.read().orders.values()].filter((o) => o.account === account.toLowerCase() && o.ended.size < o.count);
  }

  newOrder(account: string, lotSats: bigint, count: number): MintOrder {
    const id = `${new Date().toISOString().replace(/[-:.TZ]/g, "").slice(0, 14)}-${crypto.randomBytes(3).toString("hex")}`;
    this.append({ type: "order", id, account: account.toLowerCase(), lotSats: lotSats.toString(), count, at: now() });
    return this.read().orders.get(id)!;
  }

  recordDeposit(order: string, slot: number, deposit: string): void {
    this.append({ type: "deposit", order, slot, deposit: deposit.toLowerCase(), at: now() });
  }

  /** Written (fsynced) before the funding clock starts and before any broadcast. */
  recordFunding(f: Omit<FundingRecord, "broadcast">): void {
    this.append({
      type: "funding", txid: f.txid, rawHex: f.rawHex, feeSats: f.feeSats.toString(), vsize: f.vsize, inputs: f.inputs, replaces: f.replaces,
      outputs: f.outputs.map((o) => ({ ...o, valueSats: o.valueSats.toString() })),
      coins: f.coins?.map((c) => ({ ...c, valueSats: c.valueSats.toString() })),
      change: f.change && { ...f.change, valueSats: f.change.valueSats.toString() },
      at: now(),
    });
  }

  /** Written (fsynced) before the child is broadcast: a restart re-sends these bytes, never builds another child. */
  recordChild(c: Omit<ChildRecord, "broadcast">): void {
    this.append({ type: "child", txid: c.txid, rawHex: c.rawHex, parent: c.parent, input: c.input, feeSats: c.feeSats.toString(), vsize: c.vsize, output: { ...c.output, valueSats: c.output.valueSats.toString() }, at: now() });
  }

  /** An unsigned funding written as a PSBT: its deposits wait for the signed one (`--psbt-in`), never funded otherwise. */
  recordPsbt(p: PendingPsbt): void {
    this.append({ type: "psbt", ...p, at: now() });
  }

  recordBroadcast(txid: string): void {
    this.append({ type: "broadcast", txid, at: now() });
  }

  recordEnded(order: string, slot: number, outcome: string): void {
    this.append({ type: "ended", order, slot, outcome, at: now() });
  }

  private append(line: Line): void {
    appendSyncedLine(this.file, JSON.stringify(line));
  }
}

/** The latest funding record (and its output) that pays `deposit`, if any. */
export function fundingOf(state: MintJournalState, deposit: string): { record: FundingRecord; output: FundingOutput } | undefined {
  return fundingsOf(state, deposit).at(-1);
}

/** Every funding record that pays `deposit` (the first and its RBF replacements), oldest first. */
export function fundingsOf(state: MintJournalState, deposit: string): { record: FundingRecord; output: FundingOutput }[] {
  const d = deposit.toLowerCase();
  const out: { record: FundingRecord; output: FundingOutput }[] = [];
  for (const record of state.fundings.values()) {
    const output = record.outputs.find((o) => o.deposit === d);
    if (output) out.push({ record, output });
  }
  return out;
}

function now(): string {
  return new Date().toISOString();
}

/** The PSBT written for `deposit` and not yet signed back (no funding record pays the deposit). */
export function pendingPsbtOf(state: MintJournalState, deposit: string): PendingPsbt | undefined {
  const d = deposit.toLowerCase();
  if (fundingOf(state, d)) return undefined;
  for (const p of state.psbts.values()) if (p.deposits.includes(d) && !state.fundings.has(p.txid)) return p;
  return undefined;
}
