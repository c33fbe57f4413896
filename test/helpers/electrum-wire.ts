import net from "node:net";
import { WebSocket } from "ws";

/**
 * A bare Electrum client for tests: raw JSON-RPC lines over TCP or frames over WebSocket, with
 * no keepctl code in between. Answers are matched by id; notifications and unparseable lines are
 * kept for the test to inspect.
 */
export interface WireMessage {
  id?: unknown;
  result?: unknown;
  error?: { code: number; message: string };
  method?: string;
  params?: unknown[];
}

export class ElectrumWire {
  readonly notifications: WireMessage[] = [];
  /** Lines (or frames) that were not JSON. */
  readonly junk: string[] = [];
  /** Every parsed message, arrays (batch answers) included, in arrival order. */
  readonly received: unknown[] = [];
  closed = false;
  private nextId = 1;
  private readonly waiters: Array<{ test: () => boolean; resolve: () => void }> = [];
  private readonly answers = new Map<string, WireMessage>();

  private constructor(private readonly sendText: (t: string) => void, private readonly end: () => void) {}

  static async tcp(url: string): Promise<ElectrumWire> {
    const u = new URL(url);
    const socket = net.connect(Number(u.port), u.hostname);
    await new Promise<void>((r, j) => socket.once("connect", () => r()).once("error", j));
    const wire = new ElectrumWire((t) => socket.write(t + "\n"), () => socket.destroy());
    let buf = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        wire.onText(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    });
    socket.on("error", () => undefined);
    socket.on("close", () => wire.onClose());
    return wire;
  }

  static async ws(url: string): Promise<ElectrumWire> {
    const ws = new WebSocket(url);
    await new Promise<void>((r, j) => ws.once("open", () => r()).once("error", j));
    const wire = new ElectrumWire((t) => ws.send(t), () => ws.terminate());
    ws.on("message", (d) => wire.onText(d.toString()));
    ws.on("error", () => undefined);
    ws.on("close", () => wire.onClose());
    return wire;
  }

  private onText(t: string): void {
    let p: unknown;
    try {
      p = JSON.parse(t);
    } catch {
      this.junk.push(t);
      return this.wake();
    }
    this.received.push(p);
    for (const m of (Array.isArray(p) ? p : [p]) as WireMessage[]) {
      if (m.method !== undefined && m.id === undefined) this.notifications.push(m);
      else this.answers.set(JSON.stringify(m.id), m);
    }
    this.wake();
  }
  private onClose(): void {
    this.closed = true;
    this.wake();
  }
  private wake(): void {
    for (const w of [...this.waiters]) if (w.test()) this.waiters.splice(this.waiters.indexOf(w), 1), w.resolve();
  }

  /** Resolves when `test` holds (checked on every message and on close); fails after `ms`. */
  until(test: () => boolean, ms = 5000, what = "condition"): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
      this.waiters.push({ test, resolve: () => (clearTimeout(t), resolve()) });
    });
  }

  sendRaw(text: string): void {
    this.sendText(text);
  }

  /** Sends one request and waits for its answer (result or error object). */
  async call(method: string, params: unknown[] = []): Promise<WireMessage> {
    const id = this.nextId++;
    this.sendText(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    await this.until(() => this.answers.has(String(id)) || this.closed, 5000, `the answer to ${method}`);
    const a = this.answers.get(String(id));
    if (!a) throw new Error(`connection closed before ${method} was answered`);
    return a;
  }

  /** Sends a request and returns its result, throwing on an error object. */
  async result<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    const a = await this.call(method, params);
    if (a.error) throw new Error(`${method}: ${a.error.code} ${a.error.message}`);
    return a.result as T;
  }

  /** Waits for a notification of `method` matching `test`, after the `from`-th notification. */
  async notification(method: string, test: (m: WireMessage) => boolean = () => true, from = 0): Promise<WireMessage> {
    const find = () => this.notifications.slice(from).find((m) => m.method === method && test(m));
    await this.until(() => !!find(), 5000, `a ${method} notification`);
    return find()!;
  }

  close(): void {
    this.end();
  }
}
