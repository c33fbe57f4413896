import { describe, expect, it } from "vitest";
import { redact, redactUrl, registerSecret } from "../../src/lib/redact";

describe("redactUrl", () => {
  it("keeps only the origin when the URL carries a path, query or credentials", () => {
    expect(redactUrl("https://mainnet.infura.io/v3/0123456789abcdef")).toBe("https://mainnet.infura.io/***");
    expect(redactUrl("https://rpc.example?apikey=abc")).toBe("https://rpc.example/***");
    expect(redactUrl("https://user:pw@rpc.example")).toBe("https://rpc.example/***");
    expect(redactUrl("wss://ws.example/key")).toBe("wss://ws.example/***");
  });
  it("hides an API key that a provider puts in the hostname, but not ordinary host names", () => {
    expect(redactUrl("https://a1b2c3d4e5f6a7b8c9.eth.rpc.example/")).toBe("https://***.eth.rpc.example");
    expect(redactUrl("https://a1b2c3d4e5f6a7b8c9.eth.rpc.example/v1")).toBe("https://***.eth.rpc.example/***");
    expect(redactUrl("https://polygon-mainnet.g.alchemy.com")).toBe("https://polygon-mainnet.g.alchemy.com");
  });
  it("leaves a bare origin readable and hides what is not a URL", () => {
    expect(redactUrl("http://127.0.0.1:8545")).toBe("http://127.0.0.1:8545");
    expect(redactUrl("http://127.0.0.1:8545/")).toBe("http://127.0.0.1:8545");
    expect(redactUrl("not a url SECRET")).toBe("***");
  });
});

describe("redact", () => {
  it("rewrites every URL in free text to its origin", () => {
    const out = redact('fetch https://eth.example/v2/KEYKEYKEY failed, "http://10.0.0.1:8545/path?x=KEY2"');
    expect(out).toBe('fetch https://eth.example/*** failed, "http://10.0.0.1:8545/***"');
  });
  it("replaces registered secrets wherever they appear, longest first", () => {
    registerSecret("hunter2-password");
    registerSecret("hunter2");
    expect(redact("pw=hunter2-password and hunter2")).toBe("pw=*** and ***");
  });
  it("ignores secrets too short to be meaningful", () => {
    registerSecret("ab");
    expect(redact("tab cab")).toBe("tab cab");
  });
  it("hides a raw private key that was registered, but keeps other 32-byte hex (tx hashes)", () => {
    const key = "0x" + "4c".repeat(32);
    const hash = "0x" + "9d".repeat(32);
    registerSecret(key);
    expect(redact(`key ${key.slice(2)} hash ${hash}`)).toBe(`key *** hash ${hash}`);
    expect(redact(`key ${key}`)).toBe("key ***");
    expect(redact(`hash ${hash}`, { keepHashes: true })).toBe(`hash ${hash}`);
  });
});
