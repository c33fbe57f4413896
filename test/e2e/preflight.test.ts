import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOnce, runKeepctl } from "../helpers/cli";
import { blockAt, nowSec, startRpcDouble, type RpcAnswer, type RpcCall, type RpcDouble } from "../helpers/rpc-double";
import { type Devnet, startDevnet } from "../../src/devnet/scenario";

/**
 * Truthful under misconfiguration: wrong contract addresses, a start block past the head, and
 * endpoints that answer junk, errors or a stale head never pass for "nothing at risk".
 */
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-pre-"));
const deploymentFile = path.join(home, "deployment.json");
let devnet: Devnet;
const doubles: RpcDouble[] = [];

const keepctl = (args: string[], env: Record<string, string> = {}) => runKeepctl(args, { home, env: { KEEPCTL_RPC_RETRIES: "1", ...env } });
const dep = (args: string[], env: Record<string, string> = {}) => keepctl([...args, "--deployment", deploymentFile], env);
const nobody = "0x00000000000000000000000000000000000a11ce";

async function double(answer: (c: RpcCall) => RpcAnswer, upstream?: string): Promise<RpcDouble> {
  const d = await startRpcDouble(answer, upstream);
  doubles.push(d);
  return d;
}

/** A mainnet-id endpoint (no deployment file needed) whose latest block is `block`. */
const mainnetDouble = (block: unknown, other: (c: RpcCall) => RpcAnswer = () => ({ error: { code: -32601, message: "not in this double" } })) =>
  double((c) => (c.method === "eth_chainId" ? { result: "0x1" } : c.method === "eth_getBlockByNumber" ? { result: block } : other(c)));

beforeAll(async () => {
  buildOnce();
  devnet = await startDevnet({ out: deploymentFile });
}, 600_000);

afterAll(async () => {
  for (const d of doubles) await d.close();
  await devnet?.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

/** One-line error on stderr (plus an optional hint line). */
function errorLine(stderr: string): string {
  const lines = stderr.trim().split("\n");
  expect(lines.length).toBeLessThanOrEqual(2);
  if (lines[1]) expect(lines[1]).toMatch(/^hint: /);
  return lines[0];
}

describe("configured addresses that are not their contracts", () => {
  it("TBTCSystem set to an account: exit 3 naming the contract", async () => {
    const eoa = ethers.Wallet.createRandom().address;
    const r = await dep(["check"], { KEEPCTL_CONTRACTS: `TBTCSystem=${eoa}` });
    expect(r.code).toBe(3);
    expect(errorLine(r.stderr)).toBe(`error: no contract at TBTCSystem address ${eoa}`);
    expect(r.stderr).toMatch(/hint: check contracts\.TBTCSystem in the deployment file/);
  });

  it("the keep factory set to an ERC-20 (the TBTCToken): exit 3, list-keeps and check", async () => {
    const token = devnet.deployment.addresses.TBTCToken;
    for (const cmd of ["list-keeps", "check"]) {
      const r = await dep([cmd, "--json"], { KEEPCTL_CONTRACTS: `BondedECDSAKeepFactory=${token}` });
      expect(r.code).toBe(3);
      const doc = JSON.parse(r.stdout);
      expect(doc.error.code).toBe("WRONG_CONTRACT");
      expect(doc.error.message).toBe(`BondedECDSAKeepFactory address ${token} is not a BondedECDSAKeepFactory contract: getKeepCount() reverted`);
    }
  });

  it("TBTCSystem set to the TBTCToken: exit 3", async () => {
    const token = devnet.deployment.addresses.TBTCToken;
    const r = await dep(["check"], { KEEPCTL_CONTRACTS: `TBTCSystem=${token}` });
    expect(r.code).toBe(3);
    expect(errorLine(r.stderr)).toBe(`error: TBTCSystem address ${token} is not a TBTCSystem contract: getUndercollateralizedThresholdPercent() reverted`);
  });

  it("a start block past the head: exit 3 with both numbers", async () => {
    const head = await devnet.provider.getBlockNumber();
    const r = await dep(["list-keeps"], { KEEPCTL_START_BLOCK: String(head + 1000) });
    expect(r.code).toBe(3);
    expect(errorLine(r.stderr)).toBe(`error: start block ${head + 1000} is past the chain head ${head}: a scan from there finds nothing`);
  });
});

describe("an operator with nothing found", () => {
  it("says which blocks were scanned and how many keeps the factory has, human and --json", async () => {
    const factory = new ethers.Contract(devnet.deployment.addresses.BondedECDSAKeepFactory, ["function getKeepCount() view returns (uint256)"], devnet.provider);
    const total = (await factory.getKeepCount()) as bigint;
    expect(total).toBeGreaterThan(0n);
    const head = await devnet.provider.getBlockNumber();
    const from = devnet.deployment.deploymentBlock;

    const human = await dep(["list-keeps", "--operator", nobody]);
    expect(human.code).toBe(0);
    expect(human.stderr).toBe(`no keeps found for ${ethers.getAddress(nobody)} in blocks ${from}..${head}; the keep factory has ${total} keep(s) in all\n`);

    const check = await dep(["check", "--operator", nobody]);
    expect(check.code).toBe(0);
    expect(check.stderr).toBe(`no live deposits for ${ethers.getAddress(nobody)} in blocks ${from}..${head}; the keep factory has ${total} keep(s) in all\n`);

    for (const cmd of ["list-keeps", "check"]) {
      const r = await dep([cmd, "--operator", nobody, "--json"]);
      expect(r.code).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(doc.scannedBlocks).toEqual({ from, to: head });
      expect(doc.factoryKeepCount).toBe(total.toString());
      expect(doc.warnings).toEqual([]);
    }
  });
});

describe("redeem --deposit that is not a tBTC deposit", () => {
  it("an account, 0x0 or a token: exit 2 naming the address, nothing sent", async () => {
    const key = ethers.Wallet.createRandom();
    const env = { KEEPCTL_PRIVATE_KEY: key.privateKey, KEEPCTL_BTC_ADDRESS: "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx" };
    const eoa = ethers.Wallet.createRandom().address;
    const cases: [string, RegExp][] = [
      [eoa, /there is no contract at that address/],
      [ethers.ZeroAddress, /there is no contract at that address/],
      [devnet.deployment.addresses.TBTCToken, /the TBTCDepositToken has no token for it/],
    ];
    for (const [addr, why] of cases) {
      const r = await dep(["redeem", "--deposit", addr, "--dry-run"], env);
      expect(r.code).toBe(2);
      const line = errorLine(r.stderr.split("\n").filter((l) => l.startsWith("error:") || l.startsWith("hint:")).join("\n"));
      expect(line).toContain(`--deposit ${addr} is not a tBTC deposit`);
      expect(line).toMatch(why);
    }
    expect(await devnet.provider.getTransactionCount(key.address)).toBe(0);
  });
});

describe("emp-liquidate --emp that is some other contract", () => {
  it("an ERC-20 (or the tBTC system) at --emp: exit 3 naming the EMP, not an internal error", async () => {
    const key = ethers.Wallet.createRandom();
    for (const other of [devnet.deployment.addresses.TBTCToken, devnet.deployment.addresses.TBTCSystem]) {
      const r = await dep(["emp-liquidate", "--once", "--dry-run", "--price", "1", "--emp", other], { KEEPCTL_PRIVATE_KEY: key.privateKey });
      expect(r.code).toBe(3);
      expect(errorLine(r.stderr)).toBe(`error: EMP address ${other} is not an EMP contract: priceIdentifier() reverted`);
    }
  });
});

describe("an endpoint that answers the right chain id but junk", () => {
  it("'block NaN': exit 4 with what was wrong, human and one JSON document", async () => {
    const d = await mainnetDouble({ ...blockAt(100, nowSec()), number: "block NaN" });
    const human = await keepctl(["check", "--rpc-url", d.url, "--operator", nobody]);
    expect(human.code).toBe(4);
    expect(errorLine(human.stderr)).toBe('error: the RPC node returned "block NaN" for the latest block.number, which is not valid');

    const json = await keepctl(["check", "--rpc-url", d.url, "--operator", nobody, "--json"]);
    expect(json.code).toBe(4);
    expect(json.stdout.trim().split("\n")).toHaveLength(1);
    const doc = JSON.parse(json.stdout);
    expect(doc.error.code).toBe("BAD_RESPONSE");
    expect(doc.error.message).toContain('"block NaN"');
  });

  it("a non-hex timestamp and a JSON-RPC error object: exit 4 with the node's message", async () => {
    const junk = await mainnetDouble({ ...blockAt(100, nowSec()), timestamp: "yesterday" });
    const r1 = await keepctl(["list-keeps", "--rpc-url", junk.url, "--operator", nobody]);
    expect(r1.code).toBe(4);
    expect(errorLine(r1.stderr)).toBe('error: the RPC node returned "yesterday" for the latest block.timestamp, which is not valid');

    const failing = await double((c) => (c.method === "eth_chainId" ? { result: "0x1" } : { error: { code: -32000, message: "header not found" } }));
    const r2 = await keepctl(["check", "--rpc-url", failing.url, "--operator", nobody]);
    expect(r2.code).toBe(4);
    expect(errorLine(r2.stderr)).toBe("error: the RPC node answered eth_getBlockByNumber with an error: header not found (code -32000)");
  });

  it("eth_call failing at the node (not a revert) during the probes: exit 4, not 3 or 5", async () => {
    const d = await mainnetDouble(blockAt(20_000_000, nowSec()), (c) =>
      c.method === "eth_getCode" ? { result: "0x6080" } : { error: { code: -32000, message: "missing trie node 1234" } },
    );
    const r = await keepctl(["check", "--rpc-url", d.url, "--operator", nobody]);
    expect(r.code).toBe(4);
    expect(errorLine(r.stderr)).toBe("error: the RPC node answered eth_call with an error: missing trie node 1234 (code -32000)");
  });

  it("a head from the future: exit 4", async () => {
    const d = await mainnetDouble(blockAt(20_000_000, nowSec() + 86_400));
    const r = await keepctl(["list-keeps", "--rpc-url", d.url, "--operator", nobody]);
    expect(r.code).toBe(4);
    expect(errorLine(r.stderr)).toMatch(/^error: the RPC node's latest block 20000000 is dated .* s in the future: the endpoint answers junk \(the RPC server's clock agrees with this machine's\)$/);
  });
});

describe("a stale head", () => {
  it("check: exit 4 STALE_HEAD (mainnet default limit)", async () => {
    const d = await mainnetDouble(blockAt(20_000_000, nowSec() - 7200));
    const r = await keepctl(["check", "--rpc-url", d.url, "--operator", nobody, "--json"]);
    expect(r.code).toBe(4);
    const doc = JSON.parse(r.stdout);
    expect(doc.error.code).toBe("STALE_HEAD");
    expect(doc.error.message).toMatch(/^the RPC node's latest block 20000000 is 720\d s old \(.*; limit 600 s\): the node is stuck or not synced \(the RPC server's clock agrees with this machine's\)$/);
  });

  it("list-keeps: a warning and the keeps; check on the same endpoint: exit 4", async () => {
    // The real devnet behind a double that dates every block two hours back.
    const old = nowSec() - 7200;
    const d = await double(
      (c) => (c.method === "eth_getBlockByNumber" ? { forward: true, rewrite: (b) => (b ? { ...(b as object), timestamp: "0x" + old.toString(16) } : b) } : { forward: true }),
      devnet.rpcUrl,
    );
    const env = { KEEPCTL_MAX_HEAD_AGE: "600" };
    const op = devnet.scenario.operators[0];
    const lk = await dep(["list-keeps", "--rpc-url", d.url, "--operator", op, "--json", "--no-cache"], env);
    expect(lk.code).toBe(0);
    expect(lk.stderr).toMatch(/^warning: the RPC node's latest block \d+ is \d+ s old \(.*; limit 600 s\): the node is stuck or not synced \(the RPC server's clock agrees with this machine's\)\n$/);
    const doc = JSON.parse(lk.stdout);
    expect(doc.warnings).toHaveLength(1);
    expect(doc.keeps.length).toBe(devnet.scenario.deposits.filter((x) => x.members.includes(op)).length);

    const ck = await dep(["check", "--rpc-url", d.url, "--operator", op, "--no-cache"], env);
    expect(ck.code).toBe(4);
    expect(errorLine(ck.stderr)).toMatch(/^error: the RPC node's latest block \d+ is \d+ s old/);
    const watch = await dep(["watch", "--once", "--json", "--rpc-url", d.url, "--operator", op], env);
    expect(watch.code).toBe(4);
    const loopError = watch.stdout.trim().split("\n").map((l) => JSON.parse(l)).find((ev) => ev.type === "loop-error");
    expect(loopError.code).toBe("STALE_HEAD");
    // without a limit (the devnet default) the same endpoint is judged as usual
    const off = await dep(["check", "--rpc-url", d.url, "--operator", op, "--no-cache"]);
    expect(off.code).toBe(10);
  });
});

describe("rai-price --at", () => {
  /** A mainnet-id endpoint whose RateSetter answers the probes (the preset's address). */
  const rateSetterDouble = (headTime: number) =>
    mainnetDouble(blockAt(20_000_000, headTime), (c) =>
      c.method === "eth_getCode" ? { result: "0x6080" } : c.method === "eth_call" ? { result: ethers.toBeHex(10800, 32) } : { error: { code: -32601, message: "not in this double" } },
    );

  it("after the chain head, or overflowing: exit 2 with a clear message", async () => {
    const head = nowSec() - 60;
    const d = await rateSetterDouble(head);
    const future = await keepctl(["rai-price", "--rpc-url", d.url, "--source", "events", "--at", "2099-01-01T00:00:00Z"]);
    expect(future.code).toBe(2);
    expect(errorLine(future.stderr)).toBe(`error: --at 2099-01-01T00:00:00Z is after the chain head's time ${new Date(head * 1000).toISOString().replace(".000Z", "Z")}: there is no price for a time to come`);

    const huge = await keepctl(["rai-price", "--rpc-url", d.url, "--source", "events", "--at", "99999999999999999999"]);
    expect(huge.code).toBe(2);
    expect(errorLine(huge.stderr)).toMatch(/^error: --at 100000000000000000000 is out of range/);
  });
});
