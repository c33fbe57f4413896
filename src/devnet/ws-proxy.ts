import http from "node:http";
import type net from "node:net";
import { WebSocket, WebSocketServer, type RawData } from "ws";

/**
 * A WebSocket JSON-RPC endpoint on loopback in front of a Hardhat node's own WebSocket (hardhat
 * node serves ws:// on its HTTP port, eth_subscribe included): every client socket gets its own
 * upstream socket, frames are passed through, and faults are injected on the wire — drop every
 * socket, stall (frames and pongs swallowed: a hung provider), refuse new upgrades with an HTTP
 * status — plus an optional round-trip time like provider-proxy.ts's, half each way (a pushed head
 * pays one way). Test and bench tooling only: no production command loads it.
 */
export interface WsProxyOptions {
  /** The node's WebSocket, e.g. ws://127.0.0.1:8545. */
  target: string;
  /** Added per request/answer pair, half on the way in and half on the way out (default 0). */
  rttMs?: number;
  /** A path the URL must carry (an API key in the path, as hosted providers do); others get 401. */
  keyPath?: string;
}

export interface WsProxyCounts {
  /** Client sockets accepted (upgrades that succeeded). */
  connections: number;
  /** Upgrades refused (refuse() or a wrong key path). */
  refused: number;
  /** JSON-RPC calls received, by method. */
  byMethod: Record<string, number>;
  /** eth_subscription frames passed to clients. */
  pushes: number;
}

export interface WsProxy {
  url: string;
  counts: WsProxyCounts;
  /** Client sockets open now. */
  readonly open: number;
  /** Closes every client socket at once (1006-style: no close frame), as a provider restart does. */
  drop(): void;
  /** Refuses upgrades with `status` (default 503) until allow(). */
  refuse(status?: number): void;
  allow(): void;
  /** While on, frames both ways and pongs are swallowed: sockets stay open and say nothing. */
  stall(on: boolean): void;
  close(): Promise<void>;
}

export async function startWsProxy(o: WsProxyOptions): Promise<WsProxy> {
  const counts: WsProxyCounts = { connections: 0, refused: 0, byMethod: {}, pushes: 0 };
  const half = (o.rttMs ?? 0) / 2;
  let refusing: number | undefined;
  let stalled = false;
  const clients = new Set<WebSocket>();
  const server = http.createServer((_req, res) => res.writeHead(426, { "content-type": "text/plain" }).end("WebSocket only\n"));
  const wss = new WebSocketServer({ noServer: true, autoPong: false });
  const later = (f: () => void) => (half > 0 ? void setTimeout(f, half) : f());

  server.on("upgrade", (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const status = refusing ?? (o.keyPath !== undefined && req.url !== o.keyPath ? 401 : undefined);
    if (status !== undefined) {
      counts.refused++;
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? "Refused"}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (client) => serve(client));
  });

  function serve(client: WebSocket): void {
    counts.connections++;
    clients.add(client);
    const upstream = new WebSocket(o.target, { perMessageDeflate: false });
    const queued: string[] = [];
    const toUpstream = (text: string) => (upstream.readyState === WebSocket.OPEN ? upstream.send(text) : queued.push(text));
    upstream.on("open", () => { for (const t of queued.splice(0)) upstream.send(t); });
    upstream.on("message", (data: RawData) => {
      if (stalled) return;
      const text = String(data);
      if (text.includes("\"eth_subscription\"")) counts.pushes++;
      later(() => { if (client.readyState === WebSocket.OPEN && !stalled) client.send(text); });
    });
    const end = () => {
      clients.delete(client);
      if (client.readyState !== WebSocket.CLOSED) client.terminate();
      if (upstream.readyState !== WebSocket.CLOSED) upstream.terminate();
    };
    upstream.on("close", end);
    upstream.on("error", end);
    client.on("close", end);
    client.on("error", end);
    client.on("ping", (data) => { if (!stalled) client.pong(data); });
    client.on("message", (data: RawData) => {
      if (stalled) return;
      const text = String(data);
      try {
        const json = JSON.parse(text) as { method?: string } | { method?: string }[];
        for (const c of Array.isArray(json) ? json : [json]) counts.byMethod[String(c.method)] = (counts.byMethod[String(c.method)] ?? 0) + 1;
      } catch { /* passed on as it came: the node answers junk with a parse error */ }
      later(() => toUpstream(text));
    });
  }

  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}${o.keyPath ?? ""}`,
    counts,
    get open() {
      return clients.size;
    },
    drop: () => { for (const c of [...clients]) c.terminate(); },
    refuse: (status = 503) => { refusing = status; },
    allow: () => { refusing = undefined; },
    stall: (on) => { stalled = on; },
    close: () => new Promise<void>((r) => {
      for (const c of [...clients]) c.terminate();
      wss.close();
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
