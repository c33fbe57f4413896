/**
 * `watch --replenish-to TBTC`, the pure half: given the account's TBTC, what unfinished mints
 * will still bring, the lots the system allows and the BTC the wallet can spend, which lots to
 * mint now. Largest lots first, each only if what it mints (lot − signer fee) still fits under the
 * target: never above it. What unfinished orders will bring counts as already minted, so one
 * shortfall is never minted twice. Nothing while the loop needs its means for a redemption.
 */
export interface ReplenishInput {
  balanceTbtc: bigint;
  targetTbtc: bigint;
  /** TBTC the unfinished mint orders will still bring (their deposits not yet minted). */
  inFlightTbtc: bigint;
  /** Lot sizes in satoshis (TBTCSystem.getAllowedLotSizes). */
  allowedLotsSats: readonly bigint[];
  signerFeeDivisor: bigint;
  /** BTC the wallet can spend on new deposits (coins not reserved by a journaled funding). */
  spendableSats: bigint;
  /** Kept back for the funding transaction's fee. */
  btcFeeReserveSats: bigint;
  /** This loop has a deposit it must redeem and could not (TBTC short) or a courtesy call open. */
  redemptionNeedsMeans: boolean;
}

export interface ReplenishPlan {
  /** Lots to open now, largest first (satoshis). */
  lotsSats: bigint[];
  /** TBTC the plan mints. */
  mintsTbtc: bigint;
  /** Why nothing (or less than the shortfall) is minted although TBTC is missing. */
  reason?: string;
}

/** TBTC one lot mints through the VendingMachine (the signer fee withheld). */
export function mintedTbtc(lotSats: bigint, signerFeeDivisor: bigint): bigint {
  const lotTbtc = lotSats * 10n ** 10n;
  return lotTbtc - lotTbtc / signerFeeDivisor;
}

export function planReplenish(i: ReplenishInput): ReplenishPlan {
  const shortfall = i.targetTbtc - i.balanceTbtc - i.inFlightTbtc;
  if (shortfall <= 0n) return { lotsSats: [], mintsTbtc: 0n };
  if (i.redemptionNeedsMeans) return { lotsSats: [], mintsTbtc: 0n, reason: "a redemption needs this loop's means first (a courtesy call open or TBTC short for an at-risk deposit)" };
  // Largest first (lot sizes are far below 2^53 sat).
  const lots = [...new Set(i.allowedLotsSats)].sort((a, b) => Number(b - a));
  const out: bigint[] = [];
  let left = shortfall;
  let btc = i.spendableSats - i.btcFeeReserveSats;
  let minted = 0n;
  let blockedByBtc = false;
  for (const lot of lots) {
    const m = mintedTbtc(lot, i.signerFeeDivisor);
    while (m <= left) {
      if (lot > btc) {
        blockedByBtc = true;
        break;
      }
      out.push(lot);
      left -= m;
      btc -= lot;
      minted += m;
    }
  }
  // A remainder smaller than any lot mints is no problem (the target is a ceiling); only the wallet stopping it is.
  if (!blockedByBtc) return { lotsSats: out, mintsTbtc: minted };
  return { lotsSats: out, mintsTbtc: minted, reason: out.length === 0 ? "the Bitcoin wallet holds too little for any lot that fits the shortfall" : "the Bitcoin wallet holds too little for the rest of the shortfall" };
}
