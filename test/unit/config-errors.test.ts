import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/lib/config";
import { ConfigError, UsageError } from "../../src/lib/errors";
import { redact } from "../../src/lib/redact";

// loadConfig's refusals: each names the file or variable at fault (its origin) and says what to
// do in its hint, the two lines an operator reads. Expected texts are the ones
// docs/configuration.md promises, written out here.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-cfge-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
function dir(files: Record<string, string> = {}): string {
  const d = path.join(tmp, String(n++));
  fs.mkdirSync(d, { recursive: true });
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(d, name), content);
  return d;
}
const RPC = "http://127.0.0.1:8545";
function load(flags: Record<string, unknown>, env: Record<string, string> = {}, cwd = dir()) {
  return loadConfig({ rpcUrl: [RPC], ...flags }, { KEEPCTL_DATA_DIR: path.join(cwd, "data"), ...env }, { cwd });
}
function refusal(fn: () => unknown): ConfigError | UsageError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError || e instanceof UsageError) return e;
    throw e;
  }
  throw new Error("expected a refusal");
}

describe("config file", () => {
  it("a missing file: its path and the errno, with the hint to fix --config", () => {
    const d = dir();
    const e = refusal(() => load({ config: "nope.json" }, {}, d));
    expect(e.message).toBe(`cannot read config file ${path.join(d, "nope.json")}: ENOENT`);
    expect(e.hint).toBe("fix the path given by --config / KEEPCTL_CONFIG");
  });
  for (const [label, text, why] of [
    ["a JSON array", "[]", "not a JSON object"],
    ["JSON null", "null", "not a JSON object"],
    ["a JSON number", "5", "not a JSON object"],
    ["a JSON string", '"x"', "not a JSON object"],
  ] as const) {
    it(`${label} is not a config object`, () => {
      const d = dir({ "c.json": text });
      const e = refusal(() => load({ config: "c.json" }, {}, d));
      expect(e.message).toBe(`config file ${path.join(d, "c.json")} is not a valid JSON object: ${why}`);
      expect(e.hint).toBe("fix the path given by --config / KEEPCTL_CONFIG");
    });
  }
  it("an empty object is a valid (empty) config", () => {
    const d = dir({ "c.json": "{}" });
    expect(load({ config: "c.json" }, {}, d).configFile).toBe(path.join(d, "c.json"));
  });
  it("privateKey is refused in a file, with the keystore hint; an unknown key gets a suggestion", () => {
    const d = dir({ "k.json": JSON.stringify({ privateKey: "0x" + "11".repeat(32) }), "u.json": JSON.stringify({ operatorz: [] }) });
    const e = refusal(() => load({ config: "k.json" }, {}, d));
    expect(e.message).toBe(`config file ${path.join(d, "k.json")}: "privateKey" is not allowed in a config file`);
    expect(e.hint).toBe("use a keystore (keystore + passwordFile), or KEEPCTL_PRIVATE_KEY in CI");
    const u = refusal(() => load({ config: "u.json" }, {}, d));
    expect(u.message).toBe(`unknown key in config file ${path.join(d, "u.json")}: "operatorz" (did you mean "operators"?)`);
    expect(u.hint).toBe("fix or remove it; docs/configuration.md lists every key");
  });
  it("KEEPCTL_CONFIG is named as the origin of an empty value", () => {
    const e = refusal(() => load({}, { KEEPCTL_CONFIG: "" }));
    expect(e.message).toMatch(/KEEPCTL_CONFIG/);
  });
});

describe("environment and .env", () => {
  it("an unknown KEEPCTL_ variable is refused with a suggestion and where it was found", () => {
    const e = refusal(() => load({}, { KEEPCTL_OPERATOR: "x" }));
    expect(e.message).toBe('unknown environment variable "KEEPCTL_OPERATOR" (did you mean "KEEPCTL_OPERATORS"?)');
    expect(e.hint).toBe("fix or unset it; docs/configuration.md lists every KEEPCTL_ variable");
    const d = dir({ ".env": "KEEPCTL_OPERATOR=x\n" });
    const f = refusal(() => load({}, {}, d));
    expect(f.message).toBe('unknown variable in .env "KEEPCTL_OPERATOR" (did you mean "KEEPCTL_OPERATORS"?)');
    // other programs' variables are not ours to judge
    expect(() => load({}, { OTHER_THING: "x", KEEPCTLX: "y" })).not.toThrow();
  });
  it("a bad value names its origin: the variable, or the variable in .env (the environment wins over .env)", () => {
    const d = dir({ ".env": "KEEPCTL_RPC_TIMEOUT_MS=abc\n" });
    expect(refusal(() => load({}, {}, d)).message).toBe('expected a whole number, got "abc" (from KEEPCTL_RPC_TIMEOUT_MS in .env)');
    expect(refusal(() => load({}, { KEEPCTL_RPC_TIMEOUT_MS: "xyz" }, d)).message).toBe('expected a whole number, got "xyz" (from KEEPCTL_RPC_TIMEOUT_MS)');
    expect(load({}, { KEEPCTL_RPC_TIMEOUT_MS: "2000" }, d).values.rpcTimeoutMs).toBe(2000);
  });
});

describe("file forms (*_FILE, --*-file)", () => {
  it("an empty file holds no value; two lines where one is expected; a missing file", () => {
    const d = dir({ "empty.txt": "# only a comment\n\n", "two.txt": "a\nb\n", "rpc.txt": `${RPC}\n# backup\nhttp://127.0.0.1:8546\n` });
    const e = refusal(() => load({}, { KEEPCTL_PAGERDUTY_ROUTING_KEY_FILE: path.join(d, "empty.txt") }, d));
    expect(e.message).toMatch(/holds no value$/);
    expect(e.hint).toBe("put one value per line in the file");
    const t = refusal(() => load({}, { KEEPCTL_PAGERDUTY_ROUTING_KEY_FILE: path.join(d, "two.txt") }, d));
    expect(t.message).toMatch(/holds 2 lines, expected one value$/);
    expect(t.hint).toBe("put exactly one value in the file");
    const m = refusal(() => load({}, { KEEPCTL_PAGERDUTY_ROUTING_KEY_FILE: path.join(d, "missing.txt") }, d));
    expect(m.message).toMatch(/^cannot read .*: ENOENT$/);
    expect(m.hint).toBe("give a readable file with one value per line");
    // a list form takes every non-comment line, trimmed
    expect(loadConfig({ rpcUrlFile: path.join(d, "rpc.txt") }, { KEEPCTL_DATA_DIR: path.join(d, "data") }, { cwd: d }).values.rpcUrls)
      .toEqual([RPC, "http://127.0.0.1:8546"]);
  });
  it("an empty --rpc-url-file value is a usage error naming the flag", () => {
    const e = refusal(() => loadConfig({ rpcUrlFile: "" }, {}, { cwd: dir() }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toBe("empty value (from --rpc-url-file)");
  });
});

describe("secrets from the configuration are registered for redaction", () => {
  it("an RPC URL's key parts are masked in any later message, a plain local URL is left readable", () => {
    load({ rpcUrl: ["https://eth.example/v3/Zq81KeyPart77x"] });
    expect(redact("provider said: bad key Zq81KeyPart77x")).toBe("provider said: bad key ***");
    load({ rpcUrl: [RPC] });
    expect(redact(`connect ${RPC} refused`)).toBe(`connect ${RPC} refused`);
  });
});
