import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOnce, runKeepctl } from "../helpers/cli";
import { freePort } from "../../src/devnet/node";
import { type Devnet, startDevnet } from "../../src/devnet/scenario";

/** `keepctl list-keeps` end to end against the seeded devnet. */
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-lk-"));
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

describe("keepctl list-keeps", () => {
  it("prints one JSON document with every seeded deposit of the operator", async () => {
    const op = devnet.scenario.operators[0];
    const r = await keepctl(["list-keeps", "--deployment", deploymentFile, "--operator", op, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.chainId).toBe(31337);
    expect(doc.operators).toEqual([op]);
    expect(typeof doc.priceWeiPerSatoshi).toBe("string");
    expect(doc.priceCheck.ok).toBe(true);
    const seeded = seededFor(op);
    expect(doc.keeps.map((k: { deposit: string }) => k.deposit).sort()).toEqual(seeded.map((d) => d.deposit).sort());
    for (const k of doc.keeps) {
      const s = seeded.find((d) => d.deposit === k.deposit)!;
      expect(k.keep).toBe(s.keep);
      expect(k.state).toBe(s.expectedState);
      expect(k.lotSizeSatoshis).toBe(s.lotSats.toString());
      expect(typeof k.bondWei).toBe("string");
      expect(k.finished).toBe(s.keepFinished);
      if (s.collateralPercent !== undefined) {
        expect(k.collateralization).toMatch(/^\d+\.\d\d$/);
        expect(Math.floor(Number(k.collateralization))).toBe(s.collateralPercent);
        expect(k.thresholds).toEqual({ initial: 150, undercollateralized: 125, severelyUndercollateralized: 110 });
        expect(Number(k.remainingTermSeconds)).toBeGreaterThan(0);
      }
    }
  });

  it("matches a lower-case operator and filters by state and --active", async () => {
    const op = devnet.scenario.operators[1];
    const all = JSON.parse((await keepctl(["list-keeps", "--deployment", deploymentFile, "--operator", op.toLowerCase(), "--json"])).stdout);
    expect(all.keeps.length).toBe(seededFor(op).length);

    const cc = await keepctl(["list-keeps", "--deployment", deploymentFile, "--operator", op, "--state", "courtesy-call", "--json"]);
    expect(cc.code).toBe(0);
    const ccDoc = JSON.parse(cc.stdout);
    expect(ccDoc.keeps.map((k: { state: string }) => k.state)).toEqual(["COURTESY_CALL"]);
    const deadline = Date.parse(ccDoc.keeps[0].courtesyCallDeadline) - Date.parse(ccDoc.keeps[0].courtesyCalledAt);
    expect(deadline).toBe(6 * 3600 * 1000);

    const active = JSON.parse((await keepctl(["list-keeps", "--deployment", deploymentFile, "--operator", op, "--active", "--json"])).stdout);
    const expected = seededFor(op).filter((d) => !d.keepFinished).map((d) => d.deposit).sort();
    expect(active.keeps.map((k: { deposit: string }) => k.deposit).sort()).toEqual(expected);
    expect(expected.length).toBeLessThan(seededFor(op).length);
  });

  it("prints tab-separated rows when piped", async () => {
    const op = devnet.scenario.operators[0];
    const r = await keepctl(["list-keeps", "--deployment", deploymentFile, "--operator", op]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toBe("keep\tdeposit\tstate\tlot_btc\tbond_eth\tcollat_%\tthresholds\tcourtesy_deadline\tremaining_term");
    expect(lines.length).toBe(1 + seededFor(op).length);
    const healthy = devnet.scenario.deposits.find((d) => d.label === "healthy-5btc-vm")!;
    const row = lines.find((l) => l.includes(healthy.deposit))!.split("\t");
    expect(row[0]).toBe(healthy.keep);
    expect(row[2]).toBe("ACTIVE");
    expect(row[3]).toBe("5");
    expect(row[6]).toBe("150/125/110");
    // Piped, the bond is exact (a terminal shows 4 decimals): the same amount as bondWei in --json.
    const json = JSON.parse((await keepctl(["--json", "list-keeps", "--deployment", deploymentFile, "--operator", op])).stdout);
    const keep = json.keeps.find((k: { deposit: string }) => k.deposit === healthy.deposit);
    expect(ethers.parseEther(row[4])).toBe(BigInt(keep.bondWei));
  });

  it("rejects bad input and a dead RPC with the documented exit codes", async () => {
    const bad = await keepctl(["list-keeps", "--deployment", deploymentFile, "--operator", "0x12345"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(/^error: invalid address "0x12345"/);

    const badState = await keepctl(["list-keeps", "--deployment", deploymentFile, "--state", "SLEEPING"]);
    expect(badState.code).toBe(2);
    expect(badState.stderr).toMatch(/unknown deposit state "SLEEPING"/);

    const noOps = path.join(home, "no-operators.json");
    fs.writeFileSync(noOps, JSON.stringify({ ...devnet.file, operators: [] }));
    const none = await keepctl(["list-keeps", "--deployment", noOps]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no operator given/);

    const port = await freePort();
    const dead = await keepctl(["list-keeps", "--deployment", deploymentFile, "--rpc-url", `http://127.0.0.1:${port}`, "--json"], { KEEPCTL_RPC_RETRIES: "1" });
    expect(dead.code).toBe(4);
    expect(JSON.parse(dead.stdout).error.code).toBe("RPC_UNREACHABLE");
  });
});
