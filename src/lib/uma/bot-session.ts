import type { Config } from "../config";
import { ConfigError } from "../errors";
import { redact } from "../redact";
import { connectWithConfig, type KeepctlProvider } from "../chain/provider";
import { openSigningAccount, type LeaseHooks, type SigningAccountOptions } from "../chain/session";
import { headPolicyOf, preflightEmp } from "../chain/preflight";
import type { AccountLock } from "../chain/account-lock";
import { channelAlert, type Alert } from "../alert";
import { RaiFeed, type SourceChoice } from "../rai/feed";
import { BotSender, botEventOf, type BotEmit } from "./bot-sender";
import { fixedPrice, raiFeedPrice, type BotContext, type PriceSource } from "./bot-loop";
import { EmpClient } from "./emp-client";
import { parseFixedStrict } from "../fixed-point";
import { FP_DECIMALS } from "./fixed-point";
import type { LiquidationConfig } from "./liquidation-strategy";
import type { DisputeConfig } from "./dispute-strategy";
import type { GuardConfig } from "./guard-strategy";

/**
 * Everything an EMP bot needs before its first pass, built from the resolved Config: the EMP and
 * its parameters, the provider, the signing wallet with its journaled sender and account lock, the
 * price source (RAI feed or --price) and the alert channels.
 */
export type BotName = "liquidator" | "disputer" | "guard";

export interface OpenBotOptions {
  bot: BotName;
  dryRun: boolean;
  interactive: boolean;
  emit: BotEmit;
  signal: AbortSignal;
  /** --source of the command, else the raiSource setting. */
  source?: SourceChoice;
  prompt?: (msg: string) => Promise<string>;
  /** Engine timings (tests shorten them). */
  timings?: SigningAccountOptions["timings"];
  /** Where the provider's "endpoint failing" lines go (the command prints them on stderr). */
  onRpcWarning?: (message: string) => void;
  /** With a shared state store (--state-url): how the account's lease is held (a looping bot waits as the standby). */
  lease?: LeaseHooks;
}

export interface BotSession {
  ctx: BotContext;
  provider: KeepctlProvider;
  liquidation: LiquidationConfig;
  dispute: DisputeConfig;
  /** emp-guard's settings; undefined without a target. */
  guard?: GuardConfig;
  alert?: (a: Alert) => Promise<void>;
  close(): void;
  /** Ends the shared state's lease and connections, awaited (no-op with the data dir's files). */
  closeState(): Promise<void>;
}

/** The EMP to watch: --emp / KEEPCTL_EMP_ADDRESS, else contracts.ExpiringMultiParty. */
export function empAddressOf(cfg: Config): string {
  const emp = cfg.emp.address ?? cfg.tbtc.contracts.ExpiringMultiParty;
  if (!emp) throw new ConfigError("no EMP address: pass --emp ADDR", { hint: "or set KEEPCTL_EMP_ADDRESS, or contracts.ExpiringMultiParty in the deployment file" });
  return emp;
}

export function strategyConfigOf(cfg: Config): { liquidation: LiquidationConfig; dispute: DisputeConfig; guard?: GuardConfig } {
  const crThreshold = parseFixedStrict(cfg.emp.crThreshold, FP_DECIMALS);
  const maxTokens = cfg.emp.maxTokens;
  return {
    liquidation: {
      crThreshold,
      liquidationDeadline: BigInt(cfg.emp.liquidationDeadline),
      maxTokensToLiquidate: maxTokens === undefined ? undefined : parseFixedStrict(maxTokens, FP_DECIMALS),
      defenseActivationPercent: cfg.emp.defenseActivationPercent,
    },
    dispute: { crThreshold, disputeDelay: BigInt(cfg.emp.disputeDelay) },
    guard: cfg.emp.guardTarget === undefined ? undefined : {
      target: parseFixedStrict(cfg.emp.guardTarget, FP_DECIMALS),
      prefer: cfg.emp.guardPrefer,
      margin: parseFixedStrict(cfg.emp.guardMargin, FP_DECIMALS),
      runway: parseFixedStrict(cfg.emp.guardRunway, FP_DECIMALS),
      crThreshold,
    },
  };
}

export async function openBotSession(cfg: Config, o: OpenBotOptions): Promise<BotSession> {
  const emp = empAddressOf(cfg);
  // KeepctlProvider keeps no response cache: race checks re-read what the pass read moments ago.
  const provider = await connectWithConfig(cfg, { onWarning: o.onRpcWarning });
  let lock: AccountLock | undefined;
  try {
    // The EMP, its tokens and a configured RateSetter must be what they claim (exit 3), the head fresh (exit 4).
    await preflightEmp(provider, { emp, rateSetter: cfg.emp.price === undefined ? cfg.rai.rateSetter ?? cfg.rai.contracts.RateSetter : undefined, policy: headPolicyOf(cfg.rpc, "error") });
    const client = new EmpClient(provider, emp);
    const params = await client.readParams();
    // The disputer prices liquidations back over their liveness; the others only need the current price.
    const lookback = o.bot === "disputer" ? cfg.emp.lookback ?? Number(params.liquidationLiveness) : 0;
    const price = priceSourceOf(cfg, { source: o.source, onWarning: (w) => o.emit({ type: "warning", message: redact(w) }) }, provider, lookback);
    const alert = channelAlert(cfg.alerts, (channel, error) => o.emit({ type: "warning", message: `alert via ${channel} failed: ${error}` }));
    // --dry-run sends nothing, so it may run beside the live bot of the same account (no lock).
    const account = await openSigningAccount(
      cfg.signing,
      cfg.dataDir,
      { interactive: o.interactive, prompt: o.prompt, dryRun: o.dryRun, signal: o.signal, alert, timings: o.timings, lease: o.lease, onEvent: (ev) => { const b = botEventOf(ev); if (b) o.emit(b); } },
      provider,
    );
    lock = account.lock;
    const sender = new BotSender(account.sender, o.emit);
    const ctx: BotContext = {
      client, params, sender, price, emit: o.emit, alert, signal: o.signal,
      scan: { fromBlock: cfg.tbtc.startBlock, chunkSize: cfg.rpc.logChunkSize },
    };
    const held = lock;
    const shared = account.shared;
    return {
      ctx, provider, alert, ...strategyConfigOf(cfg),
      close: () => {
        held?.release();
        provider.destroy();
      },
      closeState: async () => {
        await shared?.close();
      },
    };
  } catch (e) {
    lock?.release();
    provider.destroy();
    throw e;
  }
}

/**
 * --price wins; otherwise the RAI feed from events (RateSetter) and/or the subgraph, looking back
 * `lookback` seconds (0: the current price only). Throws ConfigError when no source is configured.
 */
export function priceSourceOf(cfg: Config, o: { source?: SourceChoice; onWarning?: (message: string) => void }, provider: KeepctlProvider, lookback: number): PriceSource {
  const fixed = cfg.emp.price;
  if (fixed !== undefined) return fixedPrice(parseFixedStrict(fixed, FP_DECIMALS));
  const rateSetter = cfg.rai.rateSetter ?? cfg.rai.contracts.RateSetter;
  const source = o.source ?? cfg.rai.source;
  if (!rateSetter && !cfg.rai.subgraphUrl) {
    throw new ConfigError("no price source for the EMP", { hint: "pass --price, --rate-setter ADDR (or contracts.RateSetter in the deployment file), or --subgraph-url" });
  }
  const feed = new RaiFeed({
    provider, rateSetter, subgraphUrl: cfg.rai.subgraphUrl, source,
    twapLength: cfg.rai.twapLength,
    lookback,
    updateRateDelay: cfg.rai.updateRateDelay,
    chunkSize: cfg.rpc.logChunkSize,
    floorBlock: cfg.tbtc.startBlock,
    subgraphTimeoutMs: cfg.rai.subgraphTimeoutMs,
  });
  return raiFeedPrice(feed, (w) => o.onWarning?.(redact(w)));
}

/** Whether a price source is configured (--price, a RateSetter or a subgraph). */
export function hasPriceSource(cfg: Config): boolean {
  return cfg.emp.price !== undefined || !!(cfg.rai.rateSetter ?? cfg.rai.contracts.RateSetter) || !!cfg.rai.subgraphUrl;
}
