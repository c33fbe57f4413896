import { sleep } from "../chain/sleep";
import { redactUrl } from "../redact";
import { openWire, type Wire } from "./electrum-wire";
import { ServerError, type ServerStats } from "./server";
import type { ElectrumEndpoint } from "./urls";

/**
 * JSON-RPC 2.0 with one Electrum server: `server.version` negotiated first on every connection,
 * requests issued in the same tick written as one batch (answers matched by id), a timeout per
 * request, notifications handed to the owner, and — while someone listens for notifications — a
 * reconnect with backoff after the connection drops (the owner re-subscribes in `onConnected`).
 */
export const ELECTRUM_PROTOCOL = "1.4";

export interface SessionOptions {
  endpoint: ElectrumEndpoint;
  clientName: string;
  timeoutMs: number;
  stats: ServerStats;
  /** First reconnect delay, doubling up to maxReconnectMs. */
  reconnectMs?: number;
  maxReconnectMs?: number;
  onNotification?: (method: string, params: unknown) => void;
  /** After each negotiation (first connect and reconnects), before queued requests are written. */
  onConnected?: (reconnect: boolean) => void;
}

interface Pending {
  method: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

interface Queued extends Pending {
  id: number;
  params: unknown[];
}

type Message = { id?: number | string | null; method?: string; params?: unknown; result?: unknown; error?: unknown };

export class ElectrumSession {
  private wire?: Wire;
  private connecting?: Promise<void>;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private queue: Queued[] = [];
  private flushScheduled = false;
  private closed = false;
  private connectedOnce = false;
  private reconnecting = false;
  /** Someone relies on notifications: keep the connection up (reconnect when it drops). */
  keepAlive = false;
  readonly label: string;

  constructor(private readonly o: SessionOptions) {
    this.label = redactUrl(o.endpoint.url);
  }

  /** One JSON-RPC call; calls made in the same tick share one batch write. */
  request(method: string, params: unknown[] = []): Promise<unknown> {
    if (this.closed) return Promise.reject(new ServerError(`${this.label} client closed`, "transport"));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, method, params, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // A macrotask: every request issued by the microtasks of this tick joins the batch.
        setImmediate(() => void this.flush());
      }
    });
  }

  get isConnected(): boolean {
    return this.wire !== undefined && this.connecting === undefined;
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    try {
      await this.ensureConnected();
    } catch (e) {
      const batch = this.queue.splice(0);
      for (const q of batch) q.reject(e as Error);
      return;
    }
    const batch = this.queue.splice(0);
    if (batch.length) this.write(batch);
  }

  private write(batch: Queued[]): void {
    const s = this.o.stats;
    if (this.pending.size === 0) s.roundTrips++;
    s.writes++;
    s.requests += batch.length;
    for (const q of batch) {
      s.byMethod[q.method] = (s.byMethod[q.method] ?? 0) + 1;
      q.timer = setTimeout(() => this.timedOut(q), this.o.timeoutMs);
      this.pending.set(q.id, q);
    }
    const msgs = batch.map((q) => ({ jsonrpc: "2.0", id: q.id, method: q.method, params: q.params }));
    this.wire!.send(JSON.stringify(msgs.length === 1 ? msgs[0] : msgs));
  }

  private timedOut(q: Pending): void {
    // A server that leaves one request unanswered is hung for all of them: drop the connection,
    // so the next request starts on a fresh one (and the other pending ones fail now, not later).
    this.failPending(new ServerError(`${this.label} did not answer ${q.method} within ${this.o.timeoutMs} ms`, "timeout"));
    this.dropWire("request timed out");
  }

  private ensureConnected(): Promise<void> {
    if (this.wire && !this.connecting) return Promise.resolve();
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<void> {
    let wire: Wire;
    try {
      wire = await openWire(this.o.endpoint, this.o.timeoutMs, {
        onMessage: (text) => this.onMessage(text),
        onClose: (reason) => this.onWireClosed(wire, reason),
      });
    } catch (e) {
      throw new ServerError(`${this.label} cannot connect (${(e as Error).message})`, "transport");
    }
    this.wire = wire;
    this.o.stats.connects++;
    // server.version must be the first message on the wire: written alone, before any queued request.
    const version = new Promise<unknown>((resolve, reject) => {
      const id = this.nextId++;
      this.write([{ id, method: "server.version", params: [this.o.clientName, ELECTRUM_PROTOCOL], resolve, reject }]);
    });
    let answer: unknown;
    try {
      answer = await version;
    } catch (e) {
      this.dropWire("negotiation failed");
      throw e;
    }
    if (!Array.isArray(answer) || answer[1] !== ELECTRUM_PROTOCOL) {
      this.dropWire("no common protocol version");
      throw new ServerError(`${this.label} does not speak Electrum protocol ${ELECTRUM_PROTOCOL} (server.version answered ${JSON.stringify(answer).slice(0, 80)})`, "bad-response");
    }
    const reconnect = this.connectedOnce;
    this.connectedOnce = true;
    this.o.onConnected?.(reconnect);
  }

  private onMessage(text: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.failPending(new ServerError(`${this.label} sent a message that is not JSON`, "bad-response"));
      this.dropWire("junk on the wire");
      return;
    }
    for (const m of (Array.isArray(parsed) ? parsed : [parsed]) as Message[]) {
      if (!m || typeof m !== "object") continue;
      if (m.id === undefined || m.id === null) {
        if (typeof m.method === "string") this.o.onNotification?.(m.method, m.params);
        continue;
      }
      const p = this.pending.get(Number(m.id));
      if (!p) continue;
      this.pending.delete(Number(m.id));
      clearTimeout(p.timer);
      if (m.error !== undefined && m.error !== null) {
        const words = errorWords(m.error);
        p.reject(new ServerError(`${this.label} answered ${p.method} with an error: ${words}`, "refused", words));
      } else p.resolve(m.result);
    }
  }

  private onWireClosed(wire: Wire | undefined, reason: string): void {
    if (wire !== undefined && this.wire !== wire) return;
    this.wire = undefined;
    this.failPending(new ServerError(`${this.label} connection lost (${reason})`, "transport"));
    if (this.keepAlive && !this.closed) void this.reconnectLoop();
  }

  private dropWire(reason: string): void {
    const w = this.wire;
    this.wire = undefined;
    w?.close();
    if (w && this.keepAlive && !this.closed) void this.reconnectLoop();
    void reason;
  }

  private failPending(e: ServerError): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) {
      clearTimeout(p.timer);
      p.reject(e);
    }
  }

  /** Reconnects with backoff while notifications are wanted; onConnected re-subscribes. */
  private async reconnectLoop(): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    let delay = this.o.reconnectMs ?? 500;
    try {
      while (!this.closed && this.keepAlive && !this.wire) {
        await sleep(delay);
        if (this.closed || this.wire) break;
        try {
          await this.ensureConnected();
        } catch {
          delay = Math.min(this.o.maxReconnectMs ?? 30_000, delay * 2);
        }
      }
    } finally {
      this.reconnecting = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const queued = this.queue.splice(0);
    for (const q of queued) q.reject(new ServerError(`${this.label} client closed`, "transport"));
    this.failPending(new ServerError(`${this.label} client closed`, "transport"));
    const w = this.wire;
    this.wire = undefined;
    w?.close();
  }
}

/** The words of a JSON-RPC error object (ElectrumX: {code, message}; some servers: a string). */
function errorWords(err: unknown): string {
  if (typeof err === "string") return oneLine(err);
  if (err && typeof err === "object") {
    const e = err as { message?: unknown; code?: unknown };
    const msg = typeof e.message === "string" ? e.message : JSON.stringify(err);
    return oneLine(typeof e.code === "number" ? `${msg} (code ${e.code})` : msg);
  }
  return oneLine(String(err));
}

/** A node's words on one line (ElectrumX passes bitcoind's multi-line reject text on), cut short. */
function oneLine(s: string): string {
  return s.replace(/\s+/g, " ").trim().slice(0, 300);
}
