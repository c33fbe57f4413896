import http from "node:http";
import net from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import { seededRandom, toHex } from "./bytes";
import { ForeignChain, LIE_KINDS, lieInElectrum, lieInEsplora, type LieContext, type LieKind } from "./lies";

/**
 * A loopback proxy in front of the double's Electrum (TCP, WebSocket) and Esplora servers that
 * misbehaves on the wire, seeded so a run replays: at `rate` per answer it drops the connection,
 * stalls, sends junk instead, or answers an error (JSON-RPC error object / HTTP 500); and it can
 * lie (see lies.ts) with a probability per kind. Counters say what it did. Nothing of the client
 * or the double is stubbed: this is how a Bitcoin client is tested for "never trust one server".
 */
export type BitcoinFaultKind = "drop" | "stall" | "junk" | "error";
export const BITCOIN_FAULT_KINDS: readonly BitcoinFaultKind[] = ["drop", "stall", "junk", "error"];

export interface BitcoinFaultProxyOptions {
  /** Upstreams to front: tcp://host:port, ws://host:port, http://host:port (each optional). */
  electrumTcp?: string;
  electrumWs?: string;
  esplora?: string;
  seed?: number;
  /** Share of answers that get a fault, 0..1 (default 0). */
  rate?: number;
  kinds?: readonly BitcoinFaultKind[];
  /** How long a stalled answer is held (default 5000 ms). */
  stallMs?: number;
  /** Probability (0..1) of each lie where it applies (default none). */
  lies?: Partial<Record<LieKind, number>>;
  /** How far a fake tip or confirmation count exceeds the truth (default 10). */
  fakeTipBy?: number;
  /** Every answer (Electrum, Esplora) is held this long: a round-trip time; order kept (default 0). */
  delayMs?: number;
}

export interface BitcoinFaultProxy {
  electrumTcpUrl?: string;
  electrumWsUrl?: string;
  esploraUrl?: string;
  /** requests: client messages to the Electrum servers (a batch is one: one round trip). */
  counts: { answers: number; requests: number; byMethod: Record<string, number>; faults: Record<BitcoinFaultKind, number>; lies: Record<LieKind, number> };
  setRate(rate: number): void;
  setLies(lies: Partial<Record<LieKind, number>>): void;
  close(): Promise<void>;
}

const JUNK = "\u0007<<junk from the fault proxy>>}{\u0000";

export async function startBitcoinFaultProxy(o: BitcoinFaultProxyOptions): Promise<BitcoinFaultProxy> {
  const random = seededRandom(o.seed ?? 1);
  let rate = o.rate ?? 0;
  let lies = { ...(o.lies ?? {}) };
  const kinds = o.kinds ?? BITCOIN_FAULT_KINDS;
  const stallMs = o.stallMs ?? 5000;
  const delayMs = o.delayMs ?? 0;
  const counts: BitcoinFaultProxy["counts"] = {
    answers: 0,
    requests: 0,
    byMethod: {},
    faults: Object.fromEntries(BITCOIN_FAULT_KINDS.map((k) => [k, 0])) as Record<BitcoinFaultKind, number>,
    lies: Object.fromEntries(LIE_KINDS.map((k) => [k, 0])) as Record<LieKind, number>,
  };
  const lieCtx: LieContext = { foreign: new ForeignChain(), fakeTipBy: o.fakeTipBy ?? 10, tell: (k) => (lies[k] ?? 0) > 0 && random() < (lies[k] ?? 0) };
  const timers = new Set<NodeJS.Timeout>();
  const sleep = (ms: number) => new Promise<void>((r) => { const t = setTimeout(() => (timers.delete(t), r()), ms); timers.add(t); });
  const drawFault = (): BitcoinFaultKind | undefined => {
    counts.answers++;
    if (rate <= 0 || random() >= rate) return undefined;
    const k = kinds[Math.floor(random() * kinds.length)];
    counts.faults[k]++;
    return k;
  };
  const closers: Array<() => Promise<void>> = [];

  /** Per connection: requests by id (to know which method an answer belongs to) and the rewrite of one upstream message. */
  function electrumRewriter() {
    const pending = new Map<string, { method: string; params: unknown[] }>();
    const noteRequest = (text: string) => {
      try {
        const p = JSON.parse(text) as unknown;
        for (const r of Array.isArray(p) ? p : [p]) {
          if (!(r && typeof r === "object" && "id" in r && typeof r.method === "string")) continue;
          pending.set(JSON.stringify(r.id), { method: r.method, params: Array.isArray(r.params) ? r.params : [] });
          counts.byMethod[r.method] = (counts.byMethod[r.method] ?? 0) + 1;
        }
      } catch {
        /* the server will answer the parse error itself */
      }
    };
    const rewriteOne = (m: Record<string, unknown>, fault: BitcoinFaultKind | undefined): Record<string, unknown> => {
      if (typeof m.method === "string" && Array.isArray(m.params)) {
        // A notification: blockchain.headers.subscribe carries the header as params[0].
        if (m.method === "blockchain.headers.subscribe") {
          const r = lieInElectrum(m.method, [], m.params[0], lieCtx);
          r.told.forEach((k) => counts.lies[k]++);
          return { ...m, params: [r.result] };
        }
        return m;
      }
      const req = pending.get(JSON.stringify(m.id));
      pending.delete(JSON.stringify(m.id));
      if (fault === "error") return { jsonrpc: "2.0", error: { code: 2, message: "daemon error: injected by the fault proxy" }, id: m.id };
      if (!req || !("result" in m)) return m;
      const r = lieInElectrum(req.method, req.params, m.result, lieCtx);
      r.told.forEach((k) => counts.lies[k]++);
      return { ...m, result: r.result };
    };
    /** Returns the text to pass on, or a fault to act on. */
    const rewrite = (text: string): { text?: string; fault?: BitcoinFaultKind } => {
      const fault = drawFault();
      if (fault === "junk") return { text: JUNK, fault };
      if (fault === "drop" || fault === "stall") return { text, fault };
      try {
        const p = JSON.parse(text) as unknown;
        const out = Array.isArray(p) ? p.map((x) => rewriteOne(x as Record<string, unknown>, fault)) : rewriteOne(p as Record<string, unknown>, fault);
        return { text: JSON.stringify(out), fault };
      } catch {
        return { text, fault };
      }
    };
    return { noteRequest, rewrite };
  }

  const result: BitcoinFaultProxy = { counts, setRate: (r) => void (rate = r), setLies: (l) => void (lies = { ...l }), close: async () => {
    for (const t of timers) clearTimeout(t);
    await Promise.all(closers.map((c) => c()));
  } };

  if (o.electrumTcp) {
    const up = new URL(o.electrumTcp);
    const sockets = new Set<net.Socket>();
    const server = net.createServer((client) => {
      const upstream = net.connect(Number(up.port), up.hostname);
      sockets.add(client).add(upstream);
      const rw = electrumRewriter();
      let chain = Promise.resolve();
      let inBuf = "";
      let outBuf = "";
      const kill = (): void => void (client.destroy(), upstream.destroy());
      client.setEncoding("utf8");
      upstream.setEncoding("utf8");
      client.on("data", (d: string) => {
        inBuf += d;
        let nl: number;
        while ((nl = inBuf.indexOf("\n")) >= 0) {
          const line = inBuf.slice(0, nl);
          inBuf = inBuf.slice(nl + 1);
          rw.noteRequest(line);
          counts.requests++;
          upstream.write(line + "\n");
        }
      });
      upstream.on("data", (d: string) => {
        outBuf += d;
        let nl: number;
        while ((nl = outBuf.indexOf("\n")) >= 0) {
          const line = outBuf.slice(0, nl);
          outBuf = outBuf.slice(nl + 1);
          const held = delayMs > 0 ? sleep(delayMs) : undefined;
          chain = chain.then(async () => {
            await held;
            const r = rw.rewrite(line);
            if (r.fault === "drop") return kill();
            if (r.fault === "stall") await sleep(stallMs);
            if (!client.destroyed) client.write(r.text + "\n");
          });
        }
      });
      for (const s of [client, upstream]) {
        s.on("error", () => undefined);
        s.on("close", () => (sockets.delete(s), kill()));
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    result.electrumTcpUrl = `tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    closers.push(() => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }));
  }

  if (o.electrumWs) {
    const target = o.electrumWs;
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await new Promise<void>((r) => wss.once("listening", () => r()));
    wss.on("connection", (client) => {
      const upstream = new WebSocket(target);
      const rw = electrumRewriter();
      const early: string[] = [];
      let chain = Promise.resolve();
      const kill = (): void => (client.terminate(), upstream.terminate());
      upstream.on("open", () => early.splice(0).forEach((t) => upstream.send(t)));
      client.on("message", (d) => {
        const t = d.toString();
        rw.noteRequest(t);
        counts.requests++;
        if (upstream.readyState === WebSocket.OPEN) upstream.send(t);
        else early.push(t);
      });
      upstream.on("message", (d) => {
        const t = d.toString();
        const held = delayMs > 0 ? sleep(delayMs) : undefined;
        chain = chain.then(async () => {
          await held;
          const r = rw.rewrite(t);
          if (r.fault === "drop") return kill();
          if (r.fault === "stall") await sleep(stallMs);
          if (client.readyState === WebSocket.OPEN) client.send(r.text!);
        });
      });
      for (const s of [client, upstream]) {
        s.on("error", () => undefined);
        s.on("close", kill);
      }
    });
    result.electrumWsUrl = `ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}`;
    closers.push(() => new Promise((r) => { for (const c of wss.clients) c.terminate(); wss.close(() => r()); }));
  }

  if (o.esplora) {
    const base = o.esplora.replace(/\/$/, "");
    const heightOf = async (hash: string) => {
      const r = await fetch(`${base}/block/${hash}`);
      return r.ok ? ((await r.json()) as { height: number }).height : undefined;
    };
    const sockets = new Set<net.Socket>();
    const server = http.createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const path = new URL(req.url ?? "/", "http://x").pathname;
      counts.requests++;
      const route = `${req.method} /${path.split("/").filter(Boolean).map((p) => (/^[0-9a-f]{64}$/i.test(p) ? ":hash" : /^\d+$/.test(p) ? ":n" : p)).join("/")}`;
      counts.byMethod[route] = (counts.byMethod[route] ?? 0) + 1;
      if (delayMs > 0) await sleep(delayMs);
      const fault = drawFault();
      if (fault === "drop") return req.socket.destroy();
      if (fault === "stall") await sleep(stallMs);
      if (fault === "error") return void res.writeHead(500, { "content-type": "text/plain" }).end("Internal Server Error");
      if (fault === "junk") return void res.writeHead(200, { "content-type": "text/plain" }).end(JUNK);
      const parts = path.split("/").filter(Boolean);
      if (parts[0] === "block" && parts[2] === "header" && lieCtx.foreign.heightOf(parts[1]) !== undefined) {
        counts.lies["foreign-headers"]++;
        return void res.writeHead(200, { "content-type": "text/plain" }).end(toHex(lieCtx.foreign.header(lieCtx.foreign.heightOf(parts[1])!)));
      }
      try {
        const r = await fetch(base + (req.url ?? "/"), { method: req.method, headers: { "content-type": String(req.headers["content-type"] ?? "text/plain") }, body: req.method === "POST" ? Buffer.concat(chunks) : undefined });
        let body: Uint8Array = new Uint8Array(await r.arrayBuffer());
        if (r.ok && req.method === "GET") {
          const l = await lieInEsplora(path, body, lieCtx, heightOf);
          l.told.forEach((k) => counts.lies[k]++);
          body = l.body;
        }
        res.writeHead(r.status, { "content-type": r.headers.get("content-type") ?? "text/plain" }).end(Buffer.from(body));
      } catch {
        req.socket.destroy();
      }
    });
    server.on("connection", (s) => (sockets.add(s), s.on("close", () => sockets.delete(s))));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    result.esploraUrl = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    closers.push(() => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }));
  }
  return result;
}
