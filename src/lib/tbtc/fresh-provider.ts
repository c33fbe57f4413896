import { ethers } from "ethers";
import type { KeepctlProvider } from "../chain/provider";

/**
 * The keepctl provider (failover, retries, timeouts) without ethers' 250 ms response cache.
 * A sender must never see a receipt lookup from before its tx mined: with the cache, "no
 * receipt" followed within 250 ms by "nonce used" reads as NONCE_TAKEN. Every request goes
 * through the inner provider's `_send`, so stats and failover still apply.
 * (Remove once KeepctlProvider itself passes `cacheTimeout: -1`.)
 */
export class FreshProvider extends ethers.JsonRpcProvider {
  constructor(readonly inner: KeepctlProvider, chainId: number | bigint) {
    const network = ethers.Network.from(Number(chainId));
    // The URL is never used: _send below replaces the transport.
    super("http://127.0.0.1:1", network, { staticNetwork: network, cacheTimeout: -1, pollingInterval: 1000 });
  }

  override _send(payload: ethers.JsonRpcPayload | ethers.JsonRpcPayload[]): Promise<ethers.JsonRpcResult[]> {
    return this.inner._send(payload);
  }
}
