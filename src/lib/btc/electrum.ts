import { fromHex, normalizeHash, toHex } from "./bytes";
import { ElectrumSession } from "./electrum-session";
import { satPerVbFromBtcPerKb } from "./fees";
import { HEADER_BYTES, splitHeaders } from "./header";
import { ServerError, newServerStats, type BitcoinServer, type FeeEstimates, type MerkleBranch, type ScriptTx, type ServerOutspend, type ServerStats, type ServerTip, type ServerTxStatus, type Unspent } from "./server";
import { electrumScriptHash, inputSpending, parseTransaction, type OutPoint } from "./tx";
import type { ElectrumEndpoint } from "./urls";

/**
 * An Electrum protocol server (ElectrumX, electrs, Fulcrum) as a BitcoinServer. Methods and
 * shapes from spesmilo/electrum-protocol docs/protocol-methods.rst (protocol 1.4).
 */
export interface ElectrumServerOptions {
  clientName: string;
  timeoutMs: number;
  reconnectMs?: number;
  maxReconnectMs?: number;
}

/** Most transactions of one script that outspend() fetches to find a spender. */
const MAX_SPEND_CANDIDATES = 500;

export class ElectrumServer implements BitcoinServer {
  readonly kind = "electrum" as const;
  readonly url: string;
  readonly stats: ServerStats = newServerStats();
  private readonly session: ElectrumSession;
  private genesis?: string;
  /** The latest tip pushed by the server (subscription answer or notification). */
  private latest?: ServerTip;
  private subscribed = false;
  private readonly tipListeners = new Set<(tip: ServerTip) => void>();

  constructor(readonly endpoint: ElectrumEndpoint, o: ElectrumServerOptions) {
    this.url = endpoint.url;
    this.session = new ElectrumSession({
      endpoint,
      clientName: o.clientName,
      timeoutMs: o.timeoutMs,
      reconnectMs: o.reconnectMs,
      maxReconnectMs: o.maxReconnectMs,
      stats: this.stats,
      onNotification: (method, params) => this.onNotification(method, params),
      onConnected: (reconnect) => {
        // A new connection has no subscriptions: subscribe again and pass the tip on (a block may have come meanwhile).
        this.subscribed = false;
        if (reconnect && this.tipListeners.size > 0) void this.subscribe().then((t) => this.emit(t), () => undefined);
      },
    });
  }

  private get label(): string {
    return this.session.label;
  }

  async genesisHash(): Promise<string> {
    if (this.genesis) return this.genesis;
    const f = await this.session.request("server.features");
    const o = asObject(f, "server.features", this.label);
    if (o.hash_function !== undefined && o.hash_function !== "sha256") throw this.bad(`server.features names hash function ${String(o.hash_function).slice(0, 20)}, not sha256`);
    this.genesis = hashField(o.genesis_hash, "server.features genesis_hash", this.label);
    return this.genesis;
  }

  async tip(): Promise<ServerTip> {
    if (this.subscribed && this.latest && this.session.isConnected) return this.latest;
    return this.subscribe();
  }

  private async subscribe(): Promise<ServerTip> {
    const t = parseTip(await this.session.request("blockchain.headers.subscribe"), this.label);
    this.subscribed = true;
    this.latest = t;
    return t;
  }

  subscribeTips(onTip: (tip: ServerTip) => void): () => void {
    this.tipListeners.add(onTip);
    this.session.keepAlive = true;
    if (!this.subscribed) void this.subscribe().then((t) => onTip(t), () => undefined);
    return () => {
      this.tipListeners.delete(onTip);
      if (this.tipListeners.size === 0) this.session.keepAlive = false;
    };
  }

  private onNotification(method: string, params: unknown): void {
    if (method !== "blockchain.headers.subscribe") return;
    try {
      const t = parseTip(Array.isArray(params) ? params[0] : params, this.label);
      this.latest = t;
      this.emit(t);
    } catch {
      // A malformed notification is dropped; the next tip() asks again.
      this.subscribed = false;
    }
  }

  private emit(t: ServerTip): void {
    for (const f of this.tipListeners) f(t);
  }

  async headers(start: number, count: number): Promise<Uint8Array[]> {
    const r = asObject(await this.session.request("blockchain.block.headers", [start, count]), "blockchain.block.headers", this.label);
    if (typeof r.hex !== "string" || typeof r.count !== "number") throw this.bad("blockchain.block.headers answer lacks hex/count");
    const raw = this.hexOf(r.hex);
    if (raw.length !== r.count * HEADER_BYTES || r.count > count) throw this.bad(`blockchain.block.headers gave ${raw.length} bytes for count ${r.count}`);
    return splitHeaders(raw);
  }

  async transaction(txid: string): Promise<Uint8Array | undefined> {
    try {
      const hex = await this.session.request("blockchain.transaction.get", [normalizeHash(txid, "txid")]);
      if (typeof hex !== "string") throw this.bad("blockchain.transaction.get did not answer a hex string");
      return this.hexOf(hex);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async status(txid: string, outputScript: Uint8Array): Promise<ServerTxStatus> {
    const id = normalizeHash(txid, "txid");
    const entry = (await this.history(outputScript)).find((h) => h.txid === id);
    if (!entry) return { state: "unknown" };
    return entry.height > 0 ? { state: "confirmed", height: entry.height } : { state: "mempool" };
  }

  async merkleBranch(txid: string, height: number): Promise<MerkleBranch | undefined> {
    let r: unknown;
    try {
      r = await this.session.request("blockchain.transaction.get_merkle", [normalizeHash(txid, "txid"), height]);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
    const o = asObject(r, "blockchain.transaction.get_merkle", this.label);
    if (!Array.isArray(o.merkle) || typeof o.pos !== "number" || typeof o.block_height !== "number") throw this.bad("get_merkle answer lacks merkle/pos/block_height");
    return { blockHeight: o.block_height, pos: o.pos, branch: o.merkle.map((n) => hashField(n, "merkle node", this.label)) };
  }

  async history(script: Uint8Array): Promise<ScriptTx[]> {
    const r = await this.session.request("blockchain.scripthash.get_history", [electrumScriptHash(script)]);
    if (!Array.isArray(r)) throw this.bad("get_history did not answer a list");
    return r.map((x) => {
      const o = asObject(x, "get_history item", this.label);
      if (typeof o.height !== "number") throw this.bad("get_history item lacks a height");
      return { txid: hashField(o.tx_hash, "tx_hash", this.label), height: o.height };
    });
  }

  async unspent(script: Uint8Array): Promise<Unspent[]> {
    const r = await this.session.request("blockchain.scripthash.listunspent", [electrumScriptHash(script)]);
    if (!Array.isArray(r)) throw this.bad("listunspent did not answer a list");
    return r.map((x) => {
      const o = asObject(x, "listunspent item", this.label);
      if (typeof o.tx_pos !== "number" || typeof o.height !== "number" || !Number.isSafeInteger(o.value)) throw this.bad("listunspent item lacks tx_pos/height/value");
      return { txid: hashField(o.tx_hash, "tx_hash", this.label), vout: o.tx_pos, value: BigInt(o.value as number), height: o.height };
    });
  }

  /**
   * Electrum has no "who spends this output": the spender touches the spent output's script, so
   * it is in that script's history. Every other transaction there is fetched (one batch) and parsed.
   */
  async outspend(outpoint: OutPoint, spentScript: Uint8Array): Promise<ServerOutspend> {
    const candidates = (await this.history(spentScript)).filter((h) => h.txid !== outpoint.txid);
    if (candidates.length > MAX_SPEND_CANDIDATES) throw new ServerError(`${this.label} the script has ${candidates.length} transactions, too many to search for a spender`, "refused");
    const raws = await Promise.all(candidates.map((c) => this.transaction(c.txid)));
    for (let i = 0; i < candidates.length; i++) {
      const raw = raws[i];
      if (!raw) continue;
      const tx = parseTransaction(raw);
      const vin = inputSpending(tx, outpoint);
      if (vin >= 0) return { spent: true, txid: tx.txid, vin, height: candidates[i].height > 0 ? candidates[i].height : undefined, raw };
    }
    return { spent: false };
  }

  /** blockchain.estimatefee per target (BTC/kB, -1 unknown), floored at blockchain.relayfee; one batch. */
  async feeEstimates(targets: readonly number[]): Promise<FeeEstimates> {
    const [relay, ...est] = await Promise.all([this.session.request("blockchain.relayfee"), ...targets.map((t) => this.session.request("blockchain.estimatefee", [t]))]);
    const floor = typeof relay === "number" ? satPerVbFromBtcPerKb(relay) ?? 0 : 0;
    const out: FeeEstimates = new Map();
    targets.forEach((t, i) => {
      if (typeof est[i] !== "number") throw this.bad("estimatefee did not answer a number");
      const rate = satPerVbFromBtcPerKb(est[i] as number);
      if (rate !== undefined) out.set(t, Math.max(rate, floor));
    });
    return out;
  }

  async broadcast(raw: Uint8Array): Promise<string> {
    const r = await this.session.request("blockchain.transaction.broadcast", [toHex(raw)]);
    // Protocol 1.0 put the daemon's error text in the result; 1.4 uses error objects, but a
    // non-hash result is still the server's words, not a txid.
    if (typeof r !== "string" || !/^[0-9a-fA-F]{64}$/.test(r)) {
      const words = typeof r === "string" ? r.slice(0, 300) : JSON.stringify(r).slice(0, 300);
      throw new ServerError(`${this.label} refused the transaction: ${words}`, "refused", words);
    }
    return r.toLowerCase();
  }

  close(): Promise<void> {
    this.tipListeners.clear();
    return this.session.close();
  }

  private hexOf(hex: string): Uint8Array {
    try {
      return fromHex(hex);
    } catch {
      throw this.bad("sent hex that is not hex");
    }
  }

  private bad(what: string): ServerError {
    return new ServerError(`${this.label} ${what}`, "bad-response");
  }
}

function parseTip(v: unknown, label: string): ServerTip {
  const o = asObject(v, "blockchain.headers.subscribe", label);
  if (typeof o.height !== "number" || !Number.isSafeInteger(o.height) || o.height < 0 || typeof o.hex !== "string") throw new ServerError(`${label} headers.subscribe answer lacks height/hex`, "bad-response");
  let header: Uint8Array;
  try {
    header = fromHex(o.hex);
  } catch {
    throw new ServerError(`${label} headers.subscribe hex is not hex`, "bad-response");
  }
  if (header.length !== HEADER_BYTES) throw new ServerError(`${label} headers.subscribe header is ${header.length} bytes`, "bad-response");
  return { height: o.height, header };
}

function asObject(v: unknown, what: string, label: string): Record<string, unknown> {
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new ServerError(`${label} ${what} did not answer an object`, "bad-response");
  return v as Record<string, unknown>;
}

function hashField(v: unknown, what: string, label: string): string {
  if (typeof v !== "string" || !/^[0-9a-fA-F]{64}$/.test(v)) throw new ServerError(`${label} ${what} is not a 32-byte hex hash`, "bad-response");
  return v.toLowerCase();
}

/** ElectrumX/electrs/Fulcrum wordings for "no such transaction" (an answer, not a failure). */
function isNotFound(e: unknown): boolean {
  return e instanceof ServerError && e.failure === "refused" && /no such|not found|unknown (transaction|tx)|not in block|invalid tx hash|missing transaction/i.test(e.serverWords ?? "");
}
