import { ethers } from "ethers";
import { CREATED_TOPIC, keepPubkeyInterface, mintDepositInterface, mintSystemInterface, REGISTERED_PUBKEY_TOPIC, tdtInterface } from "./mint-abi";

/**
 * What the Ethereum side says about one of our minting deposits: its state, its keep's key (and
 * so its funding address), the timers' starts, the TDT's owner and approval. Read fresh each pass.
 */
export interface DepositChainFacts {
  state: number;
  keep: string;
  /** 64-byte X‖Y, when the keep has published it. */
  pubkey64?: string;
  createdAt?: number;
  fundingTimerStart?: number;
  tdtOwner: string;
  tdtApproved: string;
  withdrawableWei: bigint;
}

export interface MintAddresses {
  system: string;
  depositFactory: string;
  vendingMachine: string;
  depositToken: string;
  token: string;
}

async function call(p: ethers.JsonRpcProvider, to: string, iface: ethers.Interface, fn: string, args: unknown[] = [], from?: string): Promise<ethers.Result> {
  const raw = await p.send("eth_call", [{ to, data: iface.encodeFunctionData(fn, args), ...(from ? { from } : {}) }, "latest"]);
  return iface.decodeFunctionResult(fn, raw);
}

/** `account`: whose withdrawable amount is read (withdrawableAmount() answers for msg.sender). */
export async function readDepositFacts(p: ethers.JsonRpcProvider, c: MintAddresses, deposit: string, fromBlock: number, account: string): Promise<DepositChainFacts> {
  const tdtId = BigInt(deposit);
  const [state, keep, owner, approved, withdrawable] = await Promise.all([
    call(p, deposit, mintDepositInterface, "currentState").then((r) => Number(r[0])),
    call(p, deposit, mintDepositInterface, "keepAddress").then((r) => r[0] as string),
    call(p, c.depositToken, tdtInterface, "ownerOf", [tdtId]).then((r) => r[0] as string),
    call(p, c.depositToken, tdtInterface, "getApproved", [tdtId]).then((r) => r[0] as string),
    call(p, deposit, mintDepositInterface, "withdrawableAmount", [], account).then((r) => r[0] as bigint).catch(() => 0n),
  ]);
  const topic = ethers.zeroPadValue(deposit, 32);
  const [pub, logs] = await Promise.all([
    call(p, keep, keepPubkeyInterface, "getPublicKey").then((r) => r[0] as string),
    p.getLogs({ address: c.system, topics: [[CREATED_TOPIC, REGISTERED_PUBKEY_TOPIC], topic], fromBlock, toBlock: "latest" }),
  ]);
  const timeOf = (t: string) => {
    const l = logs.filter((x) => x.topics[0] === t).at(-1);
    return l ? Number(mintSystemInterface.parseLog(l)!.args._timestamp) : undefined;
  };
  return {
    state, keep, pubkey64: ethers.dataLength(pub) === 64 ? pub : undefined,
    createdAt: timeOf(CREATED_TOPIC), fundingTimerStart: timeOf(REGISTERED_PUBKEY_TOPIC),
    tdtOwner: owner, tdtApproved: approved, withdrawableWei: withdrawable,
  };
}

export async function readSystemFacts(p: ethers.JsonRpcProvider, c: MintAddresses): Promise<{ feeWei: bigint; allowedLots: bigint[] }> {
  const [fee, lots] = await Promise.all([call(p, c.system, mintSystemInterface, "getNewDepositFeeEstimate"), call(p, c.system, mintSystemInterface, "getAllowedLotSizes")]);
  return { feeWei: fee[0] as bigint, allowedLots: [...(lots[0] as bigint[])] };
}

export async function readRelayDifficulties(p: ethers.JsonRpcProvider, system: string): Promise<{ current: bigint; previous: bigint }> {
  const [c, pr] = await Promise.all([call(p, system, mintSystemInterface, "fetchRelayCurrentDifficulty"), call(p, system, mintSystemInterface, "fetchRelayPreviousDifficulty")]);
  return { current: c[0] as bigint, previous: pr[0] as bigint };
}

/** The deposit's funding script: P2WPKH of the signers' compressed key (DepositUtils.signerPKH). */
export function fundingScriptOf(pubkey64: string): string {
  const b = ethers.getBytes(pubkey64);
  const compressed = ethers.concat([b[63] & 1 ? "0x03" : "0x02", b.subarray(0, 32)]);
  return "0014" + ethers.ripemd160(ethers.sha256(compressed)).slice(2);
}
