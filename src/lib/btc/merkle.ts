import { InvalidBitcoinData, concatBytes, displayToInternal, equalBytes, hash256, internalToDisplay } from "./bytes";

/**
 * Merkle trees of transactions. Electrum's `blockchain.transaction.get_merkle` and Esplora's
 * `/tx/:txid/merkle-proof` give a branch as display-order sibling hashes, leaf level first, with
 * the transaction's position `pos` in the block; bit k of `pos` set means sibling k sits on the left.
 */

/** Folds a branch (internal-order nodes, leaf first) from a leaf to the root it implies. */
export function rootFromBranch(leafLE: Uint8Array, branchLE: readonly Uint8Array[], pos: number): Uint8Array {
  let cur = leafLE;
  let idx = pos;
  for (const node of branchLE) {
    cur = idx & 1 ? hash256(concatBytes(node, cur)) : hash256(concatBytes(cur, node));
    idx = Math.floor(idx / 2);
  }
  return cur;
}

/**
 * True when `branch` (display order, leaf first) and `pos` lead from `txid` to `merkleRoot`. A
 * position that does not fit the branch's depth (pos ≥ 2^depth) is refused: the fold would
 * ignore its high bits, so such a branch says nothing about where the transaction sits. A block
 * holding only the transaction has an empty branch, pos 0 and root = txid.
 */
export function verifyMerkleBranch(txid: string, branch: readonly string[], pos: number, merkleRoot: string): boolean {
  if (!Number.isSafeInteger(pos) || pos < 0 || pos >= 2 ** branch.length) return false;
  const nodes = branch.map((h) => displayToInternal(h, "merkle node"));
  return equalBytes(rootFromBranch(displayToInternal(txid, "txid"), nodes, pos), displayToInternal(merkleRoot, "merkle root"));
}

/** The merkle root of a block's txids (display order in and out), Bitcoin's rule: an odd level repeats its last hash. */
export function merkleRoot(txids: readonly string[]): string {
  if (txids.length === 0) throw new InvalidBitcoinData("a block has at least one transaction");
  let level = txids.map((t) => displayToInternal(t, "txid"));
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(hash256(concatBytes(level[i], level[i + 1] ?? level[i])));
    level = next;
  }
  return internalToDisplay(level[0]);
}
