import net from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import type { Gate } from "../gate";
import { electrumMethods, pendingNotifications, type ElectrumContext, type ElectrumSession } from "./methods";
import { BAD_REQUEST, RpcDispatcher, RpcErrorThenClose } from "./rpc";

export interface ElectrumServerOptions extends Omit<ElectrumContext, "tcpPort"> {
  tcpPort?: number;
  wsPort?: number;
  gate: Gate;
  /** ElectrumX closes a session whose first message is not server.version (default true). */
  requireVersionFirst?: boolean;
}

export interface ElectrumServers {
  tcpPort: number;
  wsPort: number;
  /** Open client connections (TCP and WebSocket). */
  connections(): number;
  close(): Promise<void>;
}

/** A transport: send one message, close the connection. */
interface Link {
  send(text: string): void;
  close(): void;
}

const MAX_LINE = 8 * 1024 * 1024;

/**
 * The Electrum server on loopback: newline-delimited JSON-RPC over TCP and one message per text
 * frame over WebSocket, the same session logic behind both. Messages of a connection are handled
 * in order; notifications are sent after every node change, in the same queue.
 */
export async function startElectrumServers(o: ElectrumServerOptions): Promise<ElectrumServers> {
  const ctx: ElectrumContext = { ...o };
  const dispatcher = new RpcDispatcher<ElectrumSession>(electrumMethods(ctx), (s, method) => {
    if (o.requireVersionFirst !== false && !s.versionSeen && method !== "server.version") throw new RpcErrorThenClose(BAD_REQUEST, "use server.version to identify client");
  });
  const sessions = new Map<ElectrumSession, { link: Link; enqueue: (work: () => Promise<void>) => void; closed: boolean }>();

  function open(link: Link): (text: string) => void {
    const session: ElectrumSession = { versionSeen: false, headers: false, scripthashes: new Map() };
    let queue = Promise.resolve();
    const state = {
      link,
      closed: false,
      enqueue: (work: () => Promise<void>) => {
        queue = queue
          .then(async () => {
            await o.gate.wait();
            if (!state.closed) await work();
          })
          .catch(() => undefined);
      },
    };
    sessions.set(session, state);
    return (text: string) =>
      state.enqueue(async () => {
        const r = await dispatcher.receive(session, text);
        if (r.reply !== undefined) link.send(r.reply);
        if (r.close) {
          state.closed = true;
          link.close();
        }
      });
  }
  const forget = (link: Link) => {
    for (const [s, st] of sessions) if (st.link === link) (st.closed = true), sessions.delete(s);
  };

  let notifyScheduled = false;
  const onChange = () => {
    if (notifyScheduled) return;
    notifyScheduled = true;
    setImmediate(() => {
      notifyScheduled = false;
      for (const [session, st] of sessions) {
        st.enqueue(async () => {
          for (const n of pendingNotifications(ctx, session)) st.link.send(JSON.stringify({ jsonrpc: "2.0", method: n.method, params: n.params }));
        });
      }
    });
  };
  o.node.on("change", onChange);

  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((socket) => {
    sockets.add(socket);
    const link: Link = { send: (t) => void (socket.writable && socket.write(t + "\n")), close: () => socket.end() };
    const receive = open(link);
    let buffer = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_LINE) return socket.destroy();
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl).replace(/\r$/, "");
        buffer = buffer.slice(nl + 1);
        if (line.trim()) receive(line);
      }
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      sockets.delete(socket);
      forget(link);
    });
  });
  await new Promise<void>((resolve, reject) => tcp.once("error", reject).listen(o.tcpPort ?? 0, o.host, () => resolve()));
  const tcpPort = (tcp.address() as net.AddressInfo).port;
  ctx.tcpPort = tcpPort;

  const wss = new WebSocketServer({ host: o.host, port: o.wsPort ?? 0, maxPayload: MAX_LINE });
  await new Promise<void>((resolve, reject) => wss.once("listening", resolve).once("error", reject));
  wss.on("connection", (ws: WebSocket) => {
    const link: Link = { send: (t) => ws.readyState === ws.OPEN && ws.send(t), close: () => ws.close() };
    const receive = open(link);
    ws.on("message", (data, isBinary) => receive(isBinary ? Buffer.from(data as Buffer).toString("utf8") : data.toString()));
    ws.on("error", () => undefined);
    ws.on("close", () => forget(link));
  });
  const wsPort = (wss.address() as net.AddressInfo).port;

  return {
    tcpPort,
    wsPort,
    connections: () => sessions.size,
    async close() {
      o.node.off("change", onChange);
      for (const st of sessions.values()) st.closed = true;
      for (const s of sockets) s.destroy();
      for (const c of wss.clients) c.terminate();
      await Promise.all([new Promise<void>((r) => tcp.close(() => r())), new Promise<void>((r) => wss.close(() => r()))]);
    },
  };
}
