import crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import { InvalidBitcoinData, displayToInternal, fromHex, hash256, internalToDisplay, leToBigInt, normalizeHash, toHex } from "../../src/lib/btc/bytes";
import { DIFF1_TARGET, checkHeaderChain, difficultyOfTarget, meetsTarget, parseHeader, splitHeaders, targetFromBits, workOfTarget } from "../../src/lib/btc/header";
import { merkleRoot, verifyMerkleBranch } from "../../src/lib/btc/merkle";
import { BTC_NETWORKS, NETWORK_PARAMS, isBtcNetwork } from "../../src/lib/btc/networks";
import { electrumScriptHash, esploraScriptHash, inputSpending, parseTransaction, scriptAddress } from "../../src/lib/btc/tx";
import { BLOCK1_HASH, BLOCK_100000, GENESIS_FIELDS, GENESIS_P2PKH, MAINNET_HEADERS_0_1, V1, v1BranchDisplay } from "../helpers/btc-vectors";

// The oracle for hashes: node:crypto, not the module under test.
const sha = (b: Buffer) => crypto.createHash("sha256").update(b).digest();
const dsha = (b: Buffer) => sha(sha(b));
const display = (b: Buffer) => Buffer.from(b).reverse().toString("hex");

function genesisHeader(f: { merkle: string; time: number; bits: number; nonce: number }): Buffer {
  const h = Buffer.alloc(80);
  h.writeUInt32LE(1, 0);
  Buffer.from(f.merkle, "hex").reverse().copy(h, 36);
  h.writeUInt32LE(f.time, 68);
  h.writeUInt32LE(f.bits, 72);
  h.writeUInt32LE(f.nonce, 76);
  return h;
}

describe("byte order and hashes", () => {
  it("hash256 is double SHA-256; display order is the reverse of internal", () => {
    const data = Buffer.from("keepctl", "utf8");
    expect(toHex(hash256(data))).toBe(dsha(data).toString("hex"));
    const h = "00000000000000000000cb86b70db7b77ab82effbc61523480df5ada02384d99";
    expect(toHex(displayToInternal(h))).toBe(Buffer.from(h, "hex").reverse().toString("hex"));
    expect(internalToDisplay(displayToInternal(h))).toBe(h);
  });

  it("fromHex takes an optional 0x and refuses odd lengths and non-hex", () => {
    expect(toHex(fromHex("0xABcd"))).toBe("abcd");
    expect(() => fromHex("abc")).toThrow(InvalidBitcoinData);
    expect(() => fromHex("zz")).toThrow(/not hex/);
    expect(() => displayToInternal("ab")).toThrow(/32 bytes/);
    expect(() => normalizeHash("ab".repeat(31))).toThrow(/64 hex/);
    expect(normalizeHash("AB".repeat(32))).toBe("ab".repeat(32));
  });

  it("leToBigInt reads the least significant byte first", () => {
    expect(leToBigInt(Uint8Array.from([0x01, 0x02]))).toBe(0x0201n);
    expect(leToBigInt(new Uint8Array(0))).toBe(0n);
  });
});

describe("headers", () => {
  it.each(BTC_NETWORKS)("%s: the genesis hash is hash256 of its genesis header, which meets the network's limit", (n) => {
    const raw = genesisHeader(GENESIS_FIELDS[n]);
    expect(display(dsha(raw))).toBe(NETWORK_PARAMS[n].genesisHash);
    const h = parseHeader(raw);
    expect(h.hash).toBe(NETWORK_PARAMS[n].genesisHash);
    expect(targetFromBits(h.bits) <= NETWORK_PARAMS[n].powLimit).toBe(true);
    expect(meetsTarget(raw, targetFromBits(h.bits))).toBe(true);
  });

  it("parses mainnet headers 0 and 1 (the protocol document's example) and links them", () => {
    const [g, b1] = splitHeaders(MAINNET_HEADERS_0_1);
    const h0 = parseHeader(g);
    const h1 = parseHeader(b1);
    expect(h0).toMatchObject({ version: 1, prevHash: "0".repeat(64), merkleRoot: GENESIS_FIELDS.mainnet.merkle, time: 1231006505, bits: 0x1d00ffff, nonce: 2083236893, hash: NETWORK_PARAMS.mainnet.genesisHash });
    expect(h1.hash).toBe(BLOCK1_HASH);
    expect(h1.prevHash).toBe(h0.hash);
    expect(h1.time).toBe(1231469665);
    const chain = checkHeaderChain([g, b1], { powLimit: NETWORK_PARAMS.mainnet.powLimit });
    expect(chain.ok).toBe(true);
    // Bitcoin Core reports chainwork 0x200020002 at height 1: 2 × 2^256 / (DIFF1 + 1).
    if (chain.ok) expect(chain.work).toBe(0x200020002n);
  });

  it("parses V1's first header (version, time, bits) and its hash", () => {
    const h = parseHeader(splitHeaders(V1.headers)[0]);
    expect(h.hash).toBe(V1.firstHeaderHash);
    expect(h.time).toBe(V1.firstHeaderTime);
    expect(h.bits).toBe(0x172c4e11);
    expect(h.version).toBe(0x3fffe000);
    expect(() => parseHeader(new Uint8Array(79))).toThrow(/80 bytes/);
    expect(parseHeader(V1.headers.slice(0, 160)).hash).toBe(V1.firstHeaderHash);
    expect(() => parseHeader("zz")).toThrow("block header is not hex");
    expect(() => splitHeaders("zz")).toThrow("block headers is not hex");
    expect(() => splitHeaders("00".repeat(81))).toThrow(/multiple of 80/);
  });

  it("decodes nBits like Bitcoin Core (arith_uint256 SetCompact cases) and refuses invalid encodings", () => {
    expect(targetFromBits(0x1d00ffff)).toBe(DIFF1_TARGET);
    expect(DIFF1_TARGET).toBe(BigInt("0xffff" + "00".repeat(26)));
    expect(targetFromBits(0x01123456)).toBe(0x12n);
    expect(targetFromBits(0x02123456)).toBe(0x1234n);
    expect(targetFromBits(0x03123456)).toBe(0x123456n);
    expect(targetFromBits(0x04123456)).toBe(0x12345600n);
    expect(targetFromBits(0x05009234)).toBe(0x92340000n);
    expect(targetFromBits(0x20123456)).toBe(BigInt("0x123456" + "00".repeat(29)));
    expect(targetFromBits(0x207fffff)).toBe(NETWORK_PARAMS.regtest.powLimit);
    expect(targetFromBits(0x1e0377ae)).toBe(NETWORK_PARAMS.signet.powLimit);
    expect(() => targetFromBits(0x04923456)).toThrow(/negative/);
    expect(() => targetFromBits(0x01003456)).toThrow("nBits 0x01003456 encodes a zero target");
    expect(() => targetFromBits(0x21010000)).toThrow("nBits 0x21010000 encodes a target past 256 bits"); // exactly 2^256
    expect(() => targetFromBits(0xffffffff)).toThrow(/negative/);
    expect(() => targetFromBits(0x100000000)).toThrow("nBits 4294967296 is not a 32-bit value");
    expect(() => targetFromBits(1.5)).toThrow("nBits 1.5 is not a 32-bit value");
    expect(() => targetFromBits(0x00000000)).toThrow(/zero/);
    expect(() => targetFromBits(0xff123456)).toThrow(/256 bits/);
    expect(() => targetFromBits(0x22010000)).toThrow(/256 bits/);
    // The sign bit with a zero mantissa is zero, not negative.
    expect(() => targetFromBits(0x04800000)).toThrow(/zero/);
    expect(() => targetFromBits(-1)).toThrow("nBits -1 is not a 32-bit value");
  });

  it("difficulty is DIFF1 / target (integer), work is 2^256 / (target + 1)", () => {
    expect(difficultyOfTarget(DIFF1_TARGET)).toBe(1n);
    expect(difficultyOfTarget(targetFromBits(0x207fffff))).toBe(0n);
    expect(difficultyOfTarget(targetFromBits(0x172c4e11))).toBe(V1.difficulty);
    expect(workOfTarget(DIFF1_TARGET)).toBe(0x100010001n);
    expect(workOfTarget((1n << 256n) - 1n)).toBe(1n);
    expect(workOfTarget(1n)).toBe(1n << 255n);
    // A harder target is more work.
    expect(workOfTarget(targetFromBits(0x172c4e11)) > workOfTarget(DIFF1_TARGET)).toBe(true);
  });

  it("proof of work: hash as a little-endian number ≤ target, equality included", () => {
    const raw = splitHeaders(V1.headers)[0];
    const value = BigInt("0x" + display(dsha(Buffer.from(raw))));
    expect(meetsTarget(raw, value)).toBe(true);
    expect(meetsTarget(raw, value - 1n)).toBe(false);
  });

  it("V1's 7 headers form a chain; Σ difficulty is the vector's", () => {
    const r = checkHeaderChain(splitHeaders(V1.headers), { powLimit: NETWORK_PARAMS.mainnet.powLimit });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.headers).toHaveLength(7);
    expect(r.difficultySum).toBe(V1.difficultySum);
    expect(r.work).toBe(7n * workOfTarget(targetFromBits(0x172c4e11)));
  });

  it("reports the first failing header and why: link, own target, bits, the network's limit", () => {
    const raws = splitHeaders(V1.headers).map((r) => Uint8Array.from(r));
    // Starting past header 0, its parent is not header 2's.
    const swapped = [raws[0], raws[2], raws[1]];
    expect(checkHeaderChain(swapped)).toMatchObject({ ok: false, index: 1, reason: "link", message: `header 1 (block ${parseHeader(raws[2]).hash}) names parent block ${parseHeader(raws[1]).hash}, expected block ${V1.firstHeaderHash}` });
    expect(checkHeaderChain(raws, { prevHash: "11".repeat(32) })).toMatchObject({ ok: false, index: 0, reason: "link" });
    const tampered = raws.map((r) => Uint8Array.from(r));
    tampered[3][76] ^= 1; // the nonce: its hash is now (almost surely) far above the target
    expect(checkHeaderChain(tampered)).toMatchObject({ ok: false, index: 3, reason: "work", message: `header 3 (block ${parseHeader(tampered[3]).hash}) does not meet its own target (nBits 0x172c4e11)` });
    const badBits = raws.map((r) => Uint8Array.from(r));
    badBits[2].set([0x56, 0x34, 0x92, 0x04], 72);
    expect(checkHeaderChain(badBits)).toMatchObject({ ok: false, index: 2, reason: "bits", message: "header 2: nBits 0x04923456 encodes a negative target" });
    // A regtest-easy header is refused on mainnet even though it meets its own target.
    const easy = Buffer.alloc(80);
    easy.writeUInt32LE(0x207fffff, 72);
    for (let n = 0; ; n++) {
      easy.writeUInt32LE(n, 76);
      if (meetsTarget(easy, targetFromBits(0x207fffff))) break;
    }
    expect(checkHeaderChain([easy]).ok).toBe(true);
    expect(checkHeaderChain([easy], { powLimit: NETWORK_PARAMS.mainnet.powLimit })).toMatchObject({ ok: false, index: 0, reason: "pow-limit", message: `header 0 (block ${parseHeader(easy).hash}) claims nBits 0x207fffff, easier than the network allows` });
    // At the limit is allowed.
    expect(checkHeaderChain([easy], { powLimit: NETWORK_PARAMS.regtest.powLimit }).ok).toBe(true);
  });
});

describe("merkle", () => {
  it("V1's branch (display order, as servers give it) leads to its block's merkle root", () => {
    const root = parseHeader(splitHeaders(V1.headers)[0]).merkleRoot;
    const branch = v1BranchDisplay();
    expect(branch).toHaveLength(12);
    expect(verifyMerkleBranch(V1.txid, branch, V1.txIndexInBlock, root)).toBe(true);
    expect(verifyMerkleBranch(V1.txid, branch, V1.txIndexInBlock ^ 1, root)).toBe(false);
    const flipped = [...branch];
    flipped[5] = flipped[5].slice(0, -1) + (flipped[5].endsWith("0") ? "1" : "0");
    expect(verifyMerkleBranch(V1.txid, flipped, V1.txIndexInBlock, root)).toBe(false);
    // A position past the branch's depth would have its high bits ignored: refused.
    expect(verifyMerkleBranch(V1.txid, branch, V1.txIndexInBlock + 4096, root)).toBe(false);
    expect(verifyMerkleBranch(V1.txid, branch, -1, root)).toBe(false);
    // Positions that fold like 129 but are not positions: a fraction, a negative twin (129 - 2^12).
    expect(verifyMerkleBranch(V1.txid, branch, 129.5, root)).toBe(false);
    expect(verifyMerkleBranch(V1.txid, branch, 129 - 4096, root)).toBe(false);
    expect(() => verifyMerkleBranch("zz", branch, 129, root)).toThrow("txid is not hex");
    expect(() => verifyMerkleBranch(V1.txid, ["zz"], 0, root)).toThrow("merkle node is not hex");
    expect(() => verifyMerkleBranch(V1.txid, branch, 129, "zz")).toThrow("merkle root is not hex");
  });

  it("a 1-transaction block: empty branch, pos 0, root = txid", () => {
    expect(verifyMerkleBranch(V1.txid, [], 0, V1.txid)).toBe(true);
    expect(verifyMerkleBranch(V1.txid, [], 1, V1.txid)).toBe(false);
  });

  it("the root of a txid list: mainnet block 100000, and odd levels against a recursive reference", () => {
    expect(merkleRoot(BLOCK_100000.txids)).toBe(BLOCK_100000.merkleRoot);
    const reference = (leaves: Buffer[]): Buffer => {
      if (leaves.length === 1) return leaves[0];
      const up: Buffer[] = [];
      for (let i = 0; i < leaves.length; i += 2) up.push(dsha(Buffer.concat([leaves[i], leaves[Math.min(i + 1, leaves.length - 1)]])));
      return reference(up);
    };
    for (const n of [1, 2, 3, 5, 7, 8, 11]) {
      const txids = Array.from({ length: n }, (_, i) => display(sha(Buffer.from([n, i]))));
      expect(merkleRoot(txids)).toBe(display(reference(txids.map((t) => Buffer.from(t, "hex").reverse()))));
    }
    expect(merkleRoot([V1.txid])).toBe(V1.txid);
    expect(() => merkleRoot([])).toThrow("a block has at least one transaction");
    expect(() => merkleRoot(["zz"])).toThrow("txid is not hex");
  });
});

describe("transactions and scripts", () => {
  it("splits V1 (segwit) into the vector's version, vectors and locktime; txid from the stripped serialization", () => {
    const tx = parseTransaction(V1.tx);
    expect(tx.hasWitness).toBe(true);
    expect(toHex(tx.version)).toBe(V1.version);
    expect(toHex(tx.inputVector)).toBe(V1.txInputVector);
    expect(toHex(tx.outputVector)).toBe(V1.txOutputVector);
    expect(toHex(tx.locktime)).toBe(V1.txLocktime);
    expect(tx.txid).toBe(V1.txid);
    expect(toHex(tx.txidLE)).toBe(V1.txidLE);
    expect(tx.txid).toBe(display(dsha(Buffer.from(V1.version + V1.txInputVector + V1.txOutputVector + V1.txLocktime, "hex"))));
    expect(tx.outputs[0].value).toBe(V1.outputValue);
    expect(scriptAddress(tx.outputs[0].script, "mainnet")).toBe(V1.outputAddress);
    expect(scriptAddress(tx.outputs[0].script, "regtest")).toMatch(/^bcrt1q/);
    expect(scriptAddress(Uint8Array.from([0x6a, 0x01, 0x00]), "mainnet")).toBeUndefined();
    const prevTxid = display(Buffer.from(V1.prevoutOutpoint.slice(0, 64), "hex"));
    expect(tx.inputs[0]).toMatchObject({ txid: prevTxid, vout: 0 });
    expect(inputSpending(tx, { txid: prevTxid, vout: 0 })).toBe(0);
    expect(inputSpending(tx, { txid: prevTxid, vout: 1 })).toBe(-1);
  });

  it("a legacy (no-witness) serialization parses to the same txid; junk and trailing bytes are refused", () => {
    const legacy = V1.version + V1.txInputVector + V1.txOutputVector + V1.txLocktime;
    const tx = parseTransaction(legacy);
    expect(tx.hasWitness).toBe(false);
    expect(tx.txid).toBe(V1.txid);
    expect(() => parseTransaction(legacy + "00")).toThrow(InvalidBitcoinData);
    expect(() => parseTransaction("0100")).toThrow(/not a Bitcoin transaction/);
  });

  it("script hashes: Electrum's is sha256 reversed (the protocol document's example), Esplora's is not reversed", () => {
    const script = fromHex(GENESIS_P2PKH.script);
    expect(electrumScriptHash(script)).toBe(GENESIS_P2PKH.electrum);
    expect(esploraScriptHash(script)).toBe(GENESIS_P2PKH.sha256);
    const other = fromHex("0014" + "86e7303082a6a21d5837176bc808bf4828371ab6");
    expect(electrumScriptHash(other)).toBe(display(sha(Buffer.from(other))));
  });

  it("network names", () => {
    expect(isBtcNetwork("testnet4")).toBe(true);
    expect(isBtcNetwork("testnet3")).toBe(false);
  });
});
