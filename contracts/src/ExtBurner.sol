// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {IPeriodClock} from "./interfaces/IPeriodClock.sol";

/// @title ExtBurner (R-14, R-15)
/// @notice The buy-back "black hole": the exchange sends the EXT it bought back to this contract and the
/// burner burns it through `ERC20Burnable.burn`, once per ended period. The `Burned` event and
/// `burnedIn(period)` are what PoEAnchor checks the period's anchored buy-back amount against.
contract ExtBurner is AccessControl {
    /// @notice May burn.
    bytes32 public constant BURNER_ROLE = keccak256("BURNER_ROLE");

    /// @notice EXT.
    ERC20Burnable public immutable token;
    /// @notice The period clock.
    IPeriodClock public immutable clock;

    /// @notice EXT (wei) burned for each period.
    mapping(uint256 period => uint256) public burnedIn;
    /// @notice EXT (wei) burned in total through this contract.
    uint256 public totalBurned;

    /// @notice `amount` EXT bought back with the fees of `period` was burned.
    event Burned(uint256 indexed period, uint256 amount, uint256 totalBurned);

    error AlreadyBurned(uint256 period);
    error PeriodNotEnded(uint256 period);
    error ZeroAmount();

    /// @param admin DEFAULT_ADMIN_ROLE
    /// @param burner BURNER_ROLE
    /// @param token_ EXT
    /// @param clock_ period clock
    constructor(address admin, address burner, ERC20Burnable token_, IPeriodClock clock_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(BURNER_ROLE, burner);
        token = token_;
        clock = clock_;
    }

    /// @notice Burns `amount` EXT held by this contract as the buy-back of `period` (once per period).
    /// @param period the ended period whose fees paid for the buy-back
    /// @param amount EXT wei to burn (must be held by this contract)
    function burn(uint256 period, uint256 amount) external onlyRole(BURNER_ROLE) {
        if (amount == 0) revert ZeroAmount();
        if (period == 0 || !clock.periodEnded(period)) revert PeriodNotEnded(period);
        if (burnedIn[period] != 0) revert AlreadyBurned(period);
        burnedIn[period] = amount;
        uint256 total = totalBurned + amount;
        totalBurned = total;
        token.burn(amount);
        emit Burned(period, amount, total);
    }
}
