import { AbiCoder, hexlify, keccak256, randomBytes, Wallet } from "ethers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  claimLeaf,
  MerkleSumTree,
  MerkleTree,
  memberLeaf,
  processSumProof,
  sumLeafHash,
  sumParent,
  verifyProof,
  verifySumProof,
} from "../src/index.ts";

const coder = AbiCoder.defaultAbiCoder();
const id = (n: number) => keccak256(coder.encode(["uint256"], [n]));

describe("MerkleSumTree", () => {
  it("hashes like MerkleSumProof.sol: double-hashed leaves, parents bind both sums", () => {
    expect(sumLeafHash(id(1), 5n)).toBe(
      keccak256(keccak256(coder.encode(["bytes32", "uint256"], [id(1), 5n]))),
    );
    const single = new MerkleSumTree([{ id: id(1), value: 5n }]);
    expect(single.root).toBe(sumLeafHash(id(1), 5n));
    expect(single.total).toBe(5n);
    expect(single.proof(0)).toEqual([]);
    const a = { hash: sumLeafHash(id(1), 5n), sum: 5n };
    const b = { hash: sumLeafHash(id(2), 7n), sum: 7n };
    const [lo, hi] = a.hash < b.hash ? [a, b] : [b, a];
    const p = sumParent(a, b);
    expect(p).toEqual(sumParent(b, a));
    expect(p.hash).toBe(
      keccak256(
        coder.encode(["bytes32", "uint256", "bytes32", "uint256"], [lo.hash, lo.sum, hi.hash, hi.sum]),
      ),
    );
    expect(p.sum).toBe(12n);
    const two = new MerkleSumTree([
      { id: id(1), value: 5n },
      { id: id(2), value: 7n },
    ]);
    expect(two.root).toBe(p.hash);
    // three leaves: the third is carried up unchanged
    const three = new MerkleSumTree([
      { id: id(1), value: 5n },
      { id: id(2), value: 7n },
      { id: id(3), value: 1n },
    ]);
    expect(three.proof(2)).toEqual([p]);
    expect(three.total).toBe(13n);
  });

  it("every leaf verifies for sizes 1..40; wrong values, totals, ids and sibling sums do not", () => {
    for (let n = 1; n <= 40; n++) {
      const leaves = Array.from({ length: n }, (_, i) => ({ id: id(i), value: BigInt(i * 1000 + 1) }));
      const t = new MerkleSumTree(leaves);
      expect(t.total).toBe(leaves.reduce((s, l) => s + l.value, 0n));
      for (let i = 0; i < n; i++) {
        const pr = t.proof(i);
        expect(pr.length).toBeLessThanOrEqual(Math.ceil(Math.log2(n)));
        expect(verifySumProof(pr, t.root, t.total, leaves[i]!.id, leaves[i]!.value)).toBe(true);
        expect(verifySumProof(pr, t.root, t.total, leaves[i]!.id, leaves[i]!.value - 1n)).toBe(false);
        expect(verifySumProof(pr, t.root, t.total + 1n, leaves[i]!.id, leaves[i]!.value)).toBe(false);
        expect(verifySumProof(pr, t.root, t.total, id(999), leaves[i]!.value)).toBe(false);
        if (pr.length) {
          const understated = pr.map((s, k) => (k === pr.length - 1 ? { ...s, sum: s.sum - 1n } : s));
          expect(verifySumProof(understated, t.root, t.total - 1n, leaves[i]!.id, leaves[i]!.value)).toBe(
            false,
          );
        }
      }
      expect(() => t.proof(n)).toThrow(RangeError);
    }
  });

  it("property: random trees — proofs verify, any single change is detected", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            id: fc.uint8Array({ minLength: 32, maxLength: 32 }),
            value: fc.bigInt({ min: 0n, max: 2n ** 200n }),
          }),
          {
            minLength: 1,
            maxLength: 64,
          },
        ),
        fc.nat(),
        fc.bigInt({ min: 1n, max: 2n ** 64n }),
        (raw, pick, delta) => {
          const leaves = raw.map((r) => ({ id: hexlify(r.id), value: r.value }));
          const t = new MerkleSumTree(leaves);
          const i = pick % leaves.length;
          const pr = t.proof(i);
          const l = leaves[i]!;
          expect(processSumProof(pr, l.id, l.value)).toEqual({ hash: t.root, sum: t.total });
          expect(verifySumProof(pr, t.root, t.total, l.id, l.value + delta)).toBe(false);
          expect(verifySumProof(pr, t.root, t.total, hexlify(randomBytes(32)), l.value)).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("rejects empty trees and negative values", () => {
    expect(() => new MerkleSumTree([])).toThrow();
    expect(() => new MerkleSumTree([{ id: id(1), value: -1n }])).toThrow(RangeError);
  });
});

describe("MerkleTree (OpenZeppelin MerkleProof compatible)", () => {
  it("claim and member trees: all proofs verify, forged ones do not", () => {
    const wallets = Array.from({ length: 23 }, () => Wallet.createRandom().address);
    const t = new MerkleTree(wallets.map((w, i) => claimLeaf(w, BigInt(i + 1))));
    wallets.forEach((w, i) => {
      expect(verifyProof(t.proof(i), t.root, claimLeaf(w, BigInt(i + 1)))).toBe(true);
      expect(verifyProof(t.proof(i), t.root, claimLeaf(w, BigInt(i + 2)))).toBe(false);
    });
    const m = new MerkleTree(wallets.map(memberLeaf));
    expect(verifyProof(m.proof(5), m.root, memberLeaf(wallets[5]!))).toBe(true);
    expect(verifyProof(m.proof(5), m.root, memberLeaf(wallets[6]!))).toBe(false);
  });
});
