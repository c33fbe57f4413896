import { ethers } from "ethers";
import { depositInterface, keepInterface } from "../src/lib/tbtc/abis";
import { decodeKeepCreated, matchingMembers, operatorSet } from "../src/lib/tbtc/read/keeps";

/** Anything that answers raw JSON-RPC calls, one at a time. */
interface RawRpc { send(method: string, params: unknown[]): Promise<unknown> }

/**
 * The sequential baseline's reads (the seed's way): the operator's keeps from the factory's
 * creation logs, then the facts list-keeps shows, one getter per call, one call at a time. The
 * contract's collateralizationPercentage() was the original's only way to a collateral figure.
 * Returns how many of the operator's keeps it read.
 */
export async function readOneAtATime(p: RawRpc, logs: ethers.Log[], operator: string): Promise<number> {
  const ops = operatorSet([operator]);
  const keeps = logs
    .map((l) => decodeKeepCreated({ ...l, blockNumber: Number(l.blockNumber) } as ethers.Log))
    .filter((k) => matchingMembers(k.members, ops).length > 0);
  const call = async (to: string, iface: ethers.Interface, fn: string) =>
    iface.decodeFunctionResult(fn, (await p.send("eth_call", [{ to, data: iface.encodeFunctionData(fn) }, "latest"])) as string)[0];
  for (const k of keeps) {
    for (const fn of ["currentState", "lotSizeSatoshis", "collateralizationPercentage", "initialCollateralizedPercent",
      "undercollateralizedThresholdPercent", "severelyUndercollateralizedThresholdPercent", "remainingTerm"]) {
      await call(k.deposit, depositInterface, fn);
    }
    for (const fn of ["checkBondAmount", "isActive", "isClosed"]) await call(k.keep, keepInterface, fn);
  }
  return keeps.length;
}
