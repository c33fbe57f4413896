import { redactUrl } from "../redact";

export interface HeartbeatResult {
  ok: boolean;
  status?: number;
  /** Why it failed, with the URL redacted (heartbeat URLs embed a secret check id). */
  error?: string;
}

/**
 * Pings a dead-man's-switch URL (healthchecks.io, Better Uptime, ...) once per loop. Never throws:
 * a failed ping is a warning for the caller to print, not a reason to stop keeping.
 */
export async function pingHeartbeat(url: string, opts: { timeoutMs?: number } = {}): Promise<HeartbeatResult> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  try {
    const res = await fetch(url, { method: "GET", signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer().catch(() => undefined);
    return res.ok ? { ok: true, status: res.status } : { ok: false, status: res.status, error: `heartbeat ${redactUrl(url)}: HTTP ${res.status}` };
  } catch (e) {
    const why = (e as Error)?.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : "connection failed";
    return { ok: false, error: `heartbeat ${redactUrl(url)}: ${why}` };
  }
}
