import { describe, expect, it } from "vitest";
import crypto from "node:crypto";
import { fromHex, toHex } from "../../src/lib/btc/bytes";
import { buildSpvProof, spvProofHex, verifySpvProof, type SpvProof } from "../../src/lib/btc/spv";
import { V1, v1BranchDisplay } from "../helpers/btc-vectors";

/** V1 built from what servers give: the raw tx (with witness), the display branch and pos, the headers. */
const v1 = (): SpvProof => buildSpvProof({ rawTx: V1.tx, branch: v1BranchDisplay(), pos: V1.txIndexInBlock, headers: V1.headers });
const refusal = (p: SpvProof) => {
  const r = verifySpvProof(p);
  return r.ok ? "accepted" : r.reason;
};

describe("SPV proof parts", () => {
  it("reproduce the mainnet vector V1 exactly", () => {
    const p = v1();
    expect(toHex(p.version)).toBe(V1.version);
    expect(toHex(p.inputVector)).toBe(V1.txInputVector);
    expect(toHex(p.outputVector)).toBe(V1.txOutputVector);
    expect(toHex(p.locktime)).toBe(V1.txLocktime);
    expect(toHex(p.merkleProof)).toBe(V1.merkleProof);
    expect(p.indexInBlock).toBe(V1.txIndexInBlock);
    expect(toHex(p.headers)).toBe(V1.headers);
    expect(toHex(p.txidLE)).toBe(V1.txidLE);
    expect(p.txidDisplay).toBe(V1.txid);
    expect(spvProofHex(p)).toMatchObject({ version: "0x" + V1.version, merkleProof: "0x" + V1.merkleProof, indexInBlock: 129 });
  });

  it("headers may come as a list of 80-byte headers", () => {
    const list = Array.from({ length: 7 }, (_, i) => fromHex(V1.headers.slice(i * 160, (i + 1) * 160)));
    expect(toHex(buildSpvProof({ rawTx: V1.tx, branch: v1BranchDisplay(), pos: 129, headers: list }).headers)).toBe(V1.headers);
  });

  it("V1 verifies: difficulty 6353030562983 of its first header, Σ 44471213940881, the first input and the outputs", () => {
    const r = verifySpvProof(v1());
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.firstHeaderDifficulty).toBe(V1.difficulty);
    expect(r.totalDifficulty).toBe(V1.difficultySum);
    expect(r.headerCount).toBe(7);
    expect(r.blockHash).toBe(V1.firstHeaderHash);
    expect(r.txidDisplay).toBe(V1.txid);
    expect(r.firstInput).toEqual({ txid: Buffer.from(V1.prevoutOutpoint.slice(0, 64), "hex").reverse().toString("hex"), vout: 0 });
    expect(r.outputs).toHaveLength(1);
    expect(r.outputs[0].value).toBe(V1.outputValue);
    expect(toHex(r.outputs[0].script)).toBe("0014" + "86e7303082a6a21d5837176bc808bf4828371ab6");
  });

  it("a flipped merkle node is refused: merkle", () => {
    const p = v1();
    p.merkleProof = Uint8Array.from(p.merkleProof);
    p.merkleProof[32 * 4 + 7] ^= 0x01;
    expect(verifySpvProof(p)).toEqual({ ok: false, reason: "merkle", message: `the merkle proof does not lead from ${V1.txid} at position 129 to the root of header 0` });
  });

  it("indexes that fold like 129 but are not positions (a fraction, a negative twin) are refused", () => {
    expect(refusal({ ...v1(), indexInBlock: 129.5 })).toBe("merkle");
    expect(refusal({ ...v1(), indexInBlock: 129 - 4096 })).toBe("merkle");
  });

  it("position 0 with a one-node proof (a 2-transaction block)", () => {
    const sibling = crypto.randomBytes(32);
    const dsha = (b: Buffer) => crypto.createHash("sha256").update(crypto.createHash("sha256").update(b).digest()).digest();
    const root = dsha(Buffer.concat([Buffer.from(V1.txidLE, "hex"), sibling]));
    const header = Buffer.alloc(80);
    root.copy(header, 36);
    header.writeUInt32LE(0x207fffff, 72);
    for (let n = 0; BigInt("0x" + Buffer.from(dsha(header)).reverse().toString("hex")) > (0x7fffffn << 232n); n++) header.writeUInt32LE(n, 76);
    const display = Buffer.from(sibling).reverse().toString("hex");
    expect(verifySpvProof(buildSpvProof({ rawTx: V1.tx, branch: [display], pos: 0, headers: header })).ok).toBe(true);
    expect(refusal(buildSpvProof({ rawTx: V1.tx, branch: [display], pos: 1, headers: header }))).toBe("merkle");
  });

  it("a wrong position, a short proof and a proof for another header 0 are refused: merkle", () => {
    expect(refusal({ ...v1(), indexInBlock: 128 })).toBe("merkle");
    const p = v1();
    expect(refusal({ ...p, merkleProof: p.merkleProof.subarray(0, p.merkleProof.length - 1) })).toBe("merkle");
    expect(refusal({ ...p, merkleProof: p.merkleProof.subarray(32) })).toBe("merkle");
    expect(refusal({ ...p, headers: p.headers.subarray(80) })).toBe("merkle");
    expect(refusal({ ...p, merkleProof: new Uint8Array(0) })).toBe("merkle");
  });

  it("a broken header link is refused: headers-link, naming the header", () => {
    const p = v1();
    const h = Uint8Array.from(p.headers);
    // Header 3 replaced by header 4: header 3's slot no longer names header 2.
    h.set(p.headers.subarray(320, 400), 240);
    const r = verifySpvProof({ ...p, headers: h });
    expect(r).toMatchObject({ ok: false, reason: "headers-link", headerIndex: 3 });
  });

  it("a header above its target is refused: headers-work", () => {
    const p = v1();
    const h = Uint8Array.from(p.headers);
    h[80 * 5 + 76] ^= 0x01; // header 5's nonce
    // Header 6 then names a parent that no longer exists, but the work check on 5 comes first.
    expect(verifySpvProof({ ...p, headers: h })).toMatchObject({ ok: false, reason: "headers-work", headerIndex: 5 });
  });

  it("a header with an invalid nBits is refused: headers-bits", () => {
    const p = v1();
    const h = Uint8Array.from(p.headers);
    h.set([0x56, 0x34, 0x92, 0x04], 80 * 2 + 72);
    expect(verifySpvProof({ ...p, headers: h })).toMatchObject({ ok: false, reason: "headers-bits", headerIndex: 2 });
  });

  it("headers of a wrong length or none are refused: headers-length", () => {
    const p = v1();
    expect(verifySpvProof({ ...p, headers: p.headers.subarray(0, 479) })).toEqual({ ok: false, reason: "headers-length", message: "headers are 479 bytes, not a non-zero multiple of 80" });
    expect(refusal({ ...p, headers: new Uint8Array(0) })).toBe("headers-length");
  });

  it("vectors that are no transaction, or a txid that is not theirs, are refused", () => {
    const p = v1();
    // The same bytes cut elsewhere still parse, but the parts are not what the contract reads.
    expect(verifySpvProof({ ...p, version: fromHex(V1.version + V1.txInputVector.slice(0, 2)), inputVector: fromHex(V1.txInputVector.slice(2)) }))
      .toEqual({ ok: false, reason: "transaction", message: "version and locktime are 4 bytes each, vectors carry no witness" });
    expect(refusal({ ...p, outputVector: fromHex(V1.txOutputVector + V1.txLocktime.slice(0, 2)), locktime: fromHex(V1.txLocktime.slice(2)) })).toBe("transaction");
    // The witness serialization split into "vectors": marker and witness inside.
    const raw = V1.tx;
    const vinEnd = 12 + V1.txInputVector.length;
    expect(refusal({ ...p, inputVector: fromHex(raw.slice(8, vinEnd)), outputVector: fromHex(raw.slice(vinEnd, raw.length - 8)) })).toBe("transaction");
    expect(verifySpvProof({ ...p, txidDisplay: V1.txidLE })).toEqual({ ok: false, reason: "txid", message: `the vectors hash to ${V1.txid}, not ${V1.txidLE}` });
    expect(refusal({ ...p, outputVector: p.outputVector.subarray(0, 10) })).toBe("transaction");
    expect(refusal({ ...p, version: Uint8Array.from([1, 0, 0]) })).toBe("transaction");
    expect(refusal({ ...p, txidLE: Uint8Array.from(p.txidLE).reverse() })).toBe("txid");
    expect(refusal({ ...p, txidDisplay: V1.txidLE })).toBe("txid");
    // Another output value: a valid transaction, but not the one the merkle proof is for.
    const vout = Uint8Array.from(p.outputVector);
    vout[1] ^= 1;
    expect(refusal({ ...p, outputVector: vout })).toBe("txid");
  });

  it("the 1-transaction-block shortcut: empty proof, index 0, header 0's root = txid", () => {
    // A header whose merkle root is V1's txid, mined at the regtest limit (the SPV rules check no limit).
    const header = new Uint8Array(80);
    header.set(Uint8Array.from(fromHex(V1.txidLE)), 36);
    new DataView(header.buffer).setUint32(72, 0x207fffff, true);
    let p: SpvProof | undefined;
    for (let nonce = 0; nonce < 1000; nonce++) {
      new DataView(header.buffer).setUint32(76, nonce, true);
      p = buildSpvProof({ rawTx: V1.tx, branch: [], pos: 0, headers: header });
      if (verifySpvProof(p).ok) break;
    }
    const r = verifySpvProof(p!);
    expect(r).toMatchObject({ ok: true, headerCount: 1, firstHeaderDifficulty: 0n, totalDifficulty: 0n });
    expect(refusal({ ...p!, indexInBlock: 1 })).toBe("merkle");
  });

  it("a 64-byte stripped transaction is refused: it could pose as an inner merkle node", () => {
    // version 4 + count 1 + input 41 + count 1 + output (8 + 1 + 4-byte script) 13 + locktime 4 = 64 bytes.
    const raw = "02000000" + "01" + "11".repeat(32) + "00000000" + "00" + "ffffffff" + "01" + "e803000000000000" + "04" + "6a020102" + "00000000";
    expect(raw.length / 2).toBe(64);
    const p = buildSpvProof({ rawTx: raw, branch: [], pos: 0, headers: V1.headers.slice(0, 160) });
    expect(verifySpvProof(p)).toEqual({ ok: false, reason: "ambiguous-size", message: "a 64-byte transaction cannot be told from an inner merkle node" });
  });

  it("build refuses a negative position", () => {
    expect(() => buildSpvProof({ rawTx: V1.tx, branch: [], pos: -1, headers: V1.headers })).toThrow(/position/);
    expect(() => buildSpvProof({ rawTx: V1.tx, branch: ["zz"], pos: 0, headers: V1.headers })).toThrow("merkle node is not hex");
  });
});
