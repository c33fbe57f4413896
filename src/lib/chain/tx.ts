import { Transaction, formatEther, type JsonRpcProvider, type TransactionReceipt, type Wallet } from "ethers";
import type { PreparedTx, RawTxTransport, TxEvent, TxHooks, TxRequest, TxResult, TxSenderOptions } from "./tx-types";
import { ExitCode, InsufficientFundsError, InterruptedError, KeepctlError, RevertError, RpcError, shortMessageOf } from "../errors";
import { classifyNodeError, simulationError, type NodeErrorKind } from "./errors-rpc";
import { DEFAULT_REPLACEMENT_PCT, bumpFees, formatGwei, gweiToWei, initialFees, worstCaseFeeWei, type Fees } from "./fees";
import { AccountConflictError, NonceTracker, SerialQueue } from "./nonce";
import { sleep } from "./sleep";

export { bumpFees, worstCaseFeeWei } from "./fees";
export { AccountConflictError } from "./nonce";

export type { TxRequest, PreparedTx, TxResult, TxEvent, TxHooks, BeforeBroadcast, TxSenderOptions, RawTxTransport } from "./tx-types";

/** Sent, but not mined by the deadline: the hashes stay tracked and the next run resumes them. */
export class TxPendingError extends KeepctlError {
  constructor(message: string, readonly hashes: string[], readonly nonce: number) {
    super("TX_PENDING", ExitCode.TX_PENDING, message, {
      hint: "it may still be mined; run again later — the journal keeps the signed transactions and never signs a second one",
      details: { hashes, nonce },
    });
  }
}

interface Attempt extends Fees {
  hash: string;
  raw: string;
}

interface Inflight {
  req: TxRequest;
  nonce: number;
  gasLimit: bigint;
  chainId: bigint;
  /** Every signed tx for this nonce that may be in a pool, oldest first. */
  attempts: Attempt[];
  /** Fees of the newest tx a node took (or may have taken): what is live. */
  live: Fees;
  /** Fees of the newest tx signed (a refused replacement climbs from here). */
  tried: Fees;
  lastSentAt: number;
  lastRebroadcastAt: number;
  atCap: boolean;
  hooks: TxHooks;
}

/** Outcomes of a broadcast after which a tx may be in a pool: it counts as sent. */
const MAYBE_POOLED = new Set<NodeErrorKind | "accepted">(["accepted", "already-known", "unknown"]);

/**
 * The single sender for one account: simulate, price under the cap, pick the nonce, sign,
 * journal, broadcast ONCE, then settle from the chain: receipts of every hash sent for the nonce,
 * the same bytes rebroadcast when the node forgot them, same-nonce replacements under the cap.
 * It never signs an action at a second nonce: a lost answer is "sent, outcome unknown".
 */
export class TxSender {
  readonly address: string;
  private readonly nonces: NonceTracker;
  private readonly queue = new SerialQueue();
  private readonly cap: bigint;
  private chainId?: bigint;
  /** Set once another sender shows up on this account: nothing more is signed. */
  private halted?: AccountConflictError;
  /** Nonces of this process's transactions that are sent and not yet settled. */
  private readonly inflight = new Set<number>();

  constructor(
    private readonly wallet: Wallet,
    private readonly provider: JsonRpcProvider,
    private readonly opts: TxSenderOptions,
  ) {
    this.address = wallet.address;
    this.nonces = new NonceTracker(provider, wallet.address, () => opts.journaledNonces?.() ?? []);
    this.cap = gweiToWei(opts.maxFeeGwei);
  }

  /** Simulation and pricing only (for --dry-run and the plan shown before confirming). */
  async prepare(req: TxRequest): Promise<PreparedTx> {
    const call = { from: this.address, to: req.to, data: req.data ?? "0x", value: req.value ?? 0n };
    let gasEstimate: bigint;
    try {
      await this.provider.call(call);
      gasEstimate = await this.provider.estimateGas(call);
    } catch (e) {
      throw asKeepctl(simulationError(e, req.label, req.abi), `simulating ${req.label} failed`);
    }
    const marginBps = BigInt(Math.round((this.opts.gasMargin ?? 1.25) * 10_000));
    const gasLimit = (gasEstimate * marginBps + 9_999n) / 10_000n;
    const fees = await initialFees(this.provider, this.cap, this.opts.minTipWei);
    return { gasEstimate, gasLimit, ...fees, worstCaseFeeWei: worstCaseFeeWei(gasLimit, fees.maxFeePerGas) };
  }

  /**
   * The account guard at the start of a session (after the journal is settled): refuses when
   * transactions we never signed are pending from this account.
   */
  async startSession(): Promise<void> {
    try {
      await this.nonces.startSession();
    } catch (e) {
      const judged = await this.judged(e);
      if (judged instanceof AccountConflictError) this.halted = judged;
      throw judged;
    }
  }

  /** A journaled tx at `nonce` left the chain and is not sent again: the nonce is ours to use again. */
  releaseNonce(nonce: number): void {
    this.nonces.release(nonce);
    this.inflight.delete(nonce);
  }

  /** Why this account stopped sending, if it did. */
  get conflict(): AccountConflictError | undefined {
    return this.halted;
  }

  /** Sends and waits until one of the hashes for its nonce is mined (status checked). */
  async send(req: TxRequest, hooks: TxHooks = {}): Promise<TxResult> {
    let tx: Inflight;
    try {
      if (this.halted) throw this.halted;
      if (this.opts.signal?.aborted) throw new InterruptedError(`not sending ${req.label}: shutting down`);
      tx = await this.queue.run(() => this.broadcastFirst(req, hooks));
    } catch (caught) {
      const e = await this.judged(caught);
      if (e instanceof AccountConflictError) this.halted ??= e;
      // Nothing of this action can be in a pool: broadcastFirst returns as soon as one may be.
      this.emit(hooks, { type: "failed", label: req.label, error: shortMessageOf(e), sent: false, final: true, code: codeOf(e) });
      throw e;
    }
    return this.watchAndReport(tx);
  }

  /**
   * Takes over a tx journaled by an earlier process (its signed raw txs, oldest first): waits
   * for any of them to mine, rebroadcasts the same bytes when the node forgot them, and re-prices
   * the SAME nonce. Never signs a new nonce.
   */
  async adopt(rawTxs: string[], label: string, hooks: TxHooks = {}, transport?: RawTxTransport): Promise<TxResult> {
    if (!rawTxs.length) throw new KeepctlError("INTERNAL", ExitCode.INTERNAL, `nothing to adopt for ${label}`);
    const txs = rawTxs.map((r) => Transaction.from(r));
    const last = txs.at(-1)!;
    if (last.from?.toLowerCase() !== this.address.toLowerCase()) {
      throw new KeepctlError("WRONG_ACCOUNT", ExitCode.CONFIG, `${label} was signed by ${last.from}, not by ${this.address}`, { hint: "use the account that sent it" });
    }
    this.nonces.markUsed(last.nonce);
    const fees = { maxFeePerGas: last.maxFeePerGas ?? 0n, maxPriorityFeePerGas: last.maxPriorityFeePerGas ?? 0n };
    const tx: Inflight = {
      req: { to: last.to ?? "", data: last.data, value: last.value, label, transport },
      nonce: last.nonce,
      gasLimit: last.gasLimit,
      chainId: last.chainId,
      attempts: txs.map((t, i) => ({ hash: t.hash!, raw: rawTxs[i], maxFeePerGas: t.maxFeePerGas ?? 0n, maxPriorityFeePerGas: t.maxPriorityFeePerGas ?? 0n })),
      live: fees,
      tried: fees,
      lastSentAt: Date.now(),
      // Rebroadcast at once: after a crash nobody knows whether the node still has it.
      lastRebroadcastAt: 0,
      atCap: false,
      hooks,
    };
    return this.watchAndReport(tx);
  }

  private async watchAndReport(tx: Inflight): Promise<TxResult> {
    this.inflight.add(tx.nonce);
    try {
      const r = await this.watch(tx);
      this.inflight.delete(tx.nonce);
      return r;
    } catch (caught) {
      const e = await this.judged(caught);
      // A tx left pending keeps its nonce reserved: it may still be mined.
      if (!(e instanceof TxPendingError) && !(e instanceof InterruptedError)) this.inflight.delete(tx.nonce);
      if (e instanceof TxPendingError) {
        this.emit(tx.hooks, { type: "pending", label: tx.req.label, nonce: tx.nonce, hashes: tx.attempts.map((a) => a.hash) });
      } else {
        // final: none of our hashes can ever be mined (the nonce went to a foreign tx).
        const final = e instanceof AccountConflictError;
        if (final) this.halted ??= e as AccountConflictError;
        if (!(e instanceof RevertError)) this.emit(tx.hooks, { type: "failed", label: tx.req.label, nonce: tx.nonce, hash: tx.attempts.at(-1)?.hash, error: shortMessageOf(e), sent: true, final, code: codeOf(e) });
      }
      throw e;
    }
  }

  /**
   * An account conflict is only blamed on another sender once this process has confirmed it is
   * still the signer (confirmSigner); otherwise the reason it is not (a lost lease) is the error.
   */
  private async judged(e: unknown): Promise<unknown> {
    if (!(e instanceof AccountConflictError) || !this.opts.confirmSigner) return e;
    try {
      await this.opts.confirmSigner();
    } catch (notSigner) {
      return notSigner;
    }
    return e;
  }

  private emit(hooks: TxHooks, ev: TxEvent): void {
    for (const f of [hooks.onEvent, this.opts.onEvent]) {
      try {
        f?.(ev);
      } catch {
        // a broken listener must not break a send in flight
      }
    }
  }

  private async broadcastFirst(req: TxRequest, hooks: TxHooks): Promise<Inflight> {
    const prep = await this.prepare(req);
    const balance = await this.provider.getBalance(this.address, "pending");
    const need = (req.value ?? 0n) + prep.worstCaseFeeWei;
    if (balance < need) {
      throw new InsufficientFundsError(`${req.label}: account ${this.address} holds ${formatEther(balance)} ETH, needs up to ${formatEther(need)} ETH`, {
        hint: "fund the account with ETH for value and gas, or lower the fee cap",
      });
    }
    this.chainId ??= (await this.provider.getNetwork()).chainId;
    for (let round = 1; ; round++) {
      const nonce = await this.nonces.next();
      // What the journal held for this nonce BEFORE this attempt is journaled too.
      const ourEarlierTx = (this.opts.journaledNonces?.() ?? []).includes(nonce);
      const fees = { maxFeePerGas: prep.maxFeePerGas, maxPriorityFeePerGas: prep.maxPriorityFeePerGas };
      const tx: Inflight = {
        req, nonce, gasLimit: prep.gasLimit, chainId: this.chainId, attempts: [], live: fees, tried: fees,
        lastSentAt: 0, lastRebroadcastAt: Date.now(), atCap: false, hooks,
      };
      const { kind, error, hash, raw } = await this.signAndBroadcast(tx, fees);
      if (MAYBE_POOLED.has(kind) || (kind === "nonce-too-low" && (await this.nodeHas(tx.attempts[0].hash)) !== false)) {
        return this.markSent(tx, kind);
      }
      // From here on this signed tx was definitely refused: it can never be mined.
      if (kind === "nonce-too-low" || kind === "replacement-underpriced") {
        // The nonce is held by a tx this process did not sign. Only our journal (an earlier run)
        // may explain it, when the node's pending count lagged; anything else is another sender.
        if (round < 3 && ourEarlierTx) {
          this.nonces.reset();
          continue;
        }
        throw new AccountConflictError(`${req.label}: nonce ${nonce} of ${this.address} is held by a transaction keepctl did not sign`, { details: { nonce } });
      }
      if (kind === "nonce-too-high") {
        // A gap below us. When every missing nonce is one of ours whose broadcast is still being
        // settled (an answer lost on the way to the node), this tx is simply queued behind them,
        // as geth would queue it: track it, and the rebroadcasts fill the gap in order. Signing
        // another action at the gap's nonce would leave our earlier tx unminable.
        if (await this.gapIsOurs(nonce)) {
          tx.attempts.push({ hash, raw, ...fees });
          return this.markSent(tx, "unknown");
        }
        if (round < 3) {
          this.nonces.reset();
          continue;
        }
      }
      if (kind === "insufficient-funds") {
        throw new InsufficientFundsError(`${req.label}: the node refused the transaction for lack of funds`, { cause: error, hint: "fund the account with ETH for value and gas" });
      }
      throw asKeepctl(simulationError(error, req.label, req.abi), `${req.label}: the node refused the transaction`);
    }
  }

  /** True when every nonce between the node's pending count and `nonce` is a tx of ours in flight or journaled. */
  private async gapIsOurs(nonce: number): Promise<boolean> {
    const pending = await this.tryRead(() => this.provider.getTransactionCount(this.address, "pending"));
    if (pending === undefined || pending >= nonce) return false;
    const ours = new Set([...this.inflight, ...(this.opts.journaledNonces?.() ?? [])]);
    for (let n = pending; n < nonce; n++) if (!ours.has(n)) return false;
    return true;
  }

  private markSent(tx: Inflight, kind: NodeErrorKind | "accepted"): Inflight {
    const a = tx.attempts[0];
    this.nonces.markUsed(tx.nonce);
    this.inflight.add(tx.nonce);
    tx.lastSentAt = Date.now();
    this.emit(tx.hooks, { type: "sent", label: tx.req.label, nonce: tx.nonce, hash: a.hash, maxFeePerGas: a.maxFeePerGas, maxPriorityFeePerGas: a.maxPriorityFeePerGas, confirmed: kind !== "unknown" });
    return tx;
  }

  /** Signs `tx` at `fees`, journals it, broadcasts it once, and says what the node answered. */
  private async signAndBroadcast(tx: Inflight, fees: Fees): Promise<{ hash: string; raw: string; kind: NodeErrorKind | "accepted"; error?: unknown }> {
    const raw = await this.wallet.signTransaction({
      type: 2,
      chainId: tx.chainId,
      nonce: tx.nonce,
      to: tx.req.to,
      data: tx.req.data ?? "0x",
      value: tx.req.value ?? 0n,
      gasLimit: tx.gasLimit,
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    });
    const hash = Transaction.from(raw).hash!;
    tx.tried = fees;
    for (const f of [this.opts.beforeBroadcast, tx.hooks.beforeBroadcast]) await f?.(raw, hash, tx.nonce, { label: tx.req.label, attempt: tx.attempts.length + 1 });
    const kind = await this.broadcast(raw, tx.req.transport);
    // Kept unless the node definitely refused it: a refused tx is in no pool and never mines.
    if (MAYBE_POOLED.has(kind.kind) || kind.kind === "nonce-too-low") tx.attempts.push({ hash, raw, ...fees });
    return { hash, raw, ...kind };
  }

  private async broadcast(raw: string, transport?: RawTxTransport): Promise<{ kind: NodeErrorKind | "accepted"; error?: unknown }> {
    if (transport) return transport.broadcast(raw);
    try {
      await this.provider.send("eth_sendRawTransaction", [raw]);
      return { kind: "accepted" };
    } catch (error) {
      return { kind: classifyNodeError(error), error };
    }
  }

  /** true/false when the node said whether it knows `hash`; undefined when it could not be asked. */
  private async nodeHas(hash: string): Promise<boolean | undefined> {
    try {
      if (await this.provider.getTransaction(hash)) return true;
      return !!(await this.provider.getTransactionReceipt(hash));
    } catch {
      return undefined;
    }
  }

  private async watch(tx: Inflight): Promise<TxResult> {
    const started = Date.now();
    const timeoutMs = this.opts.receiptTimeoutMs ?? 15 * 60_000;
    const replaceAfter = this.opts.replaceAfterMs ?? 60_000;
    const rebroadcastAfter = this.opts.rebroadcastMs ?? 10_000;
    let spentChecks = 0;
    for (;;) {
      // A read that fails is no verdict: the loop asks again until the deadline.
      const mined = await this.tryRead(() => this.findReceipt(tx));
      if (mined) return this.finish(tx, mined);
      if (this.opts.signal?.aborted) throw new InterruptedError(`stopped waiting for ${tx.req.label} (nonce ${tx.nonce}); it may still be mined`);
      if (Date.now() - started > timeoutMs) {
        throw new TxPendingError(`${tx.req.label}: not mined within ${Math.round(timeoutMs / 1000)} s (nonce ${tx.nonce}); still tracked`, tx.attempts.map((a) => a.hash), tx.nonce);
      }
      const latest = await this.tryRead(() => this.provider.getTransactionCount(this.address, "latest"));
      if (latest !== undefined && latest > tx.nonce) {
        // The nonce is spent; a receipt of ours may lag behind the count on a load-balanced RPC.
        if (++spentChecks >= 3) {
          throw new AccountConflictError(`${tx.req.label}: nonce ${tx.nonce} was used by a transaction keepctl did not send`, { details: { nonce: tx.nonce }, code: "NONCE_TAKEN" });
        }
      } else if (latest !== undefined) {
        spentChecks = 0;
        const rebroadcastDue = Date.now() - tx.lastRebroadcastAt >= rebroadcastAfter;
        const replaceDue = !tx.atCap && Date.now() - tx.lastSentAt >= replaceAfter;
        // A receipt this endpoint does not know may be known to another (this one lags): asked
        // before the same tx is sent again or re-priced.
        if (rebroadcastDue || replaceDue) {
          const elsewhere = await this.tryRead(() => this.receiptElsewhere(tx));
          if (elsewhere) return this.finish(tx, elsewhere);
        }
        // Our newest bytes back in the pool first: re-pricing a tx the node does not hold is moot.
        if (rebroadcastDue) await this.rebroadcastIfForgotten(tx);
        if (replaceDue) await this.replace(tx);
      }
      await sleep(this.opts.pollMs ?? 2_000, this.opts.signal);
    }
  }

  private async tryRead<T>(read: () => Promise<T>): Promise<T | undefined> {
    try {
      return await read();
    } catch {
      return undefined;
    }
  }

  /** Every endpoint asked at once (a KeepctlProvider with several); null with one endpoint. */
  private async receiptElsewhere(tx: Inflight): Promise<TransactionReceipt | null> {
    const p = this.provider as { receiptFromAny?: (hashes: readonly string[]) => Promise<TransactionReceipt | null>; comparesHeads?: boolean };
    if (!p.receiptFromAny || !p.comparesHeads) return null;
    return p.receiptFromAny(tx.attempts.map((a) => a.hash));
  }

  private async findReceipt(tx: Inflight): Promise<TransactionReceipt | null> {
    for (const a of [...tx.attempts].reverse()) {
      const r = await this.provider.getTransactionReceipt(a.hash);
      if (r) return r;
    }
    return null;
  }

  /**
   * The node does not know our newest signed tx for this nonce (dropped, or its broadcast never
   * arrived — even when an older, cheaper one of ours is still pooled): send those bytes again.
   * Same bytes, same hash: always safe; over an older one of ours it is a valid replacement.
   */
  private async rebroadcastIfForgotten(tx: Inflight): Promise<void> {
    tx.lastRebroadcastAt = Date.now();
    const newest = tx.attempts.at(-1);
    if (!newest || (await this.nodeHas(newest.hash)) !== false) return;
    const { kind } = await this.broadcast(newest.raw, tx.req.transport);
    this.emit(tx.hooks, { type: "rebroadcast", label: tx.req.label, nonce: tx.nonce, hash: newest.hash, outcome: kind });
    // Below the base fee now: only a same-nonce replacement can get it mined.
    if (kind === "underpriced" && !tx.atCap) tx.lastSentAt = 0;
  }

  /** Fees of the newest of our txs for this nonce that the node holds; undefined if none or it cannot say. */
  private async heldFees(tx: Inflight): Promise<Fees | undefined> {
    for (const a of [...tx.attempts].reverse()) {
      const t = await this.tryRead(() => this.provider.getTransaction(a.hash));
      if (t) return { maxFeePerGas: a.maxFeePerGas, maxPriorityFeePerGas: a.maxPriorityFeePerGas };
    }
    return undefined;
  }

  private async replace(tx: Inflight): Promise<void> {
    const bumped = bumpFees(tx.tried, this.opts.bumpPct ?? 12.5, this.cap, this.opts.replacementPct ?? DEFAULT_REPLACEMENT_PCT);
    if (!bumped) {
      tx.atCap = true;
      // "Live" was a guess when a replacement's answer was lost: report what the node holds.
      tx.live = (await this.heldFees(tx)) ?? tx.live;
      this.emit(tx.hooks, { type: "fee-cap-reached", label: tx.req.label, nonce: tx.nonce, maxFeePerGas: tx.live.maxFeePerGas, maxPriorityFeePerGas: tx.live.maxPriorityFeePerGas, cap: this.cap });
      return;
    }
    const previousHash = tx.attempts.at(-1)?.hash;
    const { hash, kind, error } = await this.signAndBroadcast(tx, bumped);
    tx.lastSentAt = Date.now();
    tx.lastRebroadcastAt = Date.now();
    if (MAYBE_POOLED.has(kind)) {
      tx.live = bumped;
      this.emit(tx.hooks, { type: "replaced", label: tx.req.label, nonce: tx.nonce, hash, previousHash: previousHash ?? "", ...bumped });
    } else if (kind !== "nonce-too-low") {
      // nonce-too-low: something mined at this nonce; the receipt check on the next loop decides.
      if (kind === "insufficient-funds") tx.atCap = true;
      this.emit(tx.hooks, { type: "replace-rejected", label: tx.req.label, nonce: tx.nonce, reason: shortMessageOf(error), kind });
    }
  }

  private finish(tx: Inflight, receipt: TransactionReceipt): TxResult {
    this.emit(tx.hooks, { type: "mined", label: tx.req.label, nonce: tx.nonce, hash: receipt.hash, blockNumber: receipt.blockNumber, blockHash: receipt.blockHash, status: receipt.status ?? 0, gasUsed: receipt.gasUsed });
    if (receipt.status !== 1) {
      throw new RevertError(`${tx.req.label} reverted on chain in block ${receipt.blockNumber} (tx ${receipt.hash})`, {
        details: { hash: receipt.hash, nonce: tx.nonce },
        hint: "the state changed between simulation and mining; check the target and retry",
      });
    }
    return { hash: receipt.hash, receipt, nonce: tx.nonce, hashes: tx.attempts.map((a) => a.hash) };
  }
}

function codeOf(e: unknown): string | undefined {
  return e instanceof KeepctlError ? e.code : undefined;
}

function asKeepctl(e: unknown, fallback: string): KeepctlError {
  if (e instanceof KeepctlError) return e;
  return new RpcError(`${fallback}: ${shortMessageOf(e)}`, { cause: e, code: "RPC_ERROR" });
}

export { formatGwei };
