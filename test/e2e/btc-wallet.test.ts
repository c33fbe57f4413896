import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bech32 } from "@scure/base";
import { HDKey } from "@scure/bip32";
import { mnemonicToSeedSync, validateMnemonic } from "@scure/bip39";
import { wordlist } from "@scure/bip39/wordlists/english";
import { BIN, buildOnce, cliEnv, runKeepctl, type Run } from "../helpers/cli";

/**
 * `keepctl btc-wallet` through the built binary: the BIP84 vectors come out of import/address/xpub,
 * watch-only keys give the same addresses, files are 0600, and the mnemonic appears nowhere but
 * where it was asked for (the --mnemonic-out file, or once on a terminal). Keys derived in the test
 * straight from @scure/bip32 are the oracle for new wallets.
 */
const ABANDON = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const ZPUB = "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs";
const XPUB = "xpub6CatWdiZiodmUeTDp8LT5or8nmbKNcuyvz7WyksVFkKB4RHwCD3XyuvPEbvqAQY3rAPshWcMLoP2fMFMKHPJ4ZeZXYVUhLv1VMrjPC7PW6V";
const PASSWORD = "correct horse battery staple";
const root = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-btcw-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

let n = 0;
function home(): string {
  const h = path.join(root, `h${n++}`);
  fs.mkdirSync(h, { recursive: true });
  fs.writeFileSync(path.join(h, "pw"), PASSWORD + "\n", { mode: 0o600 });
  fs.writeFileSync(path.join(h, "m.txt"), ABANDON + "\n", { mode: 0o600 });
  // A devnet-shaped deployment file: the Bitcoin network of a chain-31337 run is regtest.
  fs.writeFileSync(path.join(h, "dep.json"), JSON.stringify({ network: "devnet", chainId: 31337, contracts: {} }));
  return h;
}
const run = (h: string, args: string[]) => runKeepctl(args, { home: h });
const all = (r: Run) => r.stdout + r.stderr;
const words = (m: string) => m.split(" ");
/** No run of 4 consecutive words of the phrase appears (a leak need not be the whole phrase). */
function leaksPhrase(text: string, phrase: string): boolean {
  const w = words(phrase);
  for (let i = 0; i + 4 <= w.length; i++) if (text.includes(w.slice(i, i + 4).join(" "))) return true;
  return false;
}

beforeAll(() => buildOnce());

describe("import, address, xpub: the BIP84 vectors through the binary (mainnet)", () => {
  const h = home();
  const ks = path.join(h, "btc.json");
  it("import from a file writes a 0600 keystore and prints the account", async () => {
    const r = await run(h, ["btc-wallet", "import", "--btc-keystore", ks, "--btc-password-file", path.join(h, "pw"), "--mnemonic-file", path.join(h, "m.txt"), "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ network: "mainnet", accountPath: "m/84'/0'/0'", masterFingerprint: "73c5da0a", xpub: XPUB, slip132: ZPUB });
    expect(doc.descriptor).toMatch(/^wpkh\(\[73c5da0a\/84h\/0h\/0h\]xpub6CatWdiZ.*\/<0;1>\/\*\)#[a-z0-9]{8}$/);
    expect(fs.statSync(ks).mode & 0o777).toBe(0o600);
    expect(leaksPhrase(all(r), ABANDON)).toBe(false);
    expect(fs.readFileSync(ks, "utf8")).not.toMatch(/abandon|about/);
  });
  it("address hands out receive 0, then 1 (never the same twice); --change the first change address", async () => {
    const a = await run(h, ["btc-wallet", "address", "--btc-keystore", ks]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toBe("bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu\n");
    const b = await run(h, ["btc-wallet", "address", "--btc-keystore", ks, "--json"]);
    expect(JSON.parse(b.stdout)).toEqual({ address: "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g", network: "mainnet", chain: "receive", index: 1, path: "m/84'/0'/0'/0/1", wallet: "hot", checkedHistory: false, skippedUsed: 0 });
    const c = await run(h, ["btc-wallet", "address", "--change", "--btc-keystore", ks]);
    expect(c.stdout).toBe("bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el\n");
    const counters = fs.readdirSync(path.join(h, "data", "btc-wallet"));
    expect(counters).toHaveLength(1);
    expect(fs.statSync(path.join(h, "data", "btc-wallet", counters[0])).mode & 0o777).toBe(0o600);
  });
  it("xpub --verify unlocks with the password; a wrong one is WRONG_PASSWORD, exit 3", async () => {
    const ok = await run(h, ["btc-wallet", "xpub", "--btc-keystore", ks, "--btc-password-file", path.join(h, "pw"), "--verify", "--json"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ wallet: "hot", xpub: XPUB, slip132: ZPUB, verified: true, accountPath: "m/84'/0'/0'" });
    fs.writeFileSync(path.join(h, "bad"), "Tr0ub4dor&3", { mode: 0o600 });
    const bad = await run(h, ["btc-wallet", "xpub", "--btc-keystore", ks, "--btc-password-file", path.join(h, "bad"), "--verify", "--json"]);
    expect(bad.code).toBe(3);
    expect(JSON.parse(bad.stdout)).toEqual({ error: { code: "WRONG_PASSWORD", message: `wrong password for Bitcoin keystore ${ks}`, hint: "check the password file (one line, the password only)" } });
    expect(all(bad)).not.toContain("Tr0ub4dor&3");
  });
  it("watch-only from the zpub, or from the descriptor xpub prints, gives the same addresses", async () => {
    const w = home();
    expect((await run(w, ["btc-wallet", "address", "--btc-xpub", ZPUB])).stdout).toBe("bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu\n");
    const x = await run(h, ["btc-wallet", "xpub", "--btc-keystore", ks, "--json"]);
    const descriptor = JSON.parse(x.stdout).descriptor as string;
    const d = home();
    const r = await run(d, ["btc-wallet", "address", "--change", "--json"].concat(["--btc-xpub", descriptor]));
    expect(JSON.parse(r.stdout)).toMatchObject({ address: "bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el", wallet: "watch-only", path: "m/84'/0'/0'/1/0" });
    const bare = await run(d, ["btc-wallet", "xpub", "--btc-xpub", ZPUB, "--json"]);
    expect(JSON.parse(bare.stdout)).toMatchObject({ xpub: XPUB, masterFingerprint: null, accountPath: null });
    expect(bare.stderr).toMatch(/origin \(master fingerprint and path\) is unknown/);
  });
});

describe("the devnet's regtest network", () => {
  it("a test-network account (m/84'/1'/0') with bcrt1 addresses", async () => {
    const h = home();
    const ks = path.join(h, "btc.json");
    const r = await run(h, ["--deployment", path.join(h, "dep.json"), "btc-wallet", "import", "--btc-keystore", ks, "--btc-password-file", path.join(h, "pw"), "--mnemonic-file", path.join(h, "m.txt"), "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ network: "regtest", accountPath: "m/84'/1'/0'", slip132: "vpub5Y6cjg78GGuNLsaPhmYsiw4gYX3HoQiRBiSwDaBXKUafCt9bNwWQiitDk5VZ5BVxYnQdwoTyXSs2JHRPAgjAvtbBrf8ZhDYe2jWAqvZVnsc" });
    // The BIP84 testnet address tb1q6rz28… is the same program under regtest's prefix:
    const tb = bech32.decode("tb1q6rz28mcfaxtmd6v789l9rrlrusdprr9pqcpvkl");
    const a = await run(h, ["--deployment", path.join(h, "dep.json"), "btc-wallet", "address", "--btc-keystore", ks]);
    expect(a.stdout.trim()).toBe(bech32.encode("bcrt", tb.words));
    // The mainnet keystore is refused there, naming both networks.
    const main = home();
    await run(main, ["btc-wallet", "import", "--btc-keystore", path.join(main, "k.json"), "--btc-password-file", path.join(main, "pw"), "--mnemonic-file", path.join(main, "m.txt")]);
    const refused = await run(main, ["--deployment", path.join(main, "dep.json"), "btc-wallet", "address", "--btc-keystore", path.join(main, "k.json")]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/^error: Bitcoin keystore .*k\.json is a mainnet key \(xpub\), but the Bitcoin network is regtest$/m);
  });
});

describe("create", () => {
  it("off a terminal: refused without --mnemonic-out, nothing written", async () => {
    const h = home();
    const r = await run(h, ["btc-wallet", "create", "--btc-keystore", path.join(h, "k.json"), "--btc-password-file", path.join(h, "pw")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/shows the new mnemonic only on a terminal, and there is none/);
    expect(fs.existsSync(path.join(h, "k.json"))).toBe(false);
  });
  it("with --mnemonic-out: both files 0600, the words a valid 24-word mnemonic that derives the keystore's xpub, in no output", async () => {
    const h = home();
    const ks = path.join(h, "k.json");
    const out = path.join(h, "words.txt");
    const r = await run(h, ["btc-wallet", "create", "--btc-keystore", ks, "--btc-password-file", path.join(h, "pw"), "--mnemonic-out", out, "--json", "--verbose"]);
    expect(r.code, r.stderr).toBe(0);
    const phrase = fs.readFileSync(out, "utf8").trim();
    expect(words(phrase)).toHaveLength(24);
    expect(validateMnemonic(phrase, wordlist)).toBe(true);
    for (const f of [ks, out]) expect(fs.statSync(f).mode & 0o777).toBe(0o600);
    const expected = HDKey.fromMasterSeed(mnemonicToSeedSync(phrase)).derive("m/84'/0'/0'").publicExtendedKey;
    expect(JSON.parse(r.stdout).xpub).toBe(expected);
    expect(leaksPhrase(all(r), phrase)).toBe(false);
    // Run again: both files exist, neither is touched.
    const again = await run(h, ["btc-wallet", "create", "--btc-keystore", ks, "--btc-password-file", path.join(h, "pw"), "--mnemonic-out", path.join(h, "w2.txt")]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists; keepctl never writes over it/);
    expect(fs.existsSync(path.join(h, "w2.txt"))).toBe(false);
  });
  it("--words 12", async () => {
    const h = home();
    const r = await run(h, ["btc-wallet", "create", "--words", "12", "--btc-keystore", path.join(h, "k.json"), "--btc-password-file", path.join(h, "pw"), "--mnemonic-out", path.join(h, "w.txt")]);
    expect(r.code, r.stderr).toBe(0);
    expect(words(fs.readFileSync(path.join(h, "w.txt"), "utf8").trim())).toHaveLength(12);
  });
});

describe("secrets stay out of output, --verbose included", () => {
  it("a mnemonic with a bad checksum: BAD_MNEMONIC, exit 2, the words nowhere, even in the stack trace", async () => {
    const h = home();
    const bad = ABANDON.replace(/about$/, "abandon");
    fs.writeFileSync(path.join(h, "m.txt"), bad);
    const r = await run(h, ["btc-wallet", "import", "--verbose", "--btc-keystore", path.join(h, "k.json"), "--btc-password-file", path.join(h, "pw"), "--mnemonic-file", path.join(h, "m.txt")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: the mnemonic's checksum does not match/);
    expect(r.stderr).toMatch(/\s+at /); // the stack trace was printed
    expect(leaksPhrase(all(r), bad)).toBe(false);
    expect(all(r)).not.toContain(PASSWORD);
  });
});

const hasScript = spawnSync("script", ["--version"]).status === 0;

/**
 * Runs the binary on a pty (util-linux `script`) and types each answer only once its prompt is on
 * the screen, as a person would (answers typed ahead all go to the first prompt).
 */
function onTerminal(h: string, args: string[], answers: { after: string; type: string }[]): Promise<{ code: number | null; screen: string }> {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const child = spawn("script", ["-qec", `stty cols 200; exec ${quoted}`, "/dev/null"], { cwd: h, env: { ...cliEnv({ home: h }), TERM: "xterm" }, stdio: ["pipe", "pipe", "pipe"] });
  let screen = "";
  let next = 0;
  let typedUpTo = 0;
  const feed = () => {
    while (next < answers.length) {
      const at = screen.indexOf(answers[next].after, typedUpTo);
      if (at < 0) return;
      typedUpTo = at + answers[next].after.length;
      child.stdin.write(answers[next++].type);
    }
    child.stdin.end();
  };
  child.stdout.on("data", (d) => { screen += String(d).replace(/\r/g, ""); feed(); });
  feed();
  const timer = setTimeout(() => child.kill("SIGKILL"), 110_000);
  return new Promise((resolve) => child.on("close", (code) => { clearTimeout(timer); resolve({ code, screen }); }));
}

describe.skipIf(!hasScript)("on a terminal", () => {
  it("create: the password asked twice (masked), the 24 words shown once, deriving the keystore's xpub", async () => {
    const h = home();
    const ks = path.join(h, "k.json");
    const r = await onTerminal(h, ["btc-wallet", "create", "--btc-keystore", ks], [
      { after: "New password for Bitcoin keystore", type: `${PASSWORD}\n` },
      { after: "The same password again:", type: `${PASSWORD}\n` },
    ]);
    expect(r.code, r.screen).toBe(0);
    expect(r.screen).not.toContain(PASSWORD);
    expect(r.screen).toContain("WRITE THESE 24 WORDS DOWN");
    const shown = [...r.screen.matchAll(/\b(\d{1,2})\. ([a-z]+)/g)].map((m) => [Number(m[1]), m[2]] as const);
    expect(shown.map(([i]) => i)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    const phrase = shown.map(([, w]) => w).join(" ");
    expect(validateMnemonic(phrase, wordlist)).toBe(true);
    const xpub = HDKey.fromMasterSeed(mnemonicToSeedSync(phrase)).derive("m/84'/0'/0'").publicExtendedKey;
    expect(JSON.parse(fs.readFileSync(ks, "utf8")).accountXpub).toBe(xpub);
    // and the keystore opens with the password typed
    fs.writeFileSync(path.join(h, "pw2"), PASSWORD, { mode: 0o600 });
    expect((await run(h, ["btc-wallet", "xpub", "--verify", "--btc-keystore", ks, "--btc-password-file", path.join(h, "pw2")])).code).toBe(0);
  }, 120_000);
  it("create: two different passwords write nothing", async () => {
    const h = home();
    const ks = path.join(h, "k.json");
    const r = await onTerminal(h, ["btc-wallet", "create", "--btc-keystore", ks], [
      { after: "New password for Bitcoin keystore", type: `${PASSWORD}\n` },
      { after: "The same password again:", type: "something else entirely\n" },
    ]);
    expect(r.code).toBe(2);
    expect(r.screen).toMatch(/error: the two passwords differ; nothing was written/);
    expect(r.screen).not.toContain("WRITE THESE");
    expect(fs.existsSync(ks)).toBe(false);
  }, 120_000);
  it("import: the mnemonic and the password from hidden prompts, neither echoed", async () => {
    const h = home();
    const ks = path.join(h, "k.json");
    const r = await onTerminal(h, ["btc-wallet", "import", "--btc-keystore", ks], [
      { after: "Mnemonic (the words, separated by spaces):", type: `${ABANDON}\n` },
      { after: "New password for Bitcoin keystore", type: `${PASSWORD}\n` },
      { after: "The same password again:", type: `${PASSWORD}\n` },
    ]);
    expect(r.code, r.screen).toBe(0);
    expect(leaksPhrase(r.screen, ABANDON)).toBe(false);
    expect(r.screen).not.toContain(PASSWORD);
    expect(JSON.parse(fs.readFileSync(ks, "utf8")).accountXpub).toBe(XPUB);
  }, 120_000);
  it("the input ends at a prompt: exit 130, nothing written", async () => {
    const h = home();
    const ks = path.join(h, "k.json");
    const r = await onTerminal(h, ["btc-wallet", "create", "--btc-keystore", ks], [{ after: "New password for Bitcoin keystore", type: "\u0003" }]);
    expect(r.code, r.screen).toBe(130);
    expect(fs.existsSync(ks)).toBe(false);
  }, 120_000);
});
