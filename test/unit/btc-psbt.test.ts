import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as btc from "@scure/btc-signer";
import { HDKey } from "@scure/bip32";
import { mnemonicToSeedSync } from "@scure/bip39";
import { secp256k1 } from "@noble/curves/secp256k1";
import { sha256 } from "@noble/hashes/sha2";
import { ripemd160 } from "@noble/hashes/legacy";
import { base64 } from "@scure/base";
import { Bip84Account, CHANGE, openMnemonic, RECEIVE } from "../../src/lib/btc/wallet/account";
import { selectCoins, type Utxo } from "../../src/lib/btc/wallet/coin-select";
import { buildFundingTx, signHot, unsignedTxid } from "../../src/lib/btc/wallet/funding-tx";
import { acceptSignedPsbt, decodePsbt, psbtBase64, psbtDifference, readPsbtFile, writePsbtFile } from "../../src/lib/btc/wallet/psbt";
import { parsePsbtMaps, parseTx } from "../helpers/btc-tx";

/**
 * Hot signing and the PSBT round trip. The cold signer is not keepctl: the test derives the keys
 * itself from the mnemonic (@scure/bip32 directly) and signs with btc-signer's Transaction.fromPSBT
 * + signIdx, as a hardware wallet or Bitcoin Core would sign what keepctl wrote. Signatures are
 * verified in the test with @noble/curves against the BIP143 digest, and the PSBT's fields are read
 * with the test's own BIP174 parser.
 */
const MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const master = HDKey.fromMasterSeed(mnemonicToSeedSync(MNEMONIC), { public: 0x043587cf, private: 0x04358394 });
const accountKey = master.derive("m/84'/1'/0'");
const DESCRIPTOR = `wpkh([73c5da0a/84h/1h/0h]${accountKey.publicExtendedKey}/<0;1>/*)`;
const account = Bip84Account.fromWatchOnly(DESCRIPTOR, "regtest", "--btc-xpub");
const DEPOSIT_A = "0014" + "a1".repeat(20);
const DEPOSIT_B = "0014" + "b2".repeat(20);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-psbt-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const coins: Utxo[] = [
  { txid: "11".repeat(32), vout: 0, valueSats: 300_000_000n, scriptHex: account.scriptHex(RECEIVE, 0), confirmations: 10, chain: RECEIVE, index: 0 },
  { txid: "22".repeat(32), vout: 3, valueSats: 250_000_000n, scriptHex: account.scriptHex(CHANGE, 2), confirmations: 2, chain: CHANGE, index: 2 },
];
function fundingTx(): btc.Transaction {
  const s = selectCoins({ utxos: coins, payments: [{ scriptHex: DEPOSIT_A, valueSats: 100_000_000n }, { scriptHex: DEPOSIT_B, valueSats: 400_000_000n }], feeRateSatVb: 7, maxFeeRateSatVb: 50, changeScriptHex: account.scriptHex(CHANGE, 3) });
  return buildFundingTx(account, s, { chain: CHANGE, index: 3 });
}

/** The independent cold signer: keys from the PSBT's bip32Derivation paths, derived from the master here. */
function coldSign(psbt: string, opts: { only?: number } = {}): string {
  const tx = btc.Transaction.fromPSBT(base64.decode(psbt));
  for (let i = 0; i < tx.inputsLength; i++) {
    if (opts.only !== undefined && i !== opts.only) continue;
    const [, { fingerprint, path: p }] = tx.getInput(i).bip32Derivation![0];
    expect(fingerprint).toBe(master.fingerprint);
    let k = master;
    for (const step of p) k = k.deriveChild(step);
    tx.signIdx(k.privateKey!, i);
  }
  return base64.encode(tx.toPSBT());
}

/** BIP143 check in the test: each witness [sig, pubkey] against the digest of the spent output. */
function verifyRaw(rawHex: string, spent: { script: string; amount: bigint }[]): void {
  const parsed = parseTx(rawHex);
  const tx = btc.Transaction.fromRaw(Buffer.from(rawHex, "hex"));
  parsed.inputs.forEach((input, i) => {
    const [sig, pub] = input.witness;
    expect(Buffer.from(ripemd160(sha256(pub))).toString("hex")).toBe(spent[i].script.slice(4));
    expect(sig[sig.length - 1]).toBe(1); // SIGHASH_ALL
    const scriptCode = Uint8Array.from(Buffer.from(`76a914${spent[i].script.slice(4)}88ac`, "hex"));
    const digest = tx.preimageWitnessV0(i, scriptCode, 1, spent[i].amount);
    expect(secp256k1.verify(sig.subarray(0, -1), digest, pub, { format: "der", prehash: false })).toBe(true);
    // And the digest of another amount must not verify (the signature commits to the amount).
    const other = tx.preimageWitnessV0(i, scriptCode, 1, spent[i].amount + 1n);
    expect(secp256k1.verify(sig.subarray(0, -1), other, pub, { format: "der", prehash: false })).toBe(false);
  });
}

describe("hot signing", () => {
  it("signs with the derived keys; the signatures verify against BIP143 digests computed in the test", async () => {
    const hot = await openMnemonic(MNEMONIC, "regtest");
    const tx = buildFundingTx(hot.account, selectCoins({ utxos: coins, payments: [{ scriptHex: DEPOSIT_A, valueSats: 500_000_000n }], feeRateSatVb: 3, maxFeeRateSatVb: 50, changeScriptHex: account.scriptHex(CHANGE, 3) }), { chain: CHANGE, index: 3 });
    const idBefore = unsignedTxid(tx);
    const signed = signHot(tx, hot.account, hot.signer);
    expect(signed.txid).toBe(idBefore);
    const parsed = parseTx(signed.rawHex);
    expect(signed.vsize).toBe(parsed.vsize);
    expect(parsed.version).toBe(2);
    expect(parsed.inputs.every((i) => i.sequence === 0xfffffffd)).toBe(true);
    expect(parsed.outputs[0]).toEqual({ value: 500_000_000n, script: DEPOSIT_A });
    verifyRaw(signed.rawHex, coins.map((c) => ({ script: c.scriptHex, amount: c.valueSats })));
    expect(signed.feeSats).toBe(550_000_000n - parsed.outputs.reduce((a, o) => a + o.value, 0n));
    expect(Number(signed.feeSats) / parsed.vsize).toBeGreaterThanOrEqual(3);
  });
  it("refuses an input not derived from the wallet", async () => {
    const hot = await openMnemonic(MNEMONIC, "regtest");
    // The same key under another master fingerprint: not what this seed wrote.
    const stranger = Bip84Account.fromWatchOnly(DESCRIPTOR.replace("73c5da0a", "01020304"), "regtest", "x");
    const s = selectCoins({ utxos: coins, payments: [{ scriptHex: DEPOSIT_A, valueSats: 1_000_000n }], feeRateSatVb: 1, maxFeeRateSatVb: 5, changeScriptHex: account.scriptHex(CHANGE, 3) });
    expect(() => signHot(buildFundingTx(stranger, s, { chain: CHANGE, index: 3 }), hot.account, hot.signer)).toThrow(/input 0 is not derived from this wallet/);
  });
  it("refuses a coin that is not paid to the address it claims", () => {
    const wrong = { ...coins[0], index: 5 };
    expect(() => buildFundingTx(account, { ...selectCoins({ utxos: [coins[0]], payments: [{ scriptHex: DEPOSIT_A, valueSats: 1_000_000n }], feeRateSatVb: 1, maxFeeRateSatVb: 5, changeScriptHex: account.scriptHex(CHANGE, 3) }), inputs: [wrong] }, { chain: CHANGE, index: 3 })).toThrow(/is not paid to this wallet's address 0\/5/);
  });
});

describe("PSBT (BIP174) for a cold signer", () => {
  it("carries witnessUtxo and bip32Derivation (master fingerprint + full path) for every input and the change output", () => {
    const maps = parsePsbtMaps(base64.decode(psbtBase64(fundingTx())));
    expect(maps.inputs).toHaveLength(2);
    const fp = "73c5da0a";
    const le = (n: number) => Buffer.from(Uint32Array.of(n).buffer).toString("hex");
    const pathHex = (chain: number, index: number) => fp + [0x80000054, 0x80000001, 0x80000000, chain, index].map(le).join("");
    maps.inputs.forEach((m, i) => {
      const utxo = m.entries.find((e) => e.type === 0x01);
      expect(utxo, `input ${i} witnessUtxo`).toBeDefined();
      // value (8 bytes LE) + script length + script
      expect(utxo!.value.slice(18)).toBe(coins[i].scriptHex);
      const der = m.entries.filter((e) => e.type === 0x06);
      expect(der).toHaveLength(1);
      expect(der[0].key).toBe(Buffer.from(account.publicKey(coins[i].chain, coins[i].index)).toString("hex"));
      expect(der[0].value).toBe(pathHex(coins[i].chain, coins[i].index));
    });
    // payments carry nothing of ours; the change output names its key
    expect(maps.outputs[0].entries).toEqual([]);
    expect(maps.outputs[1].entries).toEqual([]);
    const changeDer = maps.outputs[2].entries.filter((e) => e.type === 0x02);
    expect(changeDer.map((e) => e.value)).toEqual([pathHex(1, 3)]);
  });
  it("round trip: written, signed by an independent signer, read back, finalized, extracted, verified", () => {
    const expected = fundingTx();
    const file = path.join(dir, "funding.psbt");
    writePsbtFile(file, expected);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const signedFile = path.join(dir, "signed.psbt");
    fs.writeFileSync(signedFile, coldSign(fs.readFileSync(file, "utf8").trim()));
    const done = acceptSignedPsbt(expected, readPsbtFile(signedFile), "signed.psbt");
    expect(done.txid).toBe(unsignedTxid(expected));
    const parsed = parseTx(done.rawHex);
    expect(parsed.outputs.slice(0, 2)).toEqual([{ value: 100_000_000n, script: DEPOSIT_A }, { value: 400_000_000n, script: DEPOSIT_B }]);
    verifyRaw(done.rawHex, coins.map((c) => ({ script: c.scriptHex, amount: c.valueSats })));
  });
  it("accepts a signer that finalized itself (as Bitcoin Core's walletprocesspsbt does), and the binary form", () => {
    const expected = fundingTx();
    const tx = btc.Transaction.fromPSBT(base64.decode(coldSign(psbtBase64(expected))));
    tx.finalize();
    const bin = tx.toPSBT();
    expect(acceptSignedPsbt(expected, decodePsbt(bin, "x"), "x").txid).toBe(unsignedTxid(expected));
  });
  it.each([
    ["an output amount", (t: btc.Transaction) => t.updateOutput(0, { amount: 99_999_999n }), /output 0 pays 99999999 sat, keepctl wrote 100000000 sat/],
    ["an output script", (t: btc.Transaction) => t.updateOutput(1, { script: Buffer.from("0014" + "cc".repeat(20), "hex") }), /output 1 pays another script/],
    ["an added output", (t: btc.Transaction) => t.addOutput({ script: Buffer.from("0014" + "dd".repeat(20), "hex"), amount: 1000n }), /4 outputs, keepctl wrote 3/],
  ])("refuses a signed PSBT whose transaction differs: %s", (_what, change, error) => {
    const expected = fundingTx();
    const t = btc.Transaction.fromPSBT(base64.decode(psbtBase64(expected)));
    change(t);
    const signed = decodePsbt(coldSign(base64.encode(t.toPSBT())), "s");
    let err: { code?: string; message?: string } = {};
    try {
      acceptSignedPsbt(expected, signed, "signed.psbt");
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.code).toBe("PSBT_MISMATCH");
    expect(err.message).toMatch(error);
    expect(err.message).toMatch(/^signed\.psbt is not the transaction keepctl wrote: /);
  });
  it("refuses another version or locktime", () => {
    const expected = fundingTx();
    const copy = (opts: { version?: number; lockTime?: number }) => {
      const t = new btc.Transaction({ version: opts.version ?? 2, lockTime: opts.lockTime ?? 0, allowUnknownOutputs: true });
      for (let i = 0; i < expected.inputsLength; i++) t.addInput(expected.getInput(i));
      for (let i = 0; i < expected.outputsLength; i++) t.addOutput({ script: expected.getOutput(i).script, amount: expected.getOutput(i).amount });
      return t;
    };
    expect(psbtDifference(expected, copy({}))).toBeUndefined();
    expect(() => acceptSignedPsbt(expected, copy({ lockTime: 5 }), "p")).toThrow(/locktime 5, keepctl wrote 0/);
    expect(() => acceptSignedPsbt(expected, copy({ version: 1 }), "p")).toThrow(/version 1, keepctl wrote 2/);
  });
  it("refuses a swapped input, another sequence, a lying witnessUtxo", () => {
    const expected = fundingTx();
    const other = fundingTx();
    other.updateInput(1, { witnessUtxo: { script: Buffer.from(coins[1].scriptHex, "hex"), amount: 1n } }, true);
    expect(() => acceptSignedPsbt(expected, other, "p")).toThrow(/input 1's spent output \(witnessUtxo\) is not the one keepctl wrote/);
    const t = new btc.Transaction({ version: 2, allowUnknownOutputs: true });
    for (let i = 0; i < expected.inputsLength; i++) {
      const inp = expected.getInput(i);
      t.addInput({ txid: i === 0 ? Buffer.from("33".repeat(32), "hex") : inp.txid, index: inp.index, sequence: inp.sequence, witnessUtxo: inp.witnessUtxo });
    }
    for (let i = 0; i < expected.outputsLength; i++) t.addOutput({ script: expected.getOutput(i).script, amount: expected.getOutput(i).amount });
    expect(() => acceptSignedPsbt(expected, t, "p")).toThrow(/input 0 spends 3333.*:0, keepctl wrote 1111.*:0/);
    const seq = btc.Transaction.fromPSBT(expected.toPSBT());
    seq.updateInput(0, { sequence: 0xffffffff }, true);
    expect(() => acceptSignedPsbt(expected, seq, "p")).toThrow(/input 0 has nSequence 4294967295, keepctl wrote 4294967293/);
  });
  it("refuses a partly signed PSBT, a bad signature, junk", () => {
    const expected = fundingTx();
    expect(() => acceptSignedPsbt(expected, decodePsbt(coldSign(psbtBase64(expected), { only: 0 }), "p"), "p")).toThrow("p is not fully signed: input 1 has no signature");
    // A signature by another key for input 1 (the signer used the wrong seed).
    const t = btc.Transaction.fromPSBT(base64.decode(coldSign(psbtBase64(expected), { only: 0 })));
    const stranger = HDKey.fromMasterSeed(new Uint8Array(32).fill(7)).derive("m/84'/1'/0'/1/2");
    t.updateInput(1, { partialSig: [[account.publicKey(CHANGE, 2), secp256k1.sign(new Uint8Array(32).fill(1), stranger.privateKey!).toDERRawBytes()]] }, true);
    let err: { code?: string; message?: string } = {};
    try {
      acceptSignedPsbt(expected, t, "p");
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.code).toBe("PSBT_INVALID");
    expect(err.message).toMatch(/input 1 (is not signed SIGHASH_ALL|'s signature does not verify)/);
    expect(() => decodePsbt("not a psbt at all", "f")).toThrow(/f is not a valid PSBT|neither base64/);
    expect(() => decodePsbt(base64.encode(new Uint8Array([1, 2, 3])), "f")).toThrow(/f is not a valid PSBT/);
    expect(() => readPsbtFile(path.join(dir, "missing.psbt"))).toThrow(/cannot read PSBT file/);
  });
});
