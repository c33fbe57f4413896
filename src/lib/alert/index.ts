import { ConfigError } from "../errors";
import { registerSecret } from "../redact";
import { ConsoleNotifier, DiscordNotifier, PagerDutyNotifier, SlackNotifier, TelegramNotifier, WebhookNotifier } from "./notifiers";
import type { Alert, Notifier } from "./types";
import { AlertHub } from "./hub";

export * from "./types";
export * from "./notifiers";
export * from "./hub";
export * from "./heartbeat";

/**
 * Channel settings as config.ts reads them (KEEPCTL_SLACK_WEBHOOK_URL, KEEPCTL_DISCORD_WEBHOOK_URL,
 * KEEPCTL_TELEGRAM_BOT_TOKEN + KEEPCTL_TELEGRAM_CHAT_ID, KEEPCTL_WEBHOOK_URL,
 * KEEPCTL_PAGERDUTY_ROUTING_KEY + KEEPCTL_PAGERDUTY_URL).
 */
export interface AlertSettings {
  console?: boolean | { json?: boolean; write?: (line: string) => void };
  slackWebhookUrl?: string;
  discordWebhookUrl?: string;
  telegramBotToken?: string;
  telegramChatId?: string;
  /** Defaults to https://api.telegram.org; tests point it at loopback. */
  telegramApiBase?: string;
  webhookUrl?: string;
  pagerdutyRoutingKey?: string;
  /** Defaults to PagerDuty's Events v2 endpoint; tests point it at loopback. */
  pagerdutyUrl?: string;
  timeoutMs?: number;
}

/** One notifier per configured channel. All URLs and the bot token are registered as secrets. */
export function createNotifiers(s: AlertSettings): Notifier[] {
  const out: Notifier[] = [];
  for (const secret of [s.slackWebhookUrl, s.discordWebhookUrl, s.telegramBotToken, s.webhookUrl, s.pagerdutyRoutingKey]) registerSecret(secret);
  checkUrl("KEEPCTL_SLACK_WEBHOOK_URL", s.slackWebhookUrl);
  checkUrl("KEEPCTL_DISCORD_WEBHOOK_URL", s.discordWebhookUrl);
  checkUrl("KEEPCTL_WEBHOOK_URL", s.webhookUrl);
  checkUrl("KEEPCTL_PAGERDUTY_URL", s.pagerdutyUrl);
  if (s.console) out.push(new ConsoleNotifier(typeof s.console === "object" ? s.console : {}));
  if (s.slackWebhookUrl) out.push(new SlackNotifier(s.slackWebhookUrl, s.timeoutMs));
  if (s.discordWebhookUrl) out.push(new DiscordNotifier(s.discordWebhookUrl, s.timeoutMs));
  if (s.telegramBotToken || s.telegramChatId) {
    if (!s.telegramBotToken || !s.telegramChatId) {
      throw new ConfigError("Telegram alerts need both a bot token and a chat id", { hint: "set KEEPCTL_TELEGRAM_BOT_TOKEN and KEEPCTL_TELEGRAM_CHAT_ID" });
    }
    out.push(new TelegramNotifier({ token: s.telegramBotToken, chatId: s.telegramChatId, apiBase: s.telegramApiBase, timeoutMs: s.timeoutMs }));
  }
  if (s.webhookUrl) out.push(new WebhookNotifier(s.webhookUrl, s.timeoutMs));
  if (s.pagerdutyRoutingKey) out.push(new PagerDutyNotifier({ routingKey: s.pagerdutyRoutingKey, url: s.pagerdutyUrl, timeoutMs: s.timeoutMs }));
  return out;
}

/**
 * The configured channels as one `alert` function (de-duplicated by an AlertHub), or undefined
 * when no channel is configured. `onFail` hears which channel failed (a warning, never a throw).
 */
export function channelAlert(s: AlertSettings, onFail?: (channel: string, error: string) => void): ((a: Alert) => Promise<void>) | undefined {
  const hub = new AlertHub(createNotifiers(s));
  if (!hub.channels.length) return undefined;
  return async (a) => {
    const r = await hub.notify(a);
    for (const f of r.failed) onFail?.(f.channel, f.error);
  };
}

/** Rejects a malformed URL naming the setting, never echoing the (secret) value. */
function checkUrl(name: string, url: string | undefined): void {
  if (url === undefined) return;
  let ok = false;
  try {
    ok = /^https?:$/.test(new URL(url).protocol);
  } catch {
    ok = false;
  }
  if (!ok) throw new ConfigError(`${name} is not an http(s) URL`, { hint: `set ${name} to the webhook URL your service gave you` });
}
