// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

interface IERC20Transfers {
    function transferFrom(address from, address to, uint256 value) external returns (bool);
}

/// @title Devnet double of keep-ecdsa's BondedECDSAKeep (v1.2.1 surface used by tBTC v1).
/// @notice Speaks the real ABI and emits the real events, but there is no off-chain signing
///         group: the devnet (the keep's `controller`) or a member submits the public key and
///         signatures. The members' bond is plain ETH held by this contract, so seizing it
///         moves real value to the Deposit, as liquidation requires.
contract DevBondedECDSAKeep {
    enum Status { Active, Closed, Terminated }

    event SignatureRequested(bytes32 indexed digest);
    event ConflictingPublicKeySubmitted(address indexed submittingMember, bytes conflictingPublicKey);
    event PublicKeyPublished(bytes publicKey);
    event ETHRewardDistributed(uint256 amount);
    event ERC20RewardDistributed(address indexed token, uint256 amount);
    event KeepClosed();
    event KeepTerminated();
    event SignatureSubmitted(bytes32 indexed digest, bytes32 r, bytes32 s, uint8 recoveryID);

    uint256 private constant HALF_CURVE_ORDER =
        0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    address public owner;
    address[] public members;
    uint256 public honestThreshold;
    bytes public publicKey;
    bytes32 public digest;
    mapping(bytes32 => uint256) public digests;
    /// @notice Devnet operator allowed to act for the (key-less) signing group.
    address public controller;
    address public factory;

    uint256 private bondWei;
    uint256 private openedAt;
    uint256 private signingStartTimestamp;
    Status private status;
    mapping(address => uint256) private memberETHBalances;
    mapping(bytes => bool) private fraudulentPreimages;

    modifier onlyOwner() {
        require(msg.sender == owner, "Caller is not the keep owner");
        _;
    }

    modifier onlyWhenActive() {
        require(status == Status.Active, "Keep is not active");
        _;
    }

    modifier onlySigner() {
        require(msg.sender == controller || isMember(msg.sender), "Caller is not a keep member or the devnet controller");
        _;
    }

    constructor(address _owner, address[] memory _members, uint256 _honestThreshold, address _controller) payable {
        require(_members.length > 0, "A keep needs members");
        owner = _owner;
        members = _members;
        honestThreshold = _honestThreshold;
        controller = _controller;
        factory = msg.sender;
        bondWei = msg.value;
        openedAt = block.timestamp;
    }

    // ---- reads (real names) ----

    function getPublicKey() external view returns (bytes memory) { return publicKey; }
    function getOwner() external view returns (address) { return owner; }
    function getOpenedTimestamp() external view returns (uint256) { return openedAt; }
    function getMembers() public view returns (address[] memory) { return members; }
    function checkBondAmount() external view returns (uint256) { return bondWei; }
    function isActive() public view returns (bool) { return status == Status.Active; }
    function isClosed() public view returns (bool) { return status == Status.Closed; }
    function isTerminated() public view returns (bool) { return status == Status.Terminated; }
    function getMemberETHBalance(address _member) external view returns (uint256) { return memberETHBalances[_member]; }

    function isAwaitingSignature(bytes32 _digest) external view returns (bool) {
        return signingStartTimestamp != 0 && digest == _digest;
    }

    // ---- signing group side ----

    function submitPublicKey(bytes calldata _publicKey) external onlySigner {
        require(publicKey.length == 0, "Public key already published");
        require(_publicKey.length == 64, "Public key must be 64 bytes long");
        publicKey = _publicKey;
        emit PublicKeyPublished(_publicKey);
    }

    function submitSignature(bytes32 _r, bytes32 _s, uint8 _recoveryID) external onlySigner {
        require(signingStartTimestamp != 0, "Not awaiting a signature");
        require(_recoveryID < 4, "Recovery ID must be one of {0, 1, 2, 3}");
        require(uint256(_s) <= HALF_CURVE_ORDER, "Malleable signature - s should be in the low half of secp256k1 curve's order");
        require(keyAddress() == ecrecover(digest, 27 + _recoveryID, _r, _s), "Invalid signature");
        signingStartTimestamp = 0;
        emit SignatureSubmitted(digest, _r, _s, _recoveryID);
    }

    // ---- owner (Deposit) side ----

    function sign(bytes32 _digest) external onlyOwner onlyWhenActive {
        require(publicKey.length != 0, "Public key was not set yet");
        require(signingStartTimestamp == 0, "Signer is busy");
        signingStartTimestamp = block.timestamp;
        digests[_digest] = block.number;
        digest = _digest;
        emit SignatureRequested(_digest);
    }

    /// @notice Holds the reward for members to withdraw, split evenly, remainder to the last.
    function distributeETHReward() external payable {
        uint256 n = members.length;
        uint256 share = msg.value / n;
        for (uint256 i = 0; i < n; i++) memberETHBalances[members[i]] += share;
        memberETHBalances[members[n - 1]] += msg.value % n;
        emit ETHRewardDistributed(msg.value);
    }

    function withdraw(address _member) external {
        uint256 value = memberETHBalances[_member];
        require(value > 0, "No funds to withdraw");
        memberETHBalances[_member] = 0;
        (bool ok, ) = payable(_member).call{value: value}("");
        require(ok, "Failed to send ETH");
    }

    /// @notice Pulls `_value` of an approved token from the caller straight to the members.
    function distributeERC20Reward(address _tokenAddress, uint256 _value) external {
        uint256 n = members.length;
        uint256 share = _value / n;
        for (uint256 i = 0; i < n; i++) {
            uint256 amount = i == n - 1 ? share + (_value % n) : share;
            require(IERC20Transfers(_tokenAddress).transferFrom(msg.sender, members[i], amount), "Token transfer failed");
        }
        emit ERC20RewardDistributed(_tokenAddress, _value);
    }

    /// @notice Sends the whole bond to the owner with `call` (the Deposit needs more than 2300 gas).
    function seizeSignerBonds() external onlyOwner onlyWhenActive {
        status = Status.Terminated;
        emit KeepTerminated();
        uint256 value = bondWei;
        bondWei = 0;
        (bool ok, ) = payable(owner).call{value: value}("");
        require(ok, "Failed to send the seized bond");
    }

    /// @notice Returns value to the members' wallets (the real keep credits their bonding balance).
    function returnPartialSignerBonds() external payable {
        uint256 n = members.length;
        uint256 share = msg.value / n;
        require(share > 0, "Partial signer bond must be non-zero");
        for (uint256 i = 0; i < n; i++) {
            uint256 amount = i == n - 1 ? share + (msg.value % n) : share;
            (bool ok, ) = payable(members[i]).call{value: amount}("");
            require(ok, "Failed to return bond");
        }
    }

    /// @notice Closes the keep and frees the bond back to the members.
    function closeKeep() public onlyOwner onlyWhenActive {
        status = Status.Closed;
        emit KeepClosed();
        uint256 value = bondWei;
        bondWei = 0;
        uint256 n = members.length;
        for (uint256 i = 0; i < n; i++) {
            uint256 amount = i == n - 1 ? value - (value / n) * (n - 1) : value / n;
            (bool ok, ) = payable(members[i]).call{value: amount}("");
            require(ok, "Failed to free bond");
        }
    }

    function submitSignatureFraud(uint8 _v, bytes32 _r, bytes32 _s, bytes32 _signedDigest, bytes calldata _preimage)
        external
        onlyWhenActive
        returns (bool _isFraud)
    {
        require(checkSignatureFraud(_v, _r, _s, _signedDigest, _preimage), "Signature is not fraudulent");
        fraudulentPreimages[_preimage] = true;
        return true;
    }

    function checkSignatureFraud(uint8 _v, bytes32 _r, bytes32 _s, bytes32 _signedDigest, bytes memory _preimage)
        public
        view
        returns (bool _isFraud)
    {
        require(publicKey.length != 0, "Public key was not set yet");
        require(_signedDigest == sha256(_preimage), "Signed digest does not match sha256 hash of the preimage");
        return keyAddress() == ecrecover(_signedDigest, _v, _r, _s) && digests[_signedDigest] == 0;
    }

    // ---- devnet controls ----

    /// @notice Adds ETH to the bond (raises this deposit's collateralization).
    function addBond() external payable onlyWhenActive {
        bondWei += msg.value;
    }

    /// @notice Removes part of the bond (lowers this deposit's collateralization). Devnet only.
    function reduceBond(uint256 _amount, address payable _to) external onlyWhenActive {
        require(msg.sender == controller, "Caller is not the devnet controller");
        require(_amount <= bondWei, "Amount exceeds the bond");
        bondWei -= _amount;
        (bool ok, ) = _to.call{value: _amount}("");
        require(ok, "Failed to send ETH");
    }

    function isMember(address _a) internal view returns (bool) {
        for (uint256 i = 0; i < members.length; i++) if (members[i] == _a) return true;
        return false;
    }

    function keyAddress() internal view returns (address) {
        return address(uint160(uint256(keccak256(publicKey))));
    }
}
