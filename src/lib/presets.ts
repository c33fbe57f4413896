import path from "node:path";

/**
 * Built-in networks. A preset supplies values by setting key (the same keys as the settings table
 * in config.ts); plain data, complete when this module loads (no module adds to it later);
 * anything a flag, env var or config file sets wins over it. A deployment file
 * (--deployment) takes the preset's place for chains we do not ship, such as the devnet.
 */
export interface NetworkPreset {
  name: string;
  chainId: number;
  /** Values by setting key, e.g. { startBlock: 10880657, contracts: {...} }. */
  values: Record<string, unknown>;
}

/** The tBTC v1 contracts every tBTC command may need; Multicall3 is optional. */
export const TBTC_CONTRACT_NAMES = [
  "TBTCSystem",
  "TBTCToken",
  "VendingMachine",
  "TBTCDepositToken",
  "FeeRebateToken",
  "DepositFactory",
  "BondedECDSAKeepFactory",
] as const;
export type TbtcContractName = (typeof TBTC_CONTRACT_NAMES)[number];

/** Same address on most EVM chains; reads only. */
export const MULTICALL3_ADDRESS = "0xcA11bde05977b3631167028862bE2a173976CA11";

/** tBTC v1.1.0 / keep-ecdsa 1.2.1 mainnet deployment (npm artifacts, networks["1"]). */
export const MAINNET_CONTRACTS: Record<string, string> = {
  TBTCSystem: "0xe20A5C79b39bC8C363f0f49ADcFa82C2a01ab64a",
  TBTCToken: "0x8dAEBADE922dF735c38C80C7eBD708Af50815fAa",
  VendingMachine: "0x526c08E5532A9308b3fb33b7968eF78a5005d2AC",
  TBTCDepositToken: "0x10B66Bd1e3b5a936B7f8Dbc5976004311037Cdf0",
  FeeRebateToken: "0xaf3fFF06b75f99352d8C2a3C4beF1339a2f94789",
  DepositFactory: "0x87EFFeF56C7fF13E2463b5d4dCE81bE2340FAf8b",
  BondedECDSAKeepFactory: "0xA7d9E842EFB252389d613dA88EDa3731512e40bD",
  Multicall3: MULTICALL3_ADDRESS,
};

/** Reflexer's RAI mainnet contracts (from Reflexer's subgraph configuration): rai-price and the EMP bots' feed. */
export const MAINNET_RAI_CONTRACTS = {
  RateSetter: "0x7acfc14dbf2decd1c9213db32ae7784626daeb48",
  OracleRelayer: "0x4ed9C0dCa0479bC64d8f4EB3007126D5791f7851",
};

/** Block near the tBTC v1 mainnet deployment: scans for keeps start here. */
export const MAINNET_START_BLOCK = 10880657;

export const PRESETS: Record<string, NetworkPreset> = {
  mainnet: {
    name: "mainnet",
    chainId: 1,
    values: { chainId: 1, contracts: { ...MAINNET_CONTRACTS, ...MAINNET_RAI_CONTRACTS }, startBlock: MAINNET_START_BLOCK, btcNetwork: "mainnet" },
  },
  // The devnet's addresses change with every deploy; they come from its deployment file.
  devnet: {
    name: "devnet",
    chainId: 31337,
    values: { chainId: 31337, rpcUrls: ["http://127.0.0.1:8545"], startBlock: 0 },
  },
};

/** Where `keepctl devnet` writes its deployment; `--network devnet` reads it from there. */
export function devnetDeploymentPath(dataDir: string): string {
  return path.join(dataDir, "devnet", "deployment.json");
}

/** The deployment file format (`keepctl devnet` writes it; --deployment reads it). */
export interface DeploymentFile {
  /** Optional label shown as the network name. */
  network?: string;
  chainId: number;
  rpcUrl?: string;
  contracts: Record<string, string>;
  operators?: string[];
  deploymentBlock?: number;
  /** The Bitcoin side (lib/btc): { network, electrumUrls: [...], esploraUrls: [...] }, each optional. */
  bitcoin?: unknown;
  /** Anything else the writer wants to keep (accounts, scenario ids, ...). */
  [extra: string]: unknown;
}
