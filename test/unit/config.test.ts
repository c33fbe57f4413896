import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SETTINGS, defineSetting, loadConfig, parseInteger, requireContract, requireOperators, settingOf } from "../../src/lib/config";
import { ConfigError, ExitCode, UsageError } from "../../src/lib/errors";
import { MAINNET_CONTRACTS, MAINNET_START_BLOCK, devnetDeploymentPath } from "../../src/lib/presets";
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
    expect(cfg.logChunkSize).toBe(5000);
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
    const cwd = dir({ "dep.json": { chainId: 31337, rpcUrl: RPC, contracts: { TBTCSystem: A, TBTCToken: B }, operators: [C], deploymentBlock: 7, accounts: ["x"] } });
    const cfg = load({ deployment: path.join(cwd, "dep.json") }, {}, cwd);
    expect(cfg.chainId).toBe(31337);
    expect(cfg.rpcUrls).toEqual([RPC]);
    expect(cfg.contracts).toEqual({ TBTCSystem: A, TBTCToken: B });
    expect(cfg.operators).toEqual([C]);
    expect(cfg.startBlock).toBe(7);
    expect(cfg.network).toBe("custom");
    expect(cfg.sources.chainId).toBe("deployment");
    expect(cfg.origins.startBlock).toBe('deployment file key "deploymentBlock"');
    expect(cfg.deployment?.accounts).toEqual(["x"]);
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
    const cfg = load({ rpcUrl: [RPC] }, { KEEPCTL_CONTRACTS: `TBTCSystem=${A},Extra=${B}` });
    expect(cfg.contracts.TBTCSystem).toBe(A);
    expect(cfg.contracts.Extra).toBe(B);
    expect(cfg.contracts.TBTCToken).toBe(MAINNET_CONTRACTS.TBTCToken);
    expect(requireContract(cfg, "Extra")).toBe(B);
    expect(thrown(() => requireContract(cfg, "Nope"))).toBeInstanceOf(ConfigError);
  });

  it("lets another module add a setting with one entry", () => {
    defineSetting({ key: "testPollMs", flag: "poll", env: ["KEEPCTL_TEST_POLL_MS"], default: 1000, describe: "t", parse: parseInteger(0) });
    try {
      const cwd = dir({ "c.json": { testPollMs: 5 } });
      expect(settingOf<number>(load({ rpcUrl: [RPC] }), "testPollMs")).toBe(1000);
      expect(settingOf<number>(load({ rpcUrl: [RPC], config: "c.json" }, {}, cwd), "testPollMs")).toBe(5);
      expect(settingOf<number>(load({ rpcUrl: [RPC], config: "c.json" }, { KEEPCTL_TEST_POLL_MS: "7" }, cwd), "testPollMs")).toBe(7);
      expect(thrown(() => load({ rpcUrl: [RPC], poll: "x" })).message).toBe('expected a whole number, got "x" (from --poll)');
    } finally {
      SETTINGS.splice(SETTINGS.findIndex((s) => s.key === "testPollMs"), 1);
    }
  });

  it("warns about unknown config-file keys", () => {
    const cwd = dir({ "c.json": { operatorz: [A] } });
    expect(load({ rpcUrl: [RPC], config: "c.json" }, {}, cwd).warnings).toEqual(['config file: unknown key "operatorz" ignored']);
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
    expect(e.hint).toBe("pass --rpc-url or set KEEPCTL_RPC_URLS");
    const cwd = dir();
    expect(loadConfig({}, { KEEPCTL_DATA_DIR: cwd }, { cwd, requireRpc: false }).rpcUrls).toEqual([]);
  });

  it("rejects a malformed RPC URL without echoing it", () => {
    const e = thrown(() => load({}, { KEEPCTL_RPC_URLS: "ftp://SECRET.example/key" }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toBe("invalid URL (must start with http:// or https://) (from KEEPCTL_RPC_URLS)");
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
    expect(e.message).toBe("no operator given: pass --operator ADDR or set KEEPCTL_OPERATORS");
    expect(requireOperators({ operators: [A] })).toEqual([A]);
  });

  it("registers RPC URLs with API keys as secrets", () => {
    load({ rpcUrl: ["https://mainnet.example/v3/K3Y5ECRETVALUE"] });
    const text = redact("request to https://mainnet.example/v3/K3Y5ECRETVALUE failed; raw K3Y5ECRETVALUE https://mainnet.example/v3/K3Y5ECRETVALUE");
    expect(text).not.toContain("K3Y5ECRETVALUE");
  });
});
