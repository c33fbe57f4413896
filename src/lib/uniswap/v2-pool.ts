import { ethers } from "ethers";
import { ConfigError, RpcError, isRevert } from "../errors";
import { parseData, runProbes, type ContractProbe } from "../chain/preflight";
import { factoryInterface, pairInterface, routerInterface } from "./v2-abi";

/**
 * One Uniswap V2 pool as keepctl trades with it: the router (configured), the factory and WETH the
 * router names, and the pair of WETH and `token` that factory holds. Resolved once per process
 * (three round trips); what changes — reserves, the router's quote — is read per decision at one
 * block number, so the local math and the router's quote see the same state.
 */
export interface PoolRef {
  router: string;
  factory: string;
  weth: string;
  token: string;
  pair: string;
  /** The pair's token0 (the lower address): which reserve is which. */
  token0: string;
}

export interface PoolState {
  block: number;
  reserveWeth: bigint;
  reserveToken: bigint;
  /** The router's getAmountsIn(amount, [WETH, token])[0] per amount asked, at the same block; undefined where it reverted. */
  routerQuotes: (bigint | undefined)[];
}

const ROUTER_HINT = "check contracts.UniswapV2Router02 (deployment file or KEEPCTL_CONTRACTS): it must be a Uniswap V2 Router02";

const nonZero = (fn: string) => (r: ethers.Result) => (r[0] === ethers.ZeroAddress ? `${fn}() is the zero address` : undefined);

export function routerProbe(router: string): ContractProbe {
  return {
    name: "UniswapV2Router02",
    address: router,
    hint: ROUTER_HINT,
    calls: [
      { iface: routerInterface, fn: "factory", accept: nonZero("factory") },
      { iface: routerInterface, fn: "WETH", accept: nonZero("WETH") },
    ],
  };
}

/** The router's factory and WETH, the pair for `token`, its token0. ConfigError when any is not what it should be. */
export async function resolvePool(provider: ethers.JsonRpcProvider, router: string, token: string, tokenName = "the token"): Promise<PoolRef> {
  const answers = await runProbes(provider, [routerProbe(router)]);
  const [[factory], [weth]] = [...answers.values()][0].map((r) => [ethers.getAddress(r[0] as string)]);
  const factoryProbe: ContractProbe = {
    name: "UniswapV2Factory",
    address: factory,
    hint: `the router ${router} names it as its factory; ${ROUTER_HINT}`,
    calls: [{ iface: factoryInterface, fn: "getPair", args: [weth, token] }, { iface: factoryInterface, fn: "allPairsLength" }],
  };
  const [[pairRaw]] = [...(await runProbes(provider, [factoryProbe])).values()][0];
  const pair = ethers.getAddress(pairRaw as string);
  if (pair === ethers.ZeroAddress) {
    throw new ConfigError(`no Uniswap V2 pool for ${tokenName} ${token} and WETH ${weth}: the factory ${factory} of router ${router} has no such pair`, {
      code: "NO_POOL",
      hint: "point contracts.UniswapV2Router02 at the router of the exchange that lists the TBTC/WETH pair, or buy TBTC elsewhere",
    });
  }
  const pairProbe: ContractProbe = {
    name: "UniswapV2Pair",
    address: pair,
    hint: `the factory ${factory} names it as the pair; ${ROUTER_HINT}`,
    calls: [
      { iface: pairInterface, fn: "token0" },
      { iface: pairInterface, fn: "token1" },
      { iface: pairInterface, fn: "getReserves" },
    ],
  };
  const [[token0], [token1]] = [...(await runProbes(provider, [pairProbe])).values()][0];
  const tokens = [token0, token1].map((t) => String(t).toLowerCase());
  if (!tokens.includes(token.toLowerCase()) || !tokens.includes(weth.toLowerCase())) {
    throw new ConfigError(`the Uniswap V2 pair ${pair} trades ${token0}/${token1}, not ${tokenName}/WETH`, { code: "WRONG_CONTRACT", hint: ROUTER_HINT });
  }
  return { router, factory, weth, token, pair, token0: ethers.getAddress(token0 as string) };
}

const blockTag = (block: number) => ethers.toQuantity(block);

async function call(provider: ethers.JsonRpcProvider, to: string, data: string, block: number): Promise<string> {
  return parseData(await provider.send("eth_call", [{ to, data }, blockTag(block)]), `eth_call to ${to}`);
}

/**
 * Reserves and the router's quotes for `amountsOut` at `block`, all sent in one tick (one batch on
 * a batching provider). A quote the router refuses (not enough liquidity) is undefined; a failing
 * node is an error.
 */
export async function readPoolState(provider: ethers.JsonRpcProvider, pool: PoolRef, block: number, amountsOut: readonly bigint[]): Promise<PoolState> {
  const path = [pool.weth, pool.token];
  const reserves = call(provider, pool.pair, pairInterface.encodeFunctionData("getReserves"), block);
  const quotes = amountsOut.map((a) =>
    call(provider, pool.router, routerInterface.encodeFunctionData("getAmountsIn", [a, path]), block).then(
      (raw) => (routerInterface.decodeFunctionResult("getAmountsIn", raw)[0] as bigint[])[0],
      (e) => {
        if (e instanceof RpcError || !isRevert(e)) throw e;
        return undefined;
      },
    ),
  );
  reserves.catch(() => undefined);
  for (const q of quotes) q.catch(() => undefined);
  const r = pairInterface.decodeFunctionResult("getReserves", await reserves);
  const wethIs0 = pool.token0.toLowerCase() === pool.weth.toLowerCase();
  return {
    block,
    reserveWeth: (wethIs0 ? r[0] : r[1]) as bigint,
    reserveToken: (wethIs0 ? r[1] : r[0]) as bigint,
    routerQuotes: await Promise.all(quotes),
  };
}

/** Calldata of swapETHForExactTokens(amountOut, [WETH, token], to, deadline). */
export function encodeBuyExact(pool: PoolRef, amountOut: bigint, to: string, deadline: number): string {
  return routerInterface.encodeFunctionData("swapETHForExactTokens", [amountOut, [pool.weth, pool.token], to, deadline]);
}

/** What a mined swap did on the pair, from its receipt: WETH paid in and tokens paid out to `to`. */
export function swapOfReceipt(pool: PoolRef, logs: readonly { address: string; topics: readonly string[]; data: string }[], to: string): { wethIn: bigint; tokenOut: bigint } | undefined {
  const wethIs0 = pool.token0.toLowerCase() === pool.weth.toLowerCase();
  for (const l of logs) {
    if (l.address.toLowerCase() !== pool.pair.toLowerCase()) continue;
    const ev = (() => {
      try {
        return pairInterface.parseLog({ topics: [...l.topics], data: l.data });
      } catch {
        return null;
      }
    })();
    if (!ev || ev.name !== "Swap" || String(ev.args.to).toLowerCase() !== to.toLowerCase()) continue;
    const a = ev.args as unknown as { amount0In: bigint; amount1In: bigint; amount0Out: bigint; amount1Out: bigint };
    return { wethIn: wethIs0 ? a.amount0In : a.amount1In, tokenOut: wethIs0 ? a.amount1Out : a.amount0Out };
  }
  return undefined;
}
