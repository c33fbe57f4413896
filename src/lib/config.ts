import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import dotenv from "dotenv";
import { ethers } from "ethers";
import { z } from "zod";
import { ConfigError, UsageError } from "./errors";
import { echo, redact, redactUrl, registerSecret, registerSecretUrl } from "./redact";
import { PRESETS, devnetDeploymentPath, type DeploymentFile } from "./presets";
import { KNOWN_CONTRACT_NAMES, USER_KEY_PREFIX, isKnownContractName } from "./contract-names";
import { DEPLOYMENT_FILE_MAX_BYTES, validateDeployment } from "./deployment-schema";
import { findDuplicateKey } from "./json-keys";
import { closestName } from "./names";
import { leaseTimingsProblem } from "./state/lease-rules";

export { closestName } from "./names";
import { looksLikeDescriptor, parseWpkhDescriptor } from "./btc/wallet/descriptor";
import { parseExtendedPublicKey } from "./btc/wallet/extended-key";
import { BTC_NETWORKS, type BtcNetwork } from "./btc/networks";
import { InvalidServerUrl, electrumUrlFromParts, parseElectrumUrl, parseEsploraUrl } from "./btc/urls";

/**
 * The only reader of process.env, .env and the config file. Every setting is one row of SETTINGS
 * with a zod schema for its value; resolution walks the layers flags > env > config file >
 * preset/deployment > default, validates each value as it is taken, records where it came from
 * (`keepctl config` says), and returns typed sections (rpc, signing, alerts, tbtc, rai, emp, watch, btc)
 * so that lib functions take only the section they need.
 *
 * Strict on purpose: an unknown config-file key or KEEPCTL_* variable, an empty value, or a number
 * written any other way than plain digits is an error, never a silent fallback to a default.
 */
export type Source = "flag" | "env" | "file" | "preset" | "deployment" | "default";
export type SectionName = "core" | "rpc" | "signing" | "alerts" | "tbtc" | "rai" | "emp" | "watch" | "btc" | "btcWallet";

export interface Setting<T = unknown> {
  key: string;
  /** The typed section the value lands in, under `field` (default: key). */
  section: SectionName;
  field?: string;
  /** commander's camelCase option name (e.g. "rpcUrl" for --rpc-url). */
  flag?: string;
  /** Env names, first match wins: KEEPCTL_* first, then the seed's names. */
  env?: string[];
  /** Key in the config file; defaults to `key`. null: not allowed in a config file. */
  fileKey?: string | null;
  /**
   * A file holding the value (one per line), so that secrets such as API-key URLs stay out of
   * argv (visible in `ps`) and out of the environment of child processes.
   */
  fileForm?: { flag?: string; env: string };
  default?: T | ((values: Record<string, unknown>) => T);
  /** Takes a flag/file value (any JSON type) or an env string. */
  schema: z.ZodType<T, z.ZodTypeDef, unknown>;
  /** "url": shown as origin only; true: never shown. Both are registered with the redactor. */
  secret?: boolean | "url";
  /** Records merge across layers by name (contracts) instead of the top layer replacing. */
  merge?: "record";
  /** A list: a file form gives one item per line. */
  list?: boolean;
  /** The file form also allows a comment after a value (`0xabc… # ops team`): values that can never hold a '#'. */
  fileComments?: "trailing";
  describe: string;
}

// ---- value schemas ------------------------------------------------------------------------------

/** A zod schema from a parse function that throws an Error saying what is wrong. */
function rule<T>(parse: (raw: unknown) => T): z.ZodType<T, z.ZodTypeDef, unknown> {
  return z.unknown().transform((raw, ctx) => {
    try {
      return parse(raw);
    } catch (e) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (e as Error).message });
      return z.NEVER;
    }
  });
}

/** A scalar as text; objects and arrays are not scalars. Empty text is an error. */
function scalarText(raw: unknown): string {
  if (typeof raw === "number" || typeof raw === "boolean") return String(raw);
  if (typeof raw !== "string") throw new Error(`expected a single value, got ${Array.isArray(raw) ? "a list" : typeof raw}`);
  if (raw.trim() === "") throw new Error("empty value");
  return raw;
}

/** A comma (or, from env, whitespace) separated list, or a JSON array; an empty item is an error. */
export function parseList(raw: unknown): string[] {
  const pieces = Array.isArray(raw) ? raw.flatMap((x) => splitItems(scalarText(x))) : splitItems(scalarText(raw));
  return pieces;
}

function splitItems(s: string): string[] {
  const items = s.trim().split(/\s*,\s*|\s+/);
  if (items.some((x) => x === "")) throw new Error(`empty item in list "${echo(s)}"`);
  return items;
}

export function parseAddress(raw: unknown): string {
  const s = scalarText(raw);
  if (!ethers.isAddress(s)) throw new Error(`invalid address "${echo(s)}"`);
  return ethers.getAddress(s.toLowerCase());
}

export function parseAddressList(raw: unknown): string[] {
  try {
    return parseList(raw).map(parseAddress);
  } catch (e) {
    // A mnemonic pasted here splits into words; echoing one word would leak part of it. When the
    // whole value holds something secret-shaped, echo the whole (redacted) value instead.
    const whole = Array.isArray(raw) ? raw.map(String).join(",") : String(raw);
    if (redact(whole) !== whole) throw new Error(`invalid address "${echo(whole)}"`);
    throw e;
  }
}

/** Plain digits only: " 12", "0x80", "1e3", "12.0" and "+1" are rejected. */
export function parseInteger(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (raw: unknown): number => {
    const s = scalarText(raw);
    if (typeof raw === "number" ? !Number.isInteger(raw) : !/^\d+$/.test(s)) throw new Error(`expected a whole number, got "${echo(s)}"`);
    const n = Number(s);
    if (n < min || n > max) throw new Error(`must be between ${min} and ${max}, got ${n}`);
    return n;
  };
}

/** Digits with an optional decimal part (percentages, gwei): no sign, exponent, hex or spaces. */
export function parseNumber(min: number, max: number) {
  return (raw: unknown): number => {
    const s = scalarText(raw);
    if (typeof raw === "number" ? !Number.isFinite(raw) : !/^\d+(\.\d+)?$/.test(s)) throw new Error(`expected a decimal number, got "${echo(s)}"`);
    const n = Number(s);
    if (n < min || n > max) throw new Error(`must be between ${min} and ${max}, got ${n}`);
    return n;
  };
}

export function parseHttpUrl(raw: unknown): string {
  const s = scalarText(raw);
  let ok = false;
  try {
    ok = !/\s/.test(s) && ["http:", "https:"].includes(new URL(s).protocol);
  } catch { /* reported below */ }
  // The value may embed an API key: never echo it.
  if (!ok) throw new Error("invalid URL (must start with http:// or https://)");
  return s;
}

export const parseHttpUrls = (raw: unknown): string[] => parseList(raw).map(parseHttpUrl);

/** A JSON-RPC endpoint: HTTP, or a WebSocket (ws://, wss://: new heads pushed by eth_subscribe). */
export function parseRpcUrl(raw: unknown): string {
  const s = scalarText(raw);
  let ok = false;
  try {
    ok = !/\s/.test(s) && ["http:", "https:", "ws:", "wss:"].includes(new URL(s).protocol) && new URL(s).hostname !== "";
  } catch { /* reported below */ }
  // The value may embed an API key: never echo it.
  if (!ok) throw new Error("invalid URL (must start with http://, https://, ws:// or wss://)");
  return s;
}

export const parseRpcUrls = (raw: unknown): string[] => parseList(raw).map(parseRpcUrl);

/** A PostgreSQL connection URL (the shared state store). It carries a password: never echoed. */
export function parseStateUrl(raw: unknown): string {
  const s = scalarText(raw);
  let ok = false;
  try {
    ok = !/\s/.test(s) && ["postgres:", "postgresql:"].includes(new URL(s).protocol);
  } catch { /* reported below */ }
  if (!ok) throw new Error("invalid state URL (must start with postgres:// or postgresql://, e.g. postgres://keepctl:PASSWORD@db.internal:5432/keepctl)");
  return s;
}

/** Electrum server URLs (tcp://, tls://, ssl://, ws://, wss://); the error names the fix, never the URL. */
export const parseElectrumUrls = (raw: unknown): string[] => parseList(raw).map((u) => parseElectrumUrl(u).url);
/** Esplora base URLs (http:// or https://). */
export const parseEsploraUrls = (raw: unknown): string[] => parseList(raw).map((u) => parseEsploraUrl(u).url);

/**
 * {"Name": "0x.."} from JSON, or "Name=0x..,Name2=0x.." from env. A name given twice (in any case)
 * is refused with both values — last-wins once sent transactions to the wrong contract — and a
 * name keepctl does not know (contract-names.ts) is refused with the closest known one.
 */
export function parseContracts(raw: unknown): Record<string, string> {
  let entries: [string, unknown][];
  if (typeof raw === "string") {
    const s = scalarText(raw).trim();
    if (s.startsWith("{")) {
      let obj: unknown;
      try {
        obj = JSON.parse(s);
      } catch {
        throw new Error("contracts: not valid JSON");
      }
      if (!obj || typeof obj !== "object" || Array.isArray(obj)) throw new Error("contracts must map names to addresses");
      const dup = findDuplicateKey(s, (p) => p.length === 0);
      if (dup && dup.path.length === 0) throw duplicateContract(dup.first, dup.second);
      entries = Object.entries(obj);
    } else {
      entries = parseList(s).map((kv) => {
        const [name, addr, ...rest] = kv.split("=");
        if (!name || addr === undefined || rest.length) throw new Error(`contracts: expected Name=0x..., got "${echo(kv)}"`);
        return [name, addr];
      });
    }
  } else {
    if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw new Error("contracts must map names to addresses");
    entries = Object.entries(raw);
  }
  // Duplicates first: with two values for one name, whichever address is checked next is not the point.
  const seen = new Map<string, { key: string; value: string }>();
  for (const [name, addr] of entries) {
    const first = seen.get(name.toLowerCase());
    if (first) throw duplicateContract(first, { key: name, value: String(addr) });
    seen.set(name.toLowerCase(), { key: name, value: String(addr) });
  }
  const out: Record<string, string> = {};
  for (const [name, addr] of entries) {
    if (!isKnownContractName(name)) {
      const near = closestName(name, KNOWN_CONTRACT_NAMES);
      throw new Error(`unknown contract name "${echo(name)}"${near ? ` (did you mean "${near}"?)` : ""}; names of your own must start with "${USER_KEY_PREFIX}"`);
    }
    try {
      out[name] = parseAddress(addr);
    } catch {
      throw new Error(`invalid address "${echo(addr)}" for contract ${echo(name)}`);
    }
  }
  return out;
}

function duplicateContract(first: { key: string; value: string }, second: { key: string; value: string }): Error {
  const names = first.key === second.key ? `"${echo(first.key)}"` : `"${echo(first.key)}" and "${echo(second.key)}"`;
  return new Error(`contract ${names} given twice: ${echo(first.value)} and ${echo(second.value)}; give each name once`);
}

/** Non-negative decimal with at most 18 places, kept as text; `belowOne` restricts it to [0, 1). */
export function parseDecimal18(belowOne: boolean) {
  return (raw: unknown): string => {
    const s = scalarText(raw);
    if (!/^\d+(\.\d{1,18})?$/.test(s)) throw new Error(`expected a decimal number with at most 18 places, got "${echo(s)}"`);
    if (belowOne && !/^0+(\.\d+)?$/.test(s)) throw new Error(`must be at least 0 and below 1, got ${s}`);
    return s;
  };
}

export function parseBoolean(raw: unknown): boolean {
  if (typeof raw === "boolean") return raw;
  const s = scalarText(raw);
  if (/^(1|true|yes)$/i.test(s)) return true;
  if (/^(0|false|no)$/i.test(s)) return false;
  throw new Error(`expected true or false, got "${echo(s)}"`);
}

/** "auto" (the `finalized` block tag, else 12 blocks) or a block count 0..10000. */
export function parseConfirmations(raw: unknown): number | "auto" {
  const s = scalarText(raw);
  if (s === "auto") return "auto";
  try {
    return parseInteger(0, 10_000)(raw);
  } catch (e) {
    throw new Error(`${(e as Error).message}; or "auto"`);
  }
}

/** A PagerDuty integration key (32 characters on PagerDuty's side). Secret: the error never echoes it. */
function parseRoutingKey(raw: unknown): string {
  const s = scalarText(raw).trim();
  if (!/^[\x21-\x7e]+$/.test(s)) throw new Error("a PagerDuty routing key is one word of printable characters (the integration key of an Events API v2 service)");
  return s;
}

/**
 * A watch-only Bitcoin account: xpub/tpub, zpub/vpub, or a wpkh(...) descriptor (checksum verified
 * when given). Checked for shape here; its network is checked once the Bitcoin network is known.
 */
export function parseBtcWatchOnlyKey(raw: unknown): string {
  const s = scalarText(raw).trim();
  if (looksLikeDescriptor(s)) parseWpkhDescriptor(s);
  else parseExtendedPublicKey(s);
  return s;
}

function parsePath(raw: unknown): string {
  return path.resolve(expandHome(scalarText(raw)));
}

function parseChoice<T extends string>(what: string, choices: readonly T[]) {
  return (raw: unknown): T => {
    const s = scalarText(raw);
    if (!choices.includes(s as T)) throw new Error(`${what} must be ${choices.join(", ")}; got "${echo(s)}"`);
    return s as T;
  };
}

/**
 * `$XDG_CONFIG_HOME/keepctl/config.json` (XDG: only an absolute XDG_CONFIG_HOME counts), else
 * `~/.config/keepctl/config.json`; undefined when no such file exists.
 */
export function defaultConfigFile(env: NodeJS.ProcessEnv): string | undefined {
  const xdg = env.XDG_CONFIG_HOME;
  // env.HOME only (no os.homedir() fallback): a caller passing its own env, like a test, stays hermetic.
  const home = env.HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : home ? path.join(home, ".config") : undefined;
  if (!base) return undefined;
  const file = path.join(base, "keepctl", "config.json");
  return fs.existsSync(file) ? file : undefined;
}

function expandHome(p: string): string {
  return p === "~" || p.startsWith("~/") ? path.join(os.homedir(), p.slice(1)) : p;
}

// ---- the settings table ---------------------------------------------------------------------

const int = (min: number, max?: number) => rule(parseInteger(min, max));
const num = (min: number, max: number) => rule(parseNumber(min, max));

// Mutation testing (docs/testing.md): the table's literals are evaluated once, when the module is
// imported, and Stryker's vitest runner never re-imports it, so a switched literal is never seen
// (hundreds of false survivors). Its logic — the rules' bodies — is still mutated.
// Stryker disable StringLiteral,ArrayDeclaration,ObjectLiteral,BooleanLiteral,ArrowFunction
export const SETTINGS: Setting[] = [
  { key: "network", section: "core", flag: "network", env: ["KEEPCTL_NETWORK"], default: "mainnet", describe: "network preset",
    schema: rule((r) => { const s = scalarText(r); if (!PRESETS[s]) throw new Error(`unknown network "${echo(s)}" (known: ${Object.keys(PRESETS).join(", ")})`); return s; }) },
  { key: "dataDir", section: "core", flag: "dataDir", env: ["KEEPCTL_DATA_DIR"], default: () => path.join(os.homedir(), ".keepctl"),
    describe: "cache, journal and lock directory (created 0700)", schema: rule(parsePath) },
  { key: "rpcUrls", section: "rpc", field: "urls", flag: "rpcUrl", env: ["KEEPCTL_RPC_URLS", "KEEPCTL_RPC_URL", "ETH_RPC_URL"], default: [], secret: "url", list: true,
    fileForm: { flag: "rpcUrlFile", env: "KEEPCTL_RPC_URLS_FILE" }, describe: "JSON-RPC endpoints (http://, https://, ws://, wss://), tried in order", schema: rule(parseRpcUrls) },
  { key: "chainId", section: "rpc", env: ["KEEPCTL_CHAIN_ID"], describe: "expected chain id (checked on connect)", schema: int(1) },
  { key: "rpcTimeoutMs", section: "rpc", field: "timeoutMs", env: ["KEEPCTL_RPC_TIMEOUT_MS"], default: 15000, describe: "per-request RPC timeout (ms)", schema: int(100, 600_000) },
  { key: "rpcRetries", section: "rpc", field: "retries", env: ["KEEPCTL_RPC_RETRIES"], default: 3, describe: "attempts per RPC URL before failing over", schema: int(1, 20) },
  { key: "batchMaxCount", section: "rpc", env: ["KEEPCTL_BATCH_MAX_COUNT"], default: 100, describe: "JSON-RPC calls per batch (1 disables batching)", schema: int(1, 1000) },
  { key: "logChunkSize", section: "rpc", env: ["KEEPCTL_LOG_CHUNK_SIZE"], default: 10000, describe: "blocks per eth_getLogs call to start with (the provider's cap when known; a refusal's named cap, else half, is learned and remembered per endpoint)", schema: int(1) },
  { key: "maxLagBlocks", section: "rpc", flag: "maxLag", env: ["KEEPCTL_MAX_LAG"], default: 3, describe: "blocks an RPC endpoint's head may trail the freshest one seen before it is set aside (0 = no check)", schema: int(0, 1_000_000) },
  { key: "maxHeadAgeSec", section: "rpc", env: ["KEEPCTL_MAX_HEAD_AGE"], default: (v: Record<string, unknown>) => ([31337, 1337].includes(v.chainId as number) ? 0 : 600), describe: "oldest chain head (s) a run may judge from; 0 = no limit (default 0 on local dev chains, whose clock is moved)", schema: int(0, 31_536_000) },
  // ---- tBTC ----
  { key: "contracts", section: "tbtc", env: ["KEEPCTL_CONTRACTS"], default: {}, merge: "record", describe: "contract addresses by name", schema: rule(parseContracts) },
  { key: "startBlock", section: "tbtc", env: ["KEEPCTL_START_BLOCK", "MINBLOCK"], default: 0, describe: "first block of log scans", schema: int(0) },
  { key: "operators", section: "tbtc", flag: "operator", env: ["KEEPCTL_OPERATORS", "OPERATORS"], default: [], list: true, fileComments: "trailing",
    fileForm: { flag: "operatorsFile", env: "KEEPCTL_OPERATORS_FILE" }, describe: "operator addresses (the file form: one a line, # comments)", schema: rule(parseAddressList) },
  { key: "warnThreshold", section: "tbtc", flag: "threshold", env: ["KEEPCTL_WARN_THRESHOLD", "COLLATERALISATION_THRESHOLD"], default: 130,
    describe: "collateralization % below which a deposit is at risk", schema: num(100, 1000) },
  { key: "btcAddress", section: "tbtc", flag: "btcAddress", env: ["KEEPCTL_BTC_ADDRESS", "BTC_ADDRESS"], describe: "BTC address redemptions pay out to (P2WPKH, P2WSH, P2PKH, P2SH)",
    schema: rule((r) => { const s = scalarText(r); if (!/^[a-zA-Z0-9]{14,90}$/.test(s)) throw new Error(`"${echo(s)}" does not look like a BTC address`); return s; }) },
  { key: "redeemBelow", section: "tbtc", flag: "redeemBelow", env: ["KEEPCTL_REDEEM_BELOW"], default: 130, describe: "redeem deposits whose collateralization % is below this", schema: num(100, 1000) },
  { key: "feeSats", section: "tbtc", flag: "feeSats", env: ["KEEPCTL_REDEMPTION_FEE_SATS"], default: 10000, describe: "BTC fee (sat) left to the redemption tx; >= 2000 and < half the UTXO", schema: int(2000) },
  { key: "btcConfirmations", section: "tbtc", flag: "btcConfirmations", env: ["KEEPCTL_BTC_CONFIRMATIONS"], default: 6, describe: "Bitcoin confirmations before a redemption or funding proof is sent (the relay's work rule applies on top)", schema: int(1, 100) },
  { key: "maxBtcFeeSats", section: "tbtc", flag: "maxBtcFeeSats", env: ["KEEPCTL_MAX_BTC_FEE_SATS"], default: 100000, describe: "most cumulative BTC fee (sat) an increaseRedemptionFee may ask for; alert at the cap", schema: int(2000) },
  { key: "preapprove", section: "tbtc", env: ["KEEPCTL_PREAPPROVE"], default: true, describe: "watch approves a deposit's exact redemption requirement once it is below the warn level, so the redemption is one transaction (--no-preapprove turns it off)", schema: rule(parseBoolean) },
  // ---- buying TBTC from the Uniswap V2 pool (redeem/watch --buy-shortfall, buy-tbtc) ----
  { key: "buyShortfall", section: "tbtc", flag: "buyShortfall", env: ["KEEPCTL_BUY_SHORTFALL"], default: false, describe: "buy the TBTC an at-risk deposit lacks from the Uniswap V2 pool, then redeem it", schema: rule(parseBoolean) },
  { key: "buyMaxPrice", section: "tbtc", flag: "maxPrice", env: ["KEEPCTL_BUY_MAX_PRICE"], default: 5, describe: "most premium (%) a TBTC buy may pay over the system's ETH/BTC price", schema: num(0, 1000) },
  { key: "buyMaxSlippage", section: "tbtc", flag: "maxSlippage", env: ["KEEPCTL_BUY_MAX_SLIPPAGE"], default: 0.5, describe: "most the pool's price may move (%) between the quote and the swap", schema: num(0, 50) },
  { key: "buyMaxEthPerDay", section: "tbtc", flag: "maxEthPerDay", env: ["KEEPCTL_BUY_MAX_ETH_PER_DAY"], default: "10", describe: "most ETH TBTC buys may spend in any 24 h (each swap counted at its ETH value)", schema: rule(parseDecimal18(false)) },
  { key: "buyDeadlineSec", section: "tbtc", env: ["KEEPCTL_BUY_DEADLINE_SEC"], default: 36, describe: "seconds after the quoted block a swap may still be mined (3 blocks of 12 s)", schema: int(12, 3600) },
  // ---- RAI redemption-rate feed (keepctl rai-price, UMA bots); defaults from the seed deployment ----
  { key: "subgraphUrl", section: "rai", flag: "subgraphUrl", env: ["KEEPCTL_SUBGRAPH_URL"], secret: "url", fileForm: { flag: "subgraphUrlFile", env: "KEEPCTL_SUBGRAPH_URL_FILE" },
    describe: "GraphQL endpoint (RAI feed)", schema: rule(parseHttpUrl) },
  { key: "rateSetter", section: "rai", flag: "rateSetter", env: ["KEEPCTL_RATE_SETTER"], describe: "RAI RateSetter address (else contracts.RateSetter)", schema: rule(parseAddress) },
  { key: "raiTwapLength", section: "rai", field: "twapLength", env: ["KEEPCTL_RAI_TWAP_LENGTH"], default: 28800, describe: "RAI feed TWAP length (s)", schema: int(1, 31_536_000) },
  { key: "raiLookback", section: "rai", field: "lookback", env: ["KEEPCTL_RAI_LOOKBACK"], default: 28800, describe: "RAI feed historical lookback (s)", schema: int(0, 31_536_000) },
  { key: "raiUpdateRateDelay", section: "rai", field: "updateRateDelay", env: ["KEEPCTL_RAI_UPDATE_RATE_DELAY"], default: 10800, describe: "RateSetter update delay; subgraph older than this is checked against events (s)", schema: int(1) },
  { key: "raiSource", section: "rai", field: "source", env: ["KEEPCTL_RAI_SOURCE"], default: "auto", describe: "RAI feed source: auto, subgraph or events", schema: rule(parseChoice("source", ["auto", "subgraph", "events"] as const)) },
  { key: "subgraphTimeoutMs", section: "rai", env: ["KEEPCTL_SUBGRAPH_TIMEOUT_MS"], default: 10000, describe: "per-request subgraph timeout (ms)", schema: int(100, 600_000) },
  // ---- Bitcoin data layer (lib/btc): which network, which servers ----
  { key: "btcNetwork", section: "btc", field: "network", flag: "btcNetwork", env: ["KEEPCTL_BTC_NETWORK"], default: "testnet",
    describe: "Bitcoin network the servers must serve (checked by genesis block): mainnet, testnet, testnet4, signet, regtest; the mainnet preset sets mainnet", schema: rule(parseChoice("Bitcoin network", BTC_NETWORKS)) },
  { key: "btcElectrumUrls", section: "btc", field: "electrumUrls", flag: "btcElectrumUrl", env: ["KEEPCTL_BTC_ELECTRUM_URLS", "BTC_ELECTRUM_SERVER"], default: [], secret: "url", list: true,
    fileForm: { flag: "btcElectrumUrlFile", env: "KEEPCTL_BTC_ELECTRUM_URLS_FILE" }, describe: "Electrum servers (tcp://, tls:// or ssl://, ws://, wss://; ?insecure=1 skips TLS certificate checks)", schema: rule(parseElectrumUrls) },
  { key: "btcEsploraUrls", section: "btc", field: "esploraUrls", flag: "btcEsploraUrl", env: ["KEEPCTL_BTC_ESPLORA_URLS"], default: [], secret: "url", list: true,
    fileForm: { flag: "btcEsploraUrlFile", env: "KEEPCTL_BTC_ESPLORA_URLS_FILE" }, describe: "Esplora REST base URLs (http(s)://…/api)", schema: rule(parseEsploraUrls) },
  { key: "btcTimeoutMs", section: "btc", field: "timeoutMs", env: ["KEEPCTL_BTC_TIMEOUT_MS"], default: 15000, describe: "per-request Bitcoin server timeout (ms)", schema: int(100, 600_000) },
  { key: "btcRetries", section: "btc", field: "retries", env: ["KEEPCTL_BTC_RETRIES"], default: 2, describe: "attempts on the last Bitcoin server a request tries (the others get one each)", schema: int(1, 20) },
  // ---- signing ----
  { key: "maxFeeGwei", section: "signing", flag: "maxFeeGwei", env: ["KEEPCTL_MAX_FEE_GWEI"], default: 200, describe: "hard cap on maxFeePerGas (gwei); never signed above", schema: num(0.000000001, 1_000_000) },
  { key: "receiptTimeoutSec", section: "signing", env: ["KEEPCTL_RECEIPT_TIMEOUT"], default: 900, describe: "seconds to wait for a sent tx to mine before reporting it pending (still tracked)", schema: int(1, 86_400) },
  { key: "txPollMs", section: "signing", env: ["KEEPCTL_TX_POLL_MS"], default: 2000, describe: "how often a sent tx's receipt is polled (ms)", schema: int(10, 600_000) },
  { key: "rebroadcastMs", section: "signing", env: ["KEEPCTL_REBROADCAST_MS"], default: 10000, describe: "rebroadcast the same signed tx when the node knows none of its hashes, this often (ms)", schema: int(10, 3_600_000) },
  { key: "replaceAfterSec", section: "signing", env: ["KEEPCTL_REPLACE_AFTER"], default: 60, describe: "re-price a sent tx at the same nonce when not mined this long after the last send (s)", schema: int(1, 86_400) },
  { key: "replacementPct", section: "signing", env: ["KEEPCTL_REPLACEMENT_PCT"], default: 10, describe: "least rise of both fee fields the node accepts for a replacement (%)", schema: num(1, 1000) },
  { key: "confirmations", section: "signing", flag: "confirmations", env: ["KEEPCTL_CONFIRMATIONS"], default: "auto",
    describe: "blocks deep a mined transaction must be before its action counts as final; auto = the node's finalized block, else 12", schema: rule(parseConfirmations) },
  { key: "privateTxUrl", section: "signing", flag: "privateTxUrl", env: ["KEEPCTL_PRIVATE_TX_URL"], fileForm: { flag: "privateTxUrlFile", env: "KEEPCTL_PRIVATE_TX_URL_FILE" }, secret: "url",
    describe: "eth_sendRawTransaction relay the TBTC swaps are sent to instead of the public endpoint", schema: rule(parseHttpUrl) },
  { key: "lockDir", section: "signing", env: ["KEEPCTL_LOCK_DIR"], describe: "machine-wide directory of per-account send locks (default <tmpdir>/keepctl-locks)", schema: rule(parsePath) },
  { key: "stateUrl", section: "signing", flag: "stateUrl", env: ["KEEPCTL_STATE_URL"], secret: "url", fileForm: { flag: "stateUrlFile", env: "KEEPCTL_STATE_URL_FILE" },
    describe: "PostgreSQL URL of the shared state (journal + fenced lease) for two or more hosts; unset: files in the data dir", schema: rule(parseStateUrl) },
  { key: "leaseRefreshSec", section: "signing", flag: "leaseRefresh", env: ["KEEPCTL_LEASE_REFRESH"], default: 2, describe: "seconds between lease renewals (and standby retries); at most half of the lease duration", schema: num(0.05, 3600) },
  { key: "leaseDurationSec", section: "signing", flag: "leaseDuration", env: ["KEEPCTL_LEASE_DURATION"], default: 15, describe: "seconds a lease renewal holds the account, by the database's clock", schema: num(0.1, 86_400) },
  { key: "keystore", section: "signing", flag: "keystore", env: ["KEEPCTL_KEYSTORE"], describe: "encrypted JSON keystore of the signing account", schema: rule(parsePath) },
  { key: "passwordFile", section: "signing", flag: "passwordFile", env: ["KEEPCTL_PASSWORD_FILE"], describe: "file holding the keystore password", schema: rule(parsePath) },
  // Raw key: environment only (CI). No flag (argv is public), no config-file key.
  { key: "privateKey", section: "signing", env: ["KEEPCTL_PRIVATE_KEY"], fileKey: null, secret: true, describe: "raw private key (CI only; prefer a keystore)", schema: rule((r) => scalarText(r).trim()) },
  { key: "strictPerms", section: "signing", flag: "strictPerms", env: ["KEEPCTL_STRICT_PERMS"], default: false, describe: "a keystore or password file readable by group/others is an error, not a warning", schema: rule(parseBoolean) },
  // ---- alerts ----
  { key: "slackWebhookUrl", section: "alerts", env: ["KEEPCTL_SLACK_WEBHOOK_URL"], fileForm: { env: "KEEPCTL_SLACK_WEBHOOK_URL_FILE" }, secret: true, describe: "Slack incoming-webhook URL for alerts", schema: rule(parseHttpUrl) },
  { key: "discordWebhookUrl", section: "alerts", env: ["KEEPCTL_DISCORD_WEBHOOK_URL"], fileForm: { env: "KEEPCTL_DISCORD_WEBHOOK_URL_FILE" }, secret: true, describe: "Discord webhook URL for alerts", schema: rule(parseHttpUrl) },
  { key: "telegramBotToken", section: "alerts", env: ["KEEPCTL_TELEGRAM_BOT_TOKEN"], fileForm: { env: "KEEPCTL_TELEGRAM_BOT_TOKEN_FILE" }, secret: true, describe: "Telegram bot token for alerts", schema: rule((r) => scalarText(r).trim()) },
  { key: "telegramChatId", section: "alerts", env: ["KEEPCTL_TELEGRAM_CHAT_ID"], describe: "Telegram chat id for alerts", schema: rule((r) => scalarText(r).trim()) },
  { key: "webhookUrl", section: "alerts", env: ["KEEPCTL_WEBHOOK_URL"], fileForm: { env: "KEEPCTL_WEBHOOK_URL_FILE" }, secret: true, describe: "generic JSON webhook URL for alerts", schema: rule(parseHttpUrl) },
  { key: "pagerdutyRoutingKey", section: "alerts", env: ["KEEPCTL_PAGERDUTY_ROUTING_KEY"], fileForm: { env: "KEEPCTL_PAGERDUTY_ROUTING_KEY_FILE" }, secret: true, describe: "PagerDuty Events v2 integration (routing) key for alerts", schema: rule(parseRoutingKey) },
  { key: "pagerdutyUrl", section: "alerts", env: ["KEEPCTL_PAGERDUTY_URL"], default: "https://events.pagerduty.com/v2/enqueue", describe: "PagerDuty Events v2 endpoint (an EU account or a proxy may differ)", schema: rule(parseHttpUrl) },
  { key: "heartbeatUrl", section: "alerts", flag: "heartbeatUrl", env: ["KEEPCTL_HEARTBEAT_URL"], fileForm: { flag: "heartbeatUrlFile", env: "KEEPCTL_HEARTBEAT_URL_FILE" }, secret: true,
    describe: "URL pinged after every watch loop or bot pass (dead-man switch)", schema: rule(parseHttpUrl) },
  // ---- watch loop ----
  { key: "interval", section: "watch", flag: "interval", env: ["KEEPCTL_INTERVAL"], default: 60, describe: "seconds between watch loops and bot passes", schema: int(1, 86_400) },
  { key: "maxFailedPasses", section: "watch", flag: "maxFailedPasses", env: ["KEEPCTL_MAX_FAILED_PASSES"], default: 5, describe: "failed watch loops / EMP bot passes in a row before exiting 11 (0 = never)", schema: int(0, 10_000) },
  { key: "minEthBalance", section: "watch", env: ["KEEPCTL_MIN_ETH"], default: "0.1", describe: "alert when the account's ETH falls below this", schema: rule(parseDecimal18(false)) },
  { key: "maxBlockAgeSec", section: "watch", env: ["KEEPCTL_MAX_BLOCK_AGE"], default: 300, describe: "alert when no new block arrived for this many seconds", schema: int(1) },
  { key: "replenishTo", section: "watch", flag: "replenishTo", env: ["KEEPCTL_REPLENISH_TO"], describe: "watch mints TBTC lots from the hot Bitcoin wallet while the balance is below this (off when unset)", schema: rule(parseDecimal18(false)) },
  // ---- UMA EMP bots (emp-liquidate, emp-dispute); decimals are kept as text, exact to 18 places ----
  { key: "empAddress", section: "emp", field: "address", flag: "emp", env: ["KEEPCTL_EMP_ADDRESS", "EMP_ADDRESS"], describe: "ExpiringMultiParty address (else contracts.ExpiringMultiParty)", schema: rule(parseAddress) },
  { key: "empPrice", section: "emp", field: "price", flag: "price", describe: "fixed price override for the EMP bots (decimal, 18 dp)", schema: rule(parseDecimal18(false)) },
  { key: "crThreshold", section: "emp", flag: "crThreshold", env: ["KEEPCTL_CR_THRESHOLD", "CR_THRESHOLD"], default: "0.02", describe: "price shading of the EMP bots, in [0, 1)", schema: rule(parseDecimal18(true)) },
  { key: "liquidationDeadline", section: "emp", flag: "liquidationDeadline", env: ["KEEPCTL_LIQUIDATION_DEADLINE"], default: 300, describe: "seconds a liquidation may wait to be mined", schema: int(1, 86_400) },
  { key: "maxTokens", section: "emp", flag: "maxTokens", env: ["KEEPCTL_MAX_TOKENS_TO_LIQUIDATE"], describe: "most synthetic tokens per liquidation (decimal)", schema: rule(parseDecimal18(false)) },
  { key: "defenseActivationPercent", section: "emp", flag: "defenseActivationPercent", env: ["KEEPCTL_DEFENSE_ACTIVATION_PERCENT"], describe: "whale defence: % of withdrawal liveness after which to liquidate minSponsorTokens", schema: num(0, 100) },
  { key: "disputeDelay", section: "emp", flag: "disputeDelay", env: ["KEEPCTL_DISPUTE_DELAY"], default: 60, describe: "seconds after a liquidation before disputing it", schema: int(0, 86_400) },
  { key: "empLookback", section: "emp", field: "lookback", flag: "lookback", env: ["KEEPCTL_EMP_LOOKBACK"], describe: "disputer price lookback (s); default the EMP's liquidationLiveness", schema: int(0, 31_536_000) },
  { key: "botRetries", section: "emp", field: "retries", flag: "retries", env: ["KEEPCTL_BOT_RETRIES"], default: 3, describe: "retries of a failed EMP bot pass", schema: int(0, 20) },
  // ---- the operator's Bitcoin wallet (keepctl btc-wallet; the mint flow) ----
  { key: "btcKeystore", section: "btcWallet", field: "keystore", flag: "btcKeystore", env: ["KEEPCTL_BTC_KEYSTORE"], describe: "encrypted BIP39 seed of the operator's Bitcoin wallet (hot; written by keepctl btc-wallet create/import)", schema: rule(parsePath) },
  { key: "btcPasswordFile", section: "btcWallet", field: "passwordFile", flag: "btcPasswordFile", env: ["KEEPCTL_BTC_PASSWORD_FILE"], describe: "file holding the Bitcoin keystore password", schema: rule(parsePath) },
  { key: "btcXpub", section: "btcWallet", field: "xpub", flag: "btcXpub", env: ["KEEPCTL_BTC_XPUB"], describe: "watch-only Bitcoin account: xpub/tpub, zpub/vpub or a wpkh(...) descriptor (transactions go out as PSBTs)", schema: rule(parseBtcWatchOnlyKey) },
  { key: "maxBtcFeeRate", section: "btcWallet", field: "maxFeeRate", flag: "maxBtcFeeRate", env: ["KEEPCTL_MAX_BTC_FEE_RATE"], default: 200, describe: "hard cap on a Bitcoin transaction's fee rate (sat/vB); never signed above", schema: num(1, 100_000) },
  // ---- the sponsor's side (emp-position, emp-guard, emp-launch); ratios as decimal text, exact ----
  { key: "empThreshold", section: "emp", field: "threshold", flag: "empThreshold", env: ["KEEPCTL_EMP_THRESHOLD"], describe: "emp-position: exit 10 when the position's ratio at the price is below this (e.g. 1.5)", schema: rule(parseDecimal18(false)) },
  { key: "guardTarget", section: "emp", flag: "target", env: ["KEEPCTL_GUARD_TARGET"], describe: "emp-guard: the ratio to keep the position at or above (e.g. 1.5)", schema: rule(parseDecimal18(false)) },
  { key: "guardPrefer", section: "emp", flag: "prefer", env: ["KEEPCTL_GUARD_PREFER"], default: "deposit", describe: "emp-guard: top up with collateral first (deposit) or by burning synthetic tokens first (repay)", schema: rule(parseChoice("prefer", ["deposit", "repay"] as const)) },
  { key: "guardMargin", section: "emp", flag: "margin", env: ["KEEPCTL_GUARD_MARGIN"], default: "0.05", describe: "emp-guard: the floor for --target is the collateral requirement × (1 + this), in [0, 1)", schema: rule(parseDecimal18(true)) },
  { key: "guardRunway", section: "emp", flag: "alertRunway", env: ["KEEPCTL_GUARD_ALERT_RUNWAY"], default: "0.1", describe: "emp-guard: warn when the wallet could not hold the target through a price rise of this share, in [0, 1)", schema: rule(parseDecimal18(true)) },
  { key: "empCreator", section: "emp", field: "creator", flag: "creator", env: ["KEEPCTL_EMP_CREATOR"], describe: "emp-launch: UMA ExpiringMultiPartyCreator (else contracts.ExpiringMultiPartyCreator)", schema: rule(parseAddress) },
  { key: "umaFinder", section: "emp", field: "finder", flag: "finder", env: ["KEEPCTL_UMA_FINDER"], describe: "emp-launch: UMA Finder the Creator uses (else contracts.UmaFinder)", schema: rule(parseAddress) },
];
// Stryker restore all

/** Environment names that are not settings but are still read here. */
const OTHER_ENV = ["KEEPCTL_CONFIG", "KEEPCTL_DEPLOYMENT"];

export function knownEnvNames(): string[] {
  return [...OTHER_ENV, ...SETTINGS.flatMap((s) => [...(s.env ?? []), ...(s.fileForm ? [s.fileForm.env] : [])])];
}

export function knownFileKeys(): string[] {
  return ["deployment", ...SETTINGS.filter((s) => s.fileKey !== null).map((s) => s.fileKey ?? s.key)];
}

// ---- sections ---------------------------------------------------------------------------------

export interface RpcSection { urls: string[]; chainId: number; timeoutMs: number; retries: number; batchMaxCount: number; logChunkSize: number; maxHeadAgeSec: number; maxLagBlocks: number }
export type KeySource = "keystore" | "private-key" | "none";
export interface SigningSection {
  /** Which key signs; see keySourceRule below. */
  keySource: KeySource;
  keystore?: string;
  passwordFile?: string;
  privateKey?: string;
  maxFeeGwei: number;
  strictPerms: boolean;
  receiptTimeoutSec: number;
  txPollMs: number;
  rebroadcastMs: number;
  replaceAfterSec: number;
  replacementPct: number;
  /** Blocks deep a receipt must be before its journal entry is final; "auto": the finalized tag, else 12. */
  confirmations: number | "auto";
  lockDir?: string;
  privateTxUrl?: string;
  /** The shared state store (PostgreSQL); unset: the data dir's files. */
  stateUrl?: string;
  leaseRefreshSec: number;
  leaseDurationSec: number;
}
export interface AlertsSection {
  slackWebhookUrl?: string; discordWebhookUrl?: string; telegramBotToken?: string; telegramChatId?: string; webhookUrl?: string; heartbeatUrl?: string;
  pagerdutyRoutingKey?: string; pagerdutyUrl?: string;
}
export interface TbtcSection {
  contracts: Record<string, string>; startBlock: number; operators: string[]; warnThreshold: number; btcAddress?: string; redeemBelow: number; feeSats: number; btcConfirmations: number; maxBtcFeeSats: number; preapprove: boolean;
  buyShortfall: boolean; buyMaxPrice: number; buyMaxSlippage: number; buyMaxEthPerDay: string; buyDeadlineSec: number;
}
export interface RaiSection {
  network: string; contracts: Record<string, string>; startBlock: number; logChunkSize: number;
  subgraphUrl?: string; rateSetter?: string; twapLength: number; lookback: number; updateRateDelay: number;
  source: "auto" | "subgraph" | "events"; subgraphTimeoutMs: number;
}
export interface EmpSection {
  address?: string; price?: string; crThreshold: string; liquidationDeadline: number; maxTokens?: string;
  defenseActivationPercent?: number; disputeDelay: number; lookback?: number; retries: number;
  threshold?: string; guardTarget?: string; guardPrefer: "deposit" | "repay"; guardMargin: string; guardRunway: string; creator?: string; finder?: string;
}
export interface WatchSection { interval: number; minEthBalance: string; maxBlockAgeSec: number; maxFailedPasses: number; replenishTo?: string }
export interface BtcWalletSection { keystore?: string; passwordFile?: string; xpub?: string; maxFeeRate: number }
/** lib/btc's settings (connectBitcoin takes this section). */
export interface BtcSection { network: BtcNetwork; electrumUrls: string[]; esploraUrls: string[]; timeoutMs: number; retries: number }

// ---- resolution ------------------------------------------------------------------------------

export interface Config {
  network: string;
  dataDir: string;
  rpc: RpcSection;
  signing: SigningSection;
  alerts: AlertsSection;
  tbtc: TbtcSection;
  rai: RaiSection;
  emp: EmpSection;
  watch: WatchSection;
  btcWallet: BtcWalletSection;
  btc: BtcSection;
  // Flat copies of the most used values, for modules that take a structural slice of Config.
  rpcUrls: string[];
  chainId: number;
  contracts: Record<string, string>;
  startBlock: number;
  operators: string[];
  warnThreshold: number;
  rpcTimeoutMs: number;
  rpcRetries: number;
  batchMaxCount: number;
  logChunkSize: number;
  subgraphUrl?: string;
  configFile?: string;
  deploymentFile?: string;
  /** The parsed deployment file, extras included. */
  deployment?: DeploymentFile;
  /** Every setting by key, as resolved (`keepctl config` shows them; code reads the sections). */
  values: Record<string, unknown>;
  sources: Record<string, Source>;
  /** Which flag / env name / file key supplied each value. */
  origins: Record<string, string>;
  /** Non-fatal findings (a key source overridden by a higher layer, ...), for the command to show. */
  warnings: string[];
}

export interface LoadOptions {
  /** Directory whose .env is read (default process.cwd()). */
  cwd?: string;
  /** false: ignore .env. */
  dotenv?: boolean;
  /** Throw ConfigError when no RPC URL is configured (default true). */
  requireRpc?: boolean;
}

interface Layer { source: Source; values: Record<string, unknown>; origin: (key: string) => string }

const kebab = (s: string) => "--" + s.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());

/** Bigger than this is not a config or deployment file: refused before it is read whole (exit 3). */
export const JSON_FILE_MAX_BYTES = DEPLOYMENT_FILE_MAX_BYTES;

class TooBigError extends Error {}

/** At most `max` bytes of `file`; a larger one is refused without reading (or parsing) the rest. */
function readCapped(file: string, max: number): string {
  const fd = fs.openSync(file, "r");
  try {
    const st = fs.fstatSync(fd);
    if (st.isFile() && st.size > max) throw new TooBigError(`${st.size} bytes`);
    // Not a regular file (a pipe): read one byte past the cap to know.
    const buf = Buffer.alloc(max + 1);
    let n = 0;
    for (let r = -1; r !== 0 && n < buf.length; n += r) r = fs.readSync(fd, buf, n, buf.length - n, null);
    if (n > max) throw new TooBigError(`more than ${max} bytes`);
    return buf.subarray(0, n).toString("utf8");
  } finally {
    fs.closeSync(fd);
  }
}

function readJson(file: string, what: string, hint: string): Record<string, unknown> {
  let text: string;
  try {
    text = readCapped(file, JSON_FILE_MAX_BYTES);
  } catch (e) {
    if (e instanceof TooBigError) {
      throw new ConfigError(`${what} ${file} is ${e.message}, over the ${JSON_FILE_MAX_BYTES / 1024 / 1024} MiB cap: not a ${what}`, { code: "FILE_TOO_BIG", hint });
    }
    throw new ConfigError(`cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { hint, cause: e });
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
    if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("not a JSON object");
  } catch (e) {
    throw new ConfigError(`${what} ${file} is not a valid JSON object: ${(e as Error).message}`, { hint, cause: e });
  }
  // JSON.parse keeps the last of two equal keys: refuse, naming both (contract names in any case).
  const dup = findDuplicateKey(text, (p) => p.length === 1 && p[0] === "contracts");
  if (dup) {
    const where = [...dup.path, dup.second.key].join(".");
    const values = dup.path[0] === "contracts" ? `: ${echo(dup.first.value)} and ${echo(dup.second.value)}` : "";
    const names = dup.first.key === dup.second.key ? `"${echo(where)}"` : `"${echo([...dup.path, dup.first.key].join("."))}" and "${echo(where)}"`;
    throw new ConfigError(`${what} ${file}: key ${names} given twice${values}`, { code: "DUPLICATE_KEY", hint: "give each key once: JSON keeps only the last, silently" });
  }
  return v as Record<string, unknown>;
}

function unknownNameError(what: string, name: string, known: string[], hint: string): ConfigError {
  const near = closestName(name, known);
  return new ConfigError(`unknown ${what} "${echo(name)}"${near ? ` (did you mean "${near}"?)` : ""}`, { hint });
}

/** A file form's content: one value per line; blank lines and # comments are skipped. */
function readValueFile(file: string, origin: string, list: boolean, comments?: "trailing"): string | string[] {
  let text: string;
  try {
    text = fs.readFileSync(path.resolve(expandHome(file)), "utf8");
  } catch (e) {
    throw new ConfigError(`cannot read ${origin}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { hint: "give a readable file with one value per line" });
  }
  const lines = text.split(/\r?\n/).map((l) => (comments === "trailing" ? l.replace(/#.*$/, "") : l).trim()).filter((l) => l !== "" && !l.startsWith("#"));
  if (lines.length === 0) throw new ConfigError(`${origin} holds no value`, { hint: "put one value per line in the file" });
  if (!list && lines.length > 1) throw new ConfigError(`${origin} holds ${lines.length} lines, expected one value`, { hint: "put exactly one value in the file" });
  return list ? lines : lines[0];
}

/** Takes a setting's value from the highest layer that has one; records source and origin. */
function resolve(s: Setting, layers: Layer[], cfg: Pick<Config, "values" | "sources" | "origins">): void {
  const found: { layer: Layer; value: unknown; origin: string }[] = [];
  for (const layer of layers) {
    const hit = layerValue(s, layer);
    if (hit === undefined) continue;
    const parsed = s.schema.safeParse(hit.raw);
    if (!parsed.success) {
      const msg = `${parsed.error.issues[0]?.message ?? "invalid value"} (from ${hit.origin})`;
      const fromUser = layer.source === "flag" || layer.source === "env";
      throw fromUser ? new UsageError(msg) : new ConfigError(msg);
    }
    found.push({ layer, value: parsed.data, origin: hit.origin });
    if (s.merge !== "record") break;
  }
  if (found.length === 0) {
    const d = typeof s.default === "function" ? (s.default as (v: Record<string, unknown>) => unknown)(cfg.values) : s.default;
    if (d === undefined) return;
    cfg.values[s.key] = d;
    cfg.sources[s.key] = "default";
    cfg.origins[s.key] = "default";
    return;
  }
  cfg.values[s.key] = s.merge === "record" ? Object.assign({}, ...found.map((f) => f.value).reverse()) : found[0].value;
  cfg.sources[s.key] = found[0].layer.source;
  cfg.origins[s.key] = found[0].origin;
}

function layerValue(s: Setting, layer: Layer): { raw: unknown; origin: string } | undefined {
  if (layer.source === "flag") {
    const v = s.flag ? layer.values[s.flag] : undefined;
    const f = s.fileForm?.flag ? layer.values[s.fileForm.flag] : undefined;
    if (v !== undefined && f !== undefined) throw new UsageError(`${kebab(s.flag!)} and ${kebab(s.fileForm!.flag!)} both given; pass only one`);
    if (f !== undefined) {
      const origin = `${kebab(s.fileForm!.flag!)} ${echo(f)}`;
      if (typeof f !== "string" || f === "") throw new UsageError(`empty value (from ${kebab(s.fileForm!.flag!)})`);
      return { raw: readValueFile(f, origin, !!s.list, s.fileComments), origin };
    }
    return v === undefined ? undefined : { raw: v, origin: kebab(s.flag!) };
  }
  if (layer.source === "env") {
    const fileEnv = s.fileForm?.env;
    const direct = (s.env ?? []).find((name) => layer.values[name] !== undefined);
    if (fileEnv && layer.values[fileEnv] !== undefined) {
      // Only our own names conflict with the file form: a shared name such as foundry's
      // ETH_RPC_URL, left in a shell profile, is simply outranked (like KEEPCTL_RPC_URL outranks it).
      const ours = (s.env ?? []).find((name) => name.startsWith("KEEPCTL_") && layer.values[name] !== undefined);
      if (ours) throw new UsageError(`${ours} and ${fileEnv} both set; set only one`);
      const f = String(layer.values[fileEnv]);
      if (f === "") throw new UsageError(`empty value (from ${layer.origin(fileEnv)})`);
      const origin = `${layer.origin(fileEnv)}=${echo(f)}`;
      return { raw: readValueFile(f, origin, !!s.list, s.fileComments), origin };
    }
    return direct ? { raw: layer.values[direct], origin: layer.origin(direct) } : undefined;
  }
  const k = layer.source === "file" ? s.fileKey === null ? undefined : (s.fileKey ?? s.key) : s.key;
  if (k === undefined) return undefined;
  const v = layer.values[k];
  return v === undefined || v === null ? undefined : { raw: v, origin: layer.origin(k) };
}

/**
 * What the environment says about colour; output.ts asks here so only this file reads the
 * environment. FORCE_COLOR first, as Node and chalk read it: "0" or "false" is never, any other
 * value (empty included) always, even into a pipe. Then NO_COLOR (any non-empty value, per
 * no-color.org): never. Otherwise colour on a terminal only. The --no-color flag beats all three.
 */
export type ColorMode = "always" | "never" | "auto";
export function colorMode(env: NodeJS.ProcessEnv = process.env): ColorMode {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return /^(0|false)$/i.test(force.trim()) ? "never" : "always";
  return env.NO_COLOR ? "never" : "auto";
}

/**
 * The seed's BTC_ELECTRUM_SERVER, BTC_ELECTRUM_PORT and BTC_ELECTRUM_PROTOCOL name one Electrum
 * server between them: they become one URL under BTC_ELECTRUM_SERVER, which the btcElectrumUrls
 * row reads below the KEEPCTL_ names. A port or protocol without a server is an error, not ignored.
 */
function combineSeedElectrumEnv(vars: Record<string, string | undefined>): void {
  const server = vars.BTC_ELECTRUM_SERVER;
  if (server === undefined) {
    const stray = ["BTC_ELECTRUM_PORT", "BTC_ELECTRUM_PROTOCOL"].find((n) => vars[n] !== undefined);
    if (stray) throw new UsageError(`${stray} is set but BTC_ELECTRUM_SERVER is not`, { hint: "set BTC_ELECTRUM_SERVER too, or give the whole URL in KEEPCTL_BTC_ELECTRUM_URLS (e.g. tls://electrum.example:50002)" });
    return;
  }
  if (server.trim() === "") throw new UsageError("empty value (from BTC_ELECTRUM_SERVER)");
  try {
    vars.BTC_ELECTRUM_SERVER = electrumUrlFromParts(server, vars.BTC_ELECTRUM_PORT, vars.BTC_ELECTRUM_PROTOCOL);
  } catch (e) {
    if (e instanceof InvalidServerUrl) throw new UsageError(e.message, { hint: "or give the whole URL in KEEPCTL_BTC_ELECTRUM_URLS (e.g. tls://electrum.example:50002)" });
    throw e;
  }
}

/** A deployment file's optional `bitcoin` object: { network, electrumUrls, esploraUrls }, nothing else. */
function deploymentBitcoin(d: DeploymentFile, file: string): Record<string, unknown> {
  const b = d.bitcoin;
  if (b === undefined || b === null) return {};
  if (typeof b !== "object" || Array.isArray(b)) throw new ConfigError(`deployment file ${file}: "bitcoin" must be an object { network, electrumUrls, esploraUrls }`);
  const known = ["network", "electrumUrls", "esploraUrls"];
  const stray = Object.keys(b).find((k) => !known.includes(k));
  if (stray) throw new ConfigError(`deployment file ${file}: unknown key "bitcoin.${echo(stray)}" (known: ${known.join(", ")})`);
  const o = b as Record<string, unknown>;
  return { btcNetwork: o.network, btcElectrumUrls: o.electrumUrls, btcEsploraUrls: o.esploraUrls };
}

/** A path-like value read outside the settings table (--config, --deployment): empty is an error, not "unset". */
function nonEmpty(v: unknown, origin: string, fromFile: boolean): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string" || v.trim() === "") {
    const msg = `empty value (from ${origin})`;
    throw fromFile ? new ConfigError(msg) : new UsageError(msg);
  }
  return v;
}

/** The config file's shape: every known key, nothing else (zod reports the strays). */
function fileSchema(): z.ZodTypeAny {
  return z.object(Object.fromEntries(knownFileKeys().map((k) => [k, z.unknown()]))).strict();
}

export function loadConfig(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env, opts: LoadOptions = {}): Config {
  const cwd = opts.cwd ?? process.cwd();
  // .env fills gaps only: a real environment variable always wins.
  let dotenvVars: Record<string, string> = {};
  const dotenvFile = path.join(cwd, ".env");
  if (opts.dotenv !== false && fs.existsSync(dotenvFile)) {
    try {
      dotenvVars = dotenv.parse(fs.readFileSync(dotenvFile));
    } catch (e) {
      throw new ConfigError(`cannot read ${dotenvFile}: ${(e as Error).message}`, { cause: e });
    }
  }
  const envVars: Record<string, string | undefined> = { ...dotenvVars, ...env };
  const envOrigin = (name: string) => (env[name] === undefined && name in dotenvVars ? `${name} in .env` : name);
  combineSeedElectrumEnv(envVars);

  // A misspelt KEEPCTL_ name would otherwise leave its setting at a default without a word.
  const knownEnv = knownEnvNames();
  for (const name of Object.keys(envVars)) {
    if (name.startsWith("KEEPCTL_") && envVars[name] !== undefined && !knownEnv.includes(name)) {
      const where = envOrigin(name) === name ? "environment variable" : "variable in .env";
      throw unknownNameError(where, name, knownEnv, "fix or unset it; docs/configuration.md lists every KEEPCTL_ variable");
    }
  }

  const cfg = { values: {}, sources: {}, origins: {}, warnings: [] } as unknown as Config;
  const flagLayer: Layer = { source: "flag", values: flags, origin: kebab };
  const envLayer: Layer = { source: "env", values: envVars, origin: envOrigin };

  // --config / KEEPCTL_CONFIG first; else the default location, read only when it exists.
  const configFileRaw = nonEmpty(flags.config, "--config", false) ?? nonEmpty(envVars.KEEPCTL_CONFIG, envOrigin("KEEPCTL_CONFIG"), false) ?? defaultConfigFile(env);
  let fileLayer: Layer | undefined;
  if (configFileRaw) {
    cfg.configFile = path.resolve(cwd, expandHome(configFileRaw));
    const file = readJson(cfg.configFile, "config file", "fix the path given by --config / KEEPCTL_CONFIG");
    const shape = fileSchema().safeParse(file);
    if (!shape.success) {
      const issue = shape.error.issues.find((i) => i.code === z.ZodIssueCode.unrecognized_keys) as z.ZodUnrecognizedKeysIssue | undefined;
      const key = issue?.keys[0] ?? "?";
      if (key === "privateKey") throw new ConfigError(`config file ${cfg.configFile}: "privateKey" is not allowed in a config file`, { hint: "use a keystore (keystore + passwordFile), or KEEPCTL_PRIVATE_KEY in CI" });
      throw unknownNameError(`key in config file ${cfg.configFile}:`, key, knownFileKeys(), "fix or remove it; docs/configuration.md lists every key");
    }
    fileLayer = { source: "file", values: file, origin: (k) => `config file key "${k}"` };
  }
  const userLayers = [flagLayer, envLayer, ...(fileLayer ? [fileLayer] : [])];

  // network and dataDir decide which preset / deployment applies, so they come first.
  for (const key of ["network", "dataDir"]) resolve(SETTINGS.find((s) => s.key === key)!, userLayers, cfg);
  const network = cfg.values.network as string;

  let deploymentRaw = nonEmpty(flags.deployment, "--deployment", false) ?? nonEmpty(envVars.KEEPCTL_DEPLOYMENT, envOrigin("KEEPCTL_DEPLOYMENT"), false);
  const fileDeployment = nonEmpty(fileLayer?.values.deployment, 'config file key "deployment"', true);
  if (!deploymentRaw && fileDeployment) {
    // A path inside the config file is relative to that file, not to wherever keepctl runs.
    deploymentRaw = path.resolve(path.dirname(cfg.configFile!), expandHome(fileDeployment));
  }
  if (!deploymentRaw && network === "devnet") {
    const p = devnetDeploymentPath(cfg.values.dataDir as string);
    if (fs.existsSync(p)) deploymentRaw = p;
  }
  let presetLayer: Layer;
  if (deploymentRaw) {
    cfg.deploymentFile = path.resolve(cwd, expandHome(deploymentRaw));
    const d = readJson(cfg.deploymentFile, "deployment file", "fix --deployment / KEEPCTL_DEPLOYMENT, or run `keepctl devnet` to write one") as DeploymentFile;
    validateDeployment(d, cfg.deploymentFile);
    cfg.deployment = d;
    const values: Record<string, unknown> = {
      chainId: d.chainId, contracts: d.contracts, operators: d.operators, startBlock: d.deploymentBlock, logChunkSize: d.logBlockRange,
      rpcUrls: d.rpcUrl ? [d.rpcUrl] : undefined,
      subgraphUrl: typeof d.subgraphUrl === "string" ? d.subgraphUrl : undefined,
      ...deploymentBitcoin(d, cfg.deploymentFile),
    };
    const fileKeys: Record<string, string> = { logChunkSize: "logBlockRange", startBlock: "deploymentBlock", rpcUrls: "rpcUrl", btcNetwork: "bitcoin.network", btcElectrumUrls: "bitcoin.electrumUrls", btcEsploraUrls: "bitcoin.esploraUrls" };
    presetLayer = { source: "deployment", values, origin: (k) => `deployment file key "${fileKeys[k] ?? k}"` };
    if (cfg.sources.network === "default") {
      cfg.values.network = typeof d.network === "string" ? d.network : "custom";
      cfg.sources.network = "deployment";
      cfg.origins.network = cfg.deploymentFile;
    }
  } else {
    presetLayer = { source: "preset", values: PRESETS[network].values, origin: () => `${network} preset` };
  }

  const layers = [...userLayers, presetLayer];
  for (const s of SETTINGS) if (s.key !== "network" && s.key !== "dataDir") resolve(s, layers, cfg);

  applyKeySourceRule(cfg);

  for (const s of SETTINGS) {
    if (!s.secret) continue;
    const v = cfg.values[s.key];
    for (const item of Array.isArray(v) ? v : [v]) {
      if (typeof item !== "string") continue;
      // A bare origin (http://127.0.0.1:8545) hides nothing, and showing it helps when it fails.
      if (s.secret === "url" && redactUrl(item) === item.replace(/\/$/, "")) continue;
      if (s.secret === "url" || /^https?:/.test(item)) registerSecretUrl(item);
      else registerSecret(item);
    }
  }
  finish(cfg);
  const leaseProblem = leaseTimingsProblem({ refreshMs: cfg.signing.leaseRefreshSec * 1000, durationMs: cfg.signing.leaseDurationSec * 1000 });
  if (leaseProblem) throw new UsageError(leaseProblem, { hint: "lower --lease-refresh (KEEPCTL_LEASE_REFRESH) or raise --lease-duration (KEEPCTL_LEASE_DURATION)" });
  if (cfg.chainId === undefined) {
    throw new ConfigError("no chain id known for this network", { hint: "set KEEPCTL_CHAIN_ID or add chainId to the deployment file" });
  }
  if (opts.requireRpc !== false && cfg.rpcUrls.length === 0) {
    throw new ConfigError("no RPC URL configured", { hint: "pass --rpc-url-file FILE or --rpc-url, or set KEEPCTL_RPC_URLS_FILE / KEEPCTL_RPC_URLS" });
  }
  return cfg;
}

const LEVEL: Record<Source, number> = { flag: 0, env: 1, file: 2, deployment: 3, preset: 3, default: 4 };

/**
 * Which key signs. The account used must never silently be another than the one named:
 * - the key source named at the highest layer wins: flag (--keystore) > env (KEEPCTL_KEYSTORE or
 *   KEEPCTL_PRIVATE_KEY, .env included) > config file ("keystore"); the other is dropped with a
 *   warning, e.g. --keystore beats KEEPCTL_PRIVATE_KEY from the environment or .env;
 * - KEEPCTL_KEYSTORE and KEEPCTL_PRIVATE_KEY both set (the same layer) is a usage error naming both;
 * - a password file only goes with a keystore: with the raw key it is ignored, with a warning.
 */
function applyKeySourceRule(cfg: Config): void {
  const v = cfg.values;
  const hasKs = v.keystore !== undefined;
  const hasPk = v.privateKey !== undefined;
  if (hasKs && hasPk) {
    const ks = LEVEL[cfg.sources.keystore];
    const pk = LEVEL[cfg.sources.privateKey];
    if (ks === pk) {
      throw new UsageError(`${cfg.origins.keystore} and ${cfg.origins.privateKey} both name a signing key; set only one`, {
        hint: "unset KEEPCTL_PRIVATE_KEY to sign with the keystore, or unset the keystore to sign with the raw key",
      });
    }
    const drop = ks < pk ? "privateKey" : "keystore";
    const keep = drop === "privateKey" ? "keystore" : "privateKey";
    cfg.warnings.push(`${cfg.origins[drop]} ignored: ${cfg.origins[keep]} names the signing key`);
    delete v[drop];
    delete cfg.sources[drop];
    delete cfg.origins[drop];
  }
  if (v.privateKey !== undefined && v.passwordFile !== undefined) {
    cfg.warnings.push(`${cfg.origins.passwordFile} ignored: the raw key of ${cfg.origins.privateKey} needs no password`);
  }
}

/** Builds the typed sections and the flat copies from the resolved values. */
function finish(cfg: Config): void {
  const v = cfg.values;
  const sections: Record<string, Record<string, unknown>> = { core: {}, rpc: {}, signing: {}, alerts: {}, tbtc: {}, rai: {}, emp: {}, watch: {}, btc: {}, btcWallet: {} };
  for (const s of SETTINGS) if (v[s.key] !== undefined) sections[s.section][s.field ?? s.key] = v[s.key];
  cfg.network = v.network as string;
  cfg.dataDir = v.dataDir as string;
  cfg.rpc = sections.rpc as unknown as RpcSection;
  cfg.signing = { ...(sections.signing as unknown as SigningSection), keySource: v.keystore !== undefined ? "keystore" : v.privateKey !== undefined ? "private-key" : "none" };
  if (cfg.signing.keySource === "private-key") delete cfg.signing.passwordFile;
  cfg.alerts = sections.alerts as AlertsSection;
  cfg.tbtc = sections.tbtc as unknown as TbtcSection;
  cfg.rai = { ...(sections.rai as unknown as RaiSection), network: cfg.network, contracts: v.contracts as Record<string, string>, startBlock: v.startBlock as number, logChunkSize: v.logChunkSize as number };
  cfg.emp = sections.emp as unknown as EmpSection;
  cfg.watch = sections.watch as unknown as WatchSection;
  cfg.btcWallet = sections.btcWallet as unknown as BtcWalletSection;
  cfg.btc = sections.btc as unknown as BtcSection;
  Object.assign(cfg, {
    rpcUrls: v.rpcUrls, chainId: v.chainId, contracts: v.contracts, startBlock: v.startBlock, operators: v.operators,
    warnThreshold: v.warnThreshold, rpcTimeoutMs: v.rpcTimeoutMs, rpcRetries: v.rpcRetries, batchMaxCount: v.batchMaxCount,
    logChunkSize: v.logChunkSize, subgraphUrl: v.subgraphUrl,
  });
}

// ---- helpers for commands -------------------------------------------------------------------

export function requireOperators(cfg: Pick<Config, "operators">): string[] {
  if (cfg.operators.length === 0) throw new UsageError("no operator given: pass --operator ADDR or --operators-file FILE, or set KEEPCTL_OPERATORS");
  return cfg.operators;
}

export function requireContract(cfg: Pick<Config, "contracts" | "network">, name: string): string {
  const a = cfg.contracts[name];
  if (!a) {
    throw new ConfigError(`no address for contract ${name} on network ${cfg.network}`, {
      hint: `add it to the deployment file or set KEEPCTL_CONTRACTS="${name}=0x..."`,
    });
  }
  return a;
}

/** Every setting's value as it may be shown: URLs as origin only, secrets as ***. */
export function displayValues(cfg: Pick<Config, "values">): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    const v = cfg.values[s.key];
    if (v === undefined) { shown[s.key] = null; continue; }
    if (s.secret === "url") shown[s.key] = Array.isArray(v) ? v.map((u) => redactUrl(String(u))) : redactUrl(String(v));
    else if (s.secret) shown[s.key] = "***";
    else shown[s.key] = v;
  }
  return shown;
}

