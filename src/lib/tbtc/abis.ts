import { ethers } from "ethers";

/**
 * The slices of the tBTC v1.1.0 and keep-ecdsa 1.2.1 ABIs keepctl reads. Written as
 * human-readable fragments (checked against the npm artifacts in test) so that the built CLI does
 * not need the large artifact JSONs at run time. v1.1.0 renamed many getters; these are the new names.
 */
export const DEPOSIT_ABI = [
  "function currentState() view returns (uint256)",
  "function inActive() view returns (bool)",
  "function lotSizeSatoshis() view returns (uint64)",
  "function lotSizeTbtc() view returns (uint256)",
  "function signerFeeTbtc() view returns (uint256)",
  "function keepAddress() view returns (address)",
  "function remainingTerm() view returns (uint256)",
  "function collateralizationPercentage() view returns (uint256)",
  "function initialCollateralizedPercent() view returns (uint16)",
  "function undercollateralizedThresholdPercent() view returns (uint16)",
  "function severelyUndercollateralizedThresholdPercent() view returns (uint16)",
  "function utxoValue() view returns (uint256)",
  "function getRedemptionTbtcRequirement(address _redeemer) view returns (uint256)",
  "function getOwnerRedemptionTbtcRequirement(address _redeemer) view returns (uint256)",
] as const;

export const KEEP_ABI = [
  "function getMembers() view returns (address[])",
  "function getOwner() view returns (address)",
  "function isActive() view returns (bool)",
  "function isClosed() view returns (bool)",
  "function isTerminated() view returns (bool)",
  "function checkBondAmount() view returns (uint256)",
] as const;

export const KEEP_FACTORY_ABI = [
  "event BondedECDSAKeepCreated(address indexed keepAddress, address[] members, address indexed owner, address indexed application, uint256 honestThreshold)",
] as const;

export const TBTC_SYSTEM_ABI = [
  "function fetchBitcoinPrice() view returns (uint256)",
  "event Created(address indexed _depositContractAddress, address indexed _keepAddress, uint256 _timestamp)",
  "event Funded(address indexed _depositContractAddress, bytes32 indexed _txid, uint256 _timestamp)",
  "event CourtesyCalled(address indexed _depositContractAddress, uint256 _timestamp)",
  "event ExitedCourtesyCall(address indexed _depositContractAddress, uint256 _timestamp)",
  "event StartedLiquidation(address indexed _depositContractAddress, bool _wasFraud, uint256 _timestamp)",
  "event Liquidated(address indexed _depositContractAddress, uint256 _timestamp)",
  "event Redeemed(address indexed _depositContractAddress, bytes32 indexed _txid, uint256 _timestamp)",
  "event SetupFailed(address indexed _depositContractAddress, uint256 _timestamp)",
] as const;

export const depositInterface = new ethers.Interface(DEPOSIT_ABI);
export const keepInterface = new ethers.Interface(KEEP_ABI);
export const keepFactoryInterface = new ethers.Interface(KEEP_FACTORY_ABI);
export const systemInterface = new ethers.Interface(TBTC_SYSTEM_ABI);

export const KEEP_CREATED_TOPIC = keepFactoryInterface.getEvent("BondedECDSAKeepCreated")!.topicHash;
export const COURTESY_CALLED_TOPIC = systemInterface.getEvent("CourtesyCalled")!.topicHash;
export const EXITED_COURTESY_CALL_TOPIC = systemInterface.getEvent("ExitedCourtesyCall")!.topicHash;
export const FUNDED_TOPIC = systemInterface.getEvent("Funded")!.topicHash;

/** Deposit.currentState() values, index = on-chain number (DepositStates.States). */
export const DEPOSIT_STATES = [
  "START",
  "AWAITING_SIGNER_SETUP",
  "AWAITING_BTC_FUNDING_PROOF",
  "FAILED_SETUP",
  "ACTIVE",
  "AWAITING_WITHDRAWAL_SIGNATURE",
  "AWAITING_WITHDRAWAL_PROOF",
  "REDEEMED",
  "COURTESY_CALL",
  "FRAUD_LIQUIDATION_IN_PROGRESS",
  "LIQUIDATION_IN_PROGRESS",
  "LIQUIDATED",
] as const;
export type DepositStateName = (typeof DEPOSIT_STATES)[number];

export const State = Object.fromEntries(DEPOSIT_STATES.map((n, i) => [n, i])) as Record<DepositStateName, number>;

/** States a deposit never leaves: once seen, it is cached and never read again. */
export const FINAL_STATES: ReadonlySet<number> = new Set([State.FAILED_SETUP, State.REDEEMED, State.LIQUIDATED]);

/** Where collateral matters: a signer can be courtesy-called or liquidated only from these. */
export const COLLATERALIZED_STATES: ReadonlySet<number> = new Set([State.ACTIVE, State.COURTESY_CALL]);

/** TBTCConstants.COURTESY_CALL_DURATION: after this the courtesy call may be turned into liquidation. */
export const COURTESY_CALL_DURATION_SEC = 6 * 60 * 60;

/** TBTCConstants.DEPOSIT_TERM_LENGTH: remainingTerm() = fundedAt + this - now (Funded carries fundedAt). */
export const DEPOSIT_TERM_SEC = 180 * 24 * 60 * 60;

export function stateName(code: number): string {
  return DEPOSIT_STATES[code] ?? `UNKNOWN_${code}`;
}

/** Parses a state given by name (any case, `-` or `_`) or number; undefined when unknown. */
export function parseStateName(raw: string): number | undefined {
  const t = raw.trim();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    return n < DEPOSIT_STATES.length ? n : undefined;
  }
  const i = DEPOSIT_STATES.indexOf(t.toUpperCase().replace(/-/g, "_") as DepositStateName);
  return i >= 0 ? i : undefined;
}
