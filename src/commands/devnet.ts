import fs from "node:fs";
import path from "node:path";
import { Option, type Command } from "commander";
import { loadConfig } from "../lib/config";
import { ConfigError, UsageError } from "../lib/errors";
import { devnetDeploymentPath } from "../lib/presets";
import { ensurePrivateDir } from "../lib/fs-safe";
// Types only: src/devnet is loaded by the action below, never when keepctl starts (see
// docs/architecture.md), so production commands work without the devDependencies it reads.
import type { Devnet } from "../devnet/scenario";
import type { Output } from "../lib/output";
import { assertPortFree, globalsOf, outputOf, parseIntOption, shutdown } from "./common";

const DEFAULT_PORT = 8545;
const DEFAULT_OUT = "./deployment.devnet.json";

/**
 * What the devnet needs beyond a production install: Hardhat runs the node; the tBTC and UMA
 * packages hold the contracts' published artifacts; graphql runs the loopback subgraph. All are
 * devDependencies.
 */
export const DEVNET_PACKAGES = ["hardhat", "@keep-network/tbtc", "@uma/contracts-node", "@uniswap/v2-core", "@uniswap/v2-periphery", "graphql"] as const;

/** Shapes of the devnet's TBTC/WETH pool (src/devnet/uniswap.ts; kept here so --help needs no devnet import). */
const POOL_CHOICES = ["deep", "thin", "premium", "empty", "none"] as const;

/** Checked before src/devnet is loaded, so a production install gets one line instead of a stack. */
export function assertDevInstall(): void {
  const missing = DEVNET_PACKAGES.filter((p) => {
    try {
      require.resolve(`${p}/package.json`);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return;
  throw new ConfigError(`keepctl devnet needs the development install, and ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not installed`, {
    code: "DEV_INSTALL",
    hint: "run `npm install` (devDependencies included, not --omit=dev / NODE_ENV=production) in a checkout of keepctl, then `npm run build`",
  });
}

/** The RAI and EMP example commands (the liquidator's key is a public hardhat test key). */
function printPlaygroundHints(out: Output, devnet: Devnet, outFile: string, liquidatorKey: string | undefined): void {
  const f = devnet.file;
  if (f.contracts.RateSetter) {
    out.line(`RAI: RateSetter ${f.contracts.RateSetter}, ${f.rai?.rates.length ?? 0} rate updates; subgraph at ${f.subgraphUrl}`);
    out.line(`try: keepctl --deployment ${outFile} rai-price --points`);
    out.line(`     (add --subgraph-url ${f.subgraphUrl} to read the loopback subgraph instead of events)`);
  }
  if (f.contracts.UniswapV2Router02) {
    const pair = f.contracts.TbtcWethPair ? `TBTC/WETH pair ${f.contracts.TbtcWethPair} (${devnet.uniswap?.scenario})` : "no TBTC/WETH pair";
    out.line(`Uniswap V2: Router02 ${f.contracts.UniswapV2Router02}, ${pair}`);
    out.line(`try: keepctl --deployment ${outFile} buy-tbtc --amount 0.1 --dry-run   (with KEEPCTL_PRIVATE_KEY of a funded account)`);
  }
  if (f.emp && f.contracts.ExpiringMultiParty) {
    const liq = f.emp.liquidator;
    out.line(`UMA EMP: ${f.contracts.ExpiringMultiParty}, ${f.emp.sponsors.length} sponsors; liquidator = account ${liq.accountIndex} (${liq.address}), disputer = account ${f.emp.disputer.accountIndex}`);
    out.line(`try (public hardhat test key of the liquidator; never use it elsewhere):`);
    out.line(`  KEEPCTL_PRIVATE_KEY=${liquidatorKey} \\`);
    out.line(`  keepctl --deployment ${outFile} emp-liquidate --emp ${f.contracts.ExpiringMultiParty} --once --dry-run`);
  }
}

export function register(program: Command): void {
  program
    .command("devnet")
    .description("start a local chain with the real tBTC v1 contracts and a seeded scenario")
    .option("--port <n>", `JSON-RPC port on 127.0.0.1 (default ${DEFAULT_PORT})`, parseIntOption("--port", 1, 65535))
    .option("--subgraph-port <n>", "the loopback subgraph's port on 127.0.0.1 (default: a free one)", parseIntOption("--subgraph-port", 1, 65535))
    .option("--out <file>", `where to write the deployment JSON (default ${DEFAULT_OUT})`)
    .option("--no-seed", "deploy the contracts only, no seeded deposits")
    .option("--no-auto-sign", "do not play the keeps' signers (redemption signatures stay pending)")
    .option("--no-rai", "skip the RAI OracleRelayer/RateSetter doubles, their rate history and the loopback subgraph")
    .option("--no-emp", "skip the UMA ExpiringMultiParty and its sponsors")
    .addOption(new Option("--pool <scenario>", "the Uniswap V2 TBTC/WETH pool: deep (20 TBTC at the medianizer's price), thin (0.5 TBTC), premium (60 % above the medianizer), empty (a pair, no liquidity), none (no pair)").choices(POOL_CHOICES).default("deep"))
    .option("--no-uniswap", "skip Uniswap V2 (factory, Router02, WETH9) and the TBTC/WETH pool")
    .option("--btc-block-interval <s>", "the Bitcoin network mines a block every this many seconds; 0 = never by itself (default 10)", parseIntOption("--btc-block-interval", 0, 86_400))
    .option("--btc-electrum-port <n>", "Electrum (TCP) port of the Bitcoin network on 127.0.0.1 (default: a free one)", parseIntOption("--btc-electrum-port", 1, 65535))
    .option("--btc-electrum-ws-port <n>", "Electrum (WebSocket) port (default: a free one)", parseIntOption("--btc-electrum-ws-port", 1, 65535))
    .option("--btc-esplora-port <n>", "Esplora REST port (default: a free one)", parseIntOption("--btc-esplora-port", 1, 65535))
    .addHelpText("after", "\nAlso deploys, unless skipped: the RAI OracleRelayer/RateSetter doubles with 12 h of rate updates\nand a loopback subgraph (rai-price), and a UMA ExpiringMultiParty with sponsors (EMP bots), created\nthrough UMA's ExpiringMultiPartyCreator; an actor proposes each expiry price from the RAI feed.\nRuns until Ctrl-C (SIGINT) or SIGTERM, then stops the node and the subgraph server. The\ndeployment file is also copied to <data-dir>/devnet/deployment.json so that `--network devnet`\nfinds it. All accounts come from hardhat's public test mnemonic: never reuse their keys.")
    .action(async (_opts: unknown, cmd: Command) => {
      assertDevInstall();
      const g = globalsOf(cmd);
      const out = outputOf(cmd);
      const port = (g.port as number | undefined) ?? DEFAULT_PORT;
      const outFile = path.resolve((g.out as string | undefined) ?? DEFAULT_OUT);
      // --no-emp sets `emp`, which config.ts would read as the EMP address flag (--emp): keep it out.
      const { emp: empFlag, rai: raiFlag, pool: poolFlag, uniswap: uniswapFlag, ...configFlags } = g;
      const dataDir = loadConfig(configFlags, undefined, { requireRpc: false }).dataDir;
      const subgraphPort = g.subgraphPort as number | undefined;
      if (subgraphPort !== undefined && subgraphPort === port) throw new UsageError(`--subgraph-port ${subgraphPort} is also the JSON-RPC --port`, { hint: "give the two servers different ports" });
      await assertPortFree(port);
      if (subgraphPort !== undefined && g.rai !== false) await assertPortFree(subgraphPort, "--subgraph-port");
      const btcPorts = { electrumTcpPort: g.btcElectrumPort as number | undefined, electrumWsPort: g.btcElectrumWsPort as number | undefined, esploraPort: g.btcEsploraPort as number | undefined };
      for (const [flag, p] of [["--btc-electrum-port", btcPorts.electrumTcpPort], ["--btc-electrum-ws-port", btcPorts.electrumWsPort], ["--btc-esplora-port", btcPorts.esploraPort]] as const) if (p !== undefined) await assertPortFree(p, flag);
      const btcBlockSec = (g.btcBlockInterval as number | undefined) ?? 10;
      const { devnetWallet, startDevnet } = await import("../devnet/scenario");
      const { startAutoSigner } = await import("../devnet/autosign");
      const { startExpiryProposer, PROPOSER_ACCOUNT_INDEX } = await import("../devnet/expiry-proposer");

      const rai = raiFlag !== false;
      const emp = empFlag !== false;
      const pool = uniswapFlag === false ? false : (poolFlag as (typeof POOL_CHOICES)[number]);
      const parts = ["tBTC v1", ...(rai ? ["RAI"] : []), ...(emp ? ["a UMA EMP"] : []), ...(pool ? [`Uniswap V2 (${pool} TBTC/WETH pool)`] : [])];
      out.info(`starting a Hardhat node on 127.0.0.1:${port} and deploying ${parts.join(", ")} ...`);
      const devnet = await startDevnet({ port, out: outFile, seed: g.seed !== false, rai, emp, subgraphPort, btc: btcPorts, uniswap: pool });
      // Mined only after seeding: the seeded proofs need their blocks, not the clock's.
      if (btcBlockSec > 0) devnet.bitcoin?.net.setAutoMine(btcBlockSec * 1000);
      const signer = g.autoSign === false ? undefined : startAutoSigner(devnet.deployment, { publishKeys: true, onError: (e) => out.warn(`auto-signer: ${String(e)}`) });
      // Proposes each EMP's expiry price from the RAI feed, so expire -> settle runs on the devnet.
      const proposer = devnet.emp ? startExpiryProposer({
        signer: await devnet.provider.getSigner(PROPOSER_ACCOUNT_INDEX), optimisticOracle: devnet.emp.deployment.addresses.optimisticOracle,
        fromBlock: devnet.emp.deployment.deployBlock, rateSetter: devnet.rai?.deployment.addresses.RateSetter,
        onError: (e) => out.warn(`expiry proposer: ${String(e)}`),
      }) : undefined;
      try {
        let presetCopy: string | undefined;
        if (dataDir) {
          presetCopy = devnetDeploymentPath(dataDir);
          ensurePrivateDir(path.dirname(presetCopy));
          fs.copyFileSync(outFile, presetCopy);
        }
        const f = devnet.file;
        if (out.json) {
          out.document({
            rpcUrl: f.rpcUrl, chainId: f.chainId, deploymentFile: outFile, presetCopy, contracts: f.contracts, operators: f.operators, deposits: f.deposits,
            subgraphUrl: f.subgraphUrl, emp: f.emp, bitcoin: f.bitcoin ? { ...f.bitcoin, blockIntervalSec: btcBlockSec } : undefined,
          });
        } else {
          out.line(`devnet ready: ${f.rpcUrl} (chain ${f.chainId}), ${f.deposits.length} deposits seeded`);
          out.line(`deployment file: ${outFile}`);
          if (presetCopy) out.line(`also at: ${presetCopy} (used by --network devnet)`);
          out.line(`operators: ${f.operators.join(", ")}`);
          if (f.bitcoin) out.line(`Bitcoin (regtest double, a block every ${btcBlockSec || "-"} s): Electrum ${f.bitcoin.electrumUrls.join(", ")}, Esplora ${f.bitcoin.esploraUrls.join(", ")}`);
          out.line(`try: keepctl --deployment ${outFile} --rpc-url ${f.rpcUrl} list-keeps --operator ${f.operators[0] ?? "<address>"}`);
          const liq = f.emp?.liquidator;
          printPlaygroundHints(out, devnet, outFile, liq ? devnetWallet(liq.accountIndex).privateKey : undefined);
        }
        out.info("press Ctrl-C to stop");
        await new Promise<void>((resolve) => {
          if (shutdown.signal.aborted) return resolve();
          shutdown.signal.addEventListener("abort", () => resolve(), { once: true });
        });
      } finally {
        signer?.stop();
        proposer?.stop();
        out.info("stopping the devnet ...");
        await devnet.stop();
      }
    });
}
