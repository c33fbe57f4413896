/**
 * Real mainnet data for the Bitcoin layer's tests, with where each fact comes from.
 *
 * V1: keep-network/tbtc v1.1.0 `solidity/test/helpers/utils.js` (fundingTx), as quoted in
 * /work/shared/reference/tbtc-bitcoin.md §7: a segwit tx, its merkle proof (12 nodes, index 129)
 * and 7 headers from its block; its difficulty and Σ difficulty re-computed there independently.
 */
export const V1 = {
  tx: "01000000000101913e39197867de39bff2c93c75173e086388ee7e8707c90ce4a02dd23f7d2c0d0000000000ffffffff012040351d0000000016001486e7303082a6a21d5837176bc808bf4828371ab602473044022046c3c852a2042ee01ffd7d8d252f297ccc67ae2aa1fac4170f50e8a90af5398802201585ffbbed6e812fb60c025d2f82ae115774279369610b0c76165b6c7132f2810121020c67643b5c862a1aa1afe0a77a28e51a21b08396a0acae69965b22d2a403fd1c4ec10800",
  txid: "7c48181cb5c030655eea651c5e9aa808983f646465cbe9d01c227d99cfbc405f",
  txidLE: "5f40bccf997d221cd0e9cb6564643f9808a89a5e1c65ea5e6530c0b51c18487c",
  difficulty: 6353030562983n,
  difficultySum: 44471213940881n,
  version: "01000000",
  txInputVector: "01913e39197867de39bff2c93c75173e086388ee7e8707c90ce4a02dd23f7d2c0d0000000000ffffffff",
  txOutputVector: "012040351d0000000016001486e7303082a6a21d5837176bc808bf4828371ab6",
  txLocktime: "4ec10800",
  txIndexInBlock: 129,
  merkleProof: "886f7da48f4ccfe49283c678dedb376c89853ba46d9a297fe39e8dd557d1f8deb0fb1a28c03f71b267f3a33459b2566975b1653a1238947ed05edca17ef64181b1f09d858a6e25bae4b0e245993d4ea77facba8ed0371bb9b8a6724475bcdc9edf9ead30b61cf6714758b7c93d1b725f86c2a66a07dd291ef566eaa5a59516823d57fd50557f1d938cc2fb61fe0e1acee6f9cb618a9210688a2965c52feabee66d660a5e7f158e363dc464fca2bb1cc856173366d5d20b5cd513a3aab8ebc5be2bd196b783b8773af2472abcea3e32e97938283f7b454769aa1c064c311c3342a755029ee338664999bd8d432080eafae3ca86b52ad2e321e9e634a46c1bd0d174e38bcd4c59a0f0a78c5906c015ef4daf6beb0500a59f4cae00cd46069ce60db2182e74561028e4462f59f639c89b8e254602d6ad9c212b7c2af5db9275e48c467539c6af678d6f09214182df848bd79a06df706f7c3fddfdd95e6f27326c6217ee446543a443f82b711f48c173a769ae8d1e92a986bc76fca732f088bbe049",
  headers: "00e0ff3fd877ad23af1d0d3e0eb6a700d85b692975dacd36e47b1b00000000000000000095ba61df5961d7fa0a45cd7467e11f20932c7a0b74c59318e86581c6b509554876f6c65c114e2c17e42524d300000020994d3802da5adf80345261bcff2eb87ab7b70db786cb0000000000000000000003169efc259f6e4b5e1bfa469f06792d6f07976a098bff2940c8e7ed3105fdc5eff7c65c114e2c170c4dffc30000c020f898b7ea6a405728055b0627f53f42c57290fe78e0b91900000000000000000075472c91a94fa2aab73369c0686a58796949cf60976e530f6eb295320fa15a1b77f8c65c114e2c17387f1df00000002069137421fc274aa2c907dbf0ec4754285897e8aa36332b0000000000000000004308f2494b702c40e9d61991feb7a15b3be1d73ce988e354e52e7a4e611bd9c2a2f8c65c114e2c1740287df200000020ab63607b09395f856adaa69d553755d9ba5bd8d15da20a000000000000000000090ea7559cda848d97575cb9696c8e33ba7f38d18d5e2f8422837c354aec147839fbc65c114e2c175cf077d6000000200ab3612eac08a31a8fb1d9b5397f897db8d26f6cd83a230000000000000000006f4888720ecbf980ff9c983a8e2e60ad329cc7b130916c2bf2300ea54e412a9ed6fcc65c114e2c17d4fbb88500000020d3e51560f77628a26a8fad01c88f98bd6c9e4bc8703b180000000000000000008e2c6e62a1f4d45dd03be1e6692df89a4e3b1223a4dbdfa94cca94c04c22049992fdc65c114e2c17463edb5e",
  firstHeaderHash: "00000000000000000000cb86b70db7b77ab82effbc61523480df5ada02384d99",
  firstHeaderTime: 1556543094,
  outputValue: 490029088n,
  outputAddress: "bc1qsmnnqvyz563p6kphza4usz9lfq5rwx4k7f5rd7",
  prevoutOutpoint: "913e39197867de39bff2c93c75173e086388ee7e8707c90ce4a02dd23f7d2c0d00000000",
};

/** V1's merkle proof as a server gives it: display-order nodes, leaf first. */
export function v1BranchDisplay(): string[] {
  const out: string[] = [];
  for (let at = 0; at < V1.merkleProof.length; at += 64) out.push(Buffer.from(V1.merkleProof.slice(at, at + 64), "hex").reverse().toString("hex"));
  return out;
}

/**
 * Mainnet headers 0 and 1, concatenated: the example answer of `blockchain.block.headers` in
 * spesmilo/electrum-protocol docs/protocol-methods.rst. Block 1's hash is the well-known
 * 00000000839a8e68…6048; genesis is 000000000019d668…e26f.
 */
export const MAINNET_HEADERS_0_1 =
  "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c010000006fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000982051fd1e4ba744bbbe680e1fee14677ba1a3c3540bf7b1cdb606e857233e0e61bc6649ffff001d01e36299";
export const BLOCK1_HASH = "00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048";

/** Genesis block merkle root (display), shared by mainnet, testnet3, signet and regtest. */
export const GENESIS_MERKLE = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b";

/** Genesis header fields per network (Bitcoin Core chainparams.cpp: CreateGenesisBlock(time, nonce, bits, version)). */
export const GENESIS_FIELDS = {
  mainnet: { merkle: GENESIS_MERKLE, time: 1231006505, bits: 0x1d00ffff, nonce: 2083236893 },
  testnet: { merkle: GENESIS_MERKLE, time: 1296688602, bits: 0x1d00ffff, nonce: 414098458 },
  testnet4: { merkle: "7aa0a7ae1e223414cb807e40cd57e667b718e42aaf9306db9102fe28912b7b4e", time: 1714777860, bits: 0x1d00ffff, nonce: 393743547 },
  signet: { merkle: GENESIS_MERKLE, time: 1598918400, bits: 0x1e0377ae, nonce: 52613770 },
  regtest: { merkle: GENESIS_MERKLE, time: 1296688602, bits: 0x207fffff, nonce: 2 },
} as const;

/**
 * Mainnet block 100000: its four txids and merkle root (the block is a common textbook example;
 * the test also re-derives the root with its own merkle code, so a wrong memory would show).
 */
export const BLOCK_100000 = {
  merkleRoot: "f3e94742aca4b5ef85488dc37c06c3282295ffec960994b2c0d5ac2a25a95766",
  txids: [
    "8c14f0db3df150123e6f3dbbf30f8b955a8249b62ac1d1ff16284aefa3d06d87",
    "fff2525b8931402dd09222c50775608f75787bd2b87e56995a7bdd30f79702c4",
    "6359f0868171b1d194cbee1af2f16ea598ae8fad666d9b012c8ed2b79a236ec4",
    "e9a66845e05d5abc0ad04ec80f774a7e585c6e8db975962d069a522137b80c1d",
  ],
};

/** protocol-basics.rst "Script Hashes": the genesis address's P2PKH script and the hash sent to a server. */
export const GENESIS_P2PKH = {
  script: "76a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888ac",
  sha256: "6191c3b590bfcfa0475e877c302da1e323497acf3b42c08d8fa28e364edf018b",
  electrum: "8b01df4e368ea28f8dc0423bcf7a4923e3a12d307c875e47a0cfbf90b5c39161",
};
