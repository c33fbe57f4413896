import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";

/** Root of the keepctl package (where hardhat.config.ts and node_modules live). */
export const PACKAGE_ROOT = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? "../../.." : "../..");

export interface LocalNode {
  rpcUrl: string;
  port: number;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bind to 0, read it, release it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function rpcAnswers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(1000),
    });
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * Starts `hardhat node` bound to 127.0.0.1 in a child process and resolves once it answers
 * JSON-RPC. The node is the project's Hardhat network (chainId 31337, automine).
 */
export async function startHardhatNode(opts: { port?: number; timeoutMs?: number; quiet?: boolean; initialDate?: string } = {}): Promise<LocalNode> {
  const port = opts.port ?? (await freePort());
  const cli = require.resolve("hardhat/internal/cli/cli.js", { paths: [PACKAGE_ROOT] });
  const child: ChildProcess = spawn(
    process.execPath,
    [cli, "node", "--hostname", "127.0.0.1", "--port", String(port), "--config", path.join(PACKAGE_ROOT, "hardhat.config.ts")],
    { cwd: PACKAGE_ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true", ...(opts.initialDate ? { KEEPCTL_DEVNET_INITIAL_DATE: opts.initialDate } : {}) } },
  );
  let output = "";
  child.stdout?.on("data", (d) => { if (output.length < 20000) output += d.toString(); });
  child.stderr?.on("data", (d) => { if (output.length < 20000) output += d.toString(); });
  const rpcUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 60000);
  let exited = false;
  child.on("exit", () => { exited = true; });
  while (!(await rpcAnswers(rpcUrl))) {
    if (exited) throw new Error(`hardhat node exited before answering on ${rpcUrl}: ${output.slice(-2000)}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`hardhat node did not answer on ${rpcUrl} in time: ${output.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  // Stop reading the node's logs once up (they grow with every request).
  child.stdout?.removeAllListeners("data");
  child.stdout?.resume();
  return {
    rpcUrl,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => { if (!exited) child.kill("SIGKILL"); }, 3000).unref();
      }),
  };
}
