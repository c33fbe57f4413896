import { ethers } from "ethers";
import { ExitCode, KeepctlError } from "../errors";
import { formatFixedTrimmed } from "../fixed-point";
import { FP_DECIMALS } from "./fixed-point";
import { empInterface } from "./emp-calls";
import { FINDER_ABI, FINDER_KEYS, OO_STATE, OPTIMISTIC_ORACLE_ABI } from "./governance-abi";
import { durationText } from "./sponsor-rules";
import type { SponsorSnapshot } from "./sponsor-reader";

/**
 * Where an expired EMP's price stands. expire() asks UMA's Optimistic Oracle (the Finder's
 * "OptimisticOracle") for the price at the expiry time, with the synthetic token's address as
 * ancillary data; a proposal settles once its liveness passes undisputed. settleExpired() needs
 * that price (the contract's "Unresolved oracle price" otherwise).
 */
export const CONTRACT_STATE = { Open: 0, ExpiredPriceRequested: 1, ExpiredPriceReceived: 2 } as const;

const ooInterface = new ethers.Interface(OPTIMISTIC_ORACLE_ABI);

export type ExpiryPrice =
  | { available: true; price: bigint; source: "emp" | "optimistic-oracle" }
  | { available: false; requested: boolean; ooState?: (typeof OO_STATE)[number]; proposedPrice?: bigint; settlesAt?: bigint; oracle?: string };

/** The Optimistic Oracle request an EMP makes at expiry: identifier, time and ancillary data. */
export async function expiryRequestOf(provider: ethers.Provider, snap: SponsorSnapshot): Promise<{ oracle: string; identifier: string; timestamp: bigint; ancillary: string }> {
  const finder = new ethers.Contract(snap.params.finder, FINDER_ABI, provider);
  const emp = new ethers.Contract(snap.emp, empInterface, provider);
  const [oracle, identifier] = await Promise.all([
    finder.getImplementationAddress(ethers.encodeBytes32String(FINDER_KEYS.OptimisticOracle)) as Promise<string>,
    emp.transformPriceIdentifier(snap.params.expirationTimestamp) as Promise<string>,
  ]);
  // PricelessPositionManager._getAncillaryData: abi.encodePacked(address(tokenCurrency)).
  return { oracle: ethers.getAddress(oracle), identifier, timestamp: snap.params.expirationTimestamp, ancillary: snap.params.tokenCurrency.toLowerCase() };
}

export async function readExpiryPrice(provider: ethers.Provider, snap: SponsorSnapshot): Promise<ExpiryPrice> {
  if (snap.contractState === CONTRACT_STATE.ExpiredPriceReceived) return { available: true, price: snap.expiryPrice, source: "emp" };
  if (snap.contractState === CONTRACT_STATE.Open) return { available: false, requested: false };
  const q = await expiryRequestOf(provider, snap);
  const oo = new ethers.Contract(q.oracle, ooInterface, provider);
  const args = [snap.emp, q.identifier, q.timestamp, q.ancillary] as const;
  const [state, request, has] = await Promise.all([oo.getState(...args), oo.getRequest(...args), oo.hasPrice(...args)]);
  if (has) {
    // The price settleExpired() will get: the oracle's settleAndGetPrice as the EMP itself calls it.
    const raw = await provider.call({ to: q.oracle, from: snap.emp, data: ooInterface.encodeFunctionData("settleAndGetPrice", [q.identifier, q.timestamp, q.ancillary]) });
    const price = ooInterface.decodeFunctionResult("settleAndGetPrice", raw)[0] as bigint;
    return { available: true, price: price < 0n ? 0n : price, source: "optimistic-oracle" };
  }
  const name = OO_STATE[Number(state)] ?? "Invalid";
  return {
    available: false, requested: true, ooState: name, oracle: q.oracle,
    proposedPrice: name === "Proposed" ? (request.proposedPrice as bigint) : undefined,
    settlesAt: name === "Proposed" ? (request.expirationTime as bigint) : undefined,
  };
}

/** No expiry price yet (exit 7), with where the request stands. */
export class NoExpiryPriceError extends KeepctlError {
  constructor(p: Extract<ExpiryPrice, { available: false }>, now: bigint) {
    const iso = (t: bigint) => new Date(Number(t) * 1000).toISOString().replace(/\.\d+Z$/, "Z");
    let why: string;
    if (!p.requested) why = "expire() has not been called";
    else if (p.ooState === "Proposed" && p.settlesAt !== undefined) {
      why = `a price of ${formatFixedTrimmed(p.proposedPrice ?? 0n, FP_DECIMALS)} is proposed; it settles at ${iso(p.settlesAt)} (in ${durationText(p.settlesAt - now)}) unless disputed`;
    } else if (p.ooState === "Requested") why = "it is requested from the Optimistic Oracle and nobody has proposed one yet";
    else if (p.ooState === "Disputed") why = "the proposal was disputed: UMA's DVM vote decides it";
    else why = `the Optimistic Oracle's request is ${p.ooState ?? "unknown"}`;
    super("NO_EXPIRY_PRICE", ExitCode.NO_DATA, `the EMP has no expiry price yet: ${why}`, { hint: "run `emp-sponsor settle` again later, or pass --wait SECONDS to wait for it" });
  }
}
