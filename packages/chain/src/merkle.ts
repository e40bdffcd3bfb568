/**
 * Merkle trees shared by the contracts and the services.
 *
 * - `MerkleSumTree` — the PoE tree anchored in PoEAnchor: nodes carry (hash, sum); a parent hash commits to
 *   both children's hashes and sums, so the root total cannot understate the leaves. Mirrors
 *   contracts/src/libraries/MerkleSumProof.sol exactly.
 * - `MerkleTree` — OpenZeppelin-compatible tree (sorted pairs, double-hashed leaves) for
 *   RewardDistributor claims and Congress membership.
 */
import { AbiCoder, concat, keccak256 } from "ethers";

const coder = AbiCoder.defaultAbiCoder();

/** A sibling on a Merkle sum path. */
export interface SumNode {
  hash: string;
  sum: bigint;
}

/** keccak256(keccak256(abi.encode(id, value))) — same as MerkleSumProof.leafHash. */
export function sumLeafHash(id: string, value: bigint): string {
  return keccak256(keccak256(coder.encode(["bytes32", "uint256"], [id, value])));
}

/** Parent of two nodes: children ordered by hash, both sums bound into the hash. */
export function sumParent(a: SumNode, b: SumNode): SumNode {
  const [x, y] = a.hash.toLowerCase() < b.hash.toLowerCase() ? [a, b] : [b, a];
  return {
    hash: keccak256(
      coder.encode(["bytes32", "uint256", "bytes32", "uint256"], [x.hash, x.sum, y.hash, y.sum]),
    ),
    sum: a.sum + b.sum,
  };
}

const MAX_UINT256 = (1n << 256n) - 1n;

/** A Merkle sum tree over (id, value) leaves, in the given order. */
export class MerkleSumTree {
  readonly levels: SumNode[][];

  constructor(readonly leaves: readonly { id: string; value: bigint }[]) {
    if (leaves.length === 0) throw new Error("MerkleSumTree needs at least one leaf");
    let level: SumNode[] = leaves.map((l) => {
      if (l.value < 0n || l.value > MAX_UINT256) throw new RangeError(`leaf value out of range: ${l.value}`);
      return { hash: sumLeafHash(l.id, l.value), sum: l.value };
    });
    this.levels = [level];
    while (level.length > 1) {
      const next: SumNode[] = [];
      for (let i = 0; i < level.length; i += 2) {
        next.push(i + 1 < level.length ? sumParent(level[i]!, level[i + 1]!) : level[i]!);
      }
      this.levels.push(next);
      level = next;
    }
  }

  get root(): string {
    return this.levels.at(-1)![0]!.hash;
  }

  get total(): bigint {
    return this.levels.at(-1)![0]!.sum;
  }

  /** Sibling path of leaf `index`, bottom-up (levels where the node has no sibling are skipped). */
  proof(index: number): SumNode[] {
    if (index < 0 || index >= this.leaves.length) throw new RangeError(`no leaf ${index}`);
    const path: SumNode[] = [];
    let i = index;
    for (const level of this.levels.slice(0, -1)) {
      const sib = i ^ 1;
      if (sib < level.length) path.push({ ...level[sib]! });
      i >>= 1;
    }
    return path;
  }
}

/** Recomputes (root, total) from a leaf and its path — same as MerkleSumProof.processProof. */
export function processSumProof(proof: readonly SumNode[], id: string, value: bigint): SumNode {
  let node: SumNode = { hash: sumLeafHash(id, value), sum: value };
  for (const sib of proof) {
    if (sib.sum < 0n) return { hash: "0x", sum: -1n };
    node = sumParent(node, sib);
    if (node.sum > MAX_UINT256) throw new RangeError("sum overflow");
  }
  return node;
}

/** True iff (id, value) is in the tree with this root and total (the off-chain verifier). */
export function verifySumProof(
  proof: readonly SumNode[],
  root: string,
  total: bigint,
  id: string,
  value: bigint,
): boolean {
  try {
    const n = processSumProof(proof, id, value);
    return n.hash.toLowerCase() === root.toLowerCase() && n.sum === total;
  } catch {
    return false;
  }
}

/** keccak256(keccak256(abi.encode(...values))) — the OZ "standard" double-hashed leaf. */
export function doubleHashLeaf(types: readonly string[], values: readonly unknown[]): string {
  return keccak256(keccak256(coder.encode(types, values)));
}

/** Leaf of a RewardDistributor claim. */
export function claimLeaf(account: string, cumulativeAmount: bigint): string {
  return doubleHashLeaf(["address", "uint256"], [account, cumulativeAmount]);
}

/** Leaf of a Congress member. */
export function memberLeaf(account: string): string {
  return doubleHashLeaf(["address"], [account]);
}

function hashPair(a: string, b: string): string {
  return a.toLowerCase() < b.toLowerCase() ? keccak256(concat([a, b])) : keccak256(concat([b, a]));
}

/** OpenZeppelin MerkleProof-compatible tree (commutative pair hashing) over precomputed leaf hashes. */
export class MerkleTree {
  readonly levels: string[][];

  constructor(readonly leafHashes: readonly string[]) {
    if (leafHashes.length === 0) throw new Error("MerkleTree needs at least one leaf");
    let level = [...leafHashes];
    this.levels = [level];
    while (level.length > 1) {
      const next: string[] = [];
      for (let i = 0; i < level.length; i += 2) {
        next.push(i + 1 < level.length ? hashPair(level[i]!, level[i + 1]!) : level[i]!);
      }
      this.levels.push(next);
      level = next;
    }
  }

  get root(): string {
    return this.levels.at(-1)![0]!;
  }

  proof(index: number): string[] {
    if (index < 0 || index >= this.leafHashes.length) throw new RangeError(`no leaf ${index}`);
    const path: string[] = [];
    let i = index;
    for (const level of this.levels.slice(0, -1)) {
      const sib = i ^ 1;
      if (sib < level.length) path.push(level[sib]!);
      i >>= 1;
    }
    return path;
  }
}

/** OZ MerkleProof.verify. */
export function verifyProof(proof: readonly string[], root: string, leaf: string): boolean {
  let h = leaf;
  for (const p of proof) h = hashPair(h, p);
  return h.toLowerCase() === root.toLowerCase();
}
