import type { JsonRpcProvider, TransactionReceipt, Wallet } from "ethers";
import { RevertError, shortMessageOf } from "../errors";
import { redact } from "../redact";
import type { Alert } from "../alert/types";
import { AccountConflictError, TxPendingError, TxSender, formatGwei, type PreparedTx, type RawTxTransport, type TxEvent, type TxHooks, type TxRequest, type TxSenderOptions } from "./tx";
import type { Journal } from "./journal";
import { reconcileJournal, type ReorgFinding } from "./reconcile";
import type { Confirmations } from "./finality";

/**
 * The one journaled sender every state-changing call goes through (courtesy calls, approvals,
 * redemption requests, signatures, liquidations, disputes, withdrawals). Each action has a stable
 * key (`${deposit}:redeem`, `${emp}:${sponsor}:liquidate`, ...); its signed transactions are
 * journaled before they leave the process, and an action whose transaction may still be in flight
 * is settled from the chain — its own bytes rebroadcast, its nonce re-priced — never signed again.
 * --dry-run is one switch here: simulate and price, journal and send nothing.
 */
export type SendOutcome =
  | { status: "mined"; hash: string; receipt: TransactionReceipt; nonce: number; hashes: string[]; gasLimit: bigint }
  | { status: "dry-run"; prepared: PreparedTx }
  /** The journal records this action as mined (an earlier run, or earlier in this round). */
  | { status: "done-earlier"; hash?: string }
  /** Sent, outcome not known by the deadline: still tracked; the next run resumes it. */
  | { status: "pending"; hashes: string[]; nonce?: number };

export type SettleOutcome =
  | { status: "none" }
  | { status: "mined"; hash: string; receipt?: TransactionReceipt }
  | { status: "reverted"; hash?: string }
  | { status: "pending"; hashes: string[] }
  | { status: "failed"; reason: string };

export type SenderEvent =
  | (TxEvent & { key: string })
  | { type: "recovered"; key: string; status: SettleOutcome["status"] }
  /** A journaled "mined" that a reorg took back (or moved): what was found and done. */
  | ({ type: "reorged" } & ReorgFinding);

export interface ActionSenderOptions
  extends Pick<TxSenderOptions, "maxFeeGwei" | "signal" | "pollMs" | "receiptTimeoutMs" | "replaceAfterMs" | "bumpPct" | "replacementPct" | "rebroadcastMs" | "gasMargin" | "minTipWei" | "beforeBroadcast" | "confirmSigner"> {
  dryRun: boolean;
  /** Blocks deep a receipt must be before its action is final (default "auto": finalized, else 12). */
  confirmations?: Confirmations;
  /** An endpoint's head this far below our own mined block is lagging, not a reorg (default 3). */
  maxLagBlocks?: number;
  onEvent?: (ev: SenderEvent) => void;
  /** Operator alerts from the engine itself: fee cap reached, another sender on the account. */
  alert?: (a: Alert) => Promise<void>;
  /**
   * Transports other than the provider, by name: an action journaled with `meta.transport` is
   * settled through the same one after a restart (a private tx stays private).
   */
  transports?: readonly RawTxTransport[];
}

export interface SendOptions {
  /** May run again after a mined round (approvals, partial liquidations); one-off actions never do. */
  repeatable?: boolean;
  /** The pass this send belongs to: a repeatable action runs at most once per round. */
  round?: string;
  meta?: Record<string, unknown>;
}

export class ActionSender {
  readonly tx: TxSender;
  private guarded = false;
  /** Reorg findings since the last takeReorgs() (the protocols turn them into correction alerts). */
  private reorgs: ReorgFinding[] = [];

  constructor(
    wallet: Wallet,
    readonly provider: JsonRpcProvider,
    readonly journal: Journal,
    private readonly opts: ActionSenderOptions,
  ) {
    const { onEvent: _ours, confirmations: _c, maxLagBlocks: _l, ...engine } = opts;
    this.tx = new TxSender(wallet, provider, {
      ...engine,
      journaledNonces: () => journal.nonces(wallet.address),
    });
  }

  get address(): string {
    return this.tx.address;
  }

  /** A transport configured for this account (`transports`), by name. */
  transportNamed(name: string): RawTxTransport | undefined {
    return this.opts.transports?.find((t) => t.name === name);
  }

  get dryRun(): boolean {
    return this.opts.dryRun;
  }

  /** eth_call + estimateGas from this account; throws RevertError with the decoded reason. */
  simulate(req: TxRequest): Promise<PreparedTx> {
    return this.tx.prepare(req);
  }

  /**
   * Call before each batch (a run, a loop pass): settles what earlier runs or passes left in
   * flight for this account (keys starting with `prefix`). The first call also takes the account
   * guard's baseline: from then on, a nonce this process and its journal did not sign stops the
   * account. (Re-taking it every pass would let a foreign tx mined between passes go unseen.)
   */
  async startSession(prefix = ""): Promise<string[]> {
    (this.provider as { beginPass?: () => void }).beginPass?.();
    // Are the journal's "mined" still in the chain? Before anything is settled or planned.
    await this.reconcile();
    if (this.opts.dryRun) {
      for (const e of this.inFlight(prefix)) this.emit({ type: "recovered", key: e.key, status: "pending" });
      return [];
    }
    const keys = await this.settleAll(prefix);
    if (!this.guarded) {
      await this.tx.startSession().catch((e) => this.conflict(e));
      this.guarded = true;
    }
    return keys;
  }

  /** The reorg findings since the last call (each reported once). */
  takeReorgs(): ReorgFinding[] {
    return this.reorgs.splice(0);
  }

  /**
   * The chain contradicts the journal's "mined" for `key` (the deposit is still redeemable, the
   * position unliquidated): its receipt is looked for on every endpoint, final or not, and if it
   * is gone the action is settled like a lost broadcast (same bytes). Then settled as usual.
   */
  async verifyMined(key: string): Promise<SettleOutcome> {
    await this.reconcile([key]);
    return this.settle(key);
  }

  private async reconcile(keys?: string[]): Promise<void> {
    const r = await reconcileJournal({
      provider: this.provider,
      journal: this.journal,
      account: this.address,
      chainId: (await this.provider.getNetwork()).chainId,
      confirmations: this.opts.confirmations ?? "auto",
      maxLagBlocks: this.opts.maxLagBlocks ?? 3,
      dryRun: this.opts.dryRun,
      keys,
    });
    for (const n of r.released) this.tx.releaseNonce(n);
    for (const f of r.findings) {
      this.reorgs.push(f);
      this.emit({ type: "reorged", ...f });
    }
  }

  /** Sends `req` as the action `key`: simulated, journaled before broadcast, settled from the chain. */
  async send(key: string, req: TxRequest, o: SendOptions = {}): Promise<SendOutcome> {
    if (this.opts.dryRun) return { status: "dry-run", prepared: await this.simulate(req) };
    // Settled and checked BEFORE simulating: repeating an action that is done may well revert
    // (a courtesy call already made), and that is "done earlier", not a failure.
    const prior = await this.settle(key);
    if (prior.status === "pending") return { status: "pending", hashes: prior.hashes };
    const earlier = this.journal.doneEntry(key, o);
    if (earlier) return { status: "done-earlier", hash: earlier.minedHash };
    const prepared = await this.simulate(req);
    const meta = req.transport ? { ...o.meta, transport: req.transport.name } : o.meta;
    const begun = this.journal.begin(key, { account: this.address, meta, repeatable: o.repeatable, round: o.round });
    if (begun.status === "done") return { status: "done-earlier", hash: begun.entry.minedHash };
    try {
      const res = await this.tx.send(req, this.hooksFor(key));
      return { status: "mined", hash: res.hash, receipt: res.receipt, nonce: res.nonce, hashes: res.hashes, gasLimit: prepared.gasLimit };
    } catch (e) {
      if (e instanceof TxPendingError) return { status: "pending", hashes: e.hashes, nonce: e.nonce };
      if (e instanceof AccountConflictError) await this.conflict(e).catch(() => undefined);
      throw e;
    }
  }

  /**
   * Brings the journaled action `key` to an end if a transaction of it may be in flight: waits for
   * one of its hashes to mine, rebroadcasting its own signed bytes and re-pricing its nonce.
   */
  async settle(key: string): Promise<SettleOutcome> {
    const entry = this.journal.get(key);
    if (!entry || (entry.state !== "sending" && entry.state !== "sent")) {
      return entry?.state === "mined" ? (entry.status === 1 ? { status: "mined", hash: entry.minedHash ?? "" } : { status: "reverted", hash: entry.minedHash }) : { status: "none" };
    }
    if (this.opts.dryRun) return { status: "pending", hashes: entry.attempts.map((a) => a.hash) };
    let out: SettleOutcome;
    if (!entry.attempts.length) {
      this.journal.recordFailed(key, "nothing was signed before the process stopped");
      out = { status: "failed", reason: "nothing signed" };
    } else {
      try {
        const transport = this.opts.transports?.find((t) => t.name === entry.meta?.transport);
        const res = await this.tx.adopt(entry.attempts.map((a) => a.rawTx), entry.key, this.hooksFor(key), transport);
        out = { status: "mined", hash: res.hash, receipt: res.receipt };
      } catch (e) {
        if (e instanceof TxPendingError) out = { status: "pending", hashes: e.hashes };
        else if (e instanceof RevertError) out = { status: "reverted", hash: (e.details as { hash?: string } | undefined)?.hash };
        else {
          if (e instanceof AccountConflictError) await this.conflict(e).catch(() => undefined);
          throw e;
        }
      }
    }
    this.emit({ type: "recovered", key, status: out.status });
    return out;
  }

  /** Settles every in-flight action of this account under `prefix`, in parallel. */
  async settleAll(prefix = ""): Promise<string[]> {
    const keys = this.inFlight(prefix).map((e) => e.key);
    const results = await Promise.allSettled(keys.map((k) => this.settle(k)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    return keys;
  }

  private inFlight(prefix: string) {
    return this.journal.resume(this.address).filter((e) => e.key.startsWith(prefix));
  }

  private emit(ev: SenderEvent): void {
    try {
      this.opts.onEvent?.(ev);
    } catch {
      // a broken listener must not break a send in flight
    }
  }

  /** The journal of `key` kept in step with its send, its events reported with the key. */
  private hooksFor(key: string): TxHooks {
    const j = this.journal.hooks(key);
    return {
      beforeBroadcast: j.beforeBroadcast,
      onEvent: (ev) => {
        j.onEvent(ev);
        this.emit({ ...ev, key });
        if (ev.type === "fee-cap-reached") void this.feeCapAlert(ev);
        // The engine stops re-pricing after this (like at the cap): say so once, with the fix.
        if (ev.type === "replace-rejected" && ev.kind === "insufficient-funds") void this.fundsAlert(ev);
      },
    };
  }

  private async feeCapAlert(ev: Extract<TxEvent, { type: "fee-cap-reached" }>): Promise<void> {
    await this.opts.alert?.({
      key: `fee-cap:${this.address}`,
      level: "warning",
      title: "fee cap reached",
      text: `${ev.label} (nonce ${ev.nonce}) waits at ${formatGwei(ev.maxFeePerGas)} gwei; the next valid replacement would exceed the cap of ${formatGwei(ev.cap)} gwei`,
      fields: { nonce: ev.nonce, liveMaxFeeGwei: formatGwei(ev.maxFeePerGas), capGwei: formatGwei(ev.cap) },
    }).catch(() => undefined);
  }

  private async fundsAlert(ev: Extract<TxEvent, { type: "replace-rejected" }>): Promise<void> {
    await this.opts.alert?.({
      key: `replace-funds:${this.address}`,
      level: "warning",
      title: "no ETH for a replacement",
      text: `${ev.label} (nonce ${ev.nonce}) waits at its current fee: the account cannot pay for a re-priced replacement (${redact(ev.reason)}); add ETH to ${this.address} so it can be re-priced`,
      fields: { nonce: ev.nonce },
    }).catch(() => undefined);
  }

  private async conflict(e: unknown): Promise<never> {
    if (e instanceof AccountConflictError) {
      await this.opts.alert?.({ key: `account-conflict:${this.address}`, level: "critical", title: "another sender uses this account", text: redact(shortMessageOf(e)) }).catch(() => undefined);
    }
    throw e;
  }
}
