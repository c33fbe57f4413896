// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {DevBondedECDSAKeep} from "./DevBondedECDSAKeep.sol";

/// @title Devnet double of keep-ecdsa's BondedECDSAKeepFactory (the surface tBTC v1 calls).
/// @notice No sortition pool: the devnet picks the members of the next keeps with
///         `setNextMembers`. Bonds are real ETH paid out of this factory's balance (fund it with
///         `fundBonds`), so `checkBondAmount` and liquidation behave as on mainnet. A one-shot
///         `setNextBond` lets the devnet open a keep bonded below the requested amount, which is
///         how one deposit ends up less collateralized than another at the same price.
contract DevBondedECDSAKeepFactory {
    event BondedECDSAKeepCreated(
        address indexed keepAddress,
        address[] members,
        address indexed owner,
        address indexed application,
        uint256 honestThreshold
    );
    event MinimumBondableValueSet(uint256 minimumBondableValue, uint256 groupSize, uint256 honestThreshold);

    address public controller;
    address[] public keeps;
    mapping(address => uint256) public getKeepOpenedTimestamp;
    uint256 public feeEstimate = 0.001 ether;
    uint256 public minimumBondableValue;
    uint256 public sortitionPoolWeight = 1;
    uint256 public nextBond;
    address[] private nextMembers;

    modifier onlyController() {
        require(msg.sender == controller, "Caller is not the devnet controller");
        _;
    }

    constructor() {
        controller = msg.sender;
    }

    receive() external payable {}

    // ---- real surface ----

    function openKeep(
        uint256 _groupSize,
        uint256 _honestThreshold,
        address _owner,
        uint256 _bond,
        uint256 /* _stakeLockDuration */
    ) external payable returns (address keepAddress) {
        require(_groupSize > 0 && _honestThreshold <= _groupSize, "Honest threshold must not exceed the group size");
        require(msg.value >= feeEstimate, "Insufficient payment for opening a new keep");
        require(nextMembers.length == _groupSize, "Devnet: next members not set for this group size");
        uint256 bond = nextBond == 0 ? _bond : nextBond;
        nextBond = 0;
        require(address(this).balance >= bond, "Devnet: factory lacks ETH for the bond; call fundBonds");

        DevBondedECDSAKeep keep = new DevBondedECDSAKeep{value: bond}(_owner, nextMembers, _honestThreshold, controller);
        keepAddress = address(keep);
        keeps.push(keepAddress);
        getKeepOpenedTimestamp[keepAddress] = block.timestamp;
        emit BondedECDSAKeepCreated(keepAddress, nextMembers, _owner, msg.sender, _honestThreshold);
    }

    function openKeepFeeEstimate() external view returns (uint256) { return feeEstimate; }

    function getSortitionPoolWeight(address /* _application */) external view returns (uint256) {
        return sortitionPoolWeight;
    }

    function setMinimumBondableValue(uint256 _minimumBondableValue, uint256 _groupSize, uint256 _honestThreshold) external {
        minimumBondableValue = _minimumBondableValue;
        emit MinimumBondableValueSet(_minimumBondableValue, _groupSize, _honestThreshold);
    }

    function getKeepCount() external view returns (uint256) { return keeps.length; }

    function getKeepAtIndex(uint256 index) external view returns (address) {
        require(index < keeps.length, "Out of bounds.");
        return keeps[index];
    }

    // ---- devnet controls ----

    function fundBonds() external payable {}

    function getNextMembers() external view returns (address[] memory) { return nextMembers; }

    function setNextMembers(address[] calldata _members) external onlyController {
        nextMembers = _members;
    }

    /// @notice Bond (wei) of the next keep only; 0 means the amount tBTC requests.
    function setNextBond(uint256 _bondWei) external onlyController {
        nextBond = _bondWei;
    }

    /// @notice Members and one-shot bond in a single transaction.
    function configureNextKeep(address[] calldata _members, uint256 _bondWei) external onlyController {
        nextMembers = _members;
        nextBond = _bondWei;
    }

    function setFeeEstimate(uint256 _fee) external onlyController {
        feeEstimate = _fee;
    }
}
