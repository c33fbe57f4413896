import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { colorMode, knownEnvNames, loadConfig, requireContract, requireOperators } from "../../src/lib/config";
import { ConfigError, ExitCode, UsageError } from "../../src/lib/errors";
import { getAddress } from "ethers";
import { MAINNET_CONTRACTS, MAINNET_RAI_CONTRACTS, MAINNET_START_BLOCK, devnetDeploymentPath } from "../../src/lib/presets";
import { redact } from "../../src/lib/redact";

const A = "0x1111111111111111111111111111111111111111";
const B = "0x2222222222222222222222222222222222222222";
const C = "0x3333333333333333333333333333333333333333";
const D = "0x4444444444444444444444444444444444444444";
const RPC = "http://127.0.0.1:8545";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-config-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let n = 0;
function dir(files: Record<string, unknown> = {}): string {
  const d = path.join(tmp, String(n++));
  fs.mkdirSync(d, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(d, name)), { recursive: true });
    fs.writeFileSync(path.join(d, name), typeof content === "string" ? content : JSON.stringify(content));
  }
  return d;
}

/** loadConfig isolated from the real environment and the repo's .env. */
function load(flags: Record<string, unknown>, env: Record<string, string> = {}, cwd = dir()) {
  return loadConfig(flags, { KEEPCTL_DATA_DIR: path.join(cwd, "data"), ...env }, { cwd });
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a throw");
}

describe("loadConfig precedence", () => {
  it("falls back to the mainnet preset and defaults", () => {
    const cfg = load({ rpcUrl: [RPC] });
    expect(cfg.network).toBe("mainnet");
    expect(cfg.chainId).toBe(1);
    expect(cfg.contracts.TBTCSystem).toBe(MAINNET_CONTRACTS.TBTCSystem);
    expect(cfg.contracts.BondedECDSAKeepFactory).toBe("0xA7d9E842EFB252389d613dA88EDa3731512e40bD");
    expect(cfg.startBlock).toBe(MAINNET_START_BLOCK);
    expect(cfg.sources.startBlock).toBe("preset");
    expect(cfg.warnThreshold).toBe(130);
    expect(cfg.sources.warnThreshold).toBe("default");
    expect(cfg.operators).toEqual([]);
    expect(cfg.rpcTimeoutMs).toBe(15000);
    expect(cfg.batchMaxCount).toBe(100);
    expect(cfg.logChunkSize).toBe(10000);
  });

  it("flag beats env beats config file beats preset beats default", () => {
    const cwd = dir({ "cfg.json": { operators: [C], warnThreshold: 150, startBlock: 3, rpcUrls: ["http://file.example"] } });
    const env = { KEEPCTL_CONFIG: path.join(cwd, "cfg.json"), KEEPCTL_OPERATORS: B, KEEPCTL_WARN_THRESHOLD: "140", KEEPCTL_RPC_URLS: "http://env.example" };
    const all = load({ operator: [A], threshold: "120", rpcUrl: [RPC] }, env, cwd);
    expect([all.operators, all.warnThreshold, all.rpcUrls]).toEqual([[A], 120, [RPC]]);
    expect([all.sources.operators, all.sources.warnThreshold, all.sources.rpcUrls]).toEqual(["flag", "flag", "flag"]);
    expect(all.origins.operators).toBe("--operator");

    const noFlags = load({}, env, cwd);
    expect([noFlags.operators, noFlags.warnThreshold, noFlags.rpcUrls]).toEqual([[B], 140, ["http://env.example"]]);
    expect(noFlags.sources.operators).toBe("env");
    expect(noFlags.origins.operators).toBe("KEEPCTL_OPERATORS");

    const fileOnly = load({}, { KEEPCTL_CONFIG: env.KEEPCTL_CONFIG }, cwd);
    expect([fileOnly.operators, fileOnly.warnThreshold, fileOnly.startBlock]).toEqual([[C], 150, 3]);
    expect(fileOnly.sources.startBlock).toBe("file");
    expect(fileOnly.configFile).toBe(path.join(cwd, "cfg.json"));
  });

  it("honours the seed's env names, below the KEEPCTL_ names", () => {
    const seed = { OPERATORS: `${A},${B}`, MINBLOCK: "123", COLLATERALISATION_THRESHOLD: "175" };
    const cfg = load({ rpcUrl: [RPC] }, seed);
    expect(cfg.operators).toEqual([A, B]);
    expect(cfg.startBlock).toBe(123);
    expect(cfg.warnThreshold).toBe(175);
    expect(cfg.origins.startBlock).toBe("MINBLOCK");
    const both = load({ rpcUrl: [RPC] }, { ...seed, KEEPCTL_START_BLOCK: "456" });
    expect(both.startBlock).toBe(456);
  });

  it("reads .env without overriding the real environment", () => {
    const cwd = dir({ ".env": `KEEPCTL_OPERATORS=${A}\nKEEPCTL_WARN_THRESHOLD=160\nKEEPCTL_RPC_URLS=${RPC}\n` });
    const cfg = load({}, { KEEPCTL_WARN_THRESHOLD: "170" }, cwd);
    expect(cfg.operators).toEqual([A]);
    expect(cfg.origins.operators).toBe("KEEPCTL_OPERATORS in .env");
    expect(cfg.warnThreshold).toBe(170);
    expect(loadConfig({}, { KEEPCTL_RPC_URLS: RPC }, { cwd, dotenv: false }).operators).toEqual([]);
  });

  it("checksums addresses given in lower case and splits comma lists", () => {
    const lower = MAINNET_CONTRACTS.TBTCSystem.toLowerCase();
    const cfg = load({ rpcUrl: [RPC] }, { KEEPCTL_OPERATORS: ` ${lower} , ${A}` });
    expect(cfg.operators).toEqual([MAINNET_CONTRACTS.TBTCSystem, A]);
  });

  it("uses a deployment file in place of the preset, under flags and env", () => {
    const cwd = dir({ "dep.json": { chainId: 31337, rpcUrl: RPC, contracts: { TBTCSystem: A, TBTCToken: B }, operators: [C], deploymentBlock: 7, "x-accounts": ["x"] } });
    const cfg = load({ deployment: path.join(cwd, "dep.json") }, {}, cwd);
    expect(cfg.chainId).toBe(31337);
    expect(cfg.rpcUrls).toEqual([RPC]);
    expect(cfg.contracts).toEqual({ TBTCSystem: A, TBTCToken: B });
    expect(cfg.operators).toEqual([C]);
    expect(cfg.startBlock).toBe(7);
    expect(cfg.network).toBe("custom");
    expect(cfg.sources.chainId).toBe("deployment");
    expect(cfg.origins.startBlock).toBe('deployment file key "deploymentBlock"');
    expect(cfg.deployment?.["x-accounts"]).toEqual(["x"]);
    fs.mkdirSync(path.join(cwd, "etc"));
    fs.writeFileSync(path.join(cwd, "etc", "c.json"), JSON.stringify({ deployment: "../dep.json" }));
    const viaFile = load({ config: "etc/c.json" }, {}, cwd);
    expect([viaFile.deploymentFile, viaFile.chainId]).toEqual([path.join(cwd, "dep.json"), 31337]);
    const over = load({ deployment: "dep.json", operator: [D] }, { KEEPCTL_START_BLOCK: "9" }, cwd);
    expect([over.operators, over.startBlock, over.sources.startBlock]).toEqual([[D], 9, "env"]);
  });

  it("--network devnet reads the devnet's deployment from the data dir", () => {
    const cwd = dir();
    const dataDir = path.join(cwd, "data");
    fs.mkdirSync(path.dirname(devnetDeploymentPath(dataDir)), { recursive: true });
    fs.writeFileSync(devnetDeploymentPath(dataDir), JSON.stringify({ network: "devnet", chainId: 31337, contracts: { TBTCSystem: A } }));
    // The file has no rpcUrl and replaces the preset (whose default URL is not used).
    expect(() => load({ network: "devnet" }, {}, cwd)).toThrow(/no RPC URL/);
    const cfg = load({ network: "devnet", rpcUrl: ["http://127.0.0.1:9999"] }, {}, cwd);
    expect(cfg.deploymentFile).toBe(devnetDeploymentPath(dataDir));
    expect(cfg.contracts).toEqual({ TBTCSystem: A });
    expect(cfg.network).toBe("devnet");
    const bare = load({ network: "devnet" }, {}, dir());
    expect([bare.chainId, bare.rpcUrls, bare.sources.rpcUrls]).toEqual([31337, [RPC], "preset"]);
  });

  it("merges contracts by name across layers", () => {
    const cfg = load({ rpcUrl: [RPC] }, { KEEPCTL_CONTRACTS: `TBTCSystem=${A},x-Extra=${B}` });
    expect(cfg.contracts.TBTCSystem).toBe(A);
    expect(cfg.contracts["x-Extra"]).toBe(B);
    expect(cfg.contracts.TBTCToken).toBe(MAINNET_CONTRACTS.TBTCToken);
    expect(requireContract(cfg, "x-Extra")).toBe(B);
    expect(thrown(() => requireContract(cfg, "Nope"))).toBeInstanceOf(ConfigError);
  });

  it("fills the typed sections from the same layers", () => {
    const cwd = dir({ "c.json": { interval: 5, raiSource: "events", crThreshold: "0.1" } });
    const cfg = load({ rpcUrl: [RPC], config: "c.json", retries: "4", heartbeatUrl: "http://127.0.0.1:1/hb" }, { KEEPCTL_REDEEM_BELOW: "120.5" }, cwd);
    expect(cfg.rpc).toEqual({ urls: [RPC], chainId: 1, timeoutMs: 15000, retries: 3, batchMaxCount: 100, logChunkSize: 10000, maxHeadAgeSec: 600, maxLagBlocks: 3 });
    expect([cfg.watch.interval, cfg.rai.source, cfg.emp.crThreshold, cfg.emp.retries, cfg.tbtc.redeemBelow]).toEqual([5, "events", "0.1", 4, 120.5]);
    expect(cfg.alerts.heartbeatUrl).toBe("http://127.0.0.1:1/hb");
    expect(cfg.rai.contracts.RateSetter).toBe(getAddress(MAINNET_RAI_CONTRACTS.RateSetter));
    expect(cfg.signing).toEqual({
      keySource: "none", maxFeeGwei: 200, strictPerms: false,
      receiptTimeoutSec: 900, txPollMs: 2000, rebroadcastMs: 10000, replaceAfterSec: 60, replacementPct: 10, confirmations: "auto", leaseRefreshSec: 2, leaseDurationSec: 15,
    });
    // The compatibility accessor still answers for modules not yet converted.
    expect(cfg.values.interval).toBe(5);
  });

  it("rejects an unknown config-file key, suggesting the closest one", () => {
    const cwd = dir({ "c.json": { operatorz: [A] }, "far.json": { zzzzqqq: 1 }, "pk.json": { privateKey: "0x" + "ab".repeat(32) } });
    const e = thrown(() => load({ rpcUrl: [RPC], config: "c.json" }, {}, cwd)) as ConfigError;
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.exitCode).toBe(ExitCode.CONFIG);
    expect(e.message).toBe(`unknown key in config file ${path.join(cwd, "c.json")}: "operatorz" (did you mean "operators"?)`);
    expect(thrown(() => load({ rpcUrl: [RPC], config: "far.json" }, {}, cwd)).message).toMatch(/"zzzzqqq"$/);
    const pk = thrown(() => load({ rpcUrl: [RPC], config: "pk.json" }, {}, cwd));
    expect(pk.message).toMatch(/"privateKey" is not allowed in a config file$/);
    expect(pk.message + (pk as ConfigError).hint).not.toContain("abab");
  });

  it("rejects an unknown KEEPCTL_ variable, from the environment or .env, with a suggestion", () => {
    const e = thrown(() => load({ rpcUrl: [RPC] }, { KEEPCTL_OPERATOR: A })) as ConfigError;
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.exitCode).toBe(ExitCode.CONFIG);
    expect(e.message).toBe('unknown environment variable "KEEPCTL_OPERATOR" (did you mean "KEEPCTL_OPERATORS"?)');
    const cwd = dir({ ".env": "KEEPCTL_RPC_URL_FILE=/x\n" });
    expect(thrown(() => load({}, {}, cwd)).message).toBe('unknown variable in .env "KEEPCTL_RPC_URL_FILE" (did you mean "KEEPCTL_RPC_URLS_FILE"?)');
    // Other names are not ours to judge; every documented name is accepted.
    expect(load({ rpcUrl: [RPC] }, { OTHER_TOOL_SETTING: "x", KEEPCTL_RPC_RETRIES: "2" }).rpc.retries).toBe(2);
    expect(knownEnvNames()).toEqual(expect.arrayContaining(["KEEPCTL_CONFIG", "KEEPCTL_DEPLOYMENT", "KEEPCTL_RPC_URLS_FILE", "KEEPCTL_STRICT_PERMS", "KEEPCTL_PRIVATE_KEY"]));
  });
});

describe("empty values and strict numbers", () => {
  it("an empty value is an error at every layer, never a fall-back to the deployment's", () => {
    const cwd = dir({ "dep.json": { chainId: 31337, rpcUrl: RPC, contracts: {}, operators: [C] }, "c.json": { operators: [""] } });
    for (const [flags, msg] of [
      [{ operator: [""] }, "empty value (from --operator)"],
      [{ rpcUrl: [""] }, "empty value (from --rpc-url)"],
      [{ operator: [`${A},`] }, `empty item in list "${A}," (from --operator)`],
      [{ config: "" }, "empty value (from --config)"],
      [{ deployment: "" }, "empty value (from --deployment)"],
    ] as const) {
      const e = thrown(() => load({ deployment: "dep.json", ...flags }, {}, cwd));
      expect(e).toBeInstanceOf(UsageError);
      expect(e.message).toBe(msg);
    }
    expect(thrown(() => load({ deployment: "dep.json" }, { KEEPCTL_OPERATORS: "" }, cwd)).message).toBe("empty value (from KEEPCTL_OPERATORS)");
    expect(thrown(() => load({ deployment: "dep.json" }, { KEEPCTL_RPC_URLS: " " }, cwd)).message).toBe("empty value (from KEEPCTL_RPC_URLS)");
    const file = thrown(() => load({ deployment: "dep.json", config: "c.json" }, {}, cwd));
    expect(file).toBeInstanceOf(ConfigError);
    expect(file.message).toBe('empty value (from config file key "operators")');
    // Without the empty value, the deployment's operator is used: the error above was the only thing in the way.
    expect(load({ deployment: "dep.json" }, {}, cwd).operators).toEqual([C]);
  });

  it("numbers are plain digits: hex, exponents, signs and spaces are rejected", () => {
    for (const bad of ["0x80", "1e3", " 12", "12 ", "+12", "12.0", "", "0b1", "Infinity"]) {
      const e = thrown(() => load({ rpcUrl: [RPC], interval: bad }));
      expect(e).toBeInstanceOf(UsageError);
      expect(e.message).toMatch(/\(from --interval\)$/);
    }
    expect(thrown(() => load({ rpcUrl: [RPC] }, { KEEPCTL_RPC_RETRIES: "0x2" })).message).toBe('expected a whole number, got "0x2" (from KEEPCTL_RPC_RETRIES)');
    expect(load({ rpcUrl: [RPC], interval: "007" }).watch.interval).toBe(7);
    const cwd = dir({ "c.json": { interval: 2.5 } });
    expect(thrown(() => load({ rpcUrl: [RPC], config: "c.json" }, {}, cwd))).toBeInstanceOf(ConfigError);
  });

  it("decimals only where a percentage or decimal is meant", () => {
    for (const bad of ["0x80", "1e2", " 150", "150.", ".5", "-150"]) {
      expect(thrown(() => load({ rpcUrl: [RPC], threshold: bad })).message).toBe(`expected a decimal number, got "${bad}" (from --threshold)`);
    }
    expect(load({ rpcUrl: [RPC], threshold: "150.25" }).warnThreshold).toBe(150.25);
    expect(load({ rpcUrl: [RPC], maxFeeGwei: "0.5" }).signing.maxFeeGwei).toBe(0.5);
    expect(thrown(() => load({ rpcUrl: [RPC], feeSats: "2500.5" })).message).toBe('expected a whole number, got "2500.5" (from --fee-sats)');
  });
});

describe("the signing key source", () => {
  const KEY = "0x" + "5a".repeat(32);
  it("an explicit --keystore beats KEEPCTL_PRIVATE_KEY from the environment or .env, with a warning", () => {
    const ks = path.join(tmp, "ks.json");
    const cfg = load({ rpcUrl: [RPC], keystore: ks }, { KEEPCTL_PRIVATE_KEY: KEY });
    expect(cfg.signing.keySource).toBe("keystore");
    expect(cfg.signing.keystore).toBe(ks);
    expect(cfg.signing.privateKey).toBeUndefined();
    expect(cfg.values.privateKey).toBeUndefined();
    expect(cfg.warnings).toEqual(["KEEPCTL_PRIVATE_KEY ignored: --keystore names the signing key"]);
    const cwd = dir({ ".env": `KEEPCTL_PRIVATE_KEY=${KEY}\n` });
    const viaDotenv = load({ rpcUrl: [RPC], keystore: ks }, {}, cwd);
    expect([viaDotenv.signing.keySource, viaDotenv.warnings]).toEqual(["keystore", ["KEEPCTL_PRIVATE_KEY in .env ignored: --keystore names the signing key"]]);
  });

  it("both named at the same layer is a usage error naming both", () => {
    const e = thrown(() => load({ rpcUrl: [RPC] }, { KEEPCTL_KEYSTORE: "/k.json", KEEPCTL_PRIVATE_KEY: KEY }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toBe("KEEPCTL_KEYSTORE and KEEPCTL_PRIVATE_KEY both name a signing key; set only one");
    const cwd = dir({ ".env": `KEEPCTL_PRIVATE_KEY=${KEY}\n` });
    expect(thrown(() => load({ rpcUrl: [RPC] }, { KEEPCTL_KEYSTORE: "/k.json" }, cwd)).message).toBe(
      "KEEPCTL_KEYSTORE and KEEPCTL_PRIVATE_KEY in .env both name a signing key; set only one",
    );
  });

  it("the environment's key beats a config file's keystore (higher layer), with a warning; one source alone is used as is", () => {
    const cwd = dir({ "c.json": { keystore: "/k.json", passwordFile: "/pw" } });
    const cfg = load({ rpcUrl: [RPC], config: "c.json" }, { KEEPCTL_PRIVATE_KEY: KEY }, cwd);
    expect([cfg.signing.keySource, cfg.signing.keystore, cfg.signing.passwordFile]).toEqual(["private-key", undefined, undefined]);
    expect(cfg.warnings[0]).toBe('config file key "keystore" ignored: KEEPCTL_PRIVATE_KEY names the signing key');
    expect(load({ rpcUrl: [RPC] }, { KEEPCTL_PRIVATE_KEY: KEY }).signing.keySource).toBe("private-key");
    const only = load({ rpcUrl: [RPC], config: "c.json" }, {}, cwd);
    expect([only.signing.keySource, only.signing.keystore, only.signing.passwordFile]).toEqual(["keystore", "/k.json", "/pw"]);
  });
});

describe("file forms of URL settings", () => {
  it("--rpc-url-file / KEEPCTL_RPC_URLS_FILE: one URL per line, comments and blanks skipped", () => {
    const cwd = dir({ "rpc.txt": `# primary\n${RPC}\n\nhttps://backup.example/v3/K3YK3YK3Y\n` });
    const file = path.join(cwd, "rpc.txt");
    const cfg = load({ rpcUrlFile: file }, {}, cwd);
    expect(cfg.rpc.urls).toEqual([RPC, "https://backup.example/v3/K3YK3YK3Y"]);
    expect(cfg.origins.rpcUrls).toBe(`--rpc-url-file ${file}`);
    expect(load({}, { KEEPCTL_RPC_URLS_FILE: file }, cwd).rpcUrls).toHaveLength(2);
    // Its parts are secrets from now on, even alone.
    expect(redact("provider says K3YK3YK3Y is invalid")).toBe("provider says *** is invalid");
  });

  it("the other URL secrets have file forms too; a single-valued one takes exactly one line", () => {
    const cwd = dir({ "one.txt": "http://127.0.0.1:9/hook\n", "two.txt": "http://a.example\nhttp://b.example\n", "empty.txt": "\n# none\n" });
    const f = (n: string) => path.join(cwd, n);
    const cfg = load({ rpcUrl: [RPC], heartbeatUrlFile: f("one.txt"), subgraphUrlFile: f("one.txt") }, {
      KEEPCTL_SLACK_WEBHOOK_URL_FILE: f("one.txt"), KEEPCTL_DISCORD_WEBHOOK_URL_FILE: f("one.txt"), KEEPCTL_WEBHOOK_URL_FILE: f("one.txt"), KEEPCTL_TELEGRAM_BOT_TOKEN_FILE: f("one.txt"),
    }, cwd);
    expect(cfg.alerts).toMatchObject({ heartbeatUrl: "http://127.0.0.1:9/hook", slackWebhookUrl: "http://127.0.0.1:9/hook", discordWebhookUrl: "http://127.0.0.1:9/hook", webhookUrl: "http://127.0.0.1:9/hook" });
    expect(cfg.rai.subgraphUrl).toBe("http://127.0.0.1:9/hook");
    const two = thrown(() => load({ rpcUrl: [RPC], heartbeatUrlFile: f("two.txt") }, {}, cwd));
    expect(two).toBeInstanceOf(ConfigError);
    expect(two.message).toBe(`--heartbeat-url-file ${f("two.txt")} holds 2 lines, expected one value`);
    expect(thrown(() => load({ rpcUrlFile: f("empty.txt") }, {}, cwd)).message).toBe(`--rpc-url-file ${f("empty.txt")} holds no value`);
    expect(thrown(() => load({ rpcUrlFile: f("missing.txt") }, {}, cwd)).message).toBe(`cannot read --rpc-url-file ${f("missing.txt")}: ENOENT`);
  });

  it("the PagerDuty routing key: env or _FILE form, secret (never shown), with a default Events v2 URL", () => {
    const KEY = "abcdef0123456789abcdef0123456789";
    const cwd = dir({ "pd.key": `${KEY}\n`, "two.key": "a\nb\n" });
    const cfg = load({ rpcUrl: [RPC] }, { KEEPCTL_PAGERDUTY_ROUTING_KEY_FILE: path.join(cwd, "pd.key") }, cwd);
    expect(cfg.alerts).toMatchObject({ pagerdutyRoutingKey: KEY, pagerdutyUrl: "https://events.pagerduty.com/v2/enqueue" });
    expect(redact(`routing ${KEY}`)).toBe("routing ***");
    const env = load({ rpcUrl: [RPC] }, { KEEPCTL_PAGERDUTY_ROUTING_KEY: KEY, KEEPCTL_PAGERDUTY_URL: "http://127.0.0.1:9/v2/enqueue" }, cwd);
    expect(env.alerts.pagerdutyUrl).toBe("http://127.0.0.1:9/v2/enqueue");
    const bad = thrown(() => load({ rpcUrl: [RPC] }, { KEEPCTL_PAGERDUTY_ROUTING_KEY: "two words" }, cwd));
    expect(bad).toBeInstanceOf(UsageError); // bad input (exit 2), as for every malformed setting
    expect(bad.message).toMatch(/KEEPCTL_PAGERDUTY_ROUTING_KEY/);
    expect(bad.message).not.toContain("two words");
  });

  it("a value and its file form at the same layer is a usage error; a file at a higher layer wins", () => {
    const cwd = dir({ "rpc.txt": `${RPC}\n` });
    const file = path.join(cwd, "rpc.txt");
    expect(thrown(() => load({ rpcUrl: [RPC], rpcUrlFile: file }, {}, cwd)).message).toBe("--rpc-url and --rpc-url-file both given; pass only one");
    expect(thrown(() => load({}, { KEEPCTL_RPC_URLS: RPC, KEEPCTL_RPC_URLS_FILE: file }, cwd)).message).toBe("KEEPCTL_RPC_URLS and KEEPCTL_RPC_URLS_FILE both set; set only one");
    const cfg = load({ rpcUrlFile: file }, { KEEPCTL_RPC_URLS: "http://env.example" }, cwd);
    expect([cfg.rpcUrls, cfg.sources.rpcUrls]).toEqual([[RPC], "flag"]);
  });
});

describe("loadConfig validation", () => {
  it("names the bad address and where it came from", () => {
    const flag = thrown(() => load({ rpcUrl: [RPC], operator: ["0xnot-an-address"] }));
    expect(flag).toBeInstanceOf(UsageError);
    expect(flag.message).toBe('invalid address "0xnot-an-address" (from --operator)');
    const env = thrown(() => load({ rpcUrl: [RPC] }, { OPERATORS: `${A},0x12` }));
    expect(env.message).toBe('invalid address "0x12" (from OPERATORS)');
    const cwd = dir({ "c.json": { operators: ["nope"] } });
    const file = thrown(() => load({ rpcUrl: [RPC], config: "c.json" }, {}, cwd));
    expect(file).toBeInstanceOf(ConfigError);
    expect(file.message).toBe('invalid address "nope" (from config file key "operators")');
  });

  it("keeps the threshold within 100..1000", () => {
    for (const bad of ["99", "1001", "abc"]) {
      const e = thrown(() => load({ rpcUrl: [RPC], threshold: bad }));
      expect(e).toBeInstanceOf(UsageError);
      expect(e.message).toMatch(/\(from --threshold\)$/);
    }
    expect(thrown(() => load({ rpcUrl: [RPC] }, { COLLATERALISATION_THRESHOLD: "50" })).message).toBe(
      "must be between 100 and 1000, got 50 (from COLLATERALISATION_THRESHOLD)",
    );
    expect(load({ rpcUrl: [RPC], threshold: "100" }).warnThreshold).toBe(100);
    expect(load({ rpcUrl: [RPC], threshold: 1000 }).warnThreshold).toBe(1000);
  });

  it("requires an RPC URL unless told not to, with a hint", () => {
    const e = thrown(() => load({})) as ConfigError;
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.exitCode).toBe(ExitCode.CONFIG);
    expect(e.hint).toBe("pass --rpc-url-file FILE or --rpc-url, or set KEEPCTL_RPC_URLS_FILE / KEEPCTL_RPC_URLS");
    const cwd = dir();
    expect(loadConfig({}, { KEEPCTL_DATA_DIR: cwd }, { cwd, requireRpc: false }).rpcUrls).toEqual([]);
  });

  it("rejects a malformed RPC URL without echoing it", () => {
    const e = thrown(() => load({}, { KEEPCTL_RPC_URLS: "ftp://SECRET.example/key" }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toBe("invalid URL (must start with http://, https://, ws:// or wss://) (from KEEPCTL_RPC_URLS)");
  });

  it("reports unreadable or malformed files as config errors", () => {
    const cwd = dir({ "bad.json": "{ not json" });
    const missing = thrown(() => load({ rpcUrl: [RPC], config: "missing.json" }, {}, cwd)) as ConfigError;
    expect(missing).toBeInstanceOf(ConfigError);
    expect(missing.message).toBe(`cannot read config file ${path.join(cwd, "missing.json")}: ENOENT`);
    expect(thrown(() => load({ rpcUrl: [RPC] }, { KEEPCTL_CONFIG: "bad.json" }, cwd)).message).toMatch(/^config file .*bad\.json is not a valid JSON object/);
    const dep = thrown(() => load({ deployment: "nowhere.json" }, {}, cwd)) as ConfigError;
    expect(dep.exitCode).toBe(ExitCode.CONFIG);
    expect(dep.message).toMatch(/^cannot read deployment file .*nowhere\.json: ENOENT$/);
    expect(thrown(() => load({ rpcUrl: [RPC], network: "ropsten" })).message).toBe('unknown network "ropsten" (known: mainnet, devnet) (from --network)');
  });

  it("requireOperators explains how to give one", () => {
    const e = thrown(() => requireOperators({ operators: [] }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toBe("no operator given: pass --operator ADDR or --operators-file FILE, or set KEEPCTL_OPERATORS");
    expect(requireOperators({ operators: [A] })).toEqual([A]);
  });

  it("registers RPC URLs with API keys as secrets", () => {
    load({ rpcUrl: ["https://mainnet.example/v3/K3Y5ECRETVALUE"] });
    const text = redact("request to https://mainnet.example/v3/K3Y5ECRETVALUE failed; raw K3Y5ECRETVALUE https://mainnet.example/v3/K3Y5ECRETVALUE");
    expect(text).not.toContain("K3Y5ECRETVALUE");
  });
});

describe("the default config file", () => {
  it("reads $XDG_CONFIG_HOME/keepctl/config.json, else ~/.config/keepctl/config.json, only when present", () => {
    const home = dir({ ".config/keepctl/config.json": { operators: [A] } });
    const xdg = dir({ "keepctl/config.json": { operators: [B] } });
    const fromHome = load({ rpcUrl: [RPC] }, { HOME: home });
    expect(fromHome.operators).toEqual([A]);
    expect(fromHome.configFile).toBe(path.join(home, ".config", "keepctl", "config.json"));
    expect(load({ rpcUrl: [RPC] }, { HOME: home, XDG_CONFIG_HOME: xdg }).operators).toEqual([B]);
    // A relative XDG_CONFIG_HOME is ignored (XDG spec): back to ~/.config.
    expect(load({ rpcUrl: [RPC] }, { HOME: home, XDG_CONFIG_HOME: "rel" }).operators).toEqual([A]);
    // None there: no config file, no error.
    const empty = load({ rpcUrl: [RPC] }, { HOME: dir() });
    expect(empty.configFile).toBeUndefined();
    expect(empty.operators).toEqual([]);
  });

  it("--config and KEEPCTL_CONFIG still come first; unknown keys in the default file are still errors", () => {
    const home = dir({ ".config/keepctl/config.json": { operators: [A] }, "other.json": { operators: [C] } });
    expect(load({ rpcUrl: [RPC], config: path.join(home, "other.json") }, { HOME: home }).operators).toEqual([C]);
    expect(load({ rpcUrl: [RPC] }, { HOME: home, KEEPCTL_CONFIG: path.join(home, "other.json") }).operators).toEqual([C]);
    const bad = dir({ ".config/keepctl/config.json": { operatorz: [A] } });
    const e = thrown(() => load({ rpcUrl: [RPC] }, { HOME: bad }));
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toContain(path.join(bad, ".config", "keepctl", "config.json"));
    expect(e.message).toContain("operatorz");
  });
});

describe("ETH_RPC_URL (foundry's variable): below our own names, above the config file", () => {
  const ETH = "http://127.0.0.1:9001";
  const OWN = "http://127.0.0.1:9002";
  const FILE = "http://127.0.0.1:9003";
  const FLAG = "http://127.0.0.1:9004";
  const withFile = () => dir({ "c.json": { rpcUrls: [FILE] } });

  it("is used when nothing of ours names an endpoint, and `keepctl config` says where it came from", () => {
    const cfg = load({}, { ETH_RPC_URL: ETH });
    expect(cfg.rpcUrls).toEqual([ETH]);
    expect(cfg.sources.rpcUrls).toBe("env");
    expect(cfg.origins.rpcUrls).toBe("ETH_RPC_URL");
  });

  it("order: --rpc-url > KEEPCTL_RPC_URLS / KEEPCTL_RPC_URL / KEEPCTL_RPC_URLS_FILE > ETH_RPC_URL > config file > preset", () => {
    const cwd = withFile();
    const config = path.join(cwd, "c.json");
    expect(load({ config }, { ETH_RPC_URL: ETH }, cwd).rpcUrls).toEqual([ETH]);
    expect(load({ config }, {}, cwd).rpcUrls).toEqual([FILE]);
    expect(load({ config }, { ETH_RPC_URL: ETH, KEEPCTL_RPC_URL: OWN }, cwd).rpcUrls).toEqual([OWN]);
    expect(load({ config }, { ETH_RPC_URL: ETH, KEEPCTL_RPC_URLS: OWN }, cwd).rpcUrls).toEqual([OWN]);
    expect(load({ config, rpcUrl: [FLAG] }, { ETH_RPC_URL: ETH, KEEPCTL_RPC_URLS: OWN }, cwd).rpcUrls).toEqual([FLAG]);
    // the devnet preset's endpoint is the lowest layer of all
    expect(load({ network: "devnet" }, { ETH_RPC_URL: ETH }).rpcUrls).toEqual([ETH]);
    expect(load({ network: "devnet" }, {}).rpcUrls).toEqual([RPC]);
  });

  it("a KEEPCTL_RPC_URLS_FILE outranks it without the same-layer conflict our own names get", () => {
    const cwd = dir({ urls: `${OWN}\n` });
    const file = path.join(cwd, "urls");
    expect(load({}, { ETH_RPC_URL: ETH, KEEPCTL_RPC_URLS_FILE: file }, cwd).rpcUrls).toEqual([OWN]);
    expect(thrown(() => load({}, { KEEPCTL_RPC_URL: ETH, KEEPCTL_RPC_URLS_FILE: file }, cwd))).toBeInstanceOf(UsageError);
  });

  it("is validated like ours, and never echoed (it often carries an API key)", () => {
    const e = thrown(() => load({}, { ETH_RPC_URL: "tcp://secret-key@node.example/abc" }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toBe("invalid URL (must start with http://, https://, ws:// or wss://) (from ETH_RPC_URL)");
  });
});

describe("colorMode: FORCE_COLOR as Node and chalk read it, then NO_COLOR", () => {
  it("FORCE_COLOR=0/false: never; any other value, empty included: always, even over NO_COLOR", () => {
    expect(colorMode({})).toBe("auto");
    expect(colorMode({ NO_COLOR: "1" })).toBe("never");
    expect(colorMode({ NO_COLOR: "" })).toBe("auto");
    for (const v of ["1", "2", "3", "true", ""]) expect(colorMode({ FORCE_COLOR: v, NO_COLOR: "1" })).toBe("always");
    for (const v of ["0", "false"]) expect(colorMode({ FORCE_COLOR: v })).toBe("never");
  });
});
