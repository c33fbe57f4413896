import type { EndpointStats } from "../chain/endpoint-pool";
import { ConfigError } from "../errors";
import { normalizeHash } from "./bytes";
import { ChainSync, Unverified, reasonOf, type TipReport } from "./chain-sync";
import { difficultyOfTarget, targetFromBits } from "./header";
import { verifyMerkleBranch } from "./merkle";
import { NETWORK_PARAMS, type BtcNetwork } from "./networks";
import type { BitcoinServer, MerkleBranch, ScriptTx, ServerStats, Unspent } from "./server";
import { ServerSet, type BroadcastResult, type Entry } from "./server-set";
import { buildSpvProof, verifySpvProof, type SpvProof } from "./spv";
import { inputSpending, parseTransaction, type OutPoint, type ParsedTx } from "./tx";

/**
 * The Bitcoin access keepctl uses: several servers (Electrum, Esplora) behind one client, with
 * timeouts, retries, failover and a cool-down per failing server (EndpointPool, one warning per
 * cool-down). No server's word on the chain is taken: headers are checked and joined to the
 * verified chain (chain-sync.ts), disagreeing tips are settled by work, merkle branches are
 * checked against verified headers, and a server on another network is refused (exit 3).
 *
 * Operations (all hashes display-order hex, scripts and raw transactions bytes):
 * - tip(): the verified best tip, asking every server (Electrum: its subscription, no round trip).
 * - status(txid, outputScript): confirmed (height, block hash, confirmations from verified
 *   headers, merkle-checked) | mempool | unknown. Electrum: 2 round trips; Esplora: 1-3.
 * - proof(txid, outputScript, { headers, rawTx? }): SPV proof parts with `headers` headers from the
 *   tx's block, every piece verified; at most 3 round trips to the server answering (Electrum 2).
 * - broadcast(raw): to every server; per-server results; accepted if any accepted.
 * - feeRate(targetBlocks): sat/vB, median of the servers that answer; undefined if none.
 * - spends(outpoint, spentScript), history(script), unspent(script).
 * - onTip(cb): verified new tips pushed by servers that subscribe (Electrum).
 * - stats(), resetStats(), close().
 */
export interface BitcoinClientOptions {
  network: BtcNetwork;
  servers: BitcoinServer[];
  /** Attempts on the last server a call tries (others get one each). Default 2. */
  retries?: number;
  /** First retry delay, doubling. Default 250 ms. */
  backoffMs?: number;
  coolDownMs?: number;
  maxCoolDownMs?: number;
  /** A verified tip older than this is refreshed before status() and proof(). Default 30 s. */
  tipMaxAgeMs?: number;
  /** One line per cool-down (naming the server, redacted) and per refused chain. */
  onWarning?: (message: string) => void;
  now?: () => number;
}

export interface VerifiedTip {
  height: number;
  hash: string;
  /** 80 raw bytes. */
  header: Uint8Array;
  time: number;
}

export type TxStatus =
  | { state: "confirmed"; height: number; blockHash: string; confirmations: number; pos: number }
  | { state: "mempool" }
  | { state: "unknown" };

export type ProofResult =
  | { ready: false; status: TxStatus }
  | {
      ready: true;
      proof: SpvProof;
      height: number;
      blockHash: string;
      confirmations: number;
      /** DIFF1/target of the tx's block; Σ over the proof's headers; each header's, in order. */
      firstHeaderDifficulty: bigint;
      totalDifficulty: bigint;
      difficulties: bigint[];
      tx: ParsedTx;
    };

export type SpendResult = { spent: false } | { spent: true; txid: string; vin: number; tx: ParsedTx; height?: number };

export type { BroadcastResult } from "./server-set";

export interface ServerReport extends ServerStats {
  url: string;
  kind: BitcoinServer["kind"];
  health: EndpointStats;
}

export interface BitcoinClientStats {
  servers: ServerReport[];
  tip?: { height: number; hash: string };
}

export class BitcoinClient {
  readonly network: BtcNetwork;
  readonly servers: ServerSet;
  private readonly sync: ChainSync<Entry>;
  private readonly tipMaxAgeMs: number;
  private readonly now: () => number;
  private lock: Promise<unknown> = Promise.resolve();
  private readonly tipListeners = new Set<(tip: VerifiedTip) => void>();
  private unsubscribes: (() => void)[] = [];

  constructor(o: BitcoinClientOptions) {
    if (o.servers.length === 0) throw new ConfigError("no Bitcoin server configured", { hint: "set --btc-electrum-url or --btc-esplora-url (or KEEPCTL_BTC_ELECTRUM_URLS / KEEPCTL_BTC_ESPLORA_URLS)" });
    this.network = o.network;
    this.now = o.now ?? Date.now;
    this.sync = new ChainSync<Entry>(NETWORK_PARAMS[o.network], (e, reason) => this.servers.refuse(e, reason), this.now);
    this.servers = new ServerSet(o.network, o.servers, { ...o, checkTip: (t) => this.sync.checkTipHeader(t) });
    this.tipMaxAgeMs = o.tipMaxAgeMs ?? 30_000;
  }

  /** Per-server health and cool-downs (EndpointPool), for metrics. */
  get pool(): ServerSet["pool"] {
    return this.servers.pool;
  }

  /** Checks every server's network and verifies a first tip. Unreachable servers are cooled, not fatal unless all are. */
  async connect(): Promise<VerifiedTip> {
    await Promise.all(this.servers.entries.map(async (e) => {
      try {
        await this.servers.ensureNetwork(e.server);
      } catch (err) {
        if (err instanceof ConfigError) throw err;
        this.servers.refuse(e, reasonOf(err));
      }
    }));
    return this.tip();
  }

  /** The verified best tip, from every server not cooling down (all of them if every one is). */
  tip(): Promise<VerifiedTip> {
    return this.locked(async () => {
      const failures: string[] = [];
      const reports = (await Promise.all(this.servers.live().map((e) => this.reportTip(e, failures)))).filter((r): r is TipReport<Entry> => r !== undefined);
      if (reports.length === 0) throw this.servers.allFailed("the chain tip", failures);
      await this.sync.accept(reports);
      const tip = this.verifiedTip();
      if (!tip) throw this.servers.allFailed("the chain tip", failures);
      return tip;
    });
  }

  /** The last verified tip, without asking anyone (undefined before the first). */
  verifiedTip(): VerifiedTip | undefined {
    const t = this.sync.chain.tip;
    return t && { height: t.height, hash: t.header.hash, header: t.header.raw, time: t.header.time };
  }

  async status(txid: string, outputScript: Uint8Array): Promise<TxStatus> {
    const id = normalizeHash(txid, "txid");
    await this.freshTip();
    return this.servers.withServer("the transaction's status", async (e) => {
      const st = await e.server.status(id, outputScript);
      if (st.state !== "confirmed") return st;
      const { status } = await this.verifyInclusion(e, id, st.height, st.blockHash);
      return status;
    });
  }

  /**
   * SPV proof parts for a confirmed transaction: `headers` headers from its block. Round trips to
   * the server answering: status + raw tx together, then merkle branch + the headers keepctl
   * lacks together (Esplora needs a third for headers it fetches by height). Pass `rawTx` when
   * you have it. `minHeaders` (default `headers`): ready from that many confirmations on, with
   * min(headers, confirmations) headers. Not ready (with the status) while unconfirmed or short.
   */
  async proof(txid: string, outputScript: Uint8Array, opts: { headers: number; minHeaders?: number; rawTx?: Uint8Array | string }): Promise<ProofResult> {
    const id = normalizeHash(txid, "txid");
    const min = opts.minHeaders ?? opts.headers;
    if (!Number.isSafeInteger(opts.headers) || !Number.isSafeInteger(min) || min < 1 || min > opts.headers) throw new RangeError("proof(): need 1 <= minHeaders <= headers");
    const given = opts.rawTx === undefined ? undefined : parseTransaction(opts.rawTx);
    if (given && given.txid !== id) throw new RangeError(`proof(): rawTx hashes to ${given.txid}, not ${id}`);
    await this.freshTip();
    return this.servers.withServer("an SPV proof", async (e) => {
      const [st, raw] = await Promise.all([e.server.status(id, outputScript), given ? undefined : e.server.transaction(id)]);
      if (st.state !== "confirmed") return { ready: false, status: st };
      const tx = given ?? (raw ? parseTransaction(raw) : undefined);
      if (!tx) throw new Unverified(`says tx ${id} is confirmed but does not give the transaction`);
      if (tx.txid !== id) throw new Unverified(`gave a transaction that hashes to tx ${tx.txid}, not tx ${id}`);
      const { status, branch } = await this.verifyInclusion(e, id, st.height, st.blockHash);
      if (status.state !== "confirmed" || status.confirmations < min) return { ready: false, status };
      const headers = this.sync.chain.range(status.height, status.height + Math.min(opts.headers, status.confirmations) - 1);
      if (!headers) throw new Unverified(`headers from ${status.height} are missing from the verified chain`);
      const proof = buildSpvProof({ rawTx: tx.raw, branch: branch.branch, pos: branch.pos, headers: headers.map((h) => h.header.raw) });
      const check = verifySpvProof(proof);
      if (!check.ok) throw new Unverified(`its data makes an SPV proof that fails (${check.reason}): ${check.message}`);
      const difficulties = headers.map((h) => difficultyOfTarget(targetFromBits(h.header.bits)));
      return { ready: true, proof, height: status.height, blockHash: status.blockHash, confirmations: status.confirmations, firstHeaderDifficulty: check.firstHeaderDifficulty, totalDifficulty: check.totalDifficulty, difficulties, tx };
    });
  }

  /** Who spends `outpoint` (the spending transaction itself is fetched and checked); `spentScript` is the output's script. */
  spends(outpoint: OutPoint, spentScript: Uint8Array): Promise<SpendResult> {
    const op = { txid: normalizeHash(outpoint.txid, "txid"), vout: outpoint.vout };
    return this.servers.withServer("who spends the output", async (e) => {
      const o = await e.server.outspend(op, spentScript);
      if (!o.spent) return { spent: false };
      const raw = o.raw ?? (await e.server.transaction(o.txid));
      if (!raw) throw new Unverified(`names tx ${o.txid} as the spender but does not give it`);
      const tx = parseTransaction(raw);
      if (tx.txid !== o.txid) throw new Unverified(`gave a transaction that hashes to tx ${tx.txid}, not tx ${o.txid}`);
      const vin = inputSpending(tx, op);
      if (vin < 0) throw new Unverified(`names tx ${o.txid} as the spender of tx ${op.txid} output ${op.vout}, which it does not spend`);
      return { spent: true, txid: tx.txid, vin, tx, height: o.height };
    });
  }

  /** A script's transactions as the server reports them (heights unverified: use status() for one). */
  history(script: Uint8Array): Promise<ScriptTx[]> {
    return this.servers.withServer("a script's history", (e) => e.server.history(script));
  }

  unspent(script: Uint8Array): Promise<Unspent[]> {
    return this.servers.withServer("a script's unspent outputs", (e) => e.server.unspent(script));
  }

  /** sat/vB for confirmation within `targetBlocks`: the median over the servers that give one. */
  feeRate(targetBlocks: number): Promise<number | undefined> {
    return this.servers.feeRate(targetBlocks);
  }

  /**
   * Sends the transaction to every configured server. A rejection carries the server's words;
   * "already in the mempool / known" counts as accepted. Throws when no server accepted.
   */
  broadcast(raw: Uint8Array): Promise<BroadcastResult> {
    return this.servers.broadcast(raw);
  }

  /** True when at least one server pushes new tips (Electrum); otherwise poll tip(). */
  get pushesTips(): boolean {
    return this.servers.entries.some((e) => typeof e.server.subscribeTips === "function");
  }

  /** Calls `cb` with each new verified tip pushed by a subscribing server. Returns the unsubscribe function. */
  onTip(cb: (tip: VerifiedTip) => void): () => void {
    this.tipListeners.add(cb);
    if (this.unsubscribes.length === 0) {
      for (const e of this.servers.entries) {
        const sub = e.server.subscribeTips?.((t) => void this.pushed(e, t).catch(() => undefined));
        if (sub) this.unsubscribes.push(sub);
      }
    }
    return () => {
      this.tipListeners.delete(cb);
      if (this.tipListeners.size === 0) {
        for (const u of this.unsubscribes.splice(0)) u();
      }
    };
  }

  stats(): BitcoinClientStats {
    const tip = this.verifiedTip();
    return {
      servers: this.servers.entries.map((e) => ({ url: e.ep.label, kind: e.server.kind, health: e.ep.stats, ...e.server.stats })),
      tip: tip && { height: tip.height, hash: tip.hash },
    };
  }

  resetStats(): void {
    for (const e of this.servers.entries) Object.assign(e.server.stats, { requests: 0, roundTrips: 0, writes: 0, byMethod: {}, connects: 0 });
  }

  async close(): Promise<void> {
    for (const u of this.unsubscribes.splice(0)) u();
    this.tipListeners.clear();
    await Promise.all(this.servers.entries.map((e) => e.server.close()));
  }

  // ---- internals ------------------------------------------------------------------------------

  private async pushed(e: Entry, t: { height: number; header: Uint8Array }): Promise<void> {
    const before = this.sync.chain.tip?.header.hash;
    await this.locked(async () => {
      let header;
      try {
        header = this.sync.checkTipHeader(t);
      } catch (err) {
        this.servers.refuse(e, reasonOf(err));
        return;
      }
      await this.sync.accept([{ source: e, server: e.server, label: e.ep.label, height: t.height, header }]);
    });
    const tip = this.verifiedTip();
    if (tip && tip.hash !== before) for (const f of this.tipListeners) f(tip);
  }

  private async reportTip(e: Entry, failures: string[]): Promise<TipReport<Entry> | undefined> {
    try {
      await this.servers.ensureNetwork(e.server);
      const t = await e.server.tip();
      const header = this.sync.checkTipHeader(t);
      this.servers.pool.succeeded(e.ep, "call");
      return { source: e, server: e.server, label: e.ep.label, height: t.height, header };
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      failures.push(`${e.ep.label} (${this.servers.detail(e, reasonOf(err))})`);
      this.servers.refuse(e, reasonOf(err));
      return undefined;
    }
  }

  /** Merkle branch from `e` checked against the verified header at `height`; the confirmed status it proves. */
  private async verifyInclusion(e: Entry, txid: string, height: number, claimedHash?: string): Promise<{ status: Extract<TxStatus, { state: "confirmed" }>; branch: MerkleBranch }> {
    if (height > (this.sync.chain.tip?.height ?? -1)) await this.tip();
    const [branch] = await Promise.all([e.server.merkleBranch(txid, height), this.locked(() => this.sync.ensureRange(e.server, height, height))]);
    const stored = this.sync.chain.at(height);
    if (!stored) throw new Unverified(`block ${height} left the verified chain`);
    if (!branch || branch.blockHeight !== height) throw new Unverified(`says tx ${txid} is confirmed at height ${height} but gives no merkle branch for it there`);
    if (!verifyMerkleBranch(txid, branch.branch, branch.pos, stored.header.merkleRoot)) throw new Unverified(`gave a merkle branch for tx ${txid} that does not lead to the merkle root of block ${stored.header.hash} (height ${height})`);
    if (claimedHash !== undefined && claimedHash !== stored.header.hash) throw new Unverified(`says the block at height ${height} is block ${claimedHash}; the verified chain has block ${stored.header.hash}`);
    const tip = this.sync.chain.tip!;
    return { status: { state: "confirmed", height, blockHash: stored.header.hash, confirmations: tip.height - height + 1, pos: branch.pos }, branch };
  }

  private async freshTip(): Promise<void> {
    if (!this.sync.chain.tip || (this.now() - this.sync.verifiedAt > this.tipMaxAgeMs && !this.subscribedFresh())) await this.tip();
  }

  /** Every pushed tip is accepted as it comes: a live subscription keeps the verified tip fresh. */
  private subscribedFresh(): boolean {
    return this.unsubscribes.length > 0 && this.servers.entries.some((e) => e.server.subscribeTips && !this.servers.pool.isCooling(e.ep));
  }

  /** Serializes changes to the verified chain (JavaScript runs one callback at a time, but awaits interleave). */
  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }
}
