import crypto from "node:crypto";
import type { TransactionReceipt } from "ethers";
import type { ActionSender, SendOutcome, SenderEvent } from "../chain/sender";
import type { PreparedTx, TxRequest } from "../chain/tx";
import type { BotEvent, MinedEffects } from "../events";

/**
 * The bots' view of the one journaled sender (src/lib/chain/sender.ts): actions keyed
 * `${emp}:...:${action}`, one round per pass, and what a mined receipt says the action did.
 */
export type { BotEvent };
export type BotEmit = (ev: BotEvent) => void;

/** Engine events worth a bot line ("mined" and "failed" are reported by the bot with what they did). */
export function botEventOf(ev: SenderEvent): BotEvent | undefined {
  if (ev.type === "mined" || ev.type === "failed") return undefined;
  return ev;
}

export class BotSender {
  /** A retried pass keeps its round, so a repeatable action is not repeated within one pass. */
  private readonly run = crypto.randomBytes(6).toString("hex");
  private round?: string;

  constructor(
    readonly action: ActionSender,
    private readonly emit: BotEmit,
  ) {}

  get address(): string {
    return this.action.address;
  }
  get provider() {
    return this.action.provider;
  }
  get journal() {
    return this.action.journal;
  }
  get dryRun(): boolean {
    return this.action.dryRun;
  }

  /** eth_call + estimateGas from the bot's account; throws RevertError with the decoded reason. */
  simulate(req: TxRequest): Promise<PreparedTx> {
    return this.action.simulate(req);
  }

  /**
   * Starts pass `pass`: settles what earlier runs or passes left in flight under `prefix` (never
   * signing anything new); the first pass also takes the account guard's baseline.
   */
  async beginPass(prefix: string, pass: number): Promise<void> {
    this.round = `${this.run}:${pass}`;
    await this.action.startSession(prefix);
  }

  /**
   * Sends `req` as the action `key`. `repeatable` actions (liquidating what is left of a
   * position, approving again) may run again in a later pass; one-off actions (a dispute, a
   * withdrawal) never run twice.
   */
  async send(key: string, req: TxRequest, o: { repeatable: boolean; meta?: Record<string, unknown>; details?: (r: TransactionReceipt) => Partial<MinedEffects> }): Promise<SendOutcome> {
    const r = await this.action.send(key, req, { repeatable: o.repeatable, meta: o.meta, round: this.round });
    if (r.status === "mined") {
      this.emit({ type: "mined", key, label: req.label, hash: r.hash, nonce: r.nonce, blockNumber: r.receipt.blockNumber, status: r.receipt.status ?? 0, gasUsed: r.receipt.gasUsed, ...(o.details?.(r.receipt) ?? {}) });
    } else if (r.status === "pending") {
      this.emit({ type: "pending", key, label: req.label, hashes: r.hashes, message: "sent; not mined by the deadline, still tracked (the next pass settles it)" });
    }
    return r;
  }
}
