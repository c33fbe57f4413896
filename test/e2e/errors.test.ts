import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOnce, runKeepctl, spawnKeepctl } from "../helpers/cli";
import { startRecorder, startRpcSwitch } from "../helpers/http";
import { freePort, startHardhatNode, type LocalNode } from "../../src/devnet/node";

/** The built binary: exit codes, one-line errors, and secrets that never reach the terminal. */
const home = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-e2e-"));

const keepctl = (args: string[], env: Record<string, string> = {}) => runKeepctl(args, { home, env });

let node: LocalNode | undefined;

beforeAll(() => {
  buildOnce();
});
afterAll(async () => {
  await node?.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

describe("keepctl config", () => {
  it("never prints the API key embedded in an RPC URL", async () => {
    const r = await keepctl(["config", "--rpc-url", "https://x.example/v3/SECRETKEY", "--json"]);
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).not.toContain("SECRETKEY");
    const doc = JSON.parse(r.stdout);
    expect(doc.values.rpcUrls).toEqual(["https://x.example/***"]);
    expect(doc.sources.rpcUrls).toBe("flag");
    expect(doc.values.contracts.TBTCSystem).toBe("0xe20A5C79b39bC8C363f0f49ADcFa82C2a01ab64a");
  });

  it("never prints an API key that the provider puts in the hostname", async () => {
    const r = await keepctl(["config", "--rpc-url", "https://k3y9a8b7c6d5e4f3.rpc.example", "--json"]);
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).not.toContain("k3y9a8b7c6d5e4f3");
    expect(JSON.parse(r.stdout).values.rpcUrls).toEqual(["https://***.rpc.example"]);
  });

  it("shows each value's source, tab-separated when piped", async () => {
    const r = await keepctl(["config", "--threshold", "150"], { OPERATORS: "0x1111111111111111111111111111111111111111", KEEPCTL_RPC_URLS: "https://y.example/key/abcdefghijkl" });
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toBe("setting\tvalue\tsource\tfrom");
    expect(lines).toContain("warnThreshold\t150\tflag\t--threshold");
    expect(lines).toContain("operators\t0x1111111111111111111111111111111111111111\tenv\tOPERATORS");
    expect(lines).toContain("rpcUrls\thttps://y.example/***\tenv\tKEEPCTL_RPC_URLS");
    expect(lines).toContain("startBlock\t10880657\tpreset\tmainnet preset");
    expect(r.stdout).not.toContain("abcdefghijkl");
  });

  it("rejects a malformed operator with exit 2 and one line, no stack", async () => {
    const r = await keepctl(["config", "--operator", "0xnot-an-address"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe('error: invalid address "0xnot-an-address" (from --operator)\n');
  });

  it("reports the same error as a JSON document with --json", async () => {
    const r = await keepctl(["config", "--json"], { KEEPCTL_WARN_THRESHOLD: "5000" });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({ error: { code: "USAGE", message: "must be between 100 and 1000, got 5000 (from KEEPCTL_WARN_THRESHOLD)" } });
  });

  it("exits 3 for a missing config file and for a missing RPC URL", async () => {
    const file = await keepctl(["config", "--config", "nope.json"]);
    expect(file.code).toBe(3);
    expect(file.stderr).toMatch(/^error: cannot read config file .*nope\.json: ENOENT\nhint: /);
    const rpc = await keepctl(["config", "--check-rpc"]);
    expect(rpc.code).toBe(3);
    expect(rpc.stderr).toBe("error: no RPC URL configured\nhint: pass --rpc-url-file FILE or --rpc-url, or set KEEPCTL_RPC_URLS_FILE / KEEPCTL_RPC_URLS\n");
  });

  it("exits 4 when the RPC endpoint is unreachable, without leaking its key", async () => {
    const port = await freePort();
    const r = await keepctl(["config", "--check-rpc", "--rpc-url", `http://127.0.0.1:${port}/v3/SECRETKEY`], { KEEPCTL_RPC_RETRIES: "1" });
    expect(r.code).toBe(4);
    expect(r.stderr.split("\n")[0]).toBe(`error: no RPC endpoint answered: http://127.0.0.1:${port}/*** (ECONNREFUSED)`);
    expect(r.stdout + r.stderr).not.toContain("SECRETKEY");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("checks the chain: exit 4 on the wrong chain, chain id and latest block on the right one", async () => {
    node = await startHardhatNode();
    const wrong = await keepctl(["config", "--check-rpc", "--rpc-url", node.rpcUrl]);
    expect(wrong.code).toBe(4);
    expect(wrong.stderr.split("\n")[0]).toBe("error: RPC endpoint serves chain 31337, expected chain 1");
    const right = await keepctl(["config", "--check-rpc", "--network", "devnet", "--rpc-url", node.rpcUrl, "--json"]);
    expect(right.code).toBe(0);
    const doc = JSON.parse(right.stdout);
    expect(doc.rpc.chainId).toBe(31337);
    expect(doc.rpc.latestBlock).toBeGreaterThanOrEqual(0);
    expect(doc.values.rpcUrls).toEqual([node.rpcUrl]);
  });

  it("fails over from a dead first URL after one attempt, with one warning on stderr naming it (redacted)", async () => {
    node ??= await startHardhatNode();
    const port = await freePort();
    const r = await keepctl(["config", "--check-rpc", "--network", "devnet", "--rpc-url", `http://127.0.0.1:${port}/v3/SECRETKEY`, "--rpc-url", node.rpcUrl, "--json"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`warning: RPC endpoint http://127.0.0.1:${port}/*** failed (ECONNREFUSED); other endpoints are used first for 30 s\n`);
    // The first batch and the head census leave together: the dead URL refuses the batch once and
    // the census KEEPCTL_RPC_RETRIES (3) times (a census must not miss a fresh endpoint's head on
    // one fault); the good one answers the census, the batch and eth_blockNumber: 7.
    expect(JSON.parse(r.stdout).rpc.httpRequests).toBe(7);
  });
});

describe("a looping command that keeps failing", () => {
  it("watch: no heartbeat ping, one critical alert, then exit 11 after --max-failed-passes failed loops", async () => {
    node ??= await startHardhatNode();
    const rpc = await startRpcSwitch(node.rpcUrl, { downAfter: 1 }); // answers the chain-id check, then 503
    const hooks = await startRecorder();
    try {
      const base = `http://127.0.0.1:${hooks.port}`;
      const r = await keepctl(
        ["watch", "--network", "devnet", "--rpc-url", rpc.url, "--operator", "0x1111111111111111111111111111111111111111", "--interval", "1", "--max-failed-passes", "2", "--heartbeat-url", `${base}/ping/check-uuid`, "--json"],
        { KEEPCTL_RPC_RETRIES: "1", KEEPCTL_WEBHOOK_URL: `${base}/hook`, KEEPCTL_CONTRACTS: "BondedECDSAKeepFactory=0x2222222222222222222222222222222222222222,TBTCSystem=0x3333333333333333333333333333333333333333,TBTCToken=0x4444444444444444444444444444444444444444,VendingMachine=0x5555555555555555555555555555555555555555,TBTCDepositToken=0x6666666666666666666666666666666666666666" },
      );
      expect(r.code, r.stderr).toBe(11);
      expect(r.stderr.split("\n")[0]).toBe(`error: watch stopped: 2 loops failed in a row; last: no RPC endpoint answered: ${rpc.url} (HTTP 503)`);
      expect(hooks.got.filter((g) => g.path === "/ping/check-uuid")).toEqual([]);
      const stopping = hooks.got.filter((g) => g.path === "/hook").map((g) => JSON.parse(g.body)).filter((a) => a.key === "watch-stopping");
      expect(stopping).toHaveLength(1);
      expect(stopping[0].level).toBe("critical");
      const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
      expect(events.filter((e) => e.type === "heartbeat").map((e) => e.ok)).toEqual([false, false]);
      expect(events.at(-2)).toMatchObject({ type: "stopped", reason: "failing", failedInRow: 2 });
      expect(events.at(-1)).toEqual({ error: { code: "LOOP_FAILING", message: expect.stringMatching(/^watch stopped: 2 loops failed in a row/), hint: expect.stringContaining("supervisor") } });
    } finally {
      await hooks.close();
      await rpc.close();
    }
  });
});

describe("a reader that goes away", () => {
  it("`keepctl ... | head`: a closed stdout ends the run quietly with exit 0, no stack trace", async () => {
    for (const args of [["--help"], ["config", "--rpc-url", "https://x.example/v3/KEY", "--json"]]) {
      const run = spawnKeepctl(args, { home });
      // Close our end before the child has written anything: its first write meets EPIPE.
      run.child.stdout!.destroy();
      const r = await run.done;
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
    }
  });
});
