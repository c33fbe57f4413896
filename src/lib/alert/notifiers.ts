import { hostname } from "node:os";
import { redactUrl } from "../redact";
import { alertJson, renderText, type Alert, type Notifier } from "./types";

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * POSTs JSON and throws a message naming the channel and HTTP status only: webhook URLs and
 * bot tokens are secrets, so neither the URL nor the response body goes into the error.
 */
async function postJson(channel: string, url: string, body: unknown, timeoutMs: number): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    const why = (e as Error)?.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : "connection failed";
    throw new Error(`${channel}: ${why} (${redactUrl(url)})`);
  }
  await res.arrayBuffer().catch(() => undefined); // drain so the socket is reused
  if (!res.ok) throw new Error(`${channel}: HTTP ${res.status} (${redactUrl(url)})`);
}

/** One line per alert on stderr (or wherever `write` goes): text, or a JSON object. */
export class ConsoleNotifier implements Notifier {
  readonly name = "console";
  constructor(private readonly opts: { json?: boolean; write?: (line: string) => void } = {}) {}
  async send(alert: Alert): Promise<void> {
    const write = this.opts.write ?? ((l: string) => void process.stderr.write(l));
    const line = this.opts.json
      ? JSON.stringify({ event: "alert", ...alertJson(alert) })
      : `alert: ${renderText(alert).split("\n").join(" | ")}`;
    write(line + "\n");
  }
}

/** Slack incoming webhook: {text} plus a section block for clients that render blocks. */
export class SlackNotifier implements Notifier {
  readonly name = "slack";
  constructor(private readonly url: string, private readonly timeoutMs = DEFAULT_TIMEOUT_MS) {}
  async send(alert: Alert): Promise<void> {
    const text = renderText(alert);
    await postJson(this.name, this.url, { text, blocks: [{ type: "section", text: { type: "mrkdwn", text } }] }, this.timeoutMs);
  }
}

/** Discord webhook: {content}, which Discord caps at 2000 characters. */
export class DiscordNotifier implements Notifier {
  readonly name = "discord";
  constructor(private readonly url: string, private readonly timeoutMs = DEFAULT_TIMEOUT_MS) {}
  async send(alert: Alert): Promise<void> {
    await postJson(this.name, this.url, { content: renderText(alert).slice(0, 2000) }, this.timeoutMs);
  }
}

/** Telegram bot sendMessage. `apiBase` is configurable so tests can point it at loopback. */
export class TelegramNotifier implements Notifier {
  readonly name = "telegram";
  constructor(private readonly opts: { token: string; chatId: string; apiBase?: string; timeoutMs?: number }) {}
  async send(alert: Alert): Promise<void> {
    const base = (this.opts.apiBase ?? "https://api.telegram.org").replace(/\/+$/, "");
    const url = `${base}/bot${this.opts.token}/sendMessage`;
    const body = { chat_id: this.opts.chatId, text: renderText(alert).slice(0, 4096), disable_web_page_preview: true };
    await postJson(this.name, url, body, this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  }
}

/** Generic webhook: the alert as a JSON object, for PagerDuty bridges, n8n, custom receivers. */
export class WebhookNotifier implements Notifier {
  readonly name = "webhook";
  constructor(private readonly url: string, private readonly timeoutMs = DEFAULT_TIMEOUT_MS) {}
  async send(alert: Alert): Promise<void> {
    await postJson(this.name, this.url, { ...alertJson(alert), at: new Date().toISOString(), source: "keepctl" }, this.timeoutMs);
  }
}

export const PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue";

/** Our levels are a subset of PagerDuty's (critical, error, warning, info); none is promoted. */
const PAGERDUTY_SEVERITY: Record<Alert["level"], "critical" | "warning" | "info"> = { critical: "critical", warning: "warning", info: "info" };

/**
 * PagerDuty Events API v2. The alert key is the dedup_key, so the hub's repeats of one problem
 * update one incident, and the hub's "resolved" closes it (event_action resolve). The routing key
 * is a secret: it goes in the body only, never in an error (postJson reports the status alone).
 */
export class PagerDutyNotifier implements Notifier {
  readonly name = "pagerduty";
  constructor(private readonly opts: { routingKey: string; url?: string; timeoutMs?: number; source?: string }) {}
  async send(alert: Alert): Promise<void> {
    const url = this.opts.url ?? PAGERDUTY_EVENTS_URL;
    // PagerDuty rejects a dedup_key over 255 characters; ours are `kind:0xaddress`, far shorter.
    const dedup_key = alert.key.slice(0, 255);
    const body = alert.resolved
      ? { routing_key: this.opts.routingKey, event_action: "resolve", dedup_key }
      : {
          routing_key: this.opts.routingKey,
          event_action: "trigger",
          dedup_key,
          client: "keepctl",
          payload: {
            summary: alert.title.slice(0, 1024),
            source: this.opts.source ?? `keepctl@${hostname()}`,
            severity: PAGERDUTY_SEVERITY[alert.level],
            component: "keepctl",
            class: alert.key.split(":")[0],
            timestamp: new Date().toISOString(),
            custom_details: { text: alert.text, ...alertJson(alert).fields as Record<string, unknown> },
          },
        };
    await postJson(this.name, url, body, this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  }
}
