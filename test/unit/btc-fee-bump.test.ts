import { describe, expect, it } from "vitest";
import type * as btc from "@scure/btc-signer";
import { HDKey } from "@scure/bip32";
import { mnemonicToSeedSync } from "@scure/bip39";
import { Bip84Account, CHANGE, RECEIVE } from "../../src/lib/btc/wallet/account";
import { selectCoins, type Utxo } from "../../src/lib/btc/wallet/coin-select";
import { chooseFeeBump, planCpfp, planRbf, type StuckTx } from "../../src/lib/btc/wallet/fee-bump";
import { buildCpfpChildTx, buildFundingTx, buildReplacementTx, RBF_SEQUENCE } from "../../src/lib/btc/wallet/funding-tx";
import { parseTx, type ParsedTx } from "../helpers/btc-tx";

/**
 * RBF and CPFP plans made into real transactions, signed in the test with keys derived here, and
 * measured from their serialized bytes (test/helpers/btc-tx.ts): the rates they promise are the
 * rates the bytes pay, and BIP125's rules hold for the replacement.
 */
const MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const accountKey = HDKey.fromMasterSeed(mnemonicToSeedSync(MNEMONIC), { public: 0x043587cf, private: 0x04358394 }).derive("m/84'/1'/0'");
const account = Bip84Account.fromWatchOnly(`wpkh([73c5da0a/84h/1h/0h]${accountKey.publicExtendedKey}/<0;1>/*)`, "regtest", "test");
const PAY = "0014" + "11".repeat(20);

function signInTest(tx: btc.Transaction): ParsedTx {
  for (let i = 0; i < tx.inputsLength; i++) {
    const path = tx.getInput(i).bip32Derivation![0][1].path;
    const [chain, index] = path.slice(-2);
    tx.signIdx(accountKey.deriveChild(chain).deriveChild(index).privateKey!, i);
  }
  tx.finalize();
  return parseTx(Buffer.from(tx.extract()).toString("hex"));
}

const coin = (value: bigint, index = 0): Utxo => ({ txid: "ab".repeat(32), vout: index, valueSats: value, scriptHex: account.scriptHex(RECEIVE, index), confirmations: 3, chain: RECEIVE, index });

/** A parent paying 600000 sat at `rate`, with change to change/0; measured from its signed bytes. */
function stuckParent(inputValue: bigint, rate: number): { stuck: StuckTx; inputs: Utxo[]; parsed: ParsedTx; txid: string } {
  const s = selectCoins({ utxos: [coin(inputValue)], payments: [{ scriptHex: PAY, valueSats: 600_000n }], feeRateSatVb: rate, maxFeeRateSatVb: 1000, changeScriptHex: account.scriptHex(CHANGE, 0) });
  const tx = buildFundingTx(account, s, s.change ? { chain: CHANGE, index: 0 } : undefined);
  const parsed = signInTest(tx);
  const stuck: StuckTx = {
    vsize: parsed.vsize,
    feeSats: inputValue - parsed.outputs.reduce((a, o) => a + o.value, 0n),
    inputsSats: inputValue,
    inputCount: 1,
    payments: [{ scriptHex: PAY, valueSats: 600_000n }],
    change: s.change ? { vout: 1, scriptHex: s.change.scriptHex, valueSats: s.change.valueSats } : undefined,
  };
  return { stuck, inputs: s.inputs, parsed, txid: tx.id };
}

const rateOf = (fee: bigint, vsize: number) => Number(fee) / vsize;

describe("RBF replacement", () => {
  it("pays the target for its measured size, keeps inputs and payments, takes the fee from change", () => {
    const { stuck, inputs, parsed } = stuckParent(1_000_000n, 2);
    const plan = planRbf(stuck, 10, 100);
    if (!plan.feasible) throw new Error(plan.reason);
    const replacement = buildReplacementTx(account, { inputs, payments: stuck.payments, change: { chain: CHANGE, index: 0 } }, plan);
    const r = signInTest(replacement);
    expect(r.inputs.map((i) => [i.txid, i.vout, i.sequence])).toEqual(parsed.inputs.map((i) => [i.txid, i.vout, RBF_SEQUENCE]));
    expect(r.outputs[0]).toEqual(parsed.outputs[0]);
    expect(r.outputs[1].script).toBe(parsed.outputs[1].script);
    const fee = 1_000_000n - r.outputs.reduce((a, o) => a + o.value, 0n);
    expect(fee).toBe(plan.feeSats);
    expect(rateOf(fee, r.vsize)).toBeGreaterThanOrEqual(10);
    // BIP125 rules 3 and 4: at least the old fee plus 1 sat/vB of its own size.
    expect(fee).toBeGreaterThanOrEqual(stuck.feeSats + BigInt(r.vsize));
    expect(plan.addedFeeSats).toBe(fee - stuck.feeSats);
    expect(plan.vsize).toBeGreaterThanOrEqual(r.vsize);
  });
  it("rule 4 decides when the target is barely above the old rate", () => {
    const { stuck } = stuckParent(1_000_000n, 2);
    const plan = planRbf(stuck, 2.5, 100);
    expect(plan).toMatchObject({ feasible: true, feeSats: stuck.feeSats + 141n });
  });
  it("a replaced transaction's descendants' fees are paid again (rule 3)", () => {
    const { stuck } = stuckParent(1_000_000n, 2);
    const plan = planRbf({ ...stuck, descendantFeesSats: 5_000n }, 10, 100);
    expect(plan).toMatchObject({ feasible: true, feeSats: stuck.feeSats + 5_000n + 141n });
  });
  it("drops the change when what is left of it would be dust, within the cap", () => {
    // change 1000 sat; at 10 sat/vB the replacement with change needs 1410 of the 1282 available.
    const { stuck, inputs } = stuckParent(600_000n + 282n + 1_000n, 2);
    expect(stuck.change?.valueSats).toBe(1_000n);
    const plan = planRbf(stuck, 10, 100);
    if (!plan.feasible) throw new Error(plan.reason);
    expect(plan.change).toBeUndefined();
    expect(plan.feeSats).toBe(1_282n);
    const r = signInTest(buildReplacementTx(account, { inputs, payments: stuck.payments, change: { chain: CHANGE, index: 0 } }, plan));
    expect(r.outputs).toHaveLength(1);
    expect(r.outputs[0].value).toBe(600_000n);
    expect(rateOf(1_282n, r.vsize)).toBeGreaterThanOrEqual(10);
    expect(planRbf(stuck, 10, 11)).toEqual({ feasible: false, reason: "dropping the change would pay 11.655 sat/vB, above --max-btc-fee-rate 11 sat/vB" });
  });
  it("infeasible: no change, too little change, a target above the cap, already paying the target", () => {
    const { stuck } = stuckParent(600_000n + 282n + 1_000n, 2);
    expect(planRbf(stuck, 20, 100)).toEqual({ feasible: false, reason: "the change (1000 sat) cannot pay the replacement's fee of 2200 sat; more inputs would be needed" });
    expect(planRbf({ ...stuck, change: undefined }, 10, 100)).toEqual({ feasible: false, reason: "it has no change output to take a higher fee from" });
    expect(planRbf(stuck, 101, 100)).toEqual({ feasible: false, reason: "the target 101 sat/vB is above --max-btc-fee-rate 100 sat/vB" });
    const rich = stuckParent(1_000_000n, 12).stuck;
    expect(planRbf(rich, 12, 100)).toMatchObject({ feasible: false, reason: expect.stringMatching(/^it already pays 12(\.\d+)? sat\/vB, at least the target 12 sat\/vB$/) });
  });
});

describe("CPFP child", () => {
  it("lifts the package (parent + child, measured) to the target rate", () => {
    const { stuck, parsed, txid } = stuckParent(1_000_000n, 2);
    const plan = planCpfp(stuck, account.scriptHex(CHANGE, 1), 15, 100);
    if (!plan.feasible) throw new Error(plan.reason);
    const parentChange: Utxo = { txid, vout: 1, valueSats: stuck.change!.valueSats, scriptHex: stuck.change!.scriptHex, confirmations: 0, chain: CHANGE, index: 0 };
    const child = signInTest(buildCpfpChildTx(account, parentChange, { chain: CHANGE, index: 1 }, plan));
    expect(child.inputs[0]).toMatchObject({ txid, vout: 1 });
    expect(child.outputs).toEqual([{ value: plan.childValueSats, script: account.scriptHex(CHANGE, 1) }]);
    const childFee = stuck.change!.valueSats - child.outputs[0].value;
    expect(childFee).toBe(plan.childFeeSats);
    expect(rateOf(stuck.feeSats + childFee, parsed.vsize + child.vsize)).toBeGreaterThanOrEqual(15);
    expect(plan.childVsize).toBeGreaterThanOrEqual(child.vsize);
    expect(plan.childFeeSats).toBe(BigInt(Math.ceil(15 * (parsed.vsize + 110))) - stuck.feeSats);
  });
  it("the child pays at least the relay minimum for itself", () => {
    const { stuck } = stuckParent(1_000_000n, 2);
    // A parent at 0.5 sat/vB lifted to 0.6: the package needs 81 more sat, but the child alone must pay 1 sat/vB.
    const cheap = { ...stuck, vsize: 141, feeSats: 70n };
    expect(planCpfp(cheap, account.scriptHex(CHANGE, 1), 0.6, 100)).toMatchObject({ feasible: true, childFeeSats: 110n });
    expect(planCpfp(cheap, account.scriptHex(CHANGE, 1), 0.8, 100)).toMatchObject({ feasible: true, childFeeSats: 201n - 70n });
  });
  it("infeasible when the change cannot pay the child's fee and stay above dust", () => {
    const { stuck } = stuckParent(600_000n + 282n + 1_000n, 2);
    expect(planCpfp(stuck, account.scriptHex(CHANGE, 1), 10, 100)).toEqual({ feasible: false, reason: "the change output (1000 sat) cannot pay a child fee of 2228 sat and keep 294 sat" });
    expect(planCpfp({ ...stuck, change: undefined }, account.scriptHex(CHANGE, 1), 10, 100)).toEqual({ feasible: false, reason: "it has no change output for a child to spend" });
  });
});

describe("chooseFeeBump", () => {
  it("RBF when it is cheaper (a replacement pays for one transaction, a child for two)", () => {
    const { stuck } = stuckParent(1_000_000n, 2);
    const c = chooseFeeBump(planRbf(stuck, 10, 100), planCpfp(stuck, account.scriptHex(CHANGE, 1), 10, 100));
    expect(c.method).toBe("rbf");
    if (c.method === "rbf") expect(c.costSats).toBe(1_410n - stuck.feeSats);
  });
  it("CPFP when a replacement must also repay evicted descendants", () => {
    const { stuck } = stuckParent(1_000_000n, 2);
    const heavy = { ...stuck, descendantFeesSats: 20_000n };
    const c = chooseFeeBump(planRbf(heavy, 10, 100), planCpfp(heavy, account.scriptHex(CHANGE, 1), 10, 100));
    expect(c.method).toBe("cpfp");
    if (c.method === "cpfp") expect(c.costSats).toBe(BigInt(10 * (stuck.vsize + 110)) - stuck.feeSats);
  });
  it("a tie goes to RBF; neither possible: none, with both reasons", () => {
    const rbf = { feasible: true as const, feeSats: 500n, vsize: 141, addedFeeSats: 300n, feeRateSatVb: 3.5 };
    const cpfp = { feasible: true as const, childFeeSats: 300n, childVsize: 110, childValueSats: 1000n, packageFeeRateSatVb: 3 };
    expect(chooseFeeBump(rbf, cpfp).method).toBe("rbf");
    expect(chooseFeeBump({ ...rbf, addedFeeSats: 301n }, cpfp).method).toBe("cpfp");
    expect(chooseFeeBump({ feasible: false, reason: "a" }, cpfp).method).toBe("cpfp");
    expect(chooseFeeBump(rbf, { feasible: false, reason: "b" }).method).toBe("rbf");
    expect(chooseFeeBump({ feasible: false, reason: "a" }, { feasible: false, reason: "b" })).toEqual({ method: "none", reason: "RBF: a; CPFP: b" });
    expect(chooseFeeBump({ feasible: false, reason: "same" }, { feasible: false, reason: "same" })).toEqual({ method: "none", reason: "same" });
  });
});
