#!/usr/bin/env node
"use strict";
/*
 * Bakes the git commit into the build (`keepctl --version` prints it): writes
 * dist/src/build-info.json, which `npm pack` ships with the rest of dist/src/. Run by `npm run
 * build:ts` (so also by `npm run build` and the prepare hook). Outside a git checkout (an unpacked
 * tarball, a source archive) the commit is "unknown": a wrong commit would be worse than none.
 * Usage: node scripts/build-info.js [out-file]
 */
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const out = path.resolve(process.argv[2] ?? path.join(root, "dist", "src", "build-info.json"));

const git = (...args) => {
  const r = spawnSync("git", args, { cwd: root, encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
};

// Only the checkout this package sits at the top of: a package unpacked inside some other
// repository (node_modules of a project) must not report that repository's commit.
const top = git("rev-parse", "--show-toplevel");
const inCheckout = top !== undefined && path.resolve(top) === fs.realpathSync(root);
const head = inCheckout ? git("rev-parse", "--short=12", "HEAD") : undefined;
// Tracked files changed since the commit: the build is not exactly that commit.
const dirty = head !== undefined && git("status", "--porcelain", "--untracked-files=no") !== "";

const info = { commit: head ? `${head}${dirty ? "-dirty" : ""}` : "unknown" };
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(info) + "\n");
