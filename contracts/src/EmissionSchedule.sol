// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SD59x18, sd} from "@prb/math/src/SD59x18.sol";
import {IPeriodClock} from "./interfaces/IPeriodClock.sol";

/// @title EmissionSchedule (R-12, R-13)
/// @notice Holds the 70% PoE + PoS + pool allocation and releases it period by period following
/// `y(x) = 3293005.88008333 * exp(-((ln((x+5)/365) + 0.5)/2)^2)` EXT for x = 1..74037, split
/// PoE : PoS : pools = 40 : 20 : 10. Also the period clock of the whole contract set.
/// @dev Fixed point: PRBMath SD59x18 `ln`/`exp`; every period's amount is rounded down to a multiple of
/// `GRANULARITY` (1e-6 EXT). The exact real-valued sum exceeds 7e9 EXT by ~2.9e-4 EXT; the rounding
/// removes ~3.7e-2 EXT in total, so the integer sum lands in [7e9 - 1, 7e9] EXT. Independently of that,
/// `release` never pays more than `emissionCap - totalReleased` (hard cap).
contract EmissionSchedule is IPeriodClock {
    using SafeERC20 for IERC20;

    /// @notice Number of emission periods.
    uint256 public constant PERIODS = 74_037;
    /// @notice Upper bound for the cap: the 70% reward allocation, in wei.
    uint256 public constant MAX_EMISSION = 7_000_000_000 ether;
    /// @notice Emission amounts are multiples of this (1e-6 EXT).
    uint256 public constant GRANULARITY = 1e12;
    /// @dev 3293005.88008333 EXT in wei, as SD59x18.
    int256 private constant PEAK = 3_293_005_880_083_330_000_000_000;

    /// @notice The EXT token released.
    IERC20 public immutable token;
    /// @notice Blocks per period (7,200 = one day of 12 s blocks on mainnet).
    uint256 public immutable periodBlocks;
    /// @notice First block of period 1.
    uint256 public immutable startBlock;
    /// @notice Never more than this is released in total.
    uint256 public immutable emissionCap;
    /// @notice Receives the PoE share (the PoE RewardDistributor).
    address public immutable poeRecipient;
    /// @notice Receives the PoS share.
    address public immutable posRecipient;
    /// @notice Receives the trading-pool share.
    address public immutable poolRecipient;

    /// @notice Last period released (0 = none).
    uint256 public lastReleasedPeriod;
    /// @notice Sum of all releases so far, in wei.
    uint256 public totalReleased;

    /// @notice A period's emission was released.
    event Released(uint256 indexed period, uint256 poe, uint256 pos, uint256 pools, uint256 totalReleased);

    error ZeroAddress();
    error InvalidConfig();
    error PeriodNotEnded(uint256 period, uint256 endBlock);
    error EmissionFinished();

    /// @param token_ EXT
    /// @param periodBlocks_ blocks per period (> 0)
    /// @param startBlock_ first block of period 1
    /// @param emissionCap_ hard cap on total releases, at most MAX_EMISSION (the deployment uses MAX_EMISSION)
    /// @param poe_ PoE share recipient
    /// @param pos_ PoS share recipient
    /// @param pools_ pool share recipient
    constructor(
        IERC20 token_,
        uint256 periodBlocks_,
        uint256 startBlock_,
        uint256 emissionCap_,
        address poe_,
        address pos_,
        address pools_
    ) {
        if (address(token_) == address(0) || poe_ == address(0) || pos_ == address(0) || pools_ == address(0)) {
            revert ZeroAddress();
        }
        if (periodBlocks_ == 0 || emissionCap_ > MAX_EMISSION) revert InvalidConfig();
        token = token_;
        periodBlocks = periodBlocks_;
        startBlock = startBlock_;
        emissionCap = emissionCap_;
        poeRecipient = poe_;
        posRecipient = pos_;
        poolRecipient = pools_;
    }

    /// @notice PoE + PoS + pool emission of `period` (1-based), in wei; 0 outside 1..PERIODS.
    function periodEmission(uint256 period) public pure returns (uint256) {
        if (period == 0 || period > PERIODS) return 0;
        // t = ln((x + 5) / 365)
        SD59x18 t = sd(int256(period + 5) * 1e18 / 365).ln();
        // v = (t + 0.5) / 2 ; e = exp(-v^2)
        SD59x18 v = t.add(sd(0.5e18)).div(sd(2e18));
        SD59x18 e = sd(-v.mul(v).unwrap()).exp();
        uint256 y = (uint256(PEAK) * uint256(e.unwrap())) / 1e18;
        return y - (y % GRANULARITY);
    }

    /// @notice The PoE : PoS : pools = 40 : 20 : 10 split of `periodEmission(period)`; the three sum exactly to it.
    function splitEmission(uint256 period) public pure returns (uint256 poe, uint256 pos, uint256 pools) {
        uint256 y = periodEmission(period);
        poe = (y * 4) / 7;
        pos = (y * 2) / 7;
        pools = y - poe - pos;
    }

    /// @notice Sum of `periodEmission` over `first..last` (inclusive): an audit helper for off-chain checks.
    function emissionBetween(uint256 first, uint256 last) external pure returns (uint256 sum) {
        for (uint256 p = first; p <= last; ++p) {
            sum += periodEmission(p);
        }
    }

    /// @inheritdoc IPeriodClock
    function currentPeriod() public view returns (uint256) {
        if (block.number < startBlock) return 0;
        return (block.number - startBlock) / periodBlocks + 1;
    }

    /// @inheritdoc IPeriodClock
    function periodEnded(uint256 period) public view returns (bool) {
        return block.number >= startBlock + period * periodBlocks;
    }

    /// @notice Releases the next unreleased period once it has ended; callable by anyone, once per period.
    /// @return period the period released
    function release() external returns (uint256 period) {
        period = lastReleasedPeriod + 1;
        if (period > PERIODS) revert EmissionFinished();
        if (!periodEnded(period)) revert PeriodNotEnded(period, startBlock + period * periodBlocks);
        (uint256 poe, uint256 pos, uint256 pools) = splitEmission(period);
        uint256 room = emissionCap - totalReleased;
        if (poe + pos + pools > room) {
            // Hard cap: scale down to what is left (never exceeds the cap, whatever the math above does).
            poe = (room * 4) / 7;
            pos = (room * 2) / 7;
            pools = room - poe - pos;
        }
        lastReleasedPeriod = period;
        uint256 total = totalReleased + poe + pos + pools;
        totalReleased = total;
        if (poe != 0) token.safeTransfer(poeRecipient, poe);
        if (pos != 0) token.safeTransfer(posRecipient, pos);
        if (pools != 0) token.safeTransfer(poolRecipient, pools);
        emit Released(period, poe, pos, pools, total);
    }
}
