import { ethers } from "ethers";
import { doubleArtifact } from "./artifacts";
import { signRedemptionDigest } from "./deposits";
import { type TbtcDeployment } from "./tbtc";

export interface AutoSigner {
  stop(): void;
  /** Digests signed so far (keep address, digest). */
  signed: Array<{ keep: string; digest: string }>;
}

/**
 * Plays every devnet keep's signing group while the devnet runs: whenever a keep emits
 * SignatureRequested (a redemption request or a fee increase), sign the digest and submit it,
 * as real signers would within minutes. Lets `keepctl redeem` run end to end on the devnet.
 */
export function startAutoSigner(dep: TbtcDeployment, opts: { intervalMs?: number; onError?: (e: unknown) => void } = {}): AutoSigner {
  const iface = new ethers.Interface(doubleArtifact("DevBondedECDSAKeep").abi);
  const topic = iface.getEvent("SignatureRequested")!.topicHash;
  const keepAbi = doubleArtifact("DevBondedECDSAKeep").abi;
  const signed: AutoSigner["signed"] = [];
  let from = -1;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const tick = async () => {
    try {
      const head = await dep.provider.getBlockNumber();
      if (from < 0) from = dep.deploymentBlock;
      if (head >= from) {
        const logs = await dep.provider.getLogs({ fromBlock: from, toBlock: head, topics: [topic] });
        from = head + 1;
        for (const log of logs) {
          const digest = log.topics[1];
          const keep = new ethers.Contract(log.address, keepAbi, dep.provider);
          // Only keeps still waiting for this digest (a later request may have replaced it).
          if (!(await keep.isAwaitingSignature(digest).catch(() => false))) continue;
          await signRedemptionDigest(dep, log.address, digest);
          signed.push({ keep: log.address, digest });
        }
      }
    } catch (e) {
      // After stop() an in-flight tick fails on the destroyed provider; that is not an error.
      if (!stopped) opts.onError?.(e);
    }
    if (!stopped) timer = setTimeout(tick, opts.intervalMs ?? 500);
  };
  void tick();

  return {
    signed,
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
