import { ethers } from "ethers";
import { batchCapFromRefusal, isBatchTooLarge } from "./log-limits";

/**
 * What an endpoint's answer means, whatever carried it (an HTTP POST or a WebSocket frame): one
 * classification of faults, so failover treats an http:// and a ws:// endpoint alike.
 */
export type Payload = ethers.JsonRpcPayload | ethers.JsonRpcPayload[];
export type Result = ethers.JsonRpcResult | ethers.JsonRpcError;

/** A failed exchange; `retry` says whether the same URL is worth another attempt. */
export class AttemptError extends Error {
  constructor(message: string, readonly retry: boolean, readonly retryAfterMs?: number, readonly timedOut = false, readonly batchRefused?: { cap?: number }) {
    super(message);
  }
}

/** A refused HTTP status (a POST's, or a WebSocket upgrade's): 429 and 5xx are worth a retry. */
export function statusError(status: number, retryAfter: string | null | undefined, isBatch: boolean): AttemptError {
  if (status === 429 || status >= 500) return new AttemptError(`HTTP ${status}`, true, retryAfterMs(retryAfter));
  // 401/403/404 will not change on retry; a 400 to a batch usually means "no batches here".
  const hint = isBatch && status === 400 ? " (batch rejected? set KEEPCTL_BATCH_MAX_COUNT=1)" : "";
  return new AttemptError(`HTTP ${status}${hint}`, false);
}

/** The answers in a parsed JSON body, or the AttemptError it amounts to (a batch refused, a rate limit). */
export function answersOf(json: unknown, isBatch: boolean): Result[] {
  if (isBatch && !Array.isArray(json)) {
    const msg = (json as { error?: { message?: string } })?.error?.message ?? "non-array answer";
    if (/rate|too many/i.test(msg)) throw new AttemptError(`rate limited: ${msg}`, true);
    if (isBatchTooLarge(msg)) throw new AttemptError(`batch refused as too large: ${msg}`, false, undefined, false, { cap: batchCapFromRefusal(msg) });
    throw new AttemptError(`batch rejected: ${msg} (set KEEPCTL_BATCH_MAX_COUNT=1)`, false);
  }
  const results = (Array.isArray(json) ? json : [json]) as Result[];
  // Some gateways answer HTTP 200 with a rate-limit error instead of 429.
  if (results.length > 0 && results.every(isRateLimitError)) throw new AttemptError("rate limited", true);
  return results;
}

function isRateLimitError(r: Result): boolean {
  if (!("error" in r) || !r.error) return false;
  return r.error.code === 429 || /rate limit|too many requests/i.test(String(r.error.message));
}

function retryAfterMs(header: string | null | undefined): number | undefined {
  if (!header) return undefined;
  const s = Number(header);
  return Number.isFinite(s) && s >= 0 ? s * 1000 : undefined;
}

/** ws:// and wss:// endpoints speak JSON-RPC over a WebSocket; everything else over HTTP. */
export function isWebSocketUrl(url: string): boolean {
  return /^wss?:\/\//i.test(url);
}
