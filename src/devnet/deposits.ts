import { ethers } from "ethers";
import { tbtcAbi } from "./artifacts";
import { keepCompressedPublicKey, keepPublicKey64, signDigest, type DigestSignature } from "./signer";
import { buildFundingProof, buildRedemptionProof, fundingProofArgs, hash160, redemptionProofArgs, uint64LE } from "./spv";
import { type TbtcDeployment, currentWeiPerSat, depositContract, keepContract, send } from "./tbtc";
import { fundOnBitcoin, redeemOnBitcoin } from "./btc";

/** Deposit.currentState() values (tBTC v1.1.0). */
export const DepositState = {
  START: 0,
  AWAITING_SIGNER_SETUP: 1,
  AWAITING_BTC_FUNDING_PROOF: 2,
  FAILED_SETUP: 3,
  ACTIVE: 4,
  AWAITING_WITHDRAWAL_SIGNATURE: 5,
  AWAITING_WITHDRAWAL_PROOF: 6,
  REDEEMED: 7,
  COURTESY_CALL: 8,
  FRAUD_LIQUIDATION_IN_PROGRESS: 9,
  LIQUIDATION_IN_PROGRESS: 10,
  LIQUIDATED: 11,
} as const;
export type DepositStateName = keyof typeof DepositState;

export interface OpenDepositOptions {
  lotSats: bigint;
  /** Keep members (3 addresses: TBTCSystem asks for keeps of 3). */
  members: string[];
  /**
   * "proof": provideBTCFundingProof, the funder keeps the TDT (ACTIVE).
   * "vendingMachine": unqualifiedDepositToTbtc, the VendingMachine takes the TDT and mints TBTC to
   * the funder. "none": stop at AWAITING_BTC_FUNDING_PROOF. Default "proof".
   */
  fundWith?: "proof" | "vendingMachine" | "none";
  /** Opens and funds the deposit (receives the TDT). Default: the deployer. */
  funder?: ethers.Signer;
  /** Collateralization (percent) the keep's bond gives at the current price; default 150 (what tBTC asks). */
  collateralPercent?: number;
}

export interface OpenedDeposit {
  deposit: string;
  keep: string;
  lotSats: bigint;
  members: string[];
  funder: string;
  bondWei: bigint;
  fundedWith: "proof" | "vendingMachine" | "none";
  /** Funding txid (internal byte order), absent when not funded. */
  fundingTxid?: string;
}

/** Fixed gas limit: skips an eth_estimateGas round trip per transaction (the node still reports reverts). */
const GAS = { gasLimit: 6_000_000 };

const factoryEvents = new ethers.Interface(tbtcAbi("DepositFactory"));
const systemEvents = new ethers.Interface(tbtcAbi("TBTCSystem"));

function findLog(receipt: ethers.TransactionReceipt, iface: ethers.Interface, name: string, address?: string): ethers.LogDescription {
  for (const log of receipt.logs) {
    if (address && log.address.toLowerCase() !== address.toLowerCase()) continue;
    const parsed = iface.parseLog(log);
    if (parsed?.name === name) return parsed;
  }
  throw new Error(`event ${name} not found in transaction ${receipt.hash}`);
}

/** Bond (wei) that gives exactly `percent` collateralization (integer, rounded down on chain). */
export function bondForPercent(lotSats: bigint, weiPerSat: bigint, percent: number): bigint {
  const value = lotSats * weiPerSat;
  return (value * BigInt(Math.round(percent * 100)) + 9999n) / 10000n;
}

/**
 * Creates a deposit, has its keep publish a key, and funds it with a synthetic SPV proof.
 * Run calls one after another: the keep factory's next members/bond are global, so two
 * concurrent calls with different members or bonds could swap keeps.
 */
export async function openDeposit(dep: TbtcDeployment, opts: OpenDepositOptions): Promise<OpenedDeposit> {
  const { depositFactory, keepFactory, tdt, vendingMachine } = dep.contracts;
  const funder = opts.funder ?? dep.signer;
  const funderAddr = await funder.getAddress();
  const fundWith = opts.fundWith ?? "proof";

  const members = opts.members.map((m) => ethers.getAddress(m));
  const bondWei = opts.collateralPercent === undefined ? 0n : bondForPercent(opts.lotSats, await currentWeiPerSat(dep), opts.collateralPercent);
  // Read rather than cache the factory's next members: tests revert snapshots under us.
  const sameMembers = members.join() === ((await keepFactory.getNextMembers()) as string[]).join();
  if (!sameMembers || bondWei !== 0n) {
    await send(sameMembers ? keepFactory.setNextBond(bondWei, GAS) : keepFactory.configureNextKeep(members, bondWei, GAS));
  }

  const created = await send(
    (depositFactory.connect(funder) as ethers.Contract).createDeposit(opts.lotSats, { value: dep.openKeepFee, ...GAS }),
  );
  const deposit = findLog(created, factoryEvents, "DepositCloneCreated", dep.addresses.DepositFactory).args[0] as string;
  const keep = findLog(created, systemEvents, "Created", dep.addresses.TBTCSystem).args[1] as string;

  const keepC = keepContract(dep, keep);
  // An auto-signer publishing keys (`publishKeys`) may have been first.
  if (((await keepC.getPublicKey()) as string) === "0x") {
    await send(keepC.submitPublicKey(keepPublicKey64(keep), GAS)).catch(async (e: unknown) => {
      if (((await keepC.getPublicKey()) as string) === "0x") throw e;
    });
  }
  const depositC = depositContract(dep, deposit);
  await send(depositC.retrieveSignerPubkey(GAS));

  const result: OpenedDeposit = {
    deposit,
    keep,
    lotSats: opts.lotSats,
    members,
    funder: funderAddr,
    bondWei: bondWei === 0n ? ((await keepC.checkBondAmount()) as bigint) : bondWei,
    fundedWith: fundWith,
  };
  if (fundWith === "none") return result;

  // A real funding transaction on the devnet's Bitcoin chain when there is one (its UTXO exists, so
  // the deposit can be redeemed on Bitcoin later); otherwise a synthetic one-transaction block.
  let args: ReturnType<typeof fundingProofArgs>;
  if (dep.bitcoin) {
    const funded = await fundOnBitcoin(dep.bitcoin, keepCompressedPublicKey(keep), opts.lotSats);
    args = funded.args;
    result.fundingTxid = "0x" + Buffer.from(funded.txid, "hex").reverse().toString("hex");
  } else {
    const proof = buildFundingProof(keepCompressedPublicKey(keep), opts.lotSats, deposit);
    args = fundingProofArgs(proof);
    result.fundingTxid = proof.txid;
  }
  if (fundWith === "proof") {
    await send(depositC.provideBTCFundingProof(...args, GAS));
  } else {
    await send((tdt.connect(funder) as ethers.Contract).approve(dep.addresses.VendingMachine, BigInt(deposit), GAS));
    await send((vendingMachine.connect(funder) as ethers.Contract).unqualifiedDepositToTbtc(deposit, ...args, GAS));
  }
  return result;
}

/**
 * Plays the keep's signing group: signs the digest the keep was asked to sign and submits it,
 * so the keep emits SignatureSubmitted and anyone can call provideRedemptionSignature.
 */
export async function signRedemptionDigest(dep: TbtcDeployment, keepAddr: string, digest?: string): Promise<DigestSignature> {
  const keep = keepContract(dep, keepAddr);
  const toSign = digest ?? ((await keep.digest()) as string);
  const sig = signDigest(keepAddr, toSign);
  await send(keep.submitSignature(sig.r, sig.s, sig.recoveryID));
  return sig;
}

export interface RedeemOptions {
  /** Pays the TBTC and becomes the redeemer of record. Default: the deployer. */
  redeemer?: ethers.Signer;
  /** Bitcoin fee in satoshis (default 5000; tBTC requires at least 2000). */
  feeSats?: bigint;
  /** Where to stop; default "REDEEMED" (signature + synthetic redemption proof; the keep closes). */
  stopAt?: "AWAITING_WITHDRAWAL_SIGNATURE" | "AWAITING_WITHDRAWAL_PROOF" | "REDEEMED";
}

/**
 * Redeems a deposit the way an operator would: through the VendingMachine when it holds the
 * TDT, otherwise directly on the deposit (TDT holder, or anyone once courtesy-called).
 */
export async function redeemDeposit(dep: TbtcDeployment, depositAddr: string, opts: RedeemOptions = {}): Promise<void> {
  const redeemer = opts.redeemer ?? dep.signer;
  const me = await redeemer.getAddress();
  const deposit = depositContract(dep, depositAddr, redeemer);
  const token = dep.contracts.tbtcToken.connect(redeemer) as ethers.Contract;
  const lotSats = (await deposit.lotSizeSatoshis()) as bigint;
  const outputValue = uint64LE(lotSats - (opts.feeSats ?? 5000n));
  const script = "0x160014" + hash160(me).slice(2);

  let receipt: ethers.TransactionReceipt;
  const tdtOwner = ((await dep.contracts.tdt.ownerOf(BigInt(depositAddr))) as string).toLowerCase();
  if (tdtOwner === dep.addresses.VendingMachine.toLowerCase()) {
    const need = ((await deposit.lotSizeTbtc()) as bigint) + ((await deposit.getOwnerRedemptionTbtcRequirement(me)) as bigint);
    await send(token.approve(dep.addresses.VendingMachine, need));
    receipt = await send((dep.contracts.vendingMachine.connect(redeemer) as ethers.Contract).tbtcToBtc(depositAddr, outputValue, script));
  } else {
    const need = (await deposit.getRedemptionTbtcRequirement(me)) as bigint;
    if (need > 0n) await send(token.approve(depositAddr, need));
    receipt = await send(deposit.requestRedemption(outputValue, script));
  }
  if (opts.stopAt === "AWAITING_WITHDRAWAL_SIGNATURE") return;

  const request = findLog(receipt, systemEvents, "RedemptionRequested", dep.addresses.TBTCSystem).args;
  const keep = (await deposit.keepAddress()) as string;
  const sig = await signRedemptionDigest(dep, keep, request[2] as string);
  await send(deposit.provideRedemptionSignature(sig.v, sig.r, sig.s));
  if (opts.stopAt === "AWAITING_WITHDRAWAL_PROOF") return;

  const utxoValue = request[3] as bigint;
  const requestedFee = request[5] as bigint;
  if (dep.bitcoin) {
    // What the redeemer's own wallet does on a real chain: broadcast the signed transaction, prove it.
    const args = await redeemOnBitcoin(dep.bitcoin, { outpoint: request[6] as string, utxoValueSats: utxoValue, redeemerScript: request[4] as string, feeSats: requestedFee, signerPubkey64: keepPublicKey64(keep), digest: request[2] as string, signature: sig });
    await send(deposit.provideRedemptionProof(...args));
    return;
  }
  const proof = buildRedemptionProof(request[6] as string, utxoValue - requestedFee, request[4] as string);
  await send(deposit.provideRedemptionProof(...redemptionProofArgs(proof)));
}

/** Ends a deposit through a full redemption, which closes its keep as on mainnet. */
export async function closeKeep(dep: TbtcDeployment, depositAddr: string, opts: RedeemOptions = {}): Promise<void> {
  await redeemDeposit(dep, depositAddr, { ...opts, stopAt: "REDEEMED" });
}

/**
 * Runs `notify` while the price is low enough that the deposit sits at about `targetPercent`,
 * then puts the price back (other deposits keep their collateralization).
 */
async function withCollateralAt(dep: TbtcDeployment, depositAddr: string, targetPercent: number, notify: () => Promise<unknown>): Promise<void> {
  const current = Number(await depositContract(dep, depositAddr).collateralizationPercentage());
  if (current < targetPercent + 1) {
    await notify();
    return;
  }
  const { medianizer } = dep.contracts;
  const [value] = (await medianizer.peek()) as [bigint, boolean];
  // collateralization is proportional to the medianizer value (ETH priced in BTC)
  await send(medianizer.setValue((value * BigInt(targetPercent)) / BigInt(current + 1)));
  try {
    await notify();
  } finally {
    await send(medianizer.setValue(value));
  }
}

/** ACTIVE -> COURTESY_CALL (dips the price briefly if the deposit is still above 125%). */
export async function courtesyCall(dep: TbtcDeployment, depositAddr: string): Promise<void> {
  const d = depositContract(dep, depositAddr);
  const threshold = Number(await d.undercollateralizedThresholdPercent());
  await withCollateralAt(dep, depositAddr, threshold - 3, () => send(d.notifyCourtesyCall()));
}

export interface LiquidateOptions {
  /** Buys the seized bond with lotSizeTbtc of TBTC. Default: the deployer. */
  buyer?: ethers.Signer;
  stopAt?: "LIQUIDATION_IN_PROGRESS" | "LIQUIDATED";
}

/** Liquidation below 110% (seizes the bond, terminating the keep), then the auction purchase. */
export async function liquidateDeposit(dep: TbtcDeployment, depositAddr: string, opts: LiquidateOptions = {}): Promise<void> {
  const d = depositContract(dep, depositAddr);
  const threshold = Number(await d.severelyUndercollateralizedThresholdPercent());
  await withCollateralAt(dep, depositAddr, threshold - 5, () => send(d.notifyUndercollateralizedLiquidation()));
  if (opts.stopAt === "LIQUIDATION_IN_PROGRESS") return;
  const buyer = opts.buyer ?? dep.signer;
  const lotTbtc = (await d.lotSizeTbtc()) as bigint;
  await send((dep.contracts.tbtcToken.connect(buyer) as ethers.Contract).approve(depositAddr, lotTbtc));
  await send((d.connect(buyer) as ethers.Contract).purchaseSignerBondsAtAuction());
}
