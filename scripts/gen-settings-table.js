#!/usr/bin/env node
// Regenerates the settings table of docs/configuration.md from the built SETTINGS table
// (run `npm run build` first). Rewrites the text between the settings-table markers.
const fs = require("node:fs");
const path = require("node:path");

const root = path.join(__dirname, "..");
const { SETTINGS } = require(path.join(root, "dist/src/lib/config.js"));
const kebab = (s) => "--" + s.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
const code = (s) => "`" + s + "`";

function defaultOf(s) {
  if (s.key === "dataDir") return "`~/.keepctl`";
  if (s.default === undefined) return "none";
  if (Array.isArray(s.default) && s.default.length === 0) return "none";
  if (typeof s.default === "object") return JSON.stringify(s.default);
  return code(String(s.default));
}

const rows = SETTINGS.map((s) => {
  const flags = [s.flag && code(kebab(s.flag)), s.fileForm?.flag && code(kebab(s.fileForm.flag) + " FILE")].filter(Boolean).join(", ") || "—";
  const env = [...(s.env ?? []), ...(s.fileForm ? [s.fileForm.env] : [])].map(code).join(", ") || "—";
  const fileKey = s.fileKey === null ? "— (env only)" : code(s.fileKey ?? s.key);
  const notes = [s.describe, s.secret ? "(secret, redacted)" : ""].filter(Boolean).join(" ");
  return `| ${s.key} | ${s.section} | ${flags} | ${env} | ${fileKey} | ${defaultOf(s)} | ${notes} |`;
});
const table = [
  "| Setting | Section | Flag | Environment | Config-file key | Default | Meaning |",
  "|---|---|---|---|---|---|---|",
  ...rows,
].join("\n");

const doc = path.join(root, "docs/configuration.md");
const text = fs.readFileSync(doc, "utf8");
const start = "<!-- settings-table:start -->";
const end = "<!-- settings-table:end -->";
const a = text.indexOf(start);
const b = text.indexOf(end);
if (a < 0 || b < 0) throw new Error("settings-table markers not found in docs/configuration.md");
fs.writeFileSync(doc, text.slice(0, a + start.length) + "\n" + table + "\n" + text.slice(b));
console.log(`${SETTINGS.length} settings written`);
