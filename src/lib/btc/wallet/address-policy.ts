/**
 * Which address index to hand out next, so that no address is ever used twice. Pure: the only
 * outside fact is "has this index's address any history on chain", asked through `lookup` for a
 * window of indexes at a time (one batched query to the Bitcoin servers instead of one per index).
 *
 * - An index is never handed out twice: the persisted counter moves past every index handed out,
 *   whether or not it was paid (a payout address given to a redemption may be paid much later).
 * - Beyond the counter, an index whose address already has history is skipped: the same seed may
 *   be used by another wallet, or the counter may have been lost.
 * - Without a counter (a restored seed), the used part of the chain is discovered BIP44-style:
 *   indexes are scanned from 0 until GAP_LIMIT addresses in a row have no history.
 */
export const GAP_LIMIT = 20;

/** Answers, for each index asked, whether its address has any history (mempool included). */
export type UsedLookup = (indexes: number[]) => Promise<boolean[]>;

function window(from: number, size: number): number[] {
  return Array.from({ length: size }, (_, i) => from + i);
}

async function ask(lookup: UsedLookup, indexes: number[]): Promise<boolean[]> {
  const answers = await lookup(indexes);
  if (answers.length !== indexes.length) throw new Error(`address history lookup answered ${answers.length} of ${indexes.length} indexes`);
  return answers;
}

/** The first index at or after `from` whose address has no history. */
export async function firstUnusedFrom(from: number, lookup: UsedLookup, batch = GAP_LIMIT): Promise<number> {
  if (!Number.isInteger(from) || from < 0) throw new Error(`address index ${from} is not a whole number`);
  for (let start = from; ; start += batch) {
    const used = await ask(lookup, window(start, batch));
    const free = used.indexOf(false);
    if (free >= 0) return start + free;
  }
}

/**
 * The index after the last one with history, scanning from 0 until `gapLimit` unused addresses
 * in a row; 0 when the chain was never used.
 */
export async function discoverNextIndex(lookup: UsedLookup, gapLimit = GAP_LIMIT): Promise<number> {
  if (!Number.isInteger(gapLimit) || gapLimit < 1) throw new Error(`gap limit ${gapLimit} must be at least 1`);
  let next = 0;
  let unusedInARow = 0;
  for (let start = 0; ; start += gapLimit) {
    const used = await ask(lookup, window(start, gapLimit));
    for (let i = 0; i < used.length; i++) {
      if (used[i]) {
        next = start + i + 1;
        unusedInARow = 0;
      } else if (++unusedInARow === gapLimit) return next;
    }
  }
}

export interface NextIndexInput {
  /** The persisted counter: the first index never handed out; undefined when there is none yet. */
  persisted: number | undefined;
  /** History lookup; undefined when no Bitcoin server is available (the counter alone decides). */
  lookup?: UsedLookup;
  gapLimit?: number;
}

export interface NextIndex {
  index: number;
  /** True when the chain was asked (false: the counter alone decided). */
  checked: boolean;
  /** Indexes at or past the counter skipped because their address already had history. */
  skipped: number;
}

/** The index to hand out now; the caller persists index + 1 before the address leaves the process. */
export async function nextIndex(input: NextIndexInput): Promise<NextIndex> {
  if (!input.lookup) return { index: input.persisted ?? 0, checked: false, skipped: 0 };
  const from = input.persisted ?? (await discoverNextIndex(input.lookup, input.gapLimit ?? GAP_LIMIT));
  const index = await firstUnusedFrom(from, input.lookup, input.gapLimit ?? GAP_LIMIT);
  return { index, checked: true, skipped: index - from };
}
