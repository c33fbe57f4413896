import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { JsonRpcProvider, Network } from "ethers";
import { cacheFile, emptyCache, loadCache, saveCache } from "../../src/lib/tbtc/read/cache";
import { loadOperatorDeposits } from "../../src/lib/tbtc/read/scan";
import { blockAt, startRpcDouble, type RpcDouble } from "../helpers/rpc-double";

// The scan cache keeps the hash of its last block: when the chain at that height has another
// block (a reorg, or a restarted devnet under the same chain id) everything cached is dropped and
// the scan starts over — whether the new chain is shorter, as long, or longer than the cached one.
// A JSON-RPC double on loopback plays the chain; `fork` changes every block's hash.
const START = 100;
const FACTORY = "0x" + "fa".repeat(20);
const SYSTEM = "0x" + "5e".repeat(20);
const key = { chainId: 31337, factory: FACTORY, system: SYSTEM, startBlock: START };
const STRANGER = "0x" + "01".repeat(20);
const KEEP = "0x" + "cc".repeat(20);

let head = 0;
let fork = 0;
let rpc: RpcDouble;
let provider: JsonRpcProvider;
let dir: string;

const hashOf = (n: number, f = fork) => "0x" + f.toString(16).padStart(2, "0") + n.toString(16).padStart(62, "0");
const block = (n: number) => ({ ...blockAt(n, 1_700_000_000 + n * 12), hash: hashOf(n) });

beforeAll(async () => {
  rpc = await startRpcDouble((c) => {
    if (c.method === "eth_chainId") return { result: "0x7a69" };
    if (c.method === "eth_blockNumber") return { result: "0x" + head.toString(16) };
    if (c.method === "eth_getBlockByNumber") {
      const n = c.params[0] === "latest" ? head : Number(c.params[0]);
      return { result: n > head ? null : block(n) };
    }
    if (c.method === "eth_getLogs") return { result: [] };
    return { error: { code: -32601, message: `method ${c.method} not expected` } };
  });
  provider = new JsonRpcProvider(rpc.url, Network.from(31337), { staticNetwork: true });
});
afterAll(async () => {
  provider?.destroy();
  await rpc?.close();
});
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "keepctl-reorg-unit-")); });
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A cache as a scan up to block `last` of chain `f` leaves it, holding one keep. */
function seedCache(last: number, f: number): string {
  const file = cacheFile(dir, key);
  saveCache(file, {
    ...emptyCache(key), lastBlock: last, lastBlockHash: hashOf(last, f),
    keeps: { [KEEP]: { deposit: "0x" + "dd".repeat(20), members: ["0x" + "ee".repeat(20)], block: START + 5 } },
  });
  return file;
}

const scan = () => loadOperatorDeposits(provider, { chainId: 31337, factory: FACTORY, system: SYSTEM, startBlock: START, operators: [STRANGER], dataDir: dir });
const logRanges = () => rpc.calls.filter((c) => c.method === "eth_getLogs").map((c) => {
  const f = c.params[0] as { fromBlock: string; toBlock: string };
  return [Number(f.fromBlock), Number(f.toBlock)];
});

describe("scan cache and reorgs", () => {
  it("same chain, head moved on: only the new blocks are scanned and the cache is kept", async () => {
    fork = 1; head = 260;
    const file = seedCache(250, 1);
    rpc.calls.length = 0;
    const r = await scan();
    expect(r.scannedBlocks).toBe(10);
    expect(Math.min(...logRanges().map(([f]) => f))).toBe(251);
    expect(Object.keys(loadCache(file, key).keeps)).toEqual([KEEP]);
    expect(loadCache(file, key)).toMatchObject({ lastBlock: 260, lastBlockHash: hashOf(260) });
  });

  it("same chain, same head: nothing is scanned", async () => {
    fork = 1; head = 250;
    seedCache(250, 1);
    rpc.calls.length = 0;
    const r = await scan();
    expect(r.scannedBlocks).toBe(0);
    expect(logRanges()).toEqual([]);
  });

  it.each([
    ["shorter than the cached height", 240],
    ["at the cached height", 250],
    ["past the cached height", 260],
  ])("another chain %s: the cache is dropped and everything rescanned", async (_why, h) => {
    fork = 2; head = h;
    const file = seedCache(250, 1);
    rpc.calls.length = 0;
    const r = await scan();
    expect(r.scannedBlocks).toBe(h - START + 1);
    expect(Math.min(...logRanges().map(([f]) => f))).toBe(START);
    const after = loadCache(file, key);
    expect(after.keeps).toEqual({}); // the old chain's keep is gone
    expect(after).toMatchObject({ lastBlock: h, lastBlockHash: hashOf(h, 2) });
  });
});
