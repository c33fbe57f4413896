import { parseEther, type JsonRpcProvider } from "ethers";
import { gweiToWei } from "../../chain/fees";
import { requireContract, type Config } from "../../config";
import { PRIVATE_RELAY } from "../../chain/private-relay";
import type { JournaledSender } from "../redeem/redeemer";
import { openBuyContext } from "./buy-facts";
import { pctToBp, type BuyPolicy } from "./buy-decide";
import type { BuyDeps } from "./buyer";

/** The buy settings as the pure decision takes them. */
export function buyPolicyOf(cfg: Pick<Config, "tbtc" | "watch">): BuyPolicy {
  return {
    maxPremiumBp: pctToBp(cfg.tbtc.buyMaxPrice),
    maxSlippageBp: pctToBp(cfg.tbtc.buyMaxSlippage),
    maxEthPerDayWei: parseEther(cfg.tbtc.buyMaxEthPerDay),
    minEthWei: parseEther(cfg.watch.minEthBalance),
  };
}

/**
 * What the buy path needs, resolved once: the pool behind contracts.UniswapV2Router02 (checked:
 * a router, its factory, the TBTC/WETH pair), the system's price feed, the bounds, the relay.
 */
export async function openBuyDeps(cfg: Config, provider: JsonRpcProvider, sender: JournaledSender, extra: Pick<BuyDeps, "audit" | "alert" | "emit"> = {}): Promise<BuyDeps> {
  const ctx = await openBuyContext(provider, { system: requireContract(cfg, "TBTCSystem"), token: requireContract(cfg, "TBTCToken"), router: requireContract(cfg, "UniswapV2Router02") });
  return {
    ctx,
    policy: buyPolicyOf(cfg),
    deadlineSec: cfg.tbtc.buyDeadlineSec,
    feeCapWei: gweiToWei(cfg.signing.maxFeeGwei),
    transport: cfg.signing.privateTxUrl ? sender.sender.transportNamed(PRIVATE_RELAY) : undefined,
    ...extra,
  };
}
