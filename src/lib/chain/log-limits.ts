/**
 * What a provider's eth_getLogs refusal says about its limit. Hosted providers answer a range
 * they will not serve with an error (often code -32005) whose message names their block cap, or a
 * range that would work; halving blindly from 10,000 to a 2,000-block cap wastes three refusals
 * per scan and then scans at 1,250. Pure: message text in, a number out.
 *
 * Wordings recognised (facts from the providers' answers):
 * - "…you can make eth_getLogs requests with up to a 2K block range…" (a block cap, K = 1,000)
 * - "eth_getLogs is limited to a 10,000 range", "…limited to a 10,000 blocks range"
 * - "exceed maximum block range: 5000" (geth-derived public nodes)
 * - "block range is too wide (20000 blocks, max 10000)"
 * - "ranges over 10000 blocks are not supported…"
 * - "…Try with this block range [0x10, 0x2a]." / "…this block range should work: [0x1, 0x7d0]"
 *   (a range that works from the start asked: used for the retry, not remembered as the cap —
 *   it depends on how many logs those blocks hold)
 * A count of results or logs ("more than 10000 results", "a cap of 10K logs") is not a block cap.
 */
export interface RefusalLimit {
  /** Blocks per query. */
  blocks: number;
  /** "cap": the provider's block limit (worth remembering); "suggested": a range that works here. */
  kind: "cap" | "suggested";
}

// Built per call (a refusal is rare): cheap, and no module state.
function capPatterns(): RegExp[] {
  const NUM = String.raw`(\d[\d,]*(?:\.\d+)?)\s*(k)?`;
  return [
    new RegExp(String.raw`up to an? ${NUM}[ -]?blocks?[ -]range`, "i"),
    new RegExp(String.raw`limited to an? ${NUM}\s*(?:blocks?\s*)?range`, "i"),
    new RegExp(String.raw`maximum block range:?\s*${NUM}`, "i"),
    new RegExp(String.raw`ranges? over ${NUM}\s*blocks`, "i"),
    new RegExp(String.raw`\bmax(?:imum)?(?: allowed)?(?: (?:range|blocks?))?(?: is)?:?\s*${NUM}\s*(?:blocks?)?\)`, "i"),
  ];
}

function suggestedRange(message: string): RegExpExecArray | null {
  return /\[\s*(0x[0-9a-f]+|\d+)\s*,\s*(0x[0-9a-f]+|\d+)\s*\]/i.exec(message);
}

function toNumber(digits: string, k: string | undefined): number | undefined {
  const n = Number(digits.replace(/,/g, "")) * (k ? 1000 : 1);
  return Number.isFinite(n) && n >= 1 ? Math.floor(n) : undefined;
}

/** The limit a refusal names, or undefined when it names none. */
export function limitFromRefusal(message: string): RefusalLimit | undefined {
  for (const re of capPatterns()) {
    const m = re.exec(message);
    if (!m) continue;
    const blocks = toNumber(m[1], m[2]);
    if (blocks !== undefined) return { blocks, kind: "cap" };
  }
  const r = suggestedRange(message);
  if (r) {
    const from = Number(BigInt(r[1]));
    const to = Number(BigInt(r[2]));
    if (to >= from) return { blocks: to - from + 1, kind: "suggested" };
  }
  return undefined;
}

/**
 * The chunk to ask next after `size` blocks were refused with `message`: the limit it names when
 * that is smaller than what was asked, else half (at least `minChunk`).
 */
export function chunkAfterRefusal(size: number, message: string, minChunk = 1): { chunk: number; learnedCap?: number } {
  const named = limitFromRefusal(message);
  if (named && named.blocks < size) return { chunk: Math.max(minChunk, named.blocks), ...(named.kind === "cap" ? { learnedCap: named.blocks } : {}) };
  return { chunk: Math.max(minChunk, Math.floor(size / 2)) };
}

/**
 * The batch cap a refused JSON-RPC batch names ("batch size too large (150 calls, max 100)",
 * "batch limit of 50 exceeded", "…limited to 10 requests per batch"), or undefined.
 */
export function batchCapFromRefusal(message: string): number | undefined {
  const m =
    /\bmax(?:imum)?(?: batch(?: size)?)?(?: is)?:?\s*(\d[\d,]*)/i.exec(message) ??
    /batch (?:size )?limit(?: of| is)?:?\s*(\d[\d,]*)/i.exec(message) ??
    /limited to (\d[\d,]*) (?:calls |requests )?(?:per|in a) batch/i.exec(message);
  const n = m ? Number(m[1].replace(/,/g, "")) : NaN;
  return Number.isSafeInteger(n) && n >= 1 ? n : undefined;
}

/** A non-array answer to a batch that says the batch is too big (not a rate limit). */
export function isBatchTooLarge(message: string): boolean {
  return /batch/i.test(message) && /too (large|big|long)|exceed|limit|max/i.test(message);
}
