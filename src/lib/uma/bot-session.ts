import { settingOf, type Config } from "../config";
import { ConfigError } from "../errors";
import { redact } from "../redact";
import { connectWithConfig, type KeepctlProvider } from "../chain/provider";
import { openSigningAccount } from "../chain/session";
import { headPolicyOf, preflightEmp } from "../chain/preflight";
import type { AccountLock } from "../journal";
import { AlertHub, createNotifiers, type Alert } from "../alert";
import { RaiFeed, type SourceChoice } from "../rai/feed";
import { BotSender, type BotEmit } from "./bot-sender";
import { fixedPrice, raiFeedPrice, type BotContext, type PriceSource } from "./bot-loop";
import { EmpClient } from "./emp-client";
import { parseFixed } from "./fixed-point";
import type { LiquidationConfig } from "./liquidation-strategy";
import type { DisputeConfig } from "./dispute-strategy";

/**
 * Everything an EMP bot needs before its first pass, built from the resolved Config: the EMP and
 * its parameters, the provider, the signing wallet with its journaled sender and account lock, the
 * price source (RAI feed or --price) and the alert channels.
 */
export type BotName = "liquidator" | "disputer";

export interface OpenBotOptions {
  bot: BotName;
  dryRun: boolean;
  interactive: boolean;
  emit: BotEmit;
  signal: AbortSignal;
  /** --source of the command, else the raiSource setting. */
  source?: SourceChoice;
  prompt?: (msg: string) => Promise<string>;
}

export interface BotSession {
  ctx: BotContext;
  provider: KeepctlProvider;
  liquidation: LiquidationConfig;
  dispute: DisputeConfig;
  alert?: (a: Alert) => Promise<void>;
  close(): void;
}

/** The EMP to watch: --emp / KEEPCTL_EMP_ADDRESS, else contracts.ExpiringMultiParty. */
export function empAddressOf(cfg: Config): string {
  const emp = settingOf<string | undefined>(cfg, "empAddress") ?? cfg.contracts.ExpiringMultiParty;
  if (!emp) throw new ConfigError("no EMP address: pass --emp ADDR", { hint: "or set KEEPCTL_EMP_ADDRESS, or contracts.ExpiringMultiParty in the deployment file" });
  return emp;
}

export function strategyConfigOf(cfg: Config): { liquidation: LiquidationConfig; dispute: DisputeConfig } {
  const crThreshold = parseFixed(settingOf<string>(cfg, "crThreshold"));
  const maxTokens = settingOf<string | undefined>(cfg, "maxTokens");
  return {
    liquidation: {
      crThreshold,
      liquidationDeadline: BigInt(settingOf<number>(cfg, "liquidationDeadline")),
      maxTokensToLiquidate: maxTokens === undefined ? undefined : parseFixed(maxTokens),
      defenseActivationPercent: settingOf<number | undefined>(cfg, "defenseActivationPercent"),
    },
    dispute: { crThreshold, disputeDelay: BigInt(settingOf<number>(cfg, "disputeDelay")) },
  };
}

export async function openBotSession(cfg: Config, o: OpenBotOptions): Promise<BotSession> {
  const emp = empAddressOf(cfg);
  // KeepctlProvider keeps no response cache: race checks re-read what the pass read moments ago.
  const provider = await connectWithConfig(cfg);
  let lock: AccountLock | undefined;
  try {
    // The EMP, its tokens and a configured RateSetter must be what they claim (exit 3), the head fresh (exit 4).
    await preflightEmp(provider, { emp, rateSetter: settingOf<string | undefined>(cfg, "empPrice") === undefined ? settingOf<string | undefined>(cfg, "rateSetter") ?? cfg.contracts.RateSetter : undefined, policy: headPolicyOf(cfg, "error") });
    const client = new EmpClient(provider, emp);
    const params = await client.readParams();
    const price = priceSourceOf(cfg, o, provider, Number(params.liquidationLiveness));
    // --dry-run sends nothing, so it may run beside the live bot of the same account.
    const account = await openSigningAccount(cfg, { interactive: o.interactive, prompt: o.prompt, lock: !o.dryRun }, provider);
    const { wallet, journal } = account;
    lock = account.lock;
    const sender = new BotSender(wallet, provider, journal, { maxFeeGwei: settingOf<number>(cfg, "maxFeeGwei"), signal: o.signal, dryRun: o.dryRun }, o.emit);
    const hub = new AlertHub(
      createNotifiers({
        slackWebhookUrl: settingOf(cfg, "slackWebhookUrl"),
        discordWebhookUrl: settingOf(cfg, "discordWebhookUrl"),
        telegramBotToken: settingOf(cfg, "telegramBotToken"),
        telegramChatId: settingOf(cfg, "telegramChatId"),
        webhookUrl: settingOf(cfg, "webhookUrl"),
      }),
    );
    const alert = hub.channels.length
      ? async (a: Alert) => {
          const r = await hub.notify(a);
          for (const f of r.failed) o.emit({ type: "warning", message: `alert via ${f.channel} failed: ${f.error}` });
        }
      : undefined;
    const ctx: BotContext = {
      client, params, sender, price, emit: o.emit, alert, signal: o.signal,
      scan: { fromBlock: cfg.startBlock, chunkSize: cfg.logChunkSize },
    };
    const held = lock;
    return {
      ctx, provider, alert, ...strategyConfigOf(cfg),
      close: () => {
        held?.release();
        provider.destroy();
      },
    };
  } catch (e) {
    lock?.release();
    provider.destroy();
    throw e;
  }
}

/**
 * --price wins; otherwise the RAI feed from events (RateSetter) and/or the subgraph. The
 * liquidator only needs the current price; the disputer looks back over liquidation liveness.
 */
function priceSourceOf(cfg: Config, o: OpenBotOptions, provider: KeepctlProvider, liquidationLiveness: number): PriceSource {
  const fixed = settingOf<string | undefined>(cfg, "empPrice");
  if (fixed !== undefined) return fixedPrice(parseFixed(fixed));
  const rateSetter = settingOf<string | undefined>(cfg, "rateSetter") ?? cfg.contracts.RateSetter;
  const source = o.source ?? settingOf<SourceChoice>(cfg, "raiSource");
  if (!rateSetter && !cfg.subgraphUrl) {
    throw new ConfigError("no price source for the EMP bot", { hint: "pass --price, --rate-setter ADDR (or contracts.RateSetter in the deployment file), or --subgraph-url" });
  }
  const lookback = o.bot === "liquidator" ? 0 : settingOf<number | undefined>(cfg, "empLookback") ?? liquidationLiveness;
  const feed = new RaiFeed({
    provider, rateSetter, subgraphUrl: cfg.subgraphUrl, source,
    twapLength: settingOf<number>(cfg, "raiTwapLength"),
    lookback,
    updateRateDelay: settingOf<number>(cfg, "raiUpdateRateDelay"),
    chunkSize: cfg.logChunkSize,
    floorBlock: cfg.startBlock,
    subgraphTimeoutMs: settingOf<number>(cfg, "subgraphTimeoutMs"),
  });
  return raiFeedPrice(feed, (w) => o.emit({ type: "warning", message: redact(w) }));
}
