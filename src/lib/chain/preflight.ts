import { ethers } from "ethers";
import { ConfigError, RpcError, UsageError, isRevert } from "../errors";
import { explainFuture, explainStale, type ClockEvidence } from "./head-clock";

/**
 * Before a command judges anything from the chain it proves the chain can be judged from: a head
 * that is a real block of a plausible time, and every configured contract answering a probe only
 * the real contract answers sensibly. A wrong address (an account, a token) or a node answering
 * junk would otherwise look exactly like "nothing at risk". Every probe of a run is fired in the
 * same tick, so the provider sends them as one JSON-RPC batch: one HTTP round trip.
 *
 * Failures: a configured address that is not its contract, or a start block past the head, is
 * ConfigError (exit 3) naming the contract and the fix; a node answering junk or a stale head is
 * RpcError (exit 4); a `--deposit` that is not a tBTC deposit is UsageError (exit 2).
 */
export interface BlockHeader {
  number: number;
  hash: string;
  timestamp: number;
}

/** Chains whose clock is moved by their users (Hardhat, Ganache): no "future" or age check by default. */
export const LOCAL_CHAIN_IDS: ReadonlySet<number> = new Set([31337, 1337]);
/** Clock skew tolerated between this machine and a head that looks to be from the future. */
export const FUTURE_TOLERANCE_SEC = 900;
/** 9999-12-31T23:59:59Z: past this no date can be printed, so it cannot be a block's time. */
const MAX_TIMESTAMP = 253_402_300_799;

const BAD_RESPONSE_HINT = "the endpoint answers with malformed data: point --rpc-url / KEEPCTL_RPC_URLS at a working node";

function badResponse(what: string, raw: unknown): RpcError {
  const shown = typeof raw === "string" ? JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw) : JSON.stringify(raw)?.slice(0, 80) ?? String(raw);
  return new RpcError(`the RPC node returned ${shown} for ${what}, which is not valid`, { code: "BAD_RESPONSE", hint: BAD_RESPONSE_HINT });
}

/** A JSON-RPC quantity ("0x1a") as a safe integer; anything else is the node's fault (exit 4). */
export function parseQuantity(raw: unknown, what: string): number {
  if (typeof raw !== "string" || !/^0x[0-9a-f]{1,14}$/i.test(raw)) throw badResponse(what, raw);
  const n = Number(BigInt(raw));
  if (!Number.isSafeInteger(n)) throw badResponse(what, raw);
  return n;
}

/** Hex data ("0x" + whole bytes), as eth_call and eth_getCode return. */
export function parseData(raw: unknown, what: string): string {
  if (typeof raw !== "string" || !/^0x([0-9a-f]{2})*$/i.test(raw)) throw badResponse(what, raw);
  return raw;
}

/** An eth_getBlockByNumber answer, validated field by field; `null` (no such block) passes through. */
export function parseBlockHeader(raw: unknown, what: string): BlockHeader | null {
  if (raw === null) return null;
  if (!raw || typeof raw !== "object") throw badResponse(what, raw);
  const b = raw as Record<string, unknown>;
  const number = parseQuantity(b.number, `${what}.number`);
  const timestamp = parseQuantity(b.timestamp, `${what}.timestamp`);
  if (timestamp > MAX_TIMESTAMP) throw badResponse(`${what}.timestamp`, b.timestamp);
  if (typeof b.hash !== "string" || !/^0x[0-9a-f]{64}$/i.test(b.hash)) throw badResponse(`${what}.hash`, b.hash);
  return { number, hash: b.hash, timestamp };
}

/** The latest block, straight from the node (no cache), validated. */
export async function readHead(provider: ethers.JsonRpcProvider): Promise<BlockHeader> {
  const head = parseBlockHeader(await provider.send("eth_getBlockByNumber", ["latest", false]), "the latest block");
  if (!head) throw new RpcError("the RPC node returned no latest block", { code: "BAD_RESPONSE", hint: BAD_RESPONSE_HINT });
  return head;
}

export interface HeadPolicy {
  chainId: number;
  /** Oldest head (seconds behind this machine's clock) to judge from; 0 = no limit. */
  maxAgeSec: number;
  /**
   * "error": a stale head fails the run (check, watch, redeem, the EMP bots act or judge on it);
   * "warn": it is reported and the run goes on (list-keeps and rai-price only show what is there).
   */
  stale: "error" | "warn";
  /** This machine's time (tests). */
  now?: number;
  /** What else the process saw (head-clock.ts): chooses the words of a stale-head refusal. */
  evidence?: ClockEvidence;
  /** Blocks another endpoint must be ahead to count as "ahead" (the --max-lag). */
  maxLag?: number;
}

/** The policy of a loaded config (structural, so this module needs no config import). */
export function headPolicyOf(rpc: { chainId: number; maxHeadAgeSec: number; maxLagBlocks?: number }, stale: HeadPolicy["stale"]): HeadPolicy {
  return { chainId: rpc.chainId, maxAgeSec: rpc.maxHeadAgeSec, stale, maxLag: rpc.maxLagBlocks };
}

const iso = (t: number) => new Date(t * 1000).toISOString().replace(".000Z", "Z");

/**
 * Judges the head's time: from the future (beyond clock skew) is junk, exit 4, except on local dev
 * chains; older than `maxAgeSec` is a stuck or lagging node: exit 4 (STALE_HEAD) or a warning.
 * The words say which is likelier at fault (head-clock.ts): this machine's clock, the node, or
 * all endpoints; the refusal itself does not depend on it.
 */
export function judgeHead(head: BlockHeader, p: HeadPolicy): string[] {
  const now = p.now ?? Math.floor(Date.now() / 1000);
  if (!LOCAL_CHAIN_IDS.has(p.chainId) && head.timestamp > now + FUTURE_TOLERANCE_SEC) {
    const v = explainFuture({ now, head, toleranceSec: FUTURE_TOLERANCE_SEC, evidence: p.evidence });
    throw new RpcError(`the RPC node's latest block ${head.number} is dated ${iso(head.timestamp)}, ${head.timestamp - now} s in the future: ${v.reason}`, {
      code: "BAD_RESPONSE",
      hint: v.hint,
      details: { likely: v.likely },
    });
  }
  const age = now - head.timestamp;
  if (p.maxAgeSec > 0 && age > p.maxAgeSec) {
    const v = explainStale({ now, head, maxAgeSec: p.maxAgeSec, evidence: p.evidence, maxLag: p.maxLag });
    const msg = `the RPC node's latest block ${head.number} is ${age} s old (${iso(head.timestamp)}; limit ${p.maxAgeSec} s): ${v.reason}`;
    if (p.stale === "error") {
      throw new RpcError(msg, { code: "STALE_HEAD", hint: v.hint, details: { likely: v.likely } });
    }
    return [msg];
  }
  return [];
}

/** The stale-head evidence a KeepctlProvider collected (other endpoints' heads, servers' clocks). */
export function evidenceOf(provider: object): ClockEvidence | undefined {
  const p = provider as { headEvidence?: () => ClockEvidence };
  return typeof p.headEvidence === "function" ? p.headEvidence() : undefined;
}

// ---- contract probes -----------------------------------------------------------------------------

export interface ProbeCall {
  iface: ethers.Interface;
  fn: string;
  args?: unknown[];
  /** Given the decoded result, a problem ("its tbtcSystem() is 0x..") or undefined when it fits. */
  accept?: (r: ethers.Result) => string | undefined;
  /**
   * The call ties this contract to another configured one (DepositFactory.tbtcSystem()): a
   * mismatch is reported as two addresses that disagree, not as this contract being wrong.
   */
  ties?: string;
}

export interface ContractProbe {
  /** Contract name as configured (TBTCSystem) or as the flag calls it (EMP, RateSetter). */
  name: string;
  address: string;
  /** What to fix when the probe fails. */
  hint: string;
  calls: ProbeCall[];
}

export type ProbeAnswers = Map<ContractProbe, ethers.Result[]>;

const sameAddress = (a: unknown, b: string) => typeof a === "string" && a.toLowerCase() === b.toLowerCase();

/**
 * Runs every probe in one batch: eth_getCode and each call of every contract. Throws ConfigError
 * (exit 3) for the first contract that has no code or answers like some other contract; node
 * failures that are not reverts propagate (exit 4 through the error mapping).
 */
export async function runProbes(provider: ethers.JsonRpcProvider, probes: readonly ContractProbe[]): Promise<ProbeAnswers> {
  // Every send below is made in this tick, before the first await: one JSON-RPC batch.
  const pending = probes.map((p) => ({
    code: provider.send("eth_getCode", [p.address, "latest"]) as Promise<unknown>,
    calls: p.calls.map((c) => settle(provider.send("eth_call", [{ to: p.address, data: c.iface.encodeFunctionData(c.fn, c.args ?? []) }, "latest"]) as Promise<unknown>)),
  }));
  // Whatever is awaited first may throw: the rest must not reject unobserved.
  for (const p of pending) p.code.catch(() => undefined);
  const answers: ProbeAnswers = new Map();
  for (const [i, p] of probes.entries()) {
    const code = parseData(await pending[i].code, `eth_getCode(${p.address})`);
    const settled = await Promise.all(pending[i].calls);
    if (code === "0x") throw new ConfigError(`no contract at ${p.name} address ${p.address}`, { code: "NO_CONTRACT", hint: p.hint });
    const results: ethers.Result[] = [];
    for (const [j, c] of p.calls.entries()) {
      const s = settled[j];
      const label = `${c.fn}(${(c.args ?? []).map(String).join(", ")})`;
      let problem: string | undefined;
      if (!s.ok) {
        if (!isRevert(s.error)) throw s.error;
        problem = `${label} reverted`;
      } else {
        const data = parseData(s.value, `${p.name}.${label}`);
        try {
          const r = c.iface.decodeFunctionResult(c.fn, data);
          results.push(r);
          problem = c.accept?.(r);
        } catch {
          problem = `${label} answered ${(data.length - 2) / 2} bytes that are not its result`;
        }
      }
      if (problem && c.ties) {
        throw new ConfigError(`configured addresses disagree: ${p.name} ${p.address} ${problem}`, {
          code: "WRONG_CONTRACT",
          hint: `contracts.${p.name} and contracts.${c.ties} must come from the same deployment: ${tbtcHint(c.ties)}`,
        });
      }
      if (problem) {
        throw new ConfigError(`${p.name} address ${p.address} is not ${/^[AEIOU]/.test(p.name) ? "an" : "a"} ${p.name} contract: ${problem}`, { code: "WRONG_CONTRACT", hint: p.hint });
      }
    }
    answers.set(p, results);
  }
  return answers;
}

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };
function settle(p: Promise<unknown>): Promise<Settled> {
  return p.then((value) => ({ ok: true as const, value }), (error) => ({ ok: false as const, error }));
}

// ---- what the real contracts answer ------------------------------------------------------------

const tbtcSystemIface = new ethers.Interface([
  "function getUndercollateralizedThresholdPercent() view returns (uint16)",
  "function getAllowedLotSizes() view returns (uint64[])",
]);
const keepFactoryIface = new ethers.Interface([
  "function getKeepCount() view returns (uint256)",
  "function openKeepFeeEstimate() view returns (uint256)",
]);
const depositFactoryIface = new ethers.Interface([
  "function tbtcSystem() view returns (address)",
  "function tbtcToken() view returns (address)",
  "function vendingMachineAddress() view returns (address)",
]);
const vendingMachineIface = new ethers.Interface([
  "function getMaxSupply() view returns (uint256)",
  "function getMintedSupply() view returns (uint256)",
]);
const tokenIface = new ethers.Interface([
  "function decimals() view returns (uint8)",
  "function totalSupply() view returns (uint256)",
]);
const tdtIface = new ethers.Interface([
  "function supportsInterface(bytes4) view returns (bool)",
  "function exists(uint256) view returns (bool)",
]);
const empIface = new ethers.Interface([
  "function priceIdentifier() view returns (bytes32)",
  "function collateralCurrency() view returns (address)",
  "function tokenCurrency() view returns (address)",
  "function collateralRequirement() view returns (uint256)",
  "function liquidationLiveness() view returns (uint256)",
]);
const rateSetterIface = new ethers.Interface([
  "function updateRateDelay() view returns (uint256)",
  "function lastUpdateTime() view returns (uint256)",
]);

const ERC721_INTERFACE_ID = "0x80ac58cd";
const tbtcHint = (name: string) => `check contracts.${name} in the deployment file or KEEPCTL_CONTRACTS="${name}=0x..." for this network`;

/**
 * Probes for the configured tBTC contracts (those present in `contracts`). DepositFactory knows the
 * system, token and vending machine it was deployed with, which ties the addresses together.
 */
export function tbtcProbes(contracts: Record<string, string>): ContractProbe[] {
  const probes: ContractProbe[] = [];
  const add = (name: string, calls: ProbeCall[]) => {
    if (contracts[name]) probes.push({ name, address: contracts[name], hint: tbtcHint(name), calls });
  };
  add("TBTCSystem", [
    { iface: tbtcSystemIface, fn: "getUndercollateralizedThresholdPercent", accept: (r) => (Number(r[0]) >= 100 && Number(r[0]) <= 1000 ? undefined : `getUndercollateralizedThresholdPercent() is ${r[0]}`) },
    { iface: tbtcSystemIface, fn: "getAllowedLotSizes", accept: (r) => ((r[0] as unknown[]).length > 0 ? undefined : "it allows no lot size") },
  ]);
  add("BondedECDSAKeepFactory", [{ iface: keepFactoryIface, fn: "getKeepCount" }, { iface: keepFactoryIface, fn: "openKeepFeeEstimate" }]);
  const tied = (fn: string, name: string): ProbeCall => ({
    iface: depositFactoryIface,
    fn,
    ties: name,
    accept: (r) => (!contracts[name] || sameAddress(r[0], contracts[name]) ? undefined : `names ${r[0]} as its ${name} (${fn}()), but ${name} is configured as ${contracts[name]}`),
  });
  add("DepositFactory", [tied("tbtcSystem", "TBTCSystem"), tied("tbtcToken", "TBTCToken"), tied("vendingMachineAddress", "VendingMachine")]);
  add("VendingMachine", [{ iface: vendingMachineIface, fn: "getMaxSupply" }, { iface: vendingMachineIface, fn: "getMintedSupply" }]);
  add("TBTCToken", [{ iface: tokenIface, fn: "decimals", accept: (r) => (Number(r[0]) === 18 ? undefined : `decimals() is ${r[0]}, not 18`) }, { iface: tokenIface, fn: "totalSupply" }]);
  add("TBTCDepositToken", [
    { iface: tdtIface, fn: "supportsInterface", args: [ERC721_INTERFACE_ID], accept: (r) => (r[0] === true ? undefined : "it is not an ERC-721 token") },
    { iface: tdtIface, fn: "exists", args: [0n] },
  ]);
  return probes;
}

export function empProbe(emp: string): ContractProbe {
  const nonZero = (fn: string) => (r: ethers.Result) => (r[0] === ethers.ZeroAddress ? `${fn}() is the zero address` : undefined);
  return {
    name: "EMP",
    address: emp,
    hint: "check --emp / KEEPCTL_EMP_ADDRESS (or contracts.ExpiringMultiParty): it must be an UMA ExpiringMultiParty",
    calls: [
      { iface: empIface, fn: "priceIdentifier" },
      { iface: empIface, fn: "collateralCurrency", accept: nonZero("collateralCurrency") },
      { iface: empIface, fn: "tokenCurrency", accept: nonZero("tokenCurrency") },
      { iface: empIface, fn: "collateralRequirement", accept: (r) => ((r[0] as bigint) >= 10n ** 18n ? undefined : `collateralRequirement() is ${r[0]}, below 1.0`) },
      { iface: empIface, fn: "liquidationLiveness" },
    ],
  };
}

function erc20Probe(name: string, address: string, empAddress: string): ContractProbe {
  return {
    name,
    address,
    hint: `the EMP ${empAddress} names it as its ${name}; check --emp`,
    calls: [{ iface: tokenIface, fn: "decimals" }, { iface: tokenIface, fn: "totalSupply" }],
  };
}

export function rateSetterProbe(address: string): ContractProbe {
  return {
    name: "RateSetter",
    address,
    hint: "check --rate-setter or contracts.RateSetter for this network",
    calls: [{ iface: rateSetterIface, fn: "updateRateDelay" }, { iface: rateSetterIface, fn: "lastUpdateTime" }],
  };
}

// ---- per command ------------------------------------------------------------------------------

/** Contracts already probed through a provider: a long-running watch probes them once. */
const probedBy = new WeakMap<object, Set<string>>();

function unprobed(provider: object, probes: ContractProbe[]): ContractProbe[] {
  const seen = probedBy.get(provider);
  return seen ? probes.filter((p) => !seen.has(`${p.name}:${p.address.toLowerCase()}`)) : probes;
}

function markProbed(provider: object, probes: ContractProbe[]): void {
  const seen = probedBy.get(provider) ?? new Set<string>();
  for (const p of probes) seen.add(`${p.name}:${p.address.toLowerCase()}`);
  probedBy.set(provider, seen);
}

export interface Preflight {
  head: BlockHeader;
  /** A stale head under the "warn" policy. */
  warnings: string[];
}

export interface TbtcPreflight extends Preflight {
  /** BondedECDSAKeepFactory.getKeepCount() at the head: every keep of every application. */
  factoryKeepCount?: bigint;
}

export interface TbtcPreflightOptions {
  contracts: Record<string, string>;
  startBlock: number;
  policy: HeadPolicy;
  /** `redeem --deposit`: each must be a deposit the configured TBTCDepositToken minted a token for. */
  deposits?: readonly string[];
  /** The head, already read (watch's poll): judged again, not re-read. */
  head?: BlockHeader;
}

/**
 * The head, the tBTC contracts, the factory's keep count and any named deposits, in one batch.
 * The start block must not be past the head: a scan from there finds nothing, whatever exists.
 */
/** A log scan from past the head finds nothing: say so (exit 3) instead of reporting "none found". */
export function checkStartBlock(startBlock: number, head: BlockHeader): void {
  if (startBlock > head.number) {
    throw new ConfigError(`start block ${startBlock} is past the chain head ${head.number}: a scan from there finds nothing`, {
      code: "START_BLOCK",
      hint: "fix KEEPCTL_START_BLOCK (or deploymentBlock in the deployment file), or point --rpc-url at a synced node of this network",
    });
  }
}

export async function preflightTbtc(provider: ethers.JsonRpcProvider, o: TbtcPreflightOptions): Promise<TbtcPreflight> {
  const probes = unprobed(provider, tbtcProbes(o.contracts));
  const factory = o.contracts.BondedECDSAKeepFactory;
  const tdt = o.contracts.TBTCDepositToken;
  const deposits = o.deposits ?? [];
  if (deposits.length > 0 && !tdt) {
    throw new ConfigError("no address for contract TBTCDepositToken, which tells tBTC deposits apart", { hint: tbtcHint("TBTCDepositToken") });
  }
  // All sends in this tick: one batch.
  const head = o.head ? Promise.resolve(o.head) : readHead(provider);
  const probed = runProbes(provider, probes);
  const keepCount = factory ? provider.send("eth_call", [{ to: factory, data: keepFactoryIface.encodeFunctionData("getKeepCount") }, "latest"]) as Promise<unknown> : undefined;
  const depositChecks = deposits.map((d) => ({
    code: provider.send("eth_getCode", [d, "latest"]) as Promise<unknown>,
    exists: provider.send("eth_call", [{ to: tdt, data: tdtIface.encodeFunctionData("exists", [BigInt(d)]) }, "latest"]) as Promise<unknown>,
  }));
  // Nothing may reject unobserved while an earlier await throws.
  for (const p of [head, probed, keepCount, ...depositChecks.flatMap((c) => [c.code, c.exists])]) p?.catch(() => undefined);

  const h = await head;
  const warnings = judgeHead(h, { ...o.policy, evidence: o.policy.evidence ?? evidenceOf(provider) });
  await probed;
  markProbed(provider, probes);
  checkStartBlock(o.startBlock, h);
  let factoryKeepCount: bigint | undefined;
  if (keepCount) {
    const raw = parseData(await keepCount, "BondedECDSAKeepFactory.getKeepCount()");
    try {
      factoryKeepCount = keepFactoryIface.decodeFunctionResult("getKeepCount", raw)[0] as bigint;
    } catch {
      throw badResponse("BondedECDSAKeepFactory.getKeepCount()", raw);
    }
  }
  for (const [i, d] of deposits.entries()) {
    const code = parseData(await depositChecks[i].code, `eth_getCode(${d})`);
    if (code === "0x") throw new UsageError(`--deposit ${d} is not a tBTC deposit: there is no contract at that address`, { hint: "pass the address of a Deposit contract (see `keepctl list-keeps`)" });
    let minted = false;
    try {
      minted = tdtIface.decodeFunctionResult("exists", parseData(await depositChecks[i].exists, `TBTCDepositToken.exists(${d})`))[0] === true;
    } catch (e) {
      if (e instanceof RpcError || !isRevert(e)) throw e;
    }
    if (!minted) throw new UsageError(`--deposit ${d} is not a tBTC deposit: the TBTCDepositToken has no token for it`, { hint: "pass the address of a Deposit contract (see `keepctl list-keeps`)" });
  }
  return { head: h, warnings, factoryKeepCount };
}

/**
 * The EMP bots: the head, the EMP (and the RateSetter when the price comes from its events), then
 * the EMP's collateral and synthetic tokens, which only the EMP can name: two round trips.
 * `tokens: false` leaves the token probes out (one round trip): for a command that reads only the
 * EMP (emp-position), the tokens are never called, and the EMP probe already refuses a zero address.
 */
export async function preflightEmp(provider: ethers.JsonRpcProvider, o: { emp: string; rateSetter?: string; policy: HeadPolicy; tokens?: boolean }): Promise<Preflight> {
  const emp = empProbe(o.emp);
  const probes = [emp, ...(o.rateSetter ? [rateSetterProbe(o.rateSetter)] : [])];
  const head = readHead(provider);
  const probed = runProbes(provider, probes);
  head.catch(() => undefined);
  probed.catch(() => undefined);
  const warnings = judgeHead(await head, { ...o.policy, evidence: o.policy.evidence ?? evidenceOf(provider) });
  const answers = await probed;
  if (o.tokens === false) return { head: await head, warnings };
  const [, [collateral], [synthetic]] = answers.get(emp)!;
  await runProbes(provider, [erc20Probe("collateral token", collateral as string, o.emp), erc20Probe("synthetic token", synthetic as string, o.emp)]);
  return { head: await head, warnings };
}

/** rai-price's events source: the head and the RateSetter, one batch. */
export async function preflightRateSetter(provider: ethers.JsonRpcProvider, o: { rateSetter: string; policy: HeadPolicy }): Promise<Preflight> {
  const head = readHead(provider);
  const probed = runProbes(provider, [rateSetterProbe(o.rateSetter)]);
  head.catch(() => undefined);
  probed.catch(() => undefined);
  const h = await head;
  const warnings = judgeHead(h, { ...o.policy, evidence: o.policy.evidence ?? evidenceOf(provider) });
  await probed;
  return { head: h, warnings };
}
