import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { displayValues, knownEnvNames, loadConfig } from "../../src/lib/config";
import { ConfigError, UsageError } from "../../src/lib/errors";
import { electrumUrlFromParts, parseElectrumUrl, parseEsploraUrl } from "../../src/lib/btc/urls";
import { redact, redactUrl } from "../../src/lib/redact";

const RPC = "http://127.0.0.1:8545";
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-btc-config-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
function file(name: string, content: unknown): string {
  const d = path.join(tmp, String(n++));
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, name), typeof content === "string" ? content : JSON.stringify(content));
  return path.join(d, name);
}
function load(flags: Record<string, unknown>, env: Record<string, string> = {}) {
  const cwd = path.join(tmp, `cwd${n++}`);
  fs.mkdirSync(cwd, { recursive: true });
  return loadConfig({ rpcUrl: [RPC], ...flags }, { KEEPCTL_DATA_DIR: path.join(cwd, "data"), ...env }, { cwd });
}
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a throw");
}

describe("Electrum and Esplora URLs", () => {
  it("accepts the five Electrum forms; ssl:// is tls://; ws(s) keep their path and default ports", () => {
    expect(parseElectrumUrl("tcp://electrum.example:50001")).toMatchObject({ transport: "tcp", host: "electrum.example", port: 50001, insecure: false });
    expect(parseElectrumUrl("ssl://electrum.example:50002")).toMatchObject({ transport: "tls", port: 50002 });
    expect(parseElectrumUrl("tls://10.0.0.1:50002?insecure=1")).toMatchObject({ transport: "tls", host: "10.0.0.1", insecure: true });
    expect(parseElectrumUrl("tls://[::1]:50002")).toMatchObject({ host: "::1" });
    expect(parseElectrumUrl("wss://electrum.example/ws?key=abc&insecure=true")).toMatchObject({ transport: "wss", port: 443, insecure: true, wsUrl: "wss://electrum.example/ws?key=abc" });
    expect(parseElectrumUrl("ws://127.0.0.1:50003")).toMatchObject({ transport: "ws", port: 50003, wsUrl: "ws://127.0.0.1:50003/" });
  });

  it("refuses unknown schemes with the accepted list, missing ports, and meaningless parts — never echoing the URL", () => {
    const key = "k3yS3cr3tAbCdEf0123456789";
    const e = thrown(() => parseElectrumUrl(`https://electrum.example/${key}`));
    expect(e.message).toBe('unsupported Electrum URL scheme "https://" (accepted: tcp://, tls:// (or ssl://), ws://, wss://)');
    expect(thrown(() => parseElectrumUrl("tcp://electrum.example")).message).toMatch(/needs a port \(e\.g\. tcp:\/\/electrum\.example:50001\)/);
    expect(thrown(() => parseElectrumUrl(`tls://electrum.example:50002/${key}`)).message).toMatch(/host:port only/);
    expect(thrown(() => parseElectrumUrl("tcp://electrum.example:50001?insecure=1")).message).toMatch(/applies to tls:\/\/ and wss:\/\/ only/);
    expect(thrown(() => parseElectrumUrl("tls://electrum.example:50002?insecure=yes")).message).toMatch(/insecure= takes 1 or true/);
    expect(thrown(() => parseElectrumUrl("not a url")).message).toMatch(/^invalid Electrum server URL/);
    expect(thrown(() => parseEsploraUrl(`ftp://x/${key}`)).message).toBe("invalid Esplora URL (must start with http:// or https://)");
    expect(parseEsploraUrl("https://blockstream.info/api/").base).toBe("https://blockstream.info/api");
  });

  it("the seed's BTC_ELECTRUM_SERVER / _PORT / _PROTOCOL make one URL (protocol default tls)", () => {
    expect(electrumUrlFromParts("electrum.example", "50002", undefined)).toBe("tls://electrum.example:50002");
    expect(electrumUrlFromParts("electrum.example", "50001", "TCP")).toBe("tcp://electrum.example:50001");
    expect(electrumUrlFromParts("::1", "50004", "wss")).toBe("wss://[::1]:50004");
    expect(thrown(() => electrumUrlFromParts("electrum.example", undefined, "ssl")).message).toMatch(/needs BTC_ELECTRUM_PORT/);
    expect(thrown(() => electrumUrlFromParts("electrum.example", "70000", "ssl")).message).toMatch(/BTC_ELECTRUM_PORT must be a port number 1\.\.65535, got "70000"/);
    expect(thrown(() => electrumUrlFromParts("electrum.example", "1", "http")).message).toMatch(/BTC_ELECTRUM_PROTOCOL must be tcp, ssl, tls, ws or wss; got "http"/);
    expect(thrown(() => electrumUrlFromParts("tls://electrum.example", "1", "tls")).message).toMatch(/host name or IP address/);
  });

  it("URLs with credentials are cut to their origin, Electrum schemes included", () => {
    expect(redactUrl("wss://user:pw@electrum.example/k3yS3cr3tAbCdEf0123456789")).toBe("wss://electrum.example/***");
    expect(redactUrl("tls://electrum.example:50002?insecure=1")).toBe("tls://electrum.example:50002/***");
    expect(redactUrl("tcp://127.0.0.1:50001")).toBe("tcp://127.0.0.1:50001");
    expect(redact("failed at tls://user:s3cretpass@electrum.example:50002 now")).toBe("failed at tls://electrum.example:50002/*** now");
    expect(redact("see ssl://a:b@host:1 and tcp://x:y@host:2")).toBe("see ssl://host:1/*** and tcp://host:2/***");
  });
});

describe("the btc section", () => {
  it("defaults: mainnet on the mainnet preset, no servers, 15 s timeout, 2 attempts", () => {
    const cfg = load({});
    expect(cfg.btc).toEqual({ network: "mainnet", electrumUrls: [], esploraUrls: [], timeoutMs: 15000, retries: 2 });
    expect(cfg.sources.btcNetwork).toBe("preset");
  });

  it("a deployment file's bitcoin object, else testnet", () => {
    const dep = file("d.json", { chainId: 31337, bitcoin: { network: "regtest", electrumUrls: ["tcp://127.0.0.1:50001"], esploraUrls: ["http://127.0.0.1:3002/api"] } });
    const cfg = load({ deployment: dep });
    expect(cfg.btc).toMatchObject({ network: "regtest", electrumUrls: ["tcp://127.0.0.1:50001"], esploraUrls: ["http://127.0.0.1:3002/api"] });
    expect(cfg.origins.btcElectrumUrls).toBe('deployment file key "bitcoin.electrumUrls"');
    expect(load({ deployment: file("d.json", { chainId: 31337 }) }).btc.network).toBe("testnet");
  });

  it("flags beat env beats the file; lists split on commas; the file form reads one URL a line", () => {
    const env = { KEEPCTL_BTC_NETWORK: "signet", KEEPCTL_BTC_ELECTRUM_URLS: "tcp://a:1,tls://b:2", KEEPCTL_BTC_TIMEOUT_MS: "500", KEEPCTL_BTC_RETRIES: "4" };
    const cfg = load({}, env);
    expect(cfg.btc).toEqual({ network: "signet", electrumUrls: ["tcp://a:1", "tls://b:2"], esploraUrls: [], timeoutMs: 500, retries: 4 });
    const flagged = load({ btcNetwork: "regtest", btcElectrumUrl: ["ws://c:3"] }, env);
    expect([flagged.btc.network, flagged.btc.electrumUrls, flagged.sources.btcElectrumUrls]).toEqual(["regtest", ["ws://c:3"], "flag"]);
    const list = file("urls", "# primary\nwss://electrum.example/k3yS3cr3tAbCdEf0123456789\n\ntls://backup.example:50002\n");
    const fromFile = load({}, { KEEPCTL_BTC_ELECTRUM_URLS_FILE: list });
    expect(fromFile.btc.electrumUrls).toEqual(["wss://electrum.example/k3yS3cr3tAbCdEf0123456789", "tls://backup.example:50002"]);
    expect(fromFile.origins.btcElectrumUrls).toBe(`KEEPCTL_BTC_ELECTRUM_URLS_FILE=${list}`);
    // An Electrum URL on the Esplora list is refused, not tried as HTTP.
    expect(thrown(() => load({}, { KEEPCTL_BTC_ESPLORA_URLS_FILE: list })).message).toMatch(/^invalid Esplora URL \(must start with http:\/\/ or https:\/\/.*\) \(from KEEPCTL_BTC_ESPLORA_URLS_FILE=/);
    expect(thrown(() => load({}, { KEEPCTL_BTC_ELECTRUM_URLS: "tcp://a:1", KEEPCTL_BTC_ELECTRUM_URLS_FILE: list })).message).toBe("KEEPCTL_BTC_ELECTRUM_URLS and KEEPCTL_BTC_ELECTRUM_URLS_FILE both set; set only one");
  });

  it("the seed's three names make one Electrum URL, below KEEPCTL_BTC_ELECTRUM_URLS", () => {
    const seed = { BTC_ELECTRUM_SERVER: "electrum.example", BTC_ELECTRUM_PORT: "50002", BTC_ELECTRUM_PROTOCOL: "ssl" };
    const cfg = load({}, seed);
    expect(cfg.btc.electrumUrls).toEqual(["ssl://electrum.example:50002"]);
    expect(cfg.origins.btcElectrumUrls).toBe("BTC_ELECTRUM_SERVER");
    expect(load({}, { ...seed, KEEPCTL_BTC_ELECTRUM_URLS: "tcp://other:1" }).btc.electrumUrls).toEqual(["tcp://other:1"]);
    const lone = thrown(() => load({}, { BTC_ELECTRUM_PORT: "50002" }));
    expect(lone).toBeInstanceOf(UsageError);
    expect(lone.message).toBe("BTC_ELECTRUM_PORT is set but BTC_ELECTRUM_SERVER is not");
    expect(thrown(() => load({}, { BTC_ELECTRUM_SERVER: "electrum.example" })).message).toMatch(/needs BTC_ELECTRUM_PORT/);
  });

  it("bad values: exit 2 from flags and env, exit 3 from files, naming the origin", () => {
    const e1 = thrown(() => load({}, { KEEPCTL_BTC_NETWORK: "testnet3" }));
    expect(e1).toBeInstanceOf(UsageError);
    expect(e1.message).toBe('Bitcoin network must be mainnet, testnet, testnet4, signet, regtest; got "testnet3" (from KEEPCTL_BTC_NETWORK)');
    const e2 = thrown(() => load({ btcElectrumUrl: ["http://electrum.example:50001"] }));
    expect(e2).toBeInstanceOf(UsageError);
    expect(e2.message).toMatch(/^unsupported Electrum URL scheme "http:\/\/" \(accepted: .*\) \(from --btc-electrum-url\)$/);
    const e3 = thrown(() => load({ deployment: file("d.json", { chainId: 1, bitcoin: { network: "bitcoin" } }) }));
    expect(e3).toBeInstanceOf(ConfigError);
    expect(e3.message).toMatch(/\(from deployment file key "bitcoin\.network"\)$/);
    expect(thrown(() => load({ deployment: file("d.json", { chainId: 1, bitcoin: "regtest" }) })).message).toMatch(/"bitcoin" must be an object/);
    expect(thrown(() => load({ deployment: file("d.json", { chainId: 1, bitcoin: { electrumUrl: [] } }) })).message).toMatch(/unknown key "bitcoin\.electrumUrl"/);
    const e4 = thrown(() => load({ config: file("c.json", { btcEsploraUrls: ["ftp://x"] }) }));
    expect(e4).toBeInstanceOf(ConfigError);
    expect(thrown(() => load({}, { KEEPCTL_BTC_RETRIES: "0" })).message).toMatch(/must be between 1 and 20/);
  });

  it("URLs with keys are secrets: shown as origin only, registered with the redactor", () => {
    const key = "Zq8pK2mN7vR4tY1wXc5b";
    const cfg = load({}, { KEEPCTL_BTC_ESPLORA_URLS: `https://esplora.example/${key}/api`, KEEPCTL_BTC_ELECTRUM_URLS: "tcp://127.0.0.1:50001" });
    expect(displayValues(cfg).btcEsploraUrls).toEqual(["https://esplora.example/***"]);
    expect(displayValues(cfg).btcElectrumUrls).toEqual(["tcp://127.0.0.1:50001"]);
    expect(redact(`the key ${key} leaked`)).toBe("the key *** leaked");
    expect(knownEnvNames()).toEqual(expect.arrayContaining(["KEEPCTL_BTC_NETWORK", "KEEPCTL_BTC_ELECTRUM_URLS", "KEEPCTL_BTC_ELECTRUM_URLS_FILE", "KEEPCTL_BTC_ESPLORA_URLS", "KEEPCTL_BTC_ESPLORA_URLS_FILE", "KEEPCTL_BTC_TIMEOUT_MS", "KEEPCTL_BTC_RETRIES"]));
  });
});
