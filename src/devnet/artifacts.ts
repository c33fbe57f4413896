import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { ethers } from "ethers";
import { PACKAGE_ROOT } from "./node";

/** ABI + creation bytecode, ready to deploy (libraries already linked). */
export interface Deployable {
  contractName: string;
  abi: ethers.InterfaceAbi;
  bytecode: string;
}

interface TruffleArtifact {
  contractName: string;
  abi: ethers.InterfaceAbi;
  bytecode: string;
  networks?: Record<string, { address?: string; links?: Record<string, string> }>;
}

const TBTC_ARTIFACTS = "node_modules/@keep-network/tbtc/artifacts";
const PLACEHOLDER = /__\$([0-9a-f]{34})\$__/g;

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, "utf8")) as T;
}

const tbtcCache = new Map<string, TruffleArtifact>();

/** A tBTC v1.1.0 artifact as published on npm (bytecode may still hold library placeholders). */
export function tbtcArtifact(name: string): TruffleArtifact {
  let a = tbtcCache.get(name);
  if (!a) {
    a = readJson<TruffleArtifact>(path.join(PACKAGE_ROOT, TBTC_ARTIFACTS, `${name}.json`));
    tbtcCache.set(name, a);
  }
  return a;
}

/** ABI of a real tBTC contract, straight from its artifact. */
export function tbtcAbi(name: string): ethers.InterfaceAbi {
  return tbtcArtifact(name).abi;
}

/**
 * Replaces each `__$<34 hex>$__` placeholder with the address of the library we deployed.
 * The artifacts do not name the library behind a placeholder; their mainnet `networks["1"].links`
 * map placeholder -> mainnet address, and each library artifact carries its own mainnet address,
 * so placeholder -> mainnet address -> library name -> our address.
 */
export function linkTbtc(name: string, deployedLibraries: Record<string, string>): Deployable {
  const art = tbtcArtifact(name);
  const links = art.networks?.["1"]?.links ?? {};
  const libraryByMainnetAddress = new Map<string, string>();
  for (const lib of Object.keys(deployedLibraries)) {
    const mainnet = tbtcArtifact(lib).networks?.["1"]?.address;
    if (mainnet) libraryByMainnetAddress.set(mainnet.toLowerCase(), lib);
  }
  const bytecode = art.bytecode.replace(PLACEHOLDER, (_m, hash: string) => {
    const key = Object.keys(links).find((k) => k.replace(/\\/g, "") === `$${hash}$`);
    const mainnet = key ? links[key] : undefined;
    const lib = mainnet ? libraryByMainnetAddress.get(mainnet.toLowerCase()) : undefined;
    if (!lib) throw new Error(`cannot link ${name}: no deployed library for placeholder ${hash}`);
    return deployedLibraries[lib].toLowerCase().replace(/^0x/, "");
  });
  return { contractName: art.contractName, abi: art.abi, bytecode };
}

const doubleCache = new Map<string, Deployable>();

/** A test double compiled from contracts/tbtc/ by `npx hardhat compile`. */
export function doubleArtifact(name: string): Deployable {
  const cached = doubleCache.get(name);
  if (cached) return cached;
  const file = path.join(PACKAGE_ROOT, "artifacts/contracts/tbtc", `${name}.sol`, `${name}.json`);
  if (!fs.existsSync(file)) compileDoubles();
  if (!fs.existsSync(file)) {
    throw new Error(`missing compiled test double ${name}: run \`npx hardhat compile\` in ${PACKAGE_ROOT}`);
  }
  const a = readJson<{ contractName: string; abi: ethers.InterfaceAbi; bytecode: string }>(file);
  const d = { contractName: a.contractName, abi: a.abi, bytecode: a.bytecode };
  doubleCache.set(name, d);
  return d;
}

/** A fresh checkout has no artifacts yet: compile contracts/ once with the project's Hardhat. */
function compileDoubles(): void {
  const cli = require.resolve("hardhat/internal/cli/cli.js", { paths: [PACKAGE_ROOT] });
  spawnSync(process.execPath, [cli, "compile", "--quiet", "--config", path.join(PACKAGE_ROOT, "hardhat.config.ts")], {
    cwd: PACKAGE_ROOT,
    stdio: "ignore",
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" },
    timeout: 180_000,
  });
}
