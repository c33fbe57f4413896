import { ethers } from "ethers";
import type { Devnet } from "../../src/devnet/scenario";

/**
 * What the minting e2e tests count, read from the two chains of the devnet (never from keepctl's
 * output): outputs paying a deposit's script in every block and the mempool of the Bitcoin
 * double, the deposit's script from its keep's published key, the deposits an account opened.
 */
export const BTC = 100_000_000n;
export const CREATE = ethers.id("createDeposit(uint64)").slice(0, 10);
export const RETRIEVE = ethers.id("retrieveSignerPubkey()").slice(0, 10);
export const PROOF = ethers.id("provideBTCFundingProof(bytes4,bytes,bytes,bytes4,uint8,bytes,uint256,bytes)").slice(0, 10);
export const APPROVE = ethers.id("approve(address,uint256)").slice(0, 10);
export const TDT_TO_TBTC = ethers.id("tdtToTbtc(uint256)").slice(0, 10);
const CLONE_CREATED = ethers.id("DepositCloneCreated(address)");
const FUNDED = ethers.id("Funded(address,bytes32,uint256)");
export const DEPOSIT_ABI = ["function currentState() view returns (uint256)", "function signerFeeTbtc() view returns (uint256)", "function lotSizeSatoshis() view returns (uint64)", "function keepAddress() view returns (address)"];

export function outputsPaying(devnet: Devnet, scriptHex: string): { txid: string; value: bigint; vout: number }[] {
  const node = devnet.bitcoin!.net.node;
  const found: { txid: string; value: bigint; vout: number }[] = [];
  const scan = (tx: { txid: string; outputs: { value: bigint; script: Uint8Array }[] }) => {
    tx.outputs.forEach((o, vout) => { if (Buffer.from(o.script).toString("hex") === scriptHex) found.push({ txid: tx.txid, value: o.value, vout }); });
  };
  for (let h = 0; h <= node.chain.height; h++) for (const tx of node.chain.entryAt(h)!.block.txs) scan(tx);
  for (const e of node.mempool.all()) scan(e.tx);
  return found;
}

/** Every transaction (blocks and mempool) of the Bitcoin double with this txid: its outputs. */
export function bitcoinTx(devnet: Devnet, txid: string): { value: bigint; script: string }[] | undefined {
  const node = devnet.bitcoin!.net.node;
  for (let h = 0; h <= node.chain.height; h++) for (const tx of node.chain.entryAt(h)!.block.txs) if (tx.txid === txid) return tx.outputs.map((o) => ({ value: o.value, script: Buffer.from(o.script).toString("hex") }));
  for (const e of node.mempool.all()) if (e.tx.txid === txid) return e.tx.outputs.map((o) => ({ value: o.value, script: Buffer.from(o.script).toString("hex") }));
  return undefined;
}

/** The deposit's P2WPKH script from the keep's published key (DepositUtils.signerPKH, recomputed here). */
export async function depositScript(provider: ethers.JsonRpcProvider, deposit: string): Promise<string> {
  const keep = await new ethers.Contract(deposit, DEPOSIT_ABI, provider).keepAddress();
  const key = ethers.getBytes(await new ethers.Contract(keep, ["function getPublicKey() view returns (bytes)"], provider).getPublicKey());
  const compressed = ethers.concat([key[63] & 1 ? "0x03" : "0x02", key.subarray(0, 32)]);
  return "0014" + ethers.ripemd160(ethers.sha256(compressed)).slice(2);
}

/** Deposits `account` opened: DepositCloneCreated in the receipts of its own transactions. */
export async function depositsOpened(devnet: Devnet, provider: ethers.JsonRpcProvider, account: string, fromBlock: number): Promise<string[]> {
  const logs = await provider.getLogs({ address: devnet.deployment.addresses.DepositFactory, topics: [CLONE_CREATED], fromBlock, toBlock: "latest" });
  const out: string[] = [];
  for (const l of logs) {
    const tx = await provider.getTransaction(l.transactionHash);
    if (tx?.from.toLowerCase() === account.toLowerCase()) out.push(ethers.getAddress("0x" + l.data.slice(26)));
  }
  return out;
}

/** TBTCSystem's Funded events for `deposit` (one per accepted funding proof). */
export async function fundedEvents(devnet: Devnet, provider: ethers.JsonRpcProvider, deposit: string): Promise<number> {
  return (await provider.getLogs({ address: devnet.deployment.addresses.TBTCSystem, topics: [FUNDED, ethers.zeroPadValue(deposit, 32)], fromBlock: 0, toBlock: "latest" })).length;
}

/** Every transaction `account` sent from `fromBlock` on, with its receipt status (the chaos harness's counter). */
export { transactionsFrom as sentBy } from "../../src/devnet/chaos";

/** Calls of `selector` among `txs` whose first argument is the deposit's TDT id (tdtToTbtc, approve's tokenId is second). */
export function callsFor(txs: { to: string; data: string }[], selector: string, deposit: string, argIndex = 0): number {
  const word = ethers.zeroPadValue(deposit.toLowerCase(), 32).slice(2);
  return txs.filter((t) => t.data.startsWith(selector) && t.data.slice(10 + argIndex * 64, 10 + (argIndex + 1) * 64) === word).length;
}
