import { ethers } from "ethers";

/** The ERC-20 surface every room uses (TBTC, the EMP's collateral and synthetic). */
export const ERC20_ABI = [
  "function balanceOf(address) view returns (uint256)",
  "function allowance(address owner, address spender) view returns (uint256)",
  "function approve(address spender, uint256 amount) returns (bool)",
  "function decimals() view returns (uint8)",
  "function symbol() view returns (string)",
] as const;

export const erc20Interface = new ethers.Interface(ERC20_ABI);

/** Calldata of `approve(spender, amount)`. */
export function encodeApproveData(spender: string, amount: bigint): string {
  return erc20Interface.encodeFunctionData("approve", [spender, amount]);
}
