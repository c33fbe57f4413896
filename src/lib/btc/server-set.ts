import { sleep } from "../chain/sleep";
import { Endpoint, EndpointPool } from "../chain/endpoint-pool";
import { ConfigError, RpcError } from "../errors";
import { redact, redactUrl } from "../redact";
import { InvalidBitcoinData } from "./bytes";
import { Unverified, reasonOf } from "./chain-sync";
import { estimateForTarget, median } from "./fees";
import { BTC_NETWORKS, NETWORK_PARAMS, type BtcNetwork } from "./networks";
import { ServerError, type BitcoinServer, type ServerTip } from "./server";
import { parseTransaction } from "./tx";

/**
 * The configured servers as one pool: which one a request goes to (configured order, skipping
 * those cooling down, probing one whose cool-down ended), the network check on first contact,
 * retries and failover, one warning per cool-down naming the server — and the two operations that
 * ask every server at once, broadcast and fee estimates. What counts as a verification failure is
 * the caller's (`Unverified` thrown inside a request moves it to the next server).
 */
export interface Entry {
  server: BitcoinServer;
  ep: Endpoint;
}

export interface BroadcastResult {
  txid: string;
  accepted: boolean;
  results: { server: string; ok: boolean; alreadyKnown?: boolean; error?: string }[];
}

/** Bitcoin Core / electrs wordings for a transaction the node already has: the broadcast did its job. */
const ALREADY_KNOWN = /already (in|known)|txn-already|in block ?chain|outputs already in utxo set|already have transaction/i;

export interface ServerSetOptions {
  retries?: number;
  backoffMs?: number;
  coolDownMs?: number;
  maxCoolDownMs?: number;
  onWarning?: (message: string) => void;
  now?: () => number;
  /** Checks a probed server's tip header (throws when it fails). */
  checkTip: (tip: ServerTip) => unknown;
}

export class ServerSet {
  readonly pool: EndpointPool;
  readonly entries: Entry[];
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly checkTip: (tip: ServerTip) => unknown;
  private readonly networkChecked = new Map<BitcoinServer, Promise<void>>();

  constructor(readonly network: BtcNetwork, servers: BitcoinServer[], o: ServerSetOptions) {
    // Hashes in these messages follow a label (`block …`, `tx …`), which the redactor keeps.
    const warn = (m: string) => o.onWarning?.(redact(m));
    this.pool = new EndpointPool(servers.map((s) => s.url), { coolDownMs: o.coolDownMs, maxCoolDownMs: o.maxCoolDownMs, onWarning: warn, now: o.now, what: "Bitcoin server", others: "other servers" });
    this.entries = servers.map((server, i) => ({ server, ep: this.pool.endpoints[i] }));
    this.retries = Math.max(1, o.retries ?? 2);
    this.backoffMs = o.backoffMs ?? 250;
    this.checkTip = o.checkTip;
  }

  /** Servers not cooling down; all of them when every one is. */
  live(): Entry[] {
    const live = this.entries.filter((e) => !this.pool.isCooling(e.ep));
    return live.length ? live : this.entries;
  }

  async ensureNetwork(s: BitcoinServer): Promise<void> {
    let p = this.networkChecked.get(s);
    if (!p) {
      p = (async () => {
        const genesis = await s.genesisHash();
        const expected = NETWORK_PARAMS[this.network].genesisHash;
        if (genesis !== expected) {
          const actual = BTC_NETWORKS.find((n) => NETWORK_PARAMS[n].genesisHash === genesis);
          throw new ConfigError(`Bitcoin server ${redactUrl(s.url)} serves ${actual ? `Bitcoin ${actual}` : `a chain with genesis block ${genesis}`}, not ${this.network}`, {
            code: "BTC_WRONG_NETWORK",
            hint: `point the Bitcoin server URLs at ${this.network} servers, or set --btc-network / KEEPCTL_BTC_NETWORK to the network you mean`,
            details: { expected: this.network, actual: actual ?? genesis },
          });
        }
      })();
      this.networkChecked.set(s, p);
      // A transient failure is asked again next time; a wrong network stays refused.
      p.catch((e) => {
        if (!(e instanceof ConfigError)) this.networkChecked.delete(s);
      });
    }
    return p;
  }

  /**
   * Runs `fn` on one server: healthy ones in configured order, cooling ones only when nothing else
   * is left, a cooled one probed first while a healthy one remains. Transport failures and data
   * that fail verification move on to the next server (and cool the failing one down); a refusal
   * ("no such method", HTTP 400) moves on without a cool-down; a wrong network stops everything.
   */
  async withServer<T>(what: string, fn: (e: Entry) => Promise<T>): Promise<T> {
    const tried = new Set<Endpoint>();
    const failures: string[] = [];
    let onlyTransport = true;
    for (let ep = this.pool.next(tried); ep; ep = this.pool.next(tried)) {
      tried.add(ep);
      const e = this.entries.find((x) => x.ep === ep)!;
      if (this.pool.needsProbe(ep) && this.pool.hasHealthyBesides(ep, tried) && !(await this.probe(e))) {
        failures.push(`${ep.label} (${ep.stats.lastError})`);
        continue;
      }
      const attempts = this.pool.next(tried) === undefined ? this.retries : 1;
      for (let attempt = 1; ; attempt++) {
        try {
          await this.ensureNetwork(e.server);
          const r = await fn(e);
          this.pool.succeeded(ep, "call");
          return r;
        } catch (err) {
          if (err instanceof ConfigError || !(err instanceof ServerError || err instanceof Unverified || err instanceof InvalidBitcoinData)) throw err;
          const reason = reasonOf(err);
          if (err instanceof ServerError && err.failure === "refused") {
            failures.push(`${ep.label} (${this.detail(e, reason)})`);
            onlyTransport = false;
            break;
          }
          const transient = err instanceof ServerError && (err.failure === "transport" || err.failure === "timeout");
          if (transient && attempt < attempts) {
            await sleep(this.backoffMs * 2 ** (attempt - 1));
            continue;
          }
          if (!transient) onlyTransport = false;
          this.refuse(e, reason);
          failures.push(`${ep.label} (${this.detail(e, reason)})`);
          break;
        }
      }
    }
    throw this.allFailed(what, failures, onlyTransport);
  }

  private async probe(e: Entry): Promise<boolean> {
    try {
      await this.ensureNetwork(e.server);
      this.checkTip(await e.server.tip());
      this.pool.succeeded(e.ep, "probe");
      return true;
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      this.refuse(e, reasonOf(err));
      return false;
    }
  }

  /** A server whose answer failed or did not verify: cooled down (one warning per cool-down, naming it). */
  refuse(e: Entry, reason: string): void {
    this.pool.failed(e.ep, this.detail(e, reason));
  }

  /** A server's failure without its own name in front (the warning names it once). */
  detail(e: Entry, reason: string): string {
    return reason.startsWith(e.ep.label + " ") ? reason.slice(e.ep.label.length + 1) : reason;
  }

  allFailed(what: string, failures: string[], onlyTransport = true): RpcError {
    return new RpcError(redact(`no Bitcoin server gave ${what}: ${failures.join(", ") || "every server is cooling down"}`), {
      code: onlyTransport ? "BTC_UNREACHABLE" : "BTC_BAD_DATA",
      hint: onlyTransport ? "check the Bitcoin server URLs (keepctl config) or add another for failover" : "the servers answer data that does not verify: use other Bitcoin servers",
      details: { failures },
    });
  }

  /** sat/vB for confirmation within `targetBlocks`: the median over the servers that give one. */
  async feeRate(targetBlocks: number): Promise<number | undefined> {
    const rates = await Promise.all(this.entries.filter((e) => !this.pool.isCooling(e.ep)).map(async (e) => {
      try {
        await this.ensureNetwork(e.server);
        const rate = estimateForTarget(await e.server.feeEstimates([targetBlocks]), targetBlocks);
        this.pool.succeeded(e.ep, "call");
        return rate;
      } catch (err) {
        if (err instanceof ConfigError) throw err;
        if (!(err instanceof ServerError && err.failure === "refused")) this.refuse(e, reasonOf(err));
        return undefined;
      }
    }));
    return median(rates.filter((r): r is number => r !== undefined));
  }

  /**
   * Sends the transaction to every configured server. A rejection carries the server's words;
   * "already in the mempool / known" counts as accepted. Throws when no server accepted.
   */
  async broadcast(raw: Uint8Array): Promise<BroadcastResult> {
    const txid = parseTransaction(raw).txid;
    type Outcome = BroadcastResult["results"][number] & { refused?: boolean };
    const outcomes: Outcome[] = await Promise.all(this.entries.map(async (e): Promise<Outcome> => {
      const server = e.ep.label;
      try {
        await this.ensureNetwork(e.server);
        const got = await e.server.broadcast(raw);
        if (got !== txid) return { server, ok: false, refused: true, error: `answered tx ${got}, expected tx ${txid}` };
        this.pool.succeeded(e.ep, "call");
        return { server, ok: true };
      } catch (err) {
        if (err instanceof ConfigError) throw err;
        if (err instanceof ServerError && err.failure === "refused") {
          const words = redact(err.serverWords ?? this.detail(e, err.message));
          return ALREADY_KNOWN.test(words) ? { server, ok: true, alreadyKnown: true } : { server, ok: false, refused: true, error: words };
        }
        this.refuse(e, reasonOf(err));
        return { server, ok: false, error: redact(this.detail(e, reasonOf(err))) };
      }
    }));
    const results = outcomes.map(({ refused: _refused, ...r }) => r);
    const accepted = results.some((r) => r.ok);
    if (!accepted) {
      const refused = outcomes.some((r) => r.refused);
      throw new RpcError(`no Bitcoin server accepted transaction ${txid}: ${results.map((r) => `${r.server} (${r.error})`).join(", ")}`, {
        code: refused ? "BTC_BROADCAST_REJECTED" : "BTC_UNREACHABLE",
        hint: refused ? "the servers' words say why their nodes refuse it" : "check the Bitcoin server URLs (keepctl config)",
        details: { txid, results },
      });
    }
    return { txid, accepted, results };
  }
}
