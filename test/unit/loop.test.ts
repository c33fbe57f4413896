import { describe, expect, it } from "vitest";
import { AccountConflictError } from "../../src/lib/chain/nonce";
import { ConfigError, InterruptedError, RpcError, UsageError } from "../../src/lib/errors";
import { isFatal, LoopFailingError, runLoop, type LoopRunnerOptions } from "../../src/lib/loop";

/** A fake clock: sleeping advances it instantly; `abortAt` aborts the loop when the clock passes it. */
function fakeClock(abortAt = Infinity) {
  const ac = new AbortController();
  let t = 0;
  const sleeps: number[] = [];
  return {
    signal: ac.signal,
    abort: () => ac.abort(),
    sleeps,
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
      if (t >= abortAt) ac.abort();
    },
  };
}

function options<T>(clock: ReturnType<typeof fakeClock>, over: Partial<LoopRunnerOptions<T>> = {}): LoopRunnerOptions<T> {
  return { once: false, intervalSec: 60, signal: clock.signal, unit: "passes", name: "test loop", now: clock.now, sleep: clock.sleep, ...over };
}

describe("runLoop", () => {
  it("once: one pass, no sleep, the result returned", async () => {
    const c = fakeClock();
    const r = await runLoop(async (n) => n * 10, options(c, { once: true }));
    expect(r).toMatchObject({ passes: 1, failures: 0, last: 10 });
    expect(c.sleeps).toEqual([]);
  });

  it("sleeps the interval between passes until the signal aborts (abortable sleep)", async () => {
    const c = fakeClock(180_000);
    const seen: number[] = [];
    const r = await runLoop(async (n) => void seen.push(n), options(c));
    expect(seen).toEqual([1, 2, 3]);
    expect(c.sleeps).toEqual([60_000, 60_000, 60_000]);
    expect(r.passes).toBe(3);
  });

  it("retries a failing pass with doubling backoff; onError says whether it will retry", async () => {
    const c = fakeClock();
    const errors: [number, number, boolean][] = [];
    let calls = 0;
    const r = await runLoop(async () => { if (++calls < 3) throw new RpcError("down"); return "ok"; }, options(c, { once: true, retries: 3, backoffMs: 100, onError: (_e, i) => errors.push([i.pass, i.attempt, i.willRetry]) }));
    expect(r).toMatchObject({ passes: 1, failures: 0, last: "ok" });
    expect(errors).toEqual([[1, 1, true], [1, 2, true]]);
    expect(c.sleeps).toEqual([100, 200]);
  });

  it("fatal errors (usage, config, account conflict, interrupt) end the loop at once, reported, not retried", async () => {
    for (const e of [new UsageError("u"), new ConfigError("c"), new AccountConflictError("a"), new InterruptedError()]) {
      expect(isFatal(e)).toBe(true);
      const c = fakeClock();
      const ends: boolean[] = [];
      const failed: unknown[] = [];
      let calls = 0;
      const r = await runLoop(async () => { calls++; throw e; }, options(c, { retries: 3, onPassFailed: async (x) => void failed.push(x), onPassEnd: (x) => void ends.push(x.ok) }));
      expect(calls).toBe(1);
      expect(r.fatal).toBe(e);
      expect(failed).toEqual([e]);
      expect(ends).toEqual([false]);
      expect(c.sleeps).toEqual([]);
    }
    expect(isFatal(new RpcError("x"))).toBe(false);
    expect(isFatal(new Error("x"))).toBe(false);
  });

  it("heartbeat only after a good pass; a failed pass alerts instead", async () => {
    const c = fakeClock();
    const pinged: string[] = [];
    const ends: { ok: boolean; ping?: string }[] = [];
    const alerts: number[] = [];
    const plan = [true, false, true];
    await runLoop(async (n) => { if (!plan[n - 1]) throw new RpcError("down"); if (n === 3) c.abort(); }, options(c, {
      heartbeatUrl: "http://127.0.0.1:1/ping",
      ping: async (url) => (pinged.push(url), { ok: true }),
      onPassFailed: async (_e, n) => void alerts.push(n),
      onPassEnd: (e) => void ends.push({ ok: e.ok, ping: e.ping }),
    }));
    expect(ends).toEqual([{ ok: true, ping: "ok" }, { ok: false, ping: undefined }, { ok: true, ping: "ok" }]);
    expect(pinged).toHaveLength(2);
    expect(alerts).toEqual([2]);
  });

  it("gives up after maxFailedPasses in a row (exit 11), a good pass resets the count", async () => {
    const c = fakeClock();
    const plan = [false, false, true, false, false, false];
    const gaveUp: [string, number, number][] = [];
    const err = await runLoop(async (n) => { if (!plan[n - 1]) throw new RpcError(`down ${n}`); }, options(c, { maxFailedPasses: 3, onGiveUp: async (t, k, n) => void gaveUp.push([t, k, n]) })).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(LoopFailingError);
    expect((err as LoopFailingError).exitCode).toBe(11);
    expect((err as LoopFailingError).message).toBe("test loop stopped: 3 passes failed in a row; last: down 6");
    expect(gaveUp).toEqual([["3 passes failed in a row; last: down 6", 3, 6]]);
  });

  it("once never gives up: it returns the failure for the caller's exit code", async () => {
    const c = fakeClock();
    const e = new RpcError("down");
    const r = await runLoop(async () => { throw e; }, options(c, { once: true, maxFailedPasses: 1 }));
    expect(r).toMatchObject({ passes: 1, failures: 1, lastError: e });
    expect(r.fatal).toBeUndefined();
  });

  it("aborted while failing: stops without giving up (exit 130, not 11)", async () => {
    const c = fakeClock(60_000);
    const r = await runLoop(async () => { throw new RpcError("down"); }, options(c, { maxFailedPasses: 2 }));
    expect(r).toMatchObject({ passes: 1, failures: 1 });
  });

  it("the pass runs with a custom wait (watch's on-block wake-up) instead of the interval", async () => {
    const c = fakeClock();
    let waits = 0;
    await runLoop(async () => undefined, options(c, { wait: async () => { if (++waits === 2) c.abort(); } }));
    expect(waits).toBe(2);
    expect(c.sleeps).toEqual([]);
  });
});
