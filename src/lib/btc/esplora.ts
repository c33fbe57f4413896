import { redactUrl } from "../redact";
import { fromHex, hash256, internalToDisplay, normalizeHash, toHex } from "./bytes";
import { HEADER_BYTES } from "./header";
import type { BtcNetwork } from "./networks";
import { ServerError, newServerStats, type BitcoinServer, type FeeEstimates, type MerkleBranch, type ScriptTx, type ServerOutspend, type ServerStats, type ServerTip, type ServerTxStatus, type Unspent } from "./server";
import { esploraScriptHash, scriptAddress, type OutPoint } from "./tx";
import type { EsploraEndpoint } from "./urls";

/**
 * An Esplora REST server (Blockstream's esplora/electrs, mempool.space) as a BitcoinServer.
 * Endpoints and shapes from Blockstream/esplora API.md. Requests that do not depend on each other
 * go out together; `stats.roundTrips` counts the waves.
 */
export interface EsploraServerOptions {
  network: BtcNetwork;
  timeoutMs: number;
  /** Most requests in flight at once (header ranges fan out one request per block). Default 16. */
  maxParallel?: number;
}

type Answer = { status: number; text: string };

export class EsploraServer implements BitcoinServer {
  readonly kind = "esplora" as const;
  readonly url: string;
  readonly stats: ServerStats = newServerStats();
  private readonly label: string;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private genesis?: string;

  constructor(readonly endpoint: EsploraEndpoint, private readonly o: EsploraServerOptions) {
    this.url = endpoint.url;
    this.label = redactUrl(endpoint.url);
  }

  async genesisHash(): Promise<string> {
    this.genesis ??= await this.hashAt(0);
    return this.genesis;
  }

  async tip(): Promise<ServerTip> {
    const hash = this.hashText(await this.getText("/blocks/tip/hash", "tip"), "/blocks/tip/hash");
    const [header, block] = await Promise.all([this.header(hash), this.getJson(`/block/${hash}`, "block")]);
    const height = (block as { height?: unknown }).height;
    if (typeof height !== "number" || !Number.isSafeInteger(height) || height < 0) throw this.bad(`/block/:hash has no height`);
    return { height, header };
  }

  async headers(start: number, count: number): Promise<Uint8Array[]> {
    const heights = Array.from({ length: count }, (_, i) => start + i);
    const hashes = await Promise.all(heights.map((h) => this.hashAt(h).catch((e: unknown) => (e instanceof ServerError && e.status === 404 ? undefined : Promise.reject(e)))));
    // Past the tip the server answers 404: the range stops there.
    const known: string[] = [];
    for (const h of hashes) {
      if (h === undefined) break;
      known.push(h);
    }
    return Promise.all(known.map((h) => this.header(h)));
  }

  async transaction(txid: string): Promise<Uint8Array | undefined> {
    const a = await this.get(`/tx/${normalizeHash(txid, "txid")}/hex`, "tx hex");
    if (a.status === 404) return undefined;
    try {
      return fromHex(this.ok(a, "tx hex").trim());
    } catch (e) {
      if (e instanceof ServerError) throw e;
      throw this.bad("/tx/:txid/hex is not hex");
    }
  }

  async status(txid: string): Promise<ServerTxStatus> {
    const a = await this.get(`/tx/${normalizeHash(txid, "txid")}/status`, "tx status");
    if (a.status === 404) return { state: "unknown" };
    const s = this.json(this.ok(a, "tx status"), "/tx/:txid/status") as { confirmed?: unknown; block_height?: unknown; block_hash?: unknown };
    if (s.confirmed === false) return { state: "mempool" };
    if (s.confirmed !== true || typeof s.block_height !== "number") throw this.bad("/tx/:txid/status lacks confirmed/block_height");
    return { state: "confirmed", height: s.block_height, blockHash: s.block_hash === undefined ? undefined : this.hashText(String(s.block_hash), "block_hash") };
  }

  async merkleBranch(txid: string): Promise<MerkleBranch | undefined> {
    const a = await this.get(`/tx/${normalizeHash(txid, "txid")}/merkle-proof`, "merkle proof");
    // "Transaction not found or is unconfirmed"
    if (a.status === 404 || a.status === 400) return undefined;
    const m = this.json(this.ok(a, "merkle proof"), "/tx/:txid/merkle-proof") as { block_height?: unknown; merkle?: unknown; pos?: unknown };
    if (typeof m.block_height !== "number" || typeof m.pos !== "number" || !Array.isArray(m.merkle)) throw this.bad("/tx/:txid/merkle-proof lacks block_height/merkle/pos");
    return { blockHeight: m.block_height, pos: m.pos, branch: m.merkle.map((n) => this.hashText(String(n), "merkle node")) };
  }

  async history(script: Uint8Array): Promise<ScriptTx[]> {
    const list = await this.getJson(`${this.scriptPath(script)}/txs`, "history");
    if (!Array.isArray(list)) throw this.bad("/txs did not answer a list");
    return list.map((t: { txid?: unknown; status?: { confirmed?: unknown; block_height?: unknown } }) => ({
      txid: this.hashText(String(t.txid), "txid"),
      height: t.status?.confirmed === true && typeof t.status.block_height === "number" ? t.status.block_height : 0,
    }));
  }

  async unspent(script: Uint8Array): Promise<Unspent[]> {
    const list = await this.getJson(`${this.scriptPath(script)}/utxo`, "utxo");
    if (!Array.isArray(list)) throw this.bad("/utxo did not answer a list");
    return list.map((u: { txid?: unknown; vout?: unknown; value?: unknown; status?: { confirmed?: unknown; block_height?: unknown } }) => {
      if (typeof u.vout !== "number" || !Number.isSafeInteger(u.value)) throw this.bad("/utxo item lacks vout/value");
      return {
        txid: this.hashText(String(u.txid), "txid"),
        vout: u.vout,
        value: BigInt(u.value as number),
        height: u.status?.confirmed === true && typeof u.status.block_height === "number" ? u.status.block_height : 0,
      };
    });
  }

  async outspend(outpoint: OutPoint): Promise<ServerOutspend> {
    const o = (await this.getJson(`/tx/${normalizeHash(outpoint.txid, "txid")}/outspend/${outpoint.vout}`, "outspend")) as {
      spent?: unknown; txid?: unknown; vin?: unknown; status?: { confirmed?: unknown; block_height?: unknown };
    };
    if (o.spent === false) return { spent: false };
    if (o.spent !== true) throw this.bad("/outspend lacks spent");
    return {
      spent: true,
      txid: this.hashText(String(o.txid), "spending txid"),
      vin: typeof o.vin === "number" ? o.vin : undefined,
      height: o.status?.confirmed === true && typeof o.status.block_height === "number" ? o.status.block_height : undefined,
    };
  }

  /** Every target the server estimates (2..25, 144, 504, 1008 on Blockstream's), in sat/vB. */
  async feeEstimates(): Promise<FeeEstimates> {
    const o = await this.getJson("/fee-estimates", "fee estimates");
    if (!o || typeof o !== "object" || Array.isArray(o)) throw this.bad("/fee-estimates did not answer an object");
    const out: FeeEstimates = new Map();
    for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
      if (/^\d+$/.test(k) && typeof v === "number" && Number.isFinite(v) && v >= 0) out.set(Number(k), v);
    }
    return out;
  }

  async broadcast(raw: Uint8Array): Promise<string> {
    const a = await this.request("/tx", "broadcast", { method: "POST", body: toHex(raw), headers: { "content-type": "text/plain" } });
    if (a.status < 200 || a.status > 299) {
      if (a.status === 429 || a.status >= 500) throw new ServerError(`${this.label} POST /tx: HTTP ${a.status}`, "transport", words(a.text), a.status);
      throw new ServerError(`${this.label} refused the transaction: ${words(a.text)}`, "refused", words(a.text), a.status);
    }
    return this.hashText(a.text.trim(), "POST /tx answer");
  }

  async close(): Promise<void> {
    // fetch keeps no connection we own.
  }

  private async hashAt(height: number): Promise<string> {
    return this.hashText(await this.getText(`/block-height/${height}`, "block hash"), "/block-height/:height");
  }

  private async header(hash: string): Promise<Uint8Array> {
    let raw: Uint8Array;
    try {
      raw = fromHex((await this.getText(`/block/${hash}/header`, "header")).trim());
    } catch (e) {
      if (e instanceof ServerError) throw e;
      throw this.bad("/block/:hash/header is not hex");
    }
    if (raw.length !== HEADER_BYTES) throw this.bad(`/block/:hash/header is ${raw.length} bytes`);
    if (internalToDisplay(hash256(raw)) !== hash) throw this.bad(`the header served for block ${hash} is another block's`);
    return raw;
  }

  private scriptPath(script: Uint8Array): string {
    const addr = scriptAddress(script, this.o.network);
    return addr ? `/address/${addr}` : `/scripthash/${esploraScriptHash(script)}`;
  }

  private async getText(path: string, what: string): Promise<string> {
    return this.ok(await this.get(path, what), what);
  }

  private async getJson(path: string, what: string): Promise<unknown> {
    return this.json(await this.getText(path, what), path);
  }

  private get(path: string, what: string): Promise<Answer> {
    return this.request(path, what, { method: "GET" });
  }

  private ok(a: Answer, what: string): string {
    if (a.status >= 200 && a.status <= 299) return a.text;
    const failure = a.status === 429 || a.status >= 500 ? "transport" : "refused";
    throw new ServerError(`${this.label} answered HTTP ${a.status} for ${what}${a.text ? `: ${words(a.text)}` : ""}`, failure, words(a.text), a.status);
  }

  private json(text: string, path: string): unknown {
    try {
      return JSON.parse(text);
    } catch {
      throw this.bad(`${path.replace(/[0-9a-f]{64}/g, ":hash")} is not JSON`);
    }
  }

  private hashText(s: string, what: string): string {
    const t = s.trim();
    if (!/^[0-9a-fA-F]{64}$/.test(t)) throw this.bad(`${what} is not a 32-byte hex hash`);
    return t.toLowerCase();
  }

  private bad(what: string): ServerError {
    return new ServerError(`${this.label} ${what}`, "bad-response");
  }

  /** One HTTP request, within the parallel limit; counts requests and idle-to-busy waves. */
  private async request(path: string, what: string, init: RequestInit): Promise<Answer> {
    const max = this.o.maxParallel ?? 16;
    while (this.inFlight >= max) await new Promise<void>((r) => this.waiting.push(r));
    if (this.inFlight === 0) this.stats.roundTrips++;
    this.inFlight++;
    this.stats.requests++;
    this.stats.writes++;
    this.stats.byMethod[what] = (this.stats.byMethod[what] ?? 0) + 1;
    try {
      const res = await fetch(this.endpoint.base + path, { ...init, signal: AbortSignal.timeout(this.o.timeoutMs) });
      return { status: res.status, text: await res.text() };
    } catch (e) {
      const name = (e as { name?: string }).name;
      if (name === "TimeoutError" || name === "AbortError") throw new ServerError(`${this.label} did not answer ${what} within ${this.o.timeoutMs} ms`, "timeout");
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new ServerError(`${this.label} ${what} failed (${cause?.code ?? cause?.message ?? "network error"})`, "transport");
    } finally {
      this.inFlight--;
      this.waiting.shift()?.();
    }
  }
}

/** A node's reject message as the server sent it, on one line and cut short. */
function words(text: string): string {
  return text.replace(/\s+/g, " ").trim().slice(0, 300);
}
