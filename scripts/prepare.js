#!/usr/bin/env node
"use strict";
/*
 * npm's `prepare` hook (runs after `npm ci` / `npm install` in a checkout, and before `npm pack`).
 * A development install has Hardhat and TypeScript: compile the Solidity test doubles, then
 * build dist/ with tsc (what `npm run build` does). A production install (`npm ci --omit=dev`)
 * has neither: the runtime needs no compiled contract (the multicall creation code is embedded in
 * src/lib/chain/multicall.ts), so it skips both and uses the dist/ it was given; without one it
 * stops with what to do instead of npm's bare "hardhat: not found" (exit 127).
 */
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const has = (pkg) => {
  try {
    require.resolve(`${pkg}/package.json`, { paths: [root] });
    return true;
  } catch {
    return false;
  }
};
// Through npm, so node_modules/.bin is on PATH exactly as in `npm run build`.
const npm = process.env.npm_execpath;
const run = (script) => {
  const r = npm && npm.endsWith(".js")
    ? spawnSync(process.execPath, [npm, "run", "-s", script], { cwd: root, stdio: "inherit" })
    : spawnSync("npm", ["run", "-s", script], { cwd: root, stdio: "inherit", shell: process.platform === "win32" });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

if (has("hardhat")) run("compile:contracts");
else console.error("keepctl prepare: hardhat not installed (production install): skipping the Solidity test doubles");

if (has("typescript")) run("build:ts");
else if (fs.existsSync(path.join(root, "dist", "src", "cli.js"))) console.error("keepctl prepare: typescript not installed: using the dist/ already built");
else {
  console.error(
    "keepctl prepare: no dist/ and no TypeScript to build it. A production install needs a built package:\n" +
      "  npm pack in a development checkout (npm ci && npm pack), then npm install -g ./keepctl-<version>.tgz\n" +
      "or build here first with the dev dependencies (npm ci && npm run build), then npm ci --omit=dev.",
  );
  process.exit(1);
}
