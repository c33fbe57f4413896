import { checkHeaderChain, type BlockHeader } from "./header";
import type { NetworkParams } from "./networks";
import type { BitcoinServer, ServerTip } from "./server";
import { chooseChain, type ChainView } from "./tip-choice";
import { VerifiedChain, type SegmentCheck } from "./verified-chain";

/**
 * Keeps the verified best chain in step with what servers report. A tip a server reports enters
 * only as a header chain that joins the verified one (fetched from that server, checked header by
 * header); when servers disagree, their chains are compared by work (tip-choice.ts) and the
 * losers are refused through `refuse`, which names them.
 */
export interface TipReport<S> {
  source: S;
  server: BitcoinServer;
  label: string;
  height: number;
  header: BlockHeader;
}

/** A server whose data failed verification: the message says what it sent. */
export class Unverified extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Unverified";
  }
}

/** Blocks a reported tip may be ahead of the verified one and still be joined header by header. */
export const MAX_CATCHUP = 2016;
/** How far below the verified tip a disagreeing chain is followed down to find where it forks. */
export const REORG_WINDOW = 144;
/** How far below the lowest reported tip a young verified chain is filled in when servers disagree. */
export const SEED_WINDOW = 24;
/** Headers per `headers()` request (Electrum servers give at most 2016). */
const CHUNK = 2016;

type Candidate<S> = { reports: TipReport<S>[]; stored: true } | { reports: TipReport<S>[]; stored: false; check: Extract<SegmentCheck, { ok: true }> };

export class ChainSync<S> {
  chain: VerifiedChain;
  /** When the verified tip was last confirmed by a server (ms since the epoch). */
  verifiedAt = 0;

  constructor(private readonly params: NetworkParams, private readonly refuse: (source: S, reason: string) => void, private readonly now: () => number = Date.now, private readonly capacity = 4032) {
    this.chain = new VerifiedChain(params, capacity);
  }

  /** A reported tip header alone: does it meet its own target within the network's limit? */
  checkTipHeader(tip: ServerTip): BlockHeader {
    const r = checkHeaderChain([tip.header], { powLimit: this.params.powLimit });
    if (!r.ok) throw new Unverified(`sent a tip header that fails: ${r.message}`);
    return r.headers[0];
  }

  /**
   * Takes in the tips servers reported (in configured order): joins each distinct one to the
   * verified chain, adopts the chain with the most work, refuses servers on a weaker fork.
   */
  async accept(reports: TipReport<S>[]): Promise<void> {
    if (reports.length === 0) return;
    const highest = Math.max(...reports.map((r) => r.height));
    // Too far behind to join header by header (a long pause): start over from the tips.
    if (this.chain.tip && highest - this.chain.tip.height > MAX_CATCHUP) this.chain = new VerifiedChain(this.params, this.capacity);
    if (!this.chain.tip) {
      const first = reports[0];
      const seed = this.chain.check(first.height, [first.header.raw]);
      if (seed.ok) this.chain.adopt(seed);
    }
    const groups = new Map<string, TipReport<S>[]>();
    for (const r of reports) groups.set(r.header.hash, [...(groups.get(r.header.hash) ?? []), r]);
    if (groups.size > 1) await this.deepenForComparison(reports);
    const candidates = (await Promise.all([...groups.values()].map((g) => this.candidate(g)))).filter((c): c is Candidate<S> => c !== undefined);
    this.verifiedAt = this.now();
    if (candidates.length === 0) return;
    this.choose(candidates);
  }

  /**
   * Servers disagree and the verified chain is young (a first contact holds only a tip): fill it
   * in from a server that agrees with it down to SEED_WINDOW below the lowest reported tip, so
   * that the other chains can be followed down to where they fork. Best effort: without it a
   * chain that forks below the verified base is refused as not joining.
   */
  private async deepenForComparison(reports: TipReport<S>[]): Promise<void> {
    const base = this.chain.base!;
    const low = Math.max(0, Math.min(...reports.map((r) => r.height)) - SEED_WINDOW);
    if (low >= base) return;
    const source = reports.find((r) => this.chain.at(r.height)?.header.hash === r.header.hash);
    if (!source) return;
    try {
      await this.ensureRange(source.server, low, base - 1);
    } catch (e) {
      this.refuse(source.source, reasonOf(e));
    }
  }

  private choose(candidates: Candidate<S>[]): void {
    const tip = this.chain.tip!;
    const starts = candidates.flatMap((c) => (c.stored ? [] : [c.check.segment.start]));
    const from = Math.min(tip.height + 1, ...starts);
    const stored = (to: number) => this.chain.range(from, to) ?? [];
    const views: ChainView[] = [{ key: "stored", start: from, ...columns(stored(tip.height)) }];
    candidates.forEach((c, i) => {
      const headers = c.stored ? stored(c.reports[0].height) : [...stored(c.check.segment.start - 1), ...c.check.segment.headers];
      views.push({ key: String(i), start: from, ...columns(headers) });
    });
    const choice = chooseChain(views, "stored");
    const winner = choice.winner === "stored" ? undefined : candidates[Number(choice.winner)];
    if (winner && !winner.stored) this.chain.adopt(winner.check);
    const winnerName = winner ? winner.reports[0].label : "the verified chain";
    for (const key of choice.forks) {
      if (key === "stored") continue;
      for (const r of candidates[Number(key)].reports) {
        this.refuse(r.source, `reports tip block ${r.header.hash} at height ${r.height}, on another chain with no more work than ${winnerName}'s`);
      }
    }
  }

  /** The chain behind one reported tip, joined to the verified chain; undefined when every server reporting it failed. */
  private async candidate(reports: TipReport<S>[]): Promise<Candidate<S> | undefined> {
    for (const r of reports) {
      if (this.chain.at(r.height)?.header.hash === r.header.hash) return { reports, stored: true };
      try {
        return { reports, stored: false, check: await this.join(r) };
      } catch (e) {
        this.refuse(r.source, reasonOf(e));
      }
    }
    return undefined;
  }

  /** Fetches the headers between the verified tip and a reported tip (further down if they fork) and checks them. */
  private async join(r: TipReport<S>): Promise<Extract<SegmentCheck, { ok: true }>> {
    const tip = this.chain.tip!;
    const from = Math.min(tip.height + 1, r.height);
    let raws = [...(await this.fetch(r.server, from, r.height - from)), r.header.raw];
    let c = this.chain.check(from, raws);
    if (!c.ok) throw new Unverified(`sent headers that fail: ${c.message}`);
    if (c.joinsBelow || from === 0) return c;
    const lower = Math.max(this.chain.base ?? 0, from - REORG_WINDOW);
    if (lower < from) {
      raws = [...(await this.fetch(r.server, lower, from - lower)), ...raws];
      c = this.chain.check(lower, raws);
      if (!c.ok) throw new Unverified(`sent headers that fail: ${c.message}`);
      if (c.joinsBelow || lower === 0) return c;
    }
    throw new Unverified(`reports tip block ${r.header.hash} at height ${r.height}, on a chain that does not join the verified one within ${REORG_WINDOW} blocks`);
  }

  /**
   * Makes sure the verified chain holds heights from..to, fetching what is missing below its
   * base from `server` (it must join the base); `to` above the verified tip is refused.
   */
  async ensureRange(server: BitcoinServer, from: number, to: number, maxBackfill = this.capacity): Promise<void> {
    const tip = this.chain.tip;
    if (!tip || to > tip.height) throw new Unverified(`speaks of height ${to}, above the verified tip ${tip?.height ?? "(none)"}`);
    const base = this.chain.base!;
    if (from >= base) return;
    if (base - from > maxBackfill) throw new Unverified(`height ${from} is ${tip.height - from} blocks deep, deeper than keepctl verifies (${maxBackfill})`);
    const raws = await this.fetch(server, from, base - from);
    const c = this.chain.check(from, raws);
    if (!c.ok) throw new Unverified(`sent headers that fail: ${c.message}`);
    if (!c.joinsAbove) throw new Unverified(`sent headers ${from}..${base - 1} that do not join the verified chain`);
    this.chain.adopt(c);
  }

  /** `count` headers from `start`, in chunks; fewer than asked is an error (the caller knows they exist). */
  private async fetch(server: BitcoinServer, start: number, count: number): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    while (out.length < count) {
      const want = Math.min(CHUNK, count - out.length);
      const got = await server.headers(start + out.length, want);
      if (got.length === 0) break;
      out.push(...got.slice(0, want));
    }
    if (out.length < count) throw new Unverified(`gave ${out.length} headers from height ${start}, where its own tip implies ${count}`);
    return out;
  }
}

function columns(headers: { header: BlockHeader; work: bigint }[]): { hashes: string[]; works: bigint[] } {
  return { hashes: headers.map((h) => h.header.hash), works: headers.map((h) => h.work) };
}

export function reasonOf(e: unknown): string {
  return e instanceof Error ? e.message.split("\n")[0] : String(e);
}
