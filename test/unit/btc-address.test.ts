import { describe, expect, it } from "vitest";
import { encodeBase58 } from "ethers";
import {
  base58CheckEncode,
  base58Decode,
  bech32Decode,
  bech32Encode,
  btcNetworkForChain,
  convertBits,
  decodeBtcAddress,
} from "../../src/lib/tbtc/btc-address";
import { UsageError } from "../../src/lib/errors";

function errorOf(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return e as UsageError;
  }
  throw new Error("expected a UsageError");
}

const hex = (s: string) => Uint8Array.from(Buffer.from(s, "hex"));

describe("bech32 (BIP-173 / BIP-350 vectors)", () => {
  it("decodes the BIP-173 P2WPKH vector (upper case) to its scriptPubKey", () => {
    const d = decodeBtcAddress("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "mainnet");
    expect(d.type).toBe("p2wpkh");
    expect(d.script).toBe("0x0014751e76e8199196d454941c45d1b3a323f1433bd6");
    // tBTC wants the length-prefixed script: 0x16 = 22 bytes
    expect(d.redeemerOutputScript).toBe("0x160014751e76e8199196d454941c45d1b3a323f1433bd6");
  });

  it("decodes the BIP-173 testnet P2WSH vectors", () => {
    const a = decodeBtcAddress("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", "testnet");
    expect(a.type).toBe("p2wsh");
    expect(a.script).toBe("0x00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262");
    expect(a.redeemerOutputScript.slice(0, 4)).toBe("0x22");
    const b = decodeBtcAddress("tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy", "testnet");
    expect(b.script).toBe("0x0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433");
  });

  it("accepts regtest (bcrt) addresses on the testnet family", () => {
    const program = convertBits([...hex("751e76e8199196d454941c45d1b3a323f1433bd6")], 8, 5, true)!;
    const addr = bech32Encode("bcrt", [0, ...program]);
    expect(addr.startsWith("bcrt1q")).toBe(true);
    expect(decodeBtcAddress(addr, "testnet").script).toBe("0x0014751e76e8199196d454941c45d1b3a323f1433bd6");
  });

  it("rejects a bad checksum, mixed case, an unknown hrp", () => {
    expect(errorOf(() => decodeBtcAddress("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "mainnet")).message).toMatch(/not valid bech32/);
    expect(errorOf(() => decodeBtcAddress("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7", "testnet")).message).toMatch(/not valid bech32/);
    // tc1... is not a bitcoin hrp: falls to base58, where '0' and 'l' are not allowed
    expect(errorOf(() => decodeBtcAddress("tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty", "testnet")).message).toMatch(/neither bech32 nor base58/);
  });

  it("rejects taproot (BIP-350 v1 vector) with a reason tBTC-specific", () => {
    const e = errorOf(() => decodeBtcAddress("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", "mainnet"));
    expect(e.message).toMatch(/witness version 1.*tBTC v1 cannot pay/);
    expect(e.message).not.toContain("\n");
  });

  it("rejects version 0 with a bech32m checksum and a wrong program length", () => {
    const program = convertBits([...hex("751e76e8199196d454941c45d1b3a323f1433bd6")], 8, 5, true)!;
    expect(errorOf(() => decodeBtcAddress(bech32Encode("bc", [0, ...program], "bech32m"), "mainnet")).message).toMatch(/bech32m checksum/);
    const short = convertBits([...hex("751e76e8199196d454941c45d1b3a323f1433b")], 8, 5, true)!;
    expect(errorOf(() => decodeBtcAddress(bech32Encode("bc", [0, ...short]), "mainnet")).message).toMatch(/19 bytes/);
  });

  it("round-trips encode/decode and detects variants", () => {
    const enc = bech32Encode("tb", [1, 2, 3], "bech32m");
    expect(bech32Decode(enc)).toEqual({ hrp: "tb", data: [1, 2, 3], variant: "bech32m" });
    expect(bech32Decode(enc.slice(0, -1) + (enc.endsWith("q") ? "p" : "q"))).toBeUndefined();
  });
});

describe("base58check", () => {
  it("decodes the genesis-block P2PKH address to its hash160 script", () => {
    const d = decodeBtcAddress("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "mainnet");
    expect(d.type).toBe("p2pkh");
    expect(d.script).toBe("0x76a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888ac");
    expect(d.redeemerOutputScript).toBe("0x1976a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888ac");
  });

  it("keeps leading zero bytes (all-zero hash160 P2PKH)", () => {
    expect(base58CheckEncode(0x00, new Uint8Array(20))).toBe("1111111111111111111114oLvT2");
    const d = decodeBtcAddress("1111111111111111111114oLvT2", "mainnet");
    expect(d.script).toBe("0x76a914" + "00".repeat(20) + "88ac");
  });

  it("agrees with ethers' independent base58 encoder", () => {
    const bytes = hex("c4" + "ab".repeat(20) + "01020304");
    expect(base58Decode(encodeBase58(bytes))).toEqual(bytes);
  });

  it("decodes P2SH on mainnet and testnet, P2PKH on testnet", () => {
    const h = hex("f815b036d9bbbce5e9f2a00abd1bf3dc91e95510");
    const main = decodeBtcAddress(base58CheckEncode(0x05, h), "mainnet");
    expect(main.address.startsWith("3")).toBe(true);
    expect(main.script).toBe("0xa914f815b036d9bbbce5e9f2a00abd1bf3dc91e9551087");
    expect(main.redeemerOutputScript.slice(0, 4)).toBe("0x17");
    expect(decodeBtcAddress(base58CheckEncode(0xc4, h), "testnet").type).toBe("p2sh");
    const tp = decodeBtcAddress(base58CheckEncode(0x6f, h), "testnet");
    expect(tp.type).toBe("p2pkh");
    expect(tp.address[0]).toMatch(/[mn]/);
  });

  it("rejects a typo (bad checksum), a bad length and an unknown version", () => {
    expect(errorOf(() => decodeBtcAddress("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", "mainnet")).message).toMatch(/checksum/);
    expect(errorOf(() => decodeBtcAddress(base58CheckEncode(0x00, new Uint8Array(19)), "mainnet")).message).toMatch(/24 bytes/);
    expect(errorOf(() => decodeBtcAddress(base58CheckEncode(0x30, new Uint8Array(20)), "mainnet")).message).toMatch(/version byte 0x30/);
  });
});

describe("network check", () => {
  it("refuses a testnet address on mainnet and vice versa, naming both", () => {
    const e = errorOf(() => decodeBtcAddress("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", "mainnet"));
    expect(e.message).toMatch(/testnet\/regtest address but this chain redeems to Bitcoin mainnet/);
    expect(errorOf(() => decodeBtcAddress("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "testnet")).message).toMatch(/mainnet address/);
  });
  it("maps chain ids", () => {
    expect(btcNetworkForChain(1)).toBe("mainnet");
    expect(btcNetworkForChain(31337n)).toBe("testnet");
  });
  it("rejects empty input with a hint", () => {
    expect(errorOf(() => decodeBtcAddress("  ", "mainnet")).hint).toMatch(/--btc-address/);
  });
});
