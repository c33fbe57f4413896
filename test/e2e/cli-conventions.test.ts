import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "../../src/devnet/node";
import { BIN, buildOnce, cliEnv, runKeepctl } from "../helpers/cli";

/**
 * The CLI conventions of issue 12, through the built binary: global options in every
 * subcommand's help, --version, FORCE_COLOR / NO_COLOR / --no-color, and --wide on a terminal.
 */
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-conventions-"));
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

const ESC = "\x1b[";
const VERSION: string = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")).version;
const git = (...args: string[]) => execFileSync("git", args, { cwd: PACKAGE_ROOT, encoding: "utf8" }).trim();
/** A real terminal for the child (util-linux `script` allocates a pty), `cols` columns wide. */
const hasScript = spawnSync("script", ["--version"]).status === 0;

function onTerminal(args: string[], env: Record<string, string>, cols = 80): string {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  // -e: script exits with the command's code (2 for a usage error); the screen is what we test.
  const r = spawnSync("script", ["-qec", `stty cols ${cols}; exec ${quoted}`, "/dev/null"], { cwd: home, env: { ...env, TERM: "xterm" }, encoding: "utf8" });
  if (r.error) throw r.error;
  return r.stdout;
}

let commands: string[];

beforeAll(async () => {
  buildOnce();
  const help = await runKeepctl(["--help"], { home });
  commands = [...help.stdout.split("Commands:")[1].matchAll(/^ {2}([a-z][a-z-]+)/gm)].map((m) => m[1]).filter((c) => c !== "help");
});

describe("global options in every subcommand's help", () => {
  it("`keepctl <command> --help` lists the global options (--json, --rpc-url, ...) for every command", async () => {
    expect(commands).toEqual(expect.arrayContaining(["check", "list-keeps", "watch", "emp-liquidate", "config"]));
    for (const c of commands) {
      const r = await runKeepctl([c, "--help"], { home });
      expect(r.code, c).toBe(0);
      const globals = r.stdout.split("Global Options:")[1];
      expect(globals, `${c} --help has no Global Options section`).toBeDefined();
      for (const flag of ["--json", "--rpc-url <url>", "--rpc-url-file <file>", "--network <name>", "--config <file>", "--wide", "--no-color", "--version"]) {
        expect(globals, `${c} --help lacks ${flag}`).toContain(flag);
      }
    }
  });
});

describe("--version", () => {
  it("prints the version, the commit the build was made from and the Node version", async () => {
    // The build step that bakes the commit (npm run build:ts runs it after tsc).
    execFileSync(process.execPath, [path.join(PACKAGE_ROOT, "scripts", "build-info.js")], { cwd: PACKAGE_ROOT });
    const head = git("rev-parse", "--short=12", "HEAD");
    const dirty = git("status", "--porcelain", "--untracked-files=no") !== "";
    for (const flag of ["--version", "-V"]) {
      const r = await runKeepctl([flag], { home });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`keepctl ${VERSION} (commit ${head}${dirty ? "-dirty" : ""}, node ${process.version})\n`);
    }
  });

  it("a build made outside a git checkout says commit unknown", async () => {
    // A package as a tarball unpacks it: bin/, dist/src/, package.json; the build step run there.
    const pkg = path.join(home, "pkg");
    fs.mkdirSync(path.join(pkg, "scripts"), { recursive: true });
    fs.cpSync(path.join(PACKAGE_ROOT, "bin"), path.join(pkg, "bin"), { recursive: true });
    fs.cpSync(path.join(PACKAGE_ROOT, "dist", "src"), path.join(pkg, "dist", "src"), { recursive: true });
    fs.copyFileSync(path.join(PACKAGE_ROOT, "package.json"), path.join(pkg, "package.json"));
    fs.copyFileSync(path.join(PACKAGE_ROOT, "scripts", "build-info.js"), path.join(pkg, "scripts", "build-info.js"));
    fs.symlinkSync(path.join(PACKAGE_ROOT, "node_modules"), path.join(pkg, "node_modules"));
    const run = () => execFileSync(process.execPath, [path.join(pkg, "bin", "keepctl"), "--version"], { cwd: home, env: cliEnv({ home }), encoding: "utf8" });
    execFileSync(process.execPath, [path.join(pkg, "scripts", "build-info.js")], { cwd: home });
    expect(JSON.parse(fs.readFileSync(path.join(pkg, "dist", "src", "build-info.json"), "utf8"))).toEqual({ commit: "unknown" });
    expect(run()).toBe(`keepctl ${VERSION} (commit unknown, node ${process.version})\n`);
    // No build-info at all (a dist/ built by tsc alone): unknown too, never a crash.
    fs.rmSync(path.join(pkg, "dist", "src", "build-info.json"));
    expect(run()).toBe(`keepctl ${VERSION} (commit unknown, node ${process.version})\n`);
  });
});

describe("colour: FORCE_COLOR honoured, NO_COLOR and --no-color respected", () => {
  // A usage error: stops before any network, and its "error:" is red when colour is on.
  const bad = ["check", "--operator", "nope"];
  const base = (env: Record<string, string>) => ({ home, env: { NO_COLOR: "", ...env } });
  // cliEnv sets NO_COLOR=1; an empty NO_COLOR counts as unset (no-color.org).

  it("piped: no colour by default, colour with FORCE_COLOR (even with NO_COLOR set), none with FORCE_COLOR=0 or --no-color", async () => {
    const plain = await runKeepctl(bad, base({}));
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/^error: invalid address "nope"/);
    expect(plain.stderr).not.toContain(ESC);

    for (const force of ["1", "3", "true", ""]) {
      const r = await runKeepctl(bad, base({ FORCE_COLOR: force }));
      expect(r.code).toBe(2);
      expect(r.stderr, `FORCE_COLOR=${force}`).toContain(`${ESC}31merror: `);
    }
    expect((await runKeepctl(bad, base({ FORCE_COLOR: "1", NO_COLOR: "1" }))).stderr).toContain(`${ESC}31merror: `);
    expect((await runKeepctl(bad, base({ FORCE_COLOR: "0" }))).stderr).not.toContain(ESC);
    expect((await runKeepctl(bad, base({ FORCE_COLOR: "false" }))).stderr).not.toContain(ESC);
    expect((await runKeepctl(["--no-color", ...bad], base({ FORCE_COLOR: "1" }))).stderr).not.toContain(ESC);
  });

  it.skipIf(!hasScript)("on a terminal: colour by default, none with NO_COLOR=1 or --no-color", () => {
    const env = { ...cliEnv({ home }), NO_COLOR: "" };
    expect(onTerminal(bad, env)).toContain(`${ESC}31merror: `);
    expect(onTerminal(bad, { ...env, NO_COLOR: "1" })).not.toContain(ESC);
    expect(onTerminal(["--no-color", ...bad], env)).not.toContain(ESC);
  });
});

describe.skipIf(!hasScript)("--wide on an 80-column terminal", () => {
  // `keepctl config` shows the mainnet preset's contract addresses in a table; no network needed.
  const tbtcSystem = "0xe20A5C79b39bC8C363f0f49ADcFa82C2a01ab64a";
  const args = ["--rpc-url", "http://127.0.0.1:8545", "config"];

  it("default: short addresses and lines that fit 80 columns; --wide: every address whole", () => {
    const env = cliEnv({ home });
    const short = onTerminal(args, env).replace(/\r/g, "");
    expect(short).toContain("0xe20A…b64a");
    expect(short).not.toContain(tbtcSystem);
    for (const line of short.trimEnd().split("\n")) expect([...line].length, line).toBeLessThanOrEqual(80);

    const wide = onTerminal(["--wide", ...args], env).replace(/\r/g, "");
    expect(wide).toContain(tbtcSystem);
    expect(wide).not.toContain("0xe20A…b64a");
  });
});
