import http from "node:http";
import type net from "node:net";
import type { Gate } from "../gate";
import type { BitcoinNode } from "../node";
import { devnetRoute } from "./devnet-routes";
import { HttpError, readBody, send, text } from "./http";
import { esploraBroadcast, esploraGet } from "./routes";

export interface EsploraServer {
  port: number;
  close(): Promise<void>;
}

/** The Esplora REST server on loopback (plain node:http), with the devnet controls under /devnet/. */
export async function startEsploraServer(o: { node: BitcoinNode; host: string; port?: number; gate: Gate; feeHistogramBinVsize: number }): Promise<EsploraServer> {
  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://x");
      const body = req.method === "POST" ? await readBody(req) : "";
      if (url.pathname.startsWith("/devnet/")) return send(res, devnetRoute(o.node, o.gate, req.method ?? "GET", url.pathname, url.searchParams, body));
      await o.gate.wait();
      if (req.method === "POST" && url.pathname === "/tx") return send(res, esploraBroadcast(o.node, body));
      if (req.method === "GET") return send(res, esploraGet(o.node, url.pathname, o.feeHistogramBinVsize));
      return send(res, text("Invalid method", 405));
    } catch (e) {
      if (e instanceof HttpError) return send(res, text(e.message, e.status));
      send(res, text(`internal error: ${e instanceof Error ? e.message : String(e)}`, 500));
    }
  });
  // Idle keep-alive connections stay open as behind the reverse proxies public Esplora runs on
  // (nginx: 75 s): Node's 5 s default closes them while a client is about to reuse one (ECONNRESET).
  server.keepAliveTimeout = 75_000;
  const sockets = new Set<net.Socket>();
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(o.port ?? 0, o.host, () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
