import path from "node:path";
import { subtask } from "hardhat/config";
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from "hardhat/builtin-tasks/task-names";
import type { HardhatUserConfig } from "hardhat/types";

// This machine cannot download compilers: hand Hardhat the solc-js build that ships in the
// `solc` npm package. Its version is pinned in package.json and must match `solidity.version`.
const SOLC_VERSION = "0.8.28";

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }, _hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper();
  const solcPkg = path.dirname(require.resolve("solc/package.json"));
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const longVersion: string = require("solc/package.json").version;
  return {
    compilerPath: path.join(solcPkg, "soljson.js"),
    isSolcJs: true,
    version: args.solcVersion,
    longVersion,
  };
});

const config: HardhatUserConfig = {
  solidity: {
    version: SOLC_VERSION,
    settings: { optimizer: { enabled: true, runs: 200 } },
  },
  paths: {
    sources: "./contracts",
    tests: "./test/hardhat-none",
    cache: "./cache",
    artifacts: "./artifacts",
  },
  networks: {
    hardhat: {
      chainId: 31337,
      // The tBTC Deposit master and libraries exceed the 24 KiB limit only in unoptimised
      // builds; allow it anyway so that any artifact deploys as it does on mainnet.
      allowUnlimitedContractSize: true,
      // Prague, not Hardhat's default Osaka: under Osaka's 16.7M-gas transaction cap (EIP-7825),
      // Hardhat 2.29's eth_estimateGas probes above the cap and fails for the ExpiringMultiParty
      // Creator's createExpiringMultiParty (6.6M gas used), which `keepctl emp-launch` simulates.
      hardfork: "prague",
      mining: { auto: true },
      // A devnet whose chain time starts in the past (KEEPCTL_DEVNET_INITIAL_DATE, ISO 8601): tests
      // that need block timestamps near this machine's clock after the tBTC deploy's 64-day jump.
      ...(process.env.KEEPCTL_DEVNET_INITIAL_DATE ? { initialDate: process.env.KEEPCTL_DEVNET_INITIAL_DATE } : {}),
    },
  },
};

export default config;
