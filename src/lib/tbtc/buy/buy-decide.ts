/**
 * Pure decisions of the TBTC buy path (`--buy-shortfall`, `buy-tbtc`): how much TBTC to buy for
 * which at-risk deposits, and whether the pool's price passes the operator's bounds. Numbers in,
 * decisions out; the pool's reserves, the router's quotes, the system's price and the balances are
 * read elsewhere, at one block.
 *
 * The price of a buy is compared with the system's own: the ETH/BTC medianizer as the deposits
 * see it through SatWeiPriceFeed (wei per satoshi; 1 satoshi = 1e10 TBTC units), so
 *   fair ETH    = TBTC bought × weiPerSat / 1e10
 *   premium     = ETH paid / fair ETH − 1
 */
import { amountInProblem, getAmountIn } from "../../uniswap/v2-math";
import type { Plan } from "../redeem/planner";

/** TBTC units per satoshi (TBTC has 18 decimals, BTC 8). */
const UNITS_PER_SAT = 10n ** 10n;
const BP = 10_000n;

export type BuyRefusalCode = "NO_LIQUIDITY" | "QUOTE_MISMATCH" | "PRICE_LIMIT" | "BOND_LIMIT" | "DAILY_CAP" | "ETH_RESERVE" | "ALREADY_BOUGHT";

/** TBTC one deposit lacks; `bondWei` is the keep's bond (what a liquidation would seize). Absent for a plain `buy-tbtc`. */
export interface BuyNeed {
  deposit?: string;
  amountTbtc: bigint;
  bondWei?: bigint;
}

export interface BuyMarket {
  reserveWeth: bigint;
  reserveTbtc: bigint;
  /** The router's getAmountsIn for each prefix of the needs (their running totals), same block; undefined where it reverted. */
  routerQuotes: readonly (bigint | undefined)[];
  /** SatWeiPriceFeed.getPrice(): what the deposits are judged by. */
  weiPerSat: bigint;
  ethBalanceWei: bigint;
  /** Worst-case gas of the swap and of the redemptions that follow it. */
  gasReserveWei: bigint;
  /** ETH the swaps of the last 24 h may have spent (at their ETH value: the most each could take). */
  spentTodayWei: bigint;
}

export interface BuyPolicy {
  /** Most premium over the system's price, basis points (--max-price 5 = 500). */
  maxPremiumBp: bigint;
  /** Most the price may move between this read and the swap, basis points (--max-slippage 0.5 = 50). */
  maxSlippageBp: bigint;
  maxEthPerDayWei: bigint;
  /** KEEPCTL_MIN_ETH: never spent on TBTC, it pays for gas. */
  minEthWei: bigint;
}

export interface BuyOrder {
  /** The deposits the swap covers, most at risk first (none for a plain buy). */
  deposits: string[];
  amountTbtc: bigint;
  /** What the pool asks now: the local getAmountIn, equal to the router's quote. */
  expectedEthWei: bigint;
  /** The swap's ETH value: the most it may take (the router refunds the rest). */
  maxEthWei: bigint;
  fairEthWei: bigint;
  /** (expected − fair) / fair, basis points, rounded up; negative when the pool is cheaper. */
  premiumBp: bigint;
  /** Σ of the covered keeps' bonds (0 for a plain buy). */
  bondWei: bigint;
  /** What capped maxEthWei: the slippage bound, the --max-price bound or the bond. */
  boundBy: "slippage" | "max-price" | "bond";
  perDeposit: { deposit: string; amountTbtc: bigint; bondWei: bigint }[];
}

export interface BuyRefusal {
  deposit?: string;
  code: BuyRefusalCode;
  reason: string;
  /** TBTC the refused prefix would have bought (cumulative). */
  amountTbtc: bigint;
  expectedEthWei?: bigint;
  premiumBp?: bigint;
}

export interface BuyDecision {
  order?: BuyOrder;
  refused: BuyRefusal[];
}

/** ETH (wei) worth `tbtc` at the system's price. */
export function fairEthWei(tbtc: bigint, weiPerSat: bigint): bigint {
  return (tbtc * weiPerSat) / UNITS_PER_SAT;
}

/** (ethPaid − fair) / fair in basis points, rounded away from zero so a premium is never shown smaller than it is. */
export function premiumBp(ethPaid: bigint, fair: bigint): bigint {
  if (fair <= 0n) throw new RangeError("no fair price to compare with");
  const diff = (ethPaid - fair) * BP;
  return diff >= 0n ? (diff + fair - 1n) / fair : -((-diff + fair - 1n) / fair);
}

/** A percentage (e.g. 0.5) as basis points, to 0.01 %. */
export function pctToBp(pct: number): bigint {
  if (!Number.isFinite(pct) || pct < 0) throw new RangeError(`not a percentage: ${pct}`);
  return BigInt(Math.round(pct * 100));
}

export const formatBp = (bp: bigint): string => {
  const neg = bp < 0n;
  const a = neg ? -bp : bp;
  return `${neg ? "-" : ""}${a / 100n}.${(a % 100n).toString().padStart(2, "0")}%`;
};

const eth = (wei: bigint): string => {
  const whole = wei / 10n ** 18n;
  const frac = (wei % 10n ** 18n).toString().padStart(18, "0").slice(0, 6);
  return `${whole}.${frac}`;
};

/**
 * The TBTC each unfunded deposit lacks, most at risk first. The planner funded what the balance
 * covered; what is left over goes to the first unfunded deposit, each later one needs its whole
 * cost. Buying for a prefix of this list (never a gap) is what makes the next plan fund exactly
 * the deposits bought for, with everything funded before still funded. A deposit TBTC was bought
 * for earlier (journal) ends the list: its TBTC went elsewhere, and buying twice is what the
 * journal is there to prevent.
 */
export function buyNeedsOf(plan: Pick<Plan, "unfunded" | "remainingTbtc">, boughtEarlier: ReadonlySet<string>): { needs: { deposit: string; amountTbtc: bigint }[]; refused: BuyRefusal[] } {
  const needs: { deposit: string; amountTbtc: bigint }[] = [];
  const refused: BuyRefusal[] = [];
  let left = plan.remainingTbtc;
  for (const [i, u] of plan.unfunded.entries()) {
    if (boughtEarlier.has(u.address.toLowerCase())) {
      const reason = `TBTC was already bought for ${u.address} (journal) and is not in the wallet any more; not buying twice`;
      for (const v of plan.unfunded.slice(i)) refused.push({ deposit: v.address, code: "ALREADY_BOUGHT", reason, amountTbtc: 0n });
      break;
    }
    const amountTbtc = u.costTbtc > left ? u.costTbtc - left : 0n;
    left = left > u.costTbtc ? left - u.costTbtc : 0n;
    needs.push({ deposit: u.address, amountTbtc });
  }
  return { needs, refused };
}

const minOf = (...xs: bigint[]): bigint => xs.reduce((a, b) => (b < a ? b : a));

/**
 * The largest prefix of `needs` that one swap may buy within every bound, and why the rest may
 * not. Bounds, all on the cumulative amount: the pool can deliver it; the router quotes exactly
 * what the local math says (else the router is not pricing this pool); the premium over the
 * system's price is within --max-price; the ETH paid is below the bond it protects (more would be
 * a loss); the swap's worst case fits the day's cap and leaves the gas reserve untouched. The
 * swap's ETH value is the tightest of: expected + slippage, the --max-price bound, the bond.
 */
export function decideBuy(needs: readonly BuyNeed[], m: BuyMarket, p: BuyPolicy): BuyDecision {
  let order: BuyOrder | undefined;
  let total = 0n;
  let bonds = 0n;
  let allBonded = true;
  for (const [k, need] of needs.entries()) {
    total += need.amountTbtc;
    if (need.bondWei === undefined) allBonded = false;
    else bonds += need.bondWei;
    const refuse = (code: BuyRefusalCode, reason: string, extra: Partial<BuyRefusal> = {}): BuyDecision => ({
      order,
      refused: needs.slice(k).map((n) => ({ deposit: n.deposit, code, reason, amountTbtc: total, ...extra })),
    });
    const problem = amountInProblem(total, m.reserveWeth, m.reserveTbtc);
    if (problem) return refuse("NO_LIQUIDITY", `the TBTC/WETH pool cannot sell ${eth(total)} TBTC: ${problem}`);
    const expected = getAmountIn(total, m.reserveWeth, m.reserveTbtc);
    const quote = m.routerQuotes[k];
    if (quote !== expected) {
      return refuse("QUOTE_MISMATCH", `the router quotes ${quote === undefined ? "nothing (it reverted)" : `${eth(quote)} ETH`} for ${eth(total)} TBTC, the pool's reserves say ${eth(expected)} ETH: the router does not price this pool`);
    }
    const fair = fairEthWei(total, m.weiPerSat);
    const premium = premiumBp(expected, fair);
    const priceCap = (fair * (BP + p.maxPremiumBp)) / BP;
    if (expected > priceCap) {
      return refuse("PRICE_LIMIT", `${eth(total)} TBTC costs ${eth(expected)} ETH, ${formatBp(premium)} above the system's ETH/BTC price (${eth(fair)} ETH): more than --max-price ${formatBp(p.maxPremiumBp)}`, { expectedEthWei: expected, premiumBp: premium });
    }
    if (allBonded && expected > bonds) {
      return refuse("BOND_LIMIT", `${eth(total)} TBTC costs ${eth(expected)} ETH, more than the ${eth(bonds)} ETH bond it protects: buying would be a loss`, { expectedEthWei: expected, premiumBp: premium });
    }
    const slipCap = (expected * (BP + p.maxSlippageBp) + BP - 1n) / BP;
    const caps = [slipCap, priceCap, ...(allBonded ? [bonds] : [])];
    const maxEth = minOf(...caps);
    const boundBy: BuyOrder["boundBy"] = maxEth === slipCap ? "slippage" : maxEth === priceCap ? "max-price" : "bond";
    if (m.spentTodayWei + maxEth > p.maxEthPerDayWei) {
      return refuse("DAILY_CAP", `buying ${eth(total)} TBTC may spend ${eth(maxEth)} ETH; with ${eth(m.spentTodayWei)} ETH spent in the last 24 h that is over --max-eth-per-day ${eth(p.maxEthPerDayWei)}`, { expectedEthWei: expected, premiumBp: premium });
    }
    const spendable = m.ethBalanceWei - p.minEthWei - m.gasReserveWei;
    if (maxEth > spendable) {
      return refuse("ETH_RESERVE", `buying ${eth(total)} TBTC may spend ${eth(maxEth)} ETH; the account holds ${eth(m.ethBalanceWei)} ETH, of which ${eth(p.minEthWei)} (KEEPCTL_MIN_ETH) and ${eth(m.gasReserveWei)} for gas are not for buying`, { expectedEthWei: expected, premiumBp: premium });
    }
    const covered = needs.slice(0, k + 1);
    order = {
      deposits: covered.flatMap((n) => (n.deposit ? [n.deposit] : [])),
      amountTbtc: total,
      expectedEthWei: expected,
      maxEthWei: maxEth,
      fairEthWei: fair,
      premiumBp: premium,
      bondWei: allBonded ? bonds : 0n,
      boundBy,
      perDeposit: covered.flatMap((n) => (n.deposit ? [{ deposit: n.deposit, amountTbtc: n.amountTbtc, bondWei: n.bondWei ?? 0n }] : [])),
    };
  }
  return { order, refused: [] };
}

/** What the journal says about one buy (the fields read here, structurally a JournalEntry). */
export interface BuyJournalEntry {
  key: string;
  state: string;
  status?: number;
  account?: string;
  updatedAt: string;
  meta?: Record<string, unknown>;
}

const BUY_KEY = /:buy-tbtc(:|$)/;
export const isBuyKey = (key: string): boolean => BUY_KEY.test(key);

/** A swap whose ETH may be gone: mined successfully, or signed and possibly in a pool. */
function mayHaveSpent(e: BuyJournalEntry): boolean {
  return (e.state === "mined" && e.status === 1) || e.state === "sending" || e.state === "sent";
}

/**
 * ETH the account's swaps may have spent since `sinceMs`: each at its ETH value (the journal knows
 * what was signed, not what the router refunded), so the daily cap holds in the worst case.
 */
export function ethSpentSince(entries: Iterable<BuyJournalEntry>, account: string, sinceMs: number): bigint {
  let sum = 0n;
  for (const e of entries) {
    if (!isBuyKey(e.key) || e.account?.toLowerCase() !== account.toLowerCase() || !mayHaveSpent(e)) continue;
    if (Date.parse(e.updatedAt) < sinceMs) continue;
    const v = e.meta?.maxEthWei;
    if (typeof v === "string" && /^\d+$/.test(v)) sum += BigInt(v);
  }
  return sum;
}

/** Deposits (lower-case) a swap of this account covered, mined or possibly in flight: never bought for again. */
export function depositsBoughtFor(entries: Iterable<BuyJournalEntry>, account: string): Set<string> {
  const out = new Set<string>();
  for (const e of entries) {
    if (!isBuyKey(e.key) || e.account?.toLowerCase() !== account.toLowerCase() || !mayHaveSpent(e)) continue;
    const ds = e.meta?.deposits;
    if (Array.isArray(ds)) for (const d of ds) if (typeof d === "string") out.add(d.toLowerCase());
  }
  return out;
}

/** Gas limits when a step cannot be simulated before the one it depends on (measured on the devnet, × 1.5). */
export const BUY_GAS_FALLBACK = { swap: 250_000n, approve: 60_000n, "request-redemption": 450_000n, "vending-machine": 600_000n } as const;

/** Worst-case gas of a swap and of the redemptions it pays for (each: approve + request) at `maxFeePerGas`. */
export function gasReserveWei(paths: readonly ("request-redemption" | "vending-machine")[], maxFeePerGas: bigint): bigint {
  const gas = paths.reduce<bigint>((s, path) => s + BUY_GAS_FALLBACK.approve + BUY_GAS_FALLBACK[path], BUY_GAS_FALLBACK.swap);
  return gas * maxFeePerGas;
}

/**
 * The swap's deadline (unix seconds): `deadlineSec` after the later of the head's timestamp and the
 * local clock. The next block is stamped with about the wall clock, so on a chain whose last block
 * is older than the window (a quiet chain, a node catching up) the head alone would hand the
 * router a deadline already past. A chain whose clock runs ahead of the local one (a devnet moved
 * forward) is covered by its head only while the head is recent.
 */
export function swapDeadline(headTimestamp: number, nowSec: number, deadlineSec: number): number {
  return Math.max(headTimestamp, nowSec) + deadlineSec;
}

/** The fee the engine would sign now: 2 × base fee + tip, clipped to the cap (the rule of chain/fees.ts). */
export function feeNowWei(baseFeePerGas: bigint, tip: bigint, capWei: bigint): bigint {
  const fee = baseFeePerGas * 2n + tip;
  return fee > capWei ? capWei : fee;
}

/**
 * The cost of one swap per deposit it covers, for the plan's table: each deposit's TBTC and its
 * share of the ETH (pro rata to the TBTC; the last takes the rounding), the bond it protects. The
 * premium is the swap's, the same for all.
 */
export function costPerDeposit(order: Pick<BuyOrder, "perDeposit" | "amountTbtc">, ethWei: bigint): { deposit: string; amountTbtc: bigint; ethWei: bigint; bondWei: bigint }[] {
  let left = ethWei;
  return order.perDeposit.map((p, i) => {
    const share = i === order.perDeposit.length - 1 ? left : order.amountTbtc === 0n ? 0n : (ethWei * p.amountTbtc) / order.amountTbtc;
    left -= share;
    return { deposit: p.deposit, amountTbtc: p.amountTbtc, ethWei: share, bondWei: p.bondWei };
  });
}
