// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Read many view functions in one eth_call, without deploying anything.
/// @notice keepctl sends this contract's creation code (plus the encoded arguments) as an
///         eth_call with no `to`: the constructor runs the static calls and returns the encoded
///         results as if they were the contract's code. Nothing is ever deployed, so it works on
///         any chain and on a fresh devnet where Multicall3 does not exist.
contract DeploylessMulticall {
    constructor(address[] memory targets, bytes[] memory data) {
        uint256 n = targets.length;
        bool[] memory ok = new bool[](n);
        bytes[] memory results = new bytes[](n);
        for (uint256 i = 0; i < n; i++) {
            (ok[i], results[i]) = targets[i].staticcall(data[i]);
        }
        bytes memory out = abi.encode(ok, results);
        assembly {
            return(add(out, 32), mload(out))
        }
    }
}
