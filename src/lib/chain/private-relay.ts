import { ConfigError } from "../errors";
import { redactUrl } from "../redact";
import { classifyNodeMessage } from "./errors-rpc";
import type { RawTxTransport } from "./tx-types";

/**
 * A private transaction relay as a broadcast transport: any endpoint that takes
 * `eth_sendRawTransaction` (the relays operators use to keep a swap out of the public mempool,
 * where it could be sandwiched). One POST per broadcast, never retried. What it answers:
 * - a result: accepted;
 * - a JSON-RPC error: classified by the same node-wording table as the public endpoint
 *   ("already known", "nonce too low", ...), anything unknown counts as "may be pooled";
 * - HTTP 401/403/404: the relay refused to look at it (wrong URL or key): nothing can be in a pool;
 * - a timeout, a reset, 429 or 5xx: unknown, treated as sent and settled from the chain.
 * The URL usually carries an API key: messages show its origin only.
 */
export const PRIVATE_RELAY = "private-relay";

export function privateRelayTransport(url: string, o: { timeoutMs?: number } = {}): RawTxTransport {
  const shown = redactUrl(url);
  let id = 0;
  return {
    name: PRIVATE_RELAY,
    async broadcast(raw) {
      let res: Response;
      try {
        res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method: "eth_sendRawTransaction", params: [raw] }),
          signal: AbortSignal.timeout(o.timeoutMs ?? 15_000),
        });
      } catch (e) {
        return { kind: "unknown", error: new Error(`private relay ${shown} did not answer: ${(e as Error).name}`) };
      }
      if (res.status === 401 || res.status === 403 || res.status === 404) {
        return {
          kind: "rejected",
          error: new ConfigError(`the private transaction relay ${shown} refused the request (HTTP ${res.status})`, {
            code: "PRIVATE_RELAY",
            hint: "check --private-tx-url / KEEPCTL_PRIVATE_TX_URL (its path and API key); nothing was sent",
          }),
        };
      }
      if (!res.ok) return { kind: "unknown", error: new Error(`private relay ${shown} answered HTTP ${res.status}`) };
      let body: { result?: unknown; error?: { message?: unknown } };
      try {
        body = (await res.json()) as typeof body;
      } catch {
        return { kind: "unknown", error: new Error(`private relay ${shown} answered something that is not JSON`) };
      }
      if (body && typeof body === "object" && body.error) {
        const message = String(body.error.message ?? "no message");
        return { kind: classifyNodeMessage(message), error: new Error(`private relay ${shown}: ${message}`) };
      }
      return { kind: "accepted" };
    },
  };
}
