import { describe, expect, it } from "vitest";
import { descriptorChecksum, formatOrigin, formatWpkhDescriptor, looksLikeDescriptor, parseWpkhDescriptor, splitDescriptorChecksum, withChecksum } from "../../src/lib/btc/wallet/descriptor";
import { Bip84Account, CHANGE, RECEIVE } from "../../src/lib/btc/wallet/account";

/**
 * Descriptor checksums against BIP380's test vectors and Bitcoin Core's (src/test/descriptor_tests.cpp
 * "Checksums" cases), and the wpkh(...) shapes the wallet takes.
 */
const CORE_PRV = "sh(multi(2,[00000000/111'/222]xprvA1RpRA33e1JQ7ifknakTFpgNXPmW2YvmhqLQYMmrj4xJXXWYpDPS3xz7iAxn8L39njGVyuoseXzU6rcxFLJ8HFsTjSyQbLYnMpCqE2VbFWc,xprv9uPDJpEQgRQfDcW7BkF7eTya6RPxXeJCqCJGHuCJ4GiRVLzkTXBAJMu2qaMWPrS7AANYqdq6vcBcBUdJCVVFceUvJFjaPdGZ2y9WACViL4L/0))";
const CORE_PUB = "sh(multi(2,[00000000/111'/222]xpub6ERApfZwUNrhLCkDtcHTcxd75RbzS1ed54G1LkBUHQVHQKqhMkhgbmJbZRkrgZw4koxb5JaHWkY4ALHY2grBGRjaDMzQLcgJvLJuZZvRcEL,xpub68NZiKmJWnxxS6aaHmn81bvJeTESw724CRDs6HbuccFQN9Ku14VQrADWgqbhhTHBaohPX4CjNLf9fq9MYo6oDaPPLPxSb7gwQN3ih19Zm4Y/0))";
const XPUB = "xpub6CatWdiZiodmUeTDp8LT5or8nmbKNcuyvz7WyksVFkKB4RHwCD3XyuvPEbvqAQY3rAPshWcMLoP2fMFMKHPJ4ZeZXYVUhLv1VMrjPC7PW6V";
const TPUB = "tpubDC8msFGeGuwnKG9Upg7DM2b4DaRqg3CUZa5g8v2SRQ6K4NSkxUgd7HsL2XVWbVm39yBA4LAxysQAm397zwQSQoQgewGiYZqrA9DsP4zbQ1M";
const ZPUB = "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs";

describe("BIP380 checksum test vectors", () => {
  it("valid checksum", () => {
    expect(descriptorChecksum("raw(deadbeef)")).toBe("89f8spxm");
    expect(splitDescriptorChecksum("raw(deadbeef)#89f8spxm")).toEqual({ body: "raw(deadbeef)", checksum: "89f8spxm" });
  });
  it("no checksum is valid", () => {
    expect(splitDescriptorChecksum("raw(deadbeef)")).toEqual({ body: "raw(deadbeef)" });
  });
  it.each([
    ["missing checksum", "raw(deadbeef)#", /8 characters after "#", got 0/],
    ["too long checksum", "raw(deadbeef)#89f8spxmx", /got 9/],
    ["too short checksum", "raw(deadbeef)#89f8spx", /got 7/],
    ["error in payload", "raw(deedbeef)#89f8spxm", /#89f8spxm does not match/],
    ["error in checksum", "raw(deedbeef)##9f8spxm", /does not match/],
    ["invalid characters in payload", "raw(Ü)#00000000", /outside the descriptor character set/],
  ])("%s", (_name, text, error) => {
    expect(() => splitDescriptorChecksum(text)).toThrow(error);
  });
  it("Bitcoin Core's checksum cases (private and public forms)", () => {
    expect(descriptorChecksum(CORE_PRV)).toBe("ggrsrxfy");
    expect(descriptorChecksum(CORE_PUB)).toBe("tjg09x5t");
    expect(() => splitDescriptorChecksum(`${CORE_PUB}#ggrsrxfy`)).toThrow(/does not match/);
    expect(withChecksum(CORE_PUB)).toBe(`${CORE_PUB}#tjg09x5t`);
  });
  it("checksums Bitcoin Core printed for addr(...) descriptors (getdescriptorinfo output quoted in guides)", () => {
    // Lengths 0, 1 and 2 mod 3, so every tail of the symbol expansion is exercised.
    expect(descriptorChecksum("addr(tb1q9f8j03uywqsxuxjefz68g7x4kduer2ky6shsf4)")).toBe("4vmsvy3l");
    expect(descriptorChecksum("addr(3Awm3FNpmwrbvAFVThRUFqgpbVuqWisni9)")).toBe("j8r6vh28");
    expect(descriptorChecksum("addr(bcrt1q6du4q67wfpgnmply8mqce43eedhz286hy3nm6p)")).toBe("yeww39pe");
    expect(descriptorChecksum("addr(bcrt1q4dck54ksfskl566ck8puhvqkuujj7djjjrldmd)")).toBe("jfa3fzny");
  });
  it("a # at the very start is a checksum of an empty body, not part of it", () => {
    expect(() => splitDescriptorChecksum("#89f8spxm")).toThrow(/#89f8spxm does not match/);
  });
  it("the hints say what to do", () => {
    const hintOf = (f: () => unknown) => { try { f(); } catch (e) { return (e as { hint?: string }).hint; } return undefined; };
    expect(hintOf(() => descriptorChecksum("raw(Ü)"))).toBe("copy the descriptor again; descriptors are plain ASCII");
    expect(hintOf(() => splitDescriptorChecksum("raw(deadbeef)#x"))).toBe("copy the descriptor again, with the #checksum Bitcoin Core (getdescriptorinfo) or the wallet printed");
    expect(hintOf(() => splitDescriptorChecksum("raw(deadbeef)#89f8spxn"))).toBe("copy the descriptor again, with the #checksum Bitcoin Core (getdescriptorinfo) or the wallet printed");
    expect(hintOf(() => parseWpkhDescriptor(`wpkh([zz]${XPUB}/0/*)`))).toBe("write it as [d34db33f/84h/0h/0h]");
    expect(hintOf(() => parseWpkhDescriptor(`wpkh([deadbeef/2147483648]${XPUB}/0/*)`))).toBe("write it as [d34db33f/84h/0h/0h]");
    expect(hintOf(() => parseWpkhDescriptor(`wpkh([deadbeef${XPUB}/0/*)`))).toBe("write it as [d34db33f/84h/0h/0h]");
    expect(hintOf(() => parseWpkhDescriptor(`tr(${XPUB}/0/*)`))).toBe("export the wallet's native segwit descriptor: wpkh([fingerprint/84h/0h/0h]xpub…/<0;1>/*)");
    expect(hintOf(() => parseWpkhDescriptor(`wpkh(${ZPUB}/0/*)`))).toBe("give the zpub/vpub alone to --btc-xpub, or the descriptor with its xpub/tpub");
    expect(hintOf(() => parseWpkhDescriptor(`wpkh(${XPUB}/0/*h)`))).toBe("use /<0;1>/* or /0/*");
    expect(hintOf(() => parseWpkhDescriptor(`wpkh(${XPUB}/1/*)`))).toBe("give the account key with /<0;1>/* (receive and change) or /0/* (receive; change is /1/*)");
  });
  it("a case change or any single substitution breaks it", () => {
    const body = `wpkh([73c5da0a/84h/0h/0h]${XPUB}/<0;1>/*)`;
    const sum = descriptorChecksum(body);
    for (let i = 0; i < body.length; i += 7) {
      const c = body[i];
      const other = c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase();
      const swapped = other !== c ? other : c === "0" ? "1" : "0";
      const mutated = body.slice(0, i) + swapped + body.slice(i + 1);
      expect(descriptorChecksum(mutated), `at ${i}`).not.toBe(sum);
    }
  });
});

describe("wpkh descriptors of a BIP84 account", () => {
  it("a descriptor with origin and checksum (as published for the rust-miniscript tests)", () => {
    const text = "wpkh([2cbe2a6d/44'/0'/0']tpubDCvNhURocXGZsLNqWcqD3syHTqPXrMSTwi8feKVwAcpi29oYKsDD3Vex7x2TDneKMVN23RbLprfxB69v94iYqdaYHsVz3kPR37NQXeqouVz/0/*)#nhdxg96s";
    const d = parseWpkhDescriptor(text);
    expect(d.checksum).toBe("verified");
    expect(d.multipath).toBe(false);
    expect(d.origin).toEqual({ fingerprint: 0x2cbe2a6d, path: [0x8000002c, 0x80000000, 0x80000000] });
    expect(d.key.family).toBe("test");
  });
  it("multipath <0;1>, h and ' and H as hardened markers, no checksum", () => {
    for (const mark of ["h", "'", "H"]) {
      const d = parseWpkhDescriptor(`wpkh([73C5DA0A/84${mark}/0${mark}/0${mark}]${XPUB}/<0;1>/*)`);
      expect(d.multipath).toBe(true);
      expect(d.checksum).toBe("absent");
      expect(d.origin).toEqual({ fingerprint: 0x73c5da0a, path: [0x80000054, 0x80000000, 0x80000000] });
    }
    const bare = parseWpkhDescriptor(`  wpkh(${TPUB}/0/*)\n`);
    expect(bare.origin).toBeUndefined();
    expect(bare.key.standard).toBe(TPUB);
  });
  it("an unhardened origin step stays unhardened; an empty origin path is allowed", () => {
    expect(parseWpkhDescriptor(`wpkh([deadbeef/84h/0/7]${XPUB}/0/*)`).origin?.path).toEqual([0x80000054, 0, 7]);
    expect(parseWpkhDescriptor(`wpkh([deadbeef]${XPUB}/0/*)`).origin).toEqual({ fingerprint: 0xdeadbeef, path: [] });
  });
  it("round trip: formatting then parsing gives the same account and addresses", () => {
    const origin = { fingerprint: 0x73c5da0a, path: [0x80000054, 0x80000000, 0x80000000] };
    const text = formatWpkhDescriptor(XPUB, origin);
    expect(text).toBe(withChecksum(`wpkh([73c5da0a/84h/0h/0h]${XPUB}/<0;1>/*)`));
    expect(formatWpkhDescriptor(XPUB, undefined, 1)).toBe(withChecksum(`wpkh(${XPUB}/1/*)`));
    const a = Bip84Account.fromWatchOnly(text, "mainnet", "--btc-xpub");
    expect(a.address(RECEIVE, 0)).toBe("bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu");
    expect(a.address(CHANGE, 0)).toBe("bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el");
    expect(a.originKnown).toBe(true);
    expect(a.derivation(RECEIVE, 3)[1]).toEqual({ fingerprint: 0x73c5da0a, path: [...origin.path, 0, 3] });
    expect(a.descriptor()).toBe(text);
    expect(formatOrigin({ fingerprint: 0x0000abcd, path: [1, 0x80000002] })).toBe("0000abcd/1/2h");
  });
  it.each([
    ["sh(wpkh(...))", `sh(wpkh(${XPUB}/0/*))`, /this one is nested segwit/],
    ["tr(...)", `tr(${XPUB}/0/*)`, /this one is taproot/],
    ["pkh(...)", `pkh(${XPUB}/0/*)`, /this one is legacy/],
    ["wsh(...)", `wsh(${XPUB}/0/*)`, /this one is a script hash/],
    ["other", `combo(${XPUB}/0/*)`, /this one is not a wpkh/],
    ["zpub inside", `wpkh(${ZPUB}/0/*)`, /not as a zpub/],
    ["hardened children", `wpkh(${XPUB}/0/*h)`, /hardened child derivation/],
    ["hardened children '", `wpkh(${XPUB}/0/*')`, /hardened child derivation/],
    ["change chain only", `wpkh(${XPUB}/1/*)`, /derivation "\/1\/\*" is not/],
    ["no derivation", `wpkh(${XPUB})`, /derivation "\(none\)"/],
    ["a fixed key", `wpkh(${XPUB}/0/5)`, /is not an account's address chains/],
    ["unclosed origin", `wpkh([deadbeef/84h${XPUB}/0/*)`, /no closing \]/],
    ["short fingerprint", `wpkh([deadbef/84h]${XPUB}/0/*)`, /is not \[fingerprint\/path\]/],
    ["trailing slash in origin", `wpkh([deadbeef/84h/]${XPUB}/0/*)`, /is not \[fingerprint\/path\]/],
    ["origin step too big", `wpkh([deadbeef/2147483648h]${XPUB}/0/*)`, /out of range/],
    ["bad checksum", `wpkh(${XPUB}/0/*)#aaaaaaaa`, /does not match/],
    ["vpub inside", `wpkh(vpub5Y6cjg78GGuNLsaPhmYsiw4gYX3HoQiRBiSwDaBXKUafCt9bNwWQiitDk5VZ5BVxYnQdwoTyXSs2JHRPAgjAvtbBrf8ZhDYe2jWAqvZVnsc/0/*)`, /not as a vpub/],
    ["wsh(wpkh(...))", `wsh(wpkh(${XPUB}/0/*))`, /this one is a script hash/],
    ["sh(tr(...))", `sh(tr(${XPUB}/0/*))`, /this one is a script hash/],
    ["sh(pkh(...))", `sh(pkh(${XPUB}/0/*))`, /this one is a script hash/],
    ["combo(wsh(...))", `combo(wsh(${XPUB}/0/*))`, /this one is not a wpkh/],
    ["text after the closing parenthesis", `wpkh(${XPUB}/0/*)x`, /this one is not a wpkh/],
    ["an empty origin", `wpkh([]${XPUB}/0/*)`, /the key origin \[\] is not \[fingerprint\/path\]/],
    ["a fingerprint with a prefix", `wpkh([zzdeadbeef/84h]${XPUB}/0/*)`, /is not \[fingerprint\/path\]/],
    ["a hardened step that is not the last", `wpkh(${XPUB}/*h/0)`, /derivation "\/\*h\/0" is not/],
  ])("refuses %s", (_name, text, error) => {
    expect(() => parseWpkhDescriptor(text)).toThrow(error);
  });
  it("a mainnet descriptor on a test network is refused, naming both", () => {
    expect(() => Bip84Account.fromWatchOnly(`wpkh([73c5da0a/84h/0h/0h]${XPUB}/<0;1>/*)`, "regtest", "--btc-xpub")).toThrow("--btc-xpub is a mainnet key (xpub), but the Bitcoin network is regtest");
  });
  it("tells descriptors from bare keys", () => {
    expect(looksLikeDescriptor(`wpkh(${XPUB}/0/*)`)).toBe(true);
    expect(looksLikeDescriptor(` sh(wpkh(x))`)).toBe(true);
    expect(looksLikeDescriptor(XPUB)).toBe(false);
    expect(looksLikeDescriptor("XPUB cd(")).toBe(false);
  });
});
