import { ethers } from "ethers";
import { RpcError } from "../../errors";
import { parseBlockHeader, parseData, parseQuantity } from "../../chain/preflight";
import { readPoolState, resolvePool, type PoolRef } from "../../uniswap/v2-pool";

/**
 * What a buy decision reads, in two round trips: (1) the head, the tip, and the keep of each
 * deposit not seen before; (2) at that head's number, the pool's reserves, the router's quote for
 * each amount, the system's price, the account's ETH and each keep's bond. The pool itself (router
 * -> factory, WETH, pair) and the system's price feed are resolved once per process.
 */
export interface BuyContext {
  pool: PoolRef;
  system: string;
  /** TBTCSystem.priceFeed(): SatWeiPriceFeed, which answers only the system. */
  priceFeed: string;
  /** Keep of each deposit (lower-case), read once: it never changes. */
  keeps: Map<string, string>;
}

const systemIface = new ethers.Interface(["function priceFeed() view returns (address)"]);
const priceFeedIface = new ethers.Interface(["function getPrice() view returns (uint256)"]);
const depositIface = new ethers.Interface(["function keepAddress() view returns (address)"]);
const keepIface = new ethers.Interface(["function checkBondAmount() view returns (uint256)"]);
const erc20Iface = new ethers.Interface(["function balanceOf(address) view returns (uint256)"]);

async function call(provider: ethers.JsonRpcProvider, c: { to: string; data: string; from?: string }, block: number | "latest", what: string): Promise<string> {
  return parseData(await provider.send("eth_call", [{ to: c.to, data: c.data, ...(c.from ? { from: c.from } : {}) }, block === "latest" ? block : ethers.toQuantity(block)]), what);
}

/** The Uniswap pool of TBTC and WETH behind `router`, and the system's price feed (checked once). */
export async function openBuyContext(provider: ethers.JsonRpcProvider, c: { system: string; token: string; router: string }): Promise<BuyContext> {
  const [pool, feedRaw] = await Promise.all([
    resolvePool(provider, c.router, c.token, "TBTC"),
    call(provider, { to: c.system, data: systemIface.encodeFunctionData("priceFeed") }, "latest", "TBTCSystem.priceFeed()"),
  ]);
  const priceFeed = systemIface.decodeFunctionResult("priceFeed", feedRaw)[0] as string;
  return { pool, system: c.system, priceFeed, keeps: new Map() };
}

export interface MarketFacts {
  block: number;
  timestamp: number;
  baseFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
  reserveWeth: bigint;
  reserveTbtc: bigint;
  routerQuotes: (bigint | undefined)[];
  weiPerSat: bigint;
  ethBalanceWei: bigint;
  tbtcBalance: bigint;
  /** Bond of each deposit's keep (lower-case deposit). */
  bonds: Map<string, bigint>;
}

/** The market at one block (see above): `amounts` are the running totals the decision may buy. */
export async function readMarket(provider: ethers.JsonRpcProvider, ctx: BuyContext, account: string, amounts: readonly bigint[], deposits: readonly string[]): Promise<MarketFacts> {
  // Round trip 1, one batch: head, tip, unknown keeps.
  const head = provider.send("eth_getBlockByNumber", ["latest", false]) as Promise<Record<string, unknown>>;
  const tip = (provider.send("eth_maxPriorityFeePerGas", []) as Promise<string>).then(BigInt, () => 10n ** 9n);
  const missing = deposits.filter((d) => !ctx.keeps.has(d.toLowerCase()));
  const keepReads = missing.map((d) => call(provider, { to: d, data: depositIface.encodeFunctionData("keepAddress") }, "latest", `${d}.keepAddress()`));
  for (const p of [head, ...keepReads]) p.catch(() => undefined);
  const raw = await head;
  const h = parseBlockHeader(raw, "the latest block");
  if (!h) throw new RpcError("the RPC node returned no latest block", { code: "BAD_RESPONSE" });
  const baseFeePerGas = raw.baseFeePerGas === undefined ? 0n : BigInt(parseQuantity(raw.baseFeePerGas, "baseFeePerGas"));
  for (const [i, d] of missing.entries()) ctx.keeps.set(d.toLowerCase(), depositIface.decodeFunctionResult("keepAddress", await keepReads[i])[0] as string);
  const maxPriorityFeePerGas = await tip;

  // Round trip 2, one batch, all at block h.number.
  const b = h.number;
  const state = readPoolState(provider, ctx.pool, b, amounts);
  const price = call(provider, { from: ctx.system, to: ctx.priceFeed, data: priceFeedIface.encodeFunctionData("getPrice") }, b, "SatWeiPriceFeed.getPrice()");
  const balance = provider.send("eth_getBalance", [account, ethers.toQuantity(b)]) as Promise<string>;
  const tbtc = call(provider, { to: ctx.pool.token, data: erc20Iface.encodeFunctionData("balanceOf", [account]) }, b, "TBTCToken.balanceOf()");
  const bondReads = deposits.map((d) => call(provider, { to: ctx.keeps.get(d.toLowerCase())!, data: keepIface.encodeFunctionData("checkBondAmount") }, b, `keep of ${d}.checkBondAmount()`));
  for (const p of [state, price, balance, tbtc, ...bondReads]) p.catch(() => undefined);
  const s = await state;
  const bonds = new Map<string, bigint>();
  for (const [i, d] of deposits.entries()) bonds.set(d.toLowerCase(), keepIface.decodeFunctionResult("checkBondAmount", await bondReads[i])[0] as bigint);
  return {
    block: b,
    timestamp: h.timestamp,
    baseFeePerGas,
    maxPriorityFeePerGas,
    reserveWeth: s.reserveWeth,
    reserveTbtc: s.reserveToken,
    routerQuotes: s.routerQuotes,
    weiPerSat: priceFeedIface.decodeFunctionResult("getPrice", await price)[0] as bigint,
    ethBalanceWei: BigInt(await balance),
    tbtcBalance: erc20Iface.decodeFunctionResult("balanceOf", await tbtc)[0] as bigint,
    bonds,
  };
}
