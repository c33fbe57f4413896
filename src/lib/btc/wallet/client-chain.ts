import { RpcError } from "../../errors";
import { fromHex, toHex } from "../bytes";
import type { BitcoinClient } from "../client";
import { connectBitcoin, type BtcSettings } from "../index";
import type { Unspent } from "../server";
import type { BtcWalletChain, ChainUtxo } from "./chain";
import type { BtcNetwork } from "./network";

export interface OpenedWalletChain {
  chain: BtcWalletChain;
  btc: BitcoinClient;
  close: () => Promise<void>;
}

/**
 * The configured Bitcoin servers, connected (each one's network checked, a first tip verified) on
 * the wallet's network; undefined when none is configured.
 */
export async function openWalletChain(settings: BtcSettings, network: BtcNetwork, o: { onWarning?: (m: string) => void } = {}): Promise<OpenedWalletChain | undefined> {
  if (settings.electrumUrls.length === 0 && settings.esploraUrls.length === 0) return undefined;
  const btc = await connectBitcoin({ ...settings, network }, { onWarning: o.onWarning });
  return { chain: walletChainOf(btc), btc, close: () => btc.close() };
}

/**
 * The data layer's client (src/lib/btc: several servers, failover, every header checked) as the
 * wallet's BtcWalletChain. What a server says about a coin is not taken on its word where it
 * matters: a coin it calls confirmed counts only once its transaction is proven (merkle branch to
 * a verified header, the transaction hashed to its txid) and the proven output pays our script the
 * value claimed; its confirmations come from the verified chain. A coin in the mempool cannot be
 * proven: it is reported with 0 confirmations, and coin selection spends those last.
 */
export function walletChainOf(btc: BitcoinClient): BtcWalletChain {
  // Listings run in parallel; proofs one at a time, so that a server caught lying is refused
  // before the next coin is asked about. After a failure no further proof is asked for (the
  // caller gets that failure; a queued proof must not reconnect a client being closed).
  let proofs: Promise<unknown> = Promise.resolve();
  let failed: unknown;
  const oneAtATime = <T>(fn: () => Promise<T>): Promise<T> => {
    const guarded = () => (failed !== undefined ? Promise.reject(failed) : fn().catch((e: unknown) => {
      failed = e;
      throw e;
    }));
    const run = proofs.then(guarded, guarded);
    proofs = run.catch(() => undefined);
    return run;
  };
  return {
    async unspent(scriptHex) {
      const script = fromHex(scriptHex, "script");
      const coins = await btc.unspent(script);
      const checked: (ChainUtxo | undefined)[] = [];
      for (const c of coins) checked.push(await oneAtATime(() => verifiedCoin(btc, script, c)));
      return checked.filter((c): c is ChainUtxo => c !== undefined);
    },
    async history(scriptHex) {
      return (await btc.history(fromHex(scriptHex, "script"))).map((t) => ({ txid: t.txid, height: t.height }));
    },
    async broadcast(rawHex) {
      return (await btc.broadcast(fromHex(rawHex, "transaction"))).txid;
    },
    async feeRate(targetBlocks) {
      const rate = await btc.feeRate(targetBlocks);
      if (rate === undefined) {
        throw new RpcError(`no Bitcoin server gave a fee estimate for confirmation within ${targetBlocks} blocks`, { code: "BTC_NO_FEE_ESTIMATE", hint: "check the Bitcoin servers (keepctl config), or add one that estimates fees" });
      }
      return rate;
    },
  };
}

async function verifiedCoin(btc: BitcoinClient, script: Uint8Array, c: Unspent): Promise<ChainUtxo | undefined> {
  const coin = `${c.txid}:${c.vout}`;
  if (c.height <= 0) return { txid: c.txid, vout: c.vout, valueSats: c.value, confirmations: 0 };
  const r = await btc.proof(c.txid, script, { headers: 1 });
  if (!r.ready) {
    // Reorged back into the mempool since the listing, or unknown to the server asked now: not a
    // confirmed coin. Unknown ones are left out (nothing proves they exist).
    return r.status.state === "mempool" ? { txid: c.txid, vout: c.vout, valueSats: c.value, confirmations: 0 } : undefined;
  }
  const out = r.tx.outputs[c.vout];
  const paysUs = out !== undefined && toHex(out.script) === toHex(script);
  if (!paysUs || out.value !== c.value) {
    const truth = paysUs ? `pays ${out.value} sat` : out === undefined ? "has no such output" : "pays another script there";
    throw new RpcError(`a Bitcoin server listed coin ${coin} of ${c.value} sat, but the transaction, proven in block ${r.height}, ${truth}`, {
      code: "BTC_BAD_DATA",
      hint: "the servers answer data that does not verify: use other Bitcoin servers",
    });
  }
  return { txid: c.txid, vout: c.vout, valueSats: out.value, confirmations: r.confirmations };
}
