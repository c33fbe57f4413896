import { startElectrumServers, type ElectrumServers } from "./electrum/server";
import { startEsploraServer, type EsploraServer } from "./esplora/server";
import type { FeePressureSettings } from "./fee-pressure";
import { Gate } from "./gate";
import { BitcoinNode, type BitcoinNodeOptions, type BlockEvent, type FeeEstimateMode, type ReorgEvent } from "./node";
import type { DevnetWallet } from "./wallet";

export { BitcoinNode } from "./node";
export type { BlockEvent, FeeEstimateMode, ReorgEvent } from "./node";
export { TxRejected } from "./policy";
export { DEVNET_WALLET_LABEL, DevnetWallet } from "./wallet";
export { startBitcoinFaultProxy } from "./fault-proxy";
export type { BitcoinFaultProxy, BitcoinFaultProxyOptions } from "./fault-proxy";

export interface BitcoinNetworkOptions extends BitcoinNodeOptions {
  /** Listen address (default 127.0.0.1). */
  host?: string;
  /** 0 or undefined: a free port. */
  electrumTcpPort?: number;
  electrumWsPort?: number;
  esploraPort?: number;
  /** Blocks mined to the wallet at start (default 101: two mature coinbases). */
  initialBlocks?: number;
  /** Mine a block every this many ms (default 0: only when asked). */
  autoMineMs?: number;
  /** First element of server.version's answer and server.features' server_version. */
  serverVersion?: string;
  banner?: string;
  /** Close an Electrum session whose first call is not server.version, as ElectrumX does (default true). */
  requireVersionFirst?: boolean;
  /** vsize of one fee-histogram bin (default 50 000 vB, as electrs). */
  feeHistogramBinVsize?: number;
}

type Events = { block: [BlockEvent]; reorg: [ReorgEvent]; tx: [string]; removed: [{ txid: string; reason: string }] };

export interface BitcoinNetwork {
  network: "regtest";
  genesisHash: string;
  /** tcp://host:port — newline-delimited JSON-RPC. */
  electrumTcpUrl: string;
  /** ws://host:port — one JSON-RPC message per text frame. */
  electrumWsUrl: string;
  /** http://host:port — Esplora paths at the root (no /api prefix); devnet controls under /devnet/. */
  esploraUrl: string;
  electrumTcpPort: number;
  electrumWsPort: number;
  esploraPort: number;
  node: BitcoinNode;
  wallet: DevnetWallet;
  height(): number;
  tipHash(): string;
  mine(n?: number, address?: string): string[];
  mineUntil(done: () => boolean, max?: number): string[];
  setAutoMine(ms: number): void;
  /** sendrawtransaction in-process: the txid, or throws TxRejected with Core's code and text. */
  broadcast(hex: string): string;
  dropTransaction(txid: string): string[];
  reorg(depth: number, o?: { replaceWith?: number; keepTxs?: boolean }): ReorgEvent;
  setMaxBlockVsize(vsize: number): void;
  setMinRelayFee(satPerVb: number): void;
  setFeePressure(s: FeePressureSettings | undefined): void;
  setFeeEstimates(mode: FeeEstimateMode): void;
  /** Servers keep their ports open but hold every answer (Electrum and Esplora; /devnet/ excepted) until resume(). */
  pause(): void;
  resume(): void;
  on<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): void;
  off<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): void;
  /** Closes every socket and timer. */
  stop(): Promise<void>;
}

/** Starts the regtest network double: node, Electrum (TCP + WebSocket) and Esplora servers on loopback. */
export async function startBitcoinNetwork(o: BitcoinNetworkOptions = {}): Promise<BitcoinNetwork> {
  const host = o.host ?? "127.0.0.1";
  const node = new BitcoinNode(o);
  node.on("error", () => undefined); // auto-miner failures must not crash the host process
  node.mine(o.initialBlocks ?? 101);
  const gate = new Gate();
  const feeHistogramBinVsize = o.feeHistogramBinVsize ?? 50_000;
  let electrum: ElectrumServers | undefined;
  let esplora: EsploraServer | undefined;
  try {
    electrum = await startElectrumServers({
      node,
      host,
      tcpPort: o.electrumTcpPort,
      wsPort: o.electrumWsPort,
      gate,
      serverVersion: o.serverVersion ?? "keepctl-btc-double 0.1",
      banner: o.banner ?? "keepctl devnet: a regtest Bitcoin network double (not a real node)",
      requireVersionFirst: o.requireVersionFirst,
      feeHistogramBinVsize,
    });
    esplora = await startEsploraServer({ node, host, port: o.esploraPort, gate, feeHistogramBinVsize });
  } catch (e) {
    await electrum?.close();
    node.close();
    throw e;
  }
  if (o.autoMineMs) node.setAutoMine(o.autoMineMs);
  const e = electrum;
  const s = esplora;
  return {
    network: "regtest",
    genesisHash: node.chain.entryAt(0)!.block.hash,
    electrumTcpUrl: `tcp://${host}:${e.tcpPort}`,
    electrumWsUrl: `ws://${host}:${e.wsPort}`,
    esploraUrl: `http://${host}:${s.port}`,
    electrumTcpPort: e.tcpPort,
    electrumWsPort: e.wsPort,
    esploraPort: s.port,
    node,
    wallet: node.wallet,
    height: () => node.height,
    tipHash: () => node.tipHash,
    mine: (n = 1, address) => node.mine(n, address),
    mineUntil: (done, max) => node.mineUntil(done, max),
    setAutoMine: (ms) => node.setAutoMine(ms),
    broadcast: (hex) => node.broadcast(hex),
    dropTransaction: (txid) => node.dropTransaction(txid),
    reorg: (depth, opts) => node.reorg(depth, opts),
    setMaxBlockVsize: (v) => node.setMaxBlockVsize(v),
    setMinRelayFee: (r) => node.setMinRelayFee(r),
    setFeePressure: (p) => node.setFeePressure(p),
    setFeeEstimates: (m) => node.setFeeEstimates(m),
    pause: () => gate.pause(),
    resume: () => gate.resume(),
    on: (event, listener) => void node.on(event, listener as (...a: unknown[]) => void),
    off: (event, listener) => void node.off(event, listener as (...a: unknown[]) => void),
    async stop() {
      node.setAutoMine(0);
      gate.resume();
      await Promise.all([e.close(), s.close()]);
      node.close();
    },
  };
}
