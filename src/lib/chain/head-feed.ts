import { parseBlockHeader, type BlockHeader } from "./preflight";
import type { Notification, WsRpcConnection } from "./ws-rpc";

/**
 * New heads pushed by a WebSocket endpoint (eth_subscribe "newHeads"), for loops that wake on a
 * new block. While the socket is down the feed says so once and the loop polls the head as it
 * would over HTTP; the feed reconnects with a doubling backoff, subscribes again, says so once,
 * and the loop is woken by pushes again.
 */
export interface HeadFeedOptions {
  /** For the subscribe request. */
  timeoutMs: number;
  /** First reconnect delay (doubles per failed attempt, up to maxReconnectMs). Default 500 ms. */
  reconnectMs?: number;
  /** Default 15 s. */
  maxReconnectMs?: number;
  /** Ping period; a ping unanswered by the next one closes the socket. Default min(10 s, timeoutMs). */
  pingMs?: number;
  /** One line when push stops and one when it resumes (the caller decides where they go). */
  onNotice: (text: string) => void;
}

export class HeadFeed {
  private state: "idle" | "starting" | "push" | "down" = "idle";
  private subscription?: string;
  private latest?: BlockHeader;
  /** The outage was said (once per outage, however many reconnects fail). */
  private announcedDown = false;
  private attempt = 0;
  private reconnectTimer?: NodeJS.Timeout;
  private pingTimer?: NodeJS.Timeout;
  private readonly waiters = new Set<() => void>();
  private readonly onNotification = (n: Notification) => this.notified(n);
  private readonly onClose = (reason: string) => {
    if (this.state === "push") this.down(reason);
  };
  /** Pushes received (metrics and tests). */
  pushed = 0;

  constructor(private readonly conn: WsRpcConnection, private readonly label: string, private readonly o: HeadFeedOptions) {}

  /** Heads arrive by push now (false while starting or down: poll). */
  get pushing(): boolean {
    return this.state === "push";
  }

  start(): void {
    if (this.state !== "idle") return;
    this.state = "starting";
    this.conn.onNotification.add(this.onNotification);
    this.conn.onClose.add(this.onClose);
    void this.subscribe();
  }

  stop(): void {
    this.state = "idle";
    this.subscription = undefined;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pingTimer);
    this.conn.onNotification.delete(this.onNotification);
    this.conn.onClose.delete(this.onClose);
    this.wake();
  }

  /**
   * The freshest pushed head above `after` (at once if one came while the caller was busy), or
   * undefined at `untilMs`, on abort, or as soon as push stops (the caller polls then).
   */
  async next(after: number, untilMs: number, signal: AbortSignal): Promise<BlockHeader | undefined> {
    for (;;) {
      if (this.latest && this.latest.number > after) return this.latest;
      if (!this.pushing || signal.aborted || Date.now() >= untilMs) return undefined;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          signal.removeEventListener("abort", done);
          this.waiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, Math.max(0, untilMs - Date.now()));
        signal.addEventListener("abort", done, { once: true });
        this.waiters.add(done);
      });
    }
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private async subscribe(): Promise<void> {
    if (this.state === "idle") return;
    try {
      const [r] = await this.conn.request(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_subscribe", params: ["newHeads"] }), false, this.o.timeoutMs);
      if (!r || !("result" in r) || typeof r.result !== "string") {
        const refusal = r && "error" in r ? String(r.error?.message ?? "refused").slice(0, 120) : "no subscription id";
        throw new Error(`eth_subscribe refused: ${refusal}`);
      }
      if ((this.state as string) === "idle") return; // stopped while subscribing
      this.subscription = r.result;
      this.attempt = 0;
      if (this.announcedDown) this.o.onNotice(`new heads: WebSocket ${this.label} is back; heads are pushed again`);
      this.announcedDown = false;
      this.state = "push";
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.conn.heartbeat(), this.o.pingMs ?? Math.min(10_000, this.o.timeoutMs));
      this.pingTimer.unref();
      this.wake();
    } catch (e) {
      this.down((e as Error).message);
    }
  }

  private down(reason: string): void {
    if (this.state === "idle") return;
    const was = this.state;
    this.state = "down";
    this.subscription = undefined;
    clearInterval(this.pingTimer);
    this.wake();
    if (!this.announcedDown) {
      this.announcedDown = true;
      this.o.onNotice(`new heads: WebSocket ${this.label} ${was === "push" ? "dropped" : "is unavailable"} (${reason}); polling the head until it reconnects`);
    }
    const delay = Math.min(this.o.maxReconnectMs ?? 15_000, (this.o.reconnectMs ?? 500) * 2 ** Math.min(this.attempt++, 20));
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.subscribe(), delay);
    this.reconnectTimer.unref();
  }

  private notified(n: Notification): void {
    if (n.subscription !== this.subscription) return;
    let h: BlockHeader | null;
    try {
      h = parseBlockHeader(n.result, "a pushed head");
    } catch {
      return; // junk in a push: the poll fallback and the next push decide
    }
    if (!h) return;
    this.pushed++;
    if (!this.latest || h.number > this.latest.number) this.latest = h;
    this.wake();
  }
}
