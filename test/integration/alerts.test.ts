import http from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AlertHub, createNotifiers, pingHeartbeat, type Alert } from "../../src/lib/alert";
import { redact } from "../../src/lib/redact";

interface Hit { path: string; body: any }

/** A real HTTP server on 127.0.0.1 standing in for one service; `status` decides its answer. */
async function fakeService(status = 200, delayMs = 0) {
  const hits: Hit[] = [];
  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (d) => (raw += d));
    req.on("end", () => {
      hits.push({ path: req.url ?? "", body: raw ? JSON.parse(raw) : undefined });
      setTimeout(() => { res.statusCode = svc.status; res.end("{}"); }, delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  const svc = { hits, status, base: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
  return svc;
}

let slack: Awaited<ReturnType<typeof fakeService>>;
let discord: typeof slack;
let telegram: typeof slack;
let webhook: typeof slack;
const TOKEN = "123456:AAsecretBotTokenValue";

beforeAll(async () => {
  [slack, discord, telegram, webhook] = await Promise.all([fakeService(), fakeService(), fakeService(), fakeService()]);
});
afterAll(async () => {
  await Promise.all([slack, discord, telegram, webhook].map((s) => s?.close()));
});
beforeEach(() => {
  for (const s of [slack, discord, telegram, webhook]) { s.hits.length = 0; s.status = 200; }
});

function hubWith(now: () => number, extra: { consoleLines?: string[] } = {}) {
  const notifiers = createNotifiers({
    console: extra.consoleLines ? { json: true, write: (l) => extra.consoleLines!.push(l) } : false,
    slackWebhookUrl: `${slack.base}/services/T000/B000/slacksecret`,
    discordWebhookUrl: `${discord.base}/api/webhooks/1/discordsecret`,
    telegramBotToken: TOKEN,
    telegramChatId: "-100777",
    telegramApiBase: telegram.base,
    webhookUrl: `${webhook.base}/hook?k=webhooksecret`,
    timeoutMs: 2000,
  });
  return new AlertHub(notifiers, { renotifyMs: 60_000, now });
}

const alert: Alert = {
  key: "undercollateralized:0xdep", level: "critical", title: "Deposit 0xdep under 125%",
  text: "collateral 118.2%", fields: { deposit: "0xdep", lotSizeSat: 10_000_000n },
};

describe("alert channels on loopback services", () => {
  it("delivers each channel's own payload", async () => {
    const lines: string[] = [];
    const report = await hubWith(() => 0, { consoleLines: lines }).notify(alert);
    expect(report).toEqual({ key: alert.key, suppressed: false, delivered: ["console", "slack", "discord", "telegram", "webhook"], failed: [] });
    expect(slack.hits[0].path).toBe("/services/T000/B000/slacksecret");
    expect(slack.hits[0].body.text).toBe("[CRITICAL] Deposit 0xdep under 125%\ncollateral 118.2%\ndeposit: 0xdep\nlotSizeSat: 10000000");
    expect(slack.hits[0].body.blocks[0].text.text).toBe(slack.hits[0].body.text);
    expect(discord.hits[0].body).toEqual({ content: slack.hits[0].body.text });
    expect(telegram.hits[0].path).toBe(`/bot${TOKEN}/sendMessage`);
    expect(telegram.hits[0].body).toMatchObject({ chat_id: "-100777", text: slack.hits[0].body.text });
    expect(webhook.hits[0].path).toBe("/hook?k=webhooksecret");
    expect(webhook.hits[0].body).toMatchObject({ key: alert.key, level: "critical", fields: { lotSizeSat: "10000000" }, resolved: false, source: "keepctl" });
    expect(JSON.parse(lines[0])).toMatchObject({ event: "alert", key: alert.key, level: "critical" });
  });

  it("de-duplicates within the re-notify period, re-fires on change, after the period, and on resolve", async () => {
    let t = 0;
    const hub = hubWith(() => t);
    expect((await hub.notify(alert)).suppressed).toBe(false);
    t = 30_000;
    expect((await hub.notify({ ...alert, text: "collateral 118.0%" })).suppressed).toBe(true);
    expect(slack.hits).toHaveLength(1);
    t = 40_000; // state change: liquidation now possible
    expect((await hub.notify({ ...alert, title: "Deposit 0xdep liquidatable" })).suppressed).toBe(false);
    t = 99_000;
    expect((await hub.notify({ ...alert, title: "Deposit 0xdep liquidatable" })).suppressed).toBe(true);
    t = 100_001; // re-notify period since the last one passed
    expect((await hub.notify({ ...alert, title: "Deposit 0xdep liquidatable" })).suppressed).toBe(false);
    expect(slack.hits).toHaveLength(3);
    const resolved = await hub.resolve(alert.key, "collateral 151%");
    expect(resolved?.delivered).toContain("slack");
    expect(slack.hits[3].body.text).toBe("[RESOLVED] Deposit 0xdep liquidatable\ncollateral 151%");
    expect(webhook.hits[3].body).toMatchObject({ resolved: true, level: "info" });
    expect(await hub.resolve(alert.key)).toBeNull(); // not active any more
    expect((await hub.notify(alert)).suppressed).toBe(false); // comes back: alerts again at once
    expect(slack.hits).toHaveLength(5);
  });

  it("a failing channel does not block the others and is reported without its secret", async () => {
    discord.status = 500;
    const deadUrl = "http://127.0.0.1:9/dead/deadsecret"; // discard port: connection refused
    const hub = new AlertHub(
      [...createNotifiers({ discordWebhookUrl: `${discord.base}/api/webhooks/1/discordsecret`, webhookUrl: deadUrl }),
       ...createNotifiers({ slackWebhookUrl: `${slack.base}/services/x/slacksecret` })],
      { renotifyMs: 60_000 },
    );
    const report = await hub.notify(alert);
    expect(report.delivered).toEqual(["slack"]);
    expect(report.failed.map((f) => f.channel).sort()).toEqual(["discord", "webhook"]);
    expect(report.failed.find((f) => f.channel === "discord")!.error).toMatch(/^discord: HTTP 500/);
    for (const f of report.failed) expect(f.error).not.toMatch(/secret/);
    expect(slack.hits).toHaveLength(1);
    // the dead endpoint is named by origin only: its path (the secret) is masked
    expect(report.failed.find((f) => f.channel === "webhook")!.error).toBe("webhook: connection failed (http://127.0.0.1:9/***)");
  });

  it("when every channel fails the alert is not marked sent, so the next loop retries", async () => {
    slack.status = 503;
    const hub = new AlertHub(createNotifiers({ slackWebhookUrl: `${slack.base}/s` }), { renotifyMs: 60_000 });
    expect((await hub.notify(alert)).delivered).toEqual([]);
    slack.status = 200;
    expect((await hub.notify(alert)).delivered).toEqual(["slack"]);
    expect(slack.hits).toHaveLength(2);
  });

  it("never puts the Telegram token in an error", async () => {
    telegram.status = 401;
    const hub = new AlertHub(createNotifiers({ telegramBotToken: TOKEN, telegramChatId: "1", telegramApiBase: telegram.base }));
    const report = await hub.notify(alert);
    expect(report.failed[0].error).toMatch(/^telegram: HTTP 401/);
    expect(report.failed[0].error).not.toContain("AAsecret");
    expect(redact(`token ${TOKEN}`)).toBe("token ***");
  });

  it("PagerDuty Events v2: trigger with dedup_key and mapped severity, repeats on the same key, resolve on recovery", async () => {
    const pd = await fakeService(202);
    const ROUTING_KEY = "R0UT1NGK3Ysecretsecretsecret0001";
    try {
      let t = 0;
      const hub = new AlertHub(createNotifiers({ pagerdutyRoutingKey: ROUTING_KEY, pagerdutyUrl: `${pd.base}/v2/enqueue`, timeoutMs: 2000 }), { renotifyMs: 60_000, now: () => t });
      expect((await hub.notify(alert)).delivered).toEqual(["pagerduty"]);
      expect(pd.hits[0].path).toBe("/v2/enqueue");
      expect(pd.hits[0].body).toMatchObject({
        routing_key: ROUTING_KEY,
        event_action: "trigger",
        dedup_key: "undercollateralized:0xdep",
        client: "keepctl",
        payload: {
          summary: "Deposit 0xdep under 125%",
          severity: "critical",
          component: "keepctl",
          class: "undercollateralized",
          custom_details: { text: "collateral 118.2%", deposit: "0xdep", lotSizeSat: "10000000" },
        },
      });
      expect(pd.hits[0].body.payload.source).toMatch(/^keepctl@/);
      expect(Number.isNaN(Date.parse(pd.hits[0].body.payload.timestamp))).toBe(false);
      // A changed problem on the same key updates the same incident (same dedup_key), with its own severity.
      t = 1000;
      await hub.notify({ key: "low-eth:0xacct", level: "warning", title: "ETH low", text: "0.05 ETH" });
      await hub.notify({ key: "stale-price", level: "info", title: "price old", text: "" });
      expect(pd.hits.slice(1).map((h) => [h.body.dedup_key, h.body.payload.severity])).toEqual([["low-eth:0xacct", "warning"], ["stale-price", "info"]]);
      // Recovery: one resolve event for that dedup_key, nothing else in the body.
      await hub.resolve(alert.key, "collateral 151%");
      expect(pd.hits[3].body).toEqual({ routing_key: ROUTING_KEY, event_action: "resolve", dedup_key: "undercollateralized:0xdep" });
      // PagerDuty refusing (400 bad key, 429 throttled) is a failed channel whose error never holds the key.
      pd.status = 400;
      const r = await hub.notify({ ...alert, key: "other" });
      expect(r.failed).toHaveLength(1);
      expect(r.failed[0].error).toMatch(/^pagerduty: HTTP 400/);
      expect(r.failed[0].error).not.toContain(ROUTING_KEY);
      expect(redact(`key ${ROUTING_KEY}`)).toBe("key ***");
    } finally {
      await pd.close();
    }
  });

  it("PagerDuty's URL must be http(s) and is named without its value", () => {
    expect(() => createNotifiers({ pagerdutyRoutingKey: "k", pagerdutyUrl: "ftp://x" })).toThrow("KEEPCTL_PAGERDUTY_URL is not an http(s) URL");
  });

  it("heartbeat pings report success, HTTP failures and timeouts as results, never throws", async () => {
    expect(await pingHeartbeat(`${webhook.base}/ping/abc-uuid`)).toEqual({ ok: true, status: 200 });
    expect(webhook.hits.at(-1)!.path).toBe("/ping/abc-uuid");
    webhook.status = 404;
    const bad = await pingHeartbeat(`${webhook.base}/ping/abc-uuid`);
    expect(bad).toMatchObject({ ok: false, status: 404 });
    expect(bad.error).not.toContain("abc-uuid");
    const slow = await fakeService(200, 2000);
    try {
      const r = await pingHeartbeat(`${slow.base}/p`, { timeoutMs: 200 });
      expect(r).toMatchObject({ ok: false, error: expect.stringMatching(/no answer within 200 ms/) });
    } finally {
      await slow.close();
    }
  });
});
