import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import dotenv from "dotenv";
import { ethers } from "ethers";
import { ConfigError, UsageError } from "./errors";
import { keyLikeHostLabel, redactUrl, registerSecret } from "./redact";
import { PRESETS, devnetDeploymentPath, type DeploymentFile } from "./presets";

/**
 * The only reader of process.env, .env and the config file. Every setting is one row of SETTINGS;
 * resolution walks the layers flags > env > config file > preset/deployment > default, validates
 * each value as it is taken, and records where it came from so `keepctl config` can say.
 */
export type Source = "flag" | "env" | "file" | "preset" | "deployment" | "default";

export interface Setting<T = unknown> {
  key: string;
  /** commander's camelCase option name (e.g. "rpcUrl" for --rpc-url). */
  flag?: string;
  /** Env names, first match wins: KEEPCTL_* first, then the seed's names. */
  env?: string[];
  /** Key in the config file; defaults to `key`. */
  fileKey?: string;
  default?: T | ((values: Record<string, unknown>) => T);
  /** Takes a flag/file value (any JSON type) or an env string; throws an Error saying what is wrong. */
  parse: (raw: unknown) => T;
  /** "url": shown as origin only; true: never shown. Both are registered with the redactor. */
  secret?: boolean | "url";
  /** Records merge across layers by name (contracts) instead of the top layer replacing. */
  merge?: "record";
  describe: string;
}

// ---- parsers (exported so other rooms' settings reuse them) ------------------------------------

export function parseList(raw: unknown): string[] {
  const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(/[,\s]+/);
  return items.map((s) => s.trim()).filter(Boolean);
}

export function parseAddress(raw: unknown): string {
  const s = String(raw).trim();
  if (!ethers.isAddress(s)) throw new Error(`invalid address "${s}"`);
  return ethers.getAddress(s.toLowerCase());
}

export const parseAddressList = (raw: unknown): string[] => parseList(raw).map(parseAddress);

export function parseInteger(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (raw: unknown): number => {
    const s = String(raw).trim();
    if (!/^\d+$/.test(s)) throw new Error(`expected a whole number, got "${s}"`);
    const n = Number(s);
    if (n < min || n > max) throw new Error(`must be between ${min} and ${max}, got ${n}`);
    return n;
  };
}

export function parseNumber(min: number, max: number) {
  return (raw: unknown): number => {
    const s = String(raw).trim();
    const n = Number(s);
    if (s === "" || !Number.isFinite(n)) throw new Error(`expected a number, got "${s}"`);
    if (n < min || n > max) throw new Error(`must be between ${min} and ${max}, got ${n}`);
    return n;
  };
}

export function parseHttpUrl(raw: unknown): string {
  const s = String(raw).trim();
  let ok = false;
  try {
    ok = ["http:", "https:"].includes(new URL(s).protocol);
  } catch { /* reported below */ }
  // The value may embed an API key: never echo it.
  if (!ok) throw new Error("invalid URL (must start with http:// or https://)");
  return s;
}

export const parseHttpUrls = (raw: unknown): string[] => parseList(raw).map(parseHttpUrl);

/** {"Name": "0x.."} from JSON, or "Name=0x..,Name2=0x.." from env. */
export function parseContracts(raw: unknown): Record<string, string> {
  let obj: unknown = raw;
  if (typeof raw === "string") {
    const s = raw.trim();
    obj = s.startsWith("{") ? JSON.parse(s) : Object.fromEntries(parseList(s).map((kv) => kv.split("=").map((x) => x.trim())));
  }
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) throw new Error("contracts must map names to addresses");
  const out: Record<string, string> = {};
  for (const [name, addr] of Object.entries(obj)) {
    try {
      out[name] = parseAddress(addr);
    } catch {
      throw new Error(`invalid address "${String(addr)}" for contract ${name}`);
    }
  }
  return out;
}

/** Non-negative decimal with at most 18 places, kept as text; `belowOne` restricts it to [0, 1). */
export function parseDecimal18(belowOne: boolean) {
  return (raw: unknown): string => {
    const s = String(raw).trim();
    if (!/^\d+(\.\d{1,18})?$/.test(s)) throw new Error(`expected a decimal number with at most 18 places, got "${s}"`);
    if (belowOne && !/^0+(\.\d+)?$/.test(s)) throw new Error(`must be at least 0 and below 1, got ${s}`);
    return s;
  };
}

function expandHome(p: string): string {
  return p === "~" || p.startsWith("~/") ? path.join(os.homedir(), p.slice(1)) : p;
}

// ---- the settings table ---------------------------------------------------------------------

export const SETTINGS: Setting[] = [
  { key: "network", flag: "network", env: ["KEEPCTL_NETWORK"], default: "mainnet", describe: "network preset",
    parse: (r) => { const s = String(r).trim(); if (!PRESETS[s]) throw new Error(`unknown network "${s}" (known: ${Object.keys(PRESETS).join(", ")})`); return s; } },
  { key: "dataDir", flag: "dataDir", env: ["KEEPCTL_DATA_DIR"], default: () => path.join(os.homedir(), ".keepctl"),
    describe: "cache, journal and lock directory", parse: (r) => path.resolve(expandHome(String(r).trim())) },
  { key: "rpcUrls", flag: "rpcUrl", env: ["KEEPCTL_RPC_URLS", "KEEPCTL_RPC_URL"], default: [], secret: "url",
    describe: "JSON-RPC endpoints, tried in order", parse: parseHttpUrls },
  { key: "chainId", env: ["KEEPCTL_CHAIN_ID"], describe: "expected chain id (checked on connect)", parse: parseInteger(1) },
  { key: "contracts", env: ["KEEPCTL_CONTRACTS"], default: {}, merge: "record", describe: "contract addresses by name", parse: parseContracts },
  { key: "startBlock", env: ["KEEPCTL_START_BLOCK", "MINBLOCK"], default: 0, describe: "first block of log scans", parse: parseInteger(0) },
  { key: "operators", flag: "operator", env: ["KEEPCTL_OPERATORS", "OPERATORS"], default: [], describe: "operator addresses", parse: parseAddressList },
  { key: "warnThreshold", flag: "threshold", env: ["KEEPCTL_WARN_THRESHOLD", "COLLATERALISATION_THRESHOLD"], default: 130,
    describe: "collateralization % below which a deposit is at risk", parse: parseNumber(100, 1000) },
  { key: "rpcTimeoutMs", env: ["KEEPCTL_RPC_TIMEOUT_MS"], default: 15000, describe: "per-request RPC timeout (ms)", parse: parseInteger(100, 600_000) },
  { key: "rpcRetries", env: ["KEEPCTL_RPC_RETRIES"], default: 3, describe: "attempts per RPC URL before failing over", parse: parseInteger(1, 20) },
  { key: "batchMaxCount", env: ["KEEPCTL_BATCH_MAX_COUNT"], default: 100, describe: "JSON-RPC calls per batch (1 disables batching)", parse: parseInteger(1, 1000) },
  { key: "logChunkSize", env: ["KEEPCTL_LOG_CHUNK_SIZE"], default: 5000, describe: "blocks per eth_getLogs call (shrinks on range errors)", parse: parseInteger(1) },
  { key: "subgraphUrl", flag: "subgraphUrl", env: ["KEEPCTL_SUBGRAPH_URL"], secret: "url", describe: "GraphQL endpoint (RAI feed)", parse: parseHttpUrl },
  // RAI redemption-rate feed (keepctl rai-price, UMA bots); defaults from the seed deployment.
  { key: "rateSetter", flag: "rateSetter", env: ["KEEPCTL_RATE_SETTER"], describe: "RAI RateSetter address (else contracts.RateSetter)", parse: parseAddress },
  { key: "raiTwapLength", env: ["KEEPCTL_RAI_TWAP_LENGTH"], default: 28800, describe: "RAI feed TWAP length (s)", parse: parseInteger(1, 31_536_000) },
  { key: "raiLookback", env: ["KEEPCTL_RAI_LOOKBACK"], default: 28800, describe: "RAI feed historical lookback (s)", parse: parseInteger(0, 31_536_000) },
  { key: "raiUpdateRateDelay", env: ["KEEPCTL_RAI_UPDATE_RATE_DELAY"], default: 10800, describe: "RateSetter update delay; subgraph older than this is checked against events (s)", parse: parseInteger(1) },
  { key: "raiSource", env: ["KEEPCTL_RAI_SOURCE"], default: "auto", describe: "RAI feed source: auto, subgraph or events",
    parse: (r) => { const s = String(r).trim(); if (!["auto", "subgraph", "events"].includes(s)) throw new Error(`source must be auto, subgraph or events, got "${s}"`); return s; } },
  { key: "subgraphTimeoutMs", env: ["KEEPCTL_SUBGRAPH_TIMEOUT_MS"], default: 10000, describe: "per-request subgraph timeout (ms)", parse: parseInteger(100, 600_000) },
  // ---- redeem / watch (signing, fees, alerts, loop) ----
  { key: "btcAddress", flag: "btcAddress", env: ["KEEPCTL_BTC_ADDRESS", "BTC_ADDRESS"], describe: "BTC address redemptions pay out to (P2WPKH, P2WSH, P2PKH, P2SH)",
    parse: (r) => { const s = String(r).trim(); if (!/^[a-zA-Z0-9]{14,90}$/.test(s)) throw new Error(`"${s}" does not look like a BTC address`); return s; } },
  { key: "redeemBelow", flag: "redeemBelow", env: ["KEEPCTL_REDEEM_BELOW"], default: 130, describe: "redeem deposits whose collateralization % is below this", parse: parseNumber(100, 1000) },
  { key: "feeSats", flag: "feeSats", env: ["KEEPCTL_REDEMPTION_FEE_SATS"], default: 10000, describe: "BTC fee (sat) left to the redemption tx; >= 2000 and < half the UTXO", parse: parseInteger(2000) },
  { key: "maxFeeGwei", flag: "maxFeeGwei", env: ["KEEPCTL_MAX_FEE_GWEI"], default: 200, describe: "hard cap on maxFeePerGas (gwei); never signed above", parse: parseNumber(0.000000001, 1_000_000) },
  { key: "keystore", flag: "keystore", env: ["KEEPCTL_KEYSTORE"], describe: "encrypted JSON keystore of the signing account", parse: (r) => path.resolve(expandHome(String(r).trim())) },
  { key: "passwordFile", flag: "passwordFile", env: ["KEEPCTL_PASSWORD_FILE"], describe: "file holding the keystore password", parse: (r) => path.resolve(expandHome(String(r).trim())) },
  // Raw key: environment only (CI). No flag; the odd file key keeps it out of config files.
  { key: "privateKey", env: ["KEEPCTL_PRIVATE_KEY"], fileKey: "(KEEPCTL_PRIVATE_KEY is env only)", secret: true, describe: "raw private key (CI only; prefer a keystore)", parse: (r) => String(r).trim() },
  { key: "slackWebhookUrl", env: ["KEEPCTL_SLACK_WEBHOOK_URL"], secret: true, describe: "Slack incoming-webhook URL for alerts", parse: parseHttpUrl },
  { key: "discordWebhookUrl", env: ["KEEPCTL_DISCORD_WEBHOOK_URL"], secret: true, describe: "Discord webhook URL for alerts", parse: parseHttpUrl },
  { key: "telegramBotToken", env: ["KEEPCTL_TELEGRAM_BOT_TOKEN"], secret: true, describe: "Telegram bot token for alerts", parse: (r) => String(r).trim() },
  { key: "telegramChatId", env: ["KEEPCTL_TELEGRAM_CHAT_ID"], describe: "Telegram chat id for alerts", parse: (r) => String(r).trim() },
  { key: "webhookUrl", env: ["KEEPCTL_WEBHOOK_URL"], secret: true, describe: "generic JSON webhook URL for alerts", parse: parseHttpUrl },
  { key: "heartbeatUrl", flag: "heartbeatUrl", env: ["KEEPCTL_HEARTBEAT_URL"], secret: true, describe: "URL pinged after every watch loop (dead-man switch)", parse: parseHttpUrl },
  { key: "interval", flag: "interval", env: ["KEEPCTL_INTERVAL"], default: 60, describe: "seconds between watch loops", parse: parseInteger(1, 86_400) },
  { key: "minEthBalance", env: ["KEEPCTL_MIN_ETH"], default: "0.1", describe: "alert when the account's ETH falls below this", parse: (r) => { const s = String(r).trim(); if (!/^\d+(\.\d{1,18})?$/.test(s)) throw new Error(`expected an ETH amount, got "${s}"`); return s; } },
  { key: "maxBlockAgeSec", env: ["KEEPCTL_MAX_BLOCK_AGE"], default: 300, describe: "alert when no new block arrived for this many seconds", parse: parseInteger(1) },
  // ---- UMA EMP bots (emp-liquidate, emp-dispute); decimals are kept as text, exact to 18 places ----
  { key: "empAddress", flag: "emp", env: ["KEEPCTL_EMP_ADDRESS", "EMP_ADDRESS"], describe: "ExpiringMultiParty address (else contracts.ExpiringMultiParty)", parse: parseAddress },
  { key: "empPrice", flag: "price", describe: "fixed price override for the EMP bots (decimal, 18 dp)", parse: parseDecimal18(false) },
  { key: "crThreshold", flag: "crThreshold", env: ["KEEPCTL_CR_THRESHOLD", "CR_THRESHOLD"], default: "0.02", describe: "price shading of the EMP bots, in [0, 1)", parse: parseDecimal18(true) },
  { key: "liquidationDeadline", flag: "liquidationDeadline", env: ["KEEPCTL_LIQUIDATION_DEADLINE"], default: 300, describe: "seconds a liquidation may wait to be mined", parse: parseInteger(1, 86_400) },
  { key: "maxTokens", flag: "maxTokens", env: ["KEEPCTL_MAX_TOKENS_TO_LIQUIDATE"], describe: "most synthetic tokens per liquidation (decimal)", parse: parseDecimal18(false) },
  { key: "defenseActivationPercent", flag: "defenseActivationPercent", env: ["KEEPCTL_DEFENSE_ACTIVATION_PERCENT"], describe: "whale defence: % of withdrawal liveness after which to liquidate minSponsorTokens", parse: parseNumber(0, 100) },
  { key: "disputeDelay", flag: "disputeDelay", env: ["KEEPCTL_DISPUTE_DELAY"], default: 60, describe: "seconds after a liquidation before disputing it", parse: parseInteger(0, 86_400) },
  { key: "empLookback", flag: "lookback", env: ["KEEPCTL_EMP_LOOKBACK"], describe: "disputer price lookback (s); default the EMP's liquidationLiveness", parse: parseInteger(0, 31_536_000) },
  { key: "botRetries", flag: "retries", env: ["KEEPCTL_BOT_RETRIES"], default: 3, describe: "retries of a failed EMP bot pass", parse: parseInteger(0, 20) },
  { key: "maxHeadAgeSec", env: ["KEEPCTL_MAX_HEAD_AGE"], default: (v: Record<string, unknown>) => ([31337, 1337].includes(v.chainId as number) ? 0 : 600), describe: "oldest chain head (s) a run may judge from; 0 = no limit (default 0 on local dev chains, whose clock is moved)", parse: parseInteger(0, 31_536_000) },
  // Other modules: add one row here, or call defineSetting() from your own module.
];

/** Adds (or replaces) a setting; call at module load, before loadConfig runs. */
export function defineSetting<T>(s: Setting<T>): void {
  const i = SETTINGS.findIndex((x) => x.key === s.key);
  if (i >= 0) SETTINGS[i] = s as Setting;
  else SETTINGS.push(s as Setting);
}

// ---- resolution ------------------------------------------------------------------------------

export interface Config {
  network: string;
  rpcUrls: string[];
  chainId: number;
  contracts: Record<string, string>;
  startBlock: number;
  operators: string[];
  warnThreshold: number;
  dataDir: string;
  rpcTimeoutMs: number;
  rpcRetries: number;
  batchMaxCount: number;
  logChunkSize: number;
  subgraphUrl?: string;
  configFile?: string;
  deploymentFile?: string;
  /** The parsed deployment file, extras included. */
  deployment?: DeploymentFile;
  /** Every setting by key, including ones other modules define. */
  values: Record<string, unknown>;
  sources: Record<string, Source>;
  /** Which flag / env name / file key supplied each value. */
  origins: Record<string, string>;
  /** Non-fatal findings (unknown config-file keys, ...), for the command to show. */
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

function readJson(file: string, what: string, hint: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(`cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { hint, cause: e });
  }
  try {
    const v = JSON.parse(text);
    if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("not a JSON object");
    return v as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(`${what} ${file} is not a valid JSON object: ${(e as Error).message}`, { hint, cause: e });
  }
}

/** Takes a setting's value from the highest layer that has one; records source and origin. */
function resolve(s: Setting, layers: Layer[], cfg: Pick<Config, "values" | "sources" | "origins">): void {
  const found: { layer: Layer; value: unknown; origin: string }[] = [];
  for (const layer of layers) {
    const hit = layerValue(s, layer);
    if (hit === undefined) continue;
    let value: unknown;
    try {
      value = s.parse(hit.raw);
    } catch (e) {
      const msg = `${(e as Error).message} (from ${hit.origin})`;
      const fromUser = layer.source === "flag" || layer.source === "env";
      throw fromUser ? new UsageError(msg) : new ConfigError(msg);
    }
    found.push({ layer, value, origin: hit.origin });
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
    if (v === undefined || (Array.isArray(v) && v.length === 0)) return undefined;
    return { raw: v, origin: kebab(s.flag!) };
  }
  if (layer.source === "env") {
    for (const name of s.env ?? []) {
      const v = layer.values[name];
      if (typeof v === "string" && v.trim() !== "") return { raw: v, origin: layer.origin(name) };
    }
    return undefined;
  }
  const k = layer.source === "file" ? (s.fileKey ?? s.key) : s.key;
  const v = layer.values[k];
  return v === undefined || v === null ? undefined : { raw: v, origin: layer.origin(k) };
}

/** False when NO_COLOR is set (any non-empty value, per no-color.org); output.ts asks here so only this file reads the environment. */
export function colorAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  return !env.NO_COLOR;
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

  const cfg = { values: {}, sources: {}, origins: {}, warnings: [] } as unknown as Config;
  const flagLayer: Layer = { source: "flag", values: flags, origin: kebab };
  const envLayer: Layer = { source: "env", values: envVars, origin: envOrigin };

  const configFileRaw = (flags.config as string | undefined) ?? envVars.KEEPCTL_CONFIG;
  let fileLayer: Layer | undefined;
  if (configFileRaw) {
    cfg.configFile = path.resolve(cwd, expandHome(configFileRaw));
    const file = readJson(cfg.configFile, "config file", "fix the path given by --config / KEEPCTL_CONFIG");
    fileLayer = { source: "file", values: file, origin: (k) => `config file key "${k}"` };
    const known = new Set(["deployment", ...SETTINGS.map((s) => s.fileKey ?? s.key)]);
    for (const k of Object.keys(file)) if (!known.has(k)) cfg.warnings.push(`config file: unknown key "${k}" ignored`);
  }
  const userLayers = [flagLayer, envLayer, ...(fileLayer ? [fileLayer] : [])];

  // network and dataDir decide which preset / deployment applies, so they come first.
  for (const key of ["network", "dataDir"]) resolve(SETTINGS.find((s) => s.key === key)!, userLayers, cfg);
  const network = cfg.values.network as string;

  let deploymentRaw = (flags.deployment as string | undefined) ?? envVars.KEEPCTL_DEPLOYMENT;
  const fileDeployment = fileLayer?.values.deployment;
  if (!deploymentRaw && typeof fileDeployment === "string") {
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
    cfg.deployment = d;
    const values: Record<string, unknown> = {
      chainId: d.chainId, contracts: d.contracts, operators: d.operators, startBlock: d.deploymentBlock,
      rpcUrls: d.rpcUrl ? [d.rpcUrl] : undefined,
      subgraphUrl: typeof d.subgraphUrl === "string" ? d.subgraphUrl : undefined,
    };
    presetLayer = { source: "deployment", values, origin: (k) => `deployment file key "${k === "startBlock" ? "deploymentBlock" : k === "rpcUrls" ? "rpcUrl" : k}"` };
    if (!flags.network && !envVars.KEEPCTL_NETWORK && !fileLayer?.values.network) {
      cfg.values.network = typeof d.network === "string" ? d.network : "custom";
      cfg.sources.network = "deployment";
      cfg.origins.network = cfg.deploymentFile;
    }
  } else {
    presetLayer = { source: "preset", values: PRESETS[network].values, origin: () => `${network} preset` };
  }

  const layers = [...userLayers, presetLayer];
  for (const s of SETTINGS) if (s.key !== "network" && s.key !== "dataDir") resolve(s, layers, cfg);

  for (const s of SETTINGS) {
    if (!s.secret) continue;
    const v = cfg.values[s.key];
    for (const item of Array.isArray(v) ? v : [v]) {
      if (typeof item !== "string") continue;
      // A bare origin (http://127.0.0.1:8545) hides nothing, and showing it helps when it fails.
      if (s.secret === "url" && redactUrl(item) === item.replace(/\/$/, "")) continue;
      registerSecret(item);
      if (s.secret === "url") for (const part of urlKeyParts(item)) registerSecret(part);
    }
  }
  const reserved = new Set(["values", "sources", "origins", "warnings", "configFile", "deploymentFile", "deployment"]);
  for (const [k, v] of Object.entries(cfg.values)) if (!reserved.has(k)) (cfg as unknown as Record<string, unknown>)[k] = v;
  if (cfg.chainId === undefined) {
    throw new ConfigError("no chain id known for this network", { hint: "set KEEPCTL_CHAIN_ID or add chainId to the deployment file" });
  }
  if (opts.requireRpc !== false && cfg.rpcUrls.length === 0) {
    throw new ConfigError("no RPC URL configured", { hint: "pass --rpc-url or set KEEPCTL_RPC_URLS" });
  }
  return cfg;
}

/** Pieces of a URL long enough to be an API key: they may be echoed alone in a provider's error. */
function urlKeyParts(url: string): string[] {
  try {
    const u = new URL(url);
    const parts = [...u.pathname.split("/"), ...u.searchParams.values(), decodeURIComponent(u.password)];
    return [...parts.filter((p) => p.length >= 12), ...u.hostname.split(".").filter(keyLikeHostLabel)];
  } catch {
    return [];
  }
}

// ---- helpers for commands -------------------------------------------------------------------

export function requireOperators(cfg: Pick<Config, "operators">): string[] {
  if (cfg.operators.length === 0) throw new UsageError("no operator given: pass --operator ADDR or set KEEPCTL_OPERATORS");
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

/** A value another module defined with defineSetting (typed by the caller). */
export function settingOf<T>(cfg: Pick<Config, "values">, key: string): T {
  return cfg.values[key] as T;
}
