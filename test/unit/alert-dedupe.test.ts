import { describe, expect, it } from "vitest";
import { AlertHub, renderText, type Alert, type Notifier } from "../../src/lib/alert";

class Recorder implements Notifier {
  sent: Alert[] = [];
  fail = false;
  constructor(readonly name: string) {}
  async send(a: Alert) {
    if (this.fail) throw new Error(`${this.name}: HTTP 500`);
    this.sent.push(a);
  }
}

const a = (over: Partial<Alert> = {}): Alert => ({ key: "low-balance:0xacc", level: "warning", title: "ETH balance low", text: "0.05 ETH", ...over });

describe("AlertHub de-duplication", () => {
  it("holds back repeats inside the period and lets them through after it", async () => {
    let t = 1_000;
    const r = new Recorder("r");
    const hub = new AlertHub([r], { renotifyMs: 600, now: () => t });
    await hub.notify(a());
    t = 1_599;
    expect((await hub.notify(a({ text: "0.04 ETH" }))).suppressed).toBe(true);
    t = 1_600;
    expect((await hub.notify(a())).suppressed).toBe(false);
    expect(r.sent).toHaveLength(2);
  });

  it("keys are independent", async () => {
    const r = new Recorder("r");
    const hub = new AlertHub([r], { renotifyMs: 600, now: () => 0 });
    await hub.notify(a());
    await hub.notify(a({ key: "low-balance:0xother" }));
    expect(r.sent.map((x) => x.key)).toEqual(["low-balance:0xacc", "low-balance:0xother"]);
    expect(hub.activeKeys()).toHaveLength(2);
  });

  it("a level change fires at once (escalation and de-escalation)", async () => {
    const r = new Recorder("r");
    const hub = new AlertHub([r], { renotifyMs: 600, now: () => 0 });
    await hub.notify(a());
    await hub.notify(a({ level: "critical" }));
    await hub.notify(a({ level: "critical" }));
    await hub.notify(a());
    expect(r.sent.map((x) => x.level)).toEqual(["warning", "critical", "warning"]);
  });

  it("resolve sends once and only for an active key", async () => {
    const r = new Recorder("r");
    const hub = new AlertHub([r], { renotifyMs: 600, now: () => 0 });
    expect(await hub.resolve("low-balance:0xacc")).toBeNull();
    await hub.notify(a());
    const rep = await hub.resolve("low-balance:0xacc", "1.2 ETH");
    expect(rep?.delivered).toEqual(["r"]);
    expect(renderText(r.sent[1])).toBe("[RESOLVED] ETH balance low\n1.2 ETH");
    expect(await hub.resolve("low-balance:0xacc")).toBeNull();
    expect(hub.activeKeys()).toEqual([]);
  });

  it("isolates a failing channel and retries when nobody heard the alert", async () => {
    const good = new Recorder("good");
    const bad = new Recorder("bad");
    bad.fail = true;
    const hub = new AlertHub([bad, good], { renotifyMs: 600, now: () => 0 });
    const rep = await hub.notify(a());
    expect(rep.delivered).toEqual(["good"]);
    expect(rep.failed).toEqual([{ channel: "bad", error: "bad: HTTP 500" }]);
    const lonely = new AlertHub([bad], { renotifyMs: 600, now: () => 0 });
    await lonely.notify(a());
    bad.fail = false;
    expect((await lonely.notify(a())).delivered).toEqual(["bad"]);
  });
});

describe("alerts are redacted before they leave", () => {
  it("a key or URL path in an alert's text never reaches a channel; tx hashes stay", async () => {
    const { AlertHub } = await import("../../src/lib/alert/hub");
    const sent: { title: string; text: string }[] = [];
    const hub = new AlertHub([{ name: "rec", send: async (a) => { sent.push({ title: a.title, text: a.text }); } }]);
    const key = "0x" + "6b".repeat(32);
    const hash = "0x" + "7c".repeat(32);
    await hub.notify({ key: "k", level: "critical", title: "pass failed", text: `node said ${key.slice(2)} at https://rpc.example/v3/APIKEY and tx ${hash}` });
    expect(sent).toEqual([{ title: "pass failed", text: `node said *** at https://rpc.example/*** and tx ${hash}` }]);
  });
});
