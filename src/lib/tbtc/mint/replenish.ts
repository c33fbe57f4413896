import { ethers } from "ethers";
import { InsufficientFundsError, KeepctlError, shortMessageOf } from "../../errors";
import { mintSystemInterface } from "./mint-abi";
import { readSystemFacts } from "./mint-facts";
import { mintPass, type MintDeps, type SlotReport } from "./mint-flow";
import { spendableCoins } from "./mint-funding";
import { preflightMint, tbtcBalance } from "./mint-preflight";
import { mintedTbtc, planReplenish, type ReplenishPlan } from "./replenish-decide";
import type { MintAlert } from "./mint-decide";

/**
 * One watch loop's share of `--replenish-to`: the unfinished mint orders of the account each take
 * one pass of the mint flow (the same flow and journals as `keepctl mint`), then, if the TBTC
 * balance plus what those orders will still bring is below the target, new orders are opened for
 * the lots planReplenish chooses. Never more than one step per deposit per loop: a loop stays short.
 */
export interface Replenisher {
  targetTbtc: bigint;
  deps: MintDeps;
  /** Kept back for funding fees when sizing new lots (default 100 000 sat). */
  btcFeeReserveSats?: bigint;
}

export interface ReplenishOutcome {
  plan?: ReplenishPlan;
  balanceTbtc: bigint;
  inFlightTbtc: bigint;
  opened: { order: string; lotSats: bigint; count: number }[];
  reports: SlotReport[];
  alerts: MintAlert[];
}

export async function replenishPass(r: Replenisher, o: { redemptionNeedsMeans: boolean }): Promise<ReplenishOutcome> {
  const d = r.deps;
  const me = d.sender.address;
  const [system, divisorRaw, balance] = await Promise.all([
    readSystemFacts(d.provider, d.contracts),
    d.provider.send("eth_call", [{ to: d.contracts.system, data: mintSystemInterface.encodeFunctionData("getSignerFeeDivisor") }, "latest"]),
    tbtcBalance(d.provider, d.contracts.token, me),
  ]);
  const divisor = BigInt(mintSystemInterface.decodeFunctionResult("getSignerFeeDivisor", divisorRaw)[0] as bigint);
  const out: ReplenishOutcome = { balanceTbtc: balance, inFlightTbtc: 0n, opened: [], reports: [], alerts: [] };

  // 1. What is already under way moves on by one pass.
  for (const order of d.journal.unfinished(me)) {
    const { reports } = await mintPass(d, order.id);
    out.reports.push(...reports);
    for (const rep of reports) out.alerts.push(...rep.alerts);
  }
  // 2. What the unfinished orders will still bring counts as minted: one shortfall, one set of mints.
  const state = d.journal.read();
  for (const order of d.journal.unfinished(me)) {
    const open = order.count - state.orders.get(order.id)!.ended.size;
    out.inFlightTbtc += BigInt(open) * mintedTbtc(order.lotSats, divisor);
  }
  const reserved = new Set([...state.fundings.values()].flatMap((f) => f.inputs));
  const spendable = (await spendableCoins(d.wallet, reserved)).reduce((s, u) => s + u.valueSats, 0n);
  const plan = planReplenish({
    balanceTbtc: balance, targetTbtc: r.targetTbtc, inFlightTbtc: out.inFlightTbtc, allowedLotsSats: system.allowedLots, signerFeeDivisor: divisor,
    spendableSats: spendable, btcFeeReserveSats: r.btcFeeReserveSats ?? 100_000n, redemptionNeedsMeans: o.redemptionNeedsMeans,
  });
  out.plan = plan;
  if (plan.reason) out.alerts.push({ key: `replenish:${me}`, level: plan.lotsSats.length ? "info" : "warning", title: "TBTC not replenished", text: `TBTC ${ethers.formatUnits(balance, 18)} + ${ethers.formatUnits(out.inFlightTbtc, 18)} in flight, target ${ethers.formatUnits(r.targetTbtc, 18)}: ${plan.reason}` });

  // 3. New orders, one per lot size, each checked like `keepctl mint` before it is written.
  const counts = new Map<bigint, number>();
  for (const l of plan.lotsSats) counts.set(l, (counts.get(l) ?? 0) + 1);
  for (const [lotSats, count] of counts) {
    try {
      await preflightMint(d, { lotSats, count, reservedInputs: reserved });
    } catch (e) {
      if (!(e instanceof KeepctlError)) throw e;
      out.alerts.push({ key: `replenish-refused:${me}`, level: e instanceof InsufficientFundsError ? "warning" : "critical", title: "replenishing mint refused", text: `${count} × ${ethers.formatUnits(lotSats, 8)} BTC: ${shortMessageOf(e)}` });
      continue;
    }
    const order = d.journal.newOrder(me, lotSats, count);
    out.opened.push({ order: order.id, lotSats, count });
    const { reports } = await mintPass(d, order.id);
    out.reports.push(...reports);
    for (const rep of reports) out.alerts.push(...rep.alerts);
  }
  return out;
}
