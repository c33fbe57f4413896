import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOnce, runKeepctl, type Run } from "../helpers/cli";
import { blockAt, nowSec, startRpcDouble, startStatusServer, closedPort, type RpcAnswer, type RpcCall, type StatusServer } from "../helpers/rpc-double";
import { type Devnet, startDevnet } from "../../src/devnet/scenario";
import { PACKAGE_ROOT } from "../../src/devnet/node";
import { deployUniswap } from "../../src/devnet/uniswap";
import { APIKEY, TABLE, type Backend, type Case } from "./bad-input.cases";
import { encryptKeystore } from "../../src/lib/btc/wallet/keystore";

/**
 * Every row of the bad-input TABLE through the built binary: the exit code, one `error:` line (and
 * the hint) on stderr with no stack trace, nothing sent (the key's nonce read from the devnet, and
 * no eth_sendRawTransaction at any double), no secret in the output; a second pass with --json
 * over a subset; and docs/exit-codes.md documents every exit code and error code the table expects.
 *
 * Rows without a chain run first, while the devnet boots; chain rows wait for it.
 */
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-bad-"));
const deploymentFile = path.join(home, "deployment.json");
const CONCURRENCY = 4;
const isRoot = process.getuid?.() === 0;
// BAD_INPUT_ONLY=regex runs only the rows whose name matches (to check new rows on a busy machine).
const only = process.env.BAD_INPUT_ONLY ? new RegExp(process.env.BAD_INPUT_ONLY) : undefined;
const rows = TABLE.filter((r) => !(r.needsNonRoot && isRoot) && (!only || only.test(r.name)));

const EOA = ethers.Wallet.createRandom().address;
const keys = rows.map(() => ethers.Wallet.createRandom());
const urls = new Map<Backend, string>();
const seenMethods: string[] = [];
/** Every JSON-RPC method any double or status server received. */
const methodLogs: string[][] = [seenMethods];
const closers: (() => Promise<void>)[] = [];
let devnet: Devnet | undefined;
let devnetReady: Promise<Devnet>;

interface Outcome { run: Run; argv: string[]; env: Record<string, string>; nonceBefore?: number; nonceAfter?: number }
const human = new Map<number, Outcome>();
const json = new Map<number, Outcome>();

const needsDevnet = (r: Case) =>
  r.backend === "devnet" || r.backend === "devnetProxy" || JSON.stringify([r.argv, r.env ?? {}, r.files ?? []]).match(/\$(DEP|A:)/) !== null;
/** The JSON pass: every fifth row, plus the first row of each error code (so each code is checked against the docs). */
const jsonRows = new Set<number>();
{
  const seen = new Set<string>();
  rows.forEach((r, i) => {
    if (r.noJson) return;
    if (i % 5 === 0 || !seen.has(r.code)) jsonRows.add(i);
    seen.add(r.code);
  });
}

function subst(s: string, i: number): string {
  const key = keys[i];
  return s
    .replaceAll("$DIR", rowDir(i))
    .replaceAll("$DEP", deploymentFile)
    .replaceAll("$KEYHEX", key.privateKey.slice(2))
    .replaceAll("$KEY", key.privateKey)
    .replaceAll("$EOA", EOA)
    .replaceAll("$OP", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
    .replace(/\$A:([\w-]+)/g, (_, name: string) => {
      const a = devnet?.file.contracts[name as keyof typeof devnet.file.contracts];
      if (!a) throw new Error(`no devnet contract ${name}`);
      return a;
    });
}

const rowDir = (i: number) => path.join(home, `row${i}`);
const usesKey = (r: Case) => JSON.stringify([r.argv, r.env ?? {}, r.files ?? []]).includes("$KEY") || (r.files ?? []).some((f) => f.keystorePassword);

async function prepareFiles(r: Case, i: number, dir: string): Promise<void> {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const f of r.files ?? []) {
    const p = path.join(dir, f.name);
    if (f.dir) fs.mkdirSync(p, { recursive: true });
    else if (f.btcKeystore) {
      const b = f.btcKeystore;
      const doc = await encryptKeystore(b.mnemonic, b.password, b.network);
      if (b.tamper) doc.crypto.ciphertext = (doc.crypto.ciphertext[0] === "0" ? "1" : "0") + doc.crypto.ciphertext.slice(1);
      fs.writeFileSync(p, JSON.stringify(doc));
    } else if (f.keystorePassword !== undefined) {
      const k = keys[i];
      fs.writeFileSync(p, await ethers.encryptKeystoreJson({ address: k.address, privateKey: k.privateKey }, f.keystorePassword, { scrypt: { N: 1024 } }));
    } else fs.writeFileSync(p, subst(f.text ?? "", i));
    if (f.mode !== undefined) fs.chmodSync(p, f.mode);
  }
}

async function runRow(i: number, withJson: boolean): Promise<Outcome> {
  const r = rows[i];
  const chain = needsDevnet(r) ? await devnetReady : undefined;
  const dir = withJson ? `${rowDir(i)}-json` : rowDir(i);
  await prepareFiles(r, i, dir);
  const prefix = r.backend === "devnet" ? ["--deployment", deploymentFile] : r.backend === "none" ? [] : ["--rpc-url", urls.get(r.backend)!];
  const argv = [...prefix, ...r.argv.map((a) => subst(a, i).replaceAll(rowDir(i), dir)), ...(withJson ? ["--json"] : [])];
  const env: Record<string, string> = { KEEPCTL_RPC_RETRIES: "1", KEEPCTL_RPC_TIMEOUT_MS: "5000" };
  for (const [k, v] of Object.entries(r.env ?? {})) env[k] = subst(v, i).replaceAll(rowDir(i), dir);
  const key = keys[i];
  const counted = !!chain && usesKey(r);
  let nonceBefore: number | undefined;
  if (counted) {
    // Funded, so that a send would go through if keepctl tried one: the nonce is what tells.
    await chain.provider.send("hardhat_setBalance", [key.address, ethers.toQuantity(ethers.parseEther("10"))]);
    nonceBefore = await chain.provider.getTransactionCount(key.address, "pending");
  }
  const run = await runKeepctl(argv, { home: dir, env });
  const nonceAfter = counted ? await chain.provider.getTransactionCount(key.address, "pending") : undefined;
  return { run, argv, env, nonceBefore, nonceAfter };
}

async function pool(tasks: (() => Promise<void>)[], n: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < tasks.length) await tasks[next++]();
  }));
}

async function double(backend: Backend, answer: (c: RpcCall) => RpcAnswer, upstream?: string): Promise<void> {
  const d = await startRpcDouble((c) => {
    seenMethods.push(c.method);
    return answer(c);
  }, upstream);
  closers.push(d.close);
  urls.set(backend, `${d.url}/v3/${APIKEY}`);
}

async function startDoubles(): Promise<void> {
  const notHere = { error: { code: -32601, message: "method not found" } };
  const fresh = () => blockAt(20_000_000, nowSec());
  const mainnet = (block: () => unknown, other: (c: RpcCall) => RpcAnswer = () => notHere) => (c: RpcCall): RpcAnswer =>
    c.method === "eth_chainId" ? { result: "0x1" } : c.method === "eth_getBlockByNumber" ? { result: block() } : other(c);
  await double("junk", mainnet(() => ({ ...fresh(), number: "block NaN" })));
  await double("nodeError", (c) => (c.method === "eth_chainId" ? { result: "0x1" } : { error: { code: -32000, message: "header not found" } }));
  await double("callError", mainnet(fresh, (c) =>
    c.method === "eth_getCode" ? { result: "0x6080" } : c.method === "eth_call" ? { error: { code: -32000, message: "missing trie node 1234" } } : notHere));
  await double("wrongChain", (c) => (c.method === "eth_chainId" ? { result: "0x5" } : c.method === "eth_getBlockByNumber" ? { result: fresh() } : notHere));
  await double("badChainId", (c) => (c.method === "eth_chainId" ? { result: "banana" } : c.method === "eth_getBlockByNumber" ? { result: fresh() } : notHere));
  await double("stale", mainnet(() => blockAt(20_000_000, nowSec() - 7200), (c) => (c.method === "eth_getCode" ? { result: "0x6080" } : notHere)));
  await double("future", mainnet(() => blockAt(20_000_000, nowSec() + 86_400)));
  for (const [backend, status] of [["http500", 500], ["http401", 401]] as const) {
    const s: StatusServer = await startStatusServer(status);
    closers.push(s.close);
    urls.set(backend, `${s.url}/v3/${APIKEY}`);
    methodLogs.push(s.methods);
  }
  urls.set("dead", `http://127.0.0.1:${await closedPort()}/v3/${APIKEY}`);
}

beforeAll(async () => {
  buildOnce();
  await startDoubles();
  devnetReady = startDevnet({ out: deploymentFile, rai: true, emp: true }).then(async (d) => {
    devnet = d;
    // A real Router02 over a factory that lists no TBTC/WETH pair (the "no pool" rows).
    const bare = await deployUniswap(d.deployment, "none");
    Object.assign(d.file.contracts, { "x-NoPairRouter": bare.addresses.UniswapV2Router02, "x-NoPairFactory": bare.addresses.UniswapV2Factory });
    await double("devnetProxy", () => ({ forward: true }), d.rpcUrl);
    return d;
  });
  devnetReady.catch(() => undefined);
  const order = rows.map((_, i) => i).sort((a, b) => Number(needsDevnet(rows[a])) - Number(needsDevnet(rows[b])));
  const tasks = order.flatMap((i) => [
    async () => void human.set(i, await runRow(i, false)),
    ...(jsonRows.has(i) ? [async () => void json.set(i, await runRow(i, true))] : []),
  ]);
  await pool(tasks, CONCURRENCY);
}, 900_000); // ~460 rows on two shared cores: 600 s ran out under a load average of 20+

afterAll(async () => {
  // BAD_INPUT_DUMP=file: every run's argv, exit code and output, to read when a row fails.
  if (process.env.BAD_INPUT_DUMP) {
    const dump = [...human, ...json].map(([i, o]) => ({ row: rows[i].name, argv: o.argv, code: o.run.code, stdout: o.run.stdout, stderr: o.run.stderr }));
    fs.writeFileSync(process.env.BAD_INPUT_DUMP, JSON.stringify(dump, null, 1));
  }
  for (const c of closers) await c();
  await devnet?.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

/** Secrets of a row: its own list, its key in both forms, its keystore passwords, the API key of every URL. */
function secretsOf(r: Case, i: number): string[] {
  const out = (r.secrets ?? []).map((s) => subst(s, i));
  if (usesKey(r)) out.push(keys[i].privateKey, keys[i].privateKey.slice(2));
  for (const f of r.files ?? []) if (f.keystorePassword) out.push(f.keystorePassword);
  for (const f of r.files ?? []) if (f.btcKeystore) out.push(f.btcKeystore.password, f.btcKeystore.mnemonic);
  const pk = r.env?.KEEPCTL_PRIVATE_KEY;
  if (pk && !pk.includes("$KEY")) out.push(pk, ...(pk.length >= 40 ? [pk.replace(/^0x/, "")] : []));
  if (r.backend !== "none" && r.backend !== "devnet") out.push(APIKEY);
  return out;
}

const STACK = /^\s+at\s|^\w*Error:|^\s*\{?\s*code: '|internal error|and report it/m;

function checkStderr(r: Case, o: Outcome): void {
  const { stderr } = o.run;
  expect(stderr, "a stack trace or an internal error").not.toMatch(STACK);
  const lines = stderr.replace(/\n$/, "").split("\n");
  if (r.shape === "loop") {
    // watch's log is stdout: the loop's failure is logged there, and ends on stderr as an error line.
    const failed = o.run.stdout.split("\n").map((l) => /^\S+Z WARN loop 1 failed: (.*)$/.exec(l)?.[1]).find((m) => m !== undefined);
    expect(failed, `no "loop 1 failed:" line in:\n${o.run.stdout}`).toBeDefined();
    expect(failed).toMatch(r.error);
  }
  expect(lines[0], `stderr:\n${stderr}`).toMatch(/^error: /);
  expect(lines[0].slice("error: ".length)).toMatch(r.error);
  if (r.shape === "commander") {
    // commander's shape: its own suggestion line when it has one (the row's hint), then the pointer to --help.
    expect(lines[lines.length - 1]).toBe("(run with --help for usage)");
    if (r.hint) {
      expect(lines).toHaveLength(3);
      expect(lines[1]).toMatch(r.hint);
    } else expect(lines).toHaveLength(2);
  } else if (r.hint) {
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^hint: /);
    expect(lines[1].slice("hint: ".length)).toMatch(r.hint);
  } else {
    expect(lines, "one line, no hint").toHaveLength(1);
  }
}

function checkCommon(r: Case, i: number, o: Outcome): void {
  expect(o.run.code, `argv ${JSON.stringify(o.argv)}\nstderr:\n${o.run.stderr}stdout:\n${o.run.stdout}`).toBe(r.exit);
  const all = o.run.stdout + o.run.stderr;
  for (const s of secretsOf(r, i)) expect(all.includes(s), `secret ${s.slice(0, 6)}… in the output:\n${all}`).toBe(false);
  if (o.nonceBefore !== undefined) expect(o.nonceAfter, "the key's nonce moved: something was sent").toBe(o.nonceBefore);
}

describe("bad input: exit code, one error line, hint, nothing sent, no secret", () => {
  it("has at least 150 rows, with unique names", () => {
    if (!only) expect(rows.length).toBeGreaterThanOrEqual(150);
    expect(new Set(rows.map((r) => r.name)).size).toBe(rows.length);
  });

  it.each(rows.map((r, i) => [r.name, i] as const))("%s", (_name, i) => {
    const r = rows[i];
    const o = human.get(i)!;
    checkCommon(r, i, o);
    checkStderr(r, o);
    if (r.shape !== "loop") expect(o.run.stdout, "stdout stays empty on an error").toBe("");
  });
});

describe("bad input with --json: exactly one document with error.code", () => {
  it.each([...jsonRows].map((i) => [rows[i].name, i] as const))("%s", (_name, i) => {
    const r = rows[i];
    const o = json.get(i)!;
    checkCommon(r, i, o);
    const docs = o.run.stdout.trim().split("\n");
    expect(docs, o.run.stdout).toHaveLength(1);
    const doc = JSON.parse(docs[0]) as { error: { code: string; message: string; hint?: string } };
    expect(Object.keys(doc)).toEqual(["error"]);
    expect(doc.error.code).toBe(r.code);
    expect(doc.error.message).toMatch(r.error);
    if (r.hint && r.shape !== "commander") expect(doc.error.hint).toMatch(r.hint);
    else expect(doc.error).not.toHaveProperty("hint");
  });

  it("no double ever received a transaction", () => {
    const all = methodLogs.flat();
    if (!only) expect(all.length, "the doubles were asked nothing: the rows did not reach them").toBeGreaterThan(0);
    expect(all.filter((m) => m === "eth_sendRawTransaction" || m === "eth_sendTransaction")).toEqual([]);
  });
});

describe("docs/exit-codes.md agrees with the table", () => {
  const doc = fs.readFileSync(path.join(PACKAGE_ROOT, "docs", "exit-codes.md"), "utf8");
  const exitCodes = new Map<number, string>();
  for (const m of doc.matchAll(/^\| (\d+) \| ([A-Z_]+) \|/gm)) exitCodes.set(Number(m[1]), m[2]);
  const errorCodes = new Map<string, Set<number>>();
  for (const m of doc.matchAll(/^\| `([A-Z_]+)` \| (\d+) \|/gm)) {
    if (!errorCodes.has(m[1])) errorCodes.set(m[1], new Set());
    errorCodes.get(m[1])!.add(Number(m[2]));
  }

  it("parses both tables", () => {
    expect(exitCodes.get(0)).toBe("OK");
    expect(exitCodes.get(2)).toBe("USAGE");
    expect(errorCodes.get("USAGE")).toEqual(new Set([2]));
  });

  it("documents every exit code the table expects", () => {
    const missing = [...new Set(rows.map((r) => r.exit))].filter((n) => !exitCodes.has(n));
    expect(missing).toEqual([]);
  });

  it("documents every error code the table expects, with the same exit code", () => {
    const wrong = rows.filter((r) => !errorCodes.get(r.code)?.has(r.exit)).map((r) => `${r.name}: ${r.code} -> ${r.exit} (docs: ${[...(errorCodes.get(r.code) ?? [])].join(",") || "none"})`);
    expect(wrong).toEqual([]);
  });
});
