import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { LoopMetrics } from "../../src/lib/metrics";

/**
 * docs/production.md ships things an operator pastes as they are: alert rules, a dashboard, a
 * systemd unit, links to other pages. Each must name what keepctl really has.
 */
const ROOT = path.resolve(__dirname, "..", "..");
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), "utf8");

/** Every sample name the three loops' registries can expose (histograms with their suffixes). */
async function exportedNames(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const loop of ["watch", "emp-liquidate", "emp-dispute"]) {
    const m = new LoopMetrics({ loop, intervalSec: 60, warnBelowPct: 130 });
    m.setLease("held"); // keepctl_lease_held: exported with --state-url only
    for (const f of await m.registry.getMetricsAsJSON()) {
      names.add(f.name);
      if (f.type === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(f.name + s);
    }
  }
  return names;
}
const referenced = (text: string) => [...new Set(text.match(/\bkeepctl_[a-z_]+/g) ?? [])];

describe("docs/prometheus-alerts.yml and docs/grafana-dashboard.json", () => {
  it("name only metrics keepctl exports, and use most of them", async () => {
    const known = await exportedNames();
    const alerts = referenced(read("docs/prometheus-alerts.yml"));
    const dash = referenced(read("docs/grafana-dashboard.json"));
    expect(alerts.filter((n) => !known.has(n))).toEqual([]);
    expect(dash.filter((n) => !known.has(n))).toEqual([]);
    expect(alerts.length).toBeGreaterThanOrEqual(8);
    expect(dash.length).toBeGreaterThanOrEqual(15);
  });

  it("every rule has an expression and a severity; the dashboard is JSON with unique panels and a query each", () => {
    const rules = read("docs/prometheus-alerts.yml").split(/\n\s+- alert: /).slice(1);
    expect(rules.length).toBeGreaterThanOrEqual(8);
    for (const r of rules) {
      expect(r, r.split("\n")[0]).toMatch(/\n\s+expr: \S/);
      expect(r, r.split("\n")[0]).toMatch(/severity: (critical|warning|info)/);
    }
    const dash = JSON.parse(read("docs/grafana-dashboard.json")) as { panels: { id: number; targets: { expr: string }[] }[] };
    expect(new Set(dash.panels.map((p) => p.id)).size).toBe(dash.panels.length);
    for (const p of dash.panels) for (const t of p.targets) expect(t.expr).toMatch(/keepctl_/);
  });
});

describe("docs/production.md", () => {
  const doc = read("docs/production.md");

  it("links only to pages and headings that exist", () => {
    const slug = (h: string) => h.trim().toLowerCase().replace(/[^a-z0-9 -]/g, "").replace(/ /g, "-");
    const links = [...doc.matchAll(/\]\(([a-z-]+\.(?:md|yml|json))(?:#([a-z0-9-]+))?\)/g)];
    expect(links.length).toBeGreaterThan(5);
    for (const [, file, anchor] of links) {
      const target = path.join(ROOT, "docs", file);
      expect(fs.existsSync(target), file).toBe(true);
      if (!anchor) continue;
      const headings = fs.readFileSync(target, "utf8").split("\n").filter((l) => /^#+ /.test(l)).map((l) => slug(l.replace(/^#+ /, "")));
      expect(headings, `${file}#${anchor}`).toContain(anchor);
    }
  });

  it("every setting the unit and cron lines name is one keepctl reads", async () => {
    const { knownEnvNames } = await import("../../src/lib/config");
    const known = new Set(knownEnvNames());
    const used = [...new Set(doc.match(/\bKEEPCTL_[A-Z_]+/g) ?? [])];
    expect(used.length).toBeGreaterThan(5);
    expect(used.filter((n) => !known.has(n))).toEqual([]);
  });

  // Needs systemd's tools; skipped where they are missing (the unit is still checked by eye there).
  const analyze = spawnSync("systemd-analyze", ["--version"]).status === 0;
  it.skipIf(!analyze)("the hardened unit passes `systemd-analyze verify`", () => {
    const unit = /```ini\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(unit).toBeDefined();
    expect(unit).toMatch(/NoNewPrivileges=yes/);
    expect(unit).toMatch(/ProtectSystem=strict/);
    expect(unit).toMatch(/ReadWritePaths=\/var\/lib\/keepctl/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-unit-"));
    try {
      const file = path.join(dir, "keepctl-watch.service");
      // verify checks that ExecStart's binary exists: point it at the checkout's.
      fs.writeFileSync(file, unit!.replaceAll("/opt/keepctl/bin/keepctl", path.join(ROOT, "bin", "keepctl")));
      const r = spawnSync("systemd-analyze", ["verify", "--man=no", file], { encoding: "utf8" });
      expect(r.stderr.trim() + r.stdout.trim(), "systemd-analyze verify output").toBe("");
      expect(r.status).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
