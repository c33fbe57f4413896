import net from "node:net";

/**
 * A loopback TCP proxy in front of one server (tests: the link between one keepctl and its state
 * database). cut() partitions the link the way a dead network does: the open connections stay
 * open but carry nothing more, and new ones are accepted and never answered — the client sees
 * timeouts, not a clean refusal. restore() forwards again (the dead connections are closed then,
 * as a real network's would time out).
 *
 * It also counts round trips (the bench): a burst of bytes from the client after the server's
 * answer (or as the connection's first bytes) is one request the client waits on. Chunking does
 * not change the count, pipelined requests would count once.
 */
export interface TcpProxy {
  port: number;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
  /** Connections accepted and client round trips forwarded since the start or the last resetCounts(). */
  counts: { connections: number; roundTrips: number };
  resetCounts(): void;
}

export async function startTcpProxy(target: { host: string; port: number }, o: { /** Added round-trip time (ms): half each way, order kept. */ rttMs?: number } = {}): Promise<TcpProxy> {
  const half = (o.rttMs ?? 0) / 2;
  const forward = (to: net.Socket, d: Buffer) => void (half > 0 ? setTimeout(() => to.write(d), half) : to.write(d));
  let cut = false;
  const counts = { connections: 0, roundTrips: 0 };
  const pairs = new Set<{ client: net.Socket; upstream?: net.Socket; dead: boolean }>();
  const server = net.createServer((client) => {
    const pair: { client: net.Socket; upstream?: net.Socket; dead: boolean } = { client, dead: cut };
    pairs.add(pair);
    client.on("error", () => undefined);
    client.on("close", () => {
      pair.upstream?.destroy();
      pairs.delete(pair);
    });
    if (cut) return; // accepted, never answered
    counts.connections++;
    const upstream = net.connect(target.port, target.host);
    pair.upstream = upstream;
    upstream.on("error", () => client.destroy());
    upstream.on("close", () => client.destroy());
    let clientSpokeLast = false;
    client.on("data", (d) => {
      if (pair.dead) return;
      if (!clientSpokeLast) counts.roundTrips++;
      clientSpokeLast = true;
      forward(upstream, d);
    });
    upstream.on("data", (d) => {
      if (pair.dead) return;
      clientSpokeLast = false;
      forward(client, d);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    counts,
    resetCounts() {
      counts.connections = 0;
      counts.roundTrips = 0;
    },
    cut() {
      cut = true;
      for (const p of pairs) p.dead = true;
    },
    restore() {
      cut = false;
      for (const p of pairs) if (p.dead) p.client.destroy();
    },
    async close() {
      for (const p of pairs) p.client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
