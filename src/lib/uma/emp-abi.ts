/**
 * The slice of the ExpiringMultiParty ABI keepctl uses, as human-readable fragments. Kept here
 * rather than loaded from @uma/contracts-node (a development dependency of 50 MB) so the CLI ships
 * without it; test/unit/uma-abi.test.ts checks every fragment against the published artifact.
 */
export const EMP_ABI = [
  "function collateralRequirement() view returns (uint256 rawValue)",
  "function minSponsorTokens() view returns (uint256 rawValue)",
  "function liquidationLiveness() view returns (uint256)",
  "function withdrawalLiveness() view returns (uint256)",
  "function expirationTimestamp() view returns (uint256)",
  "function disputeBondPercentage() view returns (uint256 rawValue)",
  "function sponsorDisputeRewardPercentage() view returns (uint256 rawValue)",
  "function disputerDisputeRewardPercentage() view returns (uint256 rawValue)",
  "function priceIdentifier() view returns (bytes32)",
  "function contractState() view returns (uint8)",
  "function getCurrentTime() view returns (uint256)",
  "function cumulativeFeeMultiplier() view returns (uint256 rawValue)",
  "function collateralCurrency() view returns (address)",
  "function tokenCurrency() view returns (address)",
  "function finder() view returns (address)",
  "function timerAddress() view returns (address)",
  "function totalTokensOutstanding() view returns (uint256 rawValue)",
  "function positions(address) view returns ((uint256 rawValue) tokensOutstanding, uint256 withdrawalRequestPassTimestamp, (uint256 rawValue) withdrawalRequestAmount, (uint256 rawValue) rawCollateral, uint256 transferPositionRequestPassTimestamp)",
  "function getCollateral(address sponsor) view returns ((uint256 rawValue))",
  "function getLiquidations(address sponsor) view returns ((address sponsor, address liquidator, uint8 state, uint256 liquidationTime, (uint256 rawValue) tokensOutstanding, (uint256 rawValue) lockedCollateral, (uint256 rawValue) liquidatedCollateral, (uint256 rawValue) rawUnitCollateral, address disputer, (uint256 rawValue) settlementPrice, (uint256 rawValue) finalFee)[] liquidationData)",
  "function createLiquidation(address sponsor, (uint256 rawValue) minCollateralPerToken, (uint256 rawValue) maxCollateralPerToken, (uint256 rawValue) maxTokensToLiquidate, uint256 deadline) returns (uint256 liquidationId, (uint256 rawValue) tokensLiquidated, (uint256 rawValue) finalFeeBond)",
  "function dispute(uint256 liquidationId, address sponsor) returns ((uint256 rawValue) totalPaid)",
  "function withdrawLiquidation(uint256 liquidationId, address sponsor) returns (((uint256 rawValue) payToSponsor, (uint256 rawValue) payToLiquidator, (uint256 rawValue) payToDisputer, (uint256 rawValue) paidToSponsor, (uint256 rawValue) paidToLiquidator, (uint256 rawValue) paidToDisputer))",
  "event LiquidationCreated(address indexed sponsor, address indexed liquidator, uint256 indexed liquidationId, uint256 tokensOutstanding, uint256 lockedCollateral, uint256 liquidatedCollateral, uint256 liquidationTime)",
  "event LiquidationDisputed(address indexed sponsor, address indexed liquidator, address indexed disputer, uint256 liquidationId, uint256 disputeBondAmount)",
  "event DisputeSettled(address indexed caller, address indexed sponsor, address indexed liquidator, address disputer, uint256 liquidationId, bool disputeSucceeded)",
  "event LiquidationWithdrawn(address indexed caller, uint256 paidToLiquidator, uint256 paidToDisputer, uint256 paidToSponsor, uint8 indexed liquidationStatus, uint256 settlementPrice)",
  "event NewSponsor(address indexed sponsor)",
  "event EndedSponsorPosition(address indexed sponsor)",
  "event PositionCreated(address indexed sponsor, uint256 indexed collateralAmount, uint256 indexed tokenAmount)",
  "event RequestWithdrawal(address indexed sponsor, uint256 indexed collateralAmount)",
] as const;

export { ERC20_ABI } from "../chain/erc20";
