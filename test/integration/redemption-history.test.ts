import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { startDevnet, devnetWallet, type Devnet } from "../../src/devnet/scenario";
import { openDeposit, redeemDeposit, signRedemptionDigest } from "../../src/devnet/deposits";
import { depositContract, increaseTime, send } from "../../src/devnet/tbtc";
import { keepPublicKey64 } from "../../src/devnet/signer";
import { connect, type KeepctlProvider } from "../../src/lib/chain/provider";
import { HistoryCache, readRedemptionHistories } from "../../src/lib/tbtc/redeem/redemption-history";
import { buildSignedRedemptionTx, redemptionSighash } from "../../src/lib/tbtc/redeem/btc-redemption-tx";
import { outputValueBytes8LE } from "../../src/lib/tbtc/redeem/planner";

/**
 * The real tBTC Deposit computes each version's digest itself (wpkhSpendSighash): the rebuilt
 * transaction must sign exactly that, for the request and for every fee increase, from the
 * history read back from the chain's events alone.
 */
let devnet: Devnet;
let provider: KeepctlProvider;
const BTC = 100_000_000n;

beforeAll(async () => {
  devnet = await startDevnet({ seed: false });
  provider = await connect({ rpcUrls: [devnet.rpcUrl], chainId: 31337 });
}, 300_000);

afterAll(async () => {
  provider?.destroy();
  await devnet?.stop();
});

describe("redemption history and the canonical transaction, against the real Deposit", () => {
  it("every version's rebuilt transaction signs the contract's own digest", async () => {
    const dep = devnet.deployment;
    const members = [devnetWallet(1).address, devnetWallet(3).address, devnetWallet(4).address];
    // Through the VendingMachine (the deployer redeems with TBTC minted by a second deposit).
    const opened = await openDeposit(dep, { lotSats: BTC, members, fundWith: "vendingMachine" });
    await openDeposit(dep, { lotSats: BTC, members, fundWith: "vendingMachine" });
    const target = { deposit: opened.deposit, keep: opened.keep, fromBlock: dep.deploymentBlock };
    expect(await readRedemptionHistories(provider, dep.addresses.TBTCSystem, [target], await provider.getBlockNumber())).toEqual([]);

    await redeemDeposit(dep, opened.deposit, { stopAt: "AWAITING_WITHDRAWAL_SIGNATURE", feeSats: 7_000n });
    let [h] = await readRedemptionHistories(provider, dep.addresses.TBTCSystem, [target], await provider.getBlockNumber());
    expect(h.state).toBe(5);
    expect(h.versions).toHaveLength(1);
    expect(h.versions[0].feeSats).toBe(7_000n);
    expect(h.utxoValueSats).toBe(BTC);
    expect(h.signerPubkey64).toBe(keepPublicKey64(opened.keep));
    expect(h.versions[0].signature).toBeUndefined();
    const facts = (fee: bigint) => ({ outpoint: h.outpoint, utxoValueSats: h.utxoValueSats, redeemerScript: h.redeemerScript, feeSats: fee, signerPubkey64: h.signerPubkey64! });
    expect(redemptionSighash(facts(7_000n))).toBe(h.versions[0].digest);

    // The keep signs (SignatureSubmitted); the history now carries its signature.
    await signRedemptionDigest(dep, opened.keep, h.versions[0].digest);
    [h] = await readRedemptionHistories(provider, dep.addresses.TBTCSystem, [target], await provider.getBlockNumber());
    const sig0 = h.versions[0].signature!;
    expect(sig0.recoveryId).toBeGreaterThanOrEqual(0);
    const tx0 = buildSignedRedemptionTx(facts(7_000n), h.versions[0].digest, sig0);
    expect(tx0.outputValueSats).toBe(BTC - 7_000n);

    // The deposit accepts it; 4 h later anyone raises the fee by the initial fee.
    const d = depositContract(dep, opened.deposit);
    await send(d.provideRedemptionSignature(27 + sig0.recoveryId, sig0.r, sig0.s));
    await increaseTime(dep.provider, 4 * 3600);
    await send(d.increaseRedemptionFee(outputValueBytes8LE(BTC - 7_000n), outputValueBytes8LE(BTC - 14_000n)));
    [h] = await readRedemptionHistories(provider, dep.addresses.TBTCSystem, [target], await provider.getBlockNumber());
    expect(h.state).toBe(5);
    expect(h.versions.map((v) => [v.index, v.feeSats, v.provided])).toEqual([[0, 7_000n, true], [1, 14_000n, false]]);
    expect(h.versions[1].requestedAt - h.versions[0].requestedAt).toBeGreaterThanOrEqual(4 * 3600);
    expect(redemptionSighash(facts(14_000n))).toBe(h.versions[1].digest);
    await signRedemptionDigest(dep, opened.keep, h.versions[1].digest);
    [h] = await readRedemptionHistories(provider, dep.addresses.TBTCSystem, [target], await provider.getBlockNumber());
    const tx1 = buildSignedRedemptionTx(facts(14_000n), h.versions[1].digest, h.versions[1].signature!);
    expect(tx1.txid).not.toBe(tx0.txid);
    expect(tx1.vsize).toBe(tx0.vsize);
  });

  it("a cache gives the same history as a full read, across new events and a reorg", async () => {
    const dep = devnet.deployment;
    const members = [devnetWallet(1).address, devnetWallet(3).address, devnetWallet(4).address];
    const a = await openDeposit(dep, { lotSats: BTC, members, fundWith: "vendingMachine" });
    await openDeposit(dep, { lotSats: BTC, members, fundWith: "vendingMachine" });
    const target = { deposit: a.deposit, keep: a.keep, fromBlock: dep.deploymentBlock };
    const cache = new HistoryCache();
    const read = async (c?: HistoryCache) => readRedemptionHistories(provider, dep.addresses.TBTCSystem, [target], await provider.getBlockNumber(), { cache: c });
    expect(await read(cache)).toEqual([]);
    await redeemDeposit(dep, a.deposit, { stopAt: "AWAITING_WITHDRAWAL_SIGNATURE" });
    const [h0] = await read(cache);
    expect(h0.versions).toHaveLength(1);
    const snap = await provider.send("evm_snapshot", []);
    const [k] = await read();
    await signRedemptionDigest(dep, a.keep, k.versions[0].digest);
    const sig = (await read(cache))[0].versions[0].signature!;
    await send(depositContract(dep, a.deposit).provideRedemptionSignature(27 + sig.recoveryId, sig.r, sig.s));
    const cached = await read(cache);
    expect(cached).toEqual(await read());
    expect(cached[0].versions[0].provided).toBe(true);
    expect(cached[0].state).toBe(6);
    // The signature's blocks are reverted: the cache must not keep what the chain dropped.
    await provider.send("evm_revert", [snap]);
    await provider.send("evm_mine", []);
    const after = await read(cache);
    expect(after).toEqual(await read());
    expect(after[0].versions[0].provided).toBe(false);
    expect(after[0].state).toBe(5);
  });
});
