import { describe, expect, it } from "vitest";
import { Mnemonic, randomBytes } from "ethers";
import { ECHO_MAX, echo, escapeControls, keyLikeHostLabel, redact, redactUrl, registerSecret, registerSecretUrl, sanitizeCommanderText, urlSecretParts } from "../../src/lib/redact";

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

describe("redaction without registration", () => {
  // Fresh values no test registers: what a user might type into the wrong setting.
  const key = "0x" + "7e".repeat(31) + "01";
  it("masks anything shaped like a 32-byte hex secret, with or without 0x", () => {
    expect(redact(`invalid address "${key}" (from --operator)`)).toBe('invalid address "***" (from --operator)');
    expect(redact(`KEY=${key.slice(2)}`)).toBe("KEY=***");
    // 20-byte addresses and shorter hex are not secrets.
    expect(redact("operator 0x1111111111111111111111111111111111111111")).toBe("operator 0x1111111111111111111111111111111111111111");
  });

  it("keeps a tx or block hash that a label announces, in messages and JSON", () => {
    const hash = "0x" + "c3".repeat(32);
    for (const text of [`reverted on chain in block 9 (tx ${hash})`, `hash: ${hash}`, `{"hash":"${hash}"}`, `transaction ${hash} failed`, `txHash=${hash}`]) {
      expect(redact(text)).toBe(text);
    }
    expect(redact(`something ${hash}`)).toBe("something ***");
  });

  it("keepHashes keeps unlabelled 0x hashes (chain data) but still masks bare hex and registered keys", () => {
    const hash = "0x" + "d4".repeat(32);
    expect(redact(`sent redeem (nonce 3) ${hash}`, { keepHashes: true })).toBe(`sent redeem (nonce 3) ${hash}`);
    expect(redact(`raw ${hash.slice(2)}`, { keepHashes: true })).toBe("raw ***");
    // a Bitcoin txid is bare hex: kept with its label, masked without
    expect(redact(`broadcast Bitcoin tx ${hash.slice(2)} (version 0)`, { keepHashes: true })).toBe(`broadcast Bitcoin tx ${hash.slice(2)} (version 0)`);
    expect(redact(`broadcast ${hash.slice(2)} (version 0)`, { keepHashes: true })).toBe("broadcast *** (version 0)");
    const reg = "0x" + "e5".repeat(32);
    registerSecret(reg);
    expect(redact(`sent ${reg}`, { keepHashes: true })).toBe("sent ***");
  });

  it("masks a BIP-39 mnemonic of 12 to 24 words, and leaves ordinary text alone", () => {
    for (const bits of [16, 20, 24, 28, 32]) {
      const phrase = Mnemonic.fromEntropy(randomBytes(bits)).phrase;
      const n = phrase.split(" ").length;
      expect([12, 15, 18, 21, 24]).toContain(n);
      expect(redact(`invalid address "${phrase}" (from --operator)`)).toBe('invalid address "***" (from --operator)');
      expect(redact(`multi\nline ${phrase.split(" ").join("\n")} end`)).not.toContain(phrase.split(" ")[3] + "\n" + phrase.split(" ")[4]);
    }
    const prose = "the account has not enough balance to pay for gas at the current price so nothing was sent";
    expect(redact(prose)).toBe(prose);
    const eleven = "abandon ability able about above absent absorb abstract absurd abuse access";
    expect(redact(eleven)).toBe(eleven);
  });

  it("masks URL credentials, path and query, keeping the origin", () => {
    expect(redact("GET https://user:pa55@rpc.example:8443/v3/abc?key=xyz failed")).toBe("GET https://rpc.example:8443/*** failed");
    expect(redact("ws wss://node.example/ws/k")).toBe("ws wss://node.example/***");
    expect(redact("plain http://127.0.0.1:8545 ok")).toBe("plain http://127.0.0.1:8545 ok");
  });

  it("a key in the query string, echoed alone by the provider, is masked once the URL is registered", () => {
    registerSecretUrl("https://rpc.example/rpc?apikey=Qs7pLm2x&network=mainnet");
    expect(redact("401: invalid api key Qs7pLm2x")).toBe("401: invalid api key ***");
    // the plain word beside it is not a secret
    expect(redact("network mainnet")).toBe("network mainnet");
    registerSecretUrl("https://u5er:p%40ss-w0rd@rpc.example/");
    expect(redact("auth failed for u5er with p@ss-w0rd")).toBe("auth failed for *** with ***");
  });

  it("websocket URLs in free text keep their origin only, ws:// as well as wss://", () => {
    expect(redact("socket ws://10.0.0.2:8546/Wk3yWk3y closed")).toBe("socket ws://10.0.0.2:8546/*** closed");
    expect(redact("socket wss://eth.example/ws/v3/Wk3yWk3y closed")).toBe("socket wss://eth.example/*** closed");
    expect(redact("(wss://eth.example?key=Wk3yWk3y)")).toBe("(wss://eth.example/***)");
  });

  it("registers short URL key parts too, but not plain words", () => {
    expect(urlSecretParts("https://rpc.example/v3/ab12cd?apikey=Zx9k")).toEqual(["ab12cd", "Zx9k"]);
    expect(urlSecretParts("https://rpc.example/mainnet/rpc")).toEqual([]);
    registerSecretUrl("https://rpc.example/v2/q1w2e3");
    expect(redact("bad key q1w2e3")).toBe("bad key ***");
  });
});

describe("what counts as a key in a URL", () => {
  it("path and query parts: long ones, mixed ones of 6+, and short letter+digit ones; never plain words or v1", () => {
    expect(urlSecretParts("https://rpc.example/abcdefghijklmnop")).toEqual(["abcdefghijklmnop"]); // 16 letters
    expect(urlSecretParts("https://rpc.example/abcdefghijklmno")).toEqual([]); // 15 lowercase letters: a word
    expect(urlSecretParts("https://rpc.example/ABCDEF")).toEqual(["ABCDEF"]); // 6, not lowercase
    expect(urlSecretParts("https://rpc.example/ABCDE")).toEqual([]); // 5, no digit
    expect(urlSecretParts("https://rpc.example/main-net")).toEqual([]);
    expect(urlSecretParts("https://rpc.example/a1b2")).toEqual(["a1b2"]);
    expect(urlSecretParts("https://rpc.example/a1b")).toEqual([]); // 3: too short
    expect(urlSecretParts("https://rpc.example/v3/v12/xv12")).toEqual(["xv12"]);
    expect(urlSecretParts("https://user1:pa55w0rd@rpc.example/")).toEqual(["user1", "pa55w0rd"]);
    expect(urlSecretParts("not a url")).toEqual([]);
    expect(urlSecretParts("https://a1b2c3d4e5f6.rpc.example/")).toEqual(["a1b2c3d4e5f6"]);
  });
  it("a host label is a key when it is 12+ characters of letters and digits", () => {
    expect(keyLikeHostLabel("a1b2c3d4e5f6")).toBe(true);
    expect(keyLikeHostLabel("a1b2c3d4e5f")).toBe(false); // 11
    expect(keyLikeHostLabel("abcdefghijkl")).toBe(false); // no digit
    expect(keyLikeHostLabel("123456789012")).toBe(false); // no letter
  });
  it("registering nothing is a no-op", () => {
    registerSecretUrl(undefined);
    registerSecretUrl("");
    expect(redact("plain text")).toBe("plain text");
  });
  it("a registered hex key is masked whatever its case or prefix, even where a hash label would keep it", () => {
    const key = "0x" + "Ab".repeat(32);
    registerSecret(key);
    expect(redact(`tx ${key.toLowerCase()}`)).toBe("tx ***");
    expect(redact(`tx ${key.slice(2).toUpperCase()}`)).toBe("tx ***");
  });
});

describe("echo", () => {
  it("cuts at exactly 80: 80 characters stay whole, 81 are cut", () => {
    expect(echo("y".repeat(ECHO_MAX))).toBe("y".repeat(ECHO_MAX));
    expect(echo("y".repeat(ECHO_MAX + 1))).toBe("y".repeat(ECHO_MAX - 1) + "…");
  });
  it("escapes other controls as \\xNN, and keeps newlines only when asked", () => {
    expect(escapeControls("a\u0001b\u009fc")).toBe("a\\x01b\\x9fc");
    expect(escapeControls("a\nb", true)).toBe("a\nb");
    expect(escapeControls("a\rb", true)).toBe("a\\rb");
  });
  it("leaves text that is not a commander error as it is", () => {
    expect(sanitizeCommanderText("Usage: x 'q\nq'")).toBe("Usage: x 'q\nq'");
    expect(sanitizeCommanderText(`error: bad '${"v".repeat(ECHO_MAX)}'`)).toBe(`error: bad '${"v".repeat(ECHO_MAX)}'`);
  });
  it("cuts long values to 80 characters with an ellipsis", () => {
    const out = echo("z".repeat(100_000));
    expect(out).toHaveLength(ECHO_MAX);
    expect(out.endsWith("…")).toBe(true);
    expect(echo("short")).toBe("short");
  });
  it("escapes newlines and terminal escape sequences", () => {
    expect(echo("a\nerror: fake\x1b[31m\r\t\x7f")).toBe("a\\nerror: fake\\x1b[31m\\r\\t\\x7f");
  });
  it("redacts before cutting, so a key is never half shown", () => {
    const key = "0x" + "9f".repeat(32);
    expect(echo(key)).toBe("***");
  });
  it("commander's own error lines: quoted values escaped and cut, its own newlines kept", () => {
    const long = "q".repeat(500);
    expect(sanitizeCommanderText(`error: option '--network <name>' argument 'x\nerror: fake${long}' is invalid.\n`)).toBe(
      `error: option '--network <name>' argument '${("x\\nerror: fake" + long).slice(0, ECHO_MAX - 1)}…' is invalid.\n`,
    );
    expect(sanitizeCommanderText("error: unknown option '--operater'\n(Did you mean --operator?)\n")).toBe("error: unknown option '--operater'\n(Did you mean --operator?)\n");
    expect(sanitizeCommanderText("Usage: keepctl [options]\n")).toBe("Usage: keepctl [options]\n");
  });
});

// Edges found by mutation testing (docs/testing.md).
describe("redact: edges", () => {
  it("keeps a URL part that is not valid percent-encoding as it is, and still counts it", () => {
    expect(urlSecretParts("https://ab%zz12cd:pw@x.example/")).toContain("ab%zz12cd");
  });
  it("judges short URL parts by their shape", () => {
    const parts = urlSecretParts("https://x.example/abcDEF/XYZabc/1234/v123/v3ab/mainnet");
    expect(parts).toContain("abcDEF"); // 6+ characters, not a plain lowercase word
    expect(parts).toContain("XYZabc");
    expect(parts).toContain("v3ab"); // letters and digits, not a version
    expect(parts).not.toContain("1234"); // digits only: a port, a chain id
    expect(parts).not.toContain("v123"); // a version
    expect(parts).not.toContain("mainnet");
  });
  it("masks a mnemonic but keeps the whitespace and text after it", () => {
    const phrase = Mnemonic.fromEntropy(randomBytes(16)).phrase;
    expect(redact(`${phrase}  x`)).toBe("***  x");
    expect(redact(`${phrase} .`)).toBe("*** .");
  });
  it("keeps a 64-hex value only right after a hash label, not after a label somewhere before it", () => {
    const hex = "0x" + "7e".repeat(32);
    expect(redact(`tx failed, key ${hex}`)).toBe("tx failed, key ***");
    expect(redact(`txkey: ${hex}`)).toBe("txkey: ***");
    expect(redact(`tx: ${hex}`)).toBe(`tx: ${hex}`);
  });
  it("replaces the longest registered secret first when one contains another", () => {
    registerSecret("qz7w");
    registerSecret("qz7wq9x8");
    registerSecret("qz7wq9x8k1m2v5b6");
    expect(redact("key=qz7wq9x8k1m2v5b6;")).toBe("key=***;");
  });
  it("masks a registered key written in another case, even after a hash label", () => {
    const key = "c0ffee".padEnd(64, "1").toLowerCase();
    registerSecret(key);
    const out = redact(`tx: 0x${key.toUpperCase()}`);
    expect(out.toLowerCase()).not.toContain(key);
    expect(out).toBe("tx: ***");
  });
});
