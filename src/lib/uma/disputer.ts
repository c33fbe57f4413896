import { RevertError } from "../errors";
import { alertReorgs, approveExactly, withdrawRewards, type BotContext, type WithdrawalOutcome } from "./bot-loop";
import { empInterface, encodeDispute, type EmpLiquidation } from "./emp-client";
import { LiquidationState, planDisputes, withdrawalCandidates, type DisputeConfig, type DisputeDecision } from "./dispute-strategy";

/**
 * The disputer bot's pass: update (state, every liquidation, historical prices) -> act (dispute
 * each wrong liquidation, simulated first and journaled `${emp}:${sponsor}:${id}:dispute`) ->
 * withdraw what its disputes earned. Someone else disputing first is a warning and a skip.
 */
export interface DisputeOutcome {
  sponsor: string;
  liquidationId: bigint;
  bond: bigint;
  status: "disputed" | "dry-run" | "lost-race" | "pending" | "failed" | "no-funds";
  hash?: string;
  message?: string;
}

export interface DisputerPassSummary {
  pass: number;
  block: number;
  time: bigint;
  /** The EMP has expired: no new liquidations can come; disputes and withdrawals go on. */
  expired: boolean;
  liquidations: number;
  disputes: DisputeOutcome[];
  withdrawals: WithdrawalOutcome[];
}

export class EmpDisputer {
  /** Every sponsor ever liquidated: liquidation records outlive positions. */
  private sponsors = new Set<string>();
  private scannedTo?: number;
  private saidExpired = false;

  constructor(private readonly ctx: BotContext, private readonly config: DisputeConfig = {}) {}

  async runPass(pass = 1): Promise<DisputerPassSummary> {
    const { ctx } = this;
    const me = ctx.sender.address;
    // ---- update, in two round trips when nothing is new: (1) the head, beside the sender's
    // session start; (2) the LiquidationCreated scan of the new blocks, the state and the known
    // sponsors' liquidations (multicalled), at once. Sponsors first seen in the scan cost a third.
    const [, block] = await Promise.all([ctx.sender.beginPass(`${ctx.params.address}:`, pass), ctx.sender.provider.getBlockNumber()]);
    await alertReorgs(ctx);
    const known = [...this.sponsors];
    const [, state, knownRecords] = await Promise.all([this.scan(block), ctx.client.readState(), ctx.client.readAllLiquidations(known)]);
    const knownSet = new Set(known);
    const fresh = [...this.sponsors].filter((s) => !knownSet.has(s));
    const records = fresh.length ? [...knownRecords, ...(await ctx.client.readAllLiquidations(fresh))] : knownRecords;
    const all = records.filter((l) => l.state !== LiquidationState.Uninitialized);
    const open = all.filter((l) => l.state === LiquidationState.NotDisputed);
    let decisions: DisputeDecision[] = [];
    if (open.length) {
      await ctx.price.update();
      decisions = planDisputes({ liquidations: open, now: state.currentTime, params: ctx.params, priceAt: (t) => ctx.price.at(t), config: this.config });
      for (const d of decisions) ctx.emit({ type: "decision", ...d });
    }

    // ---- act
    await ctx.beforeAct?.();
    const todo = decisions.filter((d) => d.action === "dispute");
    const disputes: DisputeOutcome[] = [];
    if (todo.length && !ctx.signal?.aborted) {
      const cost = (d: DisputeDecision) => d.bond + open.find((l) => l.sponsor === d.sponsor && l.id === d.liquidationId)!.finalFee;
      const balances = await ctx.client.readBalances(me, ctx.params);
      const total = todo.reduce((a, d) => a + cost(d), 0n);
      const approvalPending = balances.collateralAllowance < total && (await approveExactly(ctx, ctx.params.collateralCurrency, "collateral", total));
      let funds = balances.collateral;
      for (const d of todo) {
        if (ctx.signal?.aborted) break;
        const base = { sponsor: d.sponsor, liquidationId: d.liquidationId, bond: d.bond };
        if (funds < cost(d)) {
          const message = `not enough collateral for the dispute bond of liquidation ${d.liquidationId} of ${d.sponsor}: need ${cost(d)}, have ${funds}`;
          ctx.emit({ type: "warning", action: "dispute", sponsor: d.sponsor, liquidationId: d.liquidationId, reason: "insufficient-collateral", message });
          await ctx.alert?.({ key: `dispute-funds:${ctx.params.address}`, level: "critical", title: "EMP disputer cannot post a bond", text: message });
          disputes.push({ ...base, status: "no-funds", message });
          continue;
        }
        if (approvalPending) {
          ctx.emit({ type: "skipped", action: "dispute", sponsor: d.sponsor, liquidationId: d.liquidationId, reason: "dry-run", simulated: false, note: "needs the approval first" });
          disputes.push({ ...base, status: "dry-run" });
          continue;
        }
        const outcome = await this.dispute(d);
        if (outcome.status === "disputed") funds -= cost(d);
        disputes.push(outcome);
      }
    }

    // ---- withdraw
    // Nothing sent: what the update read is still the chain's state.
    const [after, now] = todo.length === 0
      ? [all, state.currentTime]
      : await Promise.all([
        ctx.client.readAllLiquidations([...this.sponsors]).then((ls) => ls.filter((l) => l.state !== LiquidationState.Uninitialized)),
        ctx.client.readState().then((st) => st.currentTime),
      ]);
    const withdrawals = await withdrawRewards(ctx, withdrawalCandidates(after, me, "disputer", now, ctx.params.liquidationLiveness), "disputer");

    const expired = state.contractState !== 0 || state.currentTime >= ctx.params.expirationTimestamp;
    if (expired && !this.saidExpired) {
      this.saidExpired = true;
      ctx.emit({ type: "warning", reason: "expired", message: `the EMP expired at ${new Date(Number(ctx.params.expirationTimestamp) * 1000).toISOString()}: no new liquidations can come; disputing open ones within their liveness and withdrawing what this bot is owed go on` });
    }
    ctx.emit({
      type: "heartbeat", pass, block, time: state.currentTime, liquidations: all.length, expired,
      disputed: disputes.filter((d) => d.status === "disputed").length, withdrawn: withdrawals.filter((w) => w.status === "withdrawn").length,
    });
    const failed = disputes.find((d) => d.status === "failed");
    if (failed) throw new RevertError(`disputing liquidation ${failed.liquidationId} of ${failed.sponsor} failed: ${failed.message}`, { hint: "the next attempt re-reads the chain" });
    return { pass, block, time: state.currentTime, expired, liquidations: all.length, disputes, withdrawals };
  }

  /** Incremental LiquidationCreated scan up to `head`. */
  private async scan(head: number): Promise<void> {
    const fromBlock = this.scannedTo === undefined ? this.ctx.scan.fromBlock ?? 0 : this.scannedTo + 1;
    if (fromBlock > head) return;
    for (const s of await this.ctx.client.findLiquidatedSponsors({ ...this.ctx.scan, fromBlock, toBlock: head })) this.sponsors.add(s);
    this.scannedTo = head;
  }

  private async dispute(d: DisputeDecision): Promise<DisputeOutcome> {
    const { ctx } = this;
    const key = `${ctx.params.address}:${d.sponsor}:${d.liquidationId}:dispute`;
    const base = { sponsor: d.sponsor, liquidationId: d.liquidationId, bond: d.bond };
    const req = { ...encodeDispute(ctx.params.address, d.liquidationId, d.sponsor), label: `dispute ${d.sponsor}#${d.liquidationId}`, abi: empInterface };
    try {
      const r = await ctx.sender.send(key, req, { repeatable: false, meta: { bond: d.bond.toString(), price: d.price?.toString() } });
      if (r.status === "dry-run") {
        ctx.emit({ type: "skipped", action: "dispute", sponsor: d.sponsor, liquidationId: d.liquidationId, reason: "dry-run", bond: d.bond, gasLimit: r.prepared.gasLimit });
        return { ...base, status: "dry-run" };
      }
      if (r.status === "mined") {
        await ctx.alert?.({ key: `disputed:${key}`, level: "info", title: "EMP liquidation disputed", text: `liquidation ${d.liquidationId} of ${d.sponsor}`, fields: { bond: d.bond, tx: r.hash } });
      }
      if (r.status === "pending") return { ...base, status: "pending" };
      return { ...base, status: "disputed", hash: r.status === "mined" ? r.hash : undefined };
    } catch (e) {
      if (!(e instanceof RevertError)) throw e;
      const moved = await this.stateMoved(d);
      if (moved) {
        ctx.sender.journal.recordSkipped(key, moved);
        ctx.emit({ type: "warning", action: "dispute", sponsor: d.sponsor, liquidationId: d.liquidationId, reason: "lost-race", message: moved });
        return { ...base, status: "lost-race", message: moved };
      }
      ctx.emit({ type: "warning", action: "dispute", sponsor: d.sponsor, liquidationId: d.liquidationId, reason: "failed", message: e.message });
      return { ...base, status: "failed", message: e.message };
    }
  }

  /** Why the liquidation is no longer disputable (someone disputed or withdrew it first). */
  private async stateMoved(d: DisputeDecision): Promise<string | undefined> {
    const now: EmpLiquidation | undefined = (await this.ctx.client.readLiquidations(d.sponsor)).find((l) => l.id === d.liquidationId);
    if (now && now.state === LiquidationState.NotDisputed) return undefined;
    if (now && now.state !== LiquidationState.Uninitialized) return `liquidation ${d.liquidationId} of ${d.sponsor} was disputed by ${now.disputer} first; skipped`;
    return `liquidation ${d.liquidationId} of ${d.sponsor} was withdrawn before our dispute; skipped`;
  }
}
