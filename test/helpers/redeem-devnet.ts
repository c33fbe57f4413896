import path from "node:path";
import { ethers } from "ethers";
import { startDevnet, devnetWallet, type Devnet } from "../../src/devnet/scenario";
import { openDeposit } from "../../src/devnet/deposits";
import { send } from "../../src/devnet/tbtc";

/**
 * The redemption e2e tests' common chain: a fresh devnet (no seed) with `count` deposits of
 * `lotSats` signed by `operator` (devnet wallet 1), one more of another operator's (its TBTC is
 * what the redeemer is handed; it is never ours to redeem), and a fresh redeemer key holding
 * 10 ETH and `tbtcWei` TBTC.
 */
export interface RedeemDevnet {
  devnet: Devnet;
  provider: ethers.JsonRpcProvider;
  deploymentFile: string;
  operator: string;
  deposits: string[];
  redeemer: ethers.Wallet;
}

export const REDEEM_OPERATOR = devnetWallet(1).address;

export async function startRedeemDevnet(home: string, o: { lotSats: bigint; count?: number; tbtcWei: bigint }): Promise<RedeemDevnet> {
  const deploymentFile = path.join(home, "deployment.json");
  const devnet = await startDevnet({ seed: false, out: deploymentFile });
  const provider = new ethers.JsonRpcProvider(devnet.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1 });
  const members = [REDEEM_OPERATOR, devnetWallet(3).address, devnetWallet(4).address];
  const deposits: string[] = [];
  for (let i = 0; i < (o.count ?? 2); i++) deposits.push((await openDeposit(devnet.deployment, { lotSats: o.lotSats, members, fundWith: "vendingMachine" })).deposit);
  await openDeposit(devnet.deployment, { lotSats: 100_000_000n, members: [devnetWallet(5).address, devnetWallet(3).address, devnetWallet(4).address], fundWith: "vendingMachine" });
  const redeemer = new ethers.Wallet(ethers.Wallet.createRandom().privateKey, provider);
  await provider.send("hardhat_setBalance", [redeemer.address, ethers.toQuantity(ethers.parseEther("10"))]);
  await send(devnet.deployment.contracts.tbtcToken.transfer(redeemer.address, o.tbtcWei));
  return { devnet, provider, deploymentFile, operator: REDEEM_OPERATOR, deposits, redeemer };
}
