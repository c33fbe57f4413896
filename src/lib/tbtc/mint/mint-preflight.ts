import { ethers } from "ethers";
import { InsufficientFundsError, UsageError } from "../../errors";
import { erc20Interface } from "../../chain/erc20";
import { mintSystemInterface } from "./mint-abi";
import { readSystemFacts } from "./mint-facts";
import { FUNDING_TIMEOUT_SEC, fundingTargetBlocks } from "./mint-decide";
import { checkBtcCovers } from "./mint-funding";
import type { MintDeps } from "./mint-flow";

/**
 * Before a new mint order is written or anything sent: the lot must be one the system allows, the
 * account must hold the opening fees and the gas, the Bitcoin wallet the lots and the fee. Each
 * refusal names what is missing (exit 2 for the lot, exit 6 for a shortfall).
 */
/** Gas of one deposit's Ethereum steps (createDeposit, retrieveSignerPubkey, the proof, approve, tdtToTbtc), with margin. */
export const MINT_GAS_PER_DEPOSIT = 2_500_000n;

export interface MintPlan {
  openingFeeWei: bigint;
  worstCaseEthWei: bigint;
  ethBalanceWei: bigint;
  btcFeeSats: bigint;
  btcFeeRateSatVb: number;
  expectedTbtcWei: bigint;
}

export async function preflightMint(d: MintDeps, o: { lotSats: bigint; count: number; reservedInputs: ReadonlySet<string> }): Promise<MintPlan> {
  const { feeWei, allowedLots } = await readSystemFacts(d.provider, d.contracts);
  if (!allowedLots.includes(o.lotSats)) {
    throw new UsageError(`the tBTC system does not allow a lot of ${ethers.formatUnits(o.lotSats, 8)} BTC`, {
      hint: `choose one of ${allowedLots.map((l) => ethers.formatUnits(l, 8)).join(", ")} BTC (TBTCSystem.getAllowedLotSizes)`,
    });
  }
  const [balance, feeData, divisorRaw] = await Promise.all([
    d.provider.getBalance(d.sender.address),
    d.provider.getFeeData(),
    d.provider.send("eth_call", [{ to: d.contracts.system, data: mintSystemInterface.encodeFunctionData("getSignerFeeDivisor") }, "latest"]),
  ]);
  const gasPrice = feeData.maxFeePerGas ?? feeData.gasPrice ?? 0n;
  const worst = BigInt(o.count) * (feeWei + MINT_GAS_PER_DEPOSIT * gasPrice);
  if (balance < worst) {
    throw new InsufficientFundsError(`not enough ETH: ${o.count} deposit(s) need ${ethers.formatEther(worst)} ETH (opening fee ${ethers.formatEther(feeWei)} each and gas), the account holds ${ethers.formatEther(balance)}; short by ${ethers.formatEther(worst - balance)} ETH`, {
      hint: "send the shortfall to the signing account, or mint fewer lots",
      details: { shortfallWei: worst - balance },
    });
  }
  const btc = await checkBtcCovers(d.wallet, o.lotSats, o.count, { targetBlocks: fundingTargetBlocks(0, FUNDING_TIMEOUT_SEC, d.confirmations), reserved: o.reservedInputs });
  const divisor = BigInt(mintSystemInterface.decodeFunctionResult("getSignerFeeDivisor", divisorRaw)[0] as bigint);
  const lotTbtc = o.lotSats * 10n ** 10n;
  return { openingFeeWei: feeWei, worstCaseEthWei: worst, ethBalanceWei: balance, btcFeeSats: btc.feeSats, btcFeeRateSatVb: btc.feeRateSatVb, expectedTbtcWei: BigInt(o.count) * (lotTbtc - lotTbtc / divisor) };
}

export async function tbtcBalance(p: ethers.JsonRpcProvider, token: string, who: string): Promise<bigint> {
  const raw = await p.send("eth_call", [{ to: token, data: erc20Interface.encodeFunctionData("balanceOf", [who]) }, "latest"]);
  return erc20Interface.decodeFunctionResult("balanceOf", raw)[0] as bigint;
}

export { readSystemFacts };
