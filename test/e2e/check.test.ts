import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOnce, runKeepctl } from "../helpers/cli";
import { freePort } from "../../src/devnet/node";
import { type Devnet, startDevnet } from "../../src/devnet/scenario";

/** `keepctl check` end to end against the seeded devnet: exit 10 on the scenario, 0 when all is well. */
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-check-"));
const deploymentFile = path.join(home, "deployment.json");
let devnet: Devnet;

const keepctl = (args: string[], env: Record<string, string> = {}) => runKeepctl(args, { home, env });

const seededFor = (op: string) => devnet.scenario.deposits.filter((d) => d.members.some((m) => m.toLowerCase() === op.toLowerCase()));

beforeAll(async () => {
  buildOnce();
  devnet = await startDevnet({ out: deploymentFile });
}, 600_000);

afterAll(async () => {
  await devnet?.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

/** A keep member whose live deposits are all ACTIVE and at or above 130 %. */
function healthyMember(): string {
  const members = new Set(devnet.scenario.deposits.flatMap((d) => d.members));
  for (const m of members) {
    const live = seededFor(m).filter((d) => !d.keepFinished);
    if (live.length > 0 && live.every((d) => d.expectedState === "ACTIVE" && (d.collateralPercent ?? 0) >= 130)) return m;
  }
  throw new Error("the scenario has no all-healthy member");
}

describe("keepctl check", () => {
  it("exits 10 on the seeded scenario and says which deposits and why", async () => {
    const r = await keepctl(["check", "--deployment", deploymentFile, "--json"]);
    expect(r.code).toBe(10);
    const doc = JSON.parse(r.stdout);
    expect(doc.healthy).toBe(false);
    expect(doc.worst).toBe("courtesy-call");
    expect(doc.warnThreshold).toBe(130);
    const byDeposit = new Map(doc.deposits.map((d: { deposit: string; health: string }) => [d.deposit, d]));
    const label = (l: string) => devnet.scenario.deposits.find((d) => d.label === l)!.deposit;
    expect((byDeposit.get(label("courtesy-call-1btc")) as { health: string }).health).toBe("courtesy-call");
    const atRisk = byDeposit.get(label("at-risk-5btc-127pct")) as { health: string; reason: string; collateralization: string };
    expect(atRisk.health).toBe("warn");
    expect(atRisk.reason).toContain("below the 130.00% warning threshold");
    expect(Math.floor(Number(atRisk.collateralization))).toBe(127);
    expect((byDeposit.get(label("healthy-1btc")) as { health: string }).health).toBe("ok");
    // finished deposits are history, not risk
    expect(byDeposit.has(label("redeemed-1btc"))).toBe(false);
    expect(byDeposit.has(label("liquidated-1btc"))).toBe(false);
  });

  it("exits 0 for an operator whose deposits are all healthy", async () => {
    const op = healthyMember();
    const r = await keepctl(["check", "--deployment", deploymentFile, "--operator", op, "--json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.healthy).toBe(true);
    expect(doc.deposits.length).toBe(seededFor(op).filter((d) => !d.keepFinished).length);
    expect(doc.deposits.every((d: { health: string }) => d.health === "ok")).toBe(true);
  });

  it("honours --threshold and prints a table with a summary when piped", async () => {
    const op = devnet.scenario.operators[0]; // at-risk 127 % and 128 %, no courtesy call
    expect(seededFor(op).some((d) => d.expectedState === "COURTESY_CALL")).toBe(false);
    const strict = await keepctl(["check", "--deployment", deploymentFile, "--operator", op]);
    expect(strict.code).toBe(10);
    const lines = strict.stdout.trim().split("\n");
    expect(lines[0]).toBe("deposit\tstate\tcollat_%\thealth\treason");
    expect(lines.filter((l) => l.split("\t")[3] === "warn")).toHaveLength(2);
    expect(strict.stderr).toMatch(/^warning: 2 of \d+ live deposits need attention \(worst: warn\)$/m);

    const lenient = await keepctl(["check", "--deployment", deploymentFile, "--operator", op, "--threshold", "127"]);
    expect(lenient.code).toBe(0);
    expect(lenient.stderr).toMatch(/all \d+ live deposits are ok/);

    const bad = await keepctl(["check", "--deployment", deploymentFile, "--threshold", "abc"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("exits 4 when the RPC endpoint is unreachable", async () => {
    const port = await freePort();
    const r = await keepctl(["check", "--deployment", deploymentFile, "--rpc-url", `http://127.0.0.1:${port}`], { KEEPCTL_RPC_RETRIES: "1" });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^error: no RPC endpoint answered/);
  });
});
