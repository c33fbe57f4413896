import { ethers } from "ethers";
import { RevertError } from "../errors";
import { alertReorgs, approveExactly, withdrawRewards, type BotContext, type WithdrawalOutcome } from "./bot-loop";
import { empInterface, encodeCreateLiquidation, type EmpPosition, type EmpState } from "./emp-client";
import { collateralNetOfWithdrawal, planLiquidations, type LiquidationConfig, type LiquidationDecision, type PositionSnapshot } from "./liquidation-strategy";
import { withdrawalCandidates } from "./dispute-strategy";

/**
 * The liquidator bot's pass: update (state, positions, balances, price) -> act (approve, then
 * createLiquidation per decision, simulated first and journaled `${emp}:${sponsor}:liquidate`)
 * -> withdraw its rewards. Losing a race to another liquidator is a warning and a skip.
 */
export interface LiquidationOutcome {
  sponsor: string;
  tokens: bigint;
  reason: string;
  /** pending: sent, not mined by the deadline; tracked and settled by the next pass, never re-sent. */
  status: "liquidated" | "dry-run" | "lost-race" | "pending" | "failed";
  hash?: string;
  liquidationId?: bigint;
  lockedCollateral?: bigint;
  liquidatedCollateral?: bigint;
  message?: string;
}

export interface LiquidatorPassSummary {
  pass: number;
  block: number;
  time: bigint;
  price: bigint | null;
  positions: number;
  /** Lowest collateral (net of a pending withdrawal) / (tokens × price) among the positions; null without a price or positions (metrics). */
  minCollateralRatio: number | null;
  expired: boolean;
  liquidations: LiquidationOutcome[];
  withdrawals: WithdrawalOutcome[];
}

const FINDER_ABI = ["function getImplementationAddress(bytes32) view returns (address)"];
const STORE_ABI = ["function computeFinalFee(address currency) view returns ((uint256 rawValue))"];

export class EmpLiquidator {
  /** Sponsors ever seen opening a position; empty positions are dropped as they are read. */
  private sponsors = new Set<string>();
  private mine = new Set<string>();
  private scannedTo?: number;
  private saidExpired = false;

  constructor(private readonly ctx: BotContext, private readonly config: LiquidationConfig = {}) {}

  async runPass(pass = 1): Promise<LiquidatorPassSummary> {
    const { ctx } = this;
    const me = ctx.sender.address;
    // ---- update, in two round trips when nothing is new: (1) the head, beside the sender's
    // session start (its nonce reads); (2) the event scan of the new blocks, the state, the known
    // sponsors' positions (multicalled), our balances and liquidations and the price, all at once.
    // Only sponsors first seen in this scan cost a third.
    const [, block] = await Promise.all([ctx.sender.beginPass(`${ctx.params.address}:`, pass), ctx.sender.provider.getBlockNumber()]);
    await alertReorgs(ctx);
    const known = [...this.sponsors];
    const knownMine = [...this.mine];
    const statePromise = ctx.client.readState();
    // The price is needed only before expiry: started now, its failure counts only then (below).
    const priceUpdate = ctx.price.update().then(() => undefined, (e: unknown) => ({ error: e }));
    const [, state, knownPositions, balances, mineBefore] = await Promise.all([
      this.scanSponsors(block),
      statePromise,
      ctx.client.readPositions(known, statePromise.then((st) => st.cumulativeFeeMultiplier)),
      ctx.client.readBalances(me, ctx.params),
      ctx.client.readAllLiquidations(knownMine),
    ]);
    const knownSet = new Set(known);
    const fresh = [...this.sponsors].filter((s) => !knownSet.has(s));
    const positions = fresh.length ? [...knownPositions, ...(await ctx.client.readPositions(fresh, state.cumulativeFeeMultiplier))] : knownPositions;
    const open = new Set(positions.map((p) => p.sponsor));
    for (const s of this.sponsors) if (!open.has(s)) this.sponsors.delete(s);
    const expired = state.contractState !== 0 || state.currentTime >= ctx.params.expirationTimestamp;
    if (expired && !this.saidExpired) {
      this.saidExpired = true;
      ctx.emit({ type: "warning", reason: "expired", message: `the EMP expired at ${new Date(Number(ctx.params.expirationTimestamp) * 1000).toISOString()}: the contract refuses new liquidations; withdrawing what this bot is owed goes on` });
    }
    // After expiry no price is needed (the strategy stops at contract-expired), so a feed outage
    // cannot hold up the withdrawals below.
    let price: bigint | null = null;
    const updated = await priceUpdate;
    if (!expired) {
      if (updated) throw updated.error;
      price = ctx.price.current();
    }

    let decisions: LiquidationDecision[] = [];
    if (price === null && !expired) {
      ctx.emit({ type: "warning", message: `no price from the ${ctx.price.label}; no liquidations this pass` });
    } else {
      decisions = planLiquidations({
        positions, price: price ?? 0n, now: state.currentTime, params: { ...ctx.params, contractState: state.contractState },
        botAddress: me, syntheticBalance: balances.synthetic, config: this.config,
      });
      for (const d of decisions) ctx.emit({ type: "decision", ...d, price });
    }

    // ---- act
    await ctx.beforeAct?.();
    const todo = decisions.filter((d) => d.action === "liquidate");
    const liquidations: LiquidationOutcome[] = [];
    if (todo.length && !ctx.signal?.aborted) {
      const approvalsPending = await this.ensureAllowances(todo, balances);
      for (const d of todo) {
        if (ctx.signal?.aborted) break;
        if (approvalsPending) {
          // --dry-run sent no approval, so the contract would refuse to pull the tokens: say so rather than simulate.
          ctx.emit({ type: "skipped", action: "liquidate", sponsor: d.sponsor, tokens: d.tokens, reason: "dry-run", simulated: false, note: "needs the approval first" });
          liquidations.push({ sponsor: d.sponsor, tokens: d.tokens, reason: d.reason, status: "dry-run" });
          continue;
        }
        liquidations.push(await this.liquidate(d, positions.find((p) => p.sponsor === d.sponsor)!, state));
      }
    }

    // ---- withdraw (also after expiry)
    // Nothing sent and no new liquidation of ours found: what the update read is still the chain's state.
    const sent = todo.length > 0;
    const unchanged = !sent && this.mine.size === knownMine.length;
    const [mineNow, now] = unchanged
      ? [mineBefore, state.currentTime]
      : await Promise.all([ctx.client.readAllLiquidations([...this.mine]), ctx.client.readState().then((st) => st.currentTime)]);
    const mine = mineNow.filter((l) => l.state !== 0);
    const withdrawals = await withdrawRewards(ctx, withdrawalCandidates(mine, me, "liquidator", now, ctx.params.liquidationLiveness), "liquidator");

    const summary = { pass, block, time: state.currentTime, price, positions: positions.length, minCollateralRatio: minRatio(positions, price), expired, liquidations, withdrawals };
    ctx.emit({
      type: "heartbeat", pass, block, time: state.currentTime, price, positions: positions.length, expired,
      liquidated: liquidations.filter((l) => l.status === "liquidated").length, withdrawn: withdrawals.filter((w) => w.status === "withdrawn").length,
    });
    const failed = liquidations.find((l) => l.status === "failed");
    if (failed) throw new RevertError(`liquidating ${failed.sponsor} failed: ${failed.message}`, { hint: "the next attempt re-reads the chain" });
    return summary;
  }

  /** Incremental event scan: new sponsors, and the sponsors this bot has liquidated. */
  private async scanSponsors(head: number): Promise<void> {
    const { client, scan, sender } = this.ctx;
    const fromBlock = this.scannedTo === undefined ? scan.fromBlock ?? 0 : this.scannedTo + 1;
    if (fromBlock > head) return;
    const range = { ...scan, fromBlock, toBlock: head };
    const [sponsors, mine] = await Promise.all([client.findSponsors(range), client.findLiquidatedSponsors({ ...range, liquidator: sender.address })]);
    for (const s of sponsors) this.sponsors.add(s);
    for (const s of mine) this.mine.add(s);
    this.scannedTo = head;
  }

  /**
   * Synthetic tokens to burn and one final fee per liquidation, approved exactly when short.
   * Returns true when an approval is still missing (only in --dry-run, which sends none).
   */
  private async ensureAllowances(todo: LiquidationDecision[], balances: { collateralAllowance: bigint; syntheticAllowance: bigint }): Promise<boolean> {
    const { params } = this.ctx;
    const synthetic = todo.reduce((a, d) => a + d.tokens, 0n);
    const collateral = (await this.finalFee()) * BigInt(todo.length);
    let pending = false;
    if (balances.syntheticAllowance < synthetic) pending = (await approveExactly(this.ctx, params.tokenCurrency, "synthetic", synthetic)) || pending;
    if (balances.collateralAllowance < collateral) pending = (await approveExactly(this.ctx, params.collateralCurrency, "collateral", collateral)) || pending;
    return pending;
  }

  /** The Store's final fee for the collateral: the bond createLiquidation pulls besides the tokens. */
  private async finalFee(): Promise<bigint> {
    const { client, params } = this.ctx;
    const finder = new ethers.Contract(await client.contract.finder(), FINDER_ABI, client.provider);
    const store = new ethers.Contract(await finder.getImplementationAddress(ethers.encodeBytes32String("Store")), STORE_ABI, client.provider);
    return (await store.computeFinalFee(params.collateralCurrency)).rawValue as bigint;
  }

  private async liquidate(d: LiquidationDecision, before: EmpPosition, state: EmpState): Promise<LiquidationOutcome> {
    const { params, sender, emit } = this.ctx;
    const key = `${params.address}:${d.sponsor}:liquidate`;
    const base = { sponsor: d.sponsor, tokens: d.tokens, reason: d.reason };
    const req = { ...encodeCreateLiquidation(params.address, d), label: `liquidate ${d.sponsor}`, abi: empInterface };
    try {
      const r = await sender.send(key, req, {
        repeatable: true,
        meta: { tokens: d.tokens.toString(), maxCollateralPerToken: d.maxCollateralPerToken.toString(), reason: d.reason },
        details: (receipt) => liquidationCreated(receipt) ?? {},
      });
      if (r.status === "dry-run") {
        emit({ type: "skipped", action: "liquidate", sponsor: d.sponsor, tokens: d.tokens, reason: "dry-run", gasLimit: r.prepared.gasLimit, worstCaseFeeWei: r.prepared.worstCaseFeeWei });
        return { ...base, status: "dry-run" };
      }
      if (r.status === "pending") return { ...base, status: "pending" };
      if (r.status !== "mined") return { ...base, status: "liquidated" };
      this.mine.add(d.sponsor);
      const created = liquidationCreated(r.receipt);
      await this.ctx.alert?.({ key: `liquidated:${key}`, level: "info", title: "EMP position liquidated", text: `${d.sponsor} (${d.reason})`, fields: { tokens: d.tokens, tx: r.hash } });
      return { ...base, status: "liquidated", hash: r.hash, ...(created ?? {}) };
    } catch (e) {
      if (!(e instanceof RevertError)) throw e;
      const moved = await this.stateMoved(before, state);
      if (moved) {
        sender.journal.recordSkipped(key, moved);
        emit({ type: "warning", action: "liquidate", sponsor: d.sponsor, reason: "lost-race", message: moved });
        return { ...base, status: "lost-race", message: moved };
      }
      emit({ type: "warning", action: "liquidate", sponsor: d.sponsor, reason: "failed", message: e.message });
      return { ...base, status: "failed", message: e.message };
    }
  }

  /** Why the position no longer matches what the decision was made on, or undefined when it does. */
  private async stateMoved(before: EmpPosition, state: EmpState): Promise<string | undefined> {
    const { client } = this.ctx;
    const now = await client.readPosition(before.sponsor, state.cumulativeFeeMultiplier);
    const same = now.tokensOutstanding === before.tokensOutstanding && now.rawCollateral === before.rawCollateral && now.withdrawalRequestAmount === before.withdrawalRequestAmount;
    if (same) return undefined;
    const other = (await client.readLiquidations(before.sponsor)).filter((l) => l.liquidationTime >= state.currentTime && l.liquidator !== this.ctx.sender.address).pop();
    return other
      ? `${before.sponsor} was liquidated by ${other.liquidator} first; skipped`
      : `${before.sponsor}'s position changed before our liquidation; skipped`;
  }
}

function liquidationCreated(receipt: ethers.TransactionReceipt) {
  for (const log of receipt.logs) {
    try {
      const ev = empInterface.parseLog(log);
      if (ev?.name === "LiquidationCreated") {
        return { liquidationId: ev.args.liquidationId as bigint, tokensLiquidated: ev.args.tokensOutstanding as bigint, lockedCollateral: ev.args.lockedCollateral as bigint, liquidatedCollateral: ev.args.liquidatedCollateral as bigint };
      }
    } catch {
      // another contract's log (the tokens' Transfer events)
    }
  }
  return undefined;
}

/** collateral / (tokens × price) of the worst position, as a float for the metrics gauge. */
export function minRatio(positions: PositionSnapshot[], price: bigint | null): number | null {
  if (!price) return null;
  let min: number | null = null;
  for (const p of positions) {
    if (p.tokensOutstanding === 0n) continue;
    // 1e18-scaled: collateral × 1e36 / (tokens × price), both factors 1e18 fixed-point.
    const r = Number((collateralNetOfWithdrawal(p) * 10n ** 36n) / (p.tokensOutstanding * price)) / 1e18;
    if (min === null || r < min) min = r;
  }
  return min;
}
