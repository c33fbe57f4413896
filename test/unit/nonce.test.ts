import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { JsonRpcProvider, Network } from "ethers";
import { AccountConflictError, NonceTracker, SerialQueue } from "../../src/lib/chain/nonce";
import { startRpcDouble, type RpcDouble } from "../helpers/rpc-double";

// The node is a JSON-RPC double on loopback whose latest and pending counts the test sets: the
// nonce logic is judged by what a node could really answer, other senders included.
const ACCOUNT = "0x00000000000000000000000000000000000000aa";
let latest = 0;
let pending: unknown = 0;
let rpc: RpcDouble;
let provider: JsonRpcProvider;

beforeAll(async () => {
  rpc = await startRpcDouble((c) => {
    if (c.method === "eth_chainId") return { result: "0x7a69" };
    if (c.method === "eth_getTransactionCount") {
      const n = c.params[1] === "pending" ? pending : latest;
      // a number is answered as the hex quantity a node sends; { raw } as that JSON value verbatim
      if (typeof n === "object" && n !== null && "error" in n) return n as { error: { code: number; message: string } };
      if (typeof n === "object" && n !== null && "raw" in n) return { result: (n as { raw: unknown }).raw };
      return { result: typeof n === "number" ? "0x" + n.toString(16) : n };
    }
    return { error: { code: -32601, message: `method ${c.method} not expected` } };
  });
  provider = new JsonRpcProvider(rpc.url, Network.from(31337), { staticNetwork: true, cacheTimeout: -1, batchMaxCount: 1 });
});
afterAll(async () => {
  provider?.destroy();
  await rpc?.close();
});
beforeEach(() => { latest = 0; pending = 0; });

const conflict = async (p: Promise<unknown>) => {
  const e = await p.then(() => undefined, (x) => x);
  expect(e).toBeInstanceOf(AccountConflictError);
  expect(e).toMatchObject({ code: "ACCOUNT_CONFLICT", exitCode: 8 });
  return e as AccountConflictError;
};

describe("NonceTracker", () => {
  it("before a baseline, the next nonce is the node's pending count", async () => {
    latest = 3; pending = 5;
    expect(await new NonceTracker(provider, ACCOUNT).next()).toBe(5);
  });

  it("a session starts at the pending count when every pending nonce is ours", async () => {
    latest = 3; pending = 5;
    const t = new NonceTracker(provider, ACCOUNT, () => [3, 4]);
    expect(await t.startSession()).toBe(5);
    expect(await t.next()).toBe(5);
  });

  it("refuses a session while transactions it never signed are pending, naming them", async () => {
    latest = 3; pending = 6;
    const e = await conflict(new NonceTracker(provider, ACCOUNT, () => [4]).startSession());
    expect(e.message).toBe(`account ${ACCOUNT} has 2 pending transaction(s) keepctl did not sign (nonces 3, 5)`);
    expect(e.details).toEqual({ latest: 3, pending: 6, foreign: [3, 5] });
    // nothing pending: fine whatever the journal holds
    latest = 6; pending = 6;
    expect(await new NonceTracker(provider, ACCOUNT).startSession()).toBe(6);
  });

  it("after a send, the next nonce is ours + 1 even while the node has not seen it yet", async () => {
    latest = 2; pending = 2;
    const t = new NonceTracker(provider, ACCOUNT);
    await t.startSession();
    t.markUsed(2);
    expect(await t.next()).toBe(3);
    t.markUsed(3);
    t.markUsed(1); // an older nonce never lowers the mark
    expect(await t.next()).toBe(4);
    pending = 4; // the node caught up: same answer
    expect(await t.next()).toBe(4);
  });

  it("a pending count above what we expect, at nonces we never signed, is another sender", async () => {
    latest = 2; pending = 2;
    const t = new NonceTracker(provider, ACCOUNT, () => []);
    expect(await t.next()).toBe(2); // takes the baseline
    pending = 3; // someone else sent at nonce 2
    const e = await conflict(t.next());
    expect(e.message).toBe(`account ${ACCOUNT}: the chain's pending nonce is 3, but keepctl signed nothing at nonce 2`);
    expect(e.details).toEqual({ pending: 3, expected: 2, unexplained: [2] });
    expect(e.hint).toBe("another program (or a second keepctl) is sending from this key: stop it, or give keepctl its own account");
    // several foreign nonces, and one of ours among them
    const t2 = new NonceTracker(provider, ACCOUNT, () => [3]);
    pending = 2;
    await t2.next();
    pending = 5;
    expect((await conflict(t2.next())).message).toBe(`account ${ACCOUNT}: the chain's pending nonce is 5, but keepctl signed nothing at nonce 2, 4`);
  });

  it("a send marked before any count (after a reset) still counts: next is above it", async () => {
    latest = 5; pending = 5;
    const t = new NonceTracker(provider, ACCOUNT);
    t.markUsed(7);
    expect(await t.next()).toBe(8);
  });

  it("a pending count above expectation that our journal explains (a crash's tx) is not a conflict", async () => {
    latest = 2; pending = 2;
    const signed: number[] = [];
    const t = new NonceTracker(provider, ACCOUNT, () => signed);
    await t.startSession();
    signed.push(2, 3);
    pending = 4;
    expect(await t.next()).toBe(4);
    // the count exactly at expectation never consults the journal
    const t2 = new NonceTracker(provider, ACCOUNT, () => { throw new Error("journal read when not needed"); });
    pending = 4;
    await expect(t2.next()).resolves.toBe(4);
    await expect(t2.next()).resolves.toBe(4);
  });

  it("reset drops our reckoning: the node's count is trusted again", async () => {
    latest = 5; pending = 5;
    const t = new NonceTracker(provider, ACCOUNT);
    await t.startSession();
    t.markUsed(9);
    expect(await t.next()).toBe(10);
    t.reset();
    expect(await t.next()).toBe(5);
    // and a fresh session forgets the old mark too
    t.markUsed(20);
    await t.startSession();
    expect(await t.next()).toBe(5);
  });

  it("release: a nonce whose tx a reorg took back (not sent again) is the next one handed out", async () => {
    latest = 5; pending = 5;
    const t = new NonceTracker(provider, ACCOUNT, () => [5, 6]);
    await t.startSession();
    t.markUsed(5);
    t.markUsed(6);
    expect(await t.next()).toBe(7);
    latest = 5; pending = 5; // the chain lost both
    t.release(6);
    expect(await t.next()).toBe(6);
    t.release(5);
    expect(await t.next()).toBe(5);
    // releasing above what was used changes nothing
    t.markUsed(5);
    t.release(9);
    expect(await t.next()).toBe(6);
    // nonce 0, and a baseline above the released nonce
    latest = 0; pending = 0;
    const z = new NonceTracker(provider, ACCOUNT, () => [0]);
    await z.startSession();
    z.markUsed(0);
    z.release(0);
    expect(await z.next()).toBe(0);
    latest = 3; pending = 3;
    const b = new NonceTracker(provider, ACCOUNT, () => [1, 2]);
    await b.startSession();
    latest = 1; pending = 1;
    b.release(1);
    expect(await b.next()).toBe(1);
  });

  it.each([["a negative count", "-0x1"], ["not a number", "0xzz"], ["a count past 2^53", "0x" + (2n ** 60n).toString(16)]])(
    "a node answering %s is an error, never a nonce", async (_why, answer) => {
      // (ethers itself rejects these before our own count check: that check is defence in depth)
      pending = answer;
      await expect(new NonceTracker(provider, ACCOUNT).next()).rejects.toThrow();
    });
});

describe("SerialQueue", () => {
  it("runs tasks one at a time in arrival order, a failure not stopping the next", async () => {
    const q = new SerialQueue();
    const log: string[] = [];
    const task = (name: string, ms: number, fail = false) => () => new Promise<string>((res, rej) => {
      log.push(`start ${name}`);
      setTimeout(() => { log.push(`end ${name}`); if (fail) rej(new Error(name)); else res(name); }, ms);
    });
    const a = q.run(task("a", 30));
    const b = q.run(task("b", 1, true));
    const c = q.run(task("c", 1));
    expect(await a).toBe("a");
    await expect(b).rejects.toThrow("b");
    expect(await c).toBe("c");
    expect(log).toEqual(["start a", "end a", "start b", "end b", "start c", "end c"]);
  });
});

describe("NonceTracker: answers that are not a count", () => {
  it("takes a fresh account's count of 0", async () => {
    pending = 0;
    expect(await new NonceTracker(provider, ACCOUNT).next()).toBe(0);
  });
  for (const [label, answer] of [
    ["a negative JSON number", { raw: -1 }],
    ["a negative hex string", "-0x1"],
    ["an empty quantity", "0x"],
    ["2^53, past a safe integer", "0x20000000000000"],
    ["a fraction", { raw: 1.5 }],
  ] as const) {
    it(`refuses ${label} as a bad answer from the node (exit 4), never a nonce`, async () => {
      pending = answer;
      const e = await new NonceTracker(provider, ACCOUNT).next().then(() => undefined, (x) => x);
      expect(e).toMatchObject({ code: "RPC_BAD_ANSWER", exitCode: 4 });
      expect((e as Error).message).toMatch(/pending nonce that is not a count/);
    });
  }
  it("passes a node error through as what it is, not as a bad count", async () => {
    pending = { error: { code: -32000, message: "header not found" } };
    const e = await new NonceTracker(provider, ACCOUNT).next().then(() => undefined, (x) => x);
    expect(e).toBeInstanceOf(Error);
    expect(e).not.toMatchObject({ code: "RPC_BAD_ANSWER" });
    expect(String((e as Error).message)).toMatch(/header not found/);
  });
});
