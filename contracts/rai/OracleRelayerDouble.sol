// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Test double of Reflexer's OracleRelayer: just the redemption price and rate.
/// The rate is per second in RAY; redemptionPrice() compounds it since the last update and
/// stores the result, which is why it is not a view (read it with a static call).
contract OracleRelayerDouble {
    uint256 public constant RAY = 10 ** 27;

    uint256 public redemptionRate = RAY;
    uint256 public redemptionPriceUpdateTime;
    uint256 internal _redemptionPrice;
    mapping(address => bool) public authorizedAccounts;

    event ModifyParameters(bytes32 parameter, uint256 data);
    event UpdateRedemptionPrice(uint256 redemptionPrice);

    constructor(uint256 initialRedemptionPrice) {
        _redemptionPrice = initialRedemptionPrice;
        redemptionPriceUpdateTime = block.timestamp;
        authorizedAccounts[msg.sender] = true;
    }

    modifier isAuthorized() {
        require(authorizedAccounts[msg.sender], "OracleRelayerDouble/not-authorized");
        _;
    }

    function addAuthorization(address account) external isAuthorized {
        authorizedAccounts[account] = true;
    }

    /// Integer power by squaring in fixed point, each product rounded half up.
    function rpower(uint256 x, uint256 n, uint256 base) public pure returns (uint256 z) {
        if (x == 0) return n == 0 ? base : 0;
        uint256 half = base / 2;
        z = n % 2 == 1 ? x : base;
        for (n /= 2; n > 0; n /= 2) {
            x = (x * x + half) / base;
            if (n % 2 == 1) z = (z * x + half) / base;
        }
    }

    function redemptionPrice() public returns (uint256) {
        if (block.timestamp > redemptionPriceUpdateTime) {
            uint256 factor = rpower(redemptionRate, block.timestamp - redemptionPriceUpdateTime, RAY);
            _redemptionPrice = (factor * _redemptionPrice) / RAY;
            if (_redemptionPrice == 0) _redemptionPrice = 1;
            redemptionPriceUpdateTime = block.timestamp;
            emit UpdateRedemptionPrice(_redemptionPrice);
        }
        return _redemptionPrice;
    }

    /// Only "redemptionRate" is supported; the price is brought up to date first so the old rate
    /// applies to the time before the change.
    function modifyParameters(bytes32 parameter, uint256 data) external isAuthorized {
        require(parameter == "redemptionRate", "OracleRelayerDouble/modify-unrecognized-param");
        require(data > 0 && data < 2 * RAY, "OracleRelayerDouble/invalid-redemption-rate");
        redemptionPrice();
        redemptionRate = data;
        emit ModifyParameters(parameter, data);
    }
}
