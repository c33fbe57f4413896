import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers } from "ethers";
import { startHardhatNode, type LocalNode } from "../../src/devnet/node";
import { deployUmaInfrastructure, loadUmaArtifact, type UmaInfrastructure } from "../../src/devnet/uma";
import { deployRai, seedRateHistory, type RaiDeployment } from "../../src/devnet/rai";
import { RAY } from "../../src/lib/rai/math";
import { empInterface } from "../../src/lib/uma/emp-calls";
import { parseFixedStrict } from "../../src/lib/fixed-point";
import { buildOnce, spawnKeepctl } from "../helpers/cli";

/**
 * The seed's story through the built binary, on the real contracts: launch the rr-rai EMP through
 * UMA's Creator, create a 200 / 100 position, request a 100 withdrawal (which the dApp would not
 * do), and watch keepctl's liquidator liquidate it. Every step is counted from the chain.
 */
const wad = (t: string) => parseFixedStrict(t, 18);
const MNEMONIC = "test test test test test test test test test test test junk";
const keyOf = (i: number) => ethers.HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).privateKey;
const addr = (i: number) => new ethers.Wallet(keyOf(i)).address;
const LAUNCHER = 5;
const SPONSOR = 1;
const LIQUIDATOR = 2;

let tmp: string;
let node: LocalNode;
let provider: ethers.JsonRpcProvider;
let rai: RaiDeployment;
let infra: UmaInfrastructure;
let deployment: string;
let emp: string;

const keepctl = (args: string[], as?: number) => spawnKeepctl(["--deployment", deployment, ...args], { home: tmp, env: as === undefined ? {} : { KEEPCTL_PRIVATE_KEY: keyOf(as) } }).done;
const empEvents = async (name: string, who?: string) => {
  const logs = await provider.getLogs({ address: emp, fromBlock: 0, toBlock: "latest", topics: [empInterface.getEvent(name)!.topicHash, ...(who ? [ethers.zeroPadValue(who, 32)] : [])] });
  return logs.map((l) => empInterface.parseLog(l)!);
};
const json = (stdout: string) => JSON.parse(stdout) as Record<string, unknown>;

beforeAll(async () => {
  buildOnce();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-emp-sponsor-e2e-"));
  node = await startHardhatNode();
  provider = new ethers.JsonRpcProvider(node.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1 });
  const deployer = await provider.getSigner(0);
  rai = await deployRai(deployer);
  await seedRateHistory(rai, { count: 3, intervalSec: 10800, rates: [RAY, RAY - 3_000_000_000n, RAY + 1_000_000_000n] });
  infra = await deployUmaInfrastructure(deployer);
  const coll = new ethers.Contract(infra.addresses.collateral, loadUmaArtifact("TestnetERC20").abi, deployer);
  await (await coll.allocateTo(addr(SPONSOR), wad("200"))).wait();
  await (await coll.allocateTo(addr(LIQUIDATOR), wad("1500"))).wait();
  deployment = path.join(tmp, "deployment.json");
  fs.writeFileSync(deployment, JSON.stringify({
    network: "devnet", chainId: 31337, rpcUrl: node.rpcUrl, deploymentBlock: rai.deploymentBlock,
    contracts: { RateSetter: rai.addresses.RateSetter, ExpiringMultiPartyCreator: infra.addresses.creator, UmaFinder: infra.addresses.finder, EmpCollateralToken: infra.addresses.collateral },
  }));
}, 180_000);

afterAll(async () => {
  provider?.destroy();
  await node?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe("the seed's story: rr-rai launched, 200 / 100 created, a 100 withdrawal requested, liquidated", () => {
  it("emp-launch --preset rr-rai creates the EMP through the Creator with the seed's parameters, registered", async () => {
    const latest = (await provider.getBlock("latest"))!.timestamp;
    const expiry = new Date((latest + 30 * 86400) * 1000);
    expiry.setUTCHours(22, 0, 0, 0);
    const r = await keepctl(["emp-launch", "--preset", "rr-rai", "--expiry", expiry.toISOString().replace(/\.\d+Z$/, "Z"), "--yes", "--json"], LAUNCHER);
    expect(r.code).toBe(0);
    const doc = json(r.stdout);
    expect(doc).toMatchObject({ status: "created", priceIdentifier: "RaiRedemptionRate", collateralRequirement: "1.25", disputeBondPercentage: "0.1", sponsorDisputeRewardPercentage: "0.05", disputerDisputeRewardPercentage: "0.2", minSponsorTokens: "100", withdrawalLiveness: 7200, liquidationLiveness: 7200, finalFee: "0" });
    emp = doc.emp as string;
    // From the chain: one CreatedExpiringMultiParty by the launcher, the EMP's own parameters, the Registry.
    const creator = new ethers.Contract(infra.addresses.creator, loadUmaArtifact("ExpiringMultiPartyCreator").abi, provider);
    const created = await creator.queryFilter(creator.filters.CreatedExpiringMultiParty());
    expect(created.map((e) => [(e as ethers.EventLog).args[0], (e as ethers.EventLog).args[1]])).toEqual([[emp, addr(LAUNCHER)]]);
    const c = new ethers.Contract(emp, loadUmaArtifact("ExpiringMultiParty").abi, provider);
    expect([await c.collateralRequirement(), await c.minSponsorTokens(), await c.disputeBondPercentage(), await c.sponsorDisputeRewardPercentage(), await c.disputerDisputeRewardPercentage(), await c.withdrawalLiveness(), await c.liquidationLiveness(), await c.expirationTimestamp()])
      .toEqual([wad("1.25"), wad("100"), wad("0.1"), wad("0.05"), wad("0.2"), 7200n, 7200n, BigInt(expiry.getTime() / 1000)]);
    expect(ethers.decodeBytes32String(await c.priceIdentifier())).toBe("RaiRedemptionRate");
    const registry = new ethers.Contract(infra.addresses.registry, loadUmaArtifact("Registry").abi, provider);
    expect(await registry.isContractRegistered(emp)).toBe(true);
    const symbol = await new ethers.Contract(doc.syntheticToken as string, ["function symbol() view returns (string)"], provider).symbol();
    expect(symbol).toMatch(/^RR-RAI-[A-Z]{3}\d{2}$/);
    // Run again: the journal knows it was done; nothing new is created.
    const again = await keepctl(["emp-launch", "--preset", "rr-rai", "--expiry", expiry.toISOString().replace(/\.\d+Z$/, "Z"), "--yes", "--json"], LAUNCHER);
    expect(json(again.stdout)).toMatchObject({ status: "done-earlier", emp });
    expect((await creator.queryFilter(creator.filters.CreatedExpiringMultiParty())).length).toBe(1);
  });

  it("emp-sponsor create 200 100: the position, in one PositionCreated", async () => {
    const r = await keepctl(["emp-sponsor", "create", "200", "100", "--emp", emp, "--yes", "--json"], SPONSOR);
    expect(r.code).toBe(0);
    expect(json(r.stdout)).toMatchObject({ action: "create", status: "mined", plan: { approvals: [{ token: "collateral", amount: wad("200").toString() }] } });
    expect((await empEvents("PositionCreated", addr(SPONSOR))).map((e) => [e.args.collateralAmount, e.args.tokenAmount])).toEqual([[wad("200"), wad("100")]]);
    // The liquidator mints the tokens it will burn from a position of its own.
    const l = await keepctl(["emp-sponsor", "create", "1500", "500", "--emp", emp, "--yes"], LIQUIDATOR);
    expect(l.code).toBe(0);
    expect(l.stdout).toMatch(/^create: mined in block \d+ 0x[0-9a-f]{64}\n  NewSponsor\n  PositionCreated collateralAmount=1500 tokenAmount=500\n$/);
  });

  it("an instant withdrawal of 100 is refused in words (exit 5, nothing sent); --request starts the request, with a warning", async () => {
    const nonce = await provider.getTransactionCount(addr(SPONSOR));
    const r = await keepctl(["emp-sponsor", "withdraw", "100", "--emp", emp, "--yes"], SPONSOR);
    expect(r.code).toBe(5);
    expect(r.stderr).toBe("error: collateral ratio after the withdrawal 1.00 is below the GCR 2.83: an instant withdrawal would revert; --request starts a 2 h withdrawal request instead\nhint: at most 0 can be withdrawn at once\n");
    expect(await provider.getTransactionCount(addr(SPONSOR))).toBe(nonce);
    const q = await keepctl(["emp-sponsor", "withdraw", "100", "--request", "--emp", emp, "--yes"], SPONSOR);
    expect(q.code).toBe(0);
    expect(q.stderr).toMatch(/^warning: afterwards the position's ratio at the feed's price (0\.99|1\.0)\d* would be 1\.00, below the liquidators' trigger 1\.2\d \(a pending withdrawal counts as gone\): keepctl's and UMA's liquidators would liquidate it$/m);
    expect((await empEvents("RequestWithdrawal", addr(SPONSOR))).map((e) => e.args.collateralAmount)).toEqual([wad("100")]);
    expect(await provider.getTransactionCount(addr(SPONSOR))).toBe(nonce + 1);
  });

  it("emp-position shows it liquidatable, net of the request, and exits 10 below --threshold", async () => {
    const r = await keepctl(["emp-position", "--emp", emp, "--threshold", "1.5", "--json"], SPONSOR);
    expect(r.code).toBe(10);
    const doc = json(r.stdout);
    expect(doc).toMatchObject({ sponsor: addr(SPONSOR), belowThreshold: true, threshold: "1.5", priceSource: "RAI redemption-rate feed" });
    const p = doc.position as Record<string, unknown>;
    expect(p).toMatchObject({ collateral: "200", netCollateral: "100", tokens: "100", liquidatable: true, collateralRequirement: "1.25", liquidatorTriggerRatio: "1.225", liquidationPrice: "0.8", maxMintable: "0", maxInstantWithdrawal: "0", pendingWithdrawal: { amount: "100", passed: false } });
    expect(Number(p.ratio)).toBeCloseTo(1, 6);
    const human = await keepctl(["emp-position", "--emp", emp, "--sponsor", addr(SPONSOR)]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^Ratio at price\t(0\.99|1\.0)\d* LIQUIDATABLE$/m);
    expect(human.stdout).toMatch(/^Pending withdrawal\t100, passes \S+Z; counted as gone$/m);
    expect(human.stdout).toMatch(/^Collateral\t200 \(100 net of the pending withdrawal\)$/m);
    expect(human.stdout).toMatch(/^Liquidation price\t0\.8$/m);
  });

  it("keepctl's liquidator liquidates it: locked 200, liquidated 100", async () => {
    const r = await keepctl(["emp-liquidate", "--once", "--json", "--emp", emp], LIQUIDATOR);
    expect(r.code).toBe(0);
    const created = await empEvents("LiquidationCreated", addr(SPONSOR));
    expect(created.map((e) => [e.args.liquidator, e.args.tokensOutstanding, e.args.lockedCollateral, e.args.liquidatedCollateral])).toEqual([[addr(LIQUIDATOR), wad("100"), wad("200"), wad("100")]]);
    const after = await keepctl(["emp-position", "--emp", emp, "--sponsor", addr(SPONSOR), "--json"]);
    expect(json(after.stdout)).toMatchObject({ position: null, liquidations: [{ id: 0, state: "NotDisputed", liquidator: addr(LIQUIDATOR), tokens: "100", lockedCollateral: "200", liquidatedCollateral: "100" }] });
  });
});

describe("emp-launch where UMA governance has not taken its steps", () => {
  it("names each missing step (exit 3) and sends nothing", async () => {
    const bare = await deployUmaInfrastructure(await provider.getSigner(0), { whitelistIdentifier: false, grantCreatorRole: false });
    const nonce = await provider.getTransactionCount(addr(LAUNCHER));
    const r = await keepctl(["emp-launch", "--preset", "rr-rai", "--expiry", "2100000000", "--yes", "--creator", bare.addresses.creator, "--finder", bare.addresses.finder, "--collateral", bare.addresses.collateral], LAUNCHER);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(`error: this chain is not ready for the EMP: the price identifier "RaiRedemptionRate" is not on UMA's IdentifierWhitelist ${bare.addresses.identifierWhitelist}: it must be approved by a UMIP vote of UMA governance first; the Creator ${bare.addresses.creator} does not hold the Registry's ContractCreator role (${bare.addresses.registry}): UMA governance grants it (Registry.addMember(1, creator)); without it the EMP cannot be registered\nhint: docs/emp-sponsor.md (Launch) lists the governance steps; on the devnet they are all taken\n`);
    expect(await provider.getTransactionCount(addr(LAUNCHER))).toBe(nonce);
  });
});
