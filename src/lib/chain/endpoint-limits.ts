import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { writePrivateFile } from "../fs-safe";

/**
 * The limits an RPC endpoint told us about (its eth_getLogs block cap), remembered in the data
 * dir's cache so the next run starts at the cap instead of learning it again by refusals. Keyed
 * by a hash of the URL, never the URL itself (hosted URLs carry API keys). A lost or unreadable
 * file only costs a refusal.
 */
export interface EndpointLimits {
  /** Most blocks one eth_getLogs may span, as the endpoint's refusal named it. */
  logBlocks?: number;
  /** Most calls one JSON-RPC batch may carry, as the endpoint's refusal named it (or half the refused one). */
  batchCalls?: number;
}

interface LimitsFile {
  version: 1;
  endpoints: Record<string, EndpointLimits & { learnedAt?: string }>;
}

export function endpointLimitsFile(dataDir: string): string {
  return path.join(dataDir, "cache", "endpoint-limits.json");
}

/** The key an endpoint's limits are stored under: no part of the URL itself. */
export function endpointKey(url: string): string {
  return crypto.createHash("sha256").update(url).digest("hex").slice(0, 32);
}

function read(file: string): LimitsFile {
  try {
    const doc = JSON.parse(fs.readFileSync(file, "utf8")) as LimitsFile;
    if (doc?.version === 1 && doc.endpoints && typeof doc.endpoints === "object") return doc;
  } catch {
    // absent or torn: nothing remembered
  }
  return { version: 1, endpoints: {} };
}

const valid = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 1;

export function loadEndpointLimits(dataDir: string, url: string): EndpointLimits {
  const e = read(endpointLimitsFile(dataDir)).endpoints[endpointKey(url)];
  if (!e) return {};
  return { ...(valid(e.logBlocks) ? { logBlocks: e.logBlocks } : {}), ...(valid(e.batchCalls) ? { batchCalls: e.batchCalls } : {}) };
}

/** Remembers a limit the endpoint told us (the smaller one wins: a provider's limit is its word). */
function remember(dataDir: string, url: string, field: keyof EndpointLimits, value: number, now: Date): void {
  const file = endpointLimitsFile(dataDir);
  const doc = read(file);
  const key = endpointKey(url);
  const prev = doc.endpoints[key]?.[field];
  if (prev !== undefined && prev <= value) return;
  doc.endpoints[key] = { ...doc.endpoints[key], [field]: value, learnedAt: now.toISOString() };
  writePrivateFile(file, JSON.stringify(doc));
}

export function rememberLogBlocks(dataDir: string, url: string, blocks: number, now = new Date()): void {
  remember(dataDir, url, "logBlocks", blocks, now);
}

export function rememberBatchCalls(dataDir: string, url: string, calls: number, now = new Date()): void {
  remember(dataDir, url, "batchCalls", calls, now);
}

/** The chunk a scan starts at: the configured size, or the endpoint's remembered cap when smaller. */
export function startingLogChunk(configured: number, remembered: EndpointLimits): number {
  return remembered.logBlocks !== undefined && remembered.logBlocks < configured ? remembered.logBlocks : configured;
}

/** The batch size a provider starts with: the configured one, or the endpoint's remembered cap when smaller. */
export function startingBatchMax(configured: number, remembered: EndpointLimits): number {
  return remembered.batchCalls !== undefined && remembered.batchCalls < configured ? remembered.batchCalls : configured;
}
