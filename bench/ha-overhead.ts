import fs from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { ethers } from "ethers";
import type { Client } from "pg";
import { ActionSender } from "../src/lib/chain/sender";
import { Journal } from "../src/lib/chain/journal";
import { openSharedState } from "../src/lib/state";
import type { PgJournalBackend } from "../src/lib/state/pg-journal";
import type { LocalPostgres } from "../src/devnet/postgres";
import { startTcpProxy, type TcpProxy } from "../src/devnet/tcp-proxy";

/**
 * The state store's cost per journaled send: the one journaled sender (ActionSender) sends `sends`
 * small ETH transfers on the automining devnet from each of three keys, their sends taking turns:
 * one journaled in files, one in PostgreSQL through a counting TCP proxy, and one through a proxy
 * that also adds FAR_RTT_MS of round-trip time (a database that is not on loopback). Measured per send: the time from send()
 * to the broadcast (the provider seeing eth_sendRawTransaction: the fenced write is on this path)
 * and to mined, the database round trips before the broadcast and in all (the background lines —
 * "sent", "mined" — awaited before the next send, so one send's writes do not spill into the
 * next), and the statements by kind (pg_stat_statements). The lease is long (no renewal in the
 * window): what is counted is the journal's. Then the journal write alone, 50 times each: a line
 * appended to the file, and a fenced write through the proxy (medians).
 */
export interface StoreFigures {
  msToBroadcast: number;
  msPerSend: number;
  roundTripsBeforeBroadcast: number;
  roundTripsPerSend: number;
}

export interface OverheadResult {
  sends: number;
  /** One journal line written alone (median of `writes`): appended to the file, or a fenced write. */
  lineWrite: { writes: number; filesMs: number; pgMs: number };
  files: StoreFigures;
  pg: StoreFigures;
  /** The same through a link with FAR_RTT_MS of added round-trip time. */
  pgFar: StoreFigures;
  statements: { query: string; calls: number }[];
}

/** A provider that tells when a signed transaction leaves (observes only; the call goes on as usual). */
class BroadcastWatchingProvider extends ethers.JsonRpcProvider {
  onBroadcast?: () => void;
  override send(method: string, params: unknown[] | Record<string, unknown>): Promise<unknown> {
    if (method === "eth_sendRawTransaction") this.onBroadcast?.();
    return super.send(method, params);
  }
}

const WARM_UP = 2;

interface Lane {
  sender: ActionSender;
  wallet: ethers.Wallet;
  roundTrips: () => number;
  /** Waits for the journal's background writes. */
  settle: () => Promise<void>;
  prefix: string;
  sum: StoreFigures;
}

async function lane(o: Omit<Lane, "sender" | "sum"> & { journal: Journal; provider: ethers.JsonRpcProvider }): Promise<Lane> {
  const sender = new ActionSender(o.wallet, o.provider, o.journal, { maxFeeGwei: 1000, pollMs: 20, dryRun: false });
  await sender.startSession();
  return { ...o, sender, sum: { msToBroadcast: 0, msPerSend: 0, roundTripsBeforeBroadcast: 0, roundTripsPerSend: 0 } };
}

async function sendOnce(l: Lane, provider: BroadcastWatchingProvider, i: number, counted: boolean): Promise<void> {
  await l.settle();
  const rt0 = l.roundTrips();
  const t0 = performance.now();
  let tb = t0;
  let rtb = rt0;
  provider.onBroadcast = () => {
    tb = performance.now();
    rtb = l.roundTrips();
  };
  const res = await l.sender.send(`${l.prefix}:${i}`, { to: l.wallet.address, value: 1n, label: "bench transfer" });
  const t1 = performance.now();
  if (res.status !== "mined") throw new Error(`bench send ${l.prefix}:${i} ended ${res.status}`);
  await l.settle();
  if (!counted) return;
  l.sum.msToBroadcast += tb - t0;
  l.sum.msPerSend += t1 - t0;
  l.sum.roundTripsBeforeBroadcast += rtb - rt0;
  l.sum.roundTripsPerSend += l.roundTrips() - rt0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The journal write alone: a line of a finished action (a "skipped" probe, never in flight) per call. */
async function lineWrites(write: (line: string) => void | Promise<void>, n: number): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const line = JSON.stringify({ key: `probe:${i}`, state: "skipped", reason: "bench probe", at: new Date().toISOString() });
    const t0 = performance.now();
    await write(line);
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

const per = (x: StoreFigures, n: number): StoreFigures => ({ msToBroadcast: x.msToBroadcast / n, msPerSend: x.msPerSend / n, roundTripsBeforeBroadcast: x.roundTripsBeforeBroadcast / n, roundTripsPerSend: x.roundTripsPerSend / n });

/** Added round-trip time of the third key's database link: a database in the next building. */
export const FAR_RTT_MS = 5;

export async function measureJournalOverhead(o: { rpcUrl: string; pg: LocalPostgres; sql: Client; home: string; sends?: number }): Promise<OverheadResult> {
  const sends = o.sends ?? 20;
  const provider = new BroadcastWatchingProvider(o.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1 });
  const near = await startTcpProxy({ host: "127.0.0.1", port: o.pg.port });
  const far = await startTcpProxy({ host: "127.0.0.1", port: o.pg.port }, { rttMs: FAR_RTT_MS });
  const opened: { close(): Promise<void> }[] = [];
  try {
    const funded = async () => {
      const w = new ethers.Wallet(ethers.Wallet.createRandom().privateKey, provider);
      await provider.send("hardhat_setBalance", [w.address, ethers.toQuantity(ethers.parseEther("10"))]);
      return w;
    };
    // One key per store, their sends taking turns: a change in the machine's load hits all alike.
    const dir = path.join(o.home, "overhead-files");
    fs.mkdirSync(dir, { recursive: true });
    const files = await lane({ journal: Journal.open(dir), wallet: await funded(), provider, roundTrips: () => 0, settle: async () => undefined, prefix: "files" });
    const pgLane = async (proxy: TcpProxy, prefix: string) => {
      const wallet = await funded();
      const shared = await openSharedState({
        url: o.pg.url.replace(`:${o.pg.port}/`, `:${proxy.port}/`), timings: { refreshMs: 60_000, durationMs: 120_000 }, maxRpcMs: 5_000,
        name: `31337-bench-${wallet.address.toLowerCase()}`, account: wallet.address, readOnly: false, wait: false,
      });
      opened.push(shared);
      const backend = shared.journal.backend as PgJournalBackend;
      return { backend, lane: await lane({ journal: shared.journal, wallet, provider, roundTrips: () => proxy.counts.roundTrips, settle: () => backend.flush(false), prefix }) };
    };
    const pg = await pgLane(near, "pg");
    const pgFar = await pgLane(far, "pg-far");
    for (let i = 0; i < WARM_UP + sends; i++) {
      if (i === WARM_UP) await o.sql.query("SELECT pg_stat_statements_reset()");
      for (const l of [files, pg.lane, pgFar.lane]) await sendOnce(l, provider, i, i >= WARM_UP);
    }
    const r = await o.sql.query<{ query: string; calls: string }>(
      "SELECT query, calls FROM pg_stat_statements WHERE query NOT ILIKE '%pg_stat%' ORDER BY calls DESC, query",
    );
    // Both PostgreSQL keys' statements: per send, halved.
    const statements = r.rows.map((x) => ({ query: x.query.replace(/\s+/g, " ").slice(0, 48), calls: Number(x.calls) / 2 }));
    const writes = 50;
    const filesJournal = Journal.open(path.join(o.home, "overhead-probe"));
    const lineWrite = {
      writes,
      filesMs: await lineWrites((l) => filesJournal.backend.append(l), writes),
      pgMs: await lineWrites((l) => pg.backend.appendBeforeBroadcast(l), writes),
    };
    return { sends, lineWrite, files: per(files.sum, sends), pg: per(pg.lane.sum, sends), pgFar: per(pgFar.lane.sum, sends), statements };
  } finally {
    for (const x of opened) await x.close();
    provider.destroy();
    await near.close();
    await far.close();
  }
}
