import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOnce, runKeepctl } from "../helpers/cli";

/** `keepctl completion`: the bash script is sourced in a real bash and driven as bash drives it. */
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-completion-"));
let bashScript: string;

/** What bash would offer for the command line `line` (the cursor at its end). */
function complete(line: string): string[] {
  const words = line.split(" ");
  const arr = words.map((w) => `'${w}'`).join(" ");
  const out = execFileSync("bash", ["-c", `source "$1"; COMP_WORDS=(${arr}); COMP_CWORD=${words.length - 1}; _keepctl_complete; printf '%s\\n' "\${COMPREPLY[@]}"`, "bash", bashScript], { cwd: home, encoding: "utf8" });
  return out.split("\n").filter(Boolean).sort();
}

let commands: string[];

beforeAll(async () => {
  buildOnce();
  const r = await runKeepctl(["completion", "bash"], { home });
  expect(r.code).toBe(0);
  bashScript = path.join(home, "keepctl.bash");
  fs.writeFileSync(bashScript, r.stdout);
  const help = await runKeepctl(["--help"], { home });
  commands = [...help.stdout.split("Commands:")[1].matchAll(/^ {2}([a-z][a-z-]+)/gm)].map((m) => m[1]).filter((c) => c !== "help");
});

afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

describe("keepctl completion bash", () => {
  it("offers every command of --help, and the global options", () => {
    const got = complete("keepctl ");
    for (const c of commands) expect(got).toContain(c);
    expect(got).toContain("--deployment");
    expect(complete("keepctl wat")).toEqual(["watch"]);
    expect(complete("keepctl emp-")).toEqual(["emp-dispute", "emp-guard", "emp-launch", "emp-liquidate", "emp-position", "emp-sponsor"]);
  });

  it("finds the command after global options that take a value, and offers its own options", () => {
    expect(complete("keepctl --deployment d.json --json wat")).toEqual(["watch"]);
    expect(complete("keepctl --deployment d.json watch --metrics-")).toEqual(["--metrics-addr", "--metrics-allow-remote"]);
    expect(complete("keepctl emp-liquidate --max-")).toEqual(["--max-failed-passes", "--max-fee-gwei", "--max-lag", "--max-tokens"]);
    // Options of another command are not offered.
    expect(complete("keepctl list-keeps --metrics-")).toEqual([]);
  });

  it("completes values: choices, files for <file>, directories for <dir>", () => {
    fs.writeFileSync(path.join(home, "deployment.devnet.json"), "{}");
    fs.mkdirSync(path.join(home, "datadir"), { recursive: true });
    expect(complete("keepctl --network ")).toEqual(["devnet", "mainnet"]);
    expect(complete("keepctl emp-dispute --source ")).toEqual(["auto", "events", "subgraph"]);
    expect(complete("keepctl --deployment deployment.d")).toEqual(["deployment.devnet.json"]);
    expect(complete("keepctl --data-dir data")).toEqual(["datadir"]);
    expect(complete("keepctl watch --operator 0x")).toEqual([]);
    expect(complete("keepctl completion ")).toEqual(expect.arrayContaining(["bash", "fish", "zsh"]));
  });
});

describe("keepctl completion zsh|fish", () => {
  it("name every command and every option of watch", async () => {
    const watchHelp = (await runKeepctl(["watch", "--help"], { home })).stdout;
    const longs = [...new Set([...watchHelp.matchAll(/(--[a-z][a-z-]+)/g)].map((m) => m[1]))];
    const zsh = (await runKeepctl(["completion", "zsh"], { home })).stdout;
    const fish = (await runKeepctl(["completion", "fish"], { home })).stdout;
    expect(zsh.startsWith("#compdef keepctl")).toBe(true);
    for (const c of commands) {
      expect(zsh).toContain(`'${c}:`);
      expect(fish).toContain(`-a '${c}'`);
    }
    for (const l of longs) {
      expect(zsh, l).toContain(l);
      expect(fish, l).toMatch(new RegExp(`-l ${l.slice(2)}( |$)`, "m"));
    }
    expect(fish).toContain("-l network -x -a 'mainnet devnet'");
    expect(zsh).toContain("(mainnet devnet)");
  });

  it("an unknown shell is a usage error (exit 2)", async () => {
    const r = await runKeepctl(["completion", "powershell"], { home });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("bash, zsh, fish");
  });
});
