import { ethers } from "ethers";
import { RaiFeed } from "../lib/rai/feed";
import { loadUmaArtifact } from "./uma";

/**
 * Plays the Optimistic Oracle's proposer while the devnet runs: whenever a contract asks for a
 * price (RequestPrice — an EMP's expire()), propose the RAI feed's TWAP at the requested time, as
 * a UMA proposer bot would. Once the oracle's liveness passes undisputed the price settles, so
 * `emp-sponsor settle` runs end to end on the devnet. The devnet's Store charges no final fee, so
 * the proposal bond is 0.
 */
export interface ExpiryProposer {
  stop(): void;
  /** Proposals made so far. */
  proposed: Array<{ requester: string; timestamp: number; price: bigint; hash: string }>;
}

export interface ExpiryProposerOptions {
  signer: ethers.Signer;
  optimisticOracle: string;
  /** Block to watch from. */
  fromBlock: number;
  /** The feed's RateSetter; without one every request is answered with 1.0. */
  rateSetter?: string;
  intervalMs?: number;
  onError?: (e: unknown) => void;
}

/** The devnet account that proposes (clear of the tBTC scenario's 0..6 and the EMP's 10..16). */
export const PROPOSER_ACCOUNT_INDEX = 18;

export function startExpiryProposer(o: ExpiryProposerOptions): ExpiryProposer {
  const provider = o.signer.provider as ethers.JsonRpcProvider;
  const oo = new ethers.Contract(o.optimisticOracle, loadUmaArtifact("OptimisticOracle").abi, o.signer);
  const topic = oo.interface.getEvent("RequestPrice")!.topicHash;
  const proposed: ExpiryProposer["proposed"] = [];
  let from = o.fromBlock;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const priceAt = async (t: number): Promise<bigint> => {
    if (!o.rateSetter) return 10n ** 18n;
    // Lookback large enough for any devnet history: the request may be for an expiry long past.
    const head = (await provider.getBlock("latest"))!.timestamp;
    const feed = new RaiFeed({ provider, rateSetter: o.rateSetter, source: "events", lookback: Math.max(0, head - t) + 86400 });
    await feed.update();
    const p = feed.historicalPrice(t);
    return p ?? 10n ** 18n;
  };

  const tick = async () => {
    try {
      const head = await provider.getBlockNumber();
      if (head >= from) {
        const logs = await provider.getLogs({ address: o.optimisticOracle, fromBlock: from, toBlock: head, topics: [topic] });
        from = head + 1;
        for (const log of logs) {
          const ev = oo.interface.parseLog(log)!;
          const args = [ev.args.requester, ev.args.identifier, ev.args.timestamp, ev.args.ancillaryData] as const;
          if (Number(await oo.getState(...args)) !== 1) continue; // only what is still Requested
          const price = await priceAt(Number(ev.args.timestamp));
          const tx = await oo.proposePrice(...args, price);
          await tx.wait();
          proposed.push({ requester: ev.args.requester as string, timestamp: Number(ev.args.timestamp), price, hash: tx.hash as string });
        }
      }
    } catch (e) {
      if (!stopped) o.onError?.(e);
    }
    if (!stopped) timer = setTimeout(tick, o.intervalMs ?? 500);
  };
  void tick();
  return {
    proposed,
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
