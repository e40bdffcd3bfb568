// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IPeriodClock
/// @notice The ExCraft period clock: period `p` (1-based) spans blocks
/// `[startBlock + (p-1)*periodBlocks, startBlock + p*periodBlocks)`.
interface IPeriodClock {
    /// @notice The period the current block belongs to (0 before the first period starts).
    function currentPeriod() external view returns (uint256);

    /// @notice True once every block of `period` has been mined.
    function periodEnded(uint256 period) external view returns (bool);
}
