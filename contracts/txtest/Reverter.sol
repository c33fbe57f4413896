// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// Test double for the transaction engine: a counter that can be told to fail in each way a
/// keeper's call fails (reason string, custom error), and that can flip to failing later so a
/// tx simulated fine can still revert when mined.
contract Reverter {
    error NotAllowed(address caller, uint256 code);

    uint256 public count;
    bool public armed;

    function bump() external payable {
        require(!armed, "armed: bump refused");
        count += 1;
    }

    function failWithReason() external pure {
        revert("Reverter: always fails");
    }

    function failWithCustom() external view {
        revert NotAllowed(msg.sender, 42);
    }

    function arm(bool on) external {
        armed = on;
    }
}
