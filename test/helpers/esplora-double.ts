import http from "node:http";
import type { AddressInfo } from "node:net";
import { Address, OutScript, Transaction } from "@scure/btc-signer";
import { REGTEST, TestChain, sha256 } from "./btc-chain";

/**
 * A scripted Esplora REST server on 127.0.0.1 serving a TestChain, with the paths and shapes of
 * Blockstream/esplora API.md (text answers for hashes, heights, headers and raw txs; JSON for the
 * rest; 404 with electrs' words for what it does not know; POST /tx answers the node's reject
 * message with HTTP 400). Faults: answer 503, hang, lie about a merkle node or a header.
 */
export interface EsploraFaults {
  http503?: boolean;
  hang?: boolean;
  lieMerkle?: boolean;
  genesis?: string;
  /** Headers at these heights: nBits 0x1d00ffff, which their hash does not meet. */
  badPowAt?: number[];
  broadcastError?: string;
}

export class EsploraDouble {
  readonly requests: string[] = [];
  readonly faults: EsploraFaults = {};
  fees: Record<string, number> = { "2": 21.5, "3": 18, "6": 10.2, "144": 1.5 };
  url = "";
  private server!: http.Server;

  private constructor(public chain: TestChain) {}

  static async start(chain: TestChain): Promise<EsploraDouble> {
    const d = new EsploraDouble(chain);
    d.server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        d.requests.push(`${req.method} ${req.url}`);
        if (d.faults.hang) return;
        if (d.faults.http503) return void res.writeHead(503).end("unavailable");
        const [status, text, type] = d.route(req.method ?? "GET", (req.url ?? "/").replace(/^\/api/, ""), body);
        res.writeHead(status, { "content-type": type }).end(text);
      });
    });
    await new Promise<void>((r) => d.server.listen(0, "127.0.0.1", r));
    d.url = `http://127.0.0.1:${(d.server.address() as AddressInfo).port}/api`;
    return d;
  }

  close(): Promise<void> {
    return new Promise((r) => { this.server.closeAllConnections(); this.server.close(() => r()); });
  }

  private route(method: string, path: string, body: string): [number, string, string] {
    const text = (s: string | number): [number, string, string] => [200, String(s), "text/plain"];
    const json = (v: unknown): [number, string, string] => [200, JSON.stringify(v), "application/json"];
    const notFound = (words: string): [number, string, string] => [404, words, "text/plain"];
    const c = this.chain;
    const byHash = (h: string) => c.blocks.find((b) => b.hash === h);
    const status = (txid: string) => {
      const height = c.confirmedAt.get(txid);
      return height === undefined ? { confirmed: false } : { confirmed: true, block_height: height, block_hash: c.blocks[height].hash, block_time: c.blocks[height].header.readUInt32LE(68) };
    };
    let m: RegExpMatchArray | null;
    if (method === "POST" && path === "/tx") {
      if (this.faults.broadcastError) return [400, this.faults.broadcastError, "text/plain"];
      let id: string;
      try {
        id = Transaction.fromRaw(Buffer.from(body.trim(), "hex"), { allowUnknownOutputs: true }).id;
      } catch {
        return [400, 'sendrawtransaction RPC error: {"code":-22,"message":"TX decode failed"}', "text/plain"];
      }
      if (c.mempool.has(id)) return [400, 'sendrawtransaction RPC error: {"code":-26,"message":"txn-already-in-mempool"}', "text/plain"];
      c.accept(body.trim());
      return text(id);
    }
    if (path === "/blocks/tip/hash") return text(c.tip.hash);
    if (path === "/blocks/tip/height") return text(c.tip.height);
    if (path === "/fee-estimates") return json(this.fees);
    if ((m = path.match(/^\/block-height\/(\d+)$/))) {
      const h = Number(m[1]);
      if (h === 0 && this.faults.genesis) return text(this.faults.genesis);
      return h < c.blocks.length ? text(c.blocks[h].hash) : notFound("Block not found");
    }
    if ((m = path.match(/^\/block\/([0-9a-f]{64})\/header$/))) {
      const b = byHash(m[1]);
      if (!b) return notFound("Block not found");
      const raw = Buffer.from(b.header);
      if (this.faults.badPowAt?.includes(b.height)) raw.writeUInt32LE(0x1d00ffff, 72);
      return text(raw.toString("hex"));
    }
    if ((m = path.match(/^\/block\/([0-9a-f]{64})$/))) {
      const b = byHash(m[1]);
      return b ? json({ id: b.hash, height: b.height, version: 0x20000000, timestamp: b.header.readUInt32LE(68), tx_count: b.txids.length }) : notFound("Block not found");
    }
    if ((m = path.match(/^\/tx\/([0-9a-f]{64})\/hex$/))) {
      const raw = c.txs.get(m[1]);
      return raw ? text(raw) : notFound("Transaction not found");
    }
    if ((m = path.match(/^\/tx\/([0-9a-f]{64})\/status$/))) return c.txs.has(m[1]) ? json(status(m[1])) : notFound("Transaction not found");
    if ((m = path.match(/^\/tx\/([0-9a-f]{64})\/merkle-proof$/))) {
      if (c.confirmedAt.get(m[1]) === undefined) return notFound("Transaction not found or is unconfirmed");
      const b = c.branch(m[1]);
      const merkle = [...b.merkle];
      if (this.faults.lieMerkle && merkle.length) merkle[0] = (merkle[0][0] === "0" ? "1" : "0") + merkle[0].slice(1);
      return json({ block_height: b.height, merkle, pos: b.pos });
    }
    if ((m = path.match(/^\/tx\/([0-9a-f]{64})\/outspend\/(\d+)$/))) {
      const sp = c.spentBy.get(`${m[1]}:${m[2]}`);
      return json(sp ? { spent: true, txid: sp.txid, vin: sp.vin, status: status(sp.txid) } : { spent: false });
    }
    if ((m = path.match(/^\/(address|scripthash)\/([0-9a-zA-Z]+)\/(txs|utxo)$/))) {
      const script = m[1] === "address" ? Buffer.from(OutScript.encode(Address(REGTEST).decode(m[2]))).toString("hex") : this.scriptOf(m[2]);
      if (script === undefined) return json([]);
      if (m[3] === "utxo") return json(c.unspentOf(script).map((u) => ({ txid: u.txid, vout: u.vout, value: Number(u.value), status: status(u.txid) })));
      return json(c.historyOf(script).reverse().map((h) => ({ txid: h.txid, status: status(h.txid) })));
    }
    return notFound(`no route ${path}`);
  }

  /** Esplora's scripthash: sha256 of the script, not reversed. */
  private scriptOf(sh: string): string | undefined {
    for (const o of this.chain.outputs.values()) if (sha256(Buffer.from(o.script, "hex")).toString("hex") === sh) return o.script;
    return undefined;
  }
}
