// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title MerkleSumProof
/// @notice Inclusion proofs for a Merkle *sum* tree: every node carries (hash, sum) and a parent hash
/// commits to both children's hashes AND sums, so a published root total cannot understate the leaves.
/// @dev Leaf hash   = keccak256(bytes.concat(keccak256(abi.encode(id, value))))      (64-byte inner preimage,
///                    32-byte outer preimage)
///      Parent hash = keccak256(abi.encode(hA, sA, hB, sB)) with (hA, sA) the child with the smaller hash
///                    (128-byte preimage: never equal to a leaf's 32-byte outer preimage, so no collision).
///      Parent sum  = sA + sB (checked: overflow reverts).
/// A node without a sibling on its level is carried up unchanged. Mirrored by the TypeScript builder in packages/chain.
library MerkleSumProof {
    /// @notice One sibling on the path from a leaf to the root.
    struct Node {
        bytes32 hash;
        uint256 sum;
    }

    /// @notice Hash of the leaf (id, value).
    function leafHash(bytes32 id, uint256 value) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(id, value))));
    }

    /// @notice Hash of the parent of two nodes (order-independent).
    function parentHash(bytes32 h1, uint256 s1, bytes32 h2, uint256 s2) internal pure returns (bytes32) {
        return h1 < h2 ? keccak256(abi.encode(h1, s1, h2, s2)) : keccak256(abi.encode(h2, s2, h1, s1));
    }

    /// @notice Recomputes (root, total) from the leaf (id, value) and the sibling path.
    function processProof(Node[] calldata proof, bytes32 id, uint256 value)
        internal
        pure
        returns (bytes32 hash, uint256 sum)
    {
        hash = leafHash(id, value);
        sum = value;
        for (uint256 i = 0; i < proof.length; ++i) {
            Node calldata sib = proof[i];
            hash = parentHash(hash, sum, sib.hash, sib.sum);
            sum += sib.sum;
        }
    }

    /// @notice True iff (id, value) is a leaf of the tree with this root hash and root total.
    function verify(Node[] calldata proof, bytes32 root, uint256 total, bytes32 id, uint256 value)
        internal
        pure
        returns (bool)
    {
        (bytes32 h, uint256 s) = processProof(proof, id, value);
        return h == root && s == total;
    }
}
