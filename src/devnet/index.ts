/**
 * The local tBTC v1 devnet in one import: deploy the real contracts over the test doubles,
 * open and drive deposits, seed the scenario, run it all on a Hardhat node.
 */
export { deployTbtcSystem, setEthBtcPrice, currentWeiPerSat, depositContract, keepContract, increaseTime, send, ethBtcToMedianizerValue, weiPerSat, DEFAULT_LOT_SIZES } from "./tbtc";
export type { TbtcDeployment, TbtcAddresses, DeployOptions } from "./tbtc";
export { DepositState, openDeposit, signRedemptionDigest, redeemDeposit, closeKeep, courtesyCall, liquidateDeposit, bondForPercent } from "./deposits";
export type { DepositStateName, OpenDepositOptions, OpenedDeposit, RedeemOptions, LiquidateOptions } from "./deposits";
export { seedScenario, startDevnet, devnetProvider, devnetWallet, deploymentFileOf, DEVNET_MNEMONIC, OPERATOR_ACCOUNT_INDEXES } from "./scenario";
export type { Devnet, DevnetDeploymentFile, ScenarioSummary, SeededDeposit, StartDevnetOptions } from "./scenario";
export { startAutoSigner } from "./autosign";
export type { AutoSigner } from "./autosign";
export { keepSigningKey, keepPublicKey64, keepCompressedPublicKey, signDigest } from "./signer";
export type { DigestSignature } from "./signer";
export { buildFundingProof, buildRedemptionProof, fundingProofArgs, redemptionProofArgs, mineHeaders, p2wpkhScript, uint64LE, hash256, hash160 } from "./spv";
export type { SpvProof } from "./spv";
export { tbtcAbi, tbtcArtifact, linkTbtc, doubleArtifact } from "./artifacts";
export { startRaiPlayground, startEmpPlayground, playgroundFileParts, RAI_SEED, EMP_FIRST_ACCOUNT_INDEX } from "./playground";
export type { RaiPlayground, EmpPlayground, PlaygroundFileParts } from "./playground";
