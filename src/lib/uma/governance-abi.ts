/**
 * Fragments of UMA's contracts around an EMP that keepctl reads or calls: the
 * ExpiringMultiPartyCreator (emp-launch), the Finder and what it points to (the identifier and
 * collateral whitelists, the Registry, the Store), and the Optimistic Oracle that prices an EMP's
 * expiry. Checked against the published artifacts by test/unit/uma-abi.test.ts.
 */
export const CREATOR_ABI = [
  "function createExpiringMultiParty((uint256 expirationTimestamp, address collateralAddress, bytes32 priceFeedIdentifier, string syntheticName, string syntheticSymbol, (uint256 rawValue) collateralRequirement, (uint256 rawValue) disputeBondPercentage, (uint256 rawValue) sponsorDisputeRewardPercentage, (uint256 rawValue) disputerDisputeRewardPercentage, (uint256 rawValue) minSponsorTokens, uint256 withdrawalLiveness, uint256 liquidationLiveness, address financialProductLibraryAddress) params) returns (address)",
  "function tokenFactoryAddress() view returns (address)",
  "event CreatedExpiringMultiParty(address indexed expiringMultiPartyAddress, address indexed deployerAddress)",
] as const;

export const FINDER_ABI = ["function getImplementationAddress(bytes32 interfaceName) view returns (address)"] as const;
export const IDENTIFIER_WHITELIST_ABI = ["function isIdentifierSupported(bytes32 identifier) view returns (bool)"] as const;
export const ADDRESS_WHITELIST_ABI = ["function isOnWhitelist(address elementToCheck) view returns (bool)"] as const;
export const REGISTRY_ABI = [
  "function holdsRole(uint256 roleId, address memberToCheck) view returns (bool)",
  "function isContractRegistered(address contractAddress) view returns (bool)",
] as const;
export const STORE_ABI = ["function computeFinalFee(address currency) view returns ((uint256 rawValue))"] as const;

export const OPTIMISTIC_ORACLE_ABI = [
  "function hasPrice(address requester, bytes32 identifier, uint256 timestamp, bytes ancillaryData) view returns (bool)",
  "function getState(address requester, bytes32 identifier, uint256 timestamp, bytes ancillaryData) view returns (uint8)",
  "function getRequest(address requester, bytes32 identifier, uint256 timestamp, bytes ancillaryData) view returns ((address proposer, address disputer, address currency, bool settled, bool refundOnDispute, int256 proposedPrice, int256 resolvedPrice, uint256 expirationTime, uint256 reward, uint256 finalFee, uint256 bond, uint256 customLiveness))",
  "function proposePrice(address requester, bytes32 identifier, uint256 timestamp, bytes ancillaryData, int256 proposedPrice) returns (uint256 totalBond)",
  "function settleAndGetPrice(bytes32 identifier, uint256 timestamp, bytes ancillaryData) returns (int256)",
  "function defaultLiveness() view returns (uint256)",
  "event RequestPrice(address indexed requester, bytes32 identifier, uint256 timestamp, bytes ancillaryData, address currency, uint256 reward, uint256 finalFee)",
  "event ProposePrice(address indexed requester, address indexed proposer, bytes32 identifier, uint256 timestamp, bytes ancillaryData, int256 proposedPrice, uint256 expirationTimestamp, address currency)",
] as const;

/** The Optimistic Oracle's request states (OptimisticOracleInterface.State). */
export const OO_STATE = ["Invalid", "Requested", "Proposed", "Expired", "Disputed", "Resolved", "Settled"] as const;

/** Registry.Roles: the Creator must hold ContractCreator to register the EMPs it makes. */
export const REGISTRY_CONTRACT_CREATOR_ROLE = 1n;

/** The Finder's names (UMA's OracleInterfaces). */
export const FINDER_KEYS = {
  IdentifierWhitelist: "IdentifierWhitelist",
  CollateralWhitelist: "CollateralWhitelist",
  Registry: "Registry",
  Store: "Store",
  Oracle: "Oracle",
  OptimisticOracle: "OptimisticOracle",
} as const;
