import { fromHex, isHex, sha256Bytes, toHex } from "./bytes";
import { hasValidPow, headerHash, mineHeader, parseHeader, REGTEST_BITS, serializeHeader } from "./header";
import { parseTx, serializeTx } from "./tx";

/**
 * What a dishonest Bitcoin server can say that a careful client must catch: a merkle branch with
 * a wrong node, headers of another chain (valid work and links, a different genesis), a header
 * above its own target, a tip higher than the chain (or inflated confirmations), a raw
 * transaction that is not the one asked for, a coin (and its history entry) that no block holds.
 */
export type LieKind = "merkle" | "foreign-headers" | "bad-pow" | "fake-tip" | "wrong-raw-tx" | "fake-utxo";
export const LIE_KINDS: readonly LieKind[] = ["merkle", "foreign-headers", "bad-pow", "fake-tip", "wrong-raw-tx", "fake-utxo"];

/** The value of the coin a "fake-utxo" lie adds: 50 BTC, enough to pay for anything. */
export const FAKE_UTXO_SATS = 5_000_000_000;

/** A txid no block holds, the same for a script on every ask (so the lie is consistent). */
export function fakeTxid(scriptKey: string): string {
  return toHex(sha256Bytes(new TextEncoder().encode(`fake coin for ${scriptKey}`)));
}

/** A chain from another genesis (time changed, so its hash differs), mined to the regtest target. */
export class ForeignChain {
  private readonly headers: Uint8Array[] = [];

  header(height: number): Uint8Array {
    while (this.headers.length <= height) {
      const h = this.headers.length;
      const prevHash = h === 0 ? "00".repeat(32) : headerHash(this.headers[h - 1]);
      const merkleRoot = toHex(sha256Bytes(new TextEncoder().encode(`foreign chain block ${h}`)));
      this.headers.push(mineHeader({ version: h === 0 ? 1 : 0x20000000, prevHash, merkleRoot, time: 1296688603 + h * 600, bits: REGTEST_BITS, nonce: 0 }));
    }
    return this.headers[height];
  }
  hash(height: number): string {
    return headerHash(this.header(height));
  }
  /** The height of one of this chain's block hashes, if it was handed out. */
  heightOf(hash: string): number | undefined {
    const i = this.headers.findIndex((h) => headerHash(h) === hash);
    return i < 0 ? undefined : i;
  }
}

/** The same header with a nonce whose hash is above the header's own target. */
export function breakPow(header: Uint8Array): Uint8Array {
  const h = parseHeader(header);
  for (let nonce = (h.nonce + 1) >>> 0; ; nonce = (nonce + 1) >>> 0) {
    const b = serializeHeader({ ...h, nonce });
    if (!hasValidPow(b)) return b;
  }
}

/** Changes one hex digit of a 32-byte node (a different hash, same shape). */
export function wrongNode(hex: string): string {
  const last = hex[hex.length - 1];
  return hex.slice(0, -1) + (last === "0" ? "1" : "0");
}

/** The transaction with its first output worth one satoshi more: well-formed, another txid. */
export function wrongRawTx(hex: string): string {
  if (!isHex(hex)) return hex;
  try {
    const tx = parseTx(fromHex(hex));
    const outputs = tx.outputs.map((o, i) => (i === 0 ? { ...o, value: o.value + 1n } : o));
    return toHex(serializeTx({ ...tx, outputs }));
  } catch {
    return wrongNode(hex);
  }
}

export interface LieContext {
  foreign: ForeignChain;
  /** Added to tip heights and confirmation counts. */
  fakeTipBy: number;
  /** Whether to tell this lie now (the proxy's seeded draw per lie kind). */
  tell(kind: LieKind): boolean;
}

type Json = Record<string, unknown>;

/** Rewrites an Electrum result (or notification params) of `method`; returns the kinds of lies told. */
export function lieInElectrum(method: string, params: unknown[], result: unknown, c: LieContext): { result: unknown; told: LieKind[] } {
  const told: LieKind[] = [];
  const headerLie = (hex: string, height: number): string => {
    if (c.tell("foreign-headers")) return told.push("foreign-headers"), toHex(c.foreign.header(height));
    if (c.tell("bad-pow")) return told.push("bad-pow"), toHex(breakPow(fromHex(hex)));
    return hex;
  };
  if ((method === "blockchain.transaction.get_merkle" || method === "blockchain.transaction.id_from_pos") && result && typeof result === "object" && Array.isArray((result as Json).merkle)) {
    if (c.tell("merkle")) {
      const merkle = [...((result as Json).merkle as string[])];
      if (merkle.length) merkle[0] = wrongNode(merkle[0]);
      else merkle.push(toHex(sha256Bytes(new TextEncoder().encode("not a sibling"))));
      told.push("merkle");
      return { result: { ...(result as Json), merkle }, told };
    }
  }
  // A 50 BTC coin added to every address that has real coins, "confirmed" at a real coin's height.
  if ((method === "blockchain.scripthash.listunspent" || method === "blockchain.scripthash.get_history") && Array.isArray(result) && result.length > 0 && c.tell("fake-utxo")) {
    const real = result[0] as Json;
    const tx_hash = fakeTxid(String(params[0]));
    told.push("fake-utxo");
    const fake = method === "blockchain.scripthash.listunspent" ? { tx_hash, tx_pos: 0, height: real.height, value: FAKE_UTXO_SATS } : { tx_hash, height: real.height };
    return { result: [...result, fake], told };
  }
  if (method === "blockchain.block.header") {
    const height = Number(params[0]);
    if (typeof result === "string") return { result: headerLie(result, height), told };
    if (result && typeof result === "object") return { result: { ...(result as Json), header: headerLie(String((result as Json).header), height) }, told };
  }
  if (method === "blockchain.block.headers" && result && typeof result === "object") {
    const r = result as Json;
    const hex = String(r.hex ?? "");
    const count = hex.length / 160;
    if (count > 0) {
      const start = Number(params[0]);
      if (c.tell("foreign-headers")) {
        told.push("foreign-headers");
        return { result: { ...r, hex: Array.from({ length: count }, (_, i) => toHex(c.foreign.header(start + i))).join("") }, told };
      }
      if (c.tell("bad-pow")) {
        told.push("bad-pow");
        return { result: { ...r, hex: hex.slice(0, -160) + toHex(breakPow(fromHex(hex.slice(-160)))) }, told };
      }
    }
  }
  if (method === "blockchain.headers.subscribe" && result && typeof result === "object") {
    const r = result as Json;
    let height = Number(r.height);
    const hex = headerLie(String(r.hex), height);
    if (c.tell("fake-tip")) (height += c.fakeTipBy), told.push("fake-tip");
    return { result: { ...r, hex, height }, told };
  }
  if (method === "blockchain.transaction.get") {
    if (typeof result === "string" && c.tell("wrong-raw-tx")) return told.push("wrong-raw-tx"), { result: wrongRawTx(result), told };
    if (result && typeof result === "object") {
      const r = { ...(result as Json) };
      if (typeof r.confirmations === "number" && c.tell("fake-tip")) (r.confirmations += c.fakeTipBy), told.push("fake-tip");
      if (typeof r.hex === "string" && c.tell("wrong-raw-tx")) (r.hex = wrongRawTx(r.hex)), told.push("wrong-raw-tx");
      return { result: r, told };
    }
  }
  return { result, told };
}

/** Rewrites an Esplora answer body for `path`; `heightOf` finds a real block's height (for foreign headers). */
export async function lieInEsplora(path: string, body: Uint8Array, c: LieContext, heightOf: (hash: string) => Promise<number | undefined>): Promise<{ body: Uint8Array; told: LieKind[] }> {
  const told: LieKind[] = [];
  const txt = () => Buffer.from(body).toString("utf8");
  const out = (s: string | Uint8Array) => ({ body: typeof s === "string" ? new Uint8Array(Buffer.from(s)) : s, told });
  const parts = path.split("/").filter(Boolean);
  if (parts[0] === "tx" && parts[2] === "merkle-proof" && c.tell("merkle")) {
    const r = JSON.parse(txt()) as Json;
    const merkle = [...(r.merkle as string[])];
    if (merkle.length) merkle[0] = wrongNode(merkle[0]);
    else merkle.push(toHex(sha256Bytes(new TextEncoder().encode("not a sibling"))));
    told.push("merkle");
    return out(JSON.stringify({ ...r, merkle }));
  }
  if ((parts[0] === "address" || parts[0] === "scripthash") && (parts[2] === "utxo" || parts[2] === "txs") && parts.length === 3) {
    const list = JSON.parse(txt()) as Json[];
    if (Array.isArray(list) && list.length > 0 && c.tell("fake-utxo")) {
      told.push("fake-utxo");
      const txid = fakeTxid(parts[1]);
      const fake = parts[2] === "utxo" ? { txid, vout: 0, value: FAKE_UTXO_SATS, status: list[0].status } : { ...list[0], txid };
      return out(JSON.stringify([...list, fake]));
    }
  }
  if (parts[0] === "tx" && parts[2] === "hex" && c.tell("wrong-raw-tx")) return told.push("wrong-raw-tx"), out(wrongRawTx(txt()));
  if (parts[0] === "tx" && parts[2] === "raw" && c.tell("wrong-raw-tx")) return told.push("wrong-raw-tx"), out(fromHex(wrongRawTx(toHex(body))));
  if (parts[0] === "blocks" && parts[1] === "tip" && parts[2] === "height" && c.tell("fake-tip")) return told.push("fake-tip"), out(String(Number(txt()) + c.fakeTipBy));
  if (parts[0] === "block-height" && parts.length === 2 && c.tell("foreign-headers")) return told.push("foreign-headers"), out(c.foreign.hash(Number(parts[1])));
  if (parts[0] === "block" && parts[2] === "header" && parts.length === 3) {
    const known = c.foreign.heightOf(parts[1]);
    if (known !== undefined) return told.push("foreign-headers"), out(toHex(c.foreign.header(known)));
    if (c.tell("foreign-headers")) {
      const height = await heightOf(parts[1]);
      if (height !== undefined) return told.push("foreign-headers"), out(toHex(c.foreign.header(height)));
    }
    if (c.tell("bad-pow")) return told.push("bad-pow"), out(toHex(breakPow(fromHex(txt()))));
  }
  return out(body);
}
