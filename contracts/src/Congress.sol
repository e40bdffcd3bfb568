// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title Congress (R-50..R-53)
/// @notice Congress = the top 101 EXT holders at a snapshot block, published per term as a Merkle root
/// over member addresses (anyone can recheck it against EXT balances at `snapshotBlock`). Only members of
/// the current term propose; members of the proposal's term vote Yes/No once, directly or by an EIP-712
/// signature (MetaMask `eth_signTypedData_v4`) that anyone may relay. A proposal passes when, at the end
/// of its voting period, Yes > No (a tie fails: the status quo wins). Passed proposals go to the Senate.
/// @dev Member leaf = keccak256(bytes.concat(keccak256(abi.encode(member)))).
contract Congress is AccessControl, EIP712 {
    /// @notice May publish terms.
    bytes32 public constant MEMBERSHIP_ROLE = keccak256("MEMBERSHIP_ROLE");
    /// @notice Maximum members per term.
    uint256 public constant MAX_MEMBERS = 101;
    /// @notice EIP-712 type of a signed vote.
    bytes32 public constant BALLOT_TYPEHASH = keccak256("Ballot(uint256 proposalId,bool support,address voter)");

    /// @notice Proposal lifecycle.
    enum Status {
        None,
        Active,
        Passed,
        Rejected
    }

    /// @notice A Congress term.
    struct Term {
        bytes32 membersRoot;
        uint64 snapshotBlock;
        uint32 memberCount;
    }

    /// @notice A proposal (tally packed in one slot).
    struct Proposal {
        uint64 endsAt;
        uint32 term;
        uint32 yes;
        uint32 no;
        Status status;
        address proposer;
        bytes32 contentHash;
    }

    /// @notice Voting period length, seconds.
    uint256 public immutable votingPeriod;
    /// @notice Current term id (0 = none yet).
    uint256 public currentTerm;
    /// @notice Number of proposals; ids are 1..proposalCount.
    uint256 public proposalCount;

    mapping(uint256 termId => Term) private _terms;
    mapping(uint256 proposalId => Proposal) private _proposals;
    /// @notice Whether `voter` voted on `proposalId`.
    mapping(uint256 proposalId => mapping(address voter => bool)) public hasVoted;

    /// @notice A new term started.
    event TermStarted(uint256 indexed term, bytes32 membersRoot, uint256 snapshotBlock, uint256 memberCount);
    /// @notice A member opened a proposal.
    event ProposalCreated(
        uint256 indexed proposalId, uint256 indexed term, address indexed proposer, bytes32 contentHash, string uri, uint256 endsAt
    );
    /// @notice A vote was recorded. `bySignature` is true when relayed with an EIP-712 signature.
    event VoteCast(uint256 indexed proposalId, address indexed voter, bool support, bool bySignature);
    /// @notice The outcome of a proposal.
    event ProposalFinalized(uint256 indexed proposalId, bool passed, uint256 yes, uint256 no);

    error NoTerm();
    error TooManyMembers(uint256 count);
    error NotMember(address account);
    error UnknownProposal(uint256 proposalId);
    error VotingClosed(uint256 proposalId);
    error VotingOpen(uint256 proposalId);
    error AlreadyVoted(uint256 proposalId, address voter);
    error InvalidSignature();
    error AlreadyFinalized(uint256 proposalId);

    /// @param admin DEFAULT_ADMIN_ROLE
    /// @param membership MEMBERSHIP_ROLE
    /// @param votingPeriod_ seconds a proposal stays open
    constructor(address admin, address membership, uint256 votingPeriod_) EIP712("ExCraft Congress", "1") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MEMBERSHIP_ROLE, membership);
        votingPeriod = votingPeriod_;
    }

    /// @notice Starts a new term with the top holders at `snapshotBlock`.
    /// @param membersRoot Merkle root over member addresses
    /// @param snapshotBlock block whose EXT balances define the ranking
    /// @param memberCount number of members (<= 101)
    /// @return termId the new term id
    function startTerm(bytes32 membersRoot, uint256 snapshotBlock, uint256 memberCount)
        external
        onlyRole(MEMBERSHIP_ROLE)
        returns (uint256 termId)
    {
        if (memberCount > MAX_MEMBERS) revert TooManyMembers(memberCount);
        termId = ++currentTerm;
        _terms[termId] = Term(membersRoot, uint64(snapshotBlock), uint32(memberCount));
        emit TermStarted(termId, membersRoot, snapshotBlock, memberCount);
    }

    /// @notice Opens a proposal; the caller must be a member of the current term.
    /// @param contentHash hash of the proposal text
    /// @param uri where the text is published
    /// @param memberProof proof that the caller is a member
    /// @return proposalId the new proposal
    function propose(bytes32 contentHash, string calldata uri, bytes32[] calldata memberProof)
        external
        returns (uint256 proposalId)
    {
        uint256 termId = currentTerm;
        if (termId == 0) revert NoTerm();
        _requireMember(termId, msg.sender, memberProof);
        proposalId = ++proposalCount;
        uint256 endsAt = block.timestamp + votingPeriod;
        _proposals[proposalId] = Proposal(uint64(endsAt), uint32(termId), 0, 0, Status.Active, msg.sender, contentHash);
        emit ProposalCreated(proposalId, termId, msg.sender, contentHash, uri, endsAt);
    }

    /// @notice Votes Yes (`support`) or No on an active proposal.
    /// @param proposalId the proposal
    /// @param support true = Yes
    /// @param memberProof proof that the caller is a member of the proposal's term
    function castVote(uint256 proposalId, bool support, bytes32[] calldata memberProof) external {
        _vote(proposalId, msg.sender, support, memberProof, false);
    }

    /// @notice Records a vote signed by `voter` (EIP-712 `Ballot`); anyone may submit it.
    /// @param proposalId the proposal
    /// @param support true = Yes
    /// @param voter the member who signed
    /// @param memberProof proof that `voter` is a member of the proposal's term
    /// @param signature 65-byte ECDSA signature of the Ballot
    function castVoteBySig(
        uint256 proposalId,
        bool support,
        address voter,
        bytes32[] calldata memberProof,
        bytes calldata signature
    ) external {
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(BALLOT_TYPEHASH, proposalId, support, voter)));
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err != ECDSA.RecoverError.NoError || signer != voter) revert InvalidSignature();
        _vote(proposalId, voter, support, memberProof, true);
    }

    /// @notice Closes a proposal after its voting period: Passed iff Yes > No.
    /// @param proposalId the proposal
    /// @return passed the outcome
    function finalize(uint256 proposalId) external returns (bool passed) {
        Proposal storage p = _proposals[proposalId];
        if (p.status == Status.None) revert UnknownProposal(proposalId);
        if (p.status != Status.Active) revert AlreadyFinalized(proposalId);
        if (block.timestamp < p.endsAt) revert VotingOpen(proposalId);
        passed = p.yes > p.no;
        p.status = passed ? Status.Passed : Status.Rejected;
        emit ProposalFinalized(proposalId, passed, p.yes, p.no);
    }

    /// @notice The proposal.
    function proposal(uint256 proposalId) external view returns (Proposal memory) {
        return _proposals[proposalId];
    }

    /// @notice Status of a proposal.
    function status(uint256 proposalId) external view returns (Status) {
        return _proposals[proposalId].status;
    }

    /// @notice A term.
    function term(uint256 termId) external view returns (Term memory) {
        return _terms[termId];
    }

    /// @notice True if `account` is a member of `termId` (with `proof`).
    function isMember(uint256 termId, address account, bytes32[] calldata proof) public view returns (bool) {
        bytes32 root = _terms[termId].membersRoot;
        return root != bytes32(0)
            && MerkleProof.verifyCalldata(proof, root, keccak256(bytes.concat(keccak256(abi.encode(account)))));
    }

    /// @notice EIP-712 domain separator (for off-chain signers).
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function _vote(uint256 proposalId, address voter, bool support, bytes32[] calldata proof, bool bySig) private {
        Proposal storage p = _proposals[proposalId];
        if (p.status == Status.None) revert UnknownProposal(proposalId);
        if (p.status != Status.Active || block.timestamp >= p.endsAt) revert VotingClosed(proposalId);
        if (hasVoted[proposalId][voter]) revert AlreadyVoted(proposalId, voter);
        _requireMember(p.term, voter, proof);
        hasVoted[proposalId][voter] = true;
        if (support) p.yes += 1;
        else p.no += 1;
        emit VoteCast(proposalId, voter, support, bySig);
    }

    function _requireMember(uint256 termId, address account, bytes32[] calldata proof) private view {
        if (!isMember(termId, account, proof)) revert NotMember(account);
    }
}
