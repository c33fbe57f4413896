import type net from "node:net";
import WebSocket from "ws";
import type { Endpoint } from "./endpoint-pool";
import { AttemptError, answersOf, statusError, type Result } from "./rpc-wire";

/**
 * JSON-RPC over one WebSocket per ws:// endpoint. Requests take part in failover exactly like an
 * HTTP POST (provider.ts asks exchange(), this answers or throws the same AttemptError kinds: a
 * refused upgrade is its HTTP status, a dead port its errno, a socket that closes mid-request is
 * worth a retry, a timeout is a timeout). ethers' WebSocketProvider is not used for this: it has
 * no request timeout, does not fail requests in flight when the socket drops and never reconnects,
 * and failover, the head census and the fault classification live in our transport, not in ethers.
 *
 * Ids are rewritten on the wire: several providers (the pool's, the census siblings') share the
 * socket, and each numbers its calls from 1.
 */
interface Pending {
  /** Wire id -> the caller's id. */
  ids: Map<number, unknown>;
  isBatch: boolean;
  resolve: (r: Result[]) => void;
  reject: (e: AttemptError) => void;
  timer: NodeJS.Timeout;
}

export interface Notification {
  subscription: string;
  result: unknown;
}

export class WsRpcConnection {
  private ws?: WebSocket;
  private opening?: Promise<WebSocket>;
  private wireId = 1;
  private readonly pending = new Map<number, Pending>();
  /** A ping went out and no pong came back yet. */
  private awaitingPong = false;
  /** Told of every eth_subscription notification and every socket close (the head feed listens). */
  readonly onNotification = new Set<(n: Notification) => void>();
  readonly onClose = new Set<(reason: string) => void>();

  constructor(readonly url: string) {}

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Sends one payload (a call or a batch, as JSON text) and resolves with its answers. */
  async request(body: string, isBatch: boolean, timeoutMs: number): Promise<Result[]> {
    const started = Date.now();
    const ws = await this.open(timeoutMs);
    const parsed = JSON.parse(body) as { id?: unknown }[] | { id?: unknown };
    const calls = Array.isArray(parsed) ? parsed : [parsed];
    const ids = new Map<number, unknown>();
    const wire = calls.map((c) => {
      const id = this.wireId++;
      ids.set(id, c.id);
      return { ...c, id };
    });
    return new Promise<Result[]>((resolve, reject) => {
      const left = Math.max(1, timeoutMs - (Date.now() - started));
      const entry: Pending = {
        ids,
        isBatch,
        resolve,
        reject,
        timer: setTimeout(() => this.settle(entry, new AttemptError(`timed out after ${timeoutMs} ms`, true, undefined, true)), left),
      };
      for (const id of ids.keys()) this.pending.set(id, entry);
      ws.send(JSON.stringify(Array.isArray(parsed) ? wire : wire[0]), (err) => {
        if (err) this.settle(entry, new AttemptError("socket closed while sending", true));
      });
    });
  }

  /**
   * Liveness, called on a timer while heads are subscribed: a socket whose last ping got no pong
   * is stalled (a dead NAT mapping, a hung proxy) and is closed, so the drop is noticed at all.
   */
  heartbeat(): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (this.awaitingPong) {
      ws.terminate();
      return;
    }
    this.awaitingPong = true;
    ws.ping();
  }

  /** Closes the socket (requests in flight fail, to be retried elsewhere); a later request opens a new one. */
  close(): void {
    const ws = this.ws;
    this.ws = undefined;
    this.opening = undefined;
    ws?.terminate();
  }

  private settle(entry: Pending, outcome: AttemptError | Result[]): void {
    clearTimeout(entry.timer);
    let mine = false;
    for (const id of entry.ids.keys()) if (this.pending.get(id) === entry) { this.pending.delete(id); mine = true; }
    if (!mine) return; // settled already (an answer raced the timeout)
    if (outcome instanceof AttemptError) entry.reject(outcome);
    else entry.resolve(outcome);
  }

  private open(timeoutMs: number): Promise<WebSocket> {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) return Promise.resolve(this.ws);
    this.opening ??= new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(this.url, { handshakeTimeout: timeoutMs, perMessageDeflate: false, followRedirects: false });
      let opened = false;
      const fail = (e: AttemptError) => {
        if (this.opening && !opened) this.opening = undefined;
        reject(e);
      };
      ws.on("unexpected-response", (_req, res) => {
        fail(statusError(res.statusCode ?? 0, res.headers["retry-after"] as string | undefined, false));
        res.resume();
        ws.terminate();
      });
      ws.on("error", (e: Error & { code?: string }) => {
        // Never the error's text: ws puts the whole URL (and its API key) in some of them.
        if (!opened) fail(/handshake has timed out/i.test(e.message) ? new AttemptError(`timed out after ${timeoutMs} ms`, true, undefined, true) : new AttemptError(e.code ?? "WebSocket error", true));
      });
      ws.on("open", () => {
        opened = true;
        this.ws = ws;
        this.awaitingPong = false;
        this.opening = undefined;
        // A lingering socket must not keep a finished command alive (a request's own timer does while one is pending).
        (ws as unknown as { _socket?: net.Socket })._socket?.unref();
        resolve(ws);
      });
      ws.on("message", (data) => this.receive(String(data)));
      ws.on("pong", () => { if (this.ws === ws) this.awaitingPong = false; });
      ws.on("close", (code) => {
        if (this.ws === ws) this.ws = undefined;
        if (!opened) return fail(new AttemptError(`socket closed (code ${code})`, true));
        const reason = `socket closed (code ${code})`;
        for (const entry of new Set(this.pending.values())) if ([...entry.ids.keys()].some((id) => this.pending.get(id) === entry)) this.settle(entry, new AttemptError(reason, true));
        for (const f of this.onClose) f(reason);
      });
    });
    return this.opening;
  }

  private receive(text: string): void {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return; // a frame that is no JSON answers nothing; the request's timeout decides
    }
    const first = Array.isArray(json) ? (json[0] as { id?: unknown } | undefined) : (json as { id?: unknown; method?: unknown; params?: unknown });
    if (!Array.isArray(json) && (json as { method?: unknown }).method === "eth_subscription") {
      const p = (json as { params?: Notification }).params;
      if (p && typeof p.subscription === "string") for (const f of this.onNotification) f(p);
      return;
    }
    const entry = typeof first?.id === "number" ? this.pending.get(first.id) : !Array.isArray(json) && first?.id === null ? this.oldestBatch() : undefined;
    if (!entry) return; // late (timed out) or not ours
    try {
      const results = answersOf(json, entry.isBatch).map((r) => ({ ...r, id: entry.ids.get(r.id as number) ?? r.id }) as Result);
      this.settle(entry, results);
    } catch (e) {
      this.settle(entry, e instanceof AttemptError ? e : new AttemptError("bad answer", true));
    }
  }

  /** A batch-level error carries no id: it answers the oldest batch in flight. */
  private oldestBatch(): Pending | undefined {
    for (const entry of this.pending.values()) if (entry.isBatch) return entry;
    return undefined;
  }
}

const sockets = new WeakMap<Endpoint, WsRpcConnection>();

/** The one connection of a ws:// endpoint (the same Endpoint object in every provider of a pool). */
export function socketOf(ep: Endpoint): WsRpcConnection {
  let s = sockets.get(ep);
  if (!s) sockets.set(ep, (s = new WsRpcConnection(ep.url)));
  return s;
}

/** The endpoint's connection if one was made (to close it). */
export function existingSocketOf(ep: Endpoint): WsRpcConnection | undefined {
  return sockets.get(ep);
}
