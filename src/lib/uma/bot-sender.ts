import type { JsonRpcProvider, TransactionReceipt, Wallet } from "ethers";
import { RpcError } from "../errors";
import { TxSender, type PreparedTx, type TxEvent, type TxRequest, type TxSenderOptions } from "../chain/tx";
import { recover, type Journal } from "../journal";

/**
 * The bots' one way to send: simulate, journal under `${emp}:...:${action}` before broadcast, send,
 * and report. The bots send one transaction at a time, so the journal key in use is a single field.
 */
export type BotEvent = { type: string; bot: "liquidator" | "disputer"; [k: string]: unknown };
export type BotEmit = (ev: Omit<BotEvent, "bot">) => void;

export type SendOutcome =
  | { status: "mined"; hash: string; receipt: TransactionReceipt; gasLimit: bigint }
  | { status: "dry-run"; prepared: PreparedTx }
  /** The journal records this (one-off) action as mined by an earlier run. */
  | { status: "done-earlier"; hash?: string };

export interface BotSenderOptions extends Pick<TxSenderOptions, "maxFeeGwei" | "signal" | "pollMs" | "receiptTimeoutMs" | "replaceAfterMs"> {
  dryRun: boolean;
}

export class BotSender {
  readonly tx: TxSender;
  private key?: string;
  private mined?: Extract<TxEvent, { type: "mined" }>;

  constructor(
    wallet: Wallet,
    readonly provider: JsonRpcProvider,
    readonly journal: Journal,
    private readonly opts: BotSenderOptions,
    private readonly emit: BotEmit,
  ) {
    this.tx = new TxSender(wallet, provider, {
      ...opts,
      beforeBroadcast: (raw, hash, nonce, ctx) => {
        if (this.key) journal.hooks(this.key).beforeBroadcast(raw, hash, nonce, ctx);
      },
      onEvent: (ev) => {
        if (this.key) journal.hooks(this.key).onEvent(ev);
        // "mined" is reported by send() itself, with what the receipt says the action did.
        if (ev.type === "mined") this.mined = ev;
        else if (ev.type !== "failed") this.emit({ ...ev, key: this.key });
      },
    });
  }

  get address(): string {
    return this.tx.address;
  }

  get dryRun(): boolean {
    return this.opts.dryRun;
  }

  /** eth_call + estimateGas from the bot's account; throws RevertError with the decoded reason. */
  simulate(req: TxRequest): Promise<PreparedTx> {
    return this.tx.prepare(req);
  }

  /**
   * Sends `req` journaled under `key`. `repeatable` actions (liquidating the same sponsor again,
   * approving again) start a new journal round when the previous one was mined; one-off actions
   * (a dispute, a withdrawal) are never sent twice.
   */
  async send(key: string, req: TxRequest, o: { repeatable: boolean; meta?: Record<string, unknown>; details?: (r: TransactionReceipt) => Record<string, unknown> }): Promise<SendOutcome> {
    const prepared = await this.simulate(req);
    if (this.opts.dryRun) return { status: "dry-run", prepared };
    let begun = this.journal.begin(key, { account: this.address, meta: o.meta });
    if (begun.status === "done") {
      if (!o.repeatable) return { status: "done-earlier", hash: begun.entry.minedHash };
      this.journal.recordSkipped(key, "closed: a new round of this action follows");
      begun = this.journal.begin(key, { account: this.address, meta: o.meta });
    }
    this.key = key;
    this.mined = undefined;
    try {
      const res = await this.tx.send(req);
      this.emit({ ...this.minedEvent(), ...(o.details?.(res.receipt) ?? {}) });
      return { status: "mined", hash: res.hash, receipt: res.receipt, gasLimit: prepared.gasLimit };
    } catch (e) {
      if (this.mined) this.emit(this.minedEvent());
      throw e;
    } finally {
      this.key = undefined;
    }
  }

  private minedEvent() {
    const m = this.mined!;
    return { type: "mined", key: this.key, label: m.label, hash: m.hash, nonce: m.nonce, blockNumber: m.blockNumber, status: m.status, gasUsed: m.gasUsed };
  }

  /**
   * Finishes what a crashed run left in flight for keys starting with `prefix`: records it mined,
   * or rebroadcasts its own signed tx and waits. Never signs anything new. Not in dry-run.
   */
  async settleInFlight(prefix: string, timeoutMs = 10 * 60_000): Promise<void> {
    const started = Date.now();
    for (const entry of this.journal.resume(this.address).filter((e) => e.key.startsWith(prefix))) {
      if (this.opts.dryRun) {
        this.emit({ type: "warning", key: entry.key, message: `a transaction for ${entry.key} from an earlier run may still be in flight` });
        continue;
      }
      for (let cur = entry; ; ) {
        const r = await recover(this.journal, this.provider, cur);
        this.emit({ type: "recovered", key: entry.key, status: r.status });
        if (r.status === "mined" || r.status === "nonce-used" || this.opts.signal?.aborted) break;
        if (Date.now() - started > timeoutMs) {
          throw new RpcError(`${entry.key}: a transaction from an earlier run is still pending`, { code: "TX_NOT_MINED", hint: "wait for it to mine (or replace it), then run again" });
        }
        await new Promise((res) => setTimeout(res, 1000));
        cur = this.journal.get(entry.key)!;
      }
    }
  }
}
