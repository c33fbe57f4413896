import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  closestName, defaultConfigFile, displayValues, parseAddress, parseAddressList, parseBoolean, parseContracts,
  parseDecimal18, parseHttpUrl, parseRpcUrl, parseRpcUrls, parseInteger, parseList, parseNumber,
} from "../../src/lib/config";

// The value parsers behind every setting, judged against the rules docs/configuration.md states
// (plain digits, no exponent or sign, http(s) URLs only, at most 18 decimals, ...). Each bad input
// must give the one-line message that says what to fix.
const err = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected a throw");
};
const LOWER = "0x52908400098527886e0f7030069857d2e4169ee7";
const CHECKSUM = "0x52908400098527886E0F7030069857D2E4169EE7"; // EIP-55's own test vector

describe("scalars and lists", () => {
  it("takes numbers and booleans as text, refuses objects, lists and empty text", () => {
    expect(parseList(5)).toEqual(["5"]);
    expect(parseList(true)).toEqual(["true"]);
    expect(err(() => parseList({}))).toBe("expected a single value, got object");
    expect(err(() => parseList([["x"]]))).toBe("expected a single value, got a list");
    expect(err(() => parseList("  "))).toBe("empty value");
  });
  it("splits on commas and whitespace, flattens JSON arrays, refuses empty items", () => {
    expect(parseList("a, b c")).toEqual(["a", "b", "c"]);
    expect(parseList(["a,b", "c"])).toEqual(["a", "b", "c"]);
    expect(err(() => parseList("a,,b"))).toBe('empty item in list "a,,b"');
  });
});

describe("addresses", () => {
  it("checksums a valid address (EIP-55 vector) and names a bad one", () => {
    expect(parseAddress(LOWER)).toBe(CHECKSUM);
    expect(err(() => parseAddress("0x12"))).toBe('invalid address "0x12"');
  });
  it("in a list, names the bad item; when the value holds a secret, shows the whole value redacted", () => {
    expect(err(() => parseAddressList(`${LOWER},0x12`))).toBe('invalid address "0x12"');
    const mnemonic = "abandon ability able about above absent absorb abstract absurd abuse access accident";
    const m = err(() => parseAddressList(mnemonic));
    expect(m).toBe('invalid address "***"');
    expect(err(() => parseAddressList([mnemonic]))).toBe('invalid address "***"');
  });
});

describe("whole and decimal numbers", () => {
  const int = parseInteger(1, 10);
  it("accepts plain digits within the bounds, bounds included", () => {
    expect(int("1")).toBe(1);
    expect(int("10")).toBe(10);
    expect(int(7)).toBe(7);
  });
  it("refuses signs, spaces, hex, exponents, fractions", () => {
    for (const bad of [" 12", "0x8", "1e1", "2.0", "+1", "-1"]) expect(err(() => int(bad))).toBe(`expected a whole number, got "${bad}"`);
    expect(err(() => int(2.5))).toBe('expected a whole number, got "2.5"');
  });
  it("says the bounds when out of them", () => {
    expect(err(() => int("0"))).toBe("must be between 1 and 10, got 0");
    expect(err(() => int("11"))).toBe("must be between 1 and 10, got 11");
    expect(parseInteger(0)("9007199254740991")).toBe(Number.MAX_SAFE_INTEGER);
  });
  const num = parseNumber(1, 100);
  it("decimals: digits with an optional fraction, bounds included", () => {
    expect(num("12.5")).toBe(12.5);
    expect(num("100")).toBe(100);
    expect(num("1")).toBe(1);
    expect(num(2.5)).toBe(2.5);
    for (const bad of ["-1", "1e2", ".5", "5.", "0x10", "1,5"]) expect(err(() => num(bad))).toBe(`expected a decimal number, got "${bad}"`);
    expect(err(() => num(Number.POSITIVE_INFINITY))).toBe('expected a decimal number, got "Infinity"');
    expect(err(() => num("100.5"))).toBe("must be between 1 and 100, got 100.5");
    expect(err(() => num("0.5"))).toBe("must be between 1 and 100, got 0.5");
  });
  it("18-decimal amounts: at most 18 places; below one when asked", () => {
    expect(parseDecimal18(false)("1.5")).toBe("1.5");
    expect(parseDecimal18(false)("0." + "1".repeat(18))).toBe("0." + "1".repeat(18));
    expect(err(() => parseDecimal18(false)("0." + "1".repeat(19)))).toBe(`expected a decimal number with at most 18 places, got "0.${"1".repeat(19)}"`);
    expect(err(() => parseDecimal18(false)("1."))).toBe('expected a decimal number with at most 18 places, got "1."');
    expect(err(() => parseDecimal18(false)("x1.5"))).toMatch(/^expected a decimal number/);
    expect(err(() => parseDecimal18(false)("1.5x"))).toMatch(/^expected a decimal number/);
    const below = parseDecimal18(true);
    expect(below("0.98")).toBe("0.98");
    expect(below("0")).toBe("0");
    expect(below("00.5")).toBe("00.5");
    expect(err(() => below("1"))).toBe("must be at least 0 and below 1, got 1");
    expect(err(() => below("1.0"))).toBe("must be at least 0 and below 1, got 1.0");
    expect(err(() => below("10.5"))).toBe("must be at least 0 and below 1, got 10.5");
  });
});

describe("booleans", () => {
  it("true/yes/1 and false/no/0 in any case; nothing else", () => {
    expect(parseBoolean(true)).toBe(true);
    expect(parseBoolean(false)).toBe(false);
    for (const t of ["1", "true", "TRUE", "Yes"]) expect(parseBoolean(t)).toBe(true);
    for (const f of ["0", "false", "False", "NO"]) expect(parseBoolean(f)).toBe(false);
    for (const bad of ["yess", "xtrue", "true1", "nope", "0no", "2"]) expect(err(() => parseBoolean(bad))).toBe(`expected true or false, got "${bad}"`);
  });
});

describe("URLs and contracts", () => {
  it("http and https only, no spaces; never echoes the value (it may hold an API key)", () => {
    expect(parseHttpUrl("https://eth.example/v3/KEY")).toBe("https://eth.example/v3/KEY");
    for (const bad of ["ws://eth.example", "eth.example", "https://eth .example/KEYKEY", "ftp://x"]) {
      const m = err(() => parseHttpUrl(bad));
      expect(m).toBe("invalid URL (must start with http:// or https://)");
    }
  });
  it("RPC URLs: http, https, ws and wss, with a host and no spaces; never echoed", () => {
    for (const good of ["https://eth.example/v3/KEY", "http://127.0.0.1:8545", "ws://127.0.0.1:8545", "wss://u:p@eth.example/ws/v3/KEY?x=1"]) expect(parseRpcUrl(good)).toBe(good);
    for (const bad of ["ws://", "wss:// eth.example/KEYKEY", "eth.example", "tcp://eth.example", "ftp://x", "wss://eth.example/KEY x"]) {
      expect(err(() => parseRpcUrl(bad))).toBe("invalid URL (must start with http://, https://, ws:// or wss://)");
    }
    expect(parseRpcUrls("http://a.example, wss://b.example/KEY")).toEqual(["http://a.example", "wss://b.example/KEY"]);
  });
  it("contracts from JSON, from Name=0x.. lists, or as an object; each address checked", () => {
    expect(parseContracts(`{"TBTCSystem":"${LOWER}"}`)).toEqual({ TBTCSystem: CHECKSUM });
    expect(parseContracts(` TBTCSystem=${LOWER}, x-Other=${LOWER}`)).toEqual({ TBTCSystem: CHECKSUM, "x-Other": CHECKSUM });
    expect(parseContracts({ RateSetter: LOWER })).toEqual({ RateSetter: CHECKSUM });
    expect(err(() => parseContracts("{bad"))).toBe("contracts: not valid JSON");
    expect(err(() => parseContracts("TBTCSystem"))).toBe('contracts: expected Name=0x..., got "TBTCSystem"');
    expect(err(() => parseContracts(`=${LOWER}`))).toBe(`contracts: expected Name=0x..., got "=${LOWER}"`);
    expect(err(() => parseContracts(`A=${LOWER}=x`))).toBe(`contracts: expected Name=0x..., got "A=${LOWER}=x"`);
    expect(err(() => parseContracts([LOWER]))).toBe("contracts must map names to addresses");
    expect(err(() => parseContracts(7))).toBe("contracts must map names to addresses");
    expect(err(() => parseContracts(null))).toBe("contracts must map names to addresses");
    expect(err(() => parseContracts({ Multicall3: "0x12" }))).toBe('invalid address "0x12" for contract Multicall3');
  });
});

describe("default config file and names", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-cfgp-"));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const put = (file: string) => { fs.mkdirSync(path.dirname(file), { recursive: true }); fs.writeFileSync(file, "{}"); return file; };
  it("an absolute XDG_CONFIG_HOME first, else ~/.config; none when the file is missing or there is no home", () => {
    const xdg = path.join(tmp, "xdg");
    const home = path.join(tmp, "home");
    const inHome = put(path.join(home, ".config", "keepctl", "config.json"));
    expect(defaultConfigFile({ HOME: home })).toBe(inHome);
    expect(defaultConfigFile({ HOME: home, XDG_CONFIG_HOME: "relative/xdg" })).toBe(inHome);
    expect(defaultConfigFile({ HOME: home, XDG_CONFIG_HOME: xdg })).toBeUndefined(); // XDG set, no file there
    const inXdg = put(path.join(xdg, "keepctl", "config.json"));
    expect(defaultConfigFile({ HOME: home, XDG_CONFIG_HOME: xdg })).toBe(inXdg);
    expect(defaultConfigFile({})).toBeUndefined();
  });
  it("suggests a known name only within a typo's distance", () => {
    const known = ["KEEPCTL_RPC_URL", "KEEPCTL_OPERATORS", "KEEPCTL_MAX_FEE_GWEI"];
    expect(closestName("KEEPCTL_RPC_ULR", known)).toBe("KEEPCTL_RPC_URL");
    expect(closestName("keepctl_operators", known)).toBe("KEEPCTL_OPERATORS");
    expect(closestName("SOMETHING_ELSE_ENTIRELY", known)).toBeUndefined();
    expect(closestName("ab", ["cd"])).toBe("cd"); // 2 edits: always within the floor of 2
    expect(closestName("abc", ["xyz"])).toBeUndefined();
  });
  it("shows URL settings as their origin, other secrets as ***, unset ones as null", () => {
    const shown = displayValues({ values: { rpcUrls: ["https://eth.example/v3/KEY123KEY"], privateKey: "0x" + "ab".repeat(32), operators: [CHECKSUM] } });
    expect(shown.rpcUrls).toEqual(["https://eth.example/***"]);
    expect(shown.privateKey).toBe("***");
    expect(shown.operators).toEqual([CHECKSUM]);
    expect(shown.keystore).toBeNull();
    expect(JSON.stringify(shown)).not.toContain("KEY123KEY");
  });
});
