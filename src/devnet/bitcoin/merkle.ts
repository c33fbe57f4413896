import { concatBytes, hash256 } from "./bytes";

/**
 * Bitcoin's merkle tree over internal-order 32-byte leaves: pairs are hash256(left ‖ right) and a
 * level of odd length pairs its last node with itself.
 */
export function merkleRoot(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) throw new Error("no leaves");
  let level = leaves;
  while (level.length > 1) level = nextLevel(level);
  return level[0];
}

/** The sibling of `index` on each level, deepest first (Electrum's `merkle`, internal order). */
export function merkleBranch(leaves: Uint8Array[], index: number): Uint8Array[] {
  if (index < 0 || index >= leaves.length) throw new Error(`no leaf ${index}`);
  const branch: Uint8Array[] = [];
  let level = leaves;
  let i = index;
  while (level.length > 1) {
    const sibling = i ^ 1;
    branch.push(sibling < level.length ? level[sibling] : level[i]);
    level = nextLevel(level);
    i >>= 1;
  }
  return branch;
}

function nextLevel(level: Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < level.length; i += 2) out.push(hash256(concatBytes(level[i], level[i + 1] ?? level[i])));
  return out;
}
