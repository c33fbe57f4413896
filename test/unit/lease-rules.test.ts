import { describe, expect, it } from "vitest";
import { DEFAULT_LEASE_TIMINGS, judgeLease, leaseTimingsProblem, maySign, retryDelayMs, signingWindowMs } from "../../src/lib/state/lease-rules";
import { MIGRATIONS, SCHEMA_VERSION, judgeSchema } from "../../src/lib/state/schema";

describe("lease timings", () => {
  it("accepts the defaults (2 s / 15 s) and a refresh of exactly half the duration", () => {
    expect(DEFAULT_LEASE_TIMINGS).toEqual({ refreshMs: 2000, durationMs: 15000 });
    expect(leaseTimingsProblem(DEFAULT_LEASE_TIMINGS)).toBeUndefined();
    expect(leaseTimingsProblem({ refreshMs: 5000, durationMs: 10000 })).toBeUndefined();
  });
  it("refuses a refresh above half the duration, naming both values in seconds", () => {
    expect(leaseTimingsProblem({ refreshMs: 5001, durationMs: 10000 })).toBe("--lease-refresh (5.001 s) is more than half of --lease-duration (10 s): one late renewal would lose the lease");
    expect(leaseTimingsProblem({ refreshMs: 10000, durationMs: 10000 })).toMatch(/more than half/);
  });
  it("refuses zero or negative timings", () => {
    for (const t of [{ refreshMs: 0, durationMs: 10 }, { refreshMs: 1, durationMs: 0 }, { refreshMs: -1, durationMs: 10 }, { refreshMs: NaN, durationMs: 10 }]) {
      expect(leaseTimingsProblem(t)).toBe("the lease refresh and duration must be above 0");
    }
  });
});

describe("the signing window", () => {
  it("is the duration less one refresh less the longest RPC call", () => {
    expect(signingWindowMs({ refreshMs: 2000, durationMs: 15000 }, 3750)).toBe(15000 - 2000 - 3750);
    expect(signingWindowMs({ refreshMs: 1000, durationMs: 10000 }, 0)).toBe(9000);
  });
  it("never goes below 0", () => {
    expect(signingWindowMs({ refreshMs: 2000, durationMs: 15000 }, 20000)).toBe(0);
    expect(signingWindowMs({ refreshMs: 2000, durationMs: 15000 }, 13000)).toBe(0);
  });
  it("lets a holder sign only inside the window since the last renewal was sent", () => {
    const w = 9000;
    expect(maySign({ now: 1000, renewedAt: 1000, windowMs: w, lost: false })).toBe(true);
    expect(maySign({ now: 9999, renewedAt: 1000, windowMs: w, lost: false })).toBe(true);
    expect(maySign({ now: 10000, renewedAt: 1000, windowMs: w, lost: false })).toBe(false);
    expect(maySign({ now: 50000, renewedAt: 1000, windowMs: w, lost: false })).toBe(false);
  });
  it("never lets a holder sign without a renewal, or after the lease was lost", () => {
    expect(maySign({ now: 0, renewedAt: undefined, windowMs: 9000, lost: false })).toBe(false);
    expect(maySign({ now: 1000, renewedAt: 1000, windowMs: 9000, lost: true })).toBe(false);
    expect(maySign({ now: 0, renewedAt: 0, windowMs: 0, lost: false })).toBe(false);
  });
});

describe("judging an upsert's answer", () => {
  it("a won upsert with no epoch held is a takeover at the row's epoch; a lost one is standby", () => {
    expect(judgeLease(undefined, { won: true, epoch: 7 })).toEqual({ kind: "held", epoch: 7, takeover: true });
    expect(judgeLease(undefined, { won: false, epoch: 7 })).toEqual({ kind: "standby" });
    expect(judgeLease(undefined, { won: false, epoch: 0 })).toEqual({ kind: "standby" });
  });
  it("a renewal that wins at our epoch keeps it", () => {
    expect(judgeLease(3, { won: true, epoch: 3 })).toEqual({ kind: "held", epoch: 3, takeover: false });
  });
  it("a renewal refused, or won at another epoch (someone held it between), is lost", () => {
    expect(judgeLease(3, { won: false, epoch: 4 })).toEqual({ kind: "lost", epoch: 4 });
    expect(judgeLease(3, { won: false, epoch: 3 })).toEqual({ kind: "lost", epoch: 3 });
    expect(judgeLease(3, { won: true, epoch: 5 })).toEqual({ kind: "lost", epoch: 5 });
    expect(judgeLease(0, { won: true, epoch: 0 })).toEqual({ kind: "held", epoch: 0, takeover: false });
  });
});

describe("the standby's retry delay", () => {
  it("is one refresh ±10 %", () => {
    expect(retryDelayMs(2000, 0)).toBe(1800);
    expect(retryDelayMs(2000, 0.5)).toBe(2000);
    expect(retryDelayMs(2000, 0.999999)).toBe(2200);
    expect(retryDelayMs(1000, 0.25)).toBe(950);
  });
});

describe("the schema version check", () => {
  it("creates a fresh database, migrates an older one, accepts its own, refuses a newer one", () => {
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
    expect(judgeSchema(0, 3)).toEqual({ kind: "migrate", from: 0, to: 3 });
    expect(judgeSchema(2, 3)).toEqual({ kind: "migrate", from: 2, to: 3 });
    expect(judgeSchema(3, 3)).toEqual({ kind: "current" });
    expect(judgeSchema(4, 3)).toEqual({ kind: "newer", found: 4, ours: 3 });
    expect(judgeSchema(SCHEMA_VERSION)).toEqual({ kind: "current" });
  });
});
