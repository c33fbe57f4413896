import { ethers } from "ethers";

/**
 * The tBTC v1.1.0 surface minting needs, as human-readable fragments (checked against the npm
 * artifacts in test/unit/tbtc-mint-decide.test.ts).
 */
export const MINT_DEPOSIT_ABI = [
  "function currentState() view returns (uint256)",
  "function keepAddress() view returns (address)",
  "function lotSizeSatoshis() view returns (uint64)",
  "function signerFeeTbtc() view returns (uint256)",
  "function withdrawableAmount() view returns (uint256)",
  "function retrieveSignerPubkey()",
  "function provideBTCFundingProof(bytes4 _txVersion, bytes _txInputVector, bytes _txOutputVector, bytes4 _txLocktime, uint8 _fundingOutputIndex, bytes _merkleProof, uint256 _txIndexInBlock, bytes _bitcoinHeaders)",
  "function notifySignerSetupFailed()",
  "function notifyFundingTimedOut()",
  "function withdrawFunds()",
  "function requestFunderAbort(bytes _abortOutputScript)",
] as const;

export const MINT_SYSTEM_ABI = [
  "function getNewDepositFeeEstimate() view returns (uint256)",
  "function getAllowedLotSizes() view returns (uint64[])",
  "function getSignerFeeDivisor() view returns (uint16)",
  "function fetchRelayCurrentDifficulty() view returns (uint256)",
  "function fetchRelayPreviousDifficulty() view returns (uint256)",
  "event Created(address indexed _depositContractAddress, address indexed _keepAddress, uint256 _timestamp)",
  "event RegisteredPubkey(address indexed _depositContractAddress, bytes32 _signingGroupPubkeyX, bytes32 _signingGroupPubkeyY, uint256 _timestamp)",
] as const;

export const DEPOSIT_FACTORY_ABI = ["function createDeposit(uint64 _lotSizeSatoshis) payable returns (address)", "event DepositCloneCreated(address depositCloneAddress)"] as const;
export const TDT_ABI = ["function ownerOf(uint256 tokenId) view returns (address)", "function getApproved(uint256 tokenId) view returns (address)", "function approve(address to, uint256 tokenId)"] as const;
export const MINT_VENDING_MACHINE_ABI = ["function tdtToTbtc(uint256 _tdtId)"] as const;
export const KEEP_PUBKEY_ABI = ["function getPublicKey() view returns (bytes)"] as const;

export const mintDepositInterface = new ethers.Interface(MINT_DEPOSIT_ABI);
export const mintSystemInterface = new ethers.Interface(MINT_SYSTEM_ABI);
export const depositFactoryInterface = new ethers.Interface(DEPOSIT_FACTORY_ABI);
export const tdtInterface = new ethers.Interface(TDT_ABI);
export const mintVendingMachineInterface = new ethers.Interface(MINT_VENDING_MACHINE_ABI);
export const keepPubkeyInterface = new ethers.Interface(KEEP_PUBKEY_ABI);

export const DEPOSIT_CLONE_CREATED_TOPIC = depositFactoryInterface.getEvent("DepositCloneCreated")!.topicHash;
export const CREATED_TOPIC = mintSystemInterface.getEvent("Created")!.topicHash;
export const REGISTERED_PUBKEY_TOPIC = mintSystemInterface.getEvent("RegisteredPubkey")!.topicHash;
