import { empInterface, encodeApprove, encodeSponsorCall, erc20Interface, type SponsorCall } from "./emp-calls";
import type { BotContext } from "./bot-loop";
import { decideGuard, type GuardConfig, type GuardDecision } from "./guard-strategy";
import { readSponsorSnapshot, readWallet } from "./sponsor-reader";
import { formatFixedTrimmed } from "../fixed-point";
import { FP_DECIMALS } from "./fixed-point";

/**
 * The position guard's pass (keepctl emp-guard): read the sponsor's position, wallet and the same
 * RAI price the liquidators use, decide (guard-strategy.ts), then cancel a pending withdrawal,
 * approve exactly and deposit and/or repay — each journaled `${emp}:${sponsor}:guard-…`, simulated
 * first, at most once a pass. Alerts when the wallet cannot (or soon could not) hold the target.
 */
export interface GuardPassSummary {
  pass: number;
  block: number;
  time: bigint;
  price: bigint | null;
  decision: GuardDecision;
  /** Transactions this pass: what was sent, in order. */
  sent: { step: "cancel-withdrawal" | "deposit" | "repay"; status: "mined" | "dry-run" | "pending" | "done-earlier"; hash?: string }[];
  /** For the metrics exporter (the bots' gauges). */
  positions: number;
  minCollateralRatio: number | null;
  expired: boolean;
}

const text = (v: bigint | null) => (v === null ? "none" : formatFixedTrimmed(v, FP_DECIMALS));

export class EmpGuard {
  private saidExpired = false;

  constructor(private readonly ctx: BotContext, private readonly config: GuardConfig) {}

  async runPass(pass = 1): Promise<GuardPassSummary> {
    const { ctx } = this;
    const me = ctx.sender.address;
    const emp = ctx.params.address;
    const [, block] = await Promise.all([ctx.sender.beginPass(`${emp}:${me}:`, pass), ctx.sender.provider.getBlockNumber()]);
    const priceUpdate = ctx.price.update().then(() => undefined, (e: unknown) => ({ error: e }));
    const [snap, wallet] = await Promise.all([
      readSponsorSnapshot(ctx.sender.provider, emp, me),
      readWallet(ctx.sender.provider, { emp, params: ctx.params }, me),
    ]);
    const expired = snap.contractState !== 0 || snap.currentTime >= snap.params.expirationTimestamp;
    const updated = await priceUpdate;
    let price: bigint | null = null;
    if (!expired) {
      if (updated) throw updated.error;
      price = ctx.price.current();
    }
    const decision = decideGuard({
      position: { collateral: snap.position.collateral, tokensOutstanding: snap.position.tokensOutstanding, withdrawalRequestAmount: snap.position.withdrawalRequestAmount, withdrawalRequestPassTimestamp: snap.position.withdrawalRequestPassTimestamp },
      price, params: snap.params, contractState: snap.contractState, now: snap.currentTime,
      wallet: { collateral: wallet.collateral, synthetic: wallet.synthetic }, config: this.config,
    });
    ctx.emit({ type: "decision", sponsor: me, price, ...decision });
    if (decision.reason === "expired" && !this.saidExpired) {
      this.saidExpired = true;
      ctx.emit({ type: "warning", reason: "expired", sponsor: me, message: `the EMP expired at ${new Date(Number(snap.params.expirationTimestamp) * 1000).toISOString()}: nothing left to guard; \`keepctl emp-sponsor settle\` pays the position out` });
    }
    if (decision.reason === "no-price") ctx.emit({ type: "warning", sponsor: me, message: `no price from the ${ctx.price.label}; the position is not judged this pass` });
    if (decision.alert) await this.alertFunds(decision, price);

    await ctx.beforeAct?.();
    const sent: GuardPassSummary["sent"] = [];
    if (decision.action === "top-up" && !ctx.signal?.aborted) {
      if (decision.cancelWithdrawal) sent.push(await this.send("cancel-withdrawal", { fn: "cancelWithdrawal" }, "cancel the pending withdrawal (the contract takes no deposit or repayment while one is pending)"));
      const pendingApproval: string[] = [];
      if (decision.deposit > 0n && wallet.collateralAllowance < decision.deposit && !(await this.approve(ctx.params.collateralCurrency, "collateral", decision.deposit))) pendingApproval.push("deposit");
      if (decision.repay > 0n && wallet.syntheticAllowance < decision.repay && !(await this.approve(ctx.params.tokenCurrency, "synthetic", decision.repay))) pendingApproval.push("repay");
      // In --dry-run a cancel or an approval was only simulated: the next call cannot be, say so.
      const cannotSimulate = ctx.sender.dryRun && (decision.cancelWithdrawal || pendingApproval.length > 0);
      for (const [step, amount, call] of [["deposit", decision.deposit, { fn: "deposit", collateral: decision.deposit }], ["repay", decision.repay, { fn: "repay", tokens: decision.repay }]] as const) {
        if (amount === 0n || ctx.signal?.aborted) continue;
        if (cannotSimulate) {
          ctx.emit({ type: "skipped", action: step, sponsor: me, amount, reason: "dry-run", simulated: false, note: decision.cancelWithdrawal ? "needs the cancellation first" : "needs the approval first" });
          sent.push({ step, status: "dry-run" });
          continue;
        }
        sent.push(await this.send(step, call, `${step} ${text(amount)}${step === "repay" ? " tokens" : " collateral"} (guard)`));
      }
    }
    const ratio = decision.ratioAfter ?? decision.ratio;
    ctx.emit({ type: "heartbeat", pass, block, time: snap.currentTime, price, expired, ratio, toppedUp: sent.some((s) => s.status === "mined") });
    return { pass, block, time: snap.currentTime, price, decision, sent, positions: snap.position.collateral > 0n ? 1 : 0, minCollateralRatio: ratio === null ? null : Number(ratio) / 1e18, expired };
  }

  private async send(step: "cancel-withdrawal" | "deposit" | "repay", call: SponsorCall, label: string): Promise<GuardPassSummary["sent"][number]> {
    const { ctx } = this;
    const key = `${ctx.params.address}:${ctx.sender.address}:guard-${step}`;
    const r = await ctx.sender.send(key, { ...encodeSponsorCall(ctx.params.address, call), label, abi: empInterface }, { repeatable: true, meta: { step } });
    if (r.status === "dry-run") {
      const amount = "collateral" in call ? call.collateral : "tokens" in call ? call.tokens : undefined;
      ctx.emit({ type: "skipped", action: step, sponsor: ctx.sender.address, amount, reason: "dry-run", gasLimit: r.prepared.gasLimit });
      return { step, status: "dry-run" };
    }
    if (r.status === "mined") {
      await ctx.alert?.({ key: `guard:${key}`, level: "info", title: `EMP guard: ${step}`, text: label, fields: { tx: r.hash } });
      return { step, status: "mined", hash: r.hash };
    }
    return { step, status: r.status, hash: r.status === "done-earlier" ? r.hash : undefined };
  }

  /** Approves exactly `amount`; false when only simulated (--dry-run). */
  private async approve(token: string, which: string, amount: bigint): Promise<boolean> {
    const { ctx } = this;
    const req = { ...encodeApprove(token, ctx.params.address, amount), label: `approve ${text(amount)} ${which} for ${ctx.params.address}`, abi: erc20Interface };
    const r = await ctx.sender.send(`${ctx.params.address}:${ctx.sender.address}:${token}:approve`, req, { repeatable: true, meta: { amount: amount.toString() } });
    if (r.status !== "dry-run") return true;
    ctx.emit({ type: "skipped", action: "approve", token: which, amount, reason: "dry-run" });
    return false;
  }

  private async alertFunds(d: GuardDecision, price: bigint | null): Promise<void> {
    const { ctx } = this;
    const me = ctx.sender.address;
    const message = d.alert!.reason === "unfunded"
      ? `the wallet cannot bring the position to the target ${text(d.target)} at price ${text(price)}: ${text(d.shortfall)} collateral short (ratio after the top-up ${text(d.ratioAfter)}, liquidators' trigger ${text(d.trigger)})`
      : `the wallet holds the target ${text(d.target)} only up to a price of ${text(d.fundedUpTo)} (now ${text(price)}): add collateral or synthetic tokens to ${me}`;
    ctx.emit({ type: "warning", sponsor: me, reason: d.alert!.reason, message });
    await ctx.alert?.({ key: `guard-funds:${ctx.params.address}:${me}`, level: d.alert!.level, title: d.alert!.reason === "unfunded" ? "EMP guard cannot hold the target" : "EMP guard funds running low", text: message });
  }
}
