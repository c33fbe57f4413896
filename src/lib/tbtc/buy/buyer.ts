import { ExitCode, KeepctlError, RevertError, shortMessageOf } from "../../errors";
import type { Alert } from "../../alert/types";
import type { AuditLog } from "../../audit";
import type { RawTxTransport } from "../../chain/tx-types";
import { AccountConflictError } from "../../chain/nonce";
import { encodeBuyExact, swapOfReceipt } from "../../uniswap/v2-pool";
import { routerInterface } from "../../uniswap/v2-abi";
import type { JournaledSender } from "../redeem/redeemer";
import { readMarket, type BuyContext, type MarketFacts } from "./buy-facts";
import { decideBuy, depositsBoughtFor, ethSpentSince, feeNowWei, formatBp, gasReserveWei, premiumBp, swapDeadline, type BuyDecision, type BuyNeed, type BuyOrder, type BuyPolicy, type BuyRefusal } from "./buy-decide";

/**
 * Buys TBTC from the Uniswap V2 pool with ETH through the one journaled sender:
 * swapETHForExactTokens for exactly the amount decided, its ETH value the decision's bound (the
 * router refunds what the pool did not take), a deadline a few blocks ahead. A swap that reverts —
 * in simulation or on chain, because the price moved past the bound or the deadline passed — is
 * decided again on fresh reserves (every bound checked again), never resent as it was.
 */
export const MAX_SWAP_ATTEMPTS = 2;
const DAY_MS = 24 * 3600 * 1000;

export interface BuyDeps {
  ctx: BuyContext;
  policy: BuyPolicy;
  /** Seconds after the head's timestamp the swap may still be mined (a few blocks). */
  deadlineSec: number;
  /** The engine's fee cap (wei): the gas reserve is priced at the fee it would sign now, never above it. */
  feeCapWei: bigint;
  /** Where the swap's signed bytes go instead of the public endpoint (--private-tx-url). */
  transport?: RawTxTransport;
  audit?: AuditLog;
  alert?: (a: Alert) => Promise<unknown>;
  emit?: (ev: BuyEvent) => void;
  /** Wall clock (ms) for the 24 h window (tests). */
  now?: () => number;
}

export type BuyEvent =
  | { type: "buy-planned"; deposits: string[]; amountTbtc: bigint; expectedEthWei: bigint; maxEthWei: bigint; premiumBp: bigint; bondWei: bigint; block: number }
  | { type: "buy-refused"; deposit: string | null; code: string; reason: string }
  | { type: "buy-replanned"; deposits: string[]; reason: string }
  | { type: "bought"; deposits: string[]; amountTbtc: bigint; ethPaidWei: bigint; premiumBp: bigint; hash: string };

/** A buy that was refused, for commands that end with an error (exit 6; 3 when the router does not price the pool). */
export class BuyRefusedError extends KeepctlError {
  constructor(readonly refusal: BuyRefusal) {
    super(refusal.code, refusal.code === "QUOTE_MISMATCH" ? ExitCode.CONFIG : ExitCode.FUNDS, `TBTC not bought: ${refusal.reason}`, {
      hint: HINTS[refusal.code],
    });
  }
}

const HINTS: Record<BuyRefusal["code"], string> = {
  NO_LIQUIDITY: "the pool is too thin for this amount: buy elsewhere or mint TBTC from BTC",
  QUOTE_MISMATCH: "check contracts.UniswapV2Router02: it must be the Uniswap V2 Router02 of this pool",
  PRICE_LIMIT: "the pool is dearer than the system's price: raise --max-price only if the loss is worth the bond",
  BOND_LIMIT: "letting the bond go costs less than this TBTC: buy elsewhere or mint TBTC from BTC",
  DAILY_CAP: "wait, or raise --max-eth-per-day (KEEPCTL_BUY_MAX_ETH_PER_DAY)",
  ETH_RESERVE: "add ETH to the account: KEEPCTL_MIN_ETH and the gas are kept back",
  ALREADY_BOUGHT: "top up TBTC by hand; keepctl buys for a deposit once",
};

export type SwapOutcome =
  | { status: "bought"; order: BuyOrder; hash: string; ethPaidWei: bigint; tbtcOut: bigint; premiumBp: bigint; attempts: number }
  /** The journal records this swap as mined by an earlier run: its TBTC is (or was) in the wallet. */
  | { status: "bought-earlier"; order: BuyOrder; hash?: string }
  | { status: "refused"; order: BuyOrder; refusal: BuyRefusal; attempts: number }
  | { status: "pending"; order: BuyOrder; hashes: string[] }
  | { status: "failed"; order: BuyOrder; reason: string; error: KeepctlError };

/** Journal entries of this account's swaps, as the pure functions read them. */
function buyEntries(s: JournaledSender) {
  return [...s.journal.entries().values()];
}

export interface Quote {
  decision: BuyDecision;
  market: MarketFacts;
  needs: BuyNeed[];
}

/**
 * Reads the market at one block and decides: `needs` carry amounts; bonds are read here for the
 * deposits named. `paths` are the redemption paths that follow (their gas is kept back).
 */
export async function quoteBuy(s: JournaledSender, d: BuyDeps, needs: readonly { deposit?: string; amountTbtc: bigint }[], paths: readonly ("request-redemption" | "vending-machine")[]): Promise<Quote> {
  const totals: bigint[] = [];
  let t = 0n;
  for (const n of needs) totals.push((t += n.amountTbtc));
  const deposits = needs.flatMap((n) => (n.deposit ? [n.deposit] : []));
  const market = await readMarket(s.provider, d.ctx, s.address, totals, deposits);
  const now = (d.now ?? Date.now)();
  const withBonds: BuyNeed[] = needs.map((n) => (n.deposit ? { ...n, bondWei: market.bonds.get(n.deposit.toLowerCase()) } : { ...n }));
  const decision = decideBuy(
    withBonds,
    {
      reserveWeth: market.reserveWeth,
      reserveTbtc: market.reserveTbtc,
      routerQuotes: market.routerQuotes,
      weiPerSat: market.weiPerSat,
      ethBalanceWei: market.ethBalanceWei,
      gasReserveWei: gasReserveWei(paths, feeNowWei(market.baseFeePerGas, market.maxPriorityFeePerGas, d.feeCapWei)),
      spentTodayWei: ethSpentSince(buyEntries(s), s.address, now - DAY_MS),
    },
    d.policy,
  );
  return { decision, market, needs: withBonds };
}

/** Deposits this account's journaled swaps covered: a deposit is bought for once. */
export function boughtEarlier(s: JournaledSender): Set<string> {
  return depositsBoughtFor(buyEntries(s), s.address);
}

const isRevertError = (e: unknown) => e instanceof RevertError || (e instanceof KeepctlError && e.exitCode === ExitCode.REVERT);

/**
 * Sends the swap of `q` under `${owner}:${action}` (a deposit's `buy-tbtc`, or the account's
 * `buy-tbtc:<time>`), re-deciding on fresh reserves after a revert. Never throws except when
 * another sender uses the account.
 */
export async function executeBuy(s: JournaledSender, d: BuyDeps, q: Quote & { decision: { order: BuyOrder } }, target: { owner: string; action: string }, paths: readonly ("request-redemption" | "vending-machine")[]): Promise<SwapOutcome> {
  let order = q.decision.order;
  let market = q.market;
  for (let attempt = 1; ; attempt++) {
    d.emit?.({ type: "buy-planned", deposits: order.deposits, amountTbtc: order.amountTbtc, expectedEthWei: order.expectedEthWei, maxEthWei: order.maxEthWei, premiumBp: order.premiumBp, bondWei: order.bondWei, block: market.block });
    try {
      const data = encodeBuyExact(d.ctx.pool, order.amountTbtc, s.address, swapDeadline(market.timestamp, Math.floor((d.now ?? Date.now)() / 1000), d.deadlineSec));
      const meta = {
        deposits: order.deposits,
        amountTbtc: order.amountTbtc.toString(),
        expectedEthWei: order.expectedEthWei.toString(),
        maxEthWei: order.maxEthWei.toString(),
        premiumBp: order.premiumBp.toString(),
        block: market.block,
      };
      const r = await s.send(target.owner, target.action, { to: d.ctx.pool.router, data, value: order.maxEthWei, abi: routerInterface, transport: d.transport }, { meta });
      if (r.status === "mined") {
        const swap = swapOfReceipt(d.ctx.pool, r.receipt.logs, s.address);
        const ethPaidWei = swap?.wethIn ?? order.expectedEthWei;
        return { status: "bought", order, hash: r.hash, ethPaidWei, tbtcOut: swap?.tokenOut ?? order.amountTbtc, premiumBp: premiumBp(ethPaidWei, order.fairEthWei), attempts: attempt };
      }
      if (r.status === "pending") return { status: "pending", order, hashes: r.hashes };
      if (r.status === "done-earlier") return { status: "bought-earlier", order, hash: r.hash };
      return { status: "failed", order, reason: "dry run: nothing sent", error: new KeepctlError("INTERNAL", ExitCode.INTERNAL, "executeBuy called in a dry run") };
    } catch (e) {
      if (e instanceof AccountConflictError) throw e;
      const err = e instanceof KeepctlError ? e : new KeepctlError("INTERNAL", ExitCode.INTERNAL, shortMessageOf(e), { cause: e });
      if (!isRevertError(err) || attempt >= MAX_SWAP_ATTEMPTS) return { status: "failed", order, reason: err.message, error: err };
      // The price moved (a front-run, the market) or the deadline passed: decide again on what the
      // pool holds now, with every bound, for the same deposits and amount.
      const reason = `the swap reverted (${err.message}); deciding again on fresh reserves`;
      d.emit?.({ type: "buy-replanned", deposits: order.deposits, reason });
      await d.alert?.({ key: `buy-reverted:${order.deposits[0] ?? s.address}`, level: "warning", title: "TBTC swap reverted", text: `${reason}; nothing was bought, only gas was spent` }).catch(() => undefined);
      d.audit?.record("buy-tbtc", { deposits: order.deposits, status: "reverted", amountTbtc: order.amountTbtc, maxEthWei: order.maxEthWei, reason: err.message, account: s.address });
      const fresh = await quoteBuy(s, d, q.needs.filter((n) => !n.deposit || order.deposits.includes(n.deposit)), paths);
      market = fresh.market;
      const again = fresh.decision.order;
      if (!again || again.amountTbtc !== order.amountTbtc) {
        const refusal = fresh.decision.refused[0] ?? { code: "NO_LIQUIDITY" as const, reason: "the fresh quote no longer covers the amount", amountTbtc: order.amountTbtc };
        return { status: "refused", order, refusal, attempts: attempt };
      }
      order = again;
    }
  }
}

const eth = (wei: bigint) => {
  const whole = wei / 10n ** 18n;
  return `${whole}.${(wei % 10n ** 18n).toString().padStart(18, "0").slice(0, 6)}`;
};

/** Audit line, alert and event for how a buy ended (the cost, honestly: paid, premium, bond protected). */
export async function reportBuy(s: JournaledSender, d: BuyDeps, o: SwapOutcome): Promise<void> {
  const order = o.order;
  const base = { deposits: order.deposits, amountTbtc: order.amountTbtc, expectedEthWei: order.expectedEthWei, maxEthWei: order.maxEthWei, fairEthWei: order.fairEthWei, bondWei: order.bondWei, boundBy: order.boundBy, transport: d.transport?.name ?? "public", account: s.address };
  const who = order.deposits.length ? `to redeem ${order.deposits.join(", ")}` : "";
  const first = order.deposits[0] ?? s.address;
  if (o.status === "bought") {
    d.audit?.record("buy-tbtc", { ...base, status: "bought", hash: o.hash, ethPaidWei: o.ethPaidWei, premiumBp: o.premiumBp });
    d.emit?.({ type: "bought", deposits: order.deposits, amountTbtc: o.tbtcOut, ethPaidWei: o.ethPaidWei, premiumBp: o.premiumBp, hash: o.hash });
    const bond = order.bondWei > 0n ? ` (bond protected: ${eth(order.bondWei)} ETH)` : "";
    await d.alert?.({ key: `tbtc-bought:${first}`, level: "info", title: "TBTC bought", text: `bought ${eth(o.tbtcOut)} TBTC for ${eth(o.ethPaidWei)} ETH, ${formatBp(o.premiumBp)} over the system's ETH/BTC price ${who}${bond}; tx ${o.hash}`.replace("  ", " ") }).catch(() => undefined);
  } else if (o.status === "refused") {
    await reportRefusals(s, d, [{ ...o.refusal, deposit: o.refusal.deposit ?? order.deposits[0] }]);
  } else if (o.status === "failed") {
    d.audit?.record("buy-tbtc", { ...base, status: "failed", reason: o.reason });
    await d.alert?.({ key: `buy-failed:${first}`, level: "critical", title: "TBTC buy failed", text: `buying ${eth(order.amountTbtc)} TBTC ${who} failed: ${o.reason}` }).catch(() => undefined);
  } else if (o.status === "pending") {
    d.audit?.record("buy-tbtc", { ...base, status: "pending", hashes: o.hashes });
  }
}

/** Refusals: audited (declined is an action too), an event, one critical alert per deposit left at risk. */
export async function reportRefusals(s: JournaledSender, d: BuyDeps, refused: readonly BuyRefusal[]): Promise<void> {
  for (const r of refused) {
    d.audit?.record("buy-tbtc", { deposit: r.deposit, status: "refused", code: r.code, reason: r.reason, amountTbtc: r.amountTbtc, expectedEthWei: r.expectedEthWei, premiumBp: r.premiumBp, account: s.address });
    d.emit?.({ type: "buy-refused", deposit: r.deposit ?? null, code: r.code, reason: r.reason });
    await d.alert?.({ key: `buy-refused:${r.deposit ?? s.address}`, level: "critical", title: "TBTC not bought", text: `${r.reason}${r.deposit ? `; ${r.deposit} stays at risk` : ""}` }).catch(() => undefined);
  }
}
