import { connectBitcoin, fromHex, splitHeaders, toHex, type BitcoinClient } from "../../btc";
import type { Config } from "../../config";
import type { BitcoinProof, RedemptionBitcoin } from "./follow";

/**
 * The Bitcoin servers of the configuration as the redemption follow-up uses them: lib/btc's
 * client (failover, every header and merkle branch verified) behind the follow-up's narrow
 * interface. Undefined when no server is configured: the follow-up then alerts that a signed
 * redemption cannot be finished, instead of failing the pass.
 */
export interface RedemptionBitcoinHandle {
  client: RedemptionBitcoin;
  btc: BitcoinClient;
  close: () => Promise<void>;
}

export async function openRedemptionBitcoin(cfg: Pick<Config, "btc">, o: { onWarning?: (m: string) => void; connect?: boolean } = {}): Promise<RedemptionBitcoinHandle | undefined> {
  if (!cfg.btc.electrumUrls.length && !cfg.btc.esploraUrls.length) return undefined;
  // Not connected here: a pass with nothing to follow asks Bitcoin nothing; the first use connects.
  const btc = await connectBitcoin(cfg.btc, { onWarning: o.onWarning, connect: o.connect ?? false });
  return { client: redemptionBitcoinOf(btc), btc, close: () => btc.close() };
}

export function redemptionBitcoinOf(btc: BitcoinClient): RedemptionBitcoin {
  return {
    tipHeight: async () => (await btc.tip()).height,
    spender: async (txid, vout, spentScript) => {
      const s = await btc.spends({ txid, vout }, fromHex(spentScript, "script"));
      return s.spent ? { txid: s.txid, height: s.height } : undefined;
    },
    feeRate: (target) => btc.feeRate(target),
    broadcast: async (raw) => {
      try {
        const r = await btc.broadcast(fromHex(raw, "transaction"));
        return { accepted: r.accepted, detail: r.results.map((x) => `${x.server}: ${x.ok ? (x.alreadyKnown ? "already known" : "accepted") : x.error}`).join("; ") };
      } catch (e) {
        return { accepted: false, detail: (e as Error).message };
      }
    },
    proof: async (txid, outputScript, want, rawTx): Promise<BitcoinProof | undefined> => {
      const r = await btc.proof(txid, fromHex(outputScript, "script"), { headers: want.max, minHeaders: want.min, rawTx });
      if (!r.ready) return undefined;
      const list = splitHeaders(r.proof.headers);
      return {
        version: "0x" + toHex(r.proof.version),
        inputVector: "0x" + toHex(r.proof.inputVector),
        outputVector: "0x" + toHex(r.proof.outputVector),
        locktime: "0x" + toHex(r.proof.locktime),
        merkleProof: "0x" + toHex(r.proof.merkleProof),
        indexInBlock: r.proof.indexInBlock,
        headers: list.map(toHex),
        difficulties: r.difficulties,
      };
    },
  };
}
