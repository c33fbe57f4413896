import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { getAddress, hexlify, randomBytes } from "ethers";
import { loadConfig, parseContracts } from "../../src/lib/config";
import { ConfigError, ExitCode, UsageError, type KeepctlError } from "../../src/lib/errors";
import { findDuplicateKey, objectKeys } from "../../src/lib/json-keys";
import { DEPLOYMENT_SECTIONS, validateDeployment } from "../../src/lib/deployment-schema";
import { CONTRACT_NAMES_READ, KNOWN_CONTRACT_NAMES } from "../../src/lib/contract-names";

/** No silent guess in config: duplicates, unknown names, the deployment schema and its size cap, the operators file. */
const A = "0x1111111111111111111111111111111111111111";
const B = "0x2222222222222222222222222222222222222222";
const RPC = "http://127.0.0.1:8545";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-strict-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
function dir(files: Record<string, string> = {}): string {
  const d = path.join(tmp, String(n++));
  fs.mkdirSync(d, { recursive: true });
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(d, name), text);
  return d;
}
const load = (flags: Record<string, unknown>, env: Record<string, string> = {}, cwd = dir()) =>
  loadConfig({ rpcUrl: [RPC], ...flags }, { KEEPCTL_DATA_DIR: path.join(cwd, "data"), ...env }, { cwd });
function thrown(fn: () => unknown): KeepctlError {
  try {
    fn();
  } catch (e) {
    return e as KeepctlError;
  }
  throw new Error("did not throw");
}
const err = (fn: () => unknown) => (thrown(fn) as Error).message;

describe("json-keys: what JSON.parse silently drops", () => {
  it("lists every object's keys with the raw values, duplicates included, at any depth", () => {
    const text = '{"a": 1, "b": {"c": "x", "c": [1, {"d": true}]}, "a": "two\\"q"}';
    expect(objectKeys(text)).toEqual([
      { path: [], keys: [{ key: "a", value: "1" }, { key: "b", value: "{…}" }, { key: "a", value: 'two"q' }] },
      { path: ["b"], keys: [{ key: "c", value: "x" }, { key: "c", value: "[…]" }] },
      { path: ["b", "c", "1"], keys: [{ key: "d", value: "true" }] },
    ]);
    expect(findDuplicateKey(text)).toEqual({ path: [], first: { key: "a", value: "1" }, second: { key: "a", value: 'two"q' } });
    expect(findDuplicateKey('{"a": 1, "b": {"c": "x", "c": 2}}')).toEqual({ path: ["b"], first: { key: "c", value: "x" }, second: { key: "c", value: "2" } });
  });

  it("folds case only where asked; escaped keys are compared decoded; empty objects and arrays are fine", () => {
    expect(findDuplicateKey('{"X": 1, "x": 2}')).toBeUndefined();
    expect(findDuplicateKey('{"X": 1, "x": 2}', (p) => p.length === 0)).toEqual({ path: [], first: { key: "X", value: "1" }, second: { key: "x", value: "2" } });
    expect(findDuplicateKey('{"\\u0041": 1, "A": 2}')?.second.key).toBe("A");
    expect(findDuplicateKey('{"a": {}, "b": [], "c": [[], {}], "d": null}')).toBeUndefined();
    expect(findDuplicateKey(' [ {"k": 1} , {"k": 2} ] ')).toBeUndefined();
  });

  it("cuts a long value to 80 characters", () => {
    const long = "y".repeat(100);
    expect(objectKeys(`{"k": "${long}"}`)[0].keys[0].value).toBe(`${"y".repeat(80)}…`);
  });
});

describe("contract names: duplicates and unknown names are refused", () => {
  it("a name given twice, in the list or the JSON form, in any case: both values named", () => {
    expect(err(() => parseContracts(`TBTCSystem=${A},TBTCSystem=${B}`))).toBe(`contract "TBTCSystem" given twice: ${A} and ${B}; give each name once`);
    expect(err(() => parseContracts(`TBTCSystem=${A},tbtcsystem=${B}`))).toBe(`contract "TBTCSystem" and "tbtcsystem" given twice: ${A} and ${B}; give each name once`);
    expect(err(() => parseContracts(`{"TBTCSystem": "${A}", "TBTCSystem": "${B}"}`))).toBe(`contract "TBTCSystem" given twice: ${A} and ${B}; give each name once`);
    expect(err(() => parseContracts(`{"TBTCSystem": "${A}", "TBTCSYSTEM": "0x80"}`))).toBe(`contract "TBTCSystem" and "TBTCSYSTEM" given twice: ${A} and 0x80; give each name once`);
    expect(err(() => parseContracts({ VendingMachine: A, vendingmachine: B }))).toMatch(/given twice/);
    // The duplicate is the news even when the second address is also wrong.
    expect(err(() => parseContracts(`TBTCSystem=${A},TBTCSystem=0x80`))).toMatch(/given twice/);
  });

  it("an unknown name (a typo, another case) names the closest known one; x- names are the user's own", () => {
    expect(err(() => parseContracts(`TBTCSytem=${A}`))).toBe('unknown contract name "TBTCSytem" (did you mean "TBTCSystem"?); names of your own must start with "x-"');
    expect(err(() => parseContracts(`tbtcsystem=${A}`))).toMatch(/did you mean "TBTCSystem"/);
    expect(err(() => parseContracts({ Vault: A }))).toBe('unknown contract name "Vault"; names of your own must start with "x-"');
    expect(parseContracts(`x-MyVault=${A.toLowerCase()}`)).toEqual({ "x-MyVault": A });
  });

  it("every name the code reads is known, and the list has no duplicate (in any case)", () => {
    for (const name of ["TBTCSystem", "TBTCToken", "VendingMachine", "TBTCDepositToken", "DepositFactory", "BondedECDSAKeepFactory", "RateSetter", "ExpiringMultiParty", "Multicall3"]) {
      expect(CONTRACT_NAMES_READ).toContain(name);
    }
    expect(new Set(KNOWN_CONTRACT_NAMES.map((x) => x.toLowerCase())).size).toBe(KNOWN_CONTRACT_NAMES.length);
  });

  it("KEEPCTL_CONTRACTS: exit 2 (usage); the same in a deployment file: exit 3", () => {
    const e = thrown(() => load({}, { KEEPCTL_CONTRACTS: `TBTCSystem=${A},TBTCSystem=${B}` }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toBe(`contract "TBTCSystem" given twice: ${A} and ${B}; give each name once (from KEEPCTL_CONTRACTS)`);
    const d = dir({ "dep.json": JSON.stringify({ chainId: 31337, contracts: { TBTCSytem: A } }) });
    const f = thrown(() => load({ deployment: path.join(d, "dep.json") }));
    expect(f).toBeInstanceOf(ConfigError);
    expect(f.message).toMatch(/^unknown contract name "TBTCSytem" \(did you mean "TBTCSystem"\?\).*\(from deployment file key "contracts"\)$/);
  });
});

describe("deployment files: a schema and a size cap", () => {
  const dep = (doc: unknown) => {
    const d = dir({ "dep.json": typeof doc === "string" ? doc : JSON.stringify(doc) });
    return path.join(d, "dep.json");
  };

  it("an unknown key is refused with the closest known one; x- keys are the user's own", () => {
    const file = dep({ chainId: 31337, deploymentBlok: 7, contracts: {} });
    const e = thrown(() => load({ deployment: file }));
    expect(e.exitCode).toBe(ExitCode.CONFIG);
    expect(e.message).toBe(`deployment file ${file}: unknown key "deploymentBlok" (did you mean "deploymentBlock"?)`);
    expect(e.hint).toMatch(/keys of your own must start with "x-"/);
    const ok = load({ deployment: dep({ chainId: 31337, contracts: {}, "x-notes": { anything: [1] } }) });
    expect(ok.deployment?.["x-notes"]).toEqual({ anything: [1] });
  });

  it("bitcoin is an object of known fields (network, electrumUrls, esploraUrls), each of its type", () => {
    expect(() => validateDeployment({ bitcoin: { network: "testnet", electrumUrls: ["tcp://a:1"], esploraUrls: [], "x-why": 1 } }, "f")).not.toThrow();
    expect(err(() => validateDeployment({ bitcoin: "testnet" }, "f"))).toMatch(/^deployment file f: "bitcoin" must be an object/);
    expect(err(() => validateDeployment({ bitcoin: { netwrok: "x" } }, "f"))).toBe('deployment file f: unknown key "bitcoin.netwrok" (did you mean "bitcoin.network"?)');
    expect(err(() => validateDeployment({ bitcoin: { electrumUrls: "tcp://a:1" } }, "f"))).toBe('deployment file f: "bitcoin.electrumUrls" must be a list of strings');
    expect(err(() => validateDeployment({ bitcoin: { network: 3 } }, "f"))).toBe('deployment file f: "bitcoin.network" must be a string');
  });

  it("what `keepctl devnet` writes is inside the schema", () => {
    for (const k of ["network", "chainId", "rpcUrl", "contracts", "operators", "deploymentBlock", "ethBtc", "operatorAccountIndexes", "deployer", "deposits", "subgraphUrl", "rai", "emp"]) expect(DEPLOYMENT_SECTIONS).toHaveProperty(k);
  });

  it("a key given twice anywhere is refused (contract names in any case), naming both values for contracts", () => {
    const e = thrown(() => load({ deployment: dep(`{"chainId": 31337, "contracts": {"TBTCSystem": "${A}", "tbtcSystem": "${B}"}}`) }));
    expect(e.code).toBe("DUPLICATE_KEY");
    expect(e.message).toMatch(new RegExp(`key "contracts.TBTCSystem" and "contracts.tbtcSystem" given twice: ${A} and ${B}$`));
    const top = thrown(() => load({ deployment: dep('{"chainId": 31337, "deploymentBlock": 1, "deploymentBlock": 2}') }));
    expect(top.message).toMatch(/key "deploymentBlock" given twice$/);
    expect(top.exitCode).toBe(ExitCode.CONFIG);
  });

  it("the same checks hold for the config file (duplicates), whose own keys were already strict", () => {
    const d = dir({ "c.json": '{"interval": 5, "interval": 6}' });
    const e = thrown(() => load({ config: path.join(d, "c.json") }));
    expect(e.message).toMatch(/config file .*c\.json: key "interval" given twice$/);
  });

  it("a file over 1 MiB is refused before it is parsed: exit 3", () => {
    const file = dep(`{"chainId": 31337, "x-pad": "${"a".repeat(1024 * 1024)}"}`);
    const e = thrown(() => load({ deployment: file }));
    expect(e.code).toBe("FILE_TOO_BIG");
    expect(e.exitCode).toBe(ExitCode.CONFIG);
    expect(e.message).toBe(`deployment file ${file} is ${fs.statSync(file).size} bytes, over the 1 MiB cap: not a deployment file`);
    // exactly 1 MiB is still read
    const edge = `{"chainId": 31337, "x-pad": "`;
    const at = dep(`${edge}${"a".repeat(1024 * 1024 - edge.length - 2)}"}`);
    expect(fs.statSync(at).size).toBe(1024 * 1024);
    expect(load({ deployment: at }).chainId).toBe(31337);
  });
});

describe("--operators-file / KEEPCTL_OPERATORS_FILE", () => {
  it("one address a line, # comments (whole-line and trailing), blank lines; 10,000 lines", () => {
    const addrs = Array.from({ length: 10_000 }, () => getAddress(hexlify(randomBytes(20))));
    const text = ["# operators of the ops team", "", ...addrs.map((a, i) => (i % 3 === 0 ? `${a.toLowerCase()}  # node ${i}` : `  ${a}\r`)), ""].join("\n");
    const d = dir({ "ops.txt": text });
    const cfg = load({ operatorsFile: path.join(d, "ops.txt") });
    expect(cfg.operators).toEqual(addrs);
    expect(cfg.origins.operators).toBe(`--operators-file ${path.join(d, "ops.txt")}`);
    const viaEnv = load({}, { KEEPCTL_OPERATORS_FILE: path.join(d, "ops.txt") });
    expect(viaEnv.operators).toHaveLength(10_000);
  });

  it("a bad line names the file; the flag and its file form together are refused", () => {
    const d = dir({ "ops.txt": `${A}\nnot-an-address\n` });
    const e = thrown(() => load({ operatorsFile: path.join(d, "ops.txt") }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toBe(`invalid address "not-an-address" (from --operators-file ${path.join(d, "ops.txt")})`);
    expect(err(() => load({ operatorsFile: path.join(d, "ops.txt"), operator: [A] }))).toBe("--operator and --operators-file both given; pass only one");
    expect(err(() => load({}, { KEEPCTL_OPERATORS: A, KEEPCTL_OPERATORS_FILE: path.join(d, "ops.txt") }))).toBe("KEEPCTL_OPERATORS and KEEPCTL_OPERATORS_FILE both set; set only one");
    const empty = dir({ "ops.txt": "# nobody yet\n\n" });
    expect(thrown(() => load({ operatorsFile: path.join(empty, "ops.txt") })).exitCode).toBe(ExitCode.CONFIG);
  });
});

describe("the new settings", () => {
  it("--confirmations: auto (default) or a block count; --max-lag: blocks, default 3", () => {
    const cfg = load({});
    expect([cfg.signing.confirmations, cfg.rpc.maxLagBlocks]).toEqual(["auto", 3]);
    expect(load({ confirmations: "3", maxLag: "0" }).signing.confirmations).toBe(3);
    expect(load({}, { KEEPCTL_CONFIRMATIONS: "0", KEEPCTL_MAX_LAG: "10" }).rpc.maxLagBlocks).toBe(10);
    expect(err(() => load({ confirmations: "finalized" }))).toBe('expected a whole number, got "finalized"; or "auto" (from --confirmations)');
    expect(err(() => load({ confirmations: "10001" }))).toMatch(/must be between 0 and 10000/);
    expect(err(() => load({}, { KEEPCTL_MAX_LAG: "-1" }))).toMatch(/expected a whole number/);
  });
});
