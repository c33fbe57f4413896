import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Mnemonic, randomBytes } from "ethers";
import { spawn } from "node:child_process";
import { BIN, buildOnce, cliEnv, runKeepctl, spawnKeepctl } from "../helpers/cli";

/**
 * The binary under misconfiguration: a secret typed into the wrong setting never reaches the
 * terminal or the JSON error, control characters and huge values are not echoed raw, strict
 * config, bare `keepctl`, and an RPC URL (with its API key) given by file instead of argv.
 */
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-secrets-"));
const keepctl = (args: string[], env: Record<string, string> = {}) => runKeepctl(args, { home, env });
const KEY = "0x" + "8c1f".repeat(16);
const BARE = KEY.slice(2);
const RPC = "http://127.0.0.1:9"; // never contacted: these runs fail before connecting

beforeAll(() => buildOnce());
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

describe("a private key typed into an address setting", () => {
  const cases: { name: string; args: string[]; env?: Record<string, string>; code: number }[] = [
    { name: "--operator", args: ["check", "--rpc-url", RPC, "--operator", KEY], code: 2 },
    { name: "--operator, no 0x", args: ["list-keeps", "--rpc-url", RPC, "--operator", BARE], code: 2 },
    { name: "KEEPCTL_OPERATORS", args: ["check", "--rpc-url", RPC], env: { KEEPCTL_OPERATORS: KEY }, code: 2 },
    { name: "--emp", args: ["emp-liquidate", "--rpc-url", RPC, "--emp", KEY, "--once"], code: 2 },
    { name: "KEEPCTL_CONTRACTS", args: ["config"], env: { KEEPCTL_CONTRACTS: `TBTCSystem=${KEY}` }, code: 2 },
    { name: "--deposit", args: ["redeem", "--rpc-url", RPC, "--dry-run", "--deposit", KEY], env: { KEEPCTL_BTC_ADDRESS: "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx" }, code: 2 },
  ];
  for (const c of cases) {
    it(`${c.name}: exit ${c.code}, the key on neither stream, with or without --json`, async () => {
      for (const json of [false, true]) {
        const r = await keepctl([...(json ? ["--json"] : []), ...c.args], c.env);
        expect(r.code, r.stderr).toBe(c.code);
        expect(r.stdout + r.stderr).not.toMatch(/8c1f8c1f/i);
        if (json) {
          const doc = JSON.parse(r.stdout);
          expect(doc.error.code).toBe("USAGE");
          expect(doc.error.message).toContain("***");
        } else {
          expect(r.stdout).toBe("");
          expect(r.stderr).toMatch(/^error: .*\*\*\*.*\n/);
        }
      }
    });
  }

  it("a mnemonic typed into --operator is masked too", async () => {
    const phrase = Mnemonic.fromEntropy(randomBytes(16)).phrase;
    const r = await keepctl(["--json", "config", "--operator", phrase]);
    expect(r.code).toBe(2);
    for (const w of phrase.split(" ").slice(0, 12)) expect(`${r.stdout} ${r.stderr}`).not.toMatch(new RegExp(`\\b${w} ${phrase.split(" ")[phrase.split(" ").indexOf(w) + 1] ?? "$^"}\\b`));
    expect(JSON.parse(r.stdout).error.message).toBe('invalid address "***" (from --operator)');
  });
});

describe("echoed values", () => {
  it("a 100 kB value is cut, and a newline or escape sequence cannot fake a second error line", async () => {
    const huge = "9\nerror: all good\x1b[2J" + "z".repeat(100_000);
    const r = await keepctl(["config", "--threshold", huge]);
    expect(r.code).toBe(2);
    expect(r.stderr.length).toBeLessThan(300);
    expect(r.stderr.split("\n").filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toContain('got "9\\nerror: all good\\x1b[2Jzzz');
    expect(r.stderr).not.toContain("\x1b");
    // commander's own errors (a bad choice) are escaped and cut the same way
    const choice = await keepctl(["--network", huge, "config"]);
    expect(choice.code).toBe(2);
    expect(choice.stderr).not.toContain("\x1b");
    expect(choice.stderr.split("\n")[0]).toMatch(/^error: option '--network <name>' argument '9\\nerror: all good\\x1b\[2Jz+…' is invalid/);
    expect(choice.stderr.length).toBeLessThan(400);
  });
});

describe("strict configuration", () => {
  it("an unknown config-file key is exit 3 with a suggestion, for every command", async () => {
    fs.writeFileSync(path.join(home, "typo.json"), JSON.stringify({ operatorz: ["0x1111111111111111111111111111111111111111"] }));
    for (const cmd of [["check"], ["watch", "--once"], ["redeem", "--dry-run"], ["emp-dispute", "--once"], ["rai-price"], ["config"]]) {
      const r = await keepctl(["--config", "typo.json", "--rpc-url", RPC, ...cmd]);
      expect(r.code, cmd.join(" ")).toBe(3);
      expect(r.stderr.split("\n")[0]).toBe(`error: unknown key in config file ${path.join(home, "typo.json")}: "operatorz" (did you mean "operators"?)`);
    }
  });

  it("an unknown KEEPCTL_ variable is exit 3; an unknown flag is exit 2 with commander's suggestion", async () => {
    const env = await keepctl(["check", "--rpc-url", RPC], { KEEPCTL_OPERATOR: "0x1111111111111111111111111111111111111111" });
    expect(env.code).toBe(3);
    expect(env.stderr.split("\n")[0]).toBe('error: unknown environment variable "KEEPCTL_OPERATOR" (did you mean "KEEPCTL_OPERATORS"?)');
    const flag = await keepctl(["check", "--operater", "x"]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/^error: unknown option '--operater'\n\(Did you mean --operator\?\)/);
  });

  it("empty values and loose numbers are usage errors, not fall-backs", async () => {
    const dep = path.join(home, "dep.json");
    fs.writeFileSync(dep, JSON.stringify({ chainId: 31337, rpcUrl: RPC, contracts: {}, operators: ["0x1111111111111111111111111111111111111111"] }));
    expect((await keepctl(["--deployment", dep, "config", "--operator", ""])).stderr).toBe("error: empty value (from --operator)\n");
    expect((await keepctl(["--deployment", dep, "--rpc-url", "", "config"])).stderr).toBe("error: empty value (from --rpc-url)\n");
    const hex = await keepctl(["--deployment", dep, "config", "--threshold", "0x80"]);
    expect([hex.code, hex.stderr]).toEqual([2, 'error: expected a decimal number, got "0x80" (from --threshold)\n']);
  });

  it("bare `keepctl` prints the help on stderr and exits 2; with --json one error document", async () => {
    const r = await keepctl([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^Usage: keepctl \[options\] \[command\]/);
    const j = await keepctl(["--json"]);
    expect(j.code).toBe(2);
    expect(JSON.parse(j.stdout)).toEqual({ error: { code: "USAGE", message: "no command given" } });
    expect((await keepctl(["--help"])).code).toBe(0);
  });
});

describe("URLs with API keys need not be in argv", () => {
  it("--rpc-url-file: the node is reached, argv holds only a path, and the key is never printed", async () => {
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        seen.push(req.url ?? "");
        const reqs = JSON.parse(body);
        const answer = (q: { id: number; method: string }) => ({ jsonrpc: "2.0", id: q.id, result: q.method === "eth_chainId" ? "0x1" : q.method === "eth_blockNumber" ? "0x2a" : null });
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify(Array.isArray(reqs) ? reqs.map(answer) : answer(reqs)));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      const file = path.join(home, "rpc-urls");
      fs.writeFileSync(file, `# the provider\nhttp://127.0.0.1:${port}/v3/s3cr3tK3y\n`, { mode: 0o600 });
      const args = ["config", "--check-rpc", "--rpc-url-file", file, "--json"];
      const run = spawnKeepctl(args, { home });
      const r = await run.done;
      expect(r.code, r.stderr).toBe(0);
      expect(args.join(" ")).not.toContain("s3cr3tK3y");
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((u) => u === "/v3/s3cr3tK3y")).toBe(true);
      const doc = JSON.parse(r.stdout);
      expect(doc.rpc.latestBlock).toBe(42);
      expect(doc.values.rpcUrls).toEqual([`http://127.0.0.1:${port}/***`]);
      expect(doc.origins.rpcUrls).toBe(`--rpc-url-file ${file}`);
      expect(r.stdout + r.stderr).not.toContain("s3cr3tK3y");
      // The env form works the same way.
      const viaEnv = await keepctl(["config", "--check-rpc", "--json"], { KEEPCTL_RPC_URLS_FILE: file });
      expect(viaEnv.code, viaEnv.stderr).toBe(0);
      expect(JSON.parse(viaEnv.stdout).sources.rpcUrls).toBe("env");
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe("the data dir under umask 000", () => {
  it("is created 0700 by a command that keeps a cache, even when the run then fails", async () => {
    const dataDir = path.join(home, "umask0", "data");
    const env = cliEnv({ home, dataDir });
    const code = await new Promise<number | null>((resolve, reject) => {
      // The shell sets the umask the way an operator's misconfigured service would.
      const child = spawn("/bin/sh", ["-c", `umask 000 && exec "${process.execPath}" "${BIN}" check --rpc-url ${RPC} --operator 0x1111111111111111111111111111111111111111`], { cwd: home, env, stdio: "ignore" });
      child.on("error", reject);
      child.on("close", resolve);
    });
    expect(code).toBe(4); // nothing listens on the RPC port
    expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.dirname(dataDir)).mode & 0o777).toBe(0o700);
  });
});
