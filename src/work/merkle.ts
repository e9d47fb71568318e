import { concatBytes } from './bytes.js';
import { sha256d } from './sha256.js';

/**
 * The merkle root from the coinbase txid and the Stratum branches, all in internal byte
 * order: root = sha256d(root ‖ branch) for each branch in turn.
 */
export function merkleRootFromBranches(
  coinbaseTxid: Uint8Array,
  branches: readonly Uint8Array[],
): Uint8Array {
  let root = coinbaseTxid;
  for (const branch of branches) root = sha256d(concatBytes(root, branch));
  return root;
}

/**
 * The Stratum merkle branches for a block whose coinbase is at index 0, given the txids of
 * every other transaction (internal byte order). Used by pools and test peers to issue jobs.
 */
export function merkleBranchesForCoinbase(otherTxids: readonly Uint8Array[]): Uint8Array[] {
  const branches: Uint8Array[] = [];
  // `level` holds the hashes right of the coinbase's path at the current height.
  let level = [...otherTxids];
  while (level.length > 0) {
    const sibling = level[0]!;
    branches.push(sibling);
    const rest = level.slice(1);
    // The coinbase path pairs with `sibling`; the remainder pairs among itself, duplicating
    // its last element when odd (Bitcoin's rule).
    if (rest.length % 2 === 1) rest.push(rest[rest.length - 1]!);
    const next: Uint8Array[] = [];
    for (let i = 0; i < rest.length; i += 2) next.push(sha256d(concatBytes(rest[i]!, rest[i + 1]!)));
    level = next;
  }
  return branches;
}

/** The merkle root of a full transaction list (internal byte order), Bitcoin's rule. */
export function merkleRootFromTxids(txids: readonly Uint8Array[]): Uint8Array {
  if (txids.length === 0) throw new RangeError('a block has at least one transaction');
  let level = [...txids];
  while (level.length > 1) {
    if (level.length % 2 === 1) level.push(level[level.length - 1]!);
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(sha256d(concatBytes(level[i]!, level[i + 1]!)));
    level = next;
  }
  return level[0]!;
}
