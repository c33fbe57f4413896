import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "../../src/devnet/node";
import { startDevnet, type Devnet } from "../../src/devnet/scenario";
import { devnetDeploymentPath } from "../../src/lib/presets";
import { BIN, buildOnce, cliEnv } from "../helpers/cli";

/**
 * Command blocks the docs mark runnable are run, as written, against a devnet. A block is marked
 * by its info string: ```sh runnable, or ```sh runnable expect=N when its last command is meant
 * to exit N (e.g. 10 from `check`). Each block runs in bash with `set -e -o pipefail`, in a fresh
 * HOME whose data dir holds the devnet's deployment file (so `--network devnet` finds it, as after
 * `keepctl devnet`), with `deployment.devnet.json` in the working directory too, and `keepctl` on
 * PATH meaning the built binary of this checkout.
 */
export interface RunnableBlock {
  file: string;
  line: number;
  expect: number;
  script: string;
}

const FENCE = /^```([a-z]+) runnable(?: expect=(\d+))?[ \t]*\n([\s\S]*?)^```[ \t]*$/gm;

export function runnableBlocks(file: string, text: string): RunnableBlock[] {
  return [...text.matchAll(FENCE)].map((m) => ({
    file,
    line: text.slice(0, m.index).split("\n").length,
    expect: m[2] === undefined ? 0 : Number(m[2]),
    script: m[3],
  }));
}

function docFiles(): string[] {
  const docs = path.join(PACKAGE_ROOT, "docs");
  return [path.join(PACKAGE_ROOT, "README.md"), ...fs.readdirSync(docs).filter((f) => f.endsWith(".md")).sort().map((f) => path.join(docs, f))];
}

function runBlock(b: RunnableBlock, home: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", `set -e -o pipefail\n${b.script}`], { cwd: home, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const blocks = docFiles().flatMap((f) => runnableBlocks(path.relative(PACKAGE_ROOT, f), fs.readFileSync(f, "utf8")));
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-docs-"));
let env: Record<string, string>;
let devnet: Devnet | undefined;

beforeAll(async () => {
  buildOnce();
  const bin = path.join(home, "bin");
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(bin, "keepctl"), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} "$@"\n`, { mode: 0o755 });
  env = cliEnv({ home, env: {} });
  env.PATH = `${bin}${path.delimiter}${env.PATH}`;
  devnet = await startDevnet({ rai: true, out: path.join(home, "deployment.devnet.json") });
  fs.mkdirSync(path.dirname(devnetDeploymentPath(env.KEEPCTL_DATA_DIR)), { recursive: true });
  fs.copyFileSync(path.join(home, "deployment.devnet.json"), devnetDeploymentPath(env.KEEPCTL_DATA_DIR));
}, 300_000);

afterAll(async () => {
  await devnet?.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

describe("the runnable-block extractor", () => {
  it("reads the info string, the expected code and the line, and skips unmarked blocks", () => {
    const md = "# t\n\n```sh\nnot me\n```\n\n```sh runnable\nkeepctl a\n```\n\ntext\n```sh runnable expect=10\nkeepctl b\nkeepctl c\n```\n";
    expect(runnableBlocks("x.md", md)).toEqual([
      { file: "x.md", line: 7, expect: 0, script: "keepctl a\n" },
      { file: "x.md", line: 12, expect: 10, script: "keepctl b\nkeepctl c\n" },
    ]);
  });

  it("a failing command inside a block fails the block (set -e, pipefail)", async () => {
    const [b] = runnableBlocks("x.md", "```sh runnable\nfalse | cat\necho never\n```\n");
    const r = await runBlock(b, home, { PATH: process.env.PATH ?? "" });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe("");
  });

  it("the docs mark list-keeps, check --json and rai-price runnable", () => {
    const all = blocks.map((b) => b.script).join("\n");
    for (const cmd of [/keepctl .*list-keeps/, /keepctl .*check .*--json|keepctl .*--json .*check/, /keepctl .*rai-price/]) expect(all).toMatch(cmd);
  });
});

describe("runnable command blocks in README.md and docs/*.md", () => {
  for (const b of blocks) {
    it(`${b.file}:${b.line} exits ${b.expect}`, async () => {
      const r = await runBlock(b, home, env);
      expect(r.code, `${b.file}:${b.line}\n--- script\n${b.script}--- stdout\n${r.stdout}--- stderr\n${r.stderr}`).toBe(b.expect);
    }, 60_000);
  }
});
