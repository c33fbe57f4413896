import { redact } from "../redact";
import type { Alert, Notifier } from "./types";

export interface DeliveryReport {
  key: string;
  /** True when de-duplication held the alert back (nothing was sent). */
  suppressed: boolean;
  delivered: string[];
  failed: { channel: string; error: string }[];
}

export interface AlertHubOptions {
  /** Do not repeat the same alert (same key, level and title) within this period. Default 1 h. */
  renotifyMs?: number;
  now?: () => number;
}

interface Active {
  fingerprint: string;
  title: string;
  lastSentAt: number;
}

/**
 * Fans an alert out to every channel, each in isolation (one dead webhook never silences the
 * others), and de-duplicates: a loop that finds the same problem every 15 s alerts once per
 * re-notify period, again at once when the problem changes (level or title), and once more
 * when it is resolved. Numbers in `text` may drift without re-alerting.
 */
export class AlertHub {
  private readonly active = new Map<string, Active>();
  private readonly renotifyMs: number;
  private readonly now: () => number;

  constructor(private readonly notifiers: Notifier[], opts: AlertHubOptions = {}) {
    this.renotifyMs = opts.renotifyMs ?? 60 * 60_000;
    this.now = opts.now ?? Date.now;
  }

  get channels(): string[] {
    return this.notifiers.map((n) => n.name);
  }

  /** Keys currently alerting (not yet resolved). */
  activeKeys(): string[] {
    return [...this.active.keys()];
  }

  async notify(alert: Alert): Promise<DeliveryReport> {
    const fingerprint = `${alert.level}\u0000${alert.title}`;
    const prev = this.active.get(alert.key);
    if (prev && prev.fingerprint === fingerprint && this.now() - prev.lastSentAt < this.renotifyMs) {
      return { key: alert.key, suppressed: true, delivered: [], failed: [] };
    }
    const report = await this.deliver(alert);
    // Remember it only if someone heard it; otherwise the next loop tries again.
    if (report.delivered.length) this.active.set(alert.key, { fingerprint, title: alert.title, lastSentAt: this.now() });
    return report;
  }

  /** The condition behind `key` cleared: one "resolved" message, and only if it had alerted. */
  async resolve(key: string, text = "back to normal"): Promise<DeliveryReport | null> {
    const prev = this.active.get(key);
    if (!prev) return null;
    const report = await this.deliver({ key, level: "info", title: prev.title, text, resolved: true });
    if (report.delivered.length) this.active.delete(key);
    return report;
  }

  private async deliver(raw: Alert): Promise<DeliveryReport> {
    // Alerts leave the machine: redacted like any message (0x tx hashes stay, keys and URL paths go).
    const alert: Alert = { ...raw, title: redact(raw.title, { keepHashes: true }), text: redact(raw.text, { keepHashes: true }) };
    const results = await Promise.allSettled(this.notifiers.map((n) => n.send(alert)));
    const report: DeliveryReport = { key: alert.key, suppressed: false, delivered: [], failed: [] };
    results.forEach((r, i) => {
      const channel = this.notifiers[i].name;
      if (r.status === "fulfilled") report.delivered.push(channel);
      else report.failed.push({ channel, error: redact(r.reason instanceof Error ? r.reason.message : String(r.reason)) });
    });
    return report;
  }
}
