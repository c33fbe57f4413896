import { ethers } from "ethers";
import { doubleArtifact, tbtcAbi } from "./artifacts";
import { signRedemptionDigest } from "./deposits";
import { keepPublicKey64 } from "./signer";
import { keepContract, send, type TbtcDeployment } from "./tbtc";

export interface AutoSigner {
  stop(): void;
  /** Digests signed so far (keep address, digest). */
  signed: Array<{ keep: string; digest: string }>;
  /** Keeps whose key this signer published. */
  published: string[];
  /** Deposits this signer closed with notifyFundingTimedOut. */
  timedOut: string[];
}

export interface AutoSignerOptions {
  intervalMs?: number;
  onError?: (e: unknown) => void;
  /**
   * Publish each new keep's key (as a signing group does after forming), so that its deposit can
   * be funded (`keepctl mint`). Off by default: openDeposit publishes its own keeps' keys.
   */
  publishKeys?: boolean;
  /** A signing group that fails to form: no key for the keeps of these deposits' creators (addresses), or for all with `true`. */
  failSetupFor?: readonly string[] | true;
  /**
   * Aggressive signers: call notifyFundingTimedOut on every deposit awaiting its funding proof the
   * moment the 3 h window has passed (chain time), whether or not a funding transaction is in the mempool.
   */
  aggressiveFundingTimeout?: boolean;
}

const FUNDING_TIMEOUT_SEC = 3 * 3600;
const AWAITING_BTC_FUNDING_PROOF = 2;

/**
 * Plays every devnet keep's signing group while the devnet runs: whenever a keep emits
 * SignatureRequested (a redemption request or a fee increase), sign the digest and submit it,
 * as real signers would within minutes. With `publishKeys`, also publish each new keep's key
 * (BondedECDSAKeepCreated), so that the deposit's retrieveSignerPubkey can succeed. Lets
 * `keepctl redeem` and `keepctl mint` run end to end on the devnet.
 */
export function startAutoSigner(dep: TbtcDeployment, opts: AutoSignerOptions = {}): AutoSigner {
  const iface = new ethers.Interface(doubleArtifact("DevBondedECDSAKeep").abi);
  const factoryIface = new ethers.Interface(doubleArtifact("DevBondedECDSAKeepFactory").abi);
  const systemIface = new ethers.Interface(tbtcAbi("TBTCSystem"));
  const sigTopic = iface.getEvent("SignatureRequested")!.topicHash;
  const keepTopic = factoryIface.getEvent("BondedECDSAKeepCreated")!.topicHash;
  const pubkeyTopic = systemIface.getEvent("RegisteredPubkey")!.topicHash;
  const keepAbi = doubleArtifact("DevBondedECDSAKeep").abi;
  const signed: AutoSigner["signed"] = [];
  const published: string[] = [];
  const timedOut: string[] = [];
  /** Deposits in their funding window: deposit -> RegisteredPubkey time. */
  const funding = new Map<string, number>();
  let from = -1;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const failFor = opts.failSetupFor === true ? true : new Set((opts.failSetupFor ?? []).map((a) => a.toLowerCase()));

  const publish = async (log: ethers.Log) => {
    const parsed = factoryIface.parseLog(log)!;
    const keep = parsed.args.keepAddress as string;
    if (failFor === true) return;
    if (failFor.size) {
      const tx = await dep.provider.getTransaction(log.transactionHash);
      if (tx && failFor.has(tx.from.toLowerCase())) return;
    }
    const k = keepContract(dep, keep);
    if (((await k.getPublicKey()) as string) !== "0x") return;
    await send(k.submitPublicKey(keepPublicKey64(keep)));
    published.push(keep);
  };

  const expireFunding = async () => {
    const now = (await dep.provider.getBlock("latest"))!.timestamp;
    for (const [deposit, start] of funding) {
      if (now <= start + FUNDING_TIMEOUT_SEC) continue;
      const d = new ethers.Contract(deposit, tbtcAbi("Deposit"), dep.signer);
      if (Number(await d.currentState()) !== AWAITING_BTC_FUNDING_PROOF) {
        funding.delete(deposit);
        continue;
      }
      await send(d.notifyFundingTimedOut());
      funding.delete(deposit);
      timedOut.push(deposit);
    }
  };

  const tick = async () => {
    try {
      const head = await dep.provider.getBlockNumber();
      if (from < 0) from = dep.deploymentBlock;
      if (head >= from) {
        const topics = [[sigTopic, ...(opts.publishKeys ? [keepTopic] : []), ...(opts.aggressiveFundingTimeout ? [pubkeyTopic] : [])]];
        const logs = await dep.provider.getLogs({ fromBlock: from, toBlock: head, topics });
        from = head + 1;
        for (const log of logs) {
          if (log.topics[0] === keepTopic && log.address.toLowerCase() === dep.addresses.BondedECDSAKeepFactory.toLowerCase()) {
            await publish(log);
            continue;
          }
          if (log.topics[0] === pubkeyTopic && log.address.toLowerCase() === dep.addresses.TBTCSystem.toLowerCase()) {
            const p = systemIface.parseLog(log)!;
            funding.set(p.args._depositContractAddress as string, Number(p.args._timestamp));
            continue;
          }
          if (log.topics[0] !== sigTopic) continue;
          const digest = log.topics[1];
          const keep = new ethers.Contract(log.address, keepAbi, dep.provider);
          // Only keeps still waiting for this digest (a later request may have replaced it).
          if (!(await keep.isAwaitingSignature(digest).catch(() => false))) continue;
          await signRedemptionDigest(dep, log.address, digest);
          signed.push({ keep: log.address, digest });
        }
      }
      if (opts.aggressiveFundingTimeout && funding.size) await expireFunding();
    } catch (e) {
      // After stop() an in-flight tick fails on the destroyed provider; that is not an error.
      if (!stopped) opts.onError?.(e);
    }
    if (!stopped) timer = setTimeout(tick, opts.intervalMs ?? 500);
  };
  void tick();

  return {
    signed,
    published,
    timedOut,
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
