import { ethers } from "ethers";
import { RevertError, RpcError, isRevert, shortMessageOf } from "../../errors";
import { parseData } from "../../chain/preflight";
import { depositInterface, keepInterface, systemInterface } from "../abis";
import { DEPOSIT_STATE_SLOT, DEPOSIT_THRESHOLDS_SLOT, decodeDepositSlots, getStorage, type SlotFacts } from "./deposit-slots";
import { multicall, type ViewCall } from "../../chain/multicall";

/**
 * Reading deposits and their keeps. All reads go out in the same tick: deposit fields as storage
 * words, keep getters packed hundreds to an eth_call by the deployless multicall, everything
 * JSON-RPC-batched into few HTTP requests. A node spends about a millisecond per call frame, so
 * the fewer frames the better. Every read is pinned to one block, so the figures agree with each
 * other and with the log scan.
 */
export interface DepositRef {
  deposit: string;
  keep: string;
}

/** Set once at deposit creation: read once, cached forever. */
export interface FixedFacts {
  lotSizeSatoshis: bigint;
  initialCollateralizedPercent: number;
  undercollateralizedThresholdPercent: number;
  severelyUndercollateralizedThresholdPercent: number;
}

export interface LiveFacts {
  state: number;
  bondWei: bigint;
  keepActive: boolean;
  keepClosed: boolean;
  keepTerminated: boolean;
}

export interface DepositRead {
  live?: LiveFacts;
  fixed?: FixedFacts;
  /** Why the read failed (the deposit is then shown, not dropped). */
  error?: string;
}

type Call = ViewCall & { from?: string };

export function blockTagOf(block: number | "latest"): string {
  return block === "latest" ? "latest" : ethers.toQuantity(block);
}

/**
 * One eth_call through the provider's batch queue (provider.send batches; provider.call adds round
 * trips). The answer is checked to be hex data before anyone decodes it: junk is the node's fault.
 */
export async function ethCall(provider: ethers.JsonRpcProvider, c: Call, block: number | "latest"): Promise<string> {
  const raw: unknown = await provider.send("eth_call", [{ to: c.to, data: c.data, ...(c.from ? { from: c.from } : {}) }, blockTagOf(block)]);
  return parseData(raw, `eth_call to ${c.to}`);
}

/**
 * Rethrows what is not the contract's own answer: no endpoint answered, or the node answered with
 * an error of its own ("header not found", a gateway limit) or junk. Only a revert is a per-call
 * failure shown on the deposit's row.
 */
function transportFailure(results: PromiseSettledResult<unknown>[]): unknown {
  for (const r of results) {
    if (r.status === "rejected" && (r.reason instanceof RpcError || !isRevert(r.reason))) return r.reason;
  }
  return undefined;
}

/** Failures after which the multicall path is given up for one call per getter (which then judges). */
function isCallFailure(e: unknown): boolean {
  const code = (e as { code?: string })?.code;
  return code === "CALL_EXCEPTION" || code === "BAD_DATA" || code === "UNKNOWN_ERROR" || code === "SERVER_ERROR";
}

// A node spends about a millisecond per call frame, so every read per deposit counts: a keep's
// status is one of active / closed / terminated, so isActive() alone settles it for the live ones
// and isClosed() is asked only of the inactive (in the same pass as any getter fallback); the contract's
// collateralizationPercentage() (five frames deep) is read for one sample deposit per run only;
// remainingTerm() follows from the Funded event the scan already has.
const LIVE_DEPOSIT = ["currentState"] as const;
const LIVE_KEEP = ["checkBondAmount", "isActive"] as const;
const FIXED_DEPOSIT = [
  "lotSizeSatoshis",
  "initialCollateralizedPercent",
  "undercollateralizedThresholdPercent",
  "severelyUndercollateralizedThresholdPercent",
] as const;

export interface ReadOptions {
  block: number | "latest";
  /** Deposits whose fixed facts are not cached yet (lower-case addresses). */
  needFixed: ReadonlySet<string>;
  /**
   * "multicall" (default): hundreds of getter calls per eth_call through the deployless
   * multicall, falling back to "batch" if the node refuses it; "batch": one eth_call per getter.
   */
  mode?: "multicall" | "batch";
}

type Slot = { ref: DepositRef; fn: string; iface: ethers.Interface; call: ViewCall };
type Answer = { ok: true; data: string } | { ok: false; error: string };

async function perCallBatch(provider: ethers.JsonRpcProvider, slots: Slot[], block: number | "latest"): Promise<Answer[]> {
  const settled = await Promise.allSettled(slots.map((s) => ethCall(provider, s.call, block)));
  const fatal = transportFailure(settled);
  if (fatal) throw fatal;
  return settled.map((r) => (r.status === "fulfilled" ? { ok: true, data: r.value } : { ok: false, error: shortMessageOf(r.reason) }));
}

function answer(provider: ethers.JsonRpcProvider, slots: Slot[], o: ReadOptions): Promise<Answer[]> {
  if (slots.length === 0) return Promise.resolve([]);
  if (o.mode === "batch") return perCallBatch(provider, slots, o.block);
  return viaMulticall(provider, slots, o.block).then((a) => a ?? perCallBatch(provider, slots, o.block));
}

async function viaMulticall(provider: ethers.JsonRpcProvider, slots: Slot[], block: number | "latest"): Promise<Answer[] | undefined> {
  try {
    const res = await multicall(provider, slots.map((s) => s.call), blockTagOf(block));
    return res.map((r) => (r.ok ? { ok: true, data: r.data } : { ok: false, error: "reverted" }));
  } catch (e) {
    if (e instanceof RpcError || !isCallFailure(e)) throw e;
    // The node refused a contract-creation eth_call (or its gas cap is tiny): ask one by one.
    return undefined;
  }
}

/**
 * Reads live facts of every ref (and fixed facts where needed): deposit fields from storage, keep
 * getters through the multicall, all in the same tick; deposits whose slots look wrong are read
 * again through their getters.
 */
export async function readDeposits(provider: ethers.JsonRpcProvider, refs: readonly DepositRef[], o: ReadOptions): Promise<Map<string, DepositRead>> {
  const slotReads = refs.map((ref) => {
    const fixed = o.needFixed.has(ref.deposit.toLowerCase());
    return Promise.all([
      getStorage(provider, ref.deposit, DEPOSIT_STATE_SLOT, o.block),
      fixed ? getStorage(provider, ref.deposit, DEPOSIT_THRESHOLDS_SLOT, o.block) : Promise.resolve(undefined),
    ]);
  });
  const keepSlots: Slot[] = [];
  for (const ref of refs) {
    for (const fn of LIVE_KEEP) keepSlots.push({ ref, fn, iface: keepInterface, call: { to: ref.keep, data: keepInterface.encodeFunctionData(fn) } });
  }
  const [words, keepAnswers] = await Promise.all([Promise.all(slotReads), answer(provider, keepSlots, o)]);

  const slotFacts = new Map<string, SlotFacts>();
  const viaGetters: Slot[] = [];
  keepSlots.forEach((k, i) => {
    const a = keepAnswers[i];
    if (k.fn !== "isActive" || !a.ok) return;
    let active = true;
    try { active = keepInterface.decodeFunctionResult("isActive", a.data)[0] as boolean; } catch { /* reported below */ }
    if (!active) viaGetters.push({ ref: k.ref, fn: "isClosed", iface: keepInterface, call: { to: k.ref.keep, data: keepInterface.encodeFunctionData("isClosed") } });
  });
  refs.forEach((ref, i) => {
    const key = ref.deposit.toLowerCase();
    const f = decodeDepositSlots(words[i][0], words[i][1]);
    if (f) return void slotFacts.set(key, f);
    const fns = o.needFixed.has(key) ? [...LIVE_DEPOSIT, ...FIXED_DEPOSIT] : LIVE_DEPOSIT;
    for (const fn of fns) viaGetters.push({ ref, fn, iface: depositInterface, call: { to: ref.deposit, data: depositInterface.encodeFunctionData(fn) } });
  });
  const slots = [...keepSlots, ...viaGetters];
  const answers = [...keepAnswers, ...(viaGetters.length > 0 ? await answer(provider, viaGetters, o) : [])];

  const values = new Map<string, Record<string, unknown>>();
  const errors = new Map<string, string>();
  for (const [key, f] of slotFacts) {
    values.set(key, {
      currentState: f.state,
      lotSizeSatoshis: f.lotSizeSatoshis,
      initialCollateralizedPercent: f.initialCollateralizedPercent,
      undercollateralizedThresholdPercent: f.undercollateralizedThresholdPercent,
      severelyUndercollateralizedThresholdPercent: f.severelyUndercollateralizedThresholdPercent,
    });
  }
  answers.forEach((r, i) => {
    const s = slots[i];
    const key = s.ref.deposit.toLowerCase();
    const rec = values.get(key) ?? {};
    values.set(key, rec);
    if (!r.ok) {
      if (!errors.has(key)) errors.set(key, `${s.fn}() failed: ${r.error}`);
      return;
    }
    try {
      rec[s.fn] = s.iface.decodeFunctionResult(s.fn, r.data)[0];
    } catch {
      errors.set(key, `${s.fn}() returned undecodable data (is ${s.iface === keepInterface ? s.ref.keep : s.ref.deposit} a tBTC contract?)`);
    }
  });

  const out = new Map<string, DepositRead>();
  for (const ref of refs) {
    const key = ref.deposit.toLowerCase();
    const v = values.get(key) ?? {};
    const err = errors.get(key);
    if (err) {
      out.set(key, { error: err });
      continue;
    }
    const read: DepositRead = {
      live: {
        state: Number(v.currentState),
        bondWei: v.checkBondAmount as bigint,
        keepActive: v.isActive as boolean,
        keepClosed: v.isActive ? false : (v.isClosed as boolean),
        keepTerminated: !v.isActive && !v.isClosed,
      },
    };
    if (o.needFixed.has(key)) {
      read.fixed = {
        lotSizeSatoshis: v.lotSizeSatoshis as bigint,
        initialCollateralizedPercent: Number(v.initialCollateralizedPercent),
        undercollateralizedThresholdPercent: Number(v.undercollateralizedThresholdPercent),
        severelyUndercollateralizedThresholdPercent: Number(v.severelyUndercollateralizedThresholdPercent),
      };
    }
    out.set(key, read);
  }
  return out;
}

/**
 * Wei per satoshi from TBTCSystem.fetchBitcoinPrice(). The system answers only its deposits,
 * so the call is made `from` a deposit address (eth_call does not check the sender's code).
 */
export async function fetchPriceWeiPerSat(provider: ethers.JsonRpcProvider, system: string, asDeposit: string, block: number | "latest"): Promise<bigint> {
  let raw: string;
  try {
    raw = await ethCall(provider, { to: system, from: asDeposit, data: systemInterface.encodeFunctionData("fetchBitcoinPrice") }, block);
  } catch (e) {
    if (e instanceof RpcError || !isRevert(e)) throw e;
    throw new RevertError(`TBTCSystem.fetchBitcoinPrice() failed: ${shortMessageOf(e)}`, {
      cause: e,
      hint: "check that the TBTCSystem address is right for this network",
    });
  }
  return systemInterface.decodeFunctionResult("fetchBitcoinPrice", raw)[0] as bigint;
}

/** The contract's own integer collateralization of one deposit; undefined when it reverts (no lot yet). */
export async function readContractCollateral(provider: ethers.JsonRpcProvider, deposit: string, block: number | "latest"): Promise<bigint | undefined> {
  try {
    const raw = await ethCall(provider, { to: deposit, data: depositInterface.encodeFunctionData("collateralizationPercentage") }, block);
    return depositInterface.decodeFunctionResult("collateralizationPercentage", raw)[0] as bigint;
  } catch (e) {
    if (e instanceof RpcError || !isRevert(e)) throw e;
    return undefined;
  }
}
