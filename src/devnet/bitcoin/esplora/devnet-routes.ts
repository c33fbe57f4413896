import type { BitcoinNode, FeeEstimateMode } from "../node";
import type { Gate } from "../gate";
import { badRequest, json, notFound, type Reply } from "./http";

/**
 * Devnet-only controls under /devnet/ (POST), so a test in another process can drive the double
 * behind `keepctl devnet`: mine, reorg, drop, block size, relay fee, fee pressure, fee
 * estimates, pause. A real Esplora has no such paths; they are never paused.
 */
function num(q: URLSearchParams, name: string, fallback?: number): number {
  const v = q.get(name);
  if (v === null || v === "") {
    if (fallback !== undefined) return fallback;
    throw badRequest(`missing ?${name}=`);
  }
  const n = Number(v);
  if (!Number.isFinite(n)) throw badRequest(`?${name}= must be a number`);
  return n;
}
const bool = (q: URLSearchParams, name: string, fallback: boolean) => (q.has(name) ? !["0", "false", "no"].includes(q.get(name)!.toLowerCase()) : fallback);

export function devnetRoute(node: BitcoinNode, gate: Gate, method: string, path: string, q: URLSearchParams, body: string): Reply {
  const parts = path.split("/").filter(Boolean).slice(1);
  const [action, arg] = parts;
  if (method === "GET" && action === "status") {
    const b = node.wallet.balance();
    return json({ network: "regtest", height: node.height, tip: node.tipHash, mempool: node.mempool.size, paused: gate.isPaused, wallet: { address: node.wallet.address, confirmed: Number(b.confirmed), unconfirmed: Number(b.unconfirmed), immature: Number(b.immature) } });
  }
  if (method !== "POST") throw notFound(`endpoint does not exist "${path}"`);
  try {
    switch (action) {
      case "mine":
        return json(node.mine(num(q, "n", 1), q.get("address") ?? undefined));
      case "reorg":
        return json(node.reorg(num(q, "depth"), { replaceWith: q.has("replaceWith") ? num(q, "replaceWith") : undefined, keepTxs: bool(q, "keepTxs", true) }));
      case "drop":
        if (!arg) throw badRequest("POST /devnet/drop/:txid");
        return json(node.dropTransaction(arg.toLowerCase()));
      case "automine":
        node.setAutoMine(num(q, "ms"));
        return json({ ms: num(q, "ms") });
      case "max-block-vsize":
        node.setMaxBlockVsize(num(q, "vsize"));
        return json({ vsize: node.maxBlockVsize });
      case "min-relay-fee":
        node.setMinRelayFee(num(q, "rate"));
        return json({ rate: num(q, "rate") });
      case "fee-pressure": {
        const vsize = num(q, "vsize", 0);
        node.setFeePressure(vsize > 0 ? { feeRate: num(q, "feeRate"), vsize, chunkVsize: q.has("chunk") ? num(q, "chunk") : undefined } : undefined);
        return json({ pending: node.pressure.pendingVsize(), shortfall: node.pressure.shortfall });
      }
      case "fee-estimates": {
        const mode = q.get("mode");
        node.setFeeEstimates(mode === "mempool" || mode === "unavailable" ? mode : (JSON.parse(body || "{}") as FeeEstimateMode));
        return json({ ok: true });
      }
      case "pause": {
        gate.pause();
        const ms = num(q, "ms", 0);
        if (ms > 0) setTimeout(() => gate.resume(), ms).unref();
        return json({ paused: true, ms });
      }
      case "resume":
        gate.resume();
        return json({ paused: false });
      case "fund": {
        const address = q.get("address");
        if (!address) throw badRequest("missing ?address=");
        const sent = node.wallet.fund(address, BigInt(num(q, "value")), num(q, "feeRate", 2));
        const blocks = node.mine(num(q, "confirmations", 1));
        return json({ ...sent, blocks });
      }
      default:
        throw notFound(`endpoint does not exist "${path}"`);
    }
  } catch (e) {
    if (e instanceof Error && !("status" in e)) throw badRequest(e.message);
    throw e;
  }
}
