import { ethers } from "ethers";
import { RpcError } from "../../errors";
import { getLogsChunked } from "../../chain/logs";
import { COURTESY_CALLED_TOPIC, COURTESY_CALL_DURATION_SEC, State } from "../abis";
import { ethCall, fetchPriceWeiPerSat } from "../read/deposits";
import { collateralBasisPoints } from "../read/health";
import { chooseRedemptionPath, type Candidate } from "./planner";
import { depositWriteInterface as dep, erc20Interface, erc721Interface, REDEMPTION_REQUESTED_TOPIC, redemptionEventsInterface } from "./redeem-abi";

/**
 * The redemption-specific facts of deposits: who holds the TDT, what redeeming costs this
 * redeemer, the UTXO value. Collateralization and courtesy deadlines come from the operator scan
 * when we have one (`known`), else they are read here for the named deposits.
 */
export interface TbtcContracts {
  system: string;
  token: string;
  vendingMachine: string;
  depositToken: string;
  /** First block to scan for events. */
  startBlock: number;
}

export interface KnownRisk {
  collateralBp?: bigint;
  courtesyDeadline?: number;
}

const REDEEMABLE = new Set([State.ACTIVE, State.COURTESY_CALL]);

async function call<T>(provider: ethers.JsonRpcProvider, to: string, iface: ethers.Interface, fn: string, args: unknown[] = [], from?: string): Promise<T> {
  const raw = await ethCall(provider, { to, data: iface.encodeFunctionData(fn, args), from }, "latest");
  return iface.decodeFunctionResult(fn, raw)[0] as T;
}

/** A revert carries a reason; anything else (no endpoint answered) is rethrown by the caller. */
function revertReason(e: unknown): string | undefined {
  if (e instanceof RpcError) return undefined;
  const o = e as { code?: string; reason?: string; shortMessage?: string };
  if (o?.code === "CALL_EXCEPTION" || o?.code === "UNKNOWN_ERROR" || o?.code === "SERVER_ERROR") return o.reason ?? o.shortMessage ?? "reverted";
  return undefined;
}

/**
 * Head block straight from the node: ethers' provider caches identical requests for 250 ms, and a
 * loop that just saw a transaction mine must not read the head from before it.
 */
export async function headBlock(provider: ethers.JsonRpcProvider): Promise<{ number: number; timestamp: number }> {
  const b = (await provider.send("eth_getBlockByNumber", ["latest", false])) as { number: string; timestamp: string };
  return { number: Number(b.number), timestamp: Number(b.timestamp) };
}

export async function readDepositState(provider: ethers.JsonRpcProvider, deposit: string): Promise<number> {
  return Number(await call<bigint>(provider, deposit, dep, "currentState"));
}

/** Of `deposits`, the ones in redemption now (AWAITING_WITHDRAWAL_SIGNATURE or _PROOF), read from the chain. */
export async function depositsInRedemption(provider: ethers.JsonRpcProvider, deposits: readonly string[]): Promise<string[]> {
  const states = await Promise.all(deposits.map((d) => readDepositState(provider, d)));
  return deposits.filter((_, i) => states[i] === State.AWAITING_WITHDRAWAL_SIGNATURE || states[i] === State.AWAITING_WITHDRAWAL_PROOF);
}

/** Unix time the current courtesy call started (latest CourtesyCalled for the deposit). */
export async function findCourtesyCalledAt(provider: ethers.JsonRpcProvider, c: TbtcContracts, deposit: string, toBlock: number): Promise<number | undefined> {
  const logs = await getLogsChunked(provider, {
    address: c.system,
    topics: [COURTESY_CALLED_TOPIC, ethers.zeroPadValue(deposit, 32)],
    fromBlock: c.startBlock,
    toBlock,
  });
  const last = logs.at(-1);
  return last ? Number(BigInt(ethers.dataSlice(last.data, 0, 32))) : undefined;
}

/** The latest RedemptionRequested for a deposit: digest, requester, block. */
export async function findRedemptionRequest(provider: ethers.JsonRpcProvider, c: TbtcContracts, deposit: string, toBlock?: number) {
  const to = toBlock ?? (await headBlock(provider)).number;
  const logs = await getLogsChunked(provider, {
    address: c.system,
    topics: [REDEMPTION_REQUESTED_TOPIC, ethers.zeroPadValue(deposit, 32)],
    fromBlock: c.startBlock,
    toBlock: to,
  });
  const last = logs.at(-1);
  if (!last) return undefined;
  const ev = redemptionEventsInterface.parseLog({ topics: [...last.topics], data: last.data })!;
  return { digest: ev.args._digest as string, requester: ethers.getAddress(ev.args._requester as string), block: last.blockNumber, requestedFee: ev.args._requestedFee as bigint };
}

/** Candidate facts for each deposit, read in parallel (calls of one tick share a batch). */
export async function readCandidates(
  provider: ethers.JsonRpcProvider,
  c: TbtcContracts,
  deposits: readonly string[],
  redeemer: string,
  known: ReadonlyMap<string, KnownRisk> = new Map(),
): Promise<Candidate[]> {
  const head = (await headBlock(provider)).number;
  let price: Promise<bigint> | undefined;
  const priceFor = (d: string) => (price ??= fetchPriceWeiPerSat(provider, c.system, d, "latest"));

  return Promise.all(
    deposits.map(async (raw): Promise<Candidate> => {
      const address = ethers.getAddress(raw);
      let state: number;
      let lotSats: bigint;
      try {
        [state, lotSats] = await Promise.all([readDepositState(provider, address), call<bigint>(provider, address, dep, "lotSizeSatoshis")]);
      } catch (e) {
        if (revertReason(e) === undefined && (e as { code?: string })?.code !== "BAD_DATA") throw e;
        return { address, state: -1, lotSats: 0n, utxoSats: 0n, collateralPct: Number.POSITIVE_INFINITY, courtesyDeadline: null, costTbtc: 0n, path: null, whyNot: "not a tBTC deposit (currentState() failed)" };
      }
      const base: Candidate = { address, state, lotSats, utxoSats: 0n, collateralPct: Number.POSITIVE_INFINITY, courtesyDeadline: null, costTbtc: 0n, path: null };
      if (!REDEEMABLE.has(state)) return { ...base, ...chooseRedemptionPath({ state, remainingTermSec: 0, tdtHolder: "", vendingMachine: c.vendingMachine, redeemer }) };

      const k = known.get(address.toLowerCase()) ?? {};
      const [utxoSats, remainingTermSec, tdtHolder, lotTbtc, collateralBp, courtesyCalledAt] = await Promise.all([
        call<bigint>(provider, address, dep, "utxoValue"),
        call<bigint>(provider, address, dep, "remainingTerm"),
        call<string>(provider, c.depositToken, erc721Interface, "ownerOf", [BigInt(address)]),
        call<bigint>(provider, address, dep, "lotSizeTbtc"),
        k.collateralBp !== undefined ? k.collateralBp : readCollateralBp(provider, address, lotSats, priceFor(address)),
        k.courtesyDeadline !== undefined || state !== State.COURTESY_CALL ? undefined : findCourtesyCalledAt(provider, c, address, head),
      ]);
      const courtesyDeadline = k.courtesyDeadline ?? (courtesyCalledAt === undefined ? null : courtesyCalledAt + COURTESY_CALL_DURATION_SEC);
      const collateralPct = Number(collateralBp) / 100;
      const choice = chooseRedemptionPath({ state, remainingTermSec, tdtHolder, vendingMachine: c.vendingMachine, redeemer });
      const out: Candidate = { ...base, utxoSats, collateralPct, courtesyDeadline, ...choice };
      if (!choice.path) return out;
      try {
        out.costTbtc =
          choice.path === "vending-machine"
            ? lotTbtc + (await call<bigint>(provider, address, dep, "getOwnerRedemptionTbtcRequirement", [redeemer]))
            : await call<bigint>(provider, address, dep, "getRedemptionTbtcRequirement", [redeemer]);
      } catch (e) {
        const reason = revertReason(e);
        if (reason === undefined) throw e;
        return { ...out, path: null, whyNot: `the contract refuses to price a redemption: ${reason}` };
      }
      return out;
    }),
  );
}

async function readCollateralBp(provider: ethers.JsonRpcProvider, deposit: string, lotSats: bigint, price: Promise<bigint>): Promise<bigint> {
  const keep = await call<string>(provider, deposit, dep, "keepAddress");
  const bondIface = new ethers.Interface(["function checkBondAmount() view returns (uint256)"]);
  const [bond, p] = await Promise.all([call<bigint>(provider, keep, bondIface, "checkBondAmount"), price]);
  return collateralBasisPoints(bond, lotSats, p) ?? 0n;
}

/** The redeemer's TBTC balance and its allowance to `spender`. */
export async function readTbtc(provider: ethers.JsonRpcProvider, token: string, owner: string, spender?: string): Promise<{ balance: bigint; allowance: bigint }> {
  const [balance, allowance] = await Promise.all([
    call<bigint>(provider, token, erc20Interface, "balanceOf", [owner]),
    spender ? call<bigint>(provider, token, erc20Interface, "allowance", [owner, spender]) : Promise.resolve(0n),
  ]);
  return { balance, allowance };
}
