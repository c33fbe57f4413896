import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePort } from "./node";

const run = promisify(execFile);

/**
 * A throwaway PostgreSQL cluster for tests and the bench: initdb into a temp dir, a server on a
 * free loopback port with its unix socket in the same dir, stopped and deleted by stop(). The
 * real server binaries (Debian's `postgresql` package) — the state store is tested against the
 * server it will meet, not an in-process imitation. initdb and pg_ctl refuse to run as root, so
 * as root they run as the `postgres` user, in a dir that user owns.
 */
export interface LocalPostgres {
  /** postgres://keepctl:<password>@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  password: string;
  dir: string;
  /** Stops the server (fast shutdown) and keeps its data: start() brings the same cluster back. */
  pause(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and deletes the cluster. */
  stop(): Promise<void>;
}

const NEEDED = ["initdb", "pg_ctl", "postgres"] as const;

/** The newest /usr/lib/postgresql/<major>/bin holding every binary needed, or $KEEPCTL_PG_BIN. */
export function findPostgresBin(): string {
  const candidates: string[] = [];
  if (process.env.KEEPCTL_PG_BIN) candidates.push(process.env.KEEPCTL_PG_BIN);
  const root = "/usr/lib/postgresql";
  const majors = fs.existsSync(root) ? fs.readdirSync(root).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const m of majors) candidates.push(path.join(root, m, "bin"));
  for (const dir of candidates) if (NEEDED.every((b) => fs.existsSync(path.join(dir, b)))) return dir;
  const looked = candidates.length ? candidates.join(", ") : `${root}/*/bin (none exist)`;
  throw new Error(
    `PostgreSQL server binaries not found: need ${NEEDED.join(", ")} (looked in ${looked}). ` +
      "Install them with `apt-get install -y --no-install-recommends postgresql` (Debian), or set KEEPCTL_PG_BIN to their directory",
  );
}

function asServerUser(bin: string, args: string[]): [string, string[]] {
  // initdb and pg_ctl refuse root: hand them to the postgres user.
  if (process.getuid?.() === 0) return ["runuser", ["-u", "postgres", "--", bin, ...args]];
  return [bin, args];
}

async function exec(bin: string, args: string[], timeoutMs = 60_000): Promise<string> {
  const [cmd, argv] = asServerUser(bin, args);
  try {
    const { stdout, stderr } = await run(cmd, argv, { timeout: timeoutMs, env: { ...process.env, LC_ALL: "C" } });
    return stdout + stderr;
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${path.basename(bin)} failed: ${(err.stderr || err.stdout || err.message).trim().slice(0, 2000)}`);
  }
}

export async function startPostgres(o: { timeoutMs?: number; /** Extra server settings (`-c name=value`), e.g. the bench's pg_stat_statements. */ settings?: Record<string, string> } = {}): Promise<LocalPostgres> {
  const bin = findPostgresBin();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-pg-"));
  const data = path.join(dir, "data");
  const password = crypto.randomBytes(12).toString("hex");
  const pwfile = path.join(dir, "pw");
  fs.writeFileSync(pwfile, password + "\n", { mode: 0o600 });
  if (process.getuid?.() === 0) {
    const { uid, gid } = postgresUser();
    fs.chownSync(dir, uid, gid);
    fs.chownSync(pwfile, uid, gid);
  }
  await exec(path.join(bin, "initdb"), ["-D", data, "-U", "keepctl", "--pwfile", pwfile, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"], o.timeoutMs);
  fs.rmSync(pwfile, { force: true });
  const port = await freePort();
  const log = path.join(dir, "server.log");
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50` + Object.entries(o.settings ?? {}).map(([k, v]) => ` -c ${k}=${v}`).join("");
  const start = async () => {
    await exec(path.join(bin, "pg_ctl"), ["-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start"], o.timeoutMs);
  };
  const pause = async () => {
    await exec(path.join(bin, "pg_ctl"), ["-D", data, "-m", "fast", "-w", "-t", "60", "stop"], o.timeoutMs);
  };
  await start();
  let stopped = false;
  return {
    url: `postgres://keepctl:${password}@127.0.0.1:${port}/postgres`,
    port,
    password,
    dir,
    pause,
    start,
    async stop() {
      if (stopped) return;
      stopped = true;
      await exec(path.join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "-t", "60", "stop"], o.timeoutMs).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgresUser(): { uid: number; gid: number } {
  const line = fs.readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith("postgres:"));
  if (!line) throw new Error("running as root, but there is no `postgres` user to run initdb/pg_ctl as (install Debian's postgresql package, which creates it)");
  const f = line.split(":");
  return { uid: Number(f[2]), gid: Number(f[3]) };
}
