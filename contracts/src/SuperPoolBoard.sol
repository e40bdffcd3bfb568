// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title SuperPoolBoard (R-56..R-58)
/// @notice The registrar publishes the current super pool masters (at most 30; status rules R-56 are
/// computed off chain from PoE and KYC data). A master may list a token on its own board (R-57). Masters
/// approve custom listings; once 24 of the *current* masters (80% of 30) have approved, anyone can make the
/// listing permanent (R-58). Approvals of former masters do not count.
contract SuperPoolBoard is AccessControl {
    /// @notice May set the super pool masters.
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");
    /// @notice Maximum number of super pool masters.
    uint256 public constant MAX_MASTERS = 30;
    /// @notice Approvals needed for a permanent listing (80% of 30).
    uint256 public constant THRESHOLD = 24;

    address[] private _masters;
    /// @notice Epoch of the current master set; a master's status is valid iff its epoch is current.
    uint256 public epoch;
    mapping(address master => uint256) private _masterEpoch;
    /// @notice Whether `master` approved `asset` for permanent listing.
    mapping(bytes32 asset => mapping(address master => bool)) public approved;
    /// @notice The master whose board lists `asset` (zero if none).
    mapping(bytes32 asset => address) public boardListedBy;
    /// @notice Whether `asset` is listed permanently.
    mapping(bytes32 asset => bool) public permanent;

    /// @notice A new set of super pool masters.
    event MastersSet(uint256 indexed epoch, address[] masters);
    /// @notice `master` listed `asset` on its super pool board.
    event BoardListed(bytes32 indexed asset, address indexed master);
    /// @notice `master` approved (or withdrew its approval of) `asset`.
    event ListingApproval(bytes32 indexed asset, address indexed master, bool approved);
    /// @notice `asset` is listed permanently with `approvals` current-master approvals.
    event ListedPermanently(bytes32 indexed asset, uint256 approvals);

    error TooManyMasters(uint256 count);
    error NotMaster(address account);
    error AlreadyListed(bytes32 asset);
    error AlreadyPermanent(bytes32 asset);
    error NoChange();
    error NotEnoughApprovals(uint256 approvals);

    /// @param admin DEFAULT_ADMIN_ROLE
    /// @param registrar REGISTRAR_ROLE
    constructor(address admin, address registrar) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(REGISTRAR_ROLE, registrar);
    }

    /// @notice Replaces the set of super pool masters.
    /// @param newMasters the new set (<= 30, no duplicates or zero address)
    function setMasters(address[] calldata newMasters) external onlyRole(REGISTRAR_ROLE) {
        if (newMasters.length > MAX_MASTERS) revert TooManyMasters(newMasters.length);
        uint256 e = ++epoch;
        for (uint256 i = 0; i < newMasters.length; ++i) {
            address m = newMasters[i];
            if (m == address(0) || _masterEpoch[m] == e) revert NotMaster(m);
            _masterEpoch[m] = e;
        }
        _masters = newMasters;
        emit MastersSet(e, newMasters);
    }

    /// @notice Lists `asset` on the caller's super pool board (no DAO vote, R-57).
    /// @param asset the asset symbol
    function listOnBoard(bytes32 asset) external {
        _requireMaster();
        if (boardListedBy[asset] != address(0)) revert AlreadyListed(asset);
        boardListedBy[asset] = msg.sender;
        emit BoardListed(asset, msg.sender);
    }

    /// @notice The caller (a current master) approves or withdraws its approval of `asset`.
    /// @param asset the asset symbol
    /// @param approve true to approve
    function setApproval(bytes32 asset, bool approve) external {
        _requireMaster();
        if (permanent[asset]) revert AlreadyPermanent(asset);
        if (approved[asset][msg.sender] == approve) revert NoChange();
        approved[asset][msg.sender] = approve;
        emit ListingApproval(asset, msg.sender, approve);
    }

    /// @notice Makes `asset` permanent once >= 24 current masters approved it (anyone may call).
    /// @param asset the asset symbol
    function makePermanent(bytes32 asset) external {
        if (permanent[asset]) revert AlreadyPermanent(asset);
        uint256 n = approvals(asset);
        if (n < THRESHOLD) revert NotEnoughApprovals(n);
        permanent[asset] = true;
        emit ListedPermanently(asset, n);
    }

    /// @notice Approvals of `asset` by current masters.
    function approvals(bytes32 asset) public view returns (uint256 n) {
        uint256 len = _masters.length;
        for (uint256 i = 0; i < len; ++i) {
            if (approved[asset][_masters[i]]) ++n;
        }
    }

    /// @notice Current super pool masters.
    function masters() external view returns (address[] memory) {
        return _masters;
    }

    /// @notice True if `account` is a current super pool master.
    function isMaster(address account) public view returns (bool) {
        return epoch != 0 && _masterEpoch[account] == epoch;
    }

    function _requireMaster() private view {
        if (!isMaster(msg.sender)) revert NotMaster(msg.sender);
    }
}
