import { describe, expect, it } from "vitest";
import { sha256 } from "@noble/hashes/sha2";
import { CHANGE, RECEIVE, buildFundingTx, openMnemonic, selectCoins, signHot, type HotAccount, type Utxo } from "../../src/lib/btc/wallet";
import { decideFundingBump } from "../../src/lib/tbtc/mint/funding-bump-decide";
import { stuckTxOf } from "../../src/lib/tbtc/mint/funding-bump";
import { buildFundingChild } from "../../src/lib/tbtc/mint/funding-child";
import type { FundingRecord } from "../../src/lib/tbtc/mint/mint-journal";
import { parseTx } from "../helpers/btc-tx";

/**
 * The CPFP child of a stuck funding, built and signed by keepctl, then read back with the test's
 * own transaction parser (test/helpers/btc-tx.ts, from BIP144/BIP141): it spends exactly the
 * funding's change output, pays exactly one output to our fresh change address, its fee
 * (change − output) lifts parent + child, measured from their bytes, to the target rate, the
 * output is above the P2WPKH dust threshold (294 sat: (31 + 67) × 3, Core's policy), and the
 * deposits' outputs are not touched.
 */
const ABANDON = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const LOT = 100_000_000n;
const deposit = (i: number) => ({ deposit: `0x${String(i).repeat(40)}`, scriptHex: "0014" + (i + 16).toString(16).repeat(20) });

let hot: HotAccount;
const wallet = async () => (hot ??= await openMnemonic(ABANDON, "regtest"));

/** A funding of `n` lots from one confirmed coin at `rate` sat/vB, with change to change/0: as mint-funding.ts records it. */
async function stuckFunding(n: number, rate: number, coinSats = 12n * LOT): Promise<FundingRecord> {
  const { account, signer } = await wallet();
  const coin: Utxo = { txid: "cd".repeat(32), vout: 0, valueSats: coinSats, scriptHex: account.scriptHex(RECEIVE, 0), confirmations: 5, chain: RECEIVE, index: 0 };
  const targets = Array.from({ length: n }, (_, i) => deposit(i + 1));
  const sel = selectCoins({ utxos: [coin], payments: targets.map((t) => ({ scriptHex: t.scriptHex, valueSats: LOT })), feeRateSatVb: rate, maxFeeRateSatVb: 100, changeScriptHex: account.scriptHex(CHANGE, 0) });
  const signed = signHot(buildFundingTx(account, sel, sel.change ? { chain: CHANGE, index: 0 } : undefined), account, signer);
  return {
    txid: signed.txid, rawHex: signed.rawHex, feeSats: signed.feeSats, vsize: signed.vsize, broadcast: true, inputs: [`${coin.txid}:0`],
    coins: [{ txid: coin.txid, vout: 0, valueSats: coin.valueSats, scriptHex: coin.scriptHex, chain: RECEIVE, index: 0 }],
    change: sel.change && { vout: n, scriptHex: sel.change.scriptHex, valueSats: sel.change.valueSats, chain: CHANGE, index: 0 },
    outputs: targets.map((t, vout) => ({ deposit: t.deposit, vout, valueSats: LOT, scriptHex: t.scriptHex })),
  };
}

const txidOf = (rawHex: string) => {
  // The legacy serialization (no marker, flag, witnesses) hashed twice, byte-reversed: the txid, by its definition.
  const p = parseTx(rawHex);
  const le = (n: number, bytes: number) => Buffer.from(Array.from({ length: bytes }, (_, i) => Number((BigInt(n) >> BigInt(8 * i)) & 0xffn)));
  const u64 = (v: bigint) => Buffer.from(Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn)));
  const parts: Buffer[] = [le(p.version, 4), Buffer.from([p.inputs.length])];
  for (const i of p.inputs) parts.push(Buffer.from(i.txid, "hex").reverse(), le(i.vout, 4), Buffer.from([0]), le(i.sequence, 4));
  parts.push(Buffer.from([p.outputs.length]));
  for (const o of p.outputs) parts.push(u64(o.value), Buffer.from([o.script.length / 2]), Buffer.from(o.script, "hex"));
  parts.push(le(p.lockTime, 4));
  return Buffer.from(sha256(sha256(Buffer.concat(parts)))).reverse().toString("hex");
};

describe("buildFundingChild (CPFP)", () => {
  it("spends the change, one output to our fresh change address, the package at the target measured from the bytes", async () => {
    const { account, signer } = await wallet();
    const parent = await stuckFunding(3, 1);
    const parsedParent = parseTx(parent.rawHex);
    const d = decideFundingBump({ funding: stuckTxOf(parent)!, targetRate: 1.2, maxRate: 100, watchOnly: false });
    if (d.action !== "cpfp") throw new Error(`expected CPFP, got ${d.action}`);
    const to = { chain: CHANGE, index: 7, scriptHex: account.scriptHex(CHANGE, 7) };
    const built = buildFundingChild({ account, signer }, parent, d.cpfp, to);
    if ("reason" in built) throw new Error(built.reason);
    const child = parseTx(built.record.rawHex);
    expect(child.inputs.map((i) => [i.txid, i.vout])).toEqual([[parent.txid, 3]]);
    expect(child.inputs[0].sequence).toBe(0xfffffffd);
    expect(child.outputs).toHaveLength(1);
    expect(child.outputs[0].script).toBe(to.scriptHex);
    const fee = parent.change!.valueSats - child.outputs[0].value;
    expect(fee).toBe(built.record.feeSats);
    // The package, measured: (parent's fee + child's fee) / (both vsizes) reaches 1.2 sat/vB.
    const parentFee = 12n * LOT - parsedParent.outputs.reduce((s, o) => s + o.value, 0n);
    expect(Number(parentFee + fee) / (parsedParent.vsize + child.vsize)).toBeGreaterThanOrEqual(1.2);
    // ...and not by much: the fee the formula asks of the worst-case 110 vB child, ceil(1.2 × (parent + 110)) − parent's fee.
    expect(fee).toBe(BigInt(Math.ceil(1.2 * (parsedParent.vsize + 110))) - parentFee);
    expect(child.vsize).toBeLessThanOrEqual(110);
    expect(child.outputs[0].value).toBeGreaterThanOrEqual(294n);
    // The deposits' outputs are the parent's, untouched; the record names what it spends and where its coin goes.
    expect(parsedParent.outputs.slice(0, 3).map((o) => o.value)).toEqual([LOT, LOT, LOT]);
    expect(built.record).toMatchObject({ txid: txidOf(built.record.rawHex), parent: parent.txid, input: `${parent.txid}:3`, vsize: child.vsize, output: { ...to, valueSats: child.outputs[0].value } });
  });

  it("no dust: an output below 294 sat is refused, one at 294 is built", async () => {
    const { account, signer } = await wallet();
    const parent = await stuckFunding(3, 1);
    const to = { chain: CHANGE, index: 8, scriptHex: account.scriptHex(CHANGE, 8) };
    const plan = (value: bigint) => ({ feasible: true as const, childFeeSats: parent.change!.valueSats - value, childVsize: 110, childValueSats: value, packageFeeRateSatVb: 1 });
    expect(buildFundingChild({ account, signer }, parent, plan(293n), to)).toEqual({ reason: "the child's output of 293 sat would be dust" });
    const ok = buildFundingChild({ account, signer }, parent, plan(294n), to);
    if ("reason" in ok) throw new Error(ok.reason);
    expect(parseTx(ok.record.rawHex).outputs[0].value).toBe(294n);
  });

  it("a funding whose change cannot pay the child and keep 294 sat: the decision does not pick CPFP", async () => {
    // 3 lots from a coin leaving 400 sat of change at 1 sat/vB: 400 − 173 < 294 for a child; RBF drops the change instead.
    const parent = await stuckFunding(3, 1, 3n * LOT + 400n + 203n);
    expect(parent.change?.valueSats).toBe(400n);
    const d = decideFundingBump({ funding: stuckTxOf(parent)!, targetRate: 1.2, maxRate: 100, watchOnly: false });
    expect(d.action).toBe("rbf");
  });

  it("refused: watch-only (no signer), no change output", async () => {
    const { account, signer } = await wallet();
    const parent = await stuckFunding(3, 1);
    const plan = { feasible: true as const, childFeeSats: 200n, childVsize: 110, childValueSats: parent.change!.valueSats - 200n, packageFeeRateSatVb: 1.3 };
    const to = { chain: CHANGE, index: 9, scriptHex: account.scriptHex(CHANGE, 9) };
    expect(buildFundingChild({ account }, parent, plan, to)).toEqual({ reason: "the wallet is watch-only: a child would need the cold signer (not automated)" });
    expect(buildFundingChild({ account, signer }, { ...parent, change: undefined }, plan, to)).toEqual({ reason: "it has no change output for a child to spend" });
  });
});
