import { ethers } from "ethers";
import { DEPOSIT_ABI } from "../abis";
import { ERC20_ABI, erc20Interface } from "../../chain/erc20";

export { ERC20_ABI, erc20Interface };

/**
 * The write side of tBTC v1.1.0 that redemption needs. The Deposit interface adds these to the
 * read fragments of abis.ts. Human-readable fragments, checked against the npm artifacts in
 * test/unit/planner.test.ts.
 */
export const DEPOSIT_WRITE_ABI = [
  "function requestRedemption(bytes8 _outputValueBytes, bytes _redeemerOutputScript)",
  "function provideRedemptionSignature(uint8 _v, bytes32 _r, bytes32 _s)",
  "function notifyCourtesyCall()",
] as const;

export const VENDING_MACHINE_ABI = [
  "function tbtcToBtc(address _depositAddress, bytes8 _outputValueBytes, bytes _redeemerOutputScript)",
] as const;

export const ERC721_ABI = ["function ownerOf(uint256 tokenId) view returns (address)"] as const;

export const REDEMPTION_EVENTS_ABI = [
  "event RedemptionRequested(address indexed _depositContractAddress, address indexed _requester, bytes32 indexed _digest, uint256 _utxoValue, bytes _redeemerOutputScript, uint256 _requestedFee, bytes _outpoint)",
  "event GotRedemptionSignature(address indexed _depositContractAddress, bytes32 indexed _digest, bytes32 _r, bytes32 _s, uint256 _timestamp)",
] as const;

export const KEEP_SIGNATURE_ABI = ["event SignatureSubmitted(bytes32 indexed digest, bytes32 r, bytes32 s, uint8 recoveryID)"] as const;

export const depositWriteInterface = new ethers.Interface([...DEPOSIT_ABI, ...DEPOSIT_WRITE_ABI]);
export const vendingMachineInterface = new ethers.Interface(VENDING_MACHINE_ABI);
export const erc721Interface = new ethers.Interface(ERC721_ABI);
export const redemptionEventsInterface = new ethers.Interface(REDEMPTION_EVENTS_ABI);
export const keepSignatureInterface = new ethers.Interface(KEEP_SIGNATURE_ABI);

export const REDEMPTION_REQUESTED_TOPIC = redemptionEventsInterface.getEvent("RedemptionRequested")!.topicHash;
export const GOT_REDEMPTION_SIGNATURE_TOPIC = redemptionEventsInterface.getEvent("GotRedemptionSignature")!.topicHash;
export const SIGNATURE_SUBMITTED_TOPIC = keepSignatureInterface.getEvent("SignatureSubmitted")!.topicHash;

/** TBTCConstants: signature and proof windows after a redemption request. */
export const REDEMPTION_SIGNATURE_TIMEOUT_SEC = 2 * 60 * 60;
export const REDEMPTION_PROOF_TIMEOUT_SEC = 6 * 60 * 60;
