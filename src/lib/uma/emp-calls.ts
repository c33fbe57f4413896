import { ethers } from "ethers";
import { EMP_ABI } from "./emp-abi";
import { encodeApproveData } from "../chain/erc20";

/**
 * Calldata builders and result decoders for the EMP calls the bots send. They only encode; the
 * transaction engine simulates, signs and sends.
 */
export const empInterface = new ethers.Interface(EMP_ABI);
export { erc20Interface } from "../chain/erc20";

export interface TxRequest {
  to: string;
  data: string;
}

export interface CreateLiquidationArgs {
  sponsor: string;
  minCollateralPerToken: bigint;
  maxCollateralPerToken: bigint;
  maxTokensToLiquidate: bigint;
  deadline: bigint;
}

/** createLiquidation calldata; accepts a LiquidationDecision ({sponsor, tokens, ...}) or explicit args. */
export function encodeCreateLiquidation(emp: string, a: CreateLiquidationArgs | { sponsor: string; tokens: bigint; minCollateralPerToken: bigint; maxCollateralPerToken: bigint; deadline: bigint }): TxRequest {
  const maxTokens = "maxTokensToLiquidate" in a ? a.maxTokensToLiquidate : a.tokens;
  return {
    to: ethers.getAddress(emp),
    data: empInterface.encodeFunctionData("createLiquidation", [
      a.sponsor, { rawValue: a.minCollateralPerToken }, { rawValue: a.maxCollateralPerToken }, { rawValue: maxTokens }, a.deadline,
    ]),
  };
}

export function encodeDispute(emp: string, liquidationId: bigint, sponsor: string): TxRequest {
  return { to: ethers.getAddress(emp), data: empInterface.encodeFunctionData("dispute", [liquidationId, sponsor]) };
}

export function encodeWithdrawLiquidation(emp: string, liquidationId: bigint, sponsor: string): TxRequest {
  return { to: ethers.getAddress(emp), data: empInterface.encodeFunctionData("withdrawLiquidation", [liquidationId, sponsor]) };
}

export function encodeApprove(token: string, spender: string, amount: bigint = ethers.MaxUint256): TxRequest {
  return { to: ethers.getAddress(token), data: encodeApproveData(spender, amount) };
}

export interface WithdrawLiquidationResult {
  paidToSponsor: bigint;
  paidToLiquidator: bigint;
  paidToDisputer: bigint;
}

/** Decodes an eth_call of withdrawLiquidation: what the call would pay each party. */
export function decodeWithdrawLiquidationResult(returnData: string): WithdrawLiquidationResult {
  const [r] = empInterface.decodeFunctionResult("withdrawLiquidation", returnData);
  return { paidToSponsor: r[3].rawValue, paidToLiquidator: r[4].rawValue, paidToDisputer: r[5].rawValue };
}

export interface CreateLiquidationResult {
  liquidationId: bigint;
  tokensLiquidated: bigint;
  finalFeeBond: bigint;
}

/** Decodes an eth_call of createLiquidation. */
export function decodeCreateLiquidationResult(returnData: string): CreateLiquidationResult {
  const r = empInterface.decodeFunctionResult("createLiquidation", returnData);
  return { liquidationId: r[0], tokensLiquidated: r[1].rawValue, finalFeeBond: r[2].rawValue };
}

/** Decodes an eth_call of dispute: the collateral it takes (bond + final fee). */
export function decodeDisputeResult(returnData: string): bigint {
  return empInterface.decodeFunctionResult("dispute", returnData)[0].rawValue;
}

/** The sponsor's calls: each takes FixedPoint amounts ({rawValue}) or nothing. */
export type SponsorCall =
  | { fn: "create"; collateral: bigint; tokens: bigint }
  | { fn: "deposit" | "withdraw" | "requestWithdrawal"; collateral: bigint }
  | { fn: "redeem" | "repay"; tokens: bigint }
  | { fn: "withdrawPassedRequest" | "cancelWithdrawal" | "expire" | "settleExpired" };

export function encodeSponsorCall(emp: string, c: SponsorCall): TxRequest {
  const raw = (v: bigint) => ({ rawValue: v });
  const args = c.fn === "create" ? [raw(c.collateral), raw(c.tokens)]
    : "collateral" in c ? [raw(c.collateral)]
      : "tokens" in c ? [raw(c.tokens)]
        : [];
  return { to: ethers.getAddress(emp), data: empInterface.encodeFunctionData(c.fn, args) };
}
