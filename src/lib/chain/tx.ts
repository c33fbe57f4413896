import { Transaction, formatEther, type JsonRpcProvider, type TransactionReceipt, type Wallet } from "ethers";
import type { PreparedTx, TxEvent, TxRequest, TxResult, TxSenderOptions } from "./tx-types";
import { ExitCode, InsufficientFundsError, InterruptedError, KeepctlError, RevertError, RpcError, shortMessageOf } from "../errors";
import { classifyNodeError, simulationError } from "./errors-rpc";
import { bumpFees, formatGwei, gweiToWei, initialFees, worstCaseFeeWei, type Fees } from "./fees";
import { NonceTracker, SerialQueue } from "./nonce";

export { bumpFees, worstCaseFeeWei } from "./fees";

export type { TxRequest, PreparedTx, TxResult, TxEvent, BeforeBroadcast, TxSenderOptions } from "./tx-types";

interface Inflight extends Fees {
  req: TxRequest;
  nonce: number;
  gasLimit: bigint;
  chainId: bigint;
  hashes: string[];
  lastSentAt: number;
  atCap: boolean;
  attempts: number;
}

/**
 * The single sender for one account: simulate, price under the cap, pick the nonce, sign,
 * journal, broadcast, then watch and re-price at the SAME nonce until one of the hashes mines.
 */
export class TxSender {
  readonly address: string;
  private readonly nonces: NonceTracker;
  private readonly queue = new SerialQueue();
  private readonly cap: bigint;
  private chainId?: bigint;

  constructor(
    private readonly wallet: Wallet,
    private readonly provider: JsonRpcProvider,
    private readonly opts: TxSenderOptions,
  ) {
    this.address = wallet.address;
    this.nonces = new NonceTracker(provider, wallet.address);
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

  /** Sends and waits until one of the hashes for its nonce is mined (status checked). */
  async send(req: TxRequest): Promise<TxResult> {
    let tx: Inflight;
    try {
      if (this.opts.signal?.aborted) throw new InterruptedError(`not sending ${req.label}: shutting down`);
      tx = await this.queue.run(() => this.broadcastFirst(req));
    } catch (e) {
      this.emit({ type: "failed", label: req.label, error: shortMessageOf(e), sent: false, code: codeOf(e) });
      throw e;
    }
    return this.watchAndReport(tx);
  }

  /**
   * Takes over a tx journaled by an earlier process (its signed raw txs, oldest first): waits
   * for any of them to mine and keeps re-pricing the SAME nonce. Never signs a new nonce.
   */
  async adopt(rawTxs: string[], label: string): Promise<TxResult> {
    if (!rawTxs.length) throw new KeepctlError("INTERNAL", ExitCode.INTERNAL, `nothing to adopt for ${label}`);
    const last = Transaction.from(rawTxs.at(-1)!);
    if (last.from?.toLowerCase() !== this.address.toLowerCase()) {
      throw new KeepctlError("WRONG_ACCOUNT", ExitCode.CONFIG, `${label} was signed by ${last.from}, not by ${this.address}`, { hint: "use the account that sent it" });
    }
    this.nonces.markUsed(last.nonce);
    const tx: Inflight = {
      req: { to: last.to ?? "", data: last.data, value: last.value, label },
      nonce: last.nonce,
      gasLimit: last.gasLimit,
      chainId: last.chainId,
      maxFeePerGas: last.maxFeePerGas ?? 0n,
      maxPriorityFeePerGas: last.maxPriorityFeePerGas ?? 0n,
      hashes: rawTxs.map((r) => Transaction.from(r).hash!),
      lastSentAt: Date.now(),
      atCap: (last.maxFeePerGas ?? 0n) >= this.cap,
      attempts: rawTxs.length,
    };
    return this.watchAndReport(tx);
  }

  private async watchAndReport(tx: Inflight): Promise<TxResult> {
    try {
      return await this.watch(tx);
    } catch (e) {
      this.emit({ type: "failed", label: tx.req.label, nonce: tx.nonce, hash: tx.hashes.at(-1), error: shortMessageOf(e), sent: true, code: codeOf(e) });
      throw e;
    }
  }

  private emit(ev: TxEvent): void {
    try {
      this.opts.onEvent?.(ev);
    } catch {
      // a broken listener must not break a send in flight
    }
  }

  private async broadcastFirst(req: TxRequest): Promise<Inflight> {
    const prep = await this.prepare(req);
    const balance = await this.provider.getBalance(this.address, "pending");
    const need = (req.value ?? 0n) + prep.worstCaseFeeWei;
    if (balance < need) {
      throw new InsufficientFundsError(`${req.label}: account ${this.address} holds ${formatEther(balance)} ETH, needs up to ${formatEther(need)} ETH`, {
        hint: "fund the account with ETH for value and gas, or lower the fee cap",
      });
    }
    this.chainId ??= (await this.provider.getNetwork()).chainId;
    for (let attempt = 1; ; attempt++) {
      const nonce = await this.nonces.next();
      const tx: Inflight = { req, nonce, gasLimit: prep.gasLimit, chainId: this.chainId, maxFeePerGas: prep.maxFeePerGas, maxPriorityFeePerGas: prep.maxPriorityFeePerGas, hashes: [], lastSentAt: 0, atCap: prep.maxFeePerGas >= this.cap, attempts: 0 };
      const { hash, outcome, error } = await this.signAndBroadcast(tx, tx);
      if (outcome === "accepted" || outcome === "already-known" || outcome === "network") {
        this.nonces.markUsed(nonce);
        tx.hashes.push(hash);
        tx.lastSentAt = Date.now();
        this.emit({ type: "sent", label: req.label, nonce, hash, maxFeePerGas: tx.maxFeePerGas, maxPriorityFeePerGas: tx.maxPriorityFeePerGas });
        if (tx.atCap) this.emit({ type: "fee-cap-reached", label: req.label, nonce, maxFeePerGas: tx.maxFeePerGas, cap: this.cap });
        return tx;
      }
      // A definite rejection: this signed tx can never be mined, so a fresh nonce is safe.
      if ((outcome === "nonce-too-low" || outcome === "nonce-too-high") && attempt < 3) {
        this.nonces.reset();
        continue;
      }
      if (outcome === "insufficient-funds") {
        throw new InsufficientFundsError(`${req.label}: the node refused the transaction for lack of funds`, { cause: error, hint: "fund the account with ETH for value and gas" });
      }
      if (outcome === "underpriced") {
        throw new RpcError(`${req.label}: another transaction from ${this.address} is pending at nonce ${nonce}`, {
          code: "NONCE_BUSY",
          cause: error,
          hint: "is the same key used by another program? wait for it to mine, then retry",
        });
      }
      throw asKeepctl(simulationError(error, req.label, req.abi), `${req.label}: the node refused the transaction`);
    }
  }

  /** Signs `tx` at `fees`, journals it, broadcasts it, and says what the node answered. */
  private async signAndBroadcast(tx: Inflight, fees: Fees) {
    const signed = await this.wallet.signTransaction({
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
    const hash = Transaction.from(signed).hash!;
    tx.attempts += 1;
    await this.opts.beforeBroadcast?.(signed, hash, tx.nonce, { label: tx.req.label, attempt: tx.attempts });
    try {
      await this.provider.send("eth_sendRawTransaction", [signed]);
      return { hash, outcome: "accepted" as const, error: undefined };
    } catch (error) {
      const kind = classifyNodeError(error);
      return { hash, outcome: kind, error };
    }
  }

  private async watch(tx: Inflight): Promise<TxResult> {
    const started = Date.now();
    const timeoutMs = this.opts.receiptTimeoutMs ?? 15 * 60_000;
    const replaceAfter = this.opts.replaceAfterMs ?? 60_000;
    for (;;) {
      const mined = await this.findReceipt(tx.hashes);
      if (mined) return this.finish(tx, mined);
      if (this.opts.signal?.aborted) throw new InterruptedError(`stopped waiting for ${tx.req.label} (nonce ${tx.nonce}); it may still be mined`);
      if (Date.now() - started > timeoutMs) {
        throw new RpcError(`${tx.req.label}: not mined within ${Math.round(timeoutMs / 1000)} s (nonce ${tx.nonce})`, {
          code: "TX_NOT_MINED",
          details: { hashes: tx.hashes },
          hint: "it may still be mined; run again later — the journal remembers the sent hashes",
        });
      }
      if ((await this.provider.getTransactionCount(this.address, "latest")) > tx.nonce) {
        // The nonce is spent. If none of our hashes has a receipt even now, someone else spent it.
        const late = await this.findReceipt(tx.hashes);
        if (late) return this.finish(tx, late);
        throw new RpcError(`${tx.req.label}: nonce ${tx.nonce} was used by a transaction keepctl did not send`, {
          code: "NONCE_TAKEN",
          hint: "another program uses this key; give keepctl its own account",
        });
      }
      if (!tx.atCap && Date.now() - tx.lastSentAt >= replaceAfter) await this.replace(tx);
      await sleep(this.opts.pollMs ?? 2_000, this.opts.signal);
    }
  }

  private async findReceipt(hashes: string[]): Promise<TransactionReceipt | null> {
    for (const h of [...hashes].reverse()) {
      const r = await this.provider.getTransactionReceipt(h);
      if (r) return r;
    }
    return null;
  }

  private async replace(tx: Inflight): Promise<void> {
    const bumped = bumpFees(tx, this.opts.bumpPct ?? 12.5, this.cap);
    if (!bumped) {
      tx.atCap = true;
      this.emit({ type: "fee-cap-reached", label: tx.req.label, nonce: tx.nonce, maxFeePerGas: tx.maxFeePerGas, cap: this.cap });
      return;
    }
    const previousHash = tx.hashes.at(-1)!;
    const { hash, outcome, error } = await this.signAndBroadcast(tx, bumped);
    tx.lastSentAt = Date.now();
    if (outcome === "accepted" || outcome === "already-known" || outcome === "network") {
      tx.hashes.push(hash);
      tx.maxFeePerGas = bumped.maxFeePerGas;
      tx.maxPriorityFeePerGas = bumped.maxPriorityFeePerGas;
      this.emit({ type: "replaced", label: tx.req.label, nonce: tx.nonce, hash, previousHash, ...bumped });
    } else if (outcome === "underpriced") {
      // The node wants more than this step; climb from here next time (still under the cap).
      tx.maxFeePerGas = bumped.maxFeePerGas;
      tx.maxPriorityFeePerGas = bumped.maxPriorityFeePerGas;
      this.emit({ type: "replace-rejected", label: tx.req.label, nonce: tx.nonce, reason: "replacement underpriced" });
    } else if (outcome !== "nonce-too-low") {
      // nonce-too-low: something mined at this nonce; the receipt check on the next loop decides.
      if (outcome === "insufficient-funds") tx.atCap = true;
      this.emit({ type: "replace-rejected", label: tx.req.label, nonce: tx.nonce, reason: shortMessageOf(error) });
    }
    if (bumped.capped && !tx.atCap) {
      tx.atCap = true;
      this.emit({ type: "fee-cap-reached", label: tx.req.label, nonce: tx.nonce, maxFeePerGas: bumped.maxFeePerGas, cap: this.cap });
    }
  }

  private finish(tx: Inflight, receipt: TransactionReceipt): TxResult {
    this.emit({ type: "mined", label: tx.req.label, nonce: tx.nonce, hash: receipt.hash, blockNumber: receipt.blockNumber, status: receipt.status ?? 0, gasUsed: receipt.gasUsed });
    if (receipt.status !== 1) {
      throw new RevertError(`${tx.req.label} reverted on chain in block ${receipt.blockNumber} (tx ${receipt.hash})`, {
        details: { hash: receipt.hash, nonce: tx.nonce },
        hint: "the state changed between simulation and mining; check the target and retry",
      });
    }
    return { hash: receipt.hash, receipt, nonce: tx.nonce, hashes: [...tx.hashes] };
  }
}

function codeOf(e: unknown): string | undefined {
  return e instanceof KeepctlError ? e.code : undefined;
}

function asKeepctl(e: unknown, fallback: string): KeepctlError {
  if (e instanceof KeepctlError) return e;
  return new RpcError(`${fallback}: ${shortMessageOf(e)}`, { cause: e, code: "RPC_ERROR" });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

export { formatGwei };
