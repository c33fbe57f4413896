import type * as btc from "@scure/btc-signer";
import { UsageError } from "../../errors";
import { acceptSignedPsbt, decodePsbt, unsignedTxid } from "../../btc/wallet";
import type { MintJournal } from "./mint-journal";

/**
 * `--psbt-in FILE`: the cold signer's PSBT taken back — only if it is the very transaction keepctl
 * wrote for a pending funding (same inputs, outputs, amounts) with every signature valid — and
 * journaled as that funding; the flow then starts the clock and broadcasts it as for a hot wallet.
 */
export function acceptFundingPsbt(journal: MintJournal, signed: btc.Transaction, file: string): { txid: string; deposits: string[] } {
  const js = journal.read();
  const txid = unsignedTxid(signed);
  const pending = js.psbts.get(txid);
  if (!pending) throw new UsageError(`${file} is no funding transaction keepctl wrote and is waiting for (txid ${txid})`, { hint: `give the signed form of the PSBT keepctl wrote (pending: ${[...js.psbts.values()].filter((p) => !js.fundings.has(p.txid)).map((p) => p.file).join(", ") || "none"})` });
  if (js.fundings.has(txid)) return { txid, deposits: pending.deposits };
  const expected = decodePsbt(pending.psbt, "the PSBT keepctl wrote");
  const tx = acceptSignedPsbt(expected, signed, `PSBT file ${file}`);
  const outputs = pending.deposits.map((deposit, vout) => ({ deposit, vout, valueSats: expected.getOutput(vout).amount!, scriptHex: Buffer.from(expected.getOutput(vout).script!).toString("hex") }));
  journal.recordFunding({ txid: tx.txid, rawHex: tx.rawHex, feeSats: tx.feeSats, vsize: tx.vsize, inputs: pending.inputs, outputs });
  return { txid, deposits: pending.deposits };
}
