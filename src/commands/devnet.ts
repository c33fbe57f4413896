import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import type { Command } from "commander";
import { loadConfig } from "../lib/config";
import { UsageError } from "../lib/errors";
import { devnetDeploymentPath } from "../lib/presets";
import { startAutoSigner } from "../devnet/autosign";
import { startDevnet } from "../devnet/scenario";
import { globalsOf, outputOf, parseIntOption, shutdown } from "./common";

const DEFAULT_PORT = 8545;
const DEFAULT_OUT = "./deployment.devnet.json";

async function assertPortFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        e.code === "EADDRINUSE"
          ? new UsageError(`port ${port} on 127.0.0.1 is already in use`, { hint: "stop whatever listens there or pass --port N" })
          : e,
      ),
    );
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve()));
  });
}

export function register(program: Command): void {
  program
    .command("devnet")
    .description("start a local chain with the real tBTC v1 contracts and a seeded scenario")
    .option("--port <n>", `JSON-RPC port on 127.0.0.1 (default ${DEFAULT_PORT})`, parseIntOption("--port", 1, 65535))
    .option("--out <file>", `where to write the deployment JSON (default ${DEFAULT_OUT})`)
    .option("--no-seed", "deploy the contracts only, no seeded deposits")
    .option("--no-auto-sign", "do not play the keeps' signers (redemption signatures stay pending)")
    .addHelpText("after", "\nRuns until Ctrl-C (SIGINT) or SIGTERM, then stops the node. The deployment file is also\ncopied to <data-dir>/devnet/deployment.json so that `--network devnet` finds it.")
    .action(async (_opts: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const out = outputOf(cmd);
      const port = (g.port as number | undefined) ?? DEFAULT_PORT;
      const outFile = path.resolve((g.out as string | undefined) ?? DEFAULT_OUT);
      const dataDir = loadConfig(g, undefined, { requireRpc: false }).values.dataDir as string | undefined;
      await assertPortFree(port);

      out.info(`starting a Hardhat node on 127.0.0.1:${port} and deploying tBTC v1 ...`);
      const devnet = await startDevnet({ port, out: outFile, seed: g.seed !== false });
      const signer = g.autoSign === false ? undefined : startAutoSigner(devnet.deployment, { onError: (e) => out.warn(`auto-signer: ${String(e)}`) });
      try {
        let presetCopy: string | undefined;
        if (dataDir) {
          presetCopy = devnetDeploymentPath(dataDir);
          fs.mkdirSync(path.dirname(presetCopy), { recursive: true });
          fs.copyFileSync(outFile, presetCopy);
        }
        const f = devnet.file;
        if (out.json) {
          out.document({ rpcUrl: f.rpcUrl, chainId: f.chainId, deploymentFile: outFile, presetCopy, contracts: f.contracts, operators: f.operators, deposits: f.deposits });
        } else {
          out.line(`devnet ready: ${f.rpcUrl} (chain ${f.chainId}), ${f.deposits.length} deposits seeded`);
          out.line(`deployment file: ${outFile}`);
          if (presetCopy) out.line(`also at: ${presetCopy} (used by --network devnet)`);
          out.line(`operators: ${f.operators.join(", ")}`);
          out.line(`try: keepctl --deployment ${outFile} --rpc-url ${f.rpcUrl} list-keeps --operator ${f.operators[0] ?? "<address>"}`);
        }
        out.info("press Ctrl-C to stop");
        await new Promise<void>((resolve) => {
          if (shutdown.signal.aborted) return resolve();
          shutdown.signal.addEventListener("abort", () => resolve(), { once: true });
        });
      } finally {
        signer?.stop();
        out.info("stopping the devnet ...");
        await devnet.stop();
      }
    });
}
