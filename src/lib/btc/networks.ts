/**
 * The Bitcoin networks keepctl can be pointed at, and the facts that tell them apart: the genesis
 * block hash (every server is asked for it on first contact), the proof-of-work limit (the
 * easiest target a header of that network may carry) and the address prefixes.
 *
 * Genesis hashes re-computed from the genesis headers in test/unit/btc-primitives.test.ts.
 */
export const BTC_NETWORKS = ["mainnet", "testnet", "testnet4", "signet", "regtest"] as const;
export type BtcNetwork = (typeof BTC_NETWORKS)[number];

export function isBtcNetwork(s: string): s is BtcNetwork {
  return (BTC_NETWORKS as readonly string[]).includes(s);
}

export interface NetworkParams {
  /** Display-order hash of block 0. */
  genesisHash: string;
  /** Largest target a header may claim (Bitcoin Core's consensus.powLimit). */
  powLimit: bigint;
  /**
   * nBits may change only at a retarget height (every 2016 blocks). True where the network has
   * no minimum-difficulty exception (testnet3/testnet4 let a block after 20 minutes drop to the
   * limit) and retargets at all (regtest does not).
   */
  bitsFixedWithinEpoch: boolean;
  /** For @scure/btc-signer's Address(). */
  address: { bech32: string; pubKeyHash: number; scriptHash: number; wif: number };
}

const MAIN_LIMIT = (1n << 224n) - 1n; // 00000000ffff...ff
const TEST_ADDRESS = { bech32: "tb", pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };

export const NETWORK_PARAMS: Record<BtcNetwork, NetworkParams> = {
  mainnet: {
    genesisHash: "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
    powLimit: MAIN_LIMIT,
    bitsFixedWithinEpoch: true,
    address: { bech32: "bc", pubKeyHash: 0x00, scriptHash: 0x05, wif: 0x80 },
  },
  testnet: {
    genesisHash: "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
    powLimit: MAIN_LIMIT,
    bitsFixedWithinEpoch: false,
    address: TEST_ADDRESS,
  },
  testnet4: {
    genesisHash: "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043",
    powLimit: MAIN_LIMIT,
    bitsFixedWithinEpoch: false,
    address: TEST_ADDRESS,
  },
  signet: {
    genesisHash: "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6",
    powLimit: 0x0377aen << 216n,
    bitsFixedWithinEpoch: true,
    address: TEST_ADDRESS,
  },
  regtest: {
    genesisHash: "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
    powLimit: 0x7fffffn << 232n,
    bitsFixedWithinEpoch: false,
    address: { bech32: "bcrt", pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef },
  },
};

/** Blocks per difficulty period. */
export const RETARGET_INTERVAL = 2016;
