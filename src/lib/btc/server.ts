import type { OutPoint } from "./tx";

/**
 * One Bitcoin data server, whatever its protocol (electrum.ts, esplora.ts). A server's answers
 * are its word only: the client (client.ts) checks headers, links and merkle branches before
 * anything it says is used. Hashes are display-order hex; scripts and raw data are bytes.
 */
export interface ServerTip {
  height: number;
  /** The 80 raw bytes of the tip header. */
  header: Uint8Array;
}

export type ServerTxStatus =
  /** `blockHash` when the server says it (Esplora); Electrum gives the height only. */
  | { state: "confirmed"; height: number; blockHash?: string }
  | { state: "mempool" }
  | { state: "unknown" };

export interface MerkleBranch {
  blockHeight: number;
  /** Display-order sibling hashes, leaf level first. */
  branch: string[];
  /** 0-based position in the block. */
  pos: number;
}

export interface ScriptTx {
  txid: string;
  /** > 0: confirmed at that height; 0 or -1: in the mempool (-1: spends an unconfirmed output). */
  height: number;
}

export interface Unspent extends OutPoint {
  /** Satoshis. */
  value: bigint;
  /** As ScriptTx.height (0: in the mempool). */
  height: number;
}

export type ServerOutspend =
  | { spent: false }
  /** `raw`: the spending transaction, when finding it meant fetching it (Electrum). */
  | { spent: true; txid: string; vin?: number; height?: number; raw?: Uint8Array };

/** Fee rate (sat/vB) by confirmation target (blocks); targets the server cannot estimate are absent. */
export type FeeEstimates = Map<number, number>;

export interface ServerStats {
  /** Requests (Electrum calls, batch members counted one by one; Esplora HTTP requests). */
  requests: number;
  /** Times the server went from idle to busy: requests sent together (a batch, parallel GETs) are one. */
  roundTrips: number;
  /** Electrum: messages written (a batch is one). Esplora: equal to requests. */
  writes: number;
  byMethod: Record<string, number>;
  /** Connections opened (Electrum; the first included). */
  connects: number;
}

export function newServerStats(): ServerStats {
  return { requests: 0, roundTrips: 0, writes: 0, byMethod: {}, connects: 0 };
}

/** Why a request failed, so the client knows whether another server or a retry can help. */
export type ServerFailure =
  /** Could not connect, connection lost, HTTP 5xx/429: another attempt may work. */
  | "transport"
  | "timeout"
  /** The server answered with an error about this request (JSON-RPC error object, HTTP 4xx). */
  | "refused"
  /** The answer does not have the documented shape. */
  | "bad-response";

export class ServerError extends Error {
  constructor(message: string, readonly failure: ServerFailure, readonly serverWords?: string, readonly status?: number) {
    super(message);
    this.name = "ServerError";
  }
}

export interface BitcoinServer {
  readonly kind: "electrum" | "esplora";
  /** As configured; may hold secrets. */
  readonly url: string;
  readonly stats: ServerStats;
  /** Display hash of block 0 as the server reports it (Electrum server.features, Esplora /block-height/0). */
  genesisHash(): Promise<string>;
  tip(): Promise<ServerTip>;
  /** Up to `count` raw headers from `start` (fewer near the tip). */
  headers(start: number, count: number): Promise<Uint8Array[]>;
  /** Raw transaction bytes, undefined when the server does not know the txid. */
  transaction(txid: string): Promise<Uint8Array | undefined>;
  /** `outputScript`: any output script of the transaction (Electrum finds the tx through its history). */
  status(txid: string, outputScript: Uint8Array): Promise<ServerTxStatus>;
  /** Undefined when the server says the tx is not confirmed (Esplora) or not at that height (Electrum). */
  merkleBranch(txid: string, height: number): Promise<MerkleBranch | undefined>;
  history(script: Uint8Array): Promise<ScriptTx[]>;
  unspent(script: Uint8Array): Promise<Unspent[]>;
  /** `spentScript`: the script of the output spent (Electrum searches its history). */
  outspend(outpoint: OutPoint, spentScript: Uint8Array): Promise<ServerOutspend>;
  feeEstimates(targets: readonly number[]): Promise<FeeEstimates>;
  /** → txid as the server reports it; a rejection is a ServerError "refused" with the node's words. */
  broadcast(raw: Uint8Array): Promise<string>;
  /** Present when the server pushes new tips (Electrum). Returns the unsubscribe function. */
  subscribeTips?(onTip: (tip: ServerTip) => void): () => void;
  close(): Promise<void>;
}
