import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { decideMint, fundingTargetBlocks, fundingTimeNeeded, type MintFacts } from "../../src/lib/tbtc/mint/mint-decide";
import { DEPOSIT_FACTORY_ABI, MINT_DEPOSIT_ABI, MINT_SYSTEM_ABI, MINT_VENDING_MACHINE_ABI, TDT_ABI } from "../../src/lib/tbtc/mint/mint-abi";
import { fundingScriptOf } from "../../src/lib/tbtc/mint/mint-facts";

/**
 * The mint decision against tBTC v1.1.0's rules, written out here from the reference (not from
 * the module): signer setup may be declared failed only strictly after createdAt + 3 h
 * (`> signingGroupRequestedAt + FORMATION_TIMEOUT`), the funding window is 3 h from
 * retrieveSignerPubkey, and keepctl's own rule: never (re)broadcast a funding transaction with
 * less than 2 × confirmations × 10 min of that window left.
 */
const H = 3600;
const T0 = 1_700_000_000;
const D = "0xdeposit";
const base: MintFacts = { created: true, state: 1, keyPublished: false, chainNow: T0 + 60, createdAt: T0, foreignHistory: 0, confirmationsRequired: 6, tdtOwner: "us", tdtApproved: false };
const decide = (over: Partial<MintFacts>) => decideMint({ ...base, ...over }, D);
const funding = (s: Partial<MintFacts> = {}) => ({ ...base, state: 2, keyPublished: true, fundingTimerStart: T0, chainNow: T0 + 60, ...s });

describe("decideMint: opening and signer setup", () => {
  it("opens the deposit first", () => {
    expect(decideMint({ ...base, created: false }, D)).toEqual({ step: "create", alerts: [] });
  });
  it("waits for the key until strictly after 3 h, then declares the setup failed", () => {
    const wait = decide({ chainNow: T0 + 3 * H });
    expect(wait).toMatchObject({ step: "wait-signers", setupDeadline: T0 + 3 * H, alerts: [] });
    const failed = decide({ chainNow: T0 + 3 * H + 1 });
    expect(failed.step).toBe("notify-setup-failed");
    expect(failed.alerts).toHaveLength(1);
    expect(failed.alerts[0]).toMatchObject({ key: `setup-failed:${D}`, level: "warning", title: "signer setup failed" });
    expect(failed.alerts[0].text).toContain(D);
  });
  it("without a known creation time it only waits", () => {
    expect(decide({ createdAt: undefined, chainNow: T0 + 100 * H })).toMatchObject({ step: "wait-signers", setupDeadline: undefined });
  });
  it("with the key: prepares the funding, and starts the clock only once it is journaled", () => {
    expect(decide({ keyPublished: true }).step).toBe("prepare-funding");
    expect(decide({ keyPublished: true, funding: { broadcast: false } }).step).toBe("retrieve-pubkey");
    // Even past the formation deadline: the key is there, so the clock can start before anyone calls notifySignerSetupFailed.
    expect(decide({ keyPublished: true, chainNow: T0 + 4 * H }).step).toBe("prepare-funding");
  });
  it("an address already paid by someone else is never funded", () => {
    const d = decide({ keyPublished: true, foreignHistory: 1 });
    expect(d).toMatchObject({ step: "stop", outcome: "foreign-funding" });
    expect(d.alerts.map((a) => [a.key, a.level, a.title])).toEqual([[`foreign-funding:${D}`, "critical", "deposit address already paid"]]);
    // Our own journaled funding goes on (the foreign payment is only noted later).
    expect(decide({ keyPublished: true, foreignHistory: 1, funding: { broadcast: false } }).step).toBe("retrieve-pubkey");
  });
});

describe("decideMint: the funding window", () => {
  const need = 2 * 6 * 600;
  it("needs 2 × confirmations × 10 min of the window to fund", () => {
    expect(fundingTimeNeeded(6)).toBe(need);
    expect(fundingTimeNeeded(1)).toBe(1200);
    const deadline = T0 + 3 * H;
    expect(decideMint(funding({ chainNow: deadline - need }), D)).toMatchObject({ step: "prepare-funding", fundingDeadline: deadline, alerts: [] });
    const late = decideMint(funding({ chainNow: deadline - need + 1 }), D);
    expect(late).toMatchObject({ step: "stop", outcome: "window-too-short" });
    expect(late.alerts[0]).toMatchObject({ key: `window-too-short:${D}`, level: "critical", title: "funding window too short" });
    expect(late.alerts[0].text).toContain("119 min are left");
    expect(late.alerts[0].text).toContain("less than the 120 min 6 confirmations need");
    expect(late.alerts[0].text).toContain("no funding transaction is sent");
  });
  it("a journaled transaction no server knows is broadcast (again) under the same rule", () => {
    const deadline = T0 + 3 * H;
    expect(decideMint(funding({ funding: { broadcast: true }, chainNow: deadline - need }), D).step).toBe("broadcast");
    const late = decideMint(funding({ funding: { broadcast: true }, chainNow: deadline - need + 1 }), D);
    expect(late).toMatchObject({ step: "stop", outcome: "window-too-short" });
    expect(late.alerts[0].text).toContain("is broadcast again");
    // The confirmations policy sets the margin: 1 confirmation needs 20 min.
    expect(decideMint(funding({ funding: { broadcast: false }, confirmationsRequired: 1, chainNow: deadline - 1200 }), D).step).toBe("broadcast");
    expect(decideMint(funding({ funding: { broadcast: false }, confirmationsRequired: 1, chainNow: deadline - 1199 }), D).step).toBe("stop");
  });
  it("a negative time left is reported as 0 min", () => {
    expect(decideMint(funding({ chainNow: T0 + 4 * H }), D).alerts[0].text).toContain(" 0 min are left");
  });
  it("without a known clock start it funds", () => {
    expect(decideMint(funding({ fundingTimerStart: undefined, chainNow: T0 + 10 * H }), D).step).toBe("prepare-funding");
  });
  it("someone else's payment before ours is seen: stop", () => {
    expect(decideMint(funding({ foreignHistory: 2, funding: { broadcast: true } }), D)).toMatchObject({ step: "stop", outcome: "foreign-funding" });
    expect(decideMint(funding({ foreignHistory: 2 }), D)).toMatchObject({ step: "stop", outcome: "foreign-funding" });
  });
  it("waits for the confirmations, proves at the required number", () => {
    expect(decideMint(funding({ funding: { broadcast: true, confirmations: 0 } }), D)).toMatchObject({ step: "wait-confirmations", alerts: [] });
    expect(decideMint(funding({ funding: { broadcast: true, confirmations: 5 } }), D).step).toBe("wait-confirmations");
    expect(decideMint(funding({ funding: { broadcast: true, confirmations: 6 } }), D).step).toBe("prove");
    expect(decideMint(funding({ funding: { broadcast: true, confirmations: 9 } }), D).step).toBe("prove");
    expect(decideMint(funding({ funding: { broadcast: false, confirmations: 2 }, confirmationsRequired: 2 }), D).step).toBe("prove");
  });
  it("critical under an hour left and not provable; past the window, says who may close it", () => {
    const deadline = T0 + 3 * H;
    expect(decideMint(funding({ funding: { broadcast: true, confirmations: 3 }, chainNow: deadline - H }), D).alerts).toEqual([]);
    const near = decideMint(funding({ funding: { broadcast: true, confirmations: 3 }, chainNow: deadline - H + 1 }), D);
    expect(near.alerts).toHaveLength(1);
    expect(near.alerts[0]).toMatchObject({ key: `funding-deadline:${D}`, level: "critical", title: "funding window about to close" });
    expect(near.alerts[0].text).toContain("60 min left");
    expect(near.alerts[0].text).toContain("3 of 6");
    expect(decideMint(funding({ funding: { broadcast: true, confirmations: 3 }, chainNow: deadline }), D).alerts[0].key).toBe(`funding-deadline:${D}`);
    const over = decideMint(funding({ funding: { broadcast: true, confirmations: 3 }, chainNow: deadline + 1 }), D);
    expect(over.step).toBe("wait-confirmations");
    expect(over.alerts).toHaveLength(1);
    expect(over.alerts[0]).toMatchObject({ key: `funding-timeout:${D}`, level: "critical", title: "funding window closed" });
    expect(over.alerts[0].text).toContain("notifyFundingTimedOut");
    // Provable: prove, whatever the clock says (nobody has closed it yet).
    expect(decideMint(funding({ funding: { broadcast: true, confirmations: 6 }, chainNow: deadline + 1 }), D)).toMatchObject({ step: "prove", alerts: [] });
  });
  it("a funding in the mempool below the market's rate for the blocks left is bumped, while the window is open", () => {
    const stuck = { broadcast: true, confirmations: 0, feeRateSatVb: 1.5 };
    expect(decideMint(funding({ funding: stuck, marketFeeRate: 1.6 }), D)).toMatchObject({ step: "bump-fee", alerts: [] });
    expect(decideMint(funding({ funding: stuck, marketFeeRate: 1.5 }), D).step).toBe("wait-confirmations");
    expect(decideMint(funding({ funding: stuck }), D).step).toBe("wait-confirmations");
    expect(decideMint(funding({ funding: { broadcast: true, confirmations: 0 }, marketFeeRate: 9 }), D).step).toBe("wait-confirmations");
    // Confirming already: no bump, whatever the market says.
    expect(decideMint(funding({ funding: { ...stuck, confirmations: 1 }, marketFeeRate: 50 }), D).step).toBe("wait-confirmations");
    // Under an hour left: bumped, and the alert stays.
    const deadline = T0 + 3 * H;
    const late = decideMint(funding({ funding: stuck, marketFeeRate: 20, chainNow: deadline - 600 }), D);
    expect(late.step).toBe("bump-fee");
    expect(late.alerts.map((a) => a.key)).toEqual([`funding-deadline:${D}`]);
    expect(decideMint(funding({ funding: stuck, marketFeeRate: 20, chainNow: deadline }), D).step).toBe("bump-fee");
    // Past the window: no more money into it.
    const over = decideMint(funding({ funding: stuck, marketFeeRate: 20, chainNow: deadline + 1 }), D);
    expect(over.step).toBe("wait-confirmations");
    expect(over.alerts.map((a) => a.key)).toEqual([`funding-timeout:${D}`]);
  });
  it("other payments beside our seen funding: a warning, and it goes on", () => {
    const d = decideMint(funding({ foreignHistory: 1, funding: { broadcast: true, confirmations: 6 } }), D);
    expect(d.step).toBe("prove");
    expect(d.alerts).toEqual([expect.objectContaining({ key: `foreign-funding:${D}`, level: "warning", title: "other payments to the deposit address" })]);
    expect(d.alerts[0].text).toBe(`${D}: 1 transaction(s) other than ours pay the deposit's address; only ours is proven`);
  });
});

describe("decideMint: failed setup", () => {
  it("after our funding was broadcast: the BTC is at stake, the abort is spelled out", () => {
    const d = decide({ state: 3, funding: { broadcast: true } });
    expect(d).toMatchObject({ step: "stop", outcome: "funding-timed-out" });
    expect(d.alerts).toHaveLength(1);
    expect(d.alerts[0]).toMatchObject({ key: `funded-then-failed:${D}`, level: "critical", title: "deposit closed after we funded it" });
    expect(d.alerts[0].text).toContain(`keepctl mint --abort ${D}`);
  });
  it("before any broadcast: the opening fee back when the contract holds it for us", () => {
    expect(decide({ state: 3, funding: { broadcast: false } })).toMatchObject({ step: "stop", outcome: "setup-failed", alerts: [] });
    expect(decide({ state: 3, withdrawableWei: 1n })).toMatchObject({ step: "withdraw-fee", outcome: "setup-failed" });
    expect(decide({ state: 3, withdrawableWei: 0n }).step).toBe("stop");
    expect(decide({ state: 3 }).step).toBe("stop");
    expect(decide({ state: 3, withdrawableWei: 5n, tdtOwner: "other" }).step).toBe("stop");
  });
});

describe("decideMint: TDT to TBTC", () => {
  it("approves the TDT, then swaps it; done once the VendingMachine holds it", () => {
    expect(decide({ state: 4 })).toEqual({ step: "approve-tdt", alerts: [] });
    expect(decide({ state: 4, tdtApproved: true })).toEqual({ step: "tdt-to-tbtc", alerts: [] });
    expect(decide({ state: 4, tdtOwner: "vending-machine" })).toMatchObject({ step: "stop", outcome: "minted", alerts: [] });
  });
  it("a TDT elsewhere, or a deposit no longer ACTIVE, cannot be minted", () => {
    const other = decide({ state: 4, tdtOwner: "other", tdtApproved: true });
    expect(other).toMatchObject({ step: "stop", outcome: "not-mintable" });
    expect(other.alerts[0]).toEqual({ key: `not-mintable:${D}`, level: "warning", title: "deposit cannot be minted", text: `${D}: its TDT belongs to another account` });
    expect(decide({ state: 8, tdtOwner: "vending-machine" })).toEqual({ step: "stop", outcome: "minted", alerts: [] });
    const called = decide({ state: 8 });
    expect(called.outcome).toBe("not-mintable");
    expect(called.alerts[0].text).toContain("state 8");
  });
});

describe("fee target", () => {
  it("blocks before the deadline, less the confirmations, at least 1", () => {
    expect(fundingTargetBlocks(0, 3 * H, 6)).toBe(12);
    expect(fundingTargetBlocks(T0, T0 + 3 * H, 6)).toBe(12);
    expect(fundingTargetBlocks(0, 3 * H - 1, 6)).toBe(11);
    expect(fundingTargetBlocks(0, 3 * H, 1)).toBe(17);
    expect(fundingTargetBlocks(0, 600, 6)).toBe(1);
    expect(fundingTargetBlocks(0, -600, 6)).toBe(1);
  });
});

describe("contract surface", () => {
  const artifact = (n: string) => JSON.parse(fs.readFileSync(path.join("node_modules/@keep-network/tbtc/artifacts", `${n}.json`), "utf8")).abi as ethers.InterfaceAbi;
  it("every fragment keepctl uses exists in the npm artifacts with the same selector", () => {
    for (const [abi, name] of [[MINT_DEPOSIT_ABI, "Deposit"], [MINT_SYSTEM_ABI, "TBTCSystem"], [DEPOSIT_FACTORY_ABI, "DepositFactory"], [TDT_ABI, "TBTCDepositToken"], [MINT_VENDING_MACHINE_ABI, "VendingMachine"]] as const) {
      const ours = new ethers.Interface(abi);
      const real = new ethers.Interface(artifact(name));
      ours.forEachFunction((f) => expect(real.getFunction(f.selector)?.format(), `${name}.${f.name}`).toBe(f.format()));
      ours.forEachEvent((e) => expect(real.getEvent(e.topicHash)?.format("full"), `${name}.${e.name}`).toBe(e.format("full")));
    }
  });
  it("funding script: the real mainnet funding vector's signer key pays its funding output", () => {
    // tbtc-bitcoin.md §7 vector V1 (tbtc v1.1.0 test data): signerPubkeyX‖Y and its txOutputVector
    // 0x01 ‖ 2040351d00000000 ‖ 16 ‖ 0014 86e7…1ab6 — the output DepositUtils.signerPKH accepts.
    const x = "d4aee75e57179f7cd18adcbaa7e2fca4ff7b1b446df88bf0b4398e4a26965a6e";
    const y = "e8bfb23428a4efecb3ebdc636139de9a568ed427fff20d28baa33ed48e9c44e1";
    expect(fundingScriptOf("0x" + x + y)).toBe("001486e7303082a6a21d5837176bc808bf4828371ab6");
    // An odd Y takes the 03 prefix: flipping Y's parity must change the script.
    const yOdd = y.slice(0, -1) + "0";
    expect(fundingScriptOf("0x" + x + yOdd)).not.toBe("001486e7303082a6a21d5837176bc808bf4828371ab6");
  });
});
