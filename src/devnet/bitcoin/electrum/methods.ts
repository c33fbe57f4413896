import { displayHex, internalBytes, isHex, sha256Bytes, toHex } from "../bytes";
import { merkleBranch, merkleRoot } from "../merkle";
import type { BitcoinNode } from "../node";
import { TxRejected } from "../policy";
import { balance, confirmedHistory, mempoolHistory, unspent } from "../queries";
import { coreVerboseTx } from "../tx-json";
import { BAD_REQUEST, DAEMON_ERROR, pyStr, RpcError, RpcErrorThenClose, type MethodSpec } from "./rpc";
import { negotiateVersion, PROTOCOL_MAX, PROTOCOL_MIN } from "./version";

/** What a connection remembers: its negotiated version and subscriptions (last status sent). */
export interface ElectrumSession {
  protocol?: string;
  versionSeen: boolean;
  headers: boolean;
  lastTip?: string;
  scripthashes: Map<string, string | null>;
}

export interface ElectrumContext {
  node: BitcoinNode;
  serverVersion: string;
  banner: string;
  host: string;
  tcpPort?: number;
  feeHistogramBinVsize: number;
}

export const MAX_HEADERS_CHUNK = 2016;

const commas = (n: number) => n.toLocaleString("en-US");

function nonNegativeInteger(v: unknown): number {
  const n = typeof v === "boolean" ? Number(v) : typeof v === "number" ? Math.trunc(v) : typeof v === "string" && /^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : NaN;
  if (Number.isSafeInteger(n) && n >= 0) return n;
  throw new RpcError(BAD_REQUEST, `${pyStr(v)} should be a non-negative integer`);
}
function txid(v: unknown): string {
  if (isHex(v, 32)) return v.toLowerCase();
  throw new RpcError(BAD_REQUEST, `${pyStr(v)} should be a transaction hash`);
}
/** ElectrumX tests `value in (True, False)`: Python counts 1 and 0 as booleans too. */
function boolean(v: unknown, message: string): boolean {
  if (v === true || v === 1) return true;
  if (v === false || v === 0 || v === undefined) return false;
  throw new RpcError(BAD_REQUEST, message);
}
/** An Electrum script hash (sha256 of the script, byte-reversed) to the script it names, hex; "" when never seen. */
function scriptOf(ctx: ElectrumContext, v: unknown): string {
  if (!isHex(v, 32)) throw new RpcError(BAD_REQUEST, `${pyStr(v)} is not a valid script hash`);
  const script = ctx.node.chain.index.scriptBySha(toHex(internalBytes(v)));
  return script ? toHex(script) : "";
}
const daemonError = (code: number, message: string) => new RpcError(DAEMON_ERROR, `daemon error: DaemonError({'code': ${code}, 'message': '${message}'})`);

/** The 1.4 status: sha256 of "txid:height:" for each confirmed, then mempool, transaction; null without history. */
export function scripthashStatus(ctx: ElectrumContext, script: string): string | null {
  if (!script) return null;
  const parts = [...confirmedHistory(ctx.node, script).map((h) => `${h.txid}:${h.height}:`), ...mempoolHistory(ctx.node, script).map((m) => `${m.txid}:${m.height}:`)];
  return parts.length ? toHex(sha256Bytes(new TextEncoder().encode(parts.join("")))) : null;
}

function headerAt(ctx: ElectrumContext, height: number): Uint8Array {
  const e = ctx.node.chain.entryAt(height);
  if (!e) throw new RpcError(BAD_REQUEST, `height ${commas(height)} out of range`);
  return e.block.headerBytes;
}

/** The branch from header `height` to the merkle root of all block hashes up to `cp`, display order. */
function checkpointProof(ctx: ElectrumContext, height: number, cp: number): { branch: string[]; root: string } {
  const tip = ctx.node.height;
  if (!(height <= cp && cp <= tip)) throw new RpcError(BAD_REQUEST, `require header height ${commas(height)} <= cp_height ${commas(cp)} <= chain height ${commas(tip)}`);
  const leaves = Array.from({ length: cp + 1 }, (_, h) => internalBytes(ctx.node.chain.entryAt(h)!.block.hash));
  return { branch: merkleBranch(leaves, height).map(displayHex), root: displayHex(merkleRoot(leaves)) };
}

function txBranch(ctx: ElectrumContext, height: number, pos: number): string[] {
  const txs = ctx.node.chain.entryAt(height)!.block.txs;
  return merkleBranch(txs.map((t) => internalBytes(t.txid)), pos).map(displayHex);
}

const tipMessage = (ctx: ElectrumContext) => ({ hex: toHex(ctx.node.chain.tip.block.headerBytes), height: ctx.node.height });

type Methods = Record<string, MethodSpec<ElectrumSession>>;
const m = (params: string[], required: number, call: MethodSpec<ElectrumSession>["call"], extraAllowed = false): MethodSpec<ElectrumSession> => ({ params, required, call, extraAllowed });

export function electrumMethods(ctx: ElectrumContext): Methods {
  const { node } = ctx;
  return {
    "server.version": m(["client_name", "protocol_version"], 0, (s, [, version]) => {
      if (s.versionSeen) throw new RpcError(BAD_REQUEST, "server.version already sent");
      s.versionSeen = true;
      const negotiated = negotiateVersion(version === undefined ? PROTOCOL_MIN : version);
      if (!negotiated) throw new RpcErrorThenClose(BAD_REQUEST, `unsupported protocol version: ${pyStr(version)}`);
      s.protocol = negotiated;
      return [ctx.serverVersion, negotiated];
    }, true),
    "server.ping": m([], 0, () => null),
    "server.banner": m([], 0, () => ctx.banner),
    "server.donation_address": m([], 0, () => ""),
    "server.peers.subscribe": m([], 0, () => []),
    "server.features": m([], 0, () => ({
      genesis_hash: node.chain.entryAt(0)!.block.hash,
      hosts: { [ctx.host]: { tcp_port: ctx.tcpPort ?? null, ssl_port: null } },
      protocol_max: PROTOCOL_MAX,
      protocol_min: PROTOCOL_MIN,
      pruning: null,
      server_version: ctx.serverVersion,
      hash_function: "sha256",
      services: [],
    })),
    "blockchain.block.header": m(["height", "cp_height"], 1, (_s, [h, cp]) => {
      const height = nonNegativeInteger(h);
      const cpHeight = nonNegativeInteger(cp ?? 0);
      const header = toHex(headerAt(ctx, height));
      return cpHeight === 0 ? header : { ...checkpointProof(ctx, height, cpHeight), header };
    }),
    "blockchain.block.headers": m(["start_height", "count", "cp_height"], 2, (_s, [start, n, cp]) => {
      const from = nonNegativeInteger(start);
      const cpHeight = nonNegativeInteger(cp ?? 0);
      const count = Math.max(0, Math.min(nonNegativeInteger(n), MAX_HEADERS_CHUNK, node.height - from + 1));
      const hex = Array.from({ length: count }, (_, i) => toHex(node.chain.entryAt(from + i)!.block.headerBytes)).join("");
      const out: Record<string, unknown> = { count, hex, max: MAX_HEADERS_CHUNK };
      if (count && cpHeight) Object.assign(out, checkpointProof(ctx, from + count - 1, cpHeight));
      return out;
    }),
    "blockchain.headers.subscribe": m([], 0, (s) => {
      s.headers = true;
      s.lastTip = node.tipHash;
      return tipMessage(ctx);
    }),
    "blockchain.estimatefee": m(["number", "mode"], 1, (_s, [n, mode]) => {
      const target = nonNegativeInteger(n);
      const upper = typeof mode === "string" ? mode.toUpperCase() : undefined;
      if (upper !== undefined && upper !== "CONSERVATIVE" && upper !== "ECONOMICAL") throw new RpcError(BAD_REQUEST, `unknown estimatefee mode: ${upper}`);
      if (target < 1 || target > 1008) throw daemonError(-8, "Invalid conf_target, must be between 1 and 1008");
      const rate = node.feeEstimates([target]).get(target);
      return rate === undefined ? -1 : Math.round(rate * 1000) / 1e8;
    }),
    "blockchain.relayfee": m([], 0, () => Number(node.policy.minRelayFeePerKvB) / 1e8),
    "blockchain.transaction.broadcast": m(["raw_tx"], 1, (_s, [raw]) => {
      if (!isHex(raw)) throw new RpcError(BAD_REQUEST, `${pyStr(raw)} should be a hex string`);
      try {
        return node.broadcast(raw);
      } catch (e) {
        if (e instanceof TxRejected) throw new RpcError(BAD_REQUEST, `the transaction was rejected by network rules.\n\n${e.message}\n[${raw}]`);
        throw e;
      }
    }),
    "blockchain.transaction.get": m(["tx_hash", "verbose"], 1, (_s, [t, v]) => {
      const id = txid(t);
      const verbose = boolean(v, '"verbose" must be a boolean');
      const found = node.findTx(id);
      if (!found) throw daemonError(-5, "No such mempool or blockchain transaction. Use gettransaction for wallet transactions.");
      return verbose ? coreVerboseTx(found.tx, found, node.height) : toHex(found.tx.raw);
    }),
    "blockchain.transaction.get_merkle": m(["tx_hash", "height"], 2, (_s, [t, h]) => {
      const id = txid(t);
      const height = nonNegativeInteger(h);
      headerAt(ctx, height);
      const pos = node.chain.entryAt(height)!.block.txs.findIndex((x) => x.txid === id);
      if (pos < 0) throw new RpcError(BAD_REQUEST, `tx ${id} not in block at height ${commas(height)}`);
      return { block_height: height, merkle: txBranch(ctx, height, pos), pos };
    }),
    "blockchain.transaction.id_from_pos": m(["height", "tx_pos", "merkle"], 2, (_s, [h, p, mk]) => {
      const pos = nonNegativeInteger(p);
      const height = nonNegativeInteger(h);
      const withMerkle = boolean(mk, '"merkle" must be a boolean');
      const txs = node.chain.entryAt(height)?.block.txs;
      if (!txs) throw new RpcError(BAD_REQUEST, `height ${commas(height)} out of range`);
      if (pos >= txs.length) throw new RpcError(BAD_REQUEST, `no tx at position ${commas(pos)} in block at height ${commas(height)}`);
      return withMerkle ? { tx_hash: txs[pos].txid, merkle: txBranch(ctx, height, pos) } : txs[pos].txid;
    }),
    "blockchain.scripthash.get_balance": m(["scripthash"], 1, (_s, [sh]) => {
      const script = scriptOf(ctx, sh);
      if (!script) return { confirmed: 0, unconfirmed: 0 };
      const b = balance(node, script);
      return { confirmed: Number(b.confirmed), unconfirmed: Number(b.unconfirmed) };
    }),
    "blockchain.scripthash.get_history": m(["scripthash"], 1, (_s, [sh]) => {
      const script = scriptOf(ctx, sh);
      if (!script) return [];
      return [...confirmedHistory(node, script).map((h) => ({ tx_hash: h.txid, height: h.height })), ...mempoolHistory(node, script).map((x) => ({ tx_hash: x.txid, height: x.height, fee: Number(x.fee) }))];
    }),
    "blockchain.scripthash.get_mempool": m(["scripthash"], 1, (_s, [sh]) => {
      const script = scriptOf(ctx, sh);
      return script ? mempoolHistory(node, script).map((x) => ({ tx_hash: x.txid, height: x.height, fee: Number(x.fee) })) : [];
    }),
    "blockchain.scripthash.listunspent": m(["scripthash"], 1, (_s, [sh]) => {
      const script = scriptOf(ctx, sh);
      return script ? unspent(node, script).map((u) => ({ tx_hash: u.txid, tx_pos: u.vout, height: u.height, value: Number(u.value) })) : [];
    }),
    "blockchain.scripthash.subscribe": m(["scripthash"], 1, (s, [sh]) => {
      const script = scriptOf(ctx, sh);
      const status = scripthashStatus(ctx, script);
      s.scripthashes.set(String(sh).toLowerCase(), status);
      return status;
    }),
    "blockchain.scripthash.unsubscribe": m(["scripthash"], 1, (s, [sh]) => {
      scriptOf(ctx, sh);
      return s.scripthashes.delete(String(sh).toLowerCase());
    }),
    "mempool.get_fee_histogram": m([], 0, () => node.mempool.feeHistogram(ctx.feeHistogramBinVsize)),
  };
}

/** Notifications a session is owed after a change: the new tip, and every subscribed status that moved. */
export function pendingNotifications(ctx: ElectrumContext, s: ElectrumSession): Array<{ method: string; params: unknown[] }> {
  const out: Array<{ method: string; params: unknown[] }> = [];
  if (s.headers && s.lastTip !== ctx.node.tipHash) {
    s.lastTip = ctx.node.tipHash;
    out.push({ method: "blockchain.headers.subscribe", params: [tipMessage(ctx)] });
  }
  for (const [sh, last] of s.scripthashes) {
    const status = scripthashStatus(ctx, scriptOf(ctx, sh));
    if (status !== last) {
      s.scripthashes.set(sh, status);
      out.push({ method: "blockchain.scripthash.subscribe", params: [sh, status] });
    }
  }
  return out;
}
