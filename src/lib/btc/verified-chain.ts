import { checkHeaderChain, targetFromBits, workOfTarget, type BlockHeader, type HeaderChainFailure } from "./header";
import { RETARGET_INTERVAL, type NetworkParams } from "./networks";

/**
 * The best chain keepctl has verified, as a contiguous run of headers by height (the newest
 * `capacity` of them). Servers' headers enter only through check() + adopt(): every header meets
 * its own target within the network's limit, links to its parent, and (where the network has no
 * minimum-difficulty exception) keeps its parent's nBits inside a 2016-block period. Which of
 * two conflicting chains to adopt is not decided here (tip-choice.ts compares their work).
 */
export interface StoredHeader {
  height: number;
  header: BlockHeader;
  work: bigint;
}

export interface Segment {
  start: number;
  headers: StoredHeader[];
}

export type SegmentFailure = HeaderChainFailure | "bits-changed";

export type SegmentCheck =
  | {
      ok: true;
      segment: Segment;
      /** Its first header names the stored header below it as parent. */
      joinsBelow: boolean;
      /** Its last header is the parent of the stored header just above it. */
      joinsAbove: boolean;
      /** First height where it holds another header than the store; undefined when it agrees wherever both have one. */
      forkHeight?: number;
    }
  | { ok: false; index: number; height: number; reason: SegmentFailure; message: string };

export class VerifiedChain {
  private readonly byHeight = new Map<number, StoredHeader>();
  private low = 0;
  private high = -1;

  constructor(readonly params: NetworkParams, readonly capacity = 4032) {}

  get tip(): StoredHeader | undefined {
    return this.byHeight.get(this.high);
  }

  /** Lowest stored height (undefined when empty). */
  get base(): number | undefined {
    return this.high < this.low ? undefined : this.low;
  }

  get size(): number {
    return this.byHeight.size;
  }

  at(height: number): StoredHeader | undefined {
    return this.byHeight.get(height);
  }

  /** Stored headers from..to (inclusive), or undefined unless all are stored. */
  range(from: number, to: number): StoredHeader[] | undefined {
    if (from < this.low || to > this.high || from > to) return undefined;
    const out: StoredHeader[] = [];
    for (let h = from; h <= to; h++) out.push(this.byHeight.get(h)!);
    return out;
  }

  /** Checks raw headers meant to sit at heights start.. against the rules and the store; changes nothing. */
  check(start: number, raws: readonly Uint8Array[]): SegmentCheck {
    const chain = checkHeaderChain(raws, { powLimit: this.params.powLimit });
    if (!chain.ok) return { ok: false, index: chain.index, height: start + chain.index, reason: chain.reason, message: chain.message };
    const headers = chain.headers.map((header, i) => ({ height: start + i, header, work: workOfTarget(targetFromBits(header.bits)) }));
    if (headers.length === 0) return { ok: true, segment: { start, headers }, joinsBelow: false, joinsAbove: false };
    const below = this.byHeight.get(start - 1);
    // A segment from the genesis block joins a store that holds it too (the fork check compares them).
    const joinsBelow = start === 0 ? this.size > 0 && this.low === 0 : below !== undefined && below.header.hash === headers[0].header.prevHash;
    const last = headers[headers.length - 1];
    const above = this.byHeight.get(last.height + 1);
    const joinsAbove = above !== undefined && above.header.prevHash === last.header.hash;
    if (this.params.bitsFixedWithinEpoch) {
      for (let i = 0; i < headers.length; i++) {
        const h = headers[i];
        if (h.height % RETARGET_INTERVAL === 0) continue;
        const parent = i > 0 ? headers[i - 1].header : joinsBelow ? below?.header : undefined;
        if (parent && parent.bits !== h.header.bits) {
          return { ok: false, index: i, height: h.height, reason: "bits-changed", message: `header at height ${h.height} changes nBits inside a difficulty period (0x${parent.bits.toString(16)} to 0x${h.header.bits.toString(16)})` };
        }
      }
    }
    const fork = headers.find((h) => {
      const stored = this.byHeight.get(h.height);
      return stored !== undefined && stored.header.hash !== h.header.hash;
    });
    return { ok: true, segment: { start, headers }, joinsBelow, joinsAbove, forkHeight: fork?.height };
  }

  /**
   * Stores a checked segment. Joined below: headers from its first difference upwards are
   * replaced (a reorganisation; stored headers above its end that no longer link are dropped).
   * Joined above only (filling in below the base): prepended. Joined nowhere: the store starts
   * over from it.
   */
  adopt(c: Extract<SegmentCheck, { ok: true }>): void {
    const seg = c.segment;
    if (seg.headers.length === 0) return;
    const end = seg.start + seg.headers.length - 1;
    // Joined below: it overwrites from its start (what it replaces above its end is dropped
    // below). Joined above only: it fills in below the base (hash links make it agree wherever it
    // overlaps). Joined nowhere: start over.
    if (!c.joinsBelow && !c.joinsAbove) {
      this.byHeight.clear();
      this.low = seg.start;
      this.high = seg.start - 1;
    }
    for (const h of seg.headers) this.byHeight.set(h.height, h);
    this.low = Math.min(this.low, seg.start);
    this.high = Math.max(this.high, end);
    // Headers above the segment survive only if they still link to it.
    const next = this.byHeight.get(end + 1);
    if (next && next.header.prevHash !== seg.headers[seg.headers.length - 1].header.hash) this.dropFrom(end + 1);
    while (this.high - this.low + 1 > this.capacity) this.byHeight.delete(this.low++);
  }

  /** Σ work of stored headers at heights from..to (inclusive). */
  workBetween(from: number, to: number): bigint {
    let w = 0n;
    for (let h = Math.max(from, this.low); h <= Math.min(to, this.high); h++) w += this.byHeight.get(h)!.work;
    return w;
  }

  private dropFrom(height: number): void {
    for (let h = height; h <= this.high; h++) this.byHeight.delete(h);
    this.high = Math.min(this.high, height - 1);
  }
}
