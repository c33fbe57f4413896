import { describe, expect, it } from "vitest";
import * as btc from "@scure/btc-signer";
import { HDKey } from "@scure/bip32";
import { mnemonicToSeedSync } from "@scure/bip39";
import { selectCoins, spendOrder, type Payment, type SelectParams, type Utxo } from "../../src/lib/btc/wallet/coin-select";
import { compactSizeBytes, dustThreshold, feeForVsize, p2wpkhTxVsize, toMilliSatPerVb } from "../../src/lib/btc/wallet/tx-size";
import { Bip84Account, CHANGE, RECEIVE } from "../../src/lib/btc/wallet/account";
import { buildFundingTx } from "../../src/lib/btc/wallet/funding-tx";
import { parseTx } from "../helpers/btc-tx";

/**
 * Coin selection judged by properties that a plausible bug breaks (payments exact, no dust change,
 * fee at least rate × size, the cap, confirmed coins first, the shortfall exact) over many seeded
 * random wallets, with sizes from an independent formula and from real signed transactions.
 */
const MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const accountKey = HDKey.fromMasterSeed(mnemonicToSeedSync(MNEMONIC), { public: 0x043587cf, private: 0x04358394 }).derive("m/84'/1'/0'");
const account = Bip84Account.fromWatchOnly(accountKey.publicExtendedKey, "regtest", "test");
const CHANGE_SCRIPT = account.scriptHex(CHANGE, 0);
const P2WPKH_PAY = "0014" + "11".repeat(20);
const P2WSH_PAY = "0020" + "22".repeat(32);
const P2PKH_PAY = "76a914" + "33".repeat(20) + "88ac";

/** Independent size formula: 10.5 vB overhead + 68 vB per P2WPKH input (72-byte signature) + each output's bytes. */
function vsizeOf(inputs: number, outputScriptLens: number[]): number {
  const weight = 4 * (4 + 1 + 1 + 4) + 2 + inputs * (4 * 41 + 108) + 4 * outputScriptLens.reduce((a, l) => a + 8 + 1 + l, 0);
  return Math.ceil(weight / 4);
}
const ceilFee = (rateSatVb: number, vsize: number) => BigInt(Math.ceil(Math.round(rateSatVb * 1000) * vsize / 1000));

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function utxo(i: number, valueSats: bigint, confirmations = 6, txidByte?: string): Utxo {
  const index = i % 5;
  const chain = i % 2 === 0 ? RECEIVE : CHANGE;
  return { txid: (txidByte ?? (i % 256).toString(16).padStart(2, "0")).repeat(32), vout: Math.floor(i / 256), valueSats, scriptHex: account.scriptHex(chain, index), confirmations, chain, index };
}

const params = (utxos: Utxo[], payments: Payment[], rate = 5, cap = 100, more: Partial<SelectParams> = {}): SelectParams => ({ utxos, payments, feeRateSatVb: rate, maxFeeRateSatVb: cap, changeScriptHex: CHANGE_SCRIPT, ...more });

describe("sizes and dust (Bitcoin Core's policy numbers)", () => {
  it("dust thresholds: P2WPKH 294, P2WSH 330, P2PKH 546, P2SH 540, P2TR 330, OP_RETURN 0", () => {
    const h = (s: string) => Uint8Array.from(Buffer.from(s, "hex"));
    expect(dustThreshold(h(P2WPKH_PAY))).toBe(294n);
    expect(dustThreshold(h(P2WSH_PAY))).toBe(330n);
    expect(dustThreshold(h(P2PKH_PAY))).toBe(546n);
    expect(dustThreshold(h("a914" + "44".repeat(20) + "87"))).toBe(540n);
    expect(dustThreshold(h("5120" + "55".repeat(32)))).toBe(330n);
    expect(dustThreshold(h("6a0401020304"))).toBe(0n);
  });
  it("the usual P2WPKH sizes: 1-in-1-out 110 vB, 1-in-2-out 141 vB, each more input 68 vB", () => {
    expect(p2wpkhTxVsize(1, [22])).toBe(110);
    expect(p2wpkhTxVsize(1, [22, 22])).toBe(141);
    expect(p2wpkhTxVsize(2, [22, 22])).toBe(209);
    for (let n = 1; n < 8; n++) expect(p2wpkhTxVsize(n, [22, 34, 25])).toBe(vsizeOf(n, [22, 34, 25]));
  });
  it("CompactSize widths and fee rounding", () => {
    expect([0, 252, 253, 0xffff, 0x10000, 0xffffffff, 0x100000000].map(compactSizeBytes)).toEqual([1, 1, 3, 3, 5, 5, 9]);
    // 253 inputs: the input count takes 3 bytes instead of 1 (8 more weight units).
    const weight253 = 4 * 10 + 2 + 253 * (4 * 41 + 108) + 4 * 31;
    expect(p2wpkhTxVsize(253, [22])).toBe(Math.ceil((weight253 + 8) / 4));
    expect(p2wpkhTxVsize(252, [22])).toBe(vsizeOf(252, [22]));
    expect(feeForVsize(141, toMilliSatPerVb(1.5))).toBe(212n); // 211.5 rounded up
    expect(feeForVsize(100, toMilliSatPerVb(2))).toBe(200n);
    expect(() => toMilliSatPerVb(-1)).toThrow(/not a rate/);
    expect(() => toMilliSatPerVb(Number.NaN)).toThrow(/not a rate/);
  });
  it("the estimate bounds a real signed transaction's size from above, by at most 1 vB per input", () => {
    for (const inputs of [1, 2, 5]) {
      const utxos = Array.from({ length: inputs }, (_, i) => utxo(i, 100_000n));
      const s = selectCoins(params(utxos, [{ scriptHex: P2WPKH_PAY, valueSats: BigInt(inputs) * 100_000n - 5_000n }], 1));
      expect(s.inputs).toHaveLength(inputs);
      const tx = buildFundingTx(account, s, s.change ? { chain: CHANGE, index: 0 } : undefined);
      s.inputs.forEach((u, i) => tx.signIdx(accountKey.deriveChild(u.chain).deriveChild(u.index).privateKey!, i));
      tx.finalize();
      const measured = parseTx(Buffer.from(tx.extract()).toString("hex"));
      expect(measured.vsize).toBeLessThanOrEqual(s.vsize);
      expect(s.vsize - measured.vsize).toBeLessThanOrEqual(inputs);
      expect(s.feeSats).toBeGreaterThanOrEqual(ceilFee(1, measured.vsize));
    }
  });
});

describe("selectCoins: fixed cases", () => {
  it("one coin, change above dust", () => {
    const s = selectCoins(params([utxo(0, 1_000_000n)], [{ scriptHex: P2WPKH_PAY, valueSats: 600_000n }], 2));
    expect(s.vsize).toBe(141);
    expect(s.feeSats).toBe(282n);
    expect(s.change).toEqual({ scriptHex: CHANGE_SCRIPT, valueSats: 1_000_000n - 600_000n - 282n });
    expect(s.leftToFeeSats).toBe(0n);
    expect(s.notes).toEqual([]);
    expect(s.feeRateSatVb).toBe(2);
  });
  it("a remainder below dust goes to the fee, and says so", () => {
    // 1-in-1-out at 2 sat/vB costs 220; with change 282. Remainder 250 + 282 - 220 ... below 294:
    const s = selectCoins(params([utxo(0, 600_000n + 220n + 100n)], [{ scriptHex: P2WPKH_PAY, valueSats: 600_000n }], 2));
    expect(s.change).toBeUndefined();
    expect(s.vsize).toBe(110);
    expect(s.feeSats).toBe(320n);
    expect(s.leftToFeeSats).toBe(100n);
    expect(s.notes).toEqual(["no change output: the remainder of 100 sat is below the dust threshold (294 sat) and is left to the fee"]);
  });
  it("change of exactly the dust threshold is kept (Core: dust is below it)", () => {
    const s = selectCoins(params([utxo(0, 600_000n + 282n + 294n)], [{ scriptHex: P2WPKH_PAY, valueSats: 600_000n }], 2));
    expect(s.change?.valueSats).toBe(294n);
    const t = selectCoins(params([utxo(0, 600_000n + 282n + 293n)], [{ scriptHex: P2WPKH_PAY, valueSats: 600_000n }], 2));
    expect(t.change).toBeUndefined();
    expect(t.feeSats).toBe(282n + 293n);
  });
  it("an exact fit: no change, nothing left to the fee, no note", () => {
    const s = selectCoins(params([utxo(0, 600_220n)], [{ scriptHex: P2WPKH_PAY, valueSats: 600_000n }], 2));
    expect(s).toMatchObject({ feeSats: 220n, leftToFeeSats: 0n, notes: [] });
  });
  it("several payments, each exactly its amount, in the order given, change last", () => {
    const pays = [{ scriptHex: P2WPKH_PAY, valueSats: 100_000_000n }, { scriptHex: P2WSH_PAY, valueSats: 500_000_000n }, { scriptHex: P2PKH_PAY, valueSats: 100_000_000n }];
    const s = selectCoins(params([utxo(0, 400_000_000n), utxo(1, 400_000_000n), utxo(2, 50_000n)], pays, 10));
    expect(s.payments).toEqual(pays);
    expect(s.inputs.map((u) => u.valueSats)).toEqual([400_000_000n, 400_000_000n]);
    const tx = buildFundingTx(account, s, { chain: CHANGE, index: 0 });
    expect(tx.outputsLength).toBe(4);
    expect([0, 1, 2].map((i) => tx.getOutput(i).amount)).toEqual(pays.map((p) => p.valueSats));
    expect(tx.getOutput(3).amount).toBe(s.change!.valueSats);
  });
  it("confirmed coins first, even when an unconfirmed one is larger; unconfirmed only to cover", () => {
    const s = selectCoins(params([utxo(0, 9_000_000n, 0), utxo(1, 2_000_000n, 1)], [{ scriptHex: P2WPKH_PAY, valueSats: 1_000_000n }]));
    expect(s.inputs.map((u) => u.confirmations)).toEqual([1]);
    expect(s.usesUnconfirmed).toBe(false);
    const t = selectCoins(params([utxo(0, 9_000_000n, 0), utxo(1, 2_000_000n, 3)], [{ scriptHex: P2WPKH_PAY, valueSats: 5_000_000n }]));
    expect(t.inputs.map((u) => u.confirmations)).toEqual([3, 0]);
    expect(t.usesUnconfirmed).toBe(true);
    expect(() => selectCoins(params([utxo(0, 9_000_000n, 0), utxo(1, 2_000_000n, 3)], [{ scriptHex: P2WPKH_PAY, valueSats: 5_000_000n }], 5, 100, { allowUnconfirmed: false })))
      .toThrow(/the wallet has 2000000 sat confirmed; short by/);
  });
  it("a rate below the relay minimum is raised to 1 sat/vB, with a note", () => {
    const s = selectCoins(params([utxo(0, 1_000_000n)], [{ scriptHex: P2WPKH_PAY, valueSats: 600_000n }], 0.2));
    expect(s.feeSats).toBe(141n);
    expect(s.notes).toEqual(["fee rate 0.2 sat/vB raised to the 1 sat/vB relay minimum"]);
    expect(selectCoins(params([utxo(0, 1_000_000n)], [{ scriptHex: P2WPKH_PAY, valueSats: 600_000n }], 1)).notes).toEqual([]);
  });
  it("fractional rates round the fee up", () => {
    const s = selectCoins(params([utxo(0, 1_000_000n)], [{ scriptHex: P2WPKH_PAY, valueSats: 600_000n }], 1.5));
    expect(s.feeSats).toBe(212n);
  });
  it("the cap: a target above it is refused (FEE_CAP, exit 3)", () => {
    let err: unknown;
    try {
      selectCoins(params([utxo(0, 1_000_000n)], [{ scriptHex: P2WPKH_PAY, valueSats: 600_000n }], 101, 100));
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: "FEE_CAP", exitCode: 3, message: "the fee rate 101 sat/vB is above --max-btc-fee-rate 100 sat/vB; nothing is signed above the cap", hint: "wait for lower fees, or raise --max-btc-fee-rate (env KEEPCTL_MAX_BTC_FEE_RATE)" });
    expect(selectCoins(params([utxo(0, 1_000_000n)], [{ scriptHex: P2WPKH_PAY, valueSats: 600_000n }], 100, 100)).feeSats).toBe(14_100n);
  });
  it("the cap: a remainder that would lift the rate above it takes one more coin as change instead", () => {
    // 1-in-1-out at 10 sat/vB: fee 1100; with change 1410. A remainder of 250 (below dust + change cost)
    // would pay 1350 / 110 = 12.27 sat/vB, above a cap of 12: the second coin is taken and gives change.
    const coins = [utxo(0, 600_000n + 1_100n + 250n), utxo(1, 10_000n)];
    const s = selectCoins(params(coins, [{ scriptHex: P2WPKH_PAY, valueSats: 600_000n }], 10, 12));
    expect(s.inputs).toHaveLength(2);
    expect(s.change).toBeDefined();
    expect(s.feeSats * 1000n).toBeLessThanOrEqual(12_000n * BigInt(s.vsize));
    let err: unknown;
    try { selectCoins(params([coins[0]], [{ scriptHex: P2WPKH_PAY, valueSats: 600_000n }], 10, 12)); } catch (e) { err = e; }
    expect(err).toMatchObject({ code: "FEE_CAP", exitCode: 3, message: "leaving the remainder to the fee would pay 12.273 sat/vB, above --max-btc-fee-rate 12 sat/vB, and no other coin can take it as change", hint: "add a coin to the wallet, or raise --max-btc-fee-rate (env KEEPCTL_MAX_BTC_FEE_RATE)" });
    // A remainder that pays exactly the cap is accepted (1320 sat for 110 vB at a cap of 12).
    const atCap = selectCoins(params([utxo(0, 600_000n + 1_320n)], [{ scriptHex: P2WPKH_PAY, valueSats: 600_000n }], 10, 12));
    expect(atCap).toMatchObject({ feeSats: 1_320n, leftToFeeSats: 220n, payments: [{ scriptHex: P2WPKH_PAY, valueSats: 600_000n }] });
    expect(() => selectCoins(params([utxo(0, 600_000n + 1_321n)], [{ scriptHex: P2WPKH_PAY, valueSats: 600_000n }], 10, 12))).toThrow(/above --max-btc-fee-rate 12/);
    // The same remainder under a higher cap is simply left to the fee.
    expect(selectCoins(params([coins[0]], [{ scriptHex: P2WPKH_PAY, valueSats: 600_000n }], 10, 13)).leftToFeeSats).toBe(250n);
  });
  it("insufficient funds: exit 6, the shortfall named, and that many more sats in one coin are enough", () => {
    const coins = [utxo(0, 300_000n), utxo(1, 200_000n)];
    const pays = [{ scriptHex: P2WPKH_PAY, valueSats: 1_000_000n }];
    let err: { code?: string; exitCode?: number; message?: string; details?: { shortfallSats: bigint } } = {};
    try {
      selectCoins(params(coins, pays, 4));
    } catch (e) {
      err = e as typeof err;
    }
    const need = 1_000_000n + ceilFee(4, vsizeOf(3, [22]));
    expect(err.code).toBe("INSUFFICIENT_FUNDS");
    expect(err.exitCode).toBe(6);
    expect(err.details?.shortfallSats).toBe(need - 500_000n);
    expect(err.message).toBe(`not enough BTC: the payments and fee need ${need} sat, the wallet has 500000 sat; short by ${need - 500_000n} sat`);
    expect((err as { hint?: string }).hint).toBe("send at least the shortfall, in one transaction, to the wallet's next receive address (`keepctl btc-wallet address`)");
    // "confirmed" only when unconfirmed coins were left out.
    expect(() => selectCoins(params([utxo(0, 300_000n, 0)], pays, 4))).toThrow(/the wallet has 300000 sat; short/);
    expect(() => selectCoins(params(coins, pays, 4, 100, { allowUnconfirmed: false }))).toThrow(/the wallet has 500000 sat; short/);
    const topUp = err.details!.shortfallSats;
    expect(selectCoins(params([...coins, utxo(2, topUp)], pays, 4)).inputs).toHaveLength(3);
    // One sat less is not enough (and the shortfall then counts a fourth input).
    expect(() => selectCoins(params([...coins, utxo(2, topUp - 1n)], pays, 4))).toThrow(`short by ${1n + ceilFee(4, vsizeOf(4, [22])) - ceilFee(4, vsizeOf(3, [22]))} sat`);
    expect(() => selectCoins(params([], pays, 4))).toThrow(`short by ${1_000_000n + ceilFee(4, vsizeOf(1, [22]))} sat`);
  });
  it("refuses no payments, a dust payment, a coin listed twice, a non-hex script", () => {
    expect(() => selectCoins(params([utxo(0, 1n)], []))).toThrow(/nothing to pay/);
    expect(() => selectCoins(params([utxo(0, 10_000n)], [{ scriptHex: P2WPKH_PAY, valueSats: 293n }]))).toThrow("payment 1 of 293 sat is below the dust threshold of its script (294 sat)");
    expect(selectCoins(params([utxo(0, 10_000n)], [{ scriptHex: P2WPKH_PAY, valueSats: 294n }])).payments[0].valueSats).toBe(294n);
    expect(() => selectCoins(params([utxo(0, 10_000n), utxo(0, 10_000n)], [{ scriptHex: P2WPKH_PAY, valueSats: 1000n }]))).toThrow(/listed twice/);
    expect(() => selectCoins(params([utxo(0, 10_000n)], [{ scriptHex: "00zz", valueSats: 1000n }]))).toThrow(/is not hex/);
    expect(() => selectCoins(params([utxo(0, 10_000n)], [{ scriptHex: "zz" + P2WPKH_PAY, valueSats: 1000n }]))).toThrow(/is not hex/);
    expect(() => selectCoins(params([utxo(0, 10_000n)], [{ scriptHex: P2WPKH_PAY + "0", valueSats: 1000n }]))).toThrow(/is not hex/);
    expect(selectCoins(params([utxo(0, 10_000n)], [{ scriptHex: P2WPKH_PAY.toUpperCase(), valueSats: 1000n }])).vsize).toBe(141);
    let hint: string | undefined;
    try { selectCoins(params([utxo(0, 10_000n)], [{ scriptHex: P2WPKH_PAY, valueSats: 1n }])); } catch (e) { hint = (e as { hint?: string }).hint; }
    expect(hint).toBe("pay at least the dust threshold; Bitcoin nodes do not relay smaller outputs");
  });
  it("spendOrder: ties broken by txid, then output index, each way round", () => {
    const a = utxo(1, 5n, 1, "aa");
    const b = utxo(2, 5n, 1, "bb");
    const c = { ...a, vout: 3 };
    expect(spendOrder(a, b)).toBeLessThan(0);
    expect(spendOrder(b, a)).toBeGreaterThan(0);
    expect(spendOrder(a, c)).toBeLessThan(0);
    expect(spendOrder(c, a)).toBeGreaterThan(0);
    expect(spendOrder(a, a)).toBe(0);
    // The larger coin first even when its txid sorts later.
    expect(spendOrder(utxo(3, 6n, 1, "ff"), utxo(4, 5n, 1, "00"))).toBeLessThan(0);
    expect(spendOrder(utxo(4, 5n, 1, "00"), utxo(3, 6n, 1, "ff"))).toBeGreaterThan(0);
  });
  it("spendOrder: confirmed, larger, txid, vout", () => {
    const a = utxo(1, 5n, 1, "aa");
    const b = { ...utxo(2, 5n, 1, "bb") };
    const c = { ...a, vout: 3 };
    expect([b, c, a, utxo(3, 9n, 0), utxo(4, 6n, 2)].sort(spendOrder).map((u) => [u.valueSats, u.txid.slice(0, 2), u.vout])).toEqual([[6n, "04", 0], [5n, "aa", 0], [5n, "aa", 3], [5n, "bb", 0], [9n, "03", 0]]);
  });
});

describe("selectCoins: properties over random wallets", () => {
  const cases = Array.from({ length: 300 }, (_, k) => k);
  it.each([0, 1, 2])("seed group %i", (group) => {
    for (const k of cases.filter((c) => c % 3 === group)) {
      const r = rng(k + 1);
      const n = 1 + Math.floor(r() * 8);
      const utxos = Array.from({ length: n }, (_, i) => utxo(i, BigInt(1_000 + Math.floor(r() * 3_000_000)), r() < 0.25 ? 0 : 1 + Math.floor(r() * 10)));
      const pays = Array.from({ length: 1 + Math.floor(r() * 3) }, () => ({ scriptHex: r() < 0.5 ? P2WPKH_PAY : P2WSH_PAY, valueSats: BigInt(500 + Math.floor(r() * 2_000_000)) }));
      const rate = 1 + Math.floor(r() * 400) / 10;
      const cap = rate + Math.floor(r() * 30);
      const p = params(utxos, pays, rate, cap);
      let s;
      try {
        s = selectCoins(p);
      } catch (e) {
        const code = (e as { code?: string }).code;
        expect(["INSUFFICIENT_FUNDS", "FEE_CAP"], String(e)).toContain(code);
        if (code === "INSUFFICIENT_FUNDS") {
          const total = utxos.reduce((a, u) => a + u.valueSats, 0n);
          expect(total).toBeLessThan(pays.reduce((a, x) => a + x.valueSats, 0n) + ceilFee(rate, vsizeOf(n, pays.map((x) => x.scriptHex.length / 2))));
        }
        continue;
      }
      const total = s.inputs.reduce((a, u) => a + u.valueSats, 0n);
      const paySum = pays.reduce((a, x) => a + x.valueSats, 0n);
      const scripts = pays.map((x) => x.scriptHex.length / 2);
      // Conservation, exact payments, no dust change.
      expect(total).toBe(paySum + (s.change?.valueSats ?? 0n) + s.feeSats);
      expect(s.payments).toEqual(pays);
      if (s.change) expect(s.change.valueSats).toBeGreaterThanOrEqual(294n);
      // Size and fee: at least the rate, at most the cap, for the independently computed size.
      const vsize = vsizeOf(s.inputs.length, s.change ? [...scripts, 22] : scripts);
      expect(s.vsize).toBe(vsize);
      expect(s.feeSats).toBeGreaterThanOrEqual(ceilFee(rate, vsize));
      expect(s.feeSats).toBeLessThanOrEqual(ceilFee(cap, vsize));
      // No change only when change would have been dust.
      if (!s.change) expect(total - paySum - ceilFee(rate, vsizeOf(s.inputs.length, [...scripts, 22]))).toBeLessThan(294n);
      // Confirmed first: an unconfirmed input means every confirmed coin is in.
      if (s.inputs.some((u) => u.confirmations === 0)) expect(s.inputs.filter((u) => u.confirmations > 0)).toHaveLength(utxos.filter((u) => u.confirmations > 0).length);
      // Deterministic: the order the coins come in does not matter.
      const shuffled = [...utxos].sort(() => r() - 0.5);
      expect(selectCoins({ ...p, utxos: shuffled }).inputs.map((u) => `${u.txid}:${u.vout}`)).toEqual(s.inputs.map((u) => `${u.txid}:${u.vout}`));
    }
  });
});
