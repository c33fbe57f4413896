/** One thing an operator should hear about. `key` identifies it for de-duplication. */
export type AlertLevel = "info" | "warning" | "critical";

export interface Alert {
  /** Stable identity, e.g. `undercollateralized:0xdeposit` or `fee-cap:0xaccount`. */
  key: string;
  level: AlertLevel;
  title: string;
  text: string;
  fields?: Record<string, string | number | bigint | boolean>;
  /** Set by AlertHub.resolve(): the condition behind `key` has cleared. */
  resolved?: boolean;
}

/** A delivery channel. `send` throws on failure; the hub isolates it from the others. */
export interface Notifier {
  readonly name: string;
  send(alert: Alert): Promise<void>;
}

/** Plain text for chat channels: "[CRITICAL] title", the text, then one "name: value" per field. */
export function renderText(alert: Alert): string {
  const head = `${alert.resolved ? "[RESOLVED]" : `[${alert.level.toUpperCase()}]`} ${alert.title}`;
  const fields = Object.entries(alert.fields ?? {}).map(([k, v]) => `${k}: ${String(v)}`);
  return [head, alert.text, ...fields].filter(Boolean).join("\n");
}

/** JSON-safe copy (bigints as decimal strings). */
export function alertJson(alert: Alert): Record<string, unknown> {
  const fields = Object.fromEntries(Object.entries(alert.fields ?? {}).map(([k, v]) => [k, typeof v === "bigint" ? v.toString() : v]));
  return { key: alert.key, level: alert.level, title: alert.title, text: alert.text, fields, resolved: !!alert.resolved };
}
