import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { Wallet, encryptKeystoreJson } from "ethers";
import { appendPrivateFile, ensurePrivateDir, writePrivateFile } from "../../src/lib/fs-safe";
import { AuditLog } from "../../src/lib/audit";
import { cacheFile, emptyCache, loadCache, saveCache } from "../../src/lib/tbtc/read/cache";
import { checkKeyFilePerms, keyFilePermProblems, loadWallet } from "../../src/lib/chain/wallet";
import { ConfigError, ExitCode } from "../../src/lib/errors";

/** keepctl's own files under umask 000: still 0700 dirs and 0600 files. Key files: warned about or refused. */
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-modes-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const mode = (p: string) => fs.statSync(p).mode & 0o777;
let n = 0;
const fresh = () => path.join(tmp, String(n++));

describe("private files whatever the umask", () => {
  let old: number;
  beforeEach(() => {
    old = process.umask(0);
  });
  afterEach(() => {
    process.umask(old);
  });

  it("the umask really is 0 here (so the modes below are not the umask's doing)", () => {
    const p = path.join(tmp, `plain-${n++}`);
    fs.writeFileSync(p, "x", { mode: 0o666 });
    expect(mode(p)).toBe(0o666);
  });

  it("ensurePrivateDir creates the dir and its missing parents 0700, and leaves an existing parent alone", () => {
    const base = fresh();
    fs.mkdirSync(base, { mode: 0o755 });
    const dir = path.join(base, "a", "b");
    ensurePrivateDir(dir);
    expect([mode(path.join(base, "a")), mode(dir), mode(base)]).toEqual([0o700, 0o700, 0o755]);
    // An existing directory the user chose keeps its mode.
    ensurePrivateDir(base);
    expect(mode(base)).toBe(0o755);
  });

  it("writePrivateFile and appendPrivateFile give 0600, also to a file that existed 0666", () => {
    const dir = path.join(fresh(), "data");
    const f = path.join(dir, "x.json");
    writePrivateFile(f, "{}");
    expect([mode(dir), mode(f), fs.readFileSync(f, "utf8")]).toEqual([0o700, 0o600, "{}"]);
    const g = path.join(dir, "log");
    fs.writeFileSync(g, "old\n", { mode: 0o666 });
    appendPrivateFile(g, "new\n");
    expect([mode(g), fs.readFileSync(g, "utf8")]).toEqual([0o600, "old\nnew\n"]);
  });

  it("the scan cache and the audit log: data dir 0700, files 0600", () => {
    const dataDir = path.join(fresh(), "keepctl-data");
    const key = { chainId: 1, factory: "0x" + "aa".repeat(20), system: "0x" + "bb".repeat(20), startBlock: 5 };
    const file = cacheFile(dataDir, key);
    saveCache(file, { ...emptyCache(key), lastBlock: 99 });
    expect([mode(dataDir), mode(path.dirname(file)), mode(file)]).toEqual([0o700, 0o700, 0o600]);
    expect(loadCache(file, key).lastBlock).toBe(99);
    const audit = AuditLog.open(path.join(fresh(), "d2"));
    audit.record("redeem", { hash: "0x" + "12".repeat(32) });
    expect([mode(path.dirname(audit.file)), mode(audit.file)]).toEqual([0o700, 0o600]);
    expect(JSON.parse(fs.readFileSync(audit.file, "utf8")).hash).toBe("0x" + "12".repeat(32));
  });

  it("a cache others can write is not trusted: it is read as empty (a rescan) and replaced 0600", () => {
    const dataDir = fresh();
    const key = { chainId: 1, factory: "0x" + "aa".repeat(20), system: "0x" + "bb".repeat(20), startBlock: 5 };
    const file = cacheFile(dataDir, key);
    saveCache(file, { ...emptyCache(key), lastBlock: 99 });
    fs.chmodSync(file, 0o666);
    expect(loadCache(file, key).lastBlock).toBe(4);
    fs.chmodSync(file, 0o600);
    expect(loadCache(file, key).lastBlock).toBe(99);
  });
});

describe("key file permissions", () => {
  const PASSWORD = "correct horse";
  let dir: string;
  let keystore: string;
  let pw: string;
  beforeEach(async () => {
    dir = fresh();
    fs.mkdirSync(dir);
    keystore = path.join(dir, "ks.json");
    pw = path.join(dir, "pw");
    const w = new Wallet("0x" + "42".repeat(32));
    fs.writeFileSync(keystore, await encryptKeystoreJson({ address: w.address, privateKey: w.privateKey }, PASSWORD, { scrypt: { N: 1 << 10 } }), { mode: 0o600 });
    fs.writeFileSync(pw, PASSWORD, { mode: 0o600 });
  }, 60_000);

  it("0600 files raise nothing", () => {
    expect(keyFilePermProblems({ keystore, passwordFile: pw })).toEqual([]);
  });

  it("a file readable by group or others is a warning naming it and its mode", () => {
    fs.chmodSync(keystore, 0o644);
    fs.chmodSync(pw, 0o640);
    const warned: string[] = [];
    checkKeyFilePerms({ keystore, passwordFile: pw }, (m) => warned.push(m));
    expect(warned).toEqual([
      `keystore ${keystore} is open to group/others (mode 0644); run chmod 600 on it`,
      `password file ${pw} is open to group/others (mode 0640); run chmod 600 on it`,
    ]);
  });

  it("with strictPerms it is a config error, raised before the keystore is read", async () => {
    fs.chmodSync(pw, 0o604);
    const e = (() => { try { checkKeyFilePerms({ keystore, passwordFile: pw, strictPerms: true }, () => undefined); } catch (x) { return x; } })() as ConfigError;
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.exitCode).toBe(ExitCode.CONFIG);
    expect(e.message).toBe(`password file ${pw} is open to group/others (mode 0604); run chmod 600 on it`);
    const viaLoad = await loadWallet({ keystorePath: keystore, passwordFile: pw, interactive: false, strictPerms: true }, null).then(() => null, (x) => x);
    expect(viaLoad).toBeInstanceOf(ConfigError);
    const warned: string[] = [];
    const w = await loadWallet({ keystorePath: keystore, passwordFile: pw, interactive: false, onWarning: (m) => warned.push(m) }, null);
    expect(w.address).toBe(new Wallet("0x" + "42".repeat(32)).address);
    expect(warned).toHaveLength(1);
  }, 60_000);

  it("loadWallet refuses a keystore and a raw key together instead of picking one", async () => {
    const e = await loadWallet({ keystorePath: keystore, passwordFile: pw, privateKeyFromEnv: "0x" + "43".repeat(32), interactive: false }, null).then(() => null, (x) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).toMatch(/both a keystore and KEEPCTL_PRIVATE_KEY/);
  });
});
