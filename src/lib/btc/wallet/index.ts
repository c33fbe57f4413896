/**
 * The operator's Bitcoin wallet (docs/btc-wallet.md): BIP84 native segwit, hot (an encrypted BIP39
 * keystore) or watch-only (xpub/zpub/descriptor) with PSBTs for a cold signer. Protocol-agnostic:
 * it knows addresses, coins and transactions, not deposits; the Bitcoin network reaches it only
 * through the BtcWalletChain interface.
 */
export { BTC_NETWORKS, bip84AccountPath, configuredWalletNetwork, defaultBtcNetwork, walletBtcNetwork, familyOf, formatPath, isBtcNetwork, networkParams, type BtcNetwork, type KeyFamily, type NetworkParams } from "./network";
export { checkKeyFamily, looksLikeExtendedKey, parseExtendedPublicKey, toSlip132, withVersion, type ParsedExtendedKey } from "./extended-key";
export { descriptorChecksum, formatOrigin, formatWpkhDescriptor, looksLikeDescriptor, parseWpkhDescriptor, splitDescriptorChecksum, withChecksum, type KeyOrigin, type ParsedDescriptor } from "./descriptor";
export { Bip84Account, CHANGE, HotSigner, openMnemonic, RECEIVE, type AddressChain, type Bip32Derivation, type HotAccount } from "./account";
export { discoverNextIndex, firstUnusedFrom, GAP_LIMIT, nextIndex, type NextIndex, type NextIndexInput, type UsedLookup } from "./address-policy";
export { AddressBook, type AddressCounters, type ReservedAddress } from "./address-book";
export { compactSizeBytes, dustThreshold, feeForVsize, feeRateOf, INCREMENTAL_RELAY_FEE_RATE, MIN_RELAY_FEE_RATE, outputBytes, p2wpkhTxVsize, p2wpkhTxWeight, toMilliSatPerVb, vsizeOfWeight } from "./tx-size";
export { selectCoins, spendOrder, type Payment, type Selection, type SelectParams, type Utxo } from "./coin-select";
export { chooseFeeBump, planCpfp, planRbf, type CpfpPlan, type FeeBumpChoice, type RbfPlan, type StuckTx } from "./fee-bump";
export { buildCpfpChildTx, buildFundingTx, buildReplacementTx, finishSigned, RBF_SEQUENCE, signatureProblem, signHot, unsignedTxid, type ChangeRef, type SignedTx } from "./funding-tx";
export { acceptSignedPsbt, decodePsbt, psbtBase64, psbtDifference, readPsbtFile, writePsbtFile } from "./psbt";
export { decryptKeystore, encryptKeystore, KEYSTORE_FORMAT, KEYSTORE_VERSION, keystoreAccount, parseKeystore, readKeystoreFile, SCRYPT_PARAMS, unlockKeystore, writeNewKeystore, writeNewPrivateFile, type KeystoreFile, type KeystoreHeader } from "./keystore";
export { btcKeyFilePermProblems, checkBtcKeyFilePerms, keystorePassword, MIN_NEW_PASSWORD, mnemonicInput, newKeystorePassword, newMnemonic, normalizeMnemonic, type SecretPrompt } from "./secret-input";
export { broadcastSigned, cappedFeeRate, historyLookup, summarizeCoins, walletCoins, walletExtent, walletUtxos, type BtcWalletChain, type ChainUtxo, type CoinSummary } from "./chain";
export { openWalletChain, walletChainOf, type OpenedWalletChain } from "./client-chain";
export { openBtcWallet, unlockBtcWallet, type BtcWalletSettings, type OpenedWallet } from "./wallet";
export { hasBtcWallet, reserveReceiveAddress } from "./payout";
