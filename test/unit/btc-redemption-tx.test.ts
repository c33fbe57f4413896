import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ethers } from "ethers";
import * as btc from "@scure/btc-signer";
import { buildSignedRedemptionTx, compressSignerKey, redemptionSighash, RedemptionTxError, type RedemptionTxFacts } from "../../src/lib/tbtc/redeem/btc-redemption-tx";

/**
 * The oracle is the preimage layout of tBTC's docs (appendix "sighash", CheckBitcoinSigs.
 * wpkhSpendSighash), assembled here byte by byte with node:crypto, and an ethers signing key for
 * the signature — neither shares code with the module under test.
 */
const sha = (b: Buffer) => createHash("sha256").update(b).digest();
const hash256 = (b: Buffer) => sha(sha(b));
const ripemd = (b: Buffer) => createHash("ripemd160").update(b).digest();
const le64 = (v: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(v); return b; };

// A throwaway key: the "signers".
const signer = new ethers.SigningKey("0x" + "11".repeat(32));
const uncompressed = Buffer.from(signer.publicKey.slice(4), "hex"); // X ‖ Y
const compressed = Buffer.from(signer.compressedPublicKey.slice(2), "hex");
const outpoint = Buffer.concat([Buffer.from("5f40bccf997d221cd0e9cb6564643f9808a89a5e1c65ea5e6530c0b51c18487c", "hex"), Buffer.from("01000000", "hex")]);
const facts: RedemptionTxFacts = {
  outpoint: "0x" + outpoint.toString("hex"),
  utxoValueSats: 100_000_000n,
  redeemerScript: "0x160014" + "22".repeat(20),
  feeSats: 10_000n,
  signerPubkey64: "0x" + uncompressed.toString("hex"),
};

function specDigest(f: RedemptionTxFacts): string {
  const pkh = ripemd(sha(compressed));
  const script = Buffer.from(f.redeemerScript.slice(2), "hex");
  const pre = Buffer.concat([
    Buffer.from("01000000", "hex"),
    hash256(outpoint),
    Buffer.from("8cb9012517c817fead650287d61bdd9c68803b6bf9c64133dcab3e65b5a50cb9", "hex"), // hash256(00000000)
    outpoint,
    Buffer.from("1976a914", "hex"), pkh, Buffer.from("88ac", "hex"),
    le64(f.utxoValueSats),
    Buffer.from("00000000", "hex"),
    hash256(Buffer.concat([le64(f.utxoValueSats - f.feeSats), script])),
    Buffer.from("00000000", "hex"),
    Buffer.from("01000000", "hex"),
  ]);
  return "0x" + hash256(pre).toString("hex");
}

describe("the canonical redemption transaction", () => {
  it("its sighash is the preimage of tBTC's spec, for every fee version", () => {
    expect(hash256(Buffer.from("00000000", "hex")).toString("hex")).toBe("8cb9012517c817fead650287d61bdd9c68803b6bf9c64133dcab3e65b5a50cb9");
    for (const fee of [2_000n, 10_000n, 20_000n, 49_999_999n]) {
      expect(redemptionSighash({ ...facts, feeSats: fee })).toBe(specDigest({ ...facts, feeSats: fee }));
    }
    // Y odd vs even decides the compressed prefix, and with it the key hash in the digest.
    expect(Buffer.from(compressSignerKey(facts.signerPubkey64)).toString("hex")).toBe(compressed.toString("hex"));
  });

  it("builds the signed segwit transaction tBTC's docs describe, spending the outpoint to the script", () => {
    const digest = specDigest(facts);
    const sig = signer.sign(digest);
    const low = ethers.Signature.from(sig); // ethers signs low-s
    const out = buildSignedRedemptionTx(facts, digest, { r: low.r, s: low.s });
    const raw = Buffer.from(out.raw, "hex");
    // version 1, marker+flag, 1 input, the outpoint, empty scriptSig, sequence 0
    expect(raw.subarray(0, 7).toString("hex")).toBe("01000000000101");
    expect(raw.subarray(7, 43).equals(outpoint)).toBe(true);
    expect(raw.subarray(43, 48).toString("hex")).toBe("0000000000");
    // 1 output: value ‖ the length-prefixed script
    expect(raw.subarray(48, 49).toString("hex")).toBe("01");
    expect(raw.subarray(49, 57).equals(le64(99_990_000n))).toBe(true);
    expect(raw.subarray(57, 80).toString("hex")).toBe(facts.redeemerScript.slice(2));
    // witness: 2 items, DER sig ‖ 01, then the compressed key; locktime 0
    expect(raw[80]).toBe(2);
    const sigLen = raw[81];
    const derPlusType = raw.subarray(82, 82 + sigLen);
    expect(derPlusType.at(-1)).toBe(1);
    expect(raw[82 + sigLen]).toBe(33);
    expect(raw.subarray(83 + sigLen, 116 + sigLen).equals(compressed)).toBe(true);
    expect(raw.subarray(116 + sigLen).toString("hex")).toBe("00000000");
    expect(raw.length).toBe(120 + sigLen);
    // txid = hash256 of the serialization without marker, flag and witness
    const stripped = Buffer.concat([raw.subarray(0, 4), raw.subarray(6, 80), raw.subarray(116 + sigLen)]);
    expect(out.txidLE).toBe("0x" + hash256(stripped).toString("hex"));
    expect(out.txid).toBe(Buffer.from(hash256(stripped)).reverse().toString("hex"));
    // weight = 4 × non-witness + witness; the spec's 110 vB for a P2WPKH output
    const weight = stripped.length * 4 + (raw.length - stripped.length);
    expect(out.vsize).toBe(Math.ceil(weight / 4));
    expect(out.vsize).toBeGreaterThanOrEqual(109);
    expect(out.vsize).toBeLessThanOrEqual(110);
    // an independent parser reads the same transaction, and the DER decodes to (r, s)
    const parsed = btc.Transaction.fromRaw(raw, { allowUnknownOutputs: true });
    expect(parsed.id).toBe(out.txid);
    const der = ethers.getBytes("0x" + derPlusType.subarray(0, -1).toString("hex"));
    expect(der[0]).toBe(0x30);
    expect(out.feeRateSatVb).toBeCloseTo(10_000 / out.vsize, 9);
  });

  it("refuses facts that do not give the digest, and signatures that do not verify", () => {
    const digest = specDigest(facts);
    const good = ethers.Signature.from(signer.sign(digest));
    // another fee version's digest
    expect(() => buildSignedRedemptionTx({ ...facts, feeSats: 20_000n }, digest, good)).toThrow(RedemptionTxError);
    // a signature by another key
    const other = ethers.Signature.from(new ethers.SigningKey("0x" + "22".repeat(32)).sign(digest));
    expect(() => buildSignedRedemptionTx(facts, digest, other)).toThrow(/does not verify/);
    // the same signature with high s (n - s): valid ECDSA, refused by the contract and relay policy
    const n = BigInt("0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
    expect(() => buildSignedRedemptionTx(facts, digest, { r: good.r, s: ethers.toBeHex(n - BigInt(good.s), 32) })).toThrow(/low-s/);
    // a script without its length byte, a short outpoint, a fee that eats the UTXO
    expect(() => redemptionSighash({ ...facts, redeemerScript: "0x0014" + "22".repeat(20) })).toThrow(/length byte/);
    expect(() => redemptionSighash({ ...facts, outpoint: "0x" + "00".repeat(35) })).toThrow(/36 bytes/);
    expect(() => redemptionSighash({ ...facts, feeSats: facts.utxoValueSats })).toThrow(/does not fit/);
  });
});
