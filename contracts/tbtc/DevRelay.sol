// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Devnet double of the Summa relay's difficulty oracle (IRelay surface tBTC v1 reads).
/// @notice Synthetic SPV proofs use headers with nBits 0x207fffff, whose difficulty computes to
///         0, so both epochs default to 0.
contract DevRelay {
    address public controller;
    uint256 private currentDifficulty;
    uint256 private prevDifficulty;

    constructor() {
        controller = msg.sender;
    }

    function getCurrentEpochDifficulty() external view returns (uint256) { return currentDifficulty; }
    function getPrevEpochDifficulty() external view returns (uint256) { return prevDifficulty; }

    function setCurrentEpochDifficulty(uint256 _difficulty) external {
        require(msg.sender == controller, "Caller is not the devnet controller");
        currentDifficulty = _difficulty;
    }

    function setPrevEpochDifficulty(uint256 _difficulty) external {
        require(msg.sender == controller, "Caller is not the devnet controller");
        prevDifficulty = _difficulty;
    }
}
