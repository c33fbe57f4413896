import fs from "node:fs";
import path from "node:path";
import { BitcoinClient, type BitcoinClientOptions } from "./client";
import { ElectrumServer } from "./electrum";
import { EsploraServer } from "./esplora";
import type { BtcNetwork } from "./networks";
import type { BitcoinServer } from "./server";
import { parseElectrumUrl, parseEsploraUrl } from "./urls";

/**
 * The Bitcoin data layer: protocol-agnostic access to the Bitcoin chain for the protocols above
 * (see docs/bitcoin.md). `connectBitcoin(cfg.btc)` is the one way in; the pure pieces (headers,
 * merkle, SPV proof parts and their verifier) are exported for the protocols' own checks.
 */
export { BitcoinClient } from "./client";
export type { BitcoinClientOptions, BitcoinClientStats, BroadcastResult, ProofResult, ServerReport, SpendResult, TxStatus, VerifiedTip } from "./client";
export type { BitcoinServer, FeeEstimates, MerkleBranch, ScriptTx, ServerStats, ServerTip, ServerTxStatus, Unspent } from "./server";
export { ElectrumServer } from "./electrum";
export { EsploraServer } from "./esplora";
export { BTC_NETWORKS, NETWORK_PARAMS, isBtcNetwork, type BtcNetwork } from "./networks";
export { buildSpvProof, spvProofHex, verifySpvProof, type SpvCheck, type SpvProof, type SpvProofInput, type SpvRefusal } from "./spv";
export { electrumScriptHash, inputSpending, parseTransaction, scriptAddress, type OutPoint, type ParsedTx, type TxOutput } from "./tx";
export { checkHeaderChain, difficultyOfTarget, parseHeader, splitHeaders, targetFromBits, workOfTarget, type BlockHeader } from "./header";
export { merkleRoot, verifyMerkleBranch } from "./merkle";
export { displayToInternal, fromHex, hash256, internalToDisplay, toHex } from "./bytes";
export { electrumUrlFromParts, parseElectrumUrl, parseEsploraUrl } from "./urls";

/** The `btc` section of the config (lib/config.ts), structurally: this module needs no config import. */
export interface BtcSettings {
  network: BtcNetwork;
  electrumUrls: readonly string[];
  esploraUrls: readonly string[];
  timeoutMs: number;
  retries: number;
}

export interface ConnectBitcoinOptions extends Pick<BitcoinClientOptions, "onWarning" | "coolDownMs" | "maxCoolDownMs" | "backoffMs" | "tipMaxAgeMs" | "now"> {
  /** Electrum `server.version` client name; default "keepctl <version>". */
  clientName?: string;
  /** false: skip the first contact (network check and first tip); it then happens on first use. */
  connect?: boolean;
}

/** One BitcoinServer per configured URL: Electrum URLs first, then Esplora, each in configured order. */
export function serversFor(cfg: BtcSettings, clientName = defaultClientName()): BitcoinServer[] {
  return [
    ...cfg.electrumUrls.map((u) => new ElectrumServer(parseElectrumUrl(u), { clientName, timeoutMs: cfg.timeoutMs })),
    ...cfg.esploraUrls.map((u) => new EsploraServer(parseEsploraUrl(u), { network: cfg.network, timeoutMs: cfg.timeoutMs })),
  ];
}

/**
 * A BitcoinClient over the configured servers, connected: every server's network checked (a wrong
 * one is ConfigError BTC_WRONG_NETWORK, exit 3) and a first tip verified (no server reachable:
 * RpcError BTC_UNREACHABLE, exit 4). Close it when done (Electrum connections stay open).
 */
export async function connectBitcoin(cfg: BtcSettings, o: ConnectBitcoinOptions = {}): Promise<BitcoinClient> {
  const { clientName, connect, ...rest } = o;
  const client = new BitcoinClient({ network: cfg.network, servers: serversFor(cfg, clientName), retries: cfg.retries, ...rest });
  if (connect === false) return client;
  try {
    await client.connect();
  } catch (e) {
    await client.close();
    throw e;
  }
  return client;
}

let clientName: string | undefined;
/** "keepctl <version>", from the package.json above this file (source and dist sit at different depths). */
export function defaultClientName(): string {
  if (clientName) return clientName;
  let dir = __dirname;
  for (let i = 0; i < 6 && !clientName; i++, dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "keepctl" && pkg.version) clientName = `keepctl ${pkg.version}`;
    } catch { /* not here */ }
  }
  clientName ??= "keepctl";
  return clientName;
}
