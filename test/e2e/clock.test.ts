import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { startDevnet, devnetWallet, type Devnet } from "../../src/devnet/scenario";
import { openDeposit } from "../../src/devnet/deposits";
import { send, setEthBtcPrice } from "../../src/devnet/tbtc";
import { buildOnce, runKeepctl, type Run } from "../helpers/cli";
import { blockAt, nowSec, startRpcDouble, type RpcDouble } from "../helpers/rpc-double";

/**
 * The clock. The built binary runs under libfaketime (Debian's `faketime` package: LD_PRELOAD
 * shifts what the process reads as the time, nothing else), hours ahead or behind:
 * - what it decides on chain is the same as with the right clock — counted from the chain;
 * - a head that only looks stale (or from the future) because of this machine's clock is refused
 *   with words that name the local clock and `timedatectl`, the RPC server's HTTP Date being the
 *   independent witness.
 */
const LIBS = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1"];
const LIBFAKETIME = LIBS.find((p) => fs.existsSync(p));
const shifted = (offset: string | undefined): Record<string, string> =>
  offset === undefined ? {} : { LD_PRELOAD: LIBFAKETIME!, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: "1", FAKETIME_NO_CACHE: "1" };

const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-clock-"));
const BTC = 100_000_000n;
const operator = devnetWallet(1).address;
const doubles: RpcDouble[] = [];
let devnet: Devnet;
let provider: ethers.JsonRpcProvider;
let file: string;
let world: string;

afterAll(async () => {
  for (const d of doubles) await d.close();
  provider?.destroy();
  await devnet?.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

const run = (args: string[], env: Record<string, string>, dir = fs.mkdtempSync(path.join(home, "run-"))): Promise<Run> =>
  runKeepctl(args, { home: dir, env: { KEEPCTL_RPC_RETRIES: "1", ...env } });
const errorLine = (stderr: string) => stderr.split("\n").find((l) => l.startsWith("error: ")) ?? "";
const hintLine = (stderr: string) => stderr.split("\n").find((l) => l.startsWith("hint: ")) ?? "";

describe.skipIf(!LIBFAKETIME)("a process whose clock is hours off (libfaketime)", () => {
  beforeAll(async () => {
    buildOnce();
    file = path.join(home, "deployment.json");
    devnet = await startDevnet({ seed: false, out: file, rai: true });
    provider = new ethers.JsonRpcProvider(devnet.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1 });
    const members = [operator, devnetWallet(3).address, devnetWallet(4).address];
    await openDeposit(devnet.deployment, { lotSats: 1n * BTC, members, fundWith: "vendingMachine" });
    await openDeposit(devnet.deployment, { lotSats: 5n * BTC, members: [devnetWallet(5).address, devnetWallet(3).address, devnetWallet(4).address], fundWith: "vendingMachine" });
    await setEthBtcPrice(devnet.deployment, 0.024);
    world = await provider.send("evm_snapshot", []);
  }, 600_000);

  beforeEach(async () => {
    if (!provider) return;
    await provider.send("evm_revert", [world]);
    world = await provider.send("evm_snapshot", []);
  });

  it("the shifted clock is what the process sees (the harness works)", async () => {
    const r = await run(["--version"], shifted("+2h"));
    expect(r.code).toBe(0);
    const { execFileSync } = await import("node:child_process");
    const seen = Number(execFileSync(process.execPath, ["-e", "process.stdout.write(String(Math.floor(Date.now()/1000)))"], { env: { ...process.env, ...shifted("+2h") } }).toString());
    expect(seen - nowSec()).toBeGreaterThan(7000);
  });

  it("watch --once decides the same on chain whatever the local clock: the same calls, each once", async () => {
    const calls: string[][] = [];
    for (const offset of [undefined, "+2h", "-2h", "+30d"]) {
      await provider.send("evm_revert", [world]);
      world = await provider.send("evm_snapshot", []);
      const w = new ethers.Wallet(ethers.Wallet.createRandom().privateKey, provider);
      await provider.send("hardhat_setBalance", [w.address, ethers.toQuantity(ethers.parseEther("10"))]);
      await send(devnet.deployment.contracts.tbtcToken.transfer(w.address, 2n * 10n ** 18n));
      const from = (await provider.getBlockNumber()) + 1;
      const dir = fs.mkdtempSync(path.join(home, "watch-"));
      const r = await run(["--deployment", file, "watch", "--once", "--operator", operator], {
        ...shifted(offset), KEEPCTL_PRIVATE_KEY: w.privateKey, KEEPCTL_BTC_ADDRESS: "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", KEEPCTL_TX_POLL_MS: "50",
      }, dir);
      expect(r.code, `${offset}: ${r.stderr}`).toBe(0);
      const seen: string[] = [];
      for (let n = from; n <= (await provider.getBlockNumber()); n++) {
        for (const tx of (await provider.getBlock(n, true))?.prefetchedTransactions ?? []) {
          if (tx.from !== w.address) continue;
          expect((await provider.getTransactionReceipt(tx.hash))?.status).toBe(1);
          seen.push(`${tx.to}:${tx.data.slice(0, 10)}`);
        }
      }
      calls.push(seen);
    }
    expect(calls[0]).toHaveLength(2); // the exact approval, then tbtcToBtc
    for (const c of calls.slice(1)) expect(c).toEqual(calls[0]);
  }, 300_000);

  it("rai-price (events) is the same to the wei under every clock", async () => {
    const prices: string[] = [];
    for (const offset of [undefined, "+2h", "-5h"]) {
      const r = await run(["--deployment", file, "rai-price", "--source", "events", "--json"], shifted(offset));
      expect(r.code, r.stderr).toBe(0);
      prices.push(JSON.parse(r.stdout).priceWei);
    }
    expect(new Set(prices).size).toBe(1);
  }, 120_000);

  describe("a head that only looks stale because of this machine's clock", () => {
    const mainnet = async (headTime: number) => {
      const d = await startRpcDouble((c) => (c.method === "eth_chainId" ? { result: "0x1" } : c.method === "eth_getBlockByNumber" ? { result: blockAt(20_000_000, headTime) } : { error: { code: -32601, message: "not in this double" } }));
      doubles.push(d);
      return d;
    };

    it("2 h ahead: STALE_HEAD, naming the local clock (the server's HTTP Date agrees with the head) and timedatectl", async () => {
      const d = await mainnet(nowSec() - 20);
      const r = await run(["check", "--rpc-url", d.url, "--operator", operator], shifted("+2h"));
      expect(r.code).toBe(4);
      expect(errorLine(r.stderr)).toMatch(/^error: the RPC node's latest block 20000000 is 72\d\d s old \(.*; limit 600 s\): this machine's clock is likelier wrong: it is 72\d\d s ahead of the RPC server's \(HTTP Date\), by whose clock the head is \d+ s old$/);
      expect(hintLine(r.stderr)).toMatch(/timedatectl status.*NTP/);
      // With the right clock the same endpoint passes the head check (and fails later, on its missing contracts).
      const right = await run(["check", "--rpc-url", d.url, "--operator", operator], {});
      expect(errorLine(right.stderr)).not.toMatch(/latest block/);
    }, 60_000);

    it("2 h behind: the head looks to be from the future; the words name the local clock", async () => {
      const d = await mainnet(nowSec());
      const r = await run(["check", "--rpc-url", d.url, "--operator", operator], shifted("-2h"));
      expect(r.code).toBe(4);
      expect(errorLine(r.stderr)).toMatch(/^error: the RPC node's latest block 20000000 is dated .*, 7\d\d\d s in the future: this machine's clock is likelier wrong: it is 7\d\d\d s behind the RPC server's \(HTTP Date\)$/);
      expect(hintLine(r.stderr)).toMatch(/timedatectl/);
    }, 60_000);

    it("a truly stale node with the right clock is the node's fault, not the clock's", async () => {
      const d = await mainnet(nowSec() - 7200);
      const r = await run(["check", "--rpc-url", d.url, "--operator", operator], {});
      expect(r.code).toBe(4);
      expect(errorLine(r.stderr)).toMatch(/: the node is stuck or not synced \(the RPC server's clock agrees with this machine's\)$/);
      expect(hintLine(r.stderr)).not.toMatch(/timedatectl/);
    }, 60_000);
  });
});
