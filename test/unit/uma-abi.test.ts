import { describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { EMP_ABI } from "../../src/lib/uma/emp-abi";
import { loadUmaArtifact } from "../../src/devnet/uma";
import { encodeCreateLiquidation, encodeDispute, encodeApprove, encodeWithdrawLiquidation, empInterface } from "../../src/lib/uma/emp-client";

describe("EMP ABI slice", () => {
  const artifact = new ethers.Interface(loadUmaArtifact("ExpiringMultiParty").abi);
  it("matches the published ExpiringMultiParty artifact fragment by fragment", () => {
    const ours = new ethers.Interface(EMP_ABI);
    ours.forEachFunction((f) => expect(f.format("full")).toBe(artifact.getFunction(f.selector)!.format("full")));
    ours.forEachEvent((e) => expect(e.format("full")).toBe(artifact.getEvent(e.topicHash)!.format("full")));
    expect(ours.fragments.length).toBe(EMP_ABI.length);
  });
  it("builds calldata the artifact decodes to the same arguments", () => {
    const emp = "0x00000000000000000000000000000000000000e1";
    const sponsor = "0x00000000000000000000000000000000000000A1";
    const tx = encodeCreateLiquidation(emp, { sponsor, tokens: 7n, minCollateralPerToken: 1n, maxCollateralPerToken: 2n, deadline: 99n });
    expect(tx.to).toBe(ethers.getAddress(emp));
    const args = artifact.decodeFunctionData("createLiquidation", tx.data);
    expect([args[0], args[1][0], args[2][0], args[3][0], args[4]]).toEqual([ethers.getAddress(sponsor), 1n, 2n, 7n, 99n]);
    expect([...artifact.decodeFunctionData("dispute", encodeDispute(emp, 3n, sponsor).data)]).toEqual([3n, ethers.getAddress(sponsor)]);
    expect([...artifact.decodeFunctionData("withdrawLiquidation", encodeWithdrawLiquidation(emp, 4n, sponsor).data)]).toEqual([4n, ethers.getAddress(sponsor)]);
    const approve = encodeApprove(sponsor, emp, 5n);
    expect(approve.data.slice(0, 10)).toBe(ethers.id("approve(address,uint256)").slice(0, 10));
    expect(empInterface.getFunction("createLiquidation")!.selector).toBe(artifact.getFunction("createLiquidation")!.selector);
  });
});
