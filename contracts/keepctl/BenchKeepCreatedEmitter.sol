// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Bench-only stand-in code for the keep factory's address.
/// @notice The bench's mainnet-shaped scenario installs this code at the devnet keep factory's
///         address (hardhat_setCode), emits thousands of BondedECDSAKeepCreated events of other
///         operators' keeps in a few transactions, and puts the factory's code back. The events
///         are byte for byte what the factory emits (same address, signature, topics, data), so a
///         log scan cannot tell them apart; it writes no storage, so the factory's state is kept.
contract BenchKeepCreatedEmitter {
    event BondedECDSAKeepCreated(
        address indexed keepAddress,
        address[] members,
        address indexed owner,
        address indexed application,
        uint256 honestThreshold
    );

    /// @param members three per keep, in keep order
    function emitKeeps(address[] calldata keeps, address[] calldata owners, address[] calldata members, address application) external {
        require(owners.length == keeps.length && members.length == keeps.length * 3, "lengths");
        for (uint256 i = 0; i < keeps.length; i++) {
            address[] memory m = new address[](3);
            m[0] = members[3 * i];
            m[1] = members[3 * i + 1];
            m[2] = members[3 * i + 2];
            emit BondedECDSAKeepCreated(keeps[i], m, owners[i], application, 3);
        }
    }
}
