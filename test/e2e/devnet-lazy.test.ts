import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "../../src/devnet/node";
import { BIN, buildOnce, cliEnv, type Run } from "../helpers/cli";

/**
 * src/devnet is dev tooling: it reads the contracts' artifacts from devDependencies and starts
 * Hardhat. `keepctl devnet` loads it on demand; no other command may load any of it, and without
 * the devDependencies every production command still runs while `devnet` says what to install.
 */
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-lazy-"));
/** Prints every module the process loaded, as its last stderr line. */
const hook = path.join(home, "loaded-modules.js");
const MARK = "LOADED-MODULES ";
const DEVNET_DIR = `${path.sep}dist${path.sep}src${path.sep}devnet${path.sep}`;
const COMMANDS_DIR = `${path.sep}dist${path.sep}src${path.sep}commands${path.sep}`;

function run(nodeArgs: string[], cwd = home): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--require", hook, ...nodeArgs], { cwd, env: cliEnv({ home }), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The modules the child had loaded when it exited, and its stderr without the hook's line. */
function split(r: Run): { loaded: string[]; stderr: string } {
  const lines = r.stderr.split("\n");
  const at = lines.findIndex((l) => l.startsWith(MARK));
  expect(at, `the hook printed nothing; stderr: ${r.stderr}`).toBeGreaterThanOrEqual(0);
  return { loaded: JSON.parse(lines[at].slice(MARK.length)) as string[], stderr: lines.filter((_, i) => i !== at).join("\n") };
}

beforeAll(() => {
  buildOnce();
  fs.writeFileSync(hook, `process.on("exit", () => process.stderr.write("\\n${MARK}" + JSON.stringify(Object.keys(require.cache)) + "\\n"));\n`);
});
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

describe("src/devnet is loaded only by `keepctl devnet`", () => {
  it("the hook sees a devnet module when one is loaded (the check can fail)", async () => {
    const r = await run(["-e", `require(${JSON.stringify(path.join(PACKAGE_ROOT, "dist/src/devnet/node.js"))})`]);
    expect(split(r).loaded.filter((m) => m.includes(DEVNET_DIR)).length).toBeGreaterThan(0);
  });

  for (const args of [["--version"], ["list-keeps", "--help"], ["check", "--help"], ["devnet", "--help"], ["list-keeps", "--operator", "0x0000000000000000000000000000000000000001"]]) {
    it(`keepctl ${args.join(" ")} loads no module of dist/src/devnet`, async () => {
      const r = await run([BIN, ...args]);
      const { loaded } = split(r);
      // The command itself ran (its module is loaded) ...
      expect(loaded.some((m) => m.includes(COMMANDS_DIR))).toBe(true);
      // ... and nothing of the devnet came with it.
      expect(loaded.filter((m) => m.includes(DEVNET_DIR))).toEqual([]);
    });
  }
});

describe("a production install (dependencies only, no devDependencies)", () => {
  const prod = path.join(home, "prod");
  const keepctl = (args: string[]) => run([path.join(prod, "bin", "keepctl"), ...args]);

  beforeAll(() => {
    // What `npm install --omit=dev` of this package holds: bin/, the built dist/src, package.json,
    // and node_modules with the runtime dependencies only. Each is a link to the dev tree's copy;
    // Node resolves a linked package's own dependencies from where it really is.
    const pkg = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    fs.mkdirSync(path.join(prod, "bin"), { recursive: true });
    fs.copyFileSync(BIN, path.join(prod, "bin", "keepctl"));
    fs.copyFileSync(path.join(PACKAGE_ROOT, "package.json"), path.join(prod, "package.json"));
    fs.cpSync(path.join(PACKAGE_ROOT, "dist", "src"), path.join(prod, "dist", "src"), { recursive: true });
    for (const name of Object.keys(pkg.dependencies)) {
      const link = path.join(prod, "node_modules", name);
      fs.mkdirSync(path.dirname(link), { recursive: true });
      fs.symlinkSync(path.join(PACKAGE_ROOT, "node_modules", name), link, "dir");
    }
    expect(fs.existsSync(path.join(prod, "node_modules", "hardhat"))).toBe(false);
  });

  it("runs the production commands", async () => {
    const v = await keepctl(["--version"]);
    expect(v.code).toBe(0);
    // the version, and the commit baked into dist at build time (this copy is outside git)
    const version = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")).version as string;
    expect(v.stdout.trim()).toMatch(new RegExp(`^keepctl ${version.replace(/\./g, "\\.")} \\(commit ([0-9a-f]{12}(-dirty)?|unknown), node v\\d+\\.\\d+\\.\\d+\\)$`));
    const help = await keepctl(["list-keeps", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--operator <address>");
    const cfg = await keepctl(["--json", "config"]);
    expect(cfg.code, cfg.stderr).toBe(0);
    expect(JSON.parse(cfg.stdout)).toBeTypeOf("object");
    // A real command past its parser: no RPC configured is a config error (3), not a missing module (1).
    const list = await keepctl(["list-keeps", "--operator", "0x0000000000000000000000000000000000000001"]);
    expect(split(list).stderr).not.toMatch(/Cannot find module|internal error/);
    expect(list.code).toBe(3);
  });

  it("`devnet` names what to install, in one line and a hint, exit 3, before loading any of it", async () => {
    const r = await keepctl(["devnet", "--port", "1"]);
    const { loaded, stderr } = split(r);
    expect(r.code).toBe(3);
    expect(stderr.trim().split("\n")).toEqual([
      "error: keepctl devnet needs the development install, and hardhat, @keep-network/tbtc, @uma/contracts-node, @uniswap/v2-core, @uniswap/v2-periphery, graphql are not installed",
      "hint: run `npm install` (devDependencies included, not --omit=dev / NODE_ENV=production) in a checkout of keepctl, then `npm run build`",
    ]);
    expect(loaded.filter((m) => m.includes(DEVNET_DIR))).toEqual([]);

    const j = await keepctl(["--json", "devnet"]);
    expect(j.code).toBe(3);
    expect(JSON.parse(j.stdout).error).toMatchObject({ code: "DEV_INSTALL" });
  });
});
