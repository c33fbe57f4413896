import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { startDevnet, devnetWallet, type Devnet } from "../../src/devnet/scenario";
import { openDeposit } from "../../src/devnet/deposits";
import { depositContract, setEthBtcPrice } from "../../src/devnet/tbtc";
import { startWsProxy, type WsProxy } from "../../src/devnet/ws-proxy";
import { COURTESY_CALLED_TOPIC } from "../../src/lib/tbtc/abis";
import { buildOnce, spawnKeepctl, type Spawned } from "../helpers/cli";

/**
 * `keepctl watch --on-block` with a ws:// URL only (an API key in its path), the built binary
 * against the devnet through a WebSocket proxy: woken by a pushed head, it courtesy-calls the
 * deposit the price drop put at risk (counted from the chain: one CourtesyCalled, one nonce); the
 * socket dies and stays refused: one line says it polls; the socket comes back: one line says push
 * is back, and the proxy saw a second eth_subscribe. The key is never printed.
 */
const BTC = 100_000_000n;
const KEY = "WsE2eKey7c1d9a42bb";
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-ws-"));
const operator = devnetWallet(1).address;
const bot = devnetWallet(8);
let devnet: Devnet;
let provider: ethers.JsonRpcProvider;
let file: string;
let deposit: string;
let ws: WsProxy;

async function until(what: string, ok: () => boolean | Promise<boolean>, run: Spawned, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; stdout: ${run.stdout().slice(-1500)} stderr: ${run.stderr().slice(-1500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  buildOnce();
  file = path.join(home, "deployment.json");
  devnet = await startDevnet({ seed: false, out: file });
  provider = new ethers.JsonRpcProvider(devnet.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1 });
  deposit = (await openDeposit(devnet.deployment, { lotSats: 1n * BTC, members: [operator, devnetWallet(3).address, devnetWallet(4).address], fundWith: "proof" })).deposit;
  await setEthBtcPrice(devnet.deployment, 0.03);
  ws = await startWsProxy({ target: devnet.rpcUrl.replace(/^http/, "ws"), keyPath: `/v3/${KEY}` });
}, 300_000);

afterAll(async () => {
  await ws?.close();
  provider?.destroy();
  await devnet?.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

describe("keepctl watch over a WebSocket", () => {
  it("acts on a price drop woken by a pushed head; a dropped socket falls back to polling, said once, then push again", async () => {
    const from = await provider.getBlockNumber();
    const nonce0 = await provider.getTransactionCount(bot.address);
    const run = spawnKeepctl(["--deployment", file, "--rpc-url", ws.url, "watch", "--on-block", "--interval", "3600", "--notify-courtesy", "--no-redeem", "--operator", operator], {
      home,
      env: { KEEPCTL_PRIVATE_KEY: bot.privateKey },
    });
    try {
      await until("the first loop", () => /heartbeat loop=1 ok=true/.test(run.stdout()), run);
      await until("the subscription", () => (ws.counts.byMethod.eth_subscribe ?? 0) === 1, run);
      // 150% -> 120%: below the 125% courtesy-call threshold. Its block is pushed to watch.
      await setEthBtcPrice(devnet.deployment, 0.024);
      const called = async () => (await provider.getLogs({ address: devnet.deployment.addresses.TBTCSystem, topics: [COURTESY_CALLED_TOPIC], fromBlock: from + 1 })).length > 0;
      await until("the courtesy call", called, run);
      expect(ws.counts.pushes).toBeGreaterThanOrEqual(1);

      // The socket dies and reconnects are refused a while: one line, however many attempts.
      ws.refuse(503);
      ws.drop();
      await until("the fallback line", () => /polling the head until it reconnects/.test(run.stdout()), run);
      await until("three refused reconnects", () => ws.counts.refused >= 3, run);
      ws.allow();
      await until("push again", () => /heads are pushed again/.test(run.stdout()), run);
      expect(ws.counts.byMethod.eth_subscribe).toBe(2);
      const out = run.stdout();
      expect(out.match(/new heads: WebSocket ws:\/\/127\.0\.0\.1:\d+\/\*\*\* dropped \(socket closed \(code 1006\)\); polling the head until it reconnects/g)).toHaveLength(1);
      expect(out.match(/heads are pushed again/g)).toHaveLength(1);
    } finally {
      run.child.kill("SIGTERM");
    }
    const r = await run.done;
    expect(r.code, r.stderr).toBe(130);
    // Counted from the chain: one courtesy call, one transaction of the bot's.
    const logs = await provider.getLogs({ address: devnet.deployment.addresses.TBTCSystem, topics: [COURTESY_CALLED_TOPIC], fromBlock: from + 1 });
    expect(logs).toHaveLength(1);
    expect(ethers.getAddress(ethers.dataSlice(logs[0].topics[1], 12))).toBe(ethers.getAddress(deposit));
    expect(Number(await depositContract(devnet.deployment, deposit, provider).currentState())).toBe(8); // COURTESY_CALL
    expect(await provider.getTransactionCount(bot.address)).toBe(nonce0 + 1);
    expect(r.stdout + r.stderr).not.toContain(KEY);
  }, 180_000);
});
