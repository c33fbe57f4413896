import type { Tx } from "./tx";

/** nLockTime below this is a block height, at or above it a Unix time. */
const LOCKTIME_THRESHOLD = 500_000_000;
const SEQUENCE_FINAL = 0xffffffff;
const SEQUENCE_DISABLE = 0x80000000;
const SEQUENCE_TYPE_TIME = 0x00400000;
const SEQUENCE_MASK = 0x0000ffff;

/** Core's IsFinalTx for a block at `height` whose locktime clock is the median time past `mtp`. */
export function isFinalTx(tx: Tx, height: number, mtp: number): boolean {
  if (tx.lockTime === 0) return true;
  if (tx.lockTime < (tx.lockTime < LOCKTIME_THRESHOLD ? height : mtp)) return true;
  return tx.inputs.every((i) => i.sequence === SEQUENCE_FINAL);
}

/** Where a spent coin was confirmed: its height and the MTP of the block before it (the mempool's: the next block). */
export interface CoinAge {
  height: number;
  mtpBefore: number;
}

/**
 * BIP68 relative locks (version ≥ 2, disable bit clear): height locks need `height − coin height ≥
 * n`, time locks `mtp − coin's prior MTP ≥ n × 512 s`, for a block at `height` with prior MTP `mtp`.
 */
export function meetsRelativeLocks(tx: Tx, coins: CoinAge[], height: number, mtp: number): boolean {
  if (tx.version < 2) return true;
  return tx.inputs.every((input, i) => {
    if (input.sequence & SEQUENCE_DISABLE) return true;
    const n = input.sequence & SEQUENCE_MASK;
    if (input.sequence & SEQUENCE_TYPE_TIME) return mtp - coins[i].mtpBefore >= n * 512;
    return height - coins[i].height >= n;
  });
}
