// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IPeriodClock} from "./interfaces/IPeriodClock.sol";
import {MerkleSumProof} from "./libraries/MerkleSumProof.sol";

interface IBurnLedger {
    function burnedIn(uint256 period) external view returns (uint256);
}

/// @title PoEAnchor (R-15, R-22, R-23)
/// @notice One record per ended period, written once by the recorder: the Merkle sum root over
/// (anonymous user id, PoE) with its total, the Merkle sum root over (pool id, pool PoE) used as Senate
/// weights, and a commitment to the day's fee totals per asset, the buy-back amount and the burn tx.
/// The full fee list is in the `Anchored` event; `detailsHash` binds it on chain.
contract PoEAnchor is AccessControl {
    using SafeCast for uint256;

    /// @notice May write period records.
    bytes32 public constant RECORDER_ROLE = keccak256("RECORDER_ROLE");

    /// @notice Stored per period (4 storage slots).
    struct Record {
        bytes32 userRoot; // Merkle sum root over (anonymous user id, PoE)
        bytes32 poolRoot; // Merkle sum root over (bytes32(poolId), pool PoE)
        uint128 totalPoe; // root sum of userRoot, in quote-unit wei
        uint128 totalPoolPoe; // root sum of poolRoot
        bytes32 detailsHash; // keccak256(abi.encode(assets, fees, buyback, burnTx))
    }

    /// @notice The period clock (EmissionSchedule).
    IPeriodClock public immutable clock;
    /// @notice The burn ledger whose per-period burn must equal the anchored buy-back.
    IBurnLedger public immutable burner;

    mapping(uint256 period => Record) private _records;
    /// @notice Highest period anchored so far.
    uint256 public latestPeriod;

    /// @notice Input of `anchor`.
    struct AnchorInput {
        uint256 period;
        bytes32 userRoot;
        uint256 totalPoe;
        bytes32 poolRoot;
        uint256 totalPoolPoe;
        bytes32[] assets;
        uint256[] fees;
        uint256 buyback;
        bytes32 burnTx;
    }

    /// @notice A period was anchored (`totalFees` = sum of the period's per-asset fees, quote-unit wei).
    event Anchored(
        uint256 indexed period,
        bytes32 userRoot,
        uint256 totalPoe,
        bytes32 poolRoot,
        uint256 totalPoolPoe,
        uint256 totalFees,
        uint256 buyback,
        bytes32 burnTx
    );
    /// @notice The period's fee total per asset: `fees[i]` for `assets[i]`, in quote-unit wei.
    event FeesAnchored(uint256 indexed period, bytes32[] assets, uint256[] fees);

    error PeriodNotEnded(uint256 period);
    error AlreadyAnchored(uint256 period);
    error LengthMismatch();
    error BuybackMismatch(uint256 anchored, uint256 burned);
    error EmptyRoot();

    /// @param admin gets DEFAULT_ADMIN_ROLE
    /// @param recorder gets RECORDER_ROLE
    /// @param clock_ period clock
    /// @param burner_ burn ledger
    constructor(address admin, address recorder, IPeriodClock clock_, IBurnLedger burner_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(RECORDER_ROLE, recorder);
        clock = clock_;
        burner = burner_;
    }

    /// @notice Anchors the results of an ended period; once per period, recorder only.
    /// @param a the period's results:
    ///   period (must have ended); userRoot / totalPoe: Merkle sum root over (anonymous user id, PoE) and
    ///   its root sum; poolRoot / totalPoolPoe: the same over (pool id, pool PoE); assets / fees: fee total
    ///   per asset in quote-unit wei; buyback: EXT wei bought back and burned for the period (must equal
    ///   the burn ledger's amount); burnTx: hash of the burn transaction.
    function anchor(AnchorInput calldata a) external onlyRole(RECORDER_ROLE) {
        uint256 period = a.period;
        if (period == 0 || !clock.periodEnded(period)) revert PeriodNotEnded(period);
        Record storage r = _records[period];
        if (r.userRoot != bytes32(0)) revert AlreadyAnchored(period);
        if (a.userRoot == bytes32(0)) revert EmptyRoot();
        if (a.assets.length != a.fees.length) revert LengthMismatch();
        uint256 burned = burner.burnedIn(period);
        if (burned != a.buyback) revert BuybackMismatch(a.buyback, burned);
        uint256 totalFees;
        for (uint256 i = 0; i < a.fees.length; ++i) {
            totalFees += a.fees[i];
        }
        r.userRoot = a.userRoot;
        r.poolRoot = a.poolRoot;
        r.totalPoe = a.totalPoe.toUint128();
        r.totalPoolPoe = a.totalPoolPoe.toUint128();
        r.detailsHash = keccak256(abi.encode(a.assets, a.fees, a.buyback, a.burnTx));
        if (period > latestPeriod) latestPeriod = period;
        emit Anchored(period, a.userRoot, a.totalPoe, a.poolRoot, a.totalPoolPoe, totalFees, a.buyback, a.burnTx);
        emit FeesAnchored(period, a.assets, a.fees);
    }

    /// @notice The record of `period` (all zero if not anchored).
    function record(uint256 period) external view returns (Record memory) {
        return _records[period];
    }

    /// @notice True once `period` has been anchored.
    function isAnchored(uint256 period) public view returns (bool) {
        return _records[period].userRoot != bytes32(0);
    }

    /// @notice Verifies that anonymous user `userId` had `poe` in `period`.
    function verifyUserPoe(uint256 period, bytes32 userId, uint256 poe, MerkleSumProof.Node[] calldata proof)
        external
        view
        returns (bool)
    {
        Record storage r = _records[period];
        return r.userRoot != bytes32(0) && MerkleSumProof.verify(proof, r.userRoot, r.totalPoe, userId, poe);
    }

    /// @notice Verifies that pool `poolId` had `poe` in `period` (the Senate weight of that day).
    function verifyPoolPoe(uint256 period, uint256 poolId, uint256 poe, MerkleSumProof.Node[] calldata proof)
        external
        view
        returns (bool)
    {
        Record storage r = _records[period];
        return r.poolRoot != bytes32(0)
            && MerkleSumProof.verify(proof, r.poolRoot, r.totalPoolPoe, bytes32(poolId), poe);
    }
}
