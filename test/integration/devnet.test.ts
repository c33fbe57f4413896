import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers } from "ethers";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { tbtcAbi, doubleArtifact } from "../../src/devnet/artifacts";
import { startAutoSigner } from "../../src/devnet/autosign";
import { DepositState, courtesyCall, liquidateDeposit, openDeposit, redeemDeposit, signRedemptionDigest } from "../../src/devnet/deposits";
import { type Devnet, type SeededDeposit, devnetWallet, startDevnet } from "../../src/devnet/scenario";
import { keepSigningKey } from "../../src/devnet/signer";
import { buildFundingProof, hash256, mineHeaders } from "../../src/devnet/spv";
import { depositContract, keepContract, setEthBtcPrice } from "../../src/devnet/tbtc";

let devnet: Devnet;
let outDir: string;
let snapshot: string | undefined;

const byLabel = (label: string): SeededDeposit => {
  const d = devnet.scenario.deposits.find((x) => x.label === label);
  if (!d) throw new Error(`no seeded deposit ${label}`);
  return d;
};
const rpc = (method: string, params: unknown[] = []) => devnet.provider.send(method, params);

beforeAll(async () => {
  outDir = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-devnet-"));
  devnet = await startDevnet({ out: path.join(outDir, "deployment.json") });
});

afterAll(async () => {
  await devnet?.stop();
  if (outDir) fs.rmSync(outDir, { recursive: true, force: true });
});

describe("seeded tBTC v1 devnet", () => {
  it("writes a deployment file naming every contract and both operators", () => {
    const file = JSON.parse(fs.readFileSync(path.join(outDir, "deployment.json"), "utf8"));
    expect(file.chainId).toBe(31337);
    expect(file.rpcUrl).toBe(devnet.rpcUrl);
    for (const name of ["TBTCSystem", "TBTCToken", "VendingMachine", "TBTCDepositToken", "FeeRebateToken", "DepositFactory", "BondedECDSAKeepFactory", "Medianizer", "Relay"]) {
      expect(ethers.isAddress(file.contracts[name]), name).toBe(true);
    }
    expect(file.operators).toEqual([devnetWallet(1).address, devnetWallet(2).address]);
    expect(file.deploymentBlock).toBeGreaterThan(0);
    expect(file.deposits.length).toBe(devnet.scenario.deposits.length);
  });

  it("puts every seeded deposit in its expected state", async () => {
    expect(devnet.scenario.deposits.length).toBeLessThanOrEqual(12);
    for (const d of devnet.scenario.deposits) {
      const state = Number(await depositContract(devnet.deployment, d.deposit).currentState());
      expect(state, d.label).toBe(DepositState[d.expectedState]);
    }
    const states = new Set(devnet.scenario.deposits.map((d) => d.expectedState));
    expect([...states].sort()).toEqual(["ACTIVE", "COURTESY_CALL", "LIQUIDATED", "REDEEMED"]);
  });

  it("spreads collateralization over the healthy, at-risk and courtesy-call bands", async () => {
    const bands = { healthy: 0, atRisk: 0, courtesy: 0 };
    for (const d of devnet.scenario.deposits.filter((x) => x.collateralPercent !== undefined)) {
      const pct = Number(await depositContract(devnet.deployment, d.deposit).collateralizationPercentage());
      expect(pct, d.label).toBe(d.collateralPercent);
      if (pct >= 150) bands.healthy++;
      else if (pct >= 125 && pct < 130) bands.atRisk++;
      else if (pct < 125) bands.courtesy++;
    }
    expect(bands.healthy).toBeGreaterThanOrEqual(3);
    expect(bands.atRisk).toBeGreaterThanOrEqual(2);
    expect(bands.courtesy).toBe(1);
    const lots = new Set(devnet.scenario.deposits.map((d) => d.lotSats));
    expect([...lots].sort()).toEqual([10n ** 8n, 10n ** 9n, 5n * 10n ** 8n]);
  });

  it("emits BondedECDSAKeepCreated listing each keep's members, owner and application", async () => {
    const { keepFactory } = devnet.deployment.contracts;
    const logs = await keepFactory.queryFilter(keepFactory.filters.BondedECDSAKeepCreated(), devnet.deployment.deploymentBlock);
    const byKeep = new Map(logs.map((l) => [((l as ethers.EventLog).args.keepAddress as string).toLowerCase(), (l as ethers.EventLog).args]));
    for (const d of devnet.scenario.deposits) {
      const ev = byKeep.get(d.keep.toLowerCase());
      expect(ev, d.label).toBeDefined();
      expect((ev!.members as string[]).map((m) => m.toLowerCase())).toEqual(d.members.map((m) => m.toLowerCase()));
      expect(ev!.owner).toBe(d.deposit);
      expect(ev!.application).toBe(devnet.deployment.addresses.TBTCSystem);
      expect(ev!.honestThreshold).toBe(3n);
      expect(await keepContract(devnet.deployment, d.keep).getMembers()).toEqual(d.members);
    }
    // Both operators share keeps with other signers.
    for (const op of devnet.scenario.operators) {
      const mine = logs.filter((l) => ((l as ethers.EventLog).args.members as string[]).some((m) => m.toLowerCase() === op.toLowerCase()));
      expect(mine.length).toBeGreaterThanOrEqual(4);
    }
  });

  it("closes the redeemed deposit's keep and terminates the liquidated one's", async () => {
    const redeemed = keepContract(devnet.deployment, byLabel("redeemed-1btc").keep);
    expect([await redeemed.isActive(), await redeemed.isClosed(), await redeemed.isTerminated()]).toEqual([false, true, false]);
    const liquidated = keepContract(devnet.deployment, byLabel("liquidated-1btc").keep);
    expect([await liquidated.isActive(), await liquidated.isClosed(), await liquidated.isTerminated()]).toEqual([false, false, true]);
    expect(await liquidated.checkBondAmount()).toBe(0n);
    for (const d of devnet.scenario.deposits.filter((x) => !x.keepFinished)) {
      expect(await keepContract(devnet.deployment, d.keep).isActive(), d.label).toBe(true);
    }
  });

  it("leaves the operators holding TBTC minted through the VendingMachine", async () => {
    const [a, b] = devnet.scenario.operators;
    const { tbtcToken } = devnet.deployment.contracts;
    expect(await tbtcToken.balanceOf(a)).toBeGreaterThan(ethers.parseEther("14"));
    expect(await tbtcToken.balanceOf(b)).toBeGreaterThan(ethers.parseEther("9"));
  });
});

describe("devnet helpers", () => {
  beforeEach(async () => {
    snapshot = (await rpc("evm_snapshot")) as string;
  });
  afterEach(async () => {
    if (snapshot) await rpc("evm_revert", [snapshot]);
    snapshot = undefined;
  });

  it("signRedemptionDigest yields a signature the Deposit accepts", async () => {
    const d = byLabel("healthy-1btc"); // TDT held by the deployer, who may redeem while ACTIVE
    await redeemDeposit(devnet.deployment, d.deposit, { stopAt: "AWAITING_WITHDRAWAL_SIGNATURE" });
    const deposit = depositContract(devnet.deployment, d.deposit);
    expect(Number(await deposit.currentState())).toBe(DepositState.AWAITING_WITHDRAWAL_SIGNATURE);

    // A signature from any other key is refused by the real Deposit.
    const keep = keepContract(devnet.deployment, d.keep);
    const digest = (await keep.digest()) as string;
    const forged = keepSigningKey(byLabel("healthy-1btc-vm").keep).sign(digest);
    await expect(deposit.provideRedemptionSignature.staticCall(forged.v, forged.r, forged.s)).rejects.toThrow(/Invalid signature/);

    await signRedemptionDigest(devnet.deployment, d.keep);
    const [ev] = await keep.queryFilter(keep.filters.SignatureSubmitted(digest));
    const { r, s, recoveryID } = (ev as ethers.EventLog).args;
    expect(BigInt(s)).toBeLessThanOrEqual(0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n);
    // Provided by an unrelated account, as a client (keepctl) would.
    const client = deposit.connect(await devnet.provider.getSigner(7)) as ethers.Contract;
    await (await client.provideRedemptionSignature(27 + Number(recoveryID), r, s)).wait();
    expect(Number(await deposit.currentState())).toBe(DepositState.AWAITING_WITHDRAWAL_PROOF);
  });

  it("redeems a VendingMachine-held at-risk deposit with an operator's TBTC and closes its keep", async () => {
    const d = byLabel("at-risk-1btc-128pct-vm");
    const operator = await devnet.provider.getSigner(devnet.scenario.operators[0]);
    const { tbtcToken } = devnet.deployment.contracts;
    const before = (await tbtcToken.balanceOf(devnet.scenario.operators[0])) as bigint;
    await redeemDeposit(devnet.deployment, d.deposit, { redeemer: operator });
    expect(Number(await depositContract(devnet.deployment, d.deposit).currentState())).toBe(DepositState.REDEEMED);
    expect(await keepContract(devnet.deployment, d.keep).isClosed()).toBe(true);
    const paid = before - ((await tbtcToken.balanceOf(devnet.scenario.operators[0])) as bigint);
    // The lot (1 TBTC) less the operator's share of the signer fee that comes back as a keep member.
    expect(paid).toBeGreaterThan(ethers.parseEther("0.999"));
    expect(paid).toBeLessThanOrEqual(ethers.parseEther("1.0005"));
  });

  it("setEthBtcPrice moves every deposit's collateralization with the price", async () => {
    const healthy = depositContract(devnet.deployment, byLabel("healthy-1btc").deposit);
    const atRisk = depositContract(devnet.deployment, byLabel("at-risk-5btc-127pct").deposit);
    await setEthBtcPrice(devnet.deployment, 0.024);
    expect(Number(await healthy.collateralizationPercentage())).toBe(120);
    expect(Number(await atRisk.collateralizationPercentage())).toBe(101);
    await healthy.notifyCourtesyCall().then((tx: ethers.TransactionResponse) => tx.wait());
    expect(Number(await healthy.currentState())).toBe(DepositState.COURTESY_CALL);
  });

  it("courtesy-calls and liquidates healthy deposits by dipping the price only for the notification", async () => {
    const cc = depositContract(devnet.deployment, byLabel("healthy-1btc").deposit);
    const liq = byLabel("healthy-1btc-vm");
    const bystander = depositContract(devnet.deployment, byLabel("healthy-5btc-vm").deposit);
    await courtesyCall(devnet.deployment, await cc.getAddress());
    expect(Number(await cc.currentState())).toBe(DepositState.COURTESY_CALL);
    expect(Number(await cc.collateralizationPercentage())).toBe(150); // price restored

    const buyer = await devnet.provider.getSigner(devnet.scenario.operators[0]);
    const balanceBefore = (await devnet.provider.getBalance(liq.deposit)) as bigint;
    await liquidateDeposit(devnet.deployment, liq.deposit, { buyer });
    expect(Number(await depositContract(devnet.deployment, liq.deposit).currentState())).toBe(DepositState.LIQUIDATED);
    expect(await keepContract(devnet.deployment, liq.keep).isTerminated()).toBe(true);
    // The seized bond (real ETH) now sits in the Deposit for the buyer and initiator to withdraw.
    expect((await devnet.provider.getBalance(liq.deposit)) - balanceBefore).toBeGreaterThan(ethers.parseEther("40"));
    expect(Number(await bystander.collateralizationPercentage())).toBe(150);
    expect(Number(await bystander.currentState())).toBe(DepositState.ACTIVE);
  });

  it("opens a deposit to any allowed lot and funds it with a synthetic SPV proof", async () => {
    const members = devnet.scenario.otherSigners.slice(0, 3);
    const opened = await openDeposit(devnet.deployment, { lotSats: 2n * 10n ** 7n, members, fundWith: "none" });
    const deposit = depositContract(devnet.deployment, opened.deposit);
    expect(Number(await deposit.currentState())).toBe(DepositState.AWAITING_BTC_FUNDING_PROOF);
    // A proof paying less than the lot is rejected by the real funding checks.
    const short = buildFundingProof(keepSigningKey(opened.keep).compressedPublicKey, 2n * 10n ** 7n - 1n, "0x01");
    await expect(
      deposit.provideBTCFundingProof.staticCall(short.txVersion, short.txInputVector, short.txOutputVector, short.txLocktime, 0, short.merkleProof, 0, short.bitcoinHeaders),
    ).rejects.toThrow(/Deposit too small/);
    const opened2 = await openDeposit(devnet.deployment, { lotSats: 10n ** 6n, members, fundWith: "proof" });
    expect(Number(await depositContract(devnet.deployment, opened2.deposit).currentState())).toBe(DepositState.ACTIVE);
    expect(await devnet.deployment.contracts.tdt.ownerOf(BigInt(opened2.deposit))).toBe(devnet.scenario.deployer);
  });

  it("the auto-signer answers a redemption request like the keep's signers", async () => {
    const d = byLabel("healthy-1btc");
    const auto = startAutoSigner(devnet.deployment, { intervalMs: 50 });
    try {
      await redeemDeposit(devnet.deployment, d.deposit, { stopAt: "AWAITING_WITHDRAWAL_SIGNATURE" });
      const keep = keepContract(devnet.deployment, d.keep);
      const deadline = Date.now() + 10_000;
      while (auto.signed.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(auto.signed).toEqual([{ keep: d.keep, digest: await keep.digest() }]);
      expect(await keep.isAwaitingSignature(await keep.digest())).toBe(false);
    } finally {
      auto.stop();
    }
  });

  it("the auto-signer reports nothing once stopped, even when its provider goes away mid-check", async () => {
    const own = new ethers.JsonRpcProvider(devnet.rpcUrl, 31337, { staticNetwork: true });
    // Every request the signer makes through `own` is tracked, so the test knows when its tick is over.
    const inFlight: Promise<unknown>[] = [];
    const tracked = new Proxy(own, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target);
        if (typeof v !== "function") return v;
        return (...args: unknown[]) => {
          const r = v.apply(target, args);
          if (r instanceof Promise) inFlight.push(r.catch(() => undefined));
          return r;
        };
      },
    });
    const errors: unknown[] = [];
    // The first check starts at once; stop and destroy while its request is in flight.
    const auto = startAutoSigner({ ...devnet.deployment, provider: tracked }, { intervalMs: 50, onError: (e) => errors.push(e) });
    auto.stop();
    own.destroy();
    expect(inFlight.length).toBeGreaterThan(0);
    // Wait until no request is pending, then one macrotask so the tick's catch has run.
    for (let seen = -1; seen !== inFlight.length; ) {
      seen = inFlight.length;
      await Promise.all(inFlight);
      await new Promise((r) => setImmediate(r));
    }
    expect(errors).toEqual([]);
  });
});

describe("synthetic SPV data", () => {
  it("mines linked headers under the easy target", () => {
    const root = hash256("0x1234");
    const headers = ethers.getBytes(mineHeaders(root, 6));
    expect(headers.length).toBe(480);
    let prev: string | undefined;
    for (let i = 0; i < 6; i++) {
      const h = headers.slice(i * 80, i * 80 + 80);
      if (prev) expect(ethers.hexlify(h.slice(4, 36))).toBe(prev);
      expect(ethers.hexlify(h.slice(36, 68))).toBe(root);
      const digest = hash256(h);
      expect(BigInt("0x" + Buffer.from(ethers.getBytes(digest)).reverse().toString("hex")) <= 0x7fffffn << 232n).toBe(true);
      prev = digest;
    }
  });

  it("reads ABIs straight from the artifacts", () => {
    expect(new ethers.Interface(tbtcAbi("Deposit")).getFunction("provideRedemptionSignature")).not.toBeNull();
    expect(new ethers.Interface(doubleArtifact("DevBondedECDSAKeepFactory").abi).getEvent("BondedECDSAKeepCreated")!.format("sighash")).toBe(
      "BondedECDSAKeepCreated(address,address[],address,address,uint256)",
    );
  });
});
