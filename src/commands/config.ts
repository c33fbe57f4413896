import type { Command } from "commander";
import { addOperatorOption, globalsOf, outputOf } from "./common";
import { displayValues, loadConfig } from "../lib/config";
import { probeRpc } from "../lib/chain/provider";
import { keyFilePermProblems } from "../lib/chain/wallet";

interface Row { setting: string; value: string; source: string; from: string }

export function register(program: Command): void {
  addOperatorOption(
    program
      .command("config")
      .description("show the resolved configuration and where each value came from (secrets redacted)"),
  )
    .option("--threshold <percent>", "warn threshold in % (env KEEPCTL_WARN_THRESHOLD)")
    .option("--check-rpc", "also connect: verify the chain id and print the latest block")
    .action(async (_opts, cmd: Command) => {
      const flags = globalsOf(cmd);
      const out = outputOf(cmd);
      const cfg = loadConfig(flags, undefined, { requireRpc: !!flags.checkRpc });
      for (const w of cfg.warnings) out.warn(w);
      const values = displayValues(cfg);
      const rpc = flags.checkRpc ? await probeRpc(cfg, { onWarning: (m) => out.warn(m) }) : undefined;
      // Shown like any command that signs would show them (never fatal here: config only reports).
      for (const p of keyFilePermProblems(cfg.signing)) out.warn(p);
      if (out.json) {
        out.document({
          values,
          sources: cfg.sources,
          origins: cfg.origins,
          keySource: cfg.signing.keySource,
          configFile: cfg.configFile ?? null,
          deploymentFile: cfg.deploymentFile ?? null,
          warnings: cfg.warnings,
          ...(rpc ? { rpc } : {}),
        });
        return;
      }
      const rows: Row[] = [];
      for (const [key, value] of Object.entries(values)) {
        const source = cfg.sources[key] ?? "-";
        const from = cfg.origins[key] ?? "-";
        if (value && typeof value === "object" && !Array.isArray(value)) {
          const entries = Object.entries(value as Record<string, string>);
          if (entries.length === 0) rows.push({ setting: key, value: "(none)", source, from });
          for (const [name, addr] of entries) rows.push({ setting: `${key}.${name}`, value: addr, source, from });
        } else {
          rows.push({ setting: key, value: text(value), source, from });
        }
      }
      out.table(rows, [
        { header: "Setting", value: (r) => r.setting },
        { header: "Value", value: (r) => r.value },
        { header: "Source", value: (r) => r.source },
        { header: "From", value: (r) => r.from },
      ]);
      out.info(`signing key: ${cfg.signing.keySource === "none" ? "none configured" : `${cfg.signing.keySource} (from ${cfg.origins[cfg.signing.keySource === "keystore" ? "keystore" : "privateKey"]})`}`);
      if (rpc) out.info(`rpc ok: chain ${rpc.chainId}, latest block ${rpc.latestBlock}`);
    });
}

function text(v: unknown): string {
  if (v === null || v === undefined) return "(unset)";
  if (Array.isArray(v)) return v.length ? v.join(", ") : "(none)";
  return String(v);
}
