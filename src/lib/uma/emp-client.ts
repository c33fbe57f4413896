import { requireContractCode } from "../chain/code";
import { RpcError } from "../errors";
import { ethers } from "ethers";
import { getLogsChunked, SCAN_LOG_CONCURRENCY } from "../chain/logs";
import { multicall, type ViewCall } from "../chain/multicall";
import { fpMul } from "./fixed-point";
import { EMP_ABI, ERC20_ABI } from "./emp-abi";
import { empInterface } from "./emp-calls";
import type { PositionSnapshot } from "./liquidation-strategy";
import type { LiquidationSnapshot } from "./dispute-strategy";

/**
 * Reads an ExpiringMultiParty (parameters, sponsors, positions, liquidations); re-exports the
 * calldata builders of emp-calls.ts. Sending, simulation and retries belong to the transaction engine.
 */
export * from "./emp-calls";

/** The EMP's numeric constructor parameters (what the devnet deploys with and the client reads back). */
export interface EmpNumericParams {
  collateralRequirement: bigint;
  minSponsorTokens: bigint;
  liquidationLiveness: bigint;
  withdrawalLiveness: bigint;
  expirationTimestamp: bigint;
  disputeBondPercentage: bigint;
  sponsorDisputeRewardPercentage: bigint;
  disputerDisputeRewardPercentage: bigint;
}

export interface EmpParams extends EmpNumericParams {
  address: string;
  /** bytes32 hex as stored. */
  priceIdentifier: string;
  /** The identifier decoded as text ("RaiRedemptionRate"), or the hex when it is not text. */
  priceIdentifierName: string;
  collateralCurrency: string;
  tokenCurrency: string;
}

export interface EmpState {
  /** 0 Open, 1 ExpiredPriceRequested, 2 ExpiredPriceReceived. */
  contractState: number;
  currentTime: bigint;
  cumulativeFeeMultiplier: bigint;
}

export interface EmpPosition extends PositionSnapshot {
  rawCollateral: bigint;
  transferPositionRequestPassTimestamp: bigint;
}

export interface EmpLiquidation extends LiquidationSnapshot {
  rawUnitCollateral: bigint;
  settlementPrice: bigint;
  finalFee: bigint;
}

export interface AccountBalances {
  collateral: bigint;
  synthetic: bigint;
  /** Allowances granted to the EMP. */
  collateralAllowance: bigint;
  syntheticAllowance: bigint;
}

export interface ScanOptions {
  /** Block to scan events from: the EMP's deployment block. Default 0. */
  fromBlock?: number;
  /** Default: the latest block. */
  toBlock?: number;
  chunkSize?: number;
  onProgress?: (doneBlocks: number, totalBlocks: number) => void;
}

const TOPIC = {
  NewSponsor: empInterface.getEvent("NewSponsor")!.topicHash,
  EndedSponsorPosition: empInterface.getEvent("EndedSponsorPosition")!.topicHash,
  LiquidationCreated: empInterface.getEvent("LiquidationCreated")!.topicHash,
};

type Raw = { rawValue: bigint };

export class EmpClient {
  readonly address: string;
  readonly contract: ethers.Contract;

  constructor(readonly provider: ethers.Provider, address: string) {
    this.address = ethers.getAddress(address);
    this.contract = new ethers.Contract(this.address, EMP_ABI, provider);
  }

  async readParams(): Promise<EmpParams> {
    await requireContractCode(this.provider, this.address, "EMP", "check the EMP address for this network");
    const c = this.contract;
    const [cr, minTokens, liqLive, wdLive, exp, bond, sponsorReward, disputerReward, id, coll, tok] = await Promise.all([
      c.collateralRequirement(), c.minSponsorTokens(), c.liquidationLiveness(), c.withdrawalLiveness(), c.expirationTimestamp(),
      c.disputeBondPercentage(), c.sponsorDisputeRewardPercentage(), c.disputerDisputeRewardPercentage(), c.priceIdentifier(),
      c.collateralCurrency(), c.tokenCurrency(),
    ]);
    return {
      address: this.address,
      collateralRequirement: cr,
      minSponsorTokens: minTokens,
      liquidationLiveness: liqLive,
      withdrawalLiveness: wdLive,
      expirationTimestamp: exp,
      disputeBondPercentage: bond,
      sponsorDisputeRewardPercentage: sponsorReward,
      disputerDisputeRewardPercentage: disputerReward,
      priceIdentifier: id,
      priceIdentifierName: identifierName(id),
      collateralCurrency: ethers.getAddress(coll),
      tokenCurrency: ethers.getAddress(tok),
    };
  }

  async readState(): Promise<EmpState> {
    const c = this.contract;
    const [state, now, fee] = await Promise.all([c.contractState(), c.getCurrentTime(), c.cumulativeFeeMultiplier()]);
    return { contractState: Number(state), currentTime: now, cumulativeFeeMultiplier: fee };
  }

  /**
   * Sponsors whose position is open now, from NewSponsor / EndedSponsorPosition events in log
   * order (a sponsor may close and reopen).
   */
  async findSponsors(opts: ScanOptions = {}): Promise<string[]> {
    const logs = await this.scan([[TOPIC.NewSponsor, TOPIC.EndedSponsorPosition]], opts);
    const open = new Map<string, boolean>();
    for (const log of logs) {
      const sponsor = topicAddress(log.topics[1]);
      open.delete(sponsor); // re-insert so the order is that of the latest event
      open.set(sponsor, log.topics[0] === TOPIC.NewSponsor);
    }
    return [...open].filter(([, isOpen]) => isOpen).map(([s]) => s);
  }

  /**
   * Sponsors that have ever been liquidated (their positions may be gone), optionally only those
   * liquidated by `liquidator`. Liquidation records outlive positions, so the disputer and the
   * reward withdrawal scan these, not findSponsors.
   */
  async findLiquidatedSponsors(opts: ScanOptions & { liquidator?: string } = {}): Promise<string[]> {
    const liquidatorTopic = opts.liquidator ? ethers.zeroPadValue(ethers.getAddress(opts.liquidator), 32) : null;
    const logs = await this.scan([TOPIC.LiquidationCreated, null, liquidatorTopic], opts);
    return [...new Set(logs.map((l) => topicAddress(l.topics[1])))];
  }

  async readPosition(sponsor: string, cumulativeFeeMultiplier: bigint): Promise<EmpPosition> {
    const [p] = await this.viewEach("positions", [sponsor]);
    return positionOf(sponsor, p, cumulativeFeeMultiplier);
  }

  /**
   * Positions of the given sponsors, leaving out ones that are empty (closed since the scan). One
   * multicall per 250 sponsors, all sent at once: a thousand sponsors cost one round trip and four
   * eth_calls, where one call per sponsor costs a thousand calls (and, unbatched, requests).
   */
  async readPositions(sponsors: string[], cumulativeFeeMultiplier: bigint | Promise<bigint>): Promise<EmpPosition[]> {
    // The multiplier may still be on its way (readState sent in the same batch).
    const rows = await this.viewEach("positions", sponsors);
    const multiplier = await cumulativeFeeMultiplier;
    return rows.map((r, i) => positionOf(sponsors[i], r, multiplier)).filter((p) => p.tokensOutstanding > 0n || p.rawCollateral > 0n);
  }

  /**
   * Every liquidation record of a sponsor, id = index. Withdrawn records come back zeroed
   * (state 0, Uninitialized) but keep their index; callers filter by state.
   */
  async readLiquidations(sponsor: string): Promise<EmpLiquidation[]> {
    return this.readAllLiquidations([sponsor]);
  }

  /** Liquidation records of every given sponsor, multicalled as readPositions. */
  async readAllLiquidations(sponsors: string[]): Promise<EmpLiquidation[]> {
    const rows = await this.viewEach("getLiquidations", sponsors);
    return rows.flatMap((r, i) => liquidationsOf(sponsors[i], r[0] as ethers.Result));
  }

  /**
   * `fn(arg)` for each argument, decoded. Through a JSON-RPC provider the calls go as multicalls
   * (src/lib/chain/multicall.ts); any other provider gets one call each, side by side. A view
   * that reverts is an error here: positions() and getLiquidations() never revert on a live EMP.
   */
  private async viewEach(fn: "positions" | "getLiquidations", args: string[]): Promise<ethers.Result[]> {
    if (args.length === 0) return [];
    const calls: ViewCall[] = args.map((a) => ({ to: this.address, data: empInterface.encodeFunctionData(fn, [a]) }));
    if (!(this.provider instanceof ethers.JsonRpcProvider)) {
      return Promise.all(calls.map(async (c) => empInterface.decodeFunctionResult(fn, await this.provider.call(c))));
    }
    const results = await multicall(this.provider, calls, "latest");
    return results.map((r, i) => {
      if (!r.ok) throw new RpcError(`${fn}(${args[i]}) reverted on the EMP ${this.address}`, { code: "NODE_ERROR", hint: "check the EMP address for this network" });
      return empInterface.decodeFunctionResult(fn, r.data);
    });
  }

  /** Token balances of `account` and its allowances to the EMP. */
  async readBalances(account: string, params: Pick<EmpParams, "collateralCurrency" | "tokenCurrency">): Promise<AccountBalances> {
    const coll = new ethers.Contract(params.collateralCurrency, ERC20_ABI, this.provider);
    const syn = new ethers.Contract(params.tokenCurrency, ERC20_ABI, this.provider);
    const [collateral, synthetic, collateralAllowance, syntheticAllowance] = await Promise.all([
      coll.balanceOf(account), syn.balanceOf(account), coll.allowance(account, this.address), syn.allowance(account, this.address),
    ]);
    return { collateral, synthetic, collateralAllowance, syntheticAllowance };
  }

  private async scan(topics: (string | string[] | null)[], opts: ScanOptions): Promise<ethers.Log[]> {
    const toBlock = opts.toBlock ?? (await this.provider.getBlockNumber());
    return getLogsChunked(
      this.provider,
      { address: this.address, topics, fromBlock: opts.fromBlock ?? 0, toBlock },
      // Every chunk in flight at once: the provider packs them into batches sent side by side, so
      // a scan from the deployment costs one round trip rather than one per chunk.
      { chunkSize: opts.chunkSize, onProgress: opts.onProgress, concurrency: SCAN_LOG_CONCURRENCY },
    );
  }
}

export function positionOf(sponsor: string, p: ethers.Result, cumulativeFeeMultiplier: bigint): EmpPosition {
  const raw = (p[3] as Raw).rawValue;
  return {
    sponsor: ethers.getAddress(sponsor),
    tokensOutstanding: (p[0] as Raw).rawValue,
    withdrawalRequestPassTimestamp: p[1] as bigint,
    withdrawalRequestAmount: (p[2] as Raw).rawValue,
    rawCollateral: raw,
    // The contract's _getFeeAdjustedCollateral: FixedPoint.mul floors.
    collateral: fpMul(raw, cumulativeFeeMultiplier),
    transferPositionRequestPassTimestamp: p[4] as bigint,
  };
}

export function liquidationsOf(sponsor: string, rows: ethers.Result): EmpLiquidation[] {
  const who = ethers.getAddress(sponsor);
  return rows.map((r: ethers.Result, i: number) => ({
    sponsor: who,
    id: BigInt(i),
    liquidator: ethers.getAddress(r[1]),
    state: Number(r[2]),
    liquidationTime: r[3] as bigint,
    tokensOutstanding: (r[4] as Raw).rawValue,
    lockedCollateral: (r[5] as Raw).rawValue,
    liquidatedCollateral: (r[6] as Raw).rawValue,
    rawUnitCollateral: (r[7] as Raw).rawValue,
    disputer: ethers.getAddress(r[8]),
    settlementPrice: (r[9] as Raw).rawValue,
    finalFee: (r[10] as Raw).rawValue,
  }));
}

function topicAddress(topic: string): string {
  return ethers.getAddress(ethers.dataSlice(topic, 12));
}

export function identifierName(id: string): string {
  try {
    return ethers.decodeBytes32String(id);
  } catch {
    return id;
  }
}
