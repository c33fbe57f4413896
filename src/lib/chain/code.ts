import type { ethers } from "ethers";
import { ConfigError } from "../errors";

/**
 * An address without code answers every call with empty data and has no events: say so up front
 * (exit 3, fix the address) instead of failing later with a misleading "no data" or decode error.
 */
export async function requireContractCode(provider: ethers.Provider, address: string, what: string, hint: string): Promise<void> {
  if ((await provider.getCode(address)) === "0x") throw new ConfigError(`no contract at ${what} address ${address}`, { code: "NO_CONTRACT", hint });
}
