import { spawn, type ChildProcess } from "node:child_process";

/**
 * Runs a bench child script (its own process, so its peak RSS is its own) in a bare environment
 * and returns the JSON object it prints on its last stdout line.
 */
export function runChildJson<T>(script: string, name: string, args: string[], cwd: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd, env: { PATH: process.env.PATH ?? "", HOME: cwd, NO_COLOR: "1", ...(process.env.KEEPCTL_LOG_CHUNK_SIZE ? { KEEPCTL_LOG_CHUNK_SIZE: process.env.KEEPCTL_LOG_CHUNK_SIZE } : {}) }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`${name} ${args[0]} exited ${code}: ${err.slice(-2000)}`));
      try {
        resolve(JSON.parse(out.trim().split("\n").pop() ?? "") as T);
      } catch {
        reject(new Error(`${name} ${args[0]} printed no result: ${out.slice(-500)} ${err.slice(-1000)}`));
      }
    });
  });
}

/** Stops a long-running child (a watch loop under measurement) with SIGTERM and waits for it to exit. */
export async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await gone;
}
