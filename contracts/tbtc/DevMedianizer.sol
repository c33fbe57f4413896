// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Devnet ETH/BTC medianizer (MakerDAO IMedianizer surface read by SatWeiPriceFeed).
/// @notice The value is the ETH price in BTC with 18 decimals, i.e. 0.03e18 means
///         1 ETH = 0.03 BTC, as the mainnet ETH/BTC feed reports it.
contract DevMedianizer {
    event LogValue(bytes32 val);

    address public controller;
    uint256 private value;
    bool private active = true;

    constructor(uint256 _value) {
        controller = msg.sender;
        value = _value;
    }

    function read() external view returns (uint256) {
        require(active, "Medianizer is not active");
        return value;
    }

    function peek() external view returns (uint256, bool) {
        return (value, active);
    }

    function setValue(uint256 _value) external {
        require(msg.sender == controller, "Caller is not the devnet controller");
        value = _value;
        emit LogValue(bytes32(_value));
    }

    function setActive(bool _active) external {
        require(msg.sender == controller, "Caller is not the devnet controller");
        active = _active;
    }
}
