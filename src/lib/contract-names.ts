import { TBTC_CONTRACT_NAMES } from "./presets";

/**
 * Every contract name keepctl knows, in one list. A name outside it (`TBTCSytem=`, `tbtcsystem=`)
 * used to become an entry nobody reads while the real one stayed unset; now it is refused with the
 * closest known name. Add a name here when code starts reading `contracts.<Name>`.
 */

/** Read by the code: `requireContract(cfg, Name)` or `contracts.Name`. */
export const CONTRACT_NAMES_READ = [
  ...TBTC_CONTRACT_NAMES,
  "Multicall3",
  "RateSetter",
  "ExpiringMultiParty",
  "ExpiringMultiPartyCreator",
  "UmaFinder",
  "EmpCollateralToken",
  "UniswapV2Router02",
] as const;

/**
 * Recorded beside them but not read: the mainnet preset's OracleRelayer and the addresses
 * `keepctl devnet` writes for people and tests (its doubles and the UMA contracts around the EMP).
 */
export const CONTRACT_NAMES_RECORDED = [
  "OracleRelayer",
  "Medianizer",
  "Relay",
  "SatWeiPriceFeed",
  "DepositMaster",
  "EmpSyntheticToken",
  "UmaMockOracle",
  "UmaStore",
  "UmaIdentifierWhitelist",
  "UmaRegistry",
  "UmaCollateralWhitelist",
  "UmaOptimisticOracle",
  "UmaTokenFactory",
  "UniswapV2Factory",
  "WETH",
  "TbtcWethPair",
] as const;

export const KNOWN_CONTRACT_NAMES: readonly string[] = [...CONTRACT_NAMES_READ, ...CONTRACT_NAMES_RECORDED];

/** The prefix of a user's own entries (notes, addresses keepctl never reads), in files and KEEPCTL_CONTRACTS alike. */
export const USER_KEY_PREFIX = "x-";

export function isKnownContractName(name: string): boolean {
  return KNOWN_CONTRACT_NAMES.includes(name) || name.startsWith(USER_KEY_PREFIX);
}
