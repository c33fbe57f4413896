import fs from "node:fs";
import path from "node:path";
import type { JsonRpcProvider, Wallet } from "ethers";
import type { SigningSection } from "../config";
import type { Alert } from "../alert/types";
import { KeepctlError } from "../errors";
import { redact } from "../redact";
import { Journal } from "./journal";
import { acquireAccountLock, defaultLockDir, type AccountLock } from "./account-lock";
import { ActionSender, type ActionSenderOptions, type SenderEvent } from "./sender";
import { loadWallet } from "./wallet";
import { privateRelayTransport } from "./private-relay";
import { openSharedState, type SharedState } from "../state";
import type { LeaseRow } from "../state/pg-store";
import type { LeaseLostError } from "../state/errors";
import { notMigratedError, unmigratedInFlight } from "../state/migrate";

/**
 * The signing side every sending command opens the same way (redeem, watch, the EMP bots): the
 * wallet from the configured key or keystore, the machine-wide per-account lock, the journal, and
 * the one journaled sender over them.
 */
export interface SigningAccount {
  wallet: Wallet;
  journal: Journal;
  sender: ActionSender;
  lock?: AccountLock;
  /** The shared state (--state-url): the lease and the shared journal; closed (lease released) by close(). */
  shared?: SharedState;
}

/** How a sender on a shared state store (--state-url) holds the account's lease. */
export interface LeaseHooks {
  /** Wait as the standby while another keepctl holds it (watch, the bots); else refuse with exit 8. */
  wait: boolean;
  /** The longest one RPC call may take (ms): the holder stops signing this long before its lease could expire. */
  maxRpcMs: number;
  /** Ends the standby's wait (SIGINT/SIGTERM). */
  signal?: AbortSignal;
  onStandby?: (holder?: LeaseRow) => void;
  onHeld?: (epoch: number) => void;
  /** Another keepctl took the lease: this one must stop (it signs nothing more either way). */
  onLost?: (e: LeaseLostError) => void;
  onRenewError?: (e: unknown) => void;
}

export interface SigningAccountOptions {
  interactive: boolean;
  prompt?: (msg: string) => Promise<string>;
  /** --dry-run: simulate and price only; it takes no lock, so it may run beside a live process. */
  dryRun: boolean;
  signal?: AbortSignal;
  onEvent?: (ev: SenderEvent) => void;
  alert?: (a: Alert) => Promise<void>;
  /** Engine timings (tests shorten them). */
  timings?: Pick<ActionSenderOptions, "pollMs" | "receiptTimeoutMs" | "replaceAfterMs" | "rebroadcastMs">;
  lease?: LeaseHooks;
}

export async function openSigningAccount(signing: SigningSection, dataDir: string, o: SigningAccountOptions, provider: JsonRpcProvider): Promise<SigningAccount> {
  const wallet = await loadWallet(
    {
      // config.ts decided which key is named (an explicit keystore beats the environment's key).
      keystorePath: signing.keySource === "keystore" ? signing.keystore : undefined,
      passwordFile: signing.keySource === "keystore" ? signing.passwordFile : undefined,
      privateKeyFromEnv: signing.keySource === "private-key" ? signing.privateKey : undefined,
      strictPerms: signing.strictPerms,
      interactive: o.interactive,
      prompt: o.prompt,
    },
    provider,
  );
  // The nonce space is per chain: the lock is named by chain id and genesis hash, so two devnets
  // (or mainnet and a fork) with the same test key do not block each other.
  let lock: AccountLock | undefined;
  let shared: SharedState | undefined;
  try {
    // A dry run takes no lock (it sends nothing), so it reads no genesis block for one either.
    if (signing.stateUrl) {
      const tag = await chainTag(provider);
      shared = await openSharedStateFor(signing, signing.stateUrl, `${tag}-${wallet.address.toLowerCase()}`, wallet.address, o);
      const state = shared;
      lock = state.lease ? { file: state.store.where, release: () => void state.close() } : undefined;
    } else {
      lock = o.dryRun ? undefined : acquireAccountLock(signing.lockDir ?? defaultLockDir(), wallet.address, await chainTag(provider));
    }
  } catch (e) {
    if (e instanceof KeepctlError && e.code === "ACCOUNT_LOCKED") {
      await o.alert?.({ key: `account-conflict:${wallet.address}`, level: "critical", title: "another keepctl uses this account", text: redact(e.message) }).catch(() => undefined);
    }
    throw e;
  }
  try {
    if (shared && !o.dryRun) refuseUnmigrated(dataDir, wallet.address, shared.journal);
    const journal = shared?.journal ?? Journal.open(dataDir);
    const lease = shared?.lease;
    const sender = new ActionSender(wallet, provider, journal, {
      maxFeeGwei: signing.maxFeeGwei,
      receiptTimeoutMs: signing.receiptTimeoutSec * 1000,
      pollMs: signing.txPollMs,
      rebroadcastMs: signing.rebroadcastMs,
      replaceAfterMs: signing.replaceAfterSec * 1000,
      replacementPct: signing.replacementPct,
      confirmations: signing.confirmations,
      // The provider's own limit (KeepctlProvider): a head this far below our mined block lags.
      maxLagBlocks: (provider as { maxLagBlocks?: number }).maxLagBlocks,
      dryRun: o.dryRun,
      signal: o.signal,
      onEvent: o.onEvent,
      // The relay is used by the sends that ask for it (the TBTC swaps), and by the settling of
      // their journaled txs after a restart.
      transports: signing.privateTxUrl ? [privateRelayTransport(signing.privateTxUrl)] : [],
      alert: o.alert,
      // The nonce guard asks the lease first: the new holder's transactions mean "lease lost" (14), not "conflict" (8).
      confirmSigner: lease ? () => lease.confirm() : undefined,
      ...o.timings,
    });
    return { wallet, lock, journal, sender, shared };
  } catch (e) {
    if (shared) await shared.close();
    else lock?.release();
    throw e;
  }
}

/**
 * Adding --state-url to a data dir whose own journal still has this account's transactions in
 * flight would hide them from the shared journal: refused until they are migrated (or settled).
 */
function refuseUnmigrated(dataDir: string, account: string, shared: Journal): void {
  const file = path.join(dataDir, "journal.jsonl");
  if (!fs.existsSync(file)) return;
  const hashes = new Set([...shared.entries().values()].flatMap((e) => e.attempts.map((a) => a.hash.toLowerCase())));
  const keys = unmigratedInFlight(new Journal(file).resume(account), hashes);
  if (keys.length) throw notMigratedError(dataDir, account, keys);
}

function openSharedStateFor(signing: SigningSection, url: string, name: string, account: string, o: SigningAccountOptions): Promise<SharedState> {
  const timings = { refreshMs: signing.leaseRefreshSec * 1000, durationMs: signing.leaseDurationSec * 1000 };
  const h = o.lease;
  return openSharedState({
    url,
    timings,
    // Capped at a quarter of the lease: a broadcast that outlives the lease is still safe (its
    // bytes were journaled, fenced, before it left, and the next holder settles them).
    maxRpcMs: Math.min(h?.maxRpcMs ?? 15_000, timings.durationMs / 4),
    name,
    account,
    readOnly: o.dryRun,
    wait: h?.wait ?? false,
    signal: h?.signal ?? o.signal,
    onStandby: h?.onStandby,
    onHeld: h?.onHeld,
    onLost: (e) => {
      void o.alert?.({ key: `lease-lost:${account}`, level: "critical", title: "the lease was taken over", text: redact(e.message) }).catch(() => undefined);
      h?.onLost?.(e);
    },
    onRenewError: h?.onRenewError,
  });
}

/** The chain's name in lock and lease names: `<chain id>-<the genesis hash's first 12 hex digits>`. */
export async function chainTag(provider: JsonRpcProvider): Promise<string> {
  const [network, genesis] = await Promise.all([provider.getNetwork(), provider.getBlock(0)]);
  return `${network.chainId}-${(genesis?.hash ?? "0x").slice(2, 14) || "unknown"}`;
}
