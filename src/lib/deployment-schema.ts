import { ConfigError } from "./errors";
import { echo } from "./redact";
import { closestName } from "./names";
import { USER_KEY_PREFIX } from "./contract-names";

/**
 * The deployment file's shape, in one place (`--deployment`, `KEEPCTL_DEPLOYMENT`, what
 * `keepctl devnet` writes). Unknown keys used to be ignored, so a misspelt `deploymentBlok` left
 * scans starting at block 0 without a word; now every key must be one of these, or start with
 * `x-` (the user's own notes, never read). Values of the keys that feed settings (chainId,
 * contracts, operators, ...) are validated by their settings in config.ts; the sections below
 * check their own shape.
 *
 * To add a section (the Bitcoin layer's `bitcoin`, later `uniswap`, ...): one row in SECTIONS,
 * with a `fields` table when it is an object whose keys are checked the same way.
 */
export interface SectionSpec {
  describe: string;
  /** "object": a JSON object whose keys are `fields` (plus `x-` ones); "any": not checked here. */
  kind: "object" | "any";
  /** For objects: each field and the JSON type it must have. */
  fields?: Record<string, FieldType>;
}

export type FieldType = "string" | "string[]" | "integer" | "object" | "any";

export const DEPLOYMENT_SECTIONS: Record<string, SectionSpec> = {
  network: { kind: "any", describe: "label shown as the network name" },
  chainId: { kind: "any", describe: "chain id the RPC must serve" },
  rpcUrl: { kind: "any", describe: "default JSON-RPC URL" },
  contracts: { kind: "any", describe: "contract addresses by name (src/lib/contract-names.ts)" },
  operators: { kind: "any", describe: "default operator addresses" },
  deploymentBlock: { kind: "any", describe: "first block of log scans" },
  logBlockRange: { kind: "any", describe: "the RPC provider's eth_getLogs block cap (log chunks start at it)" },
  subgraphUrl: { kind: "any", describe: "RAI subgraph URL" },
  bitcoin: {
    kind: "object",
    describe: "the Bitcoin side: network and servers",
    fields: { network: "string", electrumUrls: "string[]", esploraUrls: "string[]" },
  },
  // Written by `keepctl devnet` for people and tests; keepctl reads none of them.
  ethBtc: { kind: "any", describe: "devnet: the ETH/BTC price it set" },
  operatorAccountIndexes: { kind: "any", describe: "devnet: hardhat account indexes of the operators" },
  deployer: { kind: "any", describe: "devnet: the deploying account" },
  deposits: { kind: "any", describe: "devnet: the seeded deposits" },
  rai: { kind: "any", describe: "devnet: the RAI doubles' rate history" },
  emp: { kind: "any", describe: "devnet: the EMP's accounts and parameters" },
};

/** 1 MiB: a deployment file is a few KiB; anything near this is the wrong file. */
export const DEPLOYMENT_FILE_MAX_BYTES = 1024 * 1024;

const isUserKey = (k: string) => k.startsWith(USER_KEY_PREFIX);

function unknownKey(file: string, where: string, key: string, known: readonly string[]): ConfigError {
  const near = closestName(key, known);
  return new ConfigError(`deployment file ${file}: unknown key "${echo(where + key)}"${near ? ` (did you mean "${where}${near}"?)` : ""}`, {
    hint: `fix or remove it; keys of your own must start with "${USER_KEY_PREFIX}" (docs/configuration.md#deployment-files)`,
  });
}

function typeOk(v: unknown, t: FieldType): boolean {
  if (t === "any") return true;
  if (t === "string") return typeof v === "string";
  if (t === "integer") return typeof v === "number" && Number.isSafeInteger(v);
  if (t === "object") return !!v && typeof v === "object" && !Array.isArray(v);
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}

/** Throws ConfigError (exit 3) for the first key that is not in the schema or has the wrong shape. */
export function validateDeployment(doc: Record<string, unknown>, file: string): void {
  const known = Object.keys(DEPLOYMENT_SECTIONS);
  for (const [key, value] of Object.entries(doc)) {
    if (isUserKey(key)) continue;
    const spec = DEPLOYMENT_SECTIONS[key];
    if (!spec) throw unknownKey(file, "", key, known);
    if (spec.kind !== "object" || value === undefined || value === null) continue;
    if (!typeOk(value, "object")) throw new ConfigError(`deployment file ${file}: "${key}" must be an object (${spec.describe})`, { hint: "see docs/configuration.md#deployment-files" });
    const fields = spec.fields ?? {};
    for (const [field, fv] of Object.entries(value as Record<string, unknown>)) {
      if (isUserKey(field)) continue;
      const t = fields[field];
      if (!t) throw unknownKey(file, `${key}.`, field, Object.keys(fields));
      if (!typeOk(fv, t)) throw new ConfigError(`deployment file ${file}: "${key}.${field}" must be ${t === "string[]" ? "a list of strings" : `a ${t}`}`, { hint: "see docs/configuration.md#deployment-files" });
    }
  }
}
