import { UsageError } from "../../errors";
import { State, stateName } from "../abis";
import { mintDepositInterface } from "./mint-abi";
import { readDepositFacts } from "./mint-facts";
import type { MintDeps } from "./mint-flow";

/**
 * `keepctl mint --abort DEPOSIT --btc-address ADDR`: the TDT holder's requestFunderAbort on a
 * deposit that failed after it was funded. It only emits FunderAbortRequested with the script;
 * the signers are not obliged to return anything. Journaled like every call (`<deposit>:funder-abort`).
 */
export async function requestFunderAbort(d: Pick<MintDeps, "sender" | "provider" | "contracts" | "fromBlock">, deposit: string, outputScript: string): Promise<{ status: "sent" | "pending" | "done-earlier"; hash?: string }> {
  const facts = await readDepositFacts(d.provider, d.contracts, deposit, d.fromBlock, d.sender.address);
  if (facts.state !== State.FAILED_SETUP) throw new UsageError(`${deposit} is ${stateName(facts.state)}; requestFunderAbort is only for a deposit that failed its funding (FAILED_SETUP)`);
  if (facts.tdtOwner.toLowerCase() !== d.sender.address.toLowerCase()) throw new UsageError(`the TDT of ${deposit} belongs to ${facts.tdtOwner}, not this account; only its holder may request the abort`);
  const prior = await d.sender.settle(deposit, "funder-abort");
  if (prior.status === "mined") return { status: "done-earlier", hash: prior.hash };
  if (prior.status === "pending") return { status: "pending" };
  const r = await d.sender.send(deposit, "funder-abort", { to: deposit, data: mintDepositInterface.encodeFunctionData("requestFunderAbort", [outputScript]), abi: mintDepositInterface }, { meta: { outputScript } });
  return r.status === "mined" ? { status: "sent", hash: r.hash } : r.status === "pending" ? { status: "pending" } : { status: "done-earlier" };
}
