import { ethers } from "ethers";
import { type LocalNode, startHardhatNode } from "./node";
import { deployEmp, loadUmaArtifact, type EmpDeployment } from "./uma";

/**
 * The EMP at scale for the bench: UMA's real ExpiringMultiParty (src/devnet/uma.ts) with
 * thousands of sponsors created over a long block range, a share of them with a pending
 * withdrawal and a share liquidated by another liquidator (open liquidations, not disputed).
 *
 * Cheap setup: the sponsors are impersonated addresses (hardhat_impersonateAccount), their
 * transactions go to the node as JSON-RPC batches with automine off, and blocks are mined in bulk;
 * empty blocks between the tiers come from hardhat_mine. Bench tooling only.
 *
 * The EMP admits a new position only at or above the global collateral ratio, so the sponsors are
 * created in tiers of ascending ratio, every position of a tier identical (equal ratios pass).
 */
export interface EmpShapeOptions {
  /** Sponsors in all (default 1000). */
  sponsors?: number;
  /** Share of sponsors liquidated during setup, at ratio 1.2 (default 0.1). */
  liquidatedShare?: number;
  /** Share of the healthy sponsors with a pending withdrawal that leaves them healthy (default 0.15). */
  pendingShare?: number;
  /** Blocks the sponsors' creation is spread over (default 1,000,000, about 5 months of 12 s blocks). */
  spanBlocks?: number;
  log?: (msg: string) => void;
}

export interface EmpShape {
  node: LocalNode;
  dep: EmpDeployment;
  sponsors: number;
  liquidated: number;
  pending: number;
  /** The setup liquidator's own (healthy) position counts as a sponsor too. */
  openPositions: number;
  startBlock: number;
  head: number;
  setupSec: number;
  setupTxs: number;
  close(): Promise<void>;
}

const wad = (x: number): bigint => ethers.parseUnits(String(x), 18);
const TOKENS = wad(100);
/** Ratios at price 1.0 of the tiers, ascending: the first tier is the one liquidated. */
const TIERS = [1.2, 1.5, 2.0, 3.0];

type Call = { method: string; params: unknown[] };

export async function buildEmpShape(o: EmpShapeOptions = {}): Promise<EmpShape> {
  const log = o.log ?? (() => undefined);
  const n = o.sponsors ?? 1000;
  const liquidatedCount = Math.round(n * (o.liquidatedShare ?? 0.1));
  const healthy = n - liquidatedCount;
  const pendingCount = Math.round(healthy * (o.pendingShare ?? 0.15));
  const span = o.spanBlocks ?? 1_000_000;
  const t0 = performance.now();
  const node = await startHardhatNode();
  try {
    const provider = new ethers.JsonRpcProvider(node.rpcUrl, 31337, { staticNetwork: true, batchMaxCount: 1 });
    await provider.send("hardhat_setLoggingEnabled", [false]);
    const deployer = await provider.getSigner(0);
    const dep = await deployEmp(deployer, { expiresIn: 365 * 86400 });
    const emp = dep.addresses.emp;
    const erc20 = new ethers.Interface(loadUmaArtifact("TestnetERC20").abi);
    const empI = new ethers.Interface(loadUmaArtifact("ExpiringMultiParty").abi);

    let id = 0;
    const rpc = async (calls: Call[]): Promise<unknown[]> => {
      const out: unknown[] = [];
      for (let i = 0; i < calls.length; i += 500) {
        const body = calls.slice(i, i + 500).map((c) => ({ jsonrpc: "2.0", id: ++id, ...c }));
        const res = await fetch(node.rpcUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
        const got = (await res.json()) as { id: number; result?: unknown; error?: { message: string } }[];
        const byId = new Map(got.map((g) => [g.id, g]));
        for (const b of body) {
          const a = byId.get(b.id);
          if (!a || a.error) throw new Error(`setup ${b.method} failed: ${a?.error?.message ?? "no answer"}`);
          out.push(a.result);
        }
      }
      return out;
    };
    let setupTxs = 0;
    const fee = { maxFeePerGas: ethers.toQuantity(ethers.parseUnits("1000", "gwei")), maxPriorityFeePerGas: ethers.toQuantity(ethers.parseUnits("1", "gwei")) };
    // Explicit nonces: the node may take a batch's entries in any order, and an impersonated
    // account's create must come after its approve.
    const nonces = new Map<string, number>();
    const tx = (from: string, to: string, data: string, gas: number): Call => {
      const nonce = nonces.get(from) ?? 0;
      nonces.set(from, nonce + 1);
      return { method: "eth_sendTransaction", params: [{ from, to, data, gas: ethers.toQuantity(gas), nonce: ethers.toQuantity(nonce), ...fee }] };
    };
    /** Sends the transactions, mines until the pool is empty, and checks every receipt. */
    const sendAndMine = async (txs: Call[]) => {
      setupTxs += txs.length;
      const hashes = (await rpc(txs)) as string[];
      for (let i = 0; ; i++) {
        const pending = (await rpc([{ method: "eth_getBlockByNumber", params: ["pending", false] }]))[0] as { transactions: string[] };
        if (pending.transactions.length === 0) break;
        if (i > 10_000) throw new Error("setup: the pool never emptied");
        await rpc([{ method: "evm_mine", params: [] }]);
      }
      const receipts = (await rpc(hashes.map((h) => ({ method: "eth_getTransactionReceipt", params: [h] })))) as ({ status: string; gasUsed: string } | null)[];
      const bad = receipts.findIndex((r) => !r || r.status !== "0x1");
      if (bad >= 0) {
        const t = (txs[bad].params[0] as { from: string; to: string; data: string });
        const why = await rpc([{ method: "eth_call", params: [{ from: t.from, to: t.to, data: t.data }, "latest"] }]).catch((e: Error) => e.message);
        throw new Error(`setup transaction ${bad} of ${txs.length} (${t.data.slice(0, 10)}) failed (gas used ${Number(receipts[bad]?.gasUsed)}): ${String(why)}`);
      }
    };

    await provider.send("evm_setAutomine", [false]);
    const sponsors = Array.from({ length: n }, (_, i) => ethers.getAddress(ethers.dataSlice(ethers.id(`emp-bench-sponsor-${i}`), 12)));
    const setupLiquidator = ethers.getAddress(ethers.dataSlice(ethers.id("emp-bench-other-liquidator"), 12));
    const everyone = [...sponsors, setupLiquidator];
    await rpc(everyone.flatMap((a) => [
      { method: "hardhat_impersonateAccount", params: [a] },
      { method: "hardhat_setBalance", params: [a, ethers.toQuantity(wad(1_000_000))] },
    ]));

    const open = (addr: string, collateral: bigint, tokens: bigint): Call[] => [
      tx(addr, dep.addresses.collateral, erc20.encodeFunctionData("allocateTo", [addr, collateral]), 150_000),
      tx(addr, dep.addresses.collateral, erc20.encodeFunctionData("approve", [emp, collateral]), 100_000),
      tx(addr, emp, empI.encodeFunctionData("create", [{ rawValue: collateral }, { rawValue: tokens }]), 1_500_000),
    ];
    // Tier 0 is the liquidated share; the healthy sponsors spread over the other tiers.
    const tierOf = (i: number) => (i < liquidatedCount ? 0 : 1 + Math.floor(((i - liquidatedCount) * (TIERS.length - 1)) / Math.max(1, healthy)));
    const gap = Math.max(0, Math.floor(span / TIERS.length));
    for (let t = 0; t < TIERS.length; t++) {
      const members = sponsors.filter((_, i) => tierOf(i) === t);
      log(`  tier ${TIERS[t]}: ${members.length} sponsors`);
      if (gap > 0) await rpc([{ method: "hardhat_mine", params: [ethers.toQuantity(gap)] }]);
      await sendAndMine(members.flatMap((a) => open(a, (TOKENS * wad(TIERS[t])) / wad(1), TOKENS)));
    }
    // The other liquidator: a large healthy position for the synthetic tokens it burns.
    const liqTokens = TOKENS * BigInt(liquidatedCount) + TOKENS;
    const topRatio = TIERS[TIERS.length - 1];
    await sendAndMine([
      ...open(setupLiquidator, (liqTokens * wad(topRatio)) / wad(1), liqTokens),
      tx(setupLiquidator, dep.addresses.synthetic, erc20.encodeFunctionData("approve", [emp, ethers.MaxUint256]), 100_000),
      tx(setupLiquidator, dep.addresses.collateral, erc20.encodeFunctionData("approve", [emp, ethers.MaxUint256]), 100_000),
    ]);
    // Liquidations of the ratio-1.2 tier (correct at price 1.0: below the 1.25 requirement), then
    // withdrawals that leave their sponsors above it (the top tiers, ratio 2.0 and 3.0, less 0.5).
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 10 * 365 * 86400);
    const liquidations = sponsors.slice(0, liquidatedCount).map((s) =>
      tx(setupLiquidator, emp, empI.encodeFunctionData("createLiquidation", [s, { rawValue: 0n }, { rawValue: wad(1e6) }, { rawValue: TOKENS }, deadline]), 2_000_000));
    const withdrawing = sponsors.slice(n - pendingCount);
    const withdrawals = withdrawing.map((s) => tx(s, emp, empI.encodeFunctionData("requestWithdrawal", [{ rawValue: TOKENS / 2n }]), 200_000));
    await sendAndMine([...liquidations, ...withdrawals]);
    await provider.send("evm_setAutomine", [true]);
    const head = Number(await provider.send("eth_blockNumber", []));
    provider.destroy();
    return {
      node, dep, sponsors: n, liquidated: liquidatedCount, pending: pendingCount, openPositions: n - liquidatedCount + 1,
      startBlock: dep.deployBlock, head, setupSec: (performance.now() - t0) / 1000, setupTxs,
      close: () => node.stop(),
    };
  } catch (e) {
    await node.stop();
    throw e;
  }
}
