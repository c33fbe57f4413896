import net from "node:net";
import tls from "node:tls";
import WebSocket from "ws";
import type { ElectrumEndpoint } from "./urls";

/**
 * The byte stream under the Electrum protocol: one JSON message per line over TCP or TLS, one per
 * text frame over WebSocket (protocol-basics "Message Stream"). Knows nothing of JSON-RPC.
 */
export interface Wire {
  send(text: string): void;
  close(): void;
}

export interface WireEvents {
  onMessage(text: string): void;
  /** Once, whatever closed it (the peer, an error, close()). */
  onClose(reason: string): void;
}

/** Longest line accepted over TCP/TLS before the peer is taken for broken (a headers chunk of 2016 is ~330 kB). */
const MAX_LINE_CHARS = 32 * 1024 * 1024;

export function openWire(ep: ElectrumEndpoint, timeoutMs: number, ev: WireEvents): Promise<Wire> {
  return ep.transport === "ws" || ep.transport === "wss" ? openWebSocket(ep, timeoutMs, ev) : openSocket(ep, timeoutMs, ev);
}

function openSocket(ep: ElectrumEndpoint, timeoutMs: number, ev: WireEvents): Promise<Wire> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let closed = false;
    let buffer = "";
    const socket: net.Socket =
      ep.transport === "tls"
        ? tls.connect({ host: ep.host, port: ep.port, servername: net.isIP(ep.host) ? undefined : ep.host, rejectUnauthorized: !ep.insecure })
        : net.connect({ host: ep.host, port: ep.port });
    const timer = setTimeout(() => fail(`no connection within ${timeoutMs} ms`), timeoutMs);
    const fail = (reason: string) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        reject(new Error(reason));
        return;
      }
      finish(reason);
    };
    const finish = (reason: string) => {
      if (closed) return;
      closed = true;
      socket.destroy();
      ev.onClose(reason);
    };
    socket.setEncoding("utf8");
    socket.setNoDelay(true);
    socket.on(ep.transport === "tls" ? "secureConnect" : "connect", () => {
      settled = true;
      clearTimeout(timer);
      resolve({ send: (text) => void socket.write(text + "\n"), close: () => finish("closed by keepctl") });
    });
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (line) ev.onMessage(line);
        if (closed) return;
      }
      if (buffer.length > MAX_LINE_CHARS) fail("a message longer than 32 MB");
    });
    socket.on("error", (e: NodeJS.ErrnoException) => fail(e.code ? `${e.code}${e.code === "DEPTH_ZERO_SELF_SIGNED_CERT" || e.code === "SELF_SIGNED_CERT_IN_CHAIN" ? " (a self-signed server: add ?insecure=1 to its URL if you trust it)" : ""}` : e.message));
    socket.on("close", () => fail("connection closed by the server"));
  });
}

function openWebSocket(ep: ElectrumEndpoint, timeoutMs: number, ev: WireEvents): Promise<Wire> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let closed = false;
    const ws = new WebSocket(ep.wsUrl!, { rejectUnauthorized: !ep.insecure, handshakeTimeout: timeoutMs, maxPayload: MAX_LINE_CHARS });
    const finish = (reason: string) => {
      if (!settled) {
        settled = true;
        ws.terminate();
        reject(new Error(reason));
        return;
      }
      if (closed) return;
      closed = true;
      ws.terminate();
      ev.onClose(reason);
    };
    ws.on("open", () => {
      settled = true;
      resolve({ send: (text) => ws.send(text), close: () => finish("closed by keepctl") });
    });
    ws.on("message", (data: WebSocket.RawData, isBinary: boolean) => {
      if (isBinary) return finish("a binary frame (Electrum sends text)");
      ev.onMessage(data.toString());
    });
    ws.on("unexpected-response", (_req, res) => finish(`HTTP ${res.statusCode} instead of a WebSocket upgrade`));
    ws.on("error", (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
    ws.on("close", () => finish("connection closed by the server"));
  });
}
