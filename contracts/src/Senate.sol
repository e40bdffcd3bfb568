// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleSumProof} from "./libraries/MerkleSumProof.sol";

interface ICongressOutcome {
    function status(uint256 proposalId) external view returns (uint8);
}

interface IPools {
    function poolCount() external view returns (uint256);
    function poolStatus(uint256 poolId) external view returns (address master, uint256 dissolvedAt);
}

interface IPoEPoolWeights {
    function latestPeriod() external view returns (uint256);
    function verifyPoolPoe(uint256 period, uint256 poolId, uint256 poe, MerkleSumProof.Node[] calldata proof)
        external
        view
        returns (bool);
    function record(uint256 period) external view returns (bytes32, bytes32, uint128, uint128, bytes32);
}

/// @title Senate (R-53..R-55)
/// @notice A proposal passed by Congress opens a Senate vote (and, after a rejection, a new round). At
/// opening the vote whitelists the pools that exist and are live then (ids 1..poolCount), and fixes its
/// weight day: the latest period anchored in PoEAnchor. A pool master votes Yes/No once per pool with the
/// pool's PoE of that day, proven against the day's pool Merkle sum root. Tie rule: the vote PASSES when
/// Yes weight * 2 >= the day's total pool PoE (exactly 50% passes, R-54 "passes with 50%"); it can be
/// closed early as soon as the outcome is certain, otherwise at the end of the voting period.
contract Senate is EIP712 {
    /// @notice EIP-712 type of a signed Senate vote.
    bytes32 public constant BALLOT_TYPEHASH =
        keccak256("SenateBallot(uint256 voteId,uint256 poolId,bool support,uint256 poe)");
    uint8 private constant CONGRESS_PASSED = 2;

    /// @notice Senate vote lifecycle.
    enum Status {
        None,
        Active,
        Passed,
        Rejected
    }

    /// @notice A Senate vote (round). A vote reads slot 0 and updates slot 1, which is already non-zero
    /// (status) so even the first vote does not pay for a fresh slot.
    struct Vote {
        uint40 openedAt;
        uint40 endsAt;
        uint64 weightPeriod;
        uint64 poolCountAtOpen;
        uint120 yes;
        uint120 no;
        Status status;
        uint128 totalWeight;
        uint256 congressProposalId;
    }

    /// @notice Congress.
    ICongressOutcome public immutable congress;
    /// @notice TradingPools.
    IPools public immutable pools;
    /// @notice PoEAnchor.
    IPoEPoolWeights public immutable anchor;
    /// @notice Voting period length, seconds.
    uint256 public immutable votingPeriod;

    /// @notice Number of votes opened; ids 1..voteCount.
    uint256 public voteCount;
    mapping(uint256 voteId => Vote) private _votes;
    /// @notice Latest Senate vote opened for a Congress proposal.
    mapping(uint256 congressProposalId => uint256 voteId) public latestVoteOf;
    /// @notice Whether pool `poolId` voted in `voteId`.
    mapping(uint256 voteId => mapping(uint256 poolId => bool)) public hasVoted;

    /// @notice A Senate vote opened for a Congress proposal.
    event VoteOpened(
        uint256 indexed voteId,
        uint256 indexed congressProposalId,
        uint256 weightPeriod,
        uint256 poolCountAtOpen,
        uint256 totalWeight,
        uint256 endsAt
    );
    /// @notice A pool master voted with `weight`.
    event VoteCast(
        uint256 indexed voteId, uint256 indexed poolId, address indexed master, bool support, uint256 weight, bool bySignature
    );
    /// @notice Outcome of a Senate vote.
    event VoteFinalized(uint256 indexed voteId, uint256 indexed congressProposalId, bool passed, uint256 yes, uint256 no);

    error CongressNotPassed(uint256 congressProposalId);
    error RoundInProgressOrPassed(uint256 voteId);
    error NothingAnchored();
    error NoSenateWeight(uint256 period);
    error WeightTooLarge(uint256 totalWeight);
    error UnknownVote(uint256 voteId);
    error VotingClosed(uint256 voteId);
    error NotWhitelisted(uint256 poolId);
    error NotMaster(uint256 poolId, address account);
    error AlreadyVoted(uint256 voteId, uint256 poolId);
    error InvalidWeightProof();
    error NotDecided(uint256 voteId);
    error InvalidSignature();

    /// @param congress_ Congress
    /// @param pools_ TradingPools
    /// @param anchor_ PoEAnchor
    /// @param votingPeriod_ seconds a Senate vote stays open
    constructor(ICongressOutcome congress_, IPools pools_, IPoEPoolWeights anchor_, uint256 votingPeriod_)
        EIP712("ExCraft Senate", "1")
    {
        congress = congress_;
        pools = pools_;
        anchor = anchor_;
        votingPeriod = votingPeriod_;
    }

    /// @notice Opens a Senate vote for a proposal Congress passed (anyone may call). A new round is only
    /// possible after the previous round was rejected.
    /// @param congressProposalId the Congress proposal
    /// @return voteId the new Senate vote
    function open(uint256 congressProposalId) external returns (uint256 voteId) {
        if (congress.status(congressProposalId) != CONGRESS_PASSED) revert CongressNotPassed(congressProposalId);
        uint256 prev = latestVoteOf[congressProposalId];
        if (prev != 0 && _votes[prev].status != Status.Rejected) revert RoundInProgressOrPassed(prev);
        uint256 period = anchor.latestPeriod();
        if (period == 0) revert NothingAnchored();
        (,,,uint128 totalPoolPoe,) = anchor.record(period);
        if (totalPoolPoe == 0) revert NoSenateWeight(period);
        if (totalPoolPoe > type(uint120).max) revert WeightTooLarge(totalPoolPoe);
        voteId = ++voteCount;
        uint256 endsAt = block.timestamp + votingPeriod;
        uint256 count = pools.poolCount();
        _votes[voteId] = Vote({
            openedAt: uint40(block.timestamp),
            endsAt: uint40(endsAt),
            weightPeriod: uint64(period),
            poolCountAtOpen: uint64(count),
            yes: 0,
            no: 0,
            status: Status.Active,
            totalWeight: totalPoolPoe,
            congressProposalId: congressProposalId
        });
        latestVoteOf[congressProposalId] = voteId;
        emit VoteOpened(voteId, congressProposalId, period, count, totalPoolPoe, endsAt);
    }

    /// @notice The master of whitelisted pool `poolId` votes with the pool's PoE of the weight day.
    /// @param voteId the Senate vote
    /// @param poolId the pool (must have existed and been live when the vote opened)
    /// @param support true = Yes
    /// @param poe the pool's PoE in the weight period
    /// @param proof Merkle sum proof of (poolId, poe) in PoEAnchor's pool root of that period
    function castVote(uint256 voteId, uint256 poolId, bool support, uint256 poe, MerkleSumProof.Node[] calldata proof)
        external
    {
        _vote(voteId, poolId, msg.sender, support, poe, proof, false);
    }

    /// @notice Records a Senate vote signed (EIP-712 `SenateBallot`) by the pool's master; anyone may submit.
    /// @param voteId the Senate vote
    /// @param poolId the pool
    /// @param support true = Yes
    /// @param poe the pool's PoE in the weight period
    /// @param proof Merkle sum proof of (poolId, poe)
    /// @param signature 65-byte ECDSA signature by the master
    function castVoteBySig(
        uint256 voteId,
        uint256 poolId,
        bool support,
        uint256 poe,
        MerkleSumProof.Node[] calldata proof,
        bytes calldata signature
    ) external {
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(BALLOT_TYPEHASH, voteId, poolId, support, poe)));
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err != ECDSA.RecoverError.NoError) revert InvalidSignature();
        _vote(voteId, poolId, signer, support, poe, proof, true);
    }

    /// @notice Closes a vote: early once certain (Yes*2 >= total, or No*2 > total), otherwise after the
    /// voting period with Passed iff Yes*2 >= total weight.
    /// @param voteId the Senate vote
    /// @return passed the outcome
    function finalize(uint256 voteId) external returns (bool passed) {
        Vote storage v = _votes[voteId];
        if (v.status == Status.None) revert UnknownVote(voteId);
        if (v.status != Status.Active) revert VotingClosed(voteId);
        uint256 total = v.totalWeight;
        passed = uint256(v.yes) * 2 >= total;
        bool certainNo = uint256(v.no) * 2 > total;
        if (!passed && !certainNo && block.timestamp < v.endsAt) revert NotDecided(voteId);
        v.status = passed ? Status.Passed : Status.Rejected;
        emit VoteFinalized(voteId, v.congressProposalId, passed, v.yes, v.no);
    }

    /// @notice The Senate vote.
    function getVote(uint256 voteId) external view returns (Vote memory) {
        return _votes[voteId];
    }

    /// @notice True if `poolId` may vote in `voteId` (existed and was live when it opened).
    function isWhitelisted(uint256 voteId, uint256 poolId) external view returns (bool) {
        (, uint256 d) = pools.poolStatus(poolId);
        return _whitelisted(_votes[voteId], poolId, d);
    }

    function _whitelisted(Vote storage v, uint256 poolId, uint256 dissolvedAt) private view returns (bool) {
        if (poolId == 0 || poolId > v.poolCountAtOpen) return false;
        return dissolvedAt == 0 || dissolvedAt > v.openedAt;
    }

    /// @notice EIP-712 domain separator.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function _vote(
        uint256 voteId,
        uint256 poolId,
        address voter,
        bool support,
        uint256 poe,
        MerkleSumProof.Node[] calldata proof,
        bool bySig
    ) private {
        Vote storage v = _votes[voteId];
        if (v.status == Status.None) revert UnknownVote(voteId);
        if (v.status != Status.Active || block.timestamp >= v.endsAt) revert VotingClosed(voteId);
        (address master, uint256 dissolvedAt) = pools.poolStatus(poolId);
        if (!_whitelisted(v, poolId, dissolvedAt)) revert NotWhitelisted(poolId);
        if (master != voter) revert NotMaster(poolId, voter);
        if (hasVoted[voteId][poolId]) revert AlreadyVoted(voteId, poolId);
        if (!anchor.verifyPoolPoe(v.weightPeriod, poolId, poe, proof)) revert InvalidWeightProof();
        hasVoted[voteId][poolId] = true;
        // poe <= totalWeight < 2^120 (the proof binds it to the root total), so the casts are exact
        if (support) v.yes += uint120(poe);
        else v.no += uint120(poe);
        emit VoteCast(voteId, poolId, voter, support, poe, bySig);
    }
}
