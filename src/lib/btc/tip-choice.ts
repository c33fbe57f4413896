/**
 * Which chain to believe when servers disagree: the one with the most work, never the one most
 * servers report or the highest (a chain of easy headers can be long). Pure: chains are given as
 * the hashes and work of their headers from one common height upwards (headers below it are
 * shared by all). On equal work the incumbent — the chain already verified — stays (as Bitcoin
 * Core keeps the block it saw first), then the earlier-configured server's.
 */
export interface ChainView {
  key: string;
  /** Height of hashes[0] and works[0]: the same for every view compared. */
  start: number;
  hashes: readonly string[];
  works: readonly bigint[];
}

export interface TipChoice {
  winner: string;
  /** Views whose tip lies on the winner's chain, below or at its tip: behind, not disagreeing. */
  behind: string[];
  /** Views whose tip is not on the winner's chain: a fork with less work (or equal, losing the tie). */
  forks: string[];
}

export function chainWork(v: ChainView): bigint {
  return v.works.reduce((a, b) => a + b, 0n);
}

/** `views` in order of preference after the incumbent (configured server order). */
export function chooseChain(views: readonly ChainView[], incumbent?: string): TipChoice {
  if (views.length === 0) throw new Error("chooseChain needs at least one chain");
  const start = views[0].start;
  if (views.some((v) => v.start !== start || v.hashes.length !== v.works.length)) throw new Error("chooseChain: views must start at one height, one work per hash");
  let best = views.find((v) => v.key === incumbent) ?? views[0];
  let bestWork = chainWork(best);
  for (const v of views) {
    const w = chainWork(v);
    if (w > bestWork) {
      best = v;
      bestWork = w;
    }
  }
  const behind: string[] = [];
  const forks: string[] = [];
  for (const v of views) {
    if (v === best) continue;
    const tip = v.hashes.length - 1;
    // An empty view (its tip below the common height) is behind by definition; past the winner's
    // end there is no hash, so a longer view is a fork.
    const onBest = tip < 0 || best.hashes[tip] === v.hashes[tip];
    (onBest ? behind : forks).push(v.key);
  }
  return { winner: best.key, behind, forks };
}
