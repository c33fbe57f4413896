import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { eventJson, eventLine, eventWriter, stampLine, type KeepctlEvent } from "../../src/lib/events";
import { Output } from "../../src/lib/output";

const at = new Date("2026-12-02T04:50:58.123Z");
const hash = "0x" + "ab".repeat(32);
const dep = "0x" + "12".repeat(20);

function capture(json: boolean) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = "";
  let e = "";
  stdout.on("data", (d) => (o += d));
  stderr.on("data", (d) => (e += d));
  return { out: new Output({ json, stdout, stderr, isTTY: false, color: false }), text: () => ({ o, e }) };
}

describe("the one event renderer", () => {
  it("renders the same transaction event alike for redeem, watch and the bots", () => {
    const sent: KeepctlEvent = { type: "sent", key: `${dep}:redeem`, deposit: dep, action: "redeem", label: `redeem ${dep}`, nonce: 4, hash, maxFeePerGas: 1n, maxPriorityFeePerGas: 1n, confirmed: true };
    expect(eventLine(sent)).toEqual({ text: `sent redeem ${dep} (nonce 4) ${hash}` });
    const mined: KeepctlEvent = { type: "mined", key: "k", label: `liquidate ${dep}`, nonce: 1, hash, blockNumber: 7, status: 0, gasUsed: 1n };
    expect(eventLine(mined)?.text).toBe(`mined liquidate ${dep} in block 7 (reverted)`);
    expect(eventLine({ type: "recovered", key: `${dep}:redeem`, status: "mined" })?.text).toBe(`journal: ${dep}:redeem was in flight; on chain it is mined`);
    expect(eventLine({ type: "warning", message: "moved on", deposit: dep })).toEqual({ text: "moved on", warn: true });
  });

  it("watch and bot events by their type, never by guessing a field", () => {
    expect(eventLine({ type: "heartbeat", loop: 2, ok: false, ms: 5, block: null, deposits: null, atRisk: null })?.text).toBe("heartbeat loop=2 ok=false block=- deposits=- at-risk=- 5ms");
    expect(eventLine({ type: "error", pass: 3, attempt: 1, willRetry: true, message: "down", code: "RPC_UNREACHABLE" })).toEqual({ text: "pass 3 attempt 1 failed: down (retrying)", warn: true });
    expect(eventLine({ type: "decision", action: "liquidate", sponsor: dep, tokens: 100n * 10n ** 18n, minCollateralPerToken: 0n, maxCollateralPerToken: 1225n * 10n ** 15n, deadline: 0n, reason: "undercollateralized", collateralNetOfWithdrawal: 0n, price: 10n ** 18n } as KeepctlEvent)?.text).toBe("liquidate 0x121212…1212: undercollateralized, 100 tokens, max 1.225 collateral/token");
    expect(eventLine({ type: "deposit", deposit: dep, state: "ACTIVE", collateralPct: 150 })).toBeUndefined();
  });

  it("every human line starts with the ISO time and the level; every JSON event carries `at`", () => {
    expect(stampLine({ text: "x" }, at)).toBe("2026-12-02T04:50:58Z INFO x");
    expect(stampLine({ text: "x", warn: true }, at)).toBe("2026-12-02T04:50:58Z WARN x");
    expect(eventJson({ type: "alert-resolved", key: "k" }, { bot: "liquidator" }, at)).toEqual({ at: "2026-12-02T04:50:58.123Z", bot: "liquidator", type: "alert-resolved", key: "k" });
  });

  it("eventWriter: NDJSON with --json, stamped lines on the chosen stream otherwise, nothing besides a JSON document", () => {
    const j = capture(true);
    eventWriter(j.out, { stream: "stdout", now: () => at })({ type: "notice", text: "hi" });
    expect(JSON.parse(j.text().o)).toEqual({ at: at.toISOString(), type: "notice", text: "hi" });

    const h = capture(false);
    const w = eventWriter(h.out, { stream: "stderr", now: () => at });
    w({ type: "notice", text: "hi" });
    w({ type: "loop-error", loop: 1, error: "boom", code: "X" });
    expect(h.text()).toEqual({ o: "", e: "2026-12-02T04:50:58Z INFO hi\n2026-12-02T04:50:58Z WARN loop 1 failed: boom\n" });

    const doc = capture(true);
    eventWriter(doc.out, { stream: "stderr", ndjson: false })({ type: "notice", text: "hi" });
    expect(doc.text()).toEqual({ o: "", e: "" });
  });
});
