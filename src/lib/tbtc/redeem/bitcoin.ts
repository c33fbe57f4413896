import type { Config } from "../../config";
import type { RedemptionBitcoin } from "./follow";

/**
 * The Bitcoin servers of the configuration, as the follow-up needs them; undefined when none is
 * configured (the follow-up then alerts that redemptions cannot be finished).
 * PENDING: wired to lib/btc's client when it lands (this session).
 */
export async function openRedemptionBitcoin(_cfg: Config, _o: { onWarning?: (m: string) => void } = {}): Promise<{ client: RedemptionBitcoin; close: () => Promise<void> } | undefined> {
  return undefined;
}
