import { ethers } from "ethers";
import { KeepctlError, ExitCode } from "../errors";
import type { PricePoint } from "./twap";

/** topic0 of `UpdateRedemptionRate(uint256 marketPrice, uint256 redemptionPrice, uint256 redemptionRate)`. */
export const UPDATE_REDEMPTION_RATE_TOPIC = "0x16abce12916e67b821a9cdabe7103d806d6f4280a69d5830925b3e34c83f52a8";

export const RATE_SETTER_ABI = [
  "event UpdateRedemptionRate(uint256 marketPrice, uint256 redemptionPrice, uint256 redemptionRate)",
  "function lastUpdateTime() view returns (uint256)",
  "function updateRateDelay() view returns (uint256)",
];
export const rateSetterInterface = new ethers.Interface(RATE_SETTER_ABI);

/** Reflexer's mainnet contracts live with the other presets (plain preset data). */
export { MAINNET_RAI_CONTRACTS } from "../presets";

/** Defaults from the seed deployment. */
export const DEFAULT_TWAP_LENGTH = 28_800;
export const DEFAULT_LOOKBACK = 28_800;
export const DEFAULT_UPDATE_RATE_DELAY = 10_800;

export type RaiSource = "subgraph" | "events";

/** One redemption-rate change. `price` is the annualized rate in wei (18 decimals), recomputed exactly. */
export interface RateObservation extends PricePoint {
  timestamp: number;
  block: number;
  logIndex?: number;
  perSecondRate: bigint;
  price: bigint;
  source: RaiSource;
  txHash?: string;
}

/** Time range in unix seconds, both ends included. */
export interface TimeWindow {
  start: number;
  end: number;
}

/** No second of the window is covered by a known rate: there is no price. Exit 7. */
export class NoPriceError extends KeepctlError {
  constructor(message: string, opts: { hint?: string; details?: Record<string, unknown> } = {}) {
    super("NO_PRICE", ExitCode.NO_DATA, message, opts);
  }
}

/** Asked for a time outside the range the feed fetched (the lookback guard). Exit 2. */
export class LookbackError extends KeepctlError {
  constructor(message: string, opts: { hint?: string; details?: Record<string, unknown> } = {}) {
    super("OUT_OF_LOOKBACK", ExitCode.USAGE, message, opts);
  }
}

/** The subgraph failed (HTTP error, timeout, GraphQL errors, bad data). Exit 4. */
export class SubgraphError extends KeepctlError {
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super("SUBGRAPH", ExitCode.RPC, message, opts);
  }
}
