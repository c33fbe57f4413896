/**
 * Pure decisions about the heads of several RPC endpoints (no network): which is the freshest,
 * which lag behind it by more than the operator allows, and in what order reads should try them.
 * With one endpoint nothing is compared here (its head's age is judged by preflight.ts).
 */
export interface SeenHead {
  /** Index of the endpoint in the configured order. */
  index: number;
  /** Its latest block number; undefined when it did not answer. */
  number?: number;
}

export interface LagVerdict {
  best?: number;
  /** Endpoints more than `maxLag` blocks behind `best`, with their lag. */
  laggards: { index: number; lag: number }[];
}

/** `maxLag` 0 switches the check off. */
export function judgeLag(heads: readonly SeenHead[], maxLag: number): LagVerdict {
  let best: number | undefined;
  for (const h of heads) if (h.number !== undefined && (best === undefined || h.number > best)) best = h.number;
  if (best === undefined || maxLag <= 0) return { best, laggards: [] };
  const laggards: { index: number; lag: number }[] = [];
  for (const h of heads) if (h.number !== undefined && best - h.number > maxLag) laggards.push({ index: h.index, lag: best - h.number });
  return { best, laggards };
}

/** True when a head `number` trails `best` by more than `maxLag` (0 = never). */
export function isLagging(number: number, best: number | undefined, maxLag: number): boolean {
  return maxLag > 0 && best !== undefined && best - number > maxLag;
}

/**
 * The order in which reads try the usable endpoints: the freshest known head first, the
 * configured order among equals and for endpoints whose head is not known.
 */
export function freshestFirst<T extends { index: number; head?: number }>(usable: readonly T[]): T[] {
  return [...usable].sort((a, b) => {
    const ha = a.head ?? Number.NEGATIVE_INFINITY;
    const hb = b.head ?? Number.NEGATIVE_INFINITY;
    return ha === hb ? a.index - b.index : hb - ha;
  });
}
