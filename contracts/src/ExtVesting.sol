// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {VestingWallet} from "@openzeppelin/contracts/finance/VestingWallet.sol";
import {VestingWalletCliff} from "@openzeppelin/contracts/finance/VestingWalletCliff.sol";

/// @title ExtVesting
/// @notice OpenZeppelin linear vesting wallet with a cliff, used for the team (1-year cliff, 4 years
/// linear from TGE) and ecosystem (no cliff, 2 years linear) shares. Nothing is releasable before the
/// cliff; after it, the linearly vested amount since `start` is releasable to the beneficiary (owner).
contract ExtVesting is VestingWalletCliff {
    /// @param beneficiary receives the vested tokens (the wallet's owner)
    /// @param start vesting start, unix seconds
    /// @param duration total vesting duration, seconds
    /// @param cliff seconds after `start` before anything is releasable (<= duration)
    constructor(address beneficiary, uint64 start, uint64 duration, uint64 cliff)
        VestingWallet(beneficiary, start, duration)
        VestingWalletCliff(cliff)
    {}
}
