import { describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { ethers } from "ethers";
import { DEPOSIT_ABI, KEEP_ABI, KEEP_FACTORY_ABI, TBTC_SYSTEM_ABI, parseStateName, stateName } from "../../src/lib/tbtc/abis";

// The hand-written fragments must match the published artifacts exactly (name, inputs, outputs),
// or every read would revert or decode garbage on mainnet.
function artifactAbi(rel: string): ethers.Interface {
  const file = path.join(__dirname, "../../node_modules", rel);
  return new ethers.Interface(JSON.parse(fs.readFileSync(file, "utf8")).abi);
}

function expectSubset(ours: readonly string[], theirs: ethers.Interface) {
  const mine = new ethers.Interface(ours);
  mine.forEachFunction((f) => {
    const t = theirs.getFunction(f.selector);
    expect(t, `${f.format()} missing from artifact`).not.toBeNull();
    // same selector = same name and input types; the outputs and mutability must agree too
    expect(t!.stateMutability).toBe("view");
    expect(t!.outputs.map((o) => o.type)).toEqual(f.outputs.map((o) => o.type));
  });
  mine.forEachEvent((e) => {
    const t = theirs.getEvent(e.topicHash);
    expect(t, `${e.format()} missing from artifact`).not.toBeNull();
    expect(t!.inputs.map((i) => `${i.type}${i.indexed ? " indexed" : ""}`)).toEqual(e.inputs.map((i) => `${i.type}${i.indexed ? " indexed" : ""}`));
  });
}

describe("tBTC ABI fragments", () => {
  it("match the v1.1.0 Deposit and TBTCSystem artifacts", () => {
    expectSubset(DEPOSIT_ABI, artifactAbi("@keep-network/tbtc/artifacts/Deposit.json"));
    expectSubset(TBTC_SYSTEM_ABI, artifactAbi("@keep-network/tbtc/artifacts/TBTCSystem.json"));
  });
  it("match the keep-ecdsa 1.2.1 keep and factory artifacts", () => {
    expectSubset(KEEP_ABI, artifactAbi("@keep-network/keep-ecdsa/artifacts/BondedECDSAKeep.json"));
    expectSubset(KEEP_FACTORY_ABI, artifactAbi("@keep-network/keep-ecdsa/artifacts/BondedECDSAKeepFactory.json"));
  });
});

describe("deposit state names", () => {
  it("maps 0..11 both ways, any case, and rejects unknown names", () => {
    expect(stateName(0)).toBe("START");
    expect(stateName(4)).toBe("ACTIVE");
    expect(stateName(8)).toBe("COURTESY_CALL");
    expect(stateName(11)).toBe("LIQUIDATED");
    expect(stateName(12)).toBe("UNKNOWN_12");
    expect(parseStateName("courtesy-call")).toBe(8);
    expect(parseStateName("Redeemed")).toBe(7);
    expect(parseStateName("10")).toBe(10);
    expect(parseStateName("12")).toBeUndefined();
    expect(parseStateName("ACTIV")).toBeUndefined();
  });
});
