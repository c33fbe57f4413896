#!/usr/bin/env node
// Rewrites the generated block of docs/commands.md from the built binary's real --help output.
// Run after changing an option: `npx tsc -p tsconfig.json && node scripts/gen-help-docs.js`.
"use strict";
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const doc = path.join(root, "docs", "commands.md");
const bin = path.join(root, "bin", "keepctl");
const commands = ["", "list-keeps", "check", "redeem", "watch", "redemptions", "buy-tbtc", "rai-price", "emp-liquidate", "emp-dispute",
  "emp-position", "emp-sponsor", ...["create", "deposit", "withdraw", "cancel-withdrawal", "redeem", "repay", "settle", "withdraw-liquidation"].map((a) => `emp-sponsor ${a}`),
  "emp-guard", "emp-launch", "devnet", "replay",
  "btc-wallet", "btc-wallet create", "btc-wallet import", "btc-wallet address", "btc-wallet xpub", "btc-wallet balance", "btc-wallet utxos", "mint", "deposits", "config", "completion"];
const START = "<!-- help:start: generated from the real --help output; do not edit by hand -->";
const END = "<!-- help:end -->";

const help = (cmd) =>
  execFileSync(process.execPath, [bin, ...(cmd ? cmd.split(" ") : []), "--help"], { env: { ...process.env, NO_COLOR: "1", COLUMNS: "80" } })
    .toString()
    .trimEnd();

const blocks = commands.map((c) => `### keepctl ${c ? `${c} --help` : "--help (global options)"}\n\n\`\`\`\n${help(c)}\n\`\`\`\n`);
const text = fs.readFileSync(doc, "utf8");
const a = text.indexOf(START);
const b = text.indexOf(END);
if (a < 0 || b < a) throw new Error("docs/commands.md: help markers not found");
fs.writeFileSync(doc, `${text.slice(0, a + START.length)}\n\n${blocks.join("\n")}\n${text.slice(b)}`);
console.log(`docs/commands.md: ${commands.length} help blocks written`);
