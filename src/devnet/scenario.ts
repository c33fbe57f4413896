import fs from "node:fs";
import path from "node:path";
import { ethers } from "ethers";
import { type LocalNode, startHardhatNode } from "./node";
import { type DepositStateName, type OpenedDeposit, courtesyCall, liquidateDeposit, openDeposit, redeemDeposit } from "./deposits";
import { type DeployOptions, type TbtcDeployment, deployTbtcSystem } from "./tbtc";
import { startDevnetBitcoin, type DevnetBitcoin } from "./btc";
import type { BitcoinNetworkOptions } from "./bitcoin";
import { type EmpPlayground, type PlaygroundFileParts, type RaiPlayground, playgroundFileParts, startEmpPlayground, startRaiPlayground } from "./playground";

/**
 * The seeded tBTC world: two operators who share 3-member keeps with four other signers, and
 * a small set of deposits covering every state an operator has to care about. Per-deposit
 * collateralization comes from the keep's bond (the price is global).
 */

/** Hardhat's default accounts (public test mnemonic): index 0 deploys, 1 and 2 are the operators. */
export const DEVNET_MNEMONIC = "test test test test test test test test test test test junk";
export const OPERATOR_ACCOUNT_INDEXES = [1, 2] as const;
const OTHER_SIGNER_INDEXES = [3, 4, 5, 6] as const;

/** A wallet for a devnet account (throwaway keys known to everyone; never use them elsewhere). */
export function devnetWallet(index: number, provider?: ethers.Provider): ethers.HDNodeWallet {
  return ethers.HDNodeWallet.fromPhrase(DEVNET_MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`).connect(provider ?? null);
}

export interface SeededDeposit {
  label: string;
  deposit: string;
  keep: string;
  lotSats: bigint;
  members: string[];
  expectedState: DepositStateName;
  /** Integer collateralization at the seed price; absent for finished deposits. */
  collateralPercent?: number;
  /** How the deposit was funded: "vendingMachine" ones have their TDT held by the VendingMachine. */
  fundedWith: OpenedDeposit["fundedWith"];
  funder: string;
  /** True once the keep is no longer active (closed after redemption, terminated by liquidation). */
  keepFinished: boolean;
}

export interface ScenarioSummary {
  /** Operator addresses (hardhat accounts 1 and 2). */
  operators: string[];
  operatorAccountIndexes: number[];
  /** The four other keep members. */
  otherSigners: string[];
  /** Deployer / funder / liquidation buyer (hardhat account 0). */
  deployer: string;
  ethBtc: number;
  deposits: SeededDeposit[];
}

interface Plan {
  label: string;
  btc: number;
  members: number[]; // account indexes
  percent?: number;
  fundWith: "proof" | "vendingMachine";
  funder: number;
  end?: "COURTESY_CALL" | "REDEEMED" | "LIQUIDATED";
}

// A = operator 1, B = operator 2, 3..6 = other signers. Funders 1 and 2 get TBTC for redemptions.
const PLAN: Plan[] = [
  { label: "healthy-1btc", btc: 1, members: [1, 3, 4], fundWith: "proof", funder: 0 },
  { label: "healthy-5btc-vm", btc: 5, members: [1, 2, 3], fundWith: "vendingMachine", funder: 1 },
  { label: "healthy-10btc-200pct", btc: 10, members: [2, 4, 5], percent: 200, fundWith: "vendingMachine", funder: 2 },
  { label: "healthy-10btc-160pct", btc: 10, members: [1, 4, 5], percent: 160, fundWith: "vendingMachine", funder: 1 },
  { label: "healthy-1btc-vm", btc: 1, members: [1, 2, 4], fundWith: "vendingMachine", funder: 0 },
  { label: "at-risk-1btc-128pct-vm", btc: 1, members: [1, 5, 6], percent: 128, fundWith: "vendingMachine", funder: 0 },
  { label: "at-risk-5btc-127pct", btc: 5, members: [1, 2, 6], percent: 127, fundWith: "proof", funder: 0 },
  { label: "courtesy-call-1btc", btc: 1, members: [2, 3, 5], percent: 120, fundWith: "proof", funder: 0, end: "COURTESY_CALL" },
  { label: "redeemed-1btc", btc: 1, members: [1, 3, 6], fundWith: "vendingMachine", funder: 0, end: "REDEEMED" },
  { label: "liquidated-1btc", btc: 1, members: [2, 4, 6], percent: 105, fundWith: "proof", funder: 0, end: "LIQUIDATED" },
];

/** The accounts of the scenario without any deposit (`keepctl devnet --no-seed`). */
export async function emptyScenario(dep: TbtcDeployment): Promise<ScenarioSummary> {
  const [medianizerValue] = (await dep.contracts.medianizer.peek()) as [bigint, boolean];
  return {
    operators: OPERATOR_ACCOUNT_INDEXES.map((i) => devnetWallet(i).address),
    operatorAccountIndexes: [...OPERATOR_ACCOUNT_INDEXES],
    otherSigners: OTHER_SIGNER_INDEXES.map((i) => devnetWallet(i).address),
    deployer: await dep.signer.getAddress(),
    ethBtc: Number(ethers.formatUnits(medianizerValue, 18)),
    deposits: [],
  };
}

export async function seedScenario(dep: TbtcDeployment): Promise<ScenarioSummary> {
  const provider = dep.provider as ethers.JsonRpcProvider;
  const addressOf = (i: number) => devnetWallet(i).address;
  const signerOf = (i: number) => provider.getSigner(addressOf(i));
  const opened: Array<{ plan: Plan; d: OpenedDeposit }> = [];
  for (const plan of PLAN) {
    const d = await openDeposit(dep, {
      lotSats: BigInt(plan.btc) * 10n ** 8n,
      members: plan.members.map(addressOf),
      fundWith: plan.fundWith,
      funder: plan.funder === 0 ? dep.signer : await signerOf(plan.funder),
      collateralPercent: plan.percent,
    });
    opened.push({ plan, d });
  }
  // Finish the end-state deposits only after every funding, so the deployer holds enough TBTC.
  for (const { plan, d } of opened) {
    if (plan.end === "COURTESY_CALL") await courtesyCall(dep, d.deposit);
    if (plan.end === "REDEEMED") await redeemDeposit(dep, d.deposit);
    if (plan.end === "LIQUIDATED") await liquidateDeposit(dep, d.deposit);
  }

  return {
    ...(await emptyScenario(dep)),
    deposits: opened.map(({ plan, d }) => ({
      label: plan.label,
      deposit: d.deposit,
      keep: d.keep,
      lotSats: d.lotSats,
      members: d.members,
      expectedState: plan.end ?? "ACTIVE",
      collateralPercent: plan.end === "REDEEMED" || plan.end === "LIQUIDATED" ? undefined : plan.percent ?? 150,
      fundedWith: d.fundedWith,
      funder: d.funder,
      keepFinished: plan.end === "REDEEMED" || plan.end === "LIQUIDATED",
    })),
  };
}

/** What `keepctl devnet` writes: the DeploymentFile shape (src/lib/presets.ts) plus the scenario. */
export interface DevnetDeploymentFile {
  network: "devnet";
  chainId: number;
  rpcUrl: string;
  contracts: Record<string, string>;
  operators: string[];
  deploymentBlock: number;
  ethBtc: number;
  /** Hardhat mnemonic account indexes of the operators (their keys are public test keys). */
  operatorAccountIndexes: number[];
  deployer: string;
  /** Seeded deposits; lot sizes as decimal strings. */
  deposits: Array<Omit<SeededDeposit, "lotSats"> & { lotSats: string }>;
  /** The loopback subgraph serving the RAI rates (with `rai`). */
  subgraphUrl?: string;
  /** Seeded RAI rates (with `rai`); perSecondRate as RAY decimal strings. */
  rai?: PlaygroundFileParts["rai"];
  /** The EMP's sponsors and bot wallets by hardhat account index (with `emp`). */
  emp?: PlaygroundFileParts["emp"];
  /** The devnet's Bitcoin network: keepctl's `bitcoin` settings (regtest, its Electrum and Esplora servers). */
  bitcoin?: DevnetBitcoin["file"];
}

export interface Devnet {
  node: LocalNode;
  rpcUrl: string;
  provider: ethers.JsonRpcProvider;
  deployment: TbtcDeployment;
  scenario: ScenarioSummary;
  file: DevnetDeploymentFile;
  /** RAI doubles, their seeded rates and the loopback subgraph (when started with `rai`). */
  rai?: RaiPlayground;
  /** The UMA EMP and its seeded sponsors (when started with `emp`). */
  emp?: EmpPlayground;
  /** Where the file was written, if `out` was given. */
  outPath?: string;
  /** The Bitcoin network double the deposits are funded on (absent with `btc: false`). */
  bitcoin?: DevnetBitcoin;
  stop(): Promise<void>;
}

export interface StartDevnetOptions extends Omit<DeployOptions, "bitcoin"> {
  /** The Bitcoin network double's options (ports, block interval); false: none, synthetic proofs (default: started). */
  btc?: false | BitcoinNetworkOptions;
  port?: number;
  /** Write the deployment JSON here. */
  out?: string;
  /** Seed the scenario (default true). */
  seed?: boolean;
  /**
   * Also deploy the RAI doubles, seed 12 h of rate updates and serve a loopback subgraph
   * (default false: the tests that only need tBTC stay fast; `keepctl devnet` turns it on).
   */
  rai?: boolean;
  /** Also deploy a UMA EMP with sponsors and funded liquidator/disputer wallets (default false). */
  emp?: boolean;
}

/**
 * A provider tuned for a local automining node: no request batching (it adds a stall per call),
 * no response cache (state changes with every transaction), fast polling.
 */
export function devnetProvider(rpcUrl: string): ethers.JsonRpcProvider {
  return new ethers.JsonRpcProvider(rpcUrl, 31337, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1, pollingInterval: 50 });
}

export function deploymentFileOf(rpcUrl: string, dep: TbtcDeployment, scenario: ScenarioSummary, extra?: PlaygroundFileParts): DevnetDeploymentFile {
  const bitcoin = dep.bitcoin?.file;
  return {
    network: "devnet",
    chainId: 31337,
    rpcUrl,
    contracts: { ...dep.addresses, ...extra?.contracts },
    operators: scenario.operators,
    deploymentBlock: dep.deploymentBlock,
    ethBtc: scenario.ethBtc,
    operatorAccountIndexes: scenario.operatorAccountIndexes,
    deployer: scenario.deployer,
    deposits: scenario.deposits.map((d) => ({ ...d, lotSats: d.lotSats.toString() })),
    ...(extra?.subgraphUrl ? { subgraphUrl: extra.subgraphUrl } : {}),
    ...(extra?.rai ? { rai: extra.rai } : {}),
    ...(extra?.emp ? { emp: extra.emp } : {}),
    ...(bitcoin ? { bitcoin } : {}),
  };
}

/**
 * Starts a Hardhat node, deploys tBTC v1 with the doubles, seeds the scenario, writes the file.
 * With `rai`, the rate history is seeded after tBTC's deploy (which jumps the clock 64 days) but
 * before its scenario, so the rates are recent and the courtesy call's 6 h timer starts last.
 */
export async function startDevnet(opts: StartDevnetOptions = {}): Promise<Devnet> {
  const node = await startHardhatNode({ port: opts.port });
  let rai: RaiPlayground | undefined;
  let bitcoin: DevnetBitcoin | undefined;
  try {
    bitcoin = opts.btc === false ? undefined : await startDevnetBitcoin(opts.btc ?? {});
    const provider = devnetProvider(node.rpcUrl);
    const signer = await provider.getSigner(0);
    const deployment = await deployTbtcSystem(signer, { ...opts, bitcoin });
    if (opts.rai) rai = await startRaiPlayground(signer, node.rpcUrl);
    const scenario = opts.seed === false ? await emptyScenario(deployment) : await seedScenario(deployment);
    const emp = opts.emp ? await startEmpPlayground(signer, provider) : undefined;
    const file = deploymentFileOf(node.rpcUrl, deployment, scenario, playgroundFileParts(rai, emp));
    let outPath: string | undefined;
    if (opts.out) {
      outPath = path.resolve(opts.out);
      fs.mkdirSync(path.dirname(outPath), { recursive: true });
      fs.writeFileSync(outPath, JSON.stringify(file, null, 2) + "\n");
    }
    const btc = bitcoin;
    return {
      node,
      rpcUrl: node.rpcUrl,
      provider,
      deployment,
      scenario,
      file,
      rai,
      emp,
      outPath,
      bitcoin: btc,
      stop: async () => {
        await rai?.subgraph.stop();
        await btc?.stop();
        provider.destroy();
        await node.stop();
      },
    };
  } catch (e) {
    await rai?.subgraph.stop();
    await bitcoin?.stop();
    await node.stop();
    throw e;
  }
}
