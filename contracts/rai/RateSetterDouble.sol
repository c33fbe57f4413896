// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

interface IOracleRelayerLike {
    function redemptionPrice() external returns (uint256);
    function modifyParameters(bytes32 parameter, uint256 data) external;
}

/// @notice Test double of Reflexer's RateSetter. The real one computes the rate with a PI
/// controller; here the caller supplies it, so tests can seed a known history. It emits the real
/// UpdateRedemptionRate event (same signature, no indexed arguments) after relaying the rate.
contract RateSetterDouble {
    IOracleRelayerLike public oracleRelayer;
    uint256 public updateRateDelay;
    uint256 public lastUpdateTime;

    event UpdateRedemptionRate(uint256 marketPrice, uint256 redemptionPrice, uint256 redemptionRate);

    constructor(address oracleRelayer_, uint256 updateRateDelay_) {
        oracleRelayer = IOracleRelayerLike(oracleRelayer_);
        updateRateDelay = updateRateDelay_;
    }

    function updateRate(uint256 marketPrice, uint256 redemptionRate) external {
        require(
            lastUpdateTime == 0 || block.timestamp - lastUpdateTime >= updateRateDelay,
            "RateSetterDouble/wait-more"
        );
        uint256 redemptionPrice = oracleRelayer.redemptionPrice();
        oracleRelayer.modifyParameters("redemptionRate", redemptionRate);
        lastUpdateTime = block.timestamp;
        emit UpdateRedemptionRate(marketPrice, redemptionPrice, redemptionRate);
    }
}
