import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ExitCode } from "../../src/lib/errors";

/**
 * docs/high-availability.md's systemd drop-in goes on top of docs/production.md's unit, on each
 * of two hosts. It must load with that unit, and restart the exits a restart can fix and no others.
 */
const ROOT = path.resolve(__dirname, "..", "..");
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), "utf8");
const ha = read("docs/high-availability.md");
const dropIn = /```ini\n([\s\S]*?)```/.exec(ha.slice(ha.indexOf("## Two hosts under systemd")))?.[1] ?? "";
const baseUnit = /```ini\n([\s\S]*?)```/.exec(read("docs/production.md"))?.[1] ?? "";

/** The last non-empty assignment of a list setting (an empty one resets the list). */
function listSetting(unit: string, key: string): string[] {
  let list: string[] = [];
  for (const m of unit.matchAll(new RegExp(`^${key}=(.*)$`, "gm"))) list = m[1].trim() ? [...list, ...m[1].trim().split(/\s+/)] : [];
  return list;
}

describe("docs/high-availability.md: the systemd drop-in", () => {
  it("reads the state URL from a credential file, and names only settings keepctl reads", async () => {
    expect(dropIn).toMatch(/^LoadCredential=state-url:\/etc\/keepctl\/state-url$/m);
    expect(dropIn).toMatch(/^Environment=KEEPCTL_STATE_URL_FILE=%d\/state-url$/m);
    const { knownEnvNames } = await import("../../src/lib/config");
    const known = new Set(knownEnvNames());
    const used = [...new Set(ha.match(/\bKEEPCTL_[A-Z_]+/g) ?? [])];
    expect(used).toContain("KEEPCTL_STATE_URL_FILE");
    expect(used.filter((n) => !known.has(n))).toEqual([]);
  });

  it("restarts on failure, except for bad usage, bad config and another sender on the key; lease lost and a failing loop restart", () => {
    expect(dropIn).toMatch(/^Restart=on-failure$/m);
    // Base unit first, then the drop-in: systemd's order.
    const prevent = listSetting(baseUnit + "\n" + dropIn, "RestartPreventExitStatus").map(Number);
    expect(new Set(prevent)).toEqual(new Set([ExitCode.USAGE, ExitCode.CONFIG, ExitCode.ACCOUNT_CONFLICT]));
    for (const restarted of [ExitCode.LEASE_LOST, ExitCode.LOOP_FAILING, ExitCode.RPC, ExitCode.INTERNAL]) expect(prevent).not.toContain(restarted);
    // A stop (SIGTERM, exit 130) is a success, not a failure to restart.
    expect(listSetting(baseUnit + "\n" + dropIn, "SuccessExitStatus").map(Number)).toContain(ExitCode.INTERRUPTED);
  });

  const analyze = spawnSync("systemd-analyze", ["--version"]).status === 0;
  it.skipIf(!analyze)("passes `systemd-analyze verify` together with the production unit (and a broken drop-in would not)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-ha-unit-"));
    const verify = (conf: string) => {
      fs.mkdirSync(path.join(dir, "keepctl-watch.service.d"), { recursive: true });
      // verify checks that ExecStart's binary exists: point it at the checkout's.
      fs.writeFileSync(path.join(dir, "keepctl-watch.service"), baseUnit.replaceAll("/opt/keepctl/bin/keepctl", path.join(ROOT, "bin", "keepctl")));
      fs.writeFileSync(path.join(dir, "keepctl-watch.service.d", "ha.conf"), conf);
      // The trailing colon keeps systemd's own unit directories after this one.
      const r = spawnSync("systemd-analyze", ["verify", "--man=no", path.join(dir, "keepctl-watch.service")], { encoding: "utf8", env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` } });
      return { status: r.status, out: r.stderr.trim() + r.stdout.trim() };
    };
    try {
      expect(baseUnit).toMatch(/^ExecStart=/m);
      expect(verify(dropIn)).toEqual({ status: 0, out: "" });
      // The drop-in is really read: a bad value in it is reported.
      expect(verify(dropIn.replace("RestartPreventExitStatus=2 3 8", "RestartPreventExitStatus=two")).out).toMatch(/ha\.conf:\d+: Failed to parse/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
