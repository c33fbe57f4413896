import { ethers } from "ethers";
import type { Config } from "../config";
import { connectWithConfig, type KeepctlProvider } from "../chain/provider";
import { headPolicyOf, preflightEmp, type Preflight } from "../chain/preflight";
import { openSigningAccount, type SigningAccount, type SigningAccountOptions } from "../chain/session";
import type { SenderEvent } from "../chain/sender";
import { loadWallet } from "../chain/wallet";
import { channelAlert, type Alert } from "../alert";
import { parseFixedStrict } from "../fixed-point";
import type { SourceChoice } from "../rai/feed";
import { FP_DECIMALS } from "./fixed-point";
import type { PriceSource } from "./bot-loop";
import { empAddressOf, hasPriceSource, priceSourceOf } from "./bot-session";
import { positionFigures, type PositionFigures } from "./position-figures";
import { readSponsorSnapshot, type SponsorSnapshot } from "./sponsor-reader";

/**
 * What the sponsor's one-shot commands (emp-position, emp-sponsor) open: the provider, the EMP,
 * the account (the signing key with its lock and journaled sender for writes; only the key's
 * address, or --sponsor, for reads), the same RAI price the liquidators use, and the alert
 * channels. The EMP preflight is handed back to run beside the first reads.
 */
export interface SponsorSession {
  provider: KeepctlProvider;
  emp: string;
  /** The sponsor: --sponsor, else the signing account. */
  sponsor: string;
  account?: SigningAccount;
  /** Undefined when none is configured and the command can do without one. */
  price?: PriceSource;
  crThreshold: bigint;
  alert?: (a: Alert) => Promise<void>;
  /** `tokens: false`: the EMP alone, for a read that never calls its tokens (one round trip). */
  preflight(o?: { tokens?: boolean }): Promise<Preflight>;
  close(): void;
}

export interface OpenSponsorOptions {
  /** "sign": a write (wallet, lock, journal); "address": a read of the key's own position; "none": --sponsor given. */
  key: "sign" | "address" | "none";
  sponsor?: string;
  dryRun: boolean;
  interactive: boolean;
  price: "required" | "optional";
  source?: SourceChoice;
  signal?: AbortSignal;
  onEvent?: (ev: SenderEvent) => void;
  onWarning?: (message: string) => void;
  prompt?: (msg: string) => Promise<string>;
  timings?: SigningAccountOptions["timings"];
}

export async function openSponsorSession(cfg: Config, o: OpenSponsorOptions): Promise<SponsorSession> {
  const emp = empAddressOf(cfg);
  const provider = await connectWithConfig(cfg, { onWarning: o.onWarning });
  let account: SigningAccount | undefined;
  try {
    const alert = channelAlert(cfg.alerts, (channel, error) => o.onWarning?.(`alert via ${channel} failed: ${error}`));
    let sponsor = o.sponsor;
    if (o.key === "sign") {
      account = await openSigningAccount(cfg.signing, cfg.dataDir, { interactive: o.interactive, prompt: o.prompt, dryRun: o.dryRun, signal: o.signal, alert, timings: o.timings, onEvent: o.onEvent }, provider);
      sponsor = account.wallet.address;
    } else if (o.key === "address") {
      const s = cfg.signing;
      const wallet = await loadWallet({
        keystorePath: s.keySource === "keystore" ? s.keystore : undefined,
        passwordFile: s.keySource === "keystore" ? s.passwordFile : undefined,
        privateKeyFromEnv: s.keySource === "private-key" ? s.privateKey : undefined,
        strictPerms: s.strictPerms, interactive: o.interactive, prompt: o.prompt,
      }, null);
      sponsor = wallet.address;
    }
    const rateSetter = cfg.emp.price === undefined ? cfg.rai.rateSetter ?? cfg.rai.contracts.RateSetter : undefined;
    const price = o.price === "required" || hasPriceSource(cfg) ? priceSourceOf(cfg, { source: o.source, onWarning: o.onWarning }, provider, 0) : undefined;
    const held = account;
    return {
      provider, emp, sponsor: ethers.getAddress(sponsor!), account, price, alert,
      crThreshold: parseFixedStrict(cfg.emp.crThreshold, FP_DECIMALS),
      preflight: (p) => preflightEmp(provider, { emp, rateSetter: price ? rateSetter : undefined, policy: headPolicyOf(cfg.rpc, "error"), tokens: p?.tokens }),
      close: () => {
        held?.lock?.release();
        provider.destroy();
      },
    };
  } catch (e) {
    account?.lock?.release();
    provider.destroy();
    throw e;
  }
}

export interface PositionView {
  snapshot: SponsorSnapshot;
  /** The feed's (or --price's) price; null when none is configured or known. */
  price: bigint | null;
  priceSource?: string;
  figures: PositionFigures;
  preflight: Preflight;
}

/**
 * The position in one go: the EMP preflight, the one-call snapshot and the price update start
 * together, in one JSON-RPC batch: one round trip after the chain id. The EMP's tokens are not
 * probed: nothing here calls them (emp-sponsor probes them before it moves any).
 */
export async function loadPositionView(s: SponsorSession): Promise<PositionView> {
  const preflight = s.preflight({ tokens: false });
  const snapshot = readSponsorSnapshot(s.provider, s.emp, s.sponsor);
  const priced = s.price ? s.price.update() : Promise.resolve();
  for (const p of [preflight, snapshot, priced]) p.catch(() => undefined);
  const pre = await preflight; // a wrong --emp is reported as such, before anything read from it
  const snap = await snapshot;
  await priced;
  const price = s.price?.current() ?? null;
  const figures = positionFigures({ position: snap.position, totals: snap.totals, params: snap.params, contractState: snap.contractState, now: snap.currentTime, price, crThreshold: s.crThreshold });
  return { snapshot: snap, price, priceSource: s.price?.label, figures, preflight: pre };
}
