import { describe, expect, it } from "vitest";
import { checkRedemptionProof, headersNeeded, requiredDifficulty, type ProofVectors, type RedemptionRules } from "../../src/lib/tbtc/redeem/proof-check";

/**
 * The rules tBTC's Deposit applies to a redemption proof, on a real mainnet transaction: vector V1
 * of keep-network/tbtc v1.1.0's test helpers (shared/reference/tbtc-bitcoin.md §7). It is a funding
 * transaction, but the checks are the same shape: first input, first output, fee, difficulty.
 */
const v1: ProofVectors = {
  version: "0x01000000",
  inputVector: "0x01913e39197867de39bff2c93c75173e086388ee7e8707c90ce4a02dd23f7d2c0d0000000000ffffffff",
  outputVector: "0x012040351d0000000016001486e7303082a6a21d5837176bc808bf4828371ab6",
  locktime: "0x4ec10800",
  firstDifficulty: 6353030562983n,
  totalDifficulty: 44471213940881n,
  headerCount: 7,
};
const rules: RedemptionRules = {
  outpoint: "0x913e39197867de39bff2c93c75173e086388ee7e8707c90ce4a02dd23f7d2c0d00000000",
  redeemerScript: "0x16001486e7303082a6a21d5837176bc808bf4828371ab6",
  utxoValueSats: 0x1d3578f0n, // prevoutValueBytes f078351d00000000
  latestFeeSats: 0x1d3578f0n - 490029088n,
  relayCurrentDifficulty: 6353030562983n,
  relayPreviousDifficulty: 5000000000000n,
};

describe("tBTC's redemption proof rules, locally", () => {
  it("accepts the real proof at its exact fee, against either epoch of the relay", () => {
    const ok = checkRedemptionProof(v1, rules);
    expect(ok).toEqual({ ok: true, outputValueSats: 490029088n, requiredDifficulty: 6353030562983n * 6n });
    const prev = checkRedemptionProof(v1, { ...rules, relayCurrentDifficulty: 1n, relayPreviousDifficulty: 6353030562983n });
    expect(prev.ok).toBe(true);
    // a higher output value than requested (lower fee) is fine
    expect(checkRedemptionProof(v1, { ...rules, latestFeeSats: rules.latestFeeSats + 1n }).ok).toBe(true);
  });

  it("refuses the wrong UTXO, the wrong script, a fee above the latest", () => {
    const wrongUtxo = checkRedemptionProof(v1, { ...rules, outpoint: rules.outpoint.replace(/00000000$/, "01000000") });
    expect(wrongUtxo).toMatchObject({ ok: false, retry: false });
    expect((wrongUtxo as { reason: string }).reason).toMatch(/not the deposit's UTXO/);
    expect(checkRedemptionProof(v1, { ...rules, redeemerScript: "0x160014" + "00".repeat(20) })).toMatchObject({ ok: false, reason: expect.stringMatching(/redeemer's script/) });
    expect(checkRedemptionProof(v1, { ...rules, latestFeeSats: rules.latestFeeSats - 1n })).toMatchObject({ ok: false, reason: expect.stringMatching(/above the latest requested fee/) });
  });

  it("refuses a difficulty the relay does not know, retrying only a newer epoch", () => {
    const newer = checkRedemptionProof(v1, { ...rules, relayCurrentDifficulty: 1n, relayPreviousDifficulty: 2n });
    expect(newer).toMatchObject({ ok: false, retry: true });
    // a block at the relay's previous... already covered; 0 (regtest) against a mainnet relay never passes
    expect(checkRedemptionProof({ ...v1, firstDifficulty: 0n }, rules)).toMatchObject({ ok: false, retry: false });
  });

  it("refuses too little accumulated work, as a wait", () => {
    expect(checkRedemptionProof({ ...v1, totalDifficulty: 6353030562983n * 6n - 1n }, rules)).toMatchObject({ ok: false, retry: true });
    expect(checkRedemptionProof({ ...v1, totalDifficulty: 6353030562983n * 6n }, rules).ok).toBe(true);
  });

  it("refuses vectors that do not parse or are empty", () => {
    expect(checkRedemptionProof({ ...v1, inputVector: "0x00" }, rules)).toMatchObject({ ok: false });
    expect(checkRedemptionProof({ ...v1, outputVector: "0x01ff" }, rules)).toMatchObject({ ok: false, reason: expect.stringMatching(/does not parse/) });
  });

  it("required difficulty and the shortest sufficient header prefix", () => {
    expect(requiredDifficulty(5n, { relayCurrentDifficulty: 5n, relayPreviousDifficulty: 4n })).toBe(30n);
    expect(requiredDifficulty(4n, { relayCurrentDifficulty: 5n, relayPreviousDifficulty: 4n, factor: 2n })).toBe(8n);
    expect(requiredDifficulty(3n, { relayCurrentDifficulty: 5n, relayPreviousDifficulty: 4n })).toBeUndefined();
    // regtest: difficulty 0, so the confirmations policy alone decides
    expect(headersNeeded([0n, 0n, 0n], 0n, 1)).toBe(1);
    expect(headersNeeded([0n, 0n, 0n], 0n, 3)).toBe(3);
    expect(headersNeeded([0n, 0n], 0n, 3)).toBeUndefined();
    // constant difficulty: the factor's worth; a drop at a retarget needs more
    expect(headersNeeded([5n, 5n, 5n, 5n, 5n, 5n, 5n], 30n, 1)).toBe(6);
    expect(headersNeeded([5n, 5n, 4n, 4n, 4n, 4n, 4n, 4n], 30n, 1)).toBe(7);
    expect(headersNeeded([5n, 5n, 4n, 4n, 4n, 4n], 30n, 1)).toBeUndefined();
  });
});

describe("tBTC's redemption proof rules: the edges (found by npm run mutate)", () => {
  it("a transaction with no output, or that does not parse, is refused for good (retrying cannot help)", () => {
    expect(checkRedemptionProof({ ...v1, outputVector: "0x00" }, rules)).toEqual({ ok: false, reason: "the transaction has no input or no output", retry: false });
    const junk = checkRedemptionProof({ ...v1, inputVector: "0x02" }, rules);
    expect(junk).toMatchObject({ ok: false, retry: false });
    expect((junk as { reason: string }).reason).toMatch(/^the transaction does not parse: /);
  });

  it("the outpoint's index is little-endian, as tBTC's outpoint bytes are", () => {
    const idx1 = v1.inputVector.replace("0d0000000000ffffffff", "0d0100000000ffffffff");
    expect(checkRedemptionProof({ ...v1, inputVector: idx1 }, { ...rules, outpoint: rules.outpoint.replace(/00000000$/, "01000000") }).ok).toBe(true);
    expect(checkRedemptionProof({ ...v1, inputVector: idx1 }, { ...rules, outpoint: rules.outpoint.replace(/00000000$/, "00000001") }).ok).toBe(false);
  });

  it("a wrong script or a fee above the latest is refused for good, not retried", () => {
    expect(checkRedemptionProof(v1, { ...rules, redeemerScript: "0x160014" + "00".repeat(20) })).toMatchObject({ ok: false, retry: false });
    expect(checkRedemptionProof(v1, { ...rules, latestFeeSats: rules.latestFeeSats - 1n })).toMatchObject({ ok: false, retry: false });
  });

  it("a difficulty the relay does not know is named with the relay's two epochs", () => {
    const r = checkRedemptionProof(v1, { ...rules, relayCurrentDifficulty: 7n, relayPreviousDifficulty: 5n });
    expect(r).toEqual({ ok: false, reason: "the block's difficulty 6353030562983 is neither the relay's current (7) nor its previous (5) epoch difficulty", retry: true });
  });
});
