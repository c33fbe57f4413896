import http from "node:http";
import type { AddressInfo } from "node:net";
import { ethers } from "ethers";
import { getLogsChunked } from "../lib/chain/logs";
import { formatFixedTrimmed } from "../lib/fixed-point";
import { UPDATE_REDEMPTION_RATE_TOPIC, rateSetterInterface } from "../lib/rai/types";
import { GraphQLError, buildSchema, execute, parse, validate, type DocumentNode } from "graphql";

/**
 * A stand-in for Reflexer's subgraph on 127.0.0.1: indexes the RateSetter's UpdateRedemptionRate
 * events from the local chain into RedemptionRate entities and answers GraphQL POSTs. It can lag
 * behind the chain (blocks or seconds) and go down, so the feed's fallbacks can be tested for real.
 * Queries go through graphql-js (parse, validate against SCHEMA, execute), so fragments, variable
 * defaults, aliases and several operations with an operationName behave as on The Graph.
 */
export interface SubgraphServerOptions {
  /** Chain to index. Without it the server only serves rows given to preload() (benchmarks). */
  rpcUrl?: string;
  rateSetter?: string;
  lagBlocks?: number;
  lagSeconds?: number;
  port?: number;
}

/**
 * The part of Reflexer's RAI subgraph schema that keepctl reads (src/lib/rai/subgraph.ts), spelled
 * as The Graph generates it: BigInt/BigDecimal/Bytes scalars travel as strings, `where` takes an
 * `<Entity>_filter` input, `orderBy` an `<Entity>_orderBy` enum. Only what the resolver below
 * implements is declared, so anything else is a validation error rather than a silent no-op.
 */
export const SUBGRAPH_SDL = `
scalar BigInt
scalar BigDecimal
scalar Bytes

enum OrderDirection { asc desc }

enum RedemptionRate_orderBy { id createdAt createdAtBlock }

input RedemptionRate_filter {
  createdAt: BigInt
  createdAt_gt: BigInt
  createdAt_gte: BigInt
  createdAt_lt: BigInt
  createdAt_lte: BigInt
  createdAtBlock: BigInt
  createdAtBlock_gt: BigInt
  createdAtBlock_gte: BigInt
  createdAtBlock_lt: BigInt
  createdAtBlock_lte: BigInt
}

type RedemptionRate {
  id: ID!
  perSecondRate: BigDecimal!
  hourlyRate: BigDecimal!
  eightHourlyRate: BigDecimal!
  twentyFourHourlyRate: BigDecimal!
  annualizedRate: BigDecimal!
  createdAt: BigInt!
  createdAtBlock: BigInt!
  createdAtTransaction: Bytes!
}

type Query {
  redemptionRates(
    skip: Int = 0
    first: Int = 100
    orderBy: RedemptionRate_orderBy
    orderDirection: OrderDirection
    where: RedemptionRate_filter
  ): [RedemptionRate!]!
}
`;
const SCHEMA = buildSchema(SUBGRAPH_SDL);

interface RedemptionRatesArgs {
  first: number;
  skip: number;
  orderBy?: "id" | "createdAt" | "createdAtBlock";
  orderDirection?: "asc" | "desc";
  // Custom scalars without a parser pass values through: a string from a variable, a number from a literal.
  where?: Record<string, string | number>;
}

interface Entity {
  id: string;
  perSecondRate: string;
  hourlyRate: string;
  eightHourlyRate: string;
  twentyFourHourlyRate: string;
  annualizedRate: string;
  createdAt: string;
  createdAtBlock: string;
  createdAtTransaction: string;
}

/** BigDecimal-style text of a RAY integer: no trailing zeros ("1", "0.999999999848547411861463422"). */
function rayText(v: bigint): string {
  return formatFixedTrimmed(v, 27);
}

/** Float64, as the real subgraph has computed these since May 2021: good to ~9 digits only. */
function floatPow(perSecond: bigint, seconds: number): string {
  return String(Math.pow(Number(perSecond) / 1e27, seconds));
}

export class SubgraphServer {
  readonly stats = { requests: 0, queries: 0 };
  private server?: http.Server;
  private readonly provider?: ethers.JsonRpcProvider;
  private readonly entities: (Entity & { ts: number; block: number })[] = [];
  private indexedTo = -1;
  private down: false | "503" | "hang" = false;
  private readonly hanging = new Set<http.ServerResponse>();
  lagBlocks: number;
  lagSeconds: number;
  url = "";

  constructor(readonly opts: SubgraphServerOptions) {
    if (opts.rpcUrl) this.provider = new ethers.JsonRpcProvider(opts.rpcUrl, undefined, { staticNetwork: true, batchMaxCount: 100 });
    this.lagBlocks = opts.lagBlocks ?? 0;
    this.lagSeconds = opts.lagSeconds ?? 0;
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(this.opts.port ?? 0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/subgraphs/name/reflexer-labs/rai-mainnet`;
    return this.url;
  }

  async stop(): Promise<void> {
    for (const r of this.hanging) r.destroy();
    this.hanging.clear();
    this.provider?.destroy();
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /** "503": answer Service Unavailable; "hang": accept and never answer (client times out). */
  goDown(mode: "503" | "hang" = "503"): void {
    this.down = mode;
  }
  goUp(): void {
    this.down = false;
    for (const r of this.hanging) r.destroy();
    this.hanging.clear();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.stats.requests++;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (this.down === "hang") return void this.hanging.add(res);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (this.down === "503") return send(503, { error: "service unavailable" });
    if (req.method !== "POST") return send(405, { errors: [{ message: "use POST" }] });
    let body: { query?: unknown; variables?: unknown; operationName?: unknown };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      return send(400, { errors: [{ message: "body is not JSON" }] });
    }
    if (typeof body?.query !== "string") return send(400, { errors: [{ message: "body has no query string" }] });
    this.stats.queries++;
    // Parse and validation errors are answered before touching the chain, as a GraphQL server does.
    let document: DocumentNode;
    try {
      document = parse(body.query);
    } catch (e) {
      return send(200, { errors: [toJsonError(e)] });
    }
    const invalid = validate(SCHEMA, document);
    if (invalid.length > 0) return send(200, { errors: invalid.map(toJsonError) });
    try {
      await this.sync();
    } catch (e) {
      return send(200, { errors: [{ message: `indexing failed: ${(e as Error).message}` }] });
    }
    const result = await execute({
      schema: SCHEMA,
      document,
      rootValue: { redemptionRates: (args: RedemptionRatesArgs) => this.redemptionRates(args) },
      variableValues: body.variables && typeof body.variables === "object" ? (body.variables as Record<string, unknown>) : undefined,
      operationName: typeof body.operationName === "string" ? body.operationName : undefined,
    });
    send(200, result);
  }

  /** Serves these rates as if indexed (no chain needed): e.g. a year of hourly updates for a benchmark. */
  preload(rates: { perSecondRate: bigint; timestamp: number; block: number }[]): void {
    for (const r of rates) this.entities.push(this.entity(r.perSecondRate, r.timestamp, r.block, ethers.zeroPadValue(ethers.toBeHex(r.block), 32), 0));
  }

  private entity(rate: bigint, ts: number, block: number, txHash: string, logIndex: number): Entity & { ts: number; block: number } {
    return {
      id: `${txHash}-${logIndex}`,
      perSecondRate: rayText(rate),
      hourlyRate: floatPow(rate, 3600),
      eightHourlyRate: floatPow(rate, 8 * 3600),
      twentyFourHourlyRate: floatPow(rate, 24 * 3600),
      annualizedRate: floatPow(rate, 31_536_000),
      createdAt: String(ts),
      createdAtBlock: String(block),
      createdAtTransaction: txHash,
      ts,
      block,
    };
  }

  /** Indexes new events up to `head - lagBlocks`. */
  private async sync(): Promise<void> {
    const provider = this.provider;
    if (!provider || !this.opts.rateSetter) return;
    const head = await provider.getBlockNumber();
    const target = head - this.lagBlocks;
    if (target <= this.indexedTo) return;
    const logs = await getLogsChunked(provider, { address: this.opts.rateSetter, topics: [UPDATE_REDEMPTION_RATE_TOPIC], fromBlock: this.indexedTo + 1, toBlock: target });
    const times = new Map<number, number>();
    await Promise.all([...new Set(logs.map((l) => l.blockNumber))].map(async (b) => times.set(b, (await provider.getBlock(b))!.timestamp)));
    for (const log of logs) {
      const rate = rateSetterInterface.decodeEventLog("UpdateRedemptionRate", log.data, log.topics).redemptionRate as bigint;
      const ts = times.get(log.blockNumber)!;
      this.entities.push(this.entity(rate, ts, log.blockNumber, log.transactionHash, log.index));
    }
    this.indexedTo = target;
  }

  private async redemptionRates(args: RedemptionRatesArgs): Promise<(Entity & { ts: number; block: number })[]> {
    const { first, skip } = args;
    if (!(first >= 0 && first <= 1000)) throw new Error("The `first` argument must be between 0 and 1000, but is " + first);
    if (!(skip >= 0 && skip <= 5000)) throw new Error("The `skip` argument must be between 0 and 5000, but is " + skip);
    let rows = this.entities;
    if (this.lagSeconds > 0 && this.provider) {
      const headTs = (await this.provider.getBlock("latest"))!.timestamp;
      rows = rows.filter((e) => e.ts <= headTs - this.lagSeconds);
    }
    for (const [k, raw] of Object.entries(args.where ?? {})) {
      if (raw === null) continue; // `where: { createdAt_gt: null }` filters nothing, as on The Graph
      const v = Number(raw);
      if (!Number.isSafeInteger(v)) throw new Error(`filter ${k} needs an integer, got ${JSON.stringify(raw)}`);
      const m = /^(createdAt|createdAtBlock)(_gt|_gte|_lt|_lte)?$/.exec(k)!; // the schema admits no other key
      const get = (e: { ts: number; block: number }) => (m[1] === "createdAt" ? e.ts : e.block);
      const op = m[2] ?? "";
      rows = rows.filter((e) => (op === "_gt" ? get(e) > v : op === "_gte" ? get(e) >= v : op === "_lt" ? get(e) < v : op === "_lte" ? get(e) <= v : get(e) === v));
    }
    const orderBy = args.orderBy ?? "id";
    const dir = args.orderDirection === "desc" ? -1 : 1;
    const key = (e: Entity & { ts: number; block: number }) => (orderBy === "id" ? e.id : orderBy === "createdAt" ? e.ts : e.block);
    rows = [...rows].sort((a, b) => {
      const ka = key(a), kb = key(b);
      return (ka < kb ? -1 : ka > kb ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0) * dir;
    });
    // graphql-js projects the selected fields (and only the schema's: ts/block stay private).
    return rows.slice(skip, skip + first);
  }
}

/** A GraphQL error as JSON; anything else (a bug) still becomes one message, never a stack. */
function toJsonError(e: unknown): unknown {
  return e instanceof GraphQLError ? e.toJSON() : { message: (e as Error)?.message ?? String(e) };
}

export async function startSubgraphServer(opts: SubgraphServerOptions): Promise<SubgraphServer> {
  const s = new SubgraphServer(opts);
  await s.start();
  return s;
}
