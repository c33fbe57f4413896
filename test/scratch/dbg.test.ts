import { it } from "vitest";
import { ethers } from "ethers";
import { startHardhatNode } from "../../src/devnet/node";
import { deployUmaInfrastructure, creatorParams, loadUmaArtifact } from "../../src/devnet/uma";
it("dbg", async () => {
  const node = await startHardhatNode();
  const provider = new ethers.JsonRpcProvider(node.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1 });
  const signer = await provider.getSigner(0);
  const infra = await deployUmaInfrastructure(signer);
  const latest = await provider.getBlock("latest");
  const c = new ethers.Contract(infra.addresses.creator, loadUmaArtifact("ExpiringMultiPartyCreator").abi, signer);
  const p = creatorParams(infra, { collateralRequirement: 1250000000000000000n, minSponsorTokens: 5n*10n**18n, liquidationLiveness: 7200n, withdrawalLiveness: 7200n, expirationTimestamp: BigInt(latest!.timestamp + 86400*3), disputeBondPercentage: 10n**17n, sponsorDisputeRewardPercentage: 10n**17n, disputerDisputeRewardPercentage: 10n**17n }, { syntheticName: "x", syntheticSymbol: "y" });
  try { const d = c.interface.encodeFunctionData("createExpiringMultiParty",[p]);  console.log(await provider.estimateGas({to: infra.addresses.creator, data: d, from: await signer.getAddress()}));  } catch (e) { console.log("ERR", (e as any).shortMessage, (e as any).info?.error); }
  console.log("code len", (await provider.getCode(infra.addresses.creator)).length);
  await node.stop();
}, 120000);
