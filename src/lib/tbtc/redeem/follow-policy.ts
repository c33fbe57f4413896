import type { Config } from "../../config";
import type { FollowPolicy } from "./follow-decide";

/** What the follow-up needs of the settings: confirmations before a proof, the fee cap. */
export const DEFAULT_FOLLOW_POLICY: FollowPolicy = { confirmations: 6, maxFeeSats: 100_000n };

export function followPolicyOf(cfg: Pick<Config, "tbtc">): FollowPolicy {
  return { confirmations: cfg.tbtc.btcConfirmations ?? DEFAULT_FOLLOW_POLICY.confirmations, maxFeeSats: BigInt(cfg.tbtc.maxBtcFeeSats ?? DEFAULT_FOLLOW_POLICY.maxFeeSats) };
}
