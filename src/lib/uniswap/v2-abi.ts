import { ethers } from "ethers";

/** The Uniswap V2 surface keepctl uses (router 02, factory, pair), as published in v2-core 1.0.1 and v2-periphery 1.1.0-beta.0. */
export const routerInterface = new ethers.Interface([
  "function factory() view returns (address)",
  "function WETH() view returns (address)",
  "function getAmountsIn(uint256 amountOut, address[] path) view returns (uint256[] amounts)",
  "function swapETHForExactTokens(uint256 amountOut, address[] path, address to, uint256 deadline) payable returns (uint256[] amounts)",
  "error UniswapV2Router(string)",
]);

export const factoryInterface = new ethers.Interface([
  "function getPair(address tokenA, address tokenB) view returns (address pair)",
  "function allPairsLength() view returns (uint256)",
]);

export const pairInterface = new ethers.Interface([
  "function token0() view returns (address)",
  "function token1() view returns (address)",
  "function getReserves() view returns (uint112 reserve0, uint112 reserve1, uint32 blockTimestampLast)",
  "event Swap(address indexed sender, uint256 amount0In, uint256 amount1In, uint256 amount0Out, uint256 amount1Out, address indexed to)",
]);

export const SWAP_TOPIC = pairInterface.getEvent("Swap")!.topicHash;

/** Uniswap V2 Router02 on Ethereum mainnet (the TBTC/WETH pair was tBTC v1's main market). */
export const MAINNET_ROUTER02 = "0x7a250d5630B4cF539739dF2C5dAcb4c659F2488D";
