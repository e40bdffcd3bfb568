// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title TradingPools (R-40, R-45)
/// @notice Anyone stakes exactly 30,000 EXT to create a pool and become its master. The master may
/// dissolve the pool (ejecting members or moving them all to another live pool); the stake can be
/// withdrawn from 24 hours after dissolution, not before. Membership and rewards are off chain.
contract TradingPools {
    using SafeERC20 for IERC20;

    /// @notice Stake to create a pool, in wei.
    uint256 public constant STAKE = 30_000 ether;
    /// @notice Delay between dissolution and stake withdrawal.
    uint256 public constant WITHDRAW_DELAY = 24 hours;

    /// @notice A pool (one storage slot).
    struct Pool {
        address master;
        uint40 createdAt;
        uint40 dissolvedAt; // 0 while live
        bool withdrawn;
    }

    /// @notice EXT.
    IERC20 public immutable token;
    /// @notice Number of pools ever created; pool ids are 1..poolCount in creation order.
    uint256 public poolCount;
    mapping(uint256 poolId => Pool) private _pools;

    /// @notice `master` created pool `poolId` staking STAKE.
    event PoolCreated(uint256 indexed poolId, address indexed master);
    /// @notice Pool dissolved; members moved to `successor` (0 = all members ejected).
    event PoolDissolved(uint256 indexed poolId, uint256 indexed successor, uint256 withdrawableAt);
    /// @notice The stake of a dissolved pool was returned to its master.
    event StakeWithdrawn(uint256 indexed poolId, address indexed master, uint256 amount);

    error NotMaster(uint256 poolId);
    error NotLive(uint256 poolId);
    error NotDissolved(uint256 poolId);
    error StakeLocked(uint256 withdrawableAt);
    error AlreadyWithdrawn(uint256 poolId);
    error InvalidSuccessor(uint256 successor);

    /// @param token_ EXT
    constructor(IERC20 token_) {
        token = token_;
    }

    /// @notice Creates a pool: pulls exactly STAKE EXT from the caller (approve first).
    /// @return poolId the new pool's id
    function createPool() external returns (uint256 poolId) {
        poolId = ++poolCount;
        _pools[poolId] = Pool(msg.sender, uint40(block.timestamp), 0, false);
        token.safeTransferFrom(msg.sender, address(this), STAKE);
        emit PoolCreated(poolId, msg.sender);
    }

    /// @notice Dissolves a live pool (master only).
    /// @param poolId the pool
    /// @param successor live pool receiving all members, or 0 to eject them all
    function dissolve(uint256 poolId, uint256 successor) external {
        Pool storage p = _pools[poolId];
        if (p.master != msg.sender) revert NotMaster(poolId);
        if (p.dissolvedAt != 0) revert NotLive(poolId);
        if (successor != 0 && (successor == poolId || !isLive(successor))) revert InvalidSuccessor(successor);
        p.dissolvedAt = uint40(block.timestamp);
        emit PoolDissolved(poolId, successor, block.timestamp + WITHDRAW_DELAY);
    }

    /// @notice Returns the stake of a dissolved pool to its master, from 24 h after dissolution.
    /// @param poolId the pool
    function withdrawStake(uint256 poolId) external {
        Pool storage p = _pools[poolId];
        if (p.master != msg.sender) revert NotMaster(poolId);
        if (p.dissolvedAt == 0) revert NotDissolved(poolId);
        if (p.withdrawn) revert AlreadyWithdrawn(poolId);
        uint256 at = uint256(p.dissolvedAt) + WITHDRAW_DELAY;
        if (block.timestamp < at) revert StakeLocked(at);
        p.withdrawn = true;
        token.safeTransfer(msg.sender, STAKE);
        emit StakeWithdrawn(poolId, msg.sender, STAKE);
    }

    /// @notice The pool record.
    function pool(uint256 poolId) external view returns (Pool memory) {
        return _pools[poolId];
    }

    /// @notice Master of `poolId` (zero if it does not exist).
    function masterOf(uint256 poolId) external view returns (address) {
        return _pools[poolId].master;
    }

    /// @notice True if the pool exists and is not dissolved.
    function isLive(uint256 poolId) public view returns (bool) {
        Pool storage p = _pools[poolId];
        return p.master != address(0) && p.dissolvedAt == 0;
    }

    /// @notice Dissolution time (0 while live).
    function dissolvedAt(uint256 poolId) external view returns (uint256) {
        return _pools[poolId].dissolvedAt;
    }

    /// @notice Master and dissolution time (0 while live) in one call (used by the Senate).
    function poolStatus(uint256 poolId) external view returns (address master, uint256 dissolvedAt_) {
        Pool storage p = _pools[poolId];
        return (p.master, p.dissolvedAt);
    }
}
