// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @title EXT, the ExCraft token (R-10, R-11)
/// @notice Fixed supply of 10,000,000,000 EXT minted once, at deployment, to the allocation of R-11.
/// No mint function exists after construction; supply only goes down (burns, R-14).
contract EXT is ERC20, ERC20Burnable, ERC20Permit, ERC20Votes {
    /// @notice Total supply at deployment, in wei (18 decimals).
    uint256 public constant INITIAL_SUPPLY = 10_000_000_000 ether;
    /// @notice Proof-of-Existence rewards (40%), released by the EmissionSchedule.
    uint256 public constant POE_ALLOCATION = 4_000_000_000 ether;
    /// @notice Proof-of-Stake rewards (20%), released by the EmissionSchedule.
    uint256 public constant POS_ALLOCATION = 2_000_000_000 ether;
    /// @notice Trading-pool rewards (10%), released by the EmissionSchedule.
    uint256 public constant POOL_ALLOCATION = 1_000_000_000 ether;
    /// @notice Private sale + ICO (10%).
    uint256 public constant SALE_ALLOCATION = 1_000_000_000 ether;
    /// @notice Ecosystem (10%), held by a vesting wallet.
    uint256 public constant ECOSYSTEM_ALLOCATION = 1_000_000_000 ether;
    /// @notice Team (10%), held by a vesting wallet.
    uint256 public constant TEAM_ALLOCATION = 1_000_000_000 ether;

    /// @notice One allocation bucket was minted.
    event Allocated(bytes32 indexed bucket, address indexed to, uint256 amount);

    error ZeroAddress();

    /// @param emission the EmissionSchedule that releases the PoE + PoS + pool shares (70%)
    /// @param sale the private sale / ICO treasury
    /// @param ecosystemVesting vesting wallet of the ecosystem share
    /// @param teamVesting vesting wallet of the team share
    constructor(address emission, address sale, address ecosystemVesting, address teamVesting)
        ERC20("ExCraft Token", "EXT")
        ERC20Permit("ExCraft Token")
    {
        if (
            emission == address(0) || sale == address(0) || ecosystemVesting == address(0)
                || teamVesting == address(0)
        ) revert ZeroAddress();
        _allocate("POE", emission, POE_ALLOCATION);
        _allocate("POS", emission, POS_ALLOCATION);
        _allocate("POOLS", emission, POOL_ALLOCATION);
        _allocate("SALE", sale, SALE_ALLOCATION);
        _allocate("ECOSYSTEM", ecosystemVesting, ECOSYSTEM_ALLOCATION);
        _allocate("TEAM", teamVesting, TEAM_ALLOCATION);
        assert(totalSupply() == INITIAL_SUPPLY);
    }

    function _allocate(bytes32 bucket, address to, uint256 amount) private {
        _mint(to, amount);
        emit Allocated(bucket, to, amount);
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }

    /// @inheritdoc Nonces
    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }
}
