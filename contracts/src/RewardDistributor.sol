// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title RewardDistributor (R-24)
/// @notice Cumulative Merkle claims of EXT rewards (one instance each for PoE, PoS and pool rewards).
/// Each period the proposer submits a root over (linked wallet, cumulative amount earned so far); after
/// `timelock` seconds anyone may accept it (the guardian can revoke it before that). A claim pays the
/// difference between the cumulative amount and what the wallet already claimed, so roots replace each
/// other and old proofs are worthless. Only linked wallets are in the tree (unlinked users earn nothing).
/// @dev Leaf = keccak256(bytes.concat(keccak256(abi.encode(account, cumulativeAmount)))): double-hashed
/// (64-byte inner preimage) so a leaf can never be confused with an internal node (OZ MerkleProof pairs).
contract RewardDistributor is AccessControl {
    using SafeERC20 for IERC20;

    /// @notice May propose roots.
    bytes32 public constant PROPOSER_ROLE = keccak256("PROPOSER_ROLE");
    /// @notice May revoke a pending root.
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");

    /// @notice A root waiting for its timelock.
    struct PendingRoot {
        bytes32 root;
        uint64 period;
        uint64 validAt;
        uint256 total;
    }

    /// @notice The reward token (EXT).
    IERC20 public immutable token;
    /// @notice Seconds between proposing and accepting a root.
    uint256 public immutable timelock;

    /// @notice Root claims are checked against.
    bytes32 public root;
    /// @notice Period of `root`.
    uint256 public rootPeriod;
    /// @notice Sum of all cumulative amounts in `root`.
    uint256 public rootTotal;
    /// @notice The root waiting to be accepted (root == 0: none).
    PendingRoot public pending;
    /// @notice Amount already claimed per wallet (cumulative).
    mapping(address account => uint256) public claimed;

    /// @notice A root for `period` was proposed; acceptable from `validAt`.
    event RootProposed(uint256 indexed period, bytes32 root, uint256 total, uint256 validAt);
    /// @notice The pending root of `period` was accepted.
    event RootAccepted(uint256 indexed period, bytes32 root, uint256 total);
    /// @notice The pending root of `period` was revoked.
    event RootRevoked(uint256 indexed period, bytes32 root);
    /// @notice `account` claimed `amount`, bringing its cumulative claim to `cumulative`.
    event Claimed(address indexed account, uint256 amount, uint256 cumulative);

    error StalePeriod(uint256 period, uint256 latest);
    error NoPendingRoot();
    error TimelockActive(uint256 validAt);
    error Underfunded(uint256 needed, uint256 available);
    error TotalDecreased(uint256 total, uint256 previous);
    error InvalidProof();
    error NothingToClaim();
    error EmptyRoot();

    /// @param admin DEFAULT_ADMIN_ROLE
    /// @param proposer PROPOSER_ROLE
    /// @param guardian GUARDIAN_ROLE
    /// @param token_ EXT
    /// @param timelock_ seconds between propose and accept
    constructor(address admin, address proposer, address guardian, IERC20 token_, uint256 timelock_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PROPOSER_ROLE, proposer);
        _grantRole(GUARDIAN_ROLE, guardian);
        token = token_;
        timelock = timelock_;
    }

    /// @notice Proposes the cumulative root of `period` (replacing any pending one).
    /// @param period must be greater than the accepted root's period
    /// @param newRoot root over (account, cumulativeAmount) leaves
    /// @param total sum of all cumulative amounts in the tree
    function proposeRoot(uint256 period, bytes32 newRoot, uint256 total) external onlyRole(PROPOSER_ROLE) {
        if (newRoot == bytes32(0)) revert EmptyRoot();
        if (period <= rootPeriod) revert StalePeriod(period, rootPeriod);
        uint256 validAt = block.timestamp + timelock;
        pending = PendingRoot(newRoot, SafeCast.toUint64(period), SafeCast.toUint64(validAt), total);
        emit RootProposed(period, newRoot, total, validAt);
    }

    /// @notice Accepts the pending root once its timelock has passed; callable by anyone.
    /// Reverts when the root is certainly unpayable: its total is cumulative, and whatever was claimed so
    /// far is at most the previous root's total, so the outstanding amount is at least the increase
    /// `total - rootTotal`; if that exceeds the balance the root is refused.
    function acceptRoot() external {
        PendingRoot memory p = pending;
        if (p.root == bytes32(0)) revert NoPendingRoot();
        if (block.timestamp < p.validAt) revert TimelockActive(p.validAt);
        if (p.total < rootTotal) revert TotalDecreased(p.total, rootTotal);
        uint256 available = token.balanceOf(address(this));
        if (p.total - rootTotal > available) revert Underfunded(p.total - rootTotal, available);
        root = p.root;
        rootPeriod = p.period;
        rootTotal = p.total;
        delete pending;
        emit RootAccepted(p.period, p.root, p.total);
    }

    /// @notice Revokes the pending root (guardian only).
    function revokeRoot() external onlyRole(GUARDIAN_ROLE) {
        PendingRoot memory p = pending;
        if (p.root == bytes32(0)) revert NoPendingRoot();
        delete pending;
        emit RootRevoked(p.period, p.root);
    }

    /// @notice Pays `account` its unclaimed rewards; anyone may submit, the EXT always goes to `account`.
    /// @param account the linked wallet in the leaf
    /// @param cumulativeAmount the leaf's cumulative amount
    /// @param proof Merkle proof against `root`
    /// @return amount the EXT paid now
    function claim(address account, uint256 cumulativeAmount, bytes32[] calldata proof)
        external
        returns (uint256 amount)
    {
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, cumulativeAmount))));
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert InvalidProof();
        uint256 already = claimed[account];
        if (cumulativeAmount <= already) revert NothingToClaim();
        amount = cumulativeAmount - already;
        claimed[account] = cumulativeAmount;
        token.safeTransfer(account, amount);
        emit Claimed(account, amount, cumulativeAmount);
    }
}
