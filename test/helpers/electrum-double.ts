import net from "node:net";
import tls from "node:tls";
import type { AddressInfo } from "node:net";
import { Transaction } from "@scure/btc-signer";
import { WebSocketServer, type WebSocket } from "ws";
import { REGTEST_BITS, TestChain, bitsTarget, disp, dsha, sha256 } from "./btc-chain";

/**
 * A scripted Electrum server on 127.0.0.1 serving a TestChain: JSON-RPC 2.0 over TCP (newline
 * framed), TLS and WebSocket (one message per frame), answering the shapes of
 * spesmilo/electrum-protocol docs/protocol-methods.rst. It insists on `server.version` first,
 * answers a batch with one write, pushes `blockchain.headers.subscribe` notifications, and can be
 * told to misbehave on the wire: hang, drop connections, lie about a merkle node, serve a header
 * above its target or one that breaks the chain, claim another genesis block.
 */
export interface ElectrumFaults {
  /** Never answer (after `server.version` when "afterVersion"). */
  hang?: boolean | "afterVersion";
  /** Flip a byte of the first merkle node of every get_merkle answer. */
  lieMerkle?: boolean;
  /** Headers at these heights carry nBits 0x1d00ffff, which their hash does not meet. */
  badPowAt?: number[];
  /** The header at this height names a random parent (re-mined, so its own work is fine). */
  brokenLinkAt?: number;
  genesis?: string;
  /** Reject every broadcast with these words. */
  broadcastError?: string;
}

export interface Received { conn: number; raw: string }

type Req = { id?: unknown; method?: unknown; params?: unknown };
type Conn = { id: number; send: (text: string) => void; close: () => void; negotiated: boolean; subscribed: boolean };

export class ElectrumDouble {
  readonly received: Received[] = [];
  readonly faults: ElectrumFaults = {};
  fees: Record<number, number> = { 1: 0.0002, 2: 0.00015, 6: 0.0001, 25: 0.00002 };
  relayFee = 0.00001;
  urls: { tcp?: string; tls?: string; ws?: string } = {};
  private readonly conns = new Set<Conn>();
  private nextConn = 1;
  private readonly closers: (() => Promise<void>)[] = [];
  private readonly tampered = new Map<number, Buffer>();

  private constructor(public chain: TestChain) {}

  static async start(chain: TestChain, o: { tcp?: boolean; ws?: boolean; tls?: { key: string; cert: string } } = { tcp: true }): Promise<ElectrumDouble> {
    const d = new ElectrumDouble(chain);
    if (o.tcp) d.urls.tcp = `tcp://127.0.0.1:${await d.listenSocket(net.createServer((s) => d.onSocket(s)))}`;
    if (o.tls) d.urls.tls = `tls://127.0.0.1:${await d.listenSocket(tls.createServer({ key: o.tls.key, cert: o.tls.cert }, (s) => d.onSocket(s)))}`;
    if (o.ws) {
      const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
      await new Promise<void>((r) => wss.once("listening", () => r()));
      wss.on("connection", (ws) => d.onWebSocket(ws));
      d.urls.ws = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
      d.closers.push(() => new Promise<void>((r) => { for (const c of wss.clients) c.terminate(); wss.close(() => r()); }));
    }
    return d;
  }

  /** Methods received, in order (a batch adds each call). */
  get methods(): string[] {
    return this.received.flatMap((r) => {
      const m = JSON.parse(r.raw) as Req | Req[];
      return (Array.isArray(m) ? m : [m]).map((x) => String(x.method));
    });
  }

  /** Sends the current tip to every subscribed connection (what a server does on a new block). */
  notifyTip(): void {
    const msg = JSON.stringify({ jsonrpc: "2.0", method: "blockchain.headers.subscribe", params: [this.tipObject()] });
    for (const c of this.conns) if (c.subscribed) c.send(msg);
  }

  /** Closes every client connection (the server stays up). */
  dropConnections(): void {
    for (const c of [...this.conns]) c.close();
    this.conns.clear();
  }

  get connections(): number {
    return this.conns.size;
  }

  async close(): Promise<void> {
    this.dropConnections();
    await Promise.all(this.closers.map((c) => c()));
  }

  private listenSocket(server: net.Server): Promise<number> {
    const sockets = new Set<net.Socket>();
    server.on("connection", (s) => { sockets.add(s); s.on("close", () => sockets.delete(s)); });
    server.on("secureConnection", (s: net.Socket) => { sockets.add(s); s.on("close", () => sockets.delete(s)); });
    this.closers.push(() => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }));
    return new Promise((r) => server.listen(0, "127.0.0.1", () => r((server.address() as AddressInfo).port)));
  }

  private onSocket(s: net.Socket): void {
    s.on("error", () => undefined);
    const c: Conn = { id: this.nextConn++, send: (t) => void (s.writable && s.write(t + "\n")), close: () => s.destroy(), negotiated: false, subscribed: false };
    this.conns.add(c);
    s.on("close", () => this.conns.delete(c));
    let buf = "";
    s.setEncoding("utf8");
    s.on("data", (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) this.onMessage(c, line);
      }
    });
  }

  private onWebSocket(ws: WebSocket): void {
    const c: Conn = { id: this.nextConn++, send: (t) => ws.send(t), close: () => ws.terminate(), negotiated: false, subscribed: false };
    this.conns.add(c);
    ws.on("close", () => this.conns.delete(c));
    ws.on("message", (data) => this.onMessage(c, data.toString()));
  }

  private onMessage(c: Conn, raw: string): void {
    this.received.push({ conn: c.id, raw });
    let msg: Req | Req[];
    try {
      msg = JSON.parse(raw);
    } catch {
      c.send(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "invalid JSON" } }));
      return;
    }
    const batch = Array.isArray(msg) ? msg : [msg];
    if (!c.negotiated && (batch.length !== 1 || batch[0].method !== "server.version")) {
      c.send(JSON.stringify({ jsonrpc: "2.0", id: batch[0]?.id ?? null, error: { code: -32600, message: "server.version must be sent first" } }));
      c.close();
      return;
    }
    if (this.faults.hang === true || (this.faults.hang === "afterVersion" && c.negotiated)) return;
    const answers = batch.map((r) => ({ jsonrpc: "2.0", id: r.id, ...this.answer(c, String(r.method), Array.isArray(r.params) ? r.params : []) }));
    c.send(JSON.stringify(Array.isArray(msg) ? answers : answers[0]));
  }

  private answer(c: Conn, method: string, p: unknown[]): { result: unknown } | { error: { code: number; message: string } } {
    const err = (code: number, message: string) => ({ error: { code, message } });
    const chain = this.chain;
    switch (method) {
      case "server.version": {
        const proto = p[1];
        const speaks = proto === "1.4" || (Array.isArray(proto) && proto[0] <= "1.4" && proto[1] >= "1.4");
        if (!speaks) return err(1, "unsupported protocol version");
        c.negotiated = true;
        return { result: ["ElectrumDouble 0.1", "1.4"] };
      }
      case "server.features":
        return { result: { genesis_hash: this.faults.genesis ?? chain.blocks[0].hash, hash_function: "sha256", server_version: "ElectrumDouble 0.1", protocol_min: "1.4", protocol_max: "1.4.2", pruning: null, hosts: {} } };
      case "server.ping":
        return { result: null };
      case "blockchain.headers.subscribe":
        c.subscribed = true;
        return { result: this.tipObject() };
      case "blockchain.block.header": {
        const h = Number(p[0]);
        if (!(h >= 0 && h < chain.blocks.length)) return err(1, `height ${h} out of range`);
        return { result: this.headerAt(h).toString("hex") };
      }
      case "blockchain.block.headers": {
        const start = Number(p[0]);
        const count = Math.min(Number(p[1]), 2016, Math.max(0, chain.blocks.length - start));
        const hex = Array.from({ length: count }, (_, i) => this.headerAt(start + i).toString("hex")).join("");
        return { result: { count, hex, max: 2016 } };
      }
      case "blockchain.transaction.get": {
        const raw = chain.txs.get(String(p[0]));
        if (!raw) return err(2, "daemon error: DaemonError({'code': -5, 'message': 'No such mempool or blockchain transaction. Use gettransaction for wallet transactions.'})");
        return { result: raw };
      }
      case "blockchain.transaction.get_merkle": {
        const txid = String(p[0]);
        if (chain.confirmedAt.get(txid) !== Number(p[1])) return err(1, `tx ${txid} not in block at height ${p[1]}`);
        const b = chain.branch(txid);
        const merkle = [...b.merkle];
        if (this.faults.lieMerkle && merkle.length) merkle[0] = (merkle[0][0] === "0" ? "1" : "0") + merkle[0].slice(1);
        return { result: { block_height: b.height, merkle, pos: b.pos } };
      }
      case "blockchain.transaction.broadcast": {
        if (this.faults.broadcastError) return err(1, this.faults.broadcastError);
        let id: string;
        try {
          id = Transaction.fromRaw(Buffer.from(String(p[0]), "hex"), { allowUnknownOutputs: true }).id;
        } catch {
          return err(1, "the transaction was rejected by network rules.\n\nTX decode failed\n");
        }
        if (chain.mempool.has(id)) return err(1, "the transaction was rejected by network rules.\n\ntxn-already-in-mempool\n");
        if (chain.txs.has(id)) return err(1, "the transaction was rejected by network rules.\n\nTransaction already in block chain\n");
        chain.accept(String(p[0]));
        return { result: id };
      }
      case "blockchain.scripthash.get_history":
      case "blockchain.scripthash.listunspent": {
        const script = this.scriptOf(String(p[0]));
        if (script === undefined) return { result: [] };
        if (method.endsWith("get_history")) return { result: chain.historyOf(script).map((h) => ({ tx_hash: h.txid, height: h.height, ...(h.height === 0 ? { fee: 1000 } : {}) })) };
        return { result: chain.unspentOf(script).map((u) => ({ tx_hash: u.txid, tx_pos: u.vout, value: Number(u.value), height: u.height })) };
      }
      case "blockchain.estimatefee":
        return { result: this.fees[Number(p[0])] ?? -1 };
      case "blockchain.relayfee":
        return { result: this.relayFee };
      default:
        return err(-32601, `unknown method "${method}"`);
    }
  }

  private tipObject(): { height: number; hex: string } {
    const h = this.chain.tip.height;
    return { height: h, hex: this.headerAt(h).toString("hex") };
  }

  /** The header the server claims at `h`, with the configured lie applied. */
  headerAt(h: number): Buffer {
    const real = this.chain.blocks[h].header;
    if (this.faults.badPowAt?.includes(h)) {
      const bad = Buffer.from(real);
      bad.writeUInt32LE(0x1d00ffff, 72);
      return bad;
    }
    if (this.faults.brokenLinkAt === h) {
      let t = this.tampered.get(h);
      if (!t) {
        t = Buffer.from(real);
        sha256(Buffer.from(`not the parent ${h}`)).copy(t, 4);
        for (let n = 0; ; n++) {
          t.writeUInt32LE(n, 76);
          if (BigInt("0x" + disp(dsha(t))) <= bitsTarget(REGTEST_BITS)) break;
        }
        this.tampered.set(h, t);
      }
      return t;
    }
    return real;
  }

  /** The output script whose Electrum script hash (sha256, reversed) is `sh`. */
  private scriptOf(sh: string): string | undefined {
    for (const o of this.chain.outputs.values()) if (disp(sha256(Buffer.from(o.script, "hex"))) === sh) return o.script;
    return undefined;
  }
}

