import path from "node:path";
import type { Command } from "commander";
import { formatUnits } from "ethers";
import { parseAddress } from "../lib/config";
import { ExitCode, UsageError } from "../lib/errors";
import { echo } from "../lib/redact";
import type { Output } from "../lib/output";
import { formatDuration } from "../lib/tbtc/read/health";
import { connectFromConfig } from "../lib/tbtc/read/report";
import { mintContractsOf } from "../lib/tbtc/mint/mint-session";
import { MintJournal } from "../lib/tbtc/mint/mint-journal";
import { readMintDeposits, type MintDepositRow } from "../lib/tbtc/mint/deposits-view";
import { globalsOf, loadCommandConfig, outputOf, runState } from "./common";

/**
 * `keepctl deposits`: the operator's own minting deposits (docs/mint.md): each slot of each mint
 * order in the mint journal, with the Deposit contract's state read now, the stage, the deadlines
 * in chain time, the funding txid and where the TDT is. Read only.
 */
export function register(program: Command): void {
  program
    .command("deposits")
    .description("the operator's own minting deposits (from the mint journal and the chain): stage, deadlines in chain time, lot, funding txid, TDT/TBTC")
    .option("--account <address>", "only the mint orders of this signing account (default: every account in the data dir's mint journal)")
    .option("--active", "only deposits still under way (not minted, failed or timed out)")
    .addHelpText("after", "\nReads <data dir>/mint-journal.jsonl and the chain; sends nothing. Exit codes: 0, 2 bad flag, 3 as every command,\n4 when a deposit could not be read from the chain (shown with its error). See docs/mint.md.")
    .action(async (_opts, cmd: Command) => {
      const g = globalsOf(cmd);
      const out = outputOf(cmd);
      let account: string | undefined;
      if (g.account !== undefined) {
        try {
          account = parseAddress(String(g.account)).toLowerCase();
        } catch {
          throw new UsageError(`--account: invalid address "${echo(String(g.account))}"`, { hint: "give the 0x address of the account that ran keepctl mint" });
        }
      }
      const cfg = loadCommandConfig(g, out);
      const contracts = mintContractsOf(cfg);
      const journal = new MintJournal(path.join(cfg.dataDir, "mint-journal.jsonl"));
      const provider = await connectFromConfig(cfg, { onWarning: (m) => out.warn(m) });
      let rows: MintDepositRow[];
      let head: { number: number; timestamp: number };
      try {
        const b = await provider.getBlock("latest");
        head = { number: b!.number, timestamp: b!.timestamp };
        rows = (await readMintDeposits(provider, contracts, journal, { fromBlock: cfg.startBlock, account })).filter((r) => !g.active || r.live);
      } finally {
        provider.destroy();
      }
      // A deposit the chain could not be read for is shown with its error, and the run is not "all well".
      const unread = rows.filter((r) => r.error).length;
      if (unread) {
        runState.exitCode = ExitCode.RPC;
        out.warn(`${unread} deposit(s) could not be read from the chain: their stage is unknown (exit ${ExitCode.RPC})`);
      }
      if (out.json) return out.document({ chainId: cfg.chainId, block: head.number, blockTime: iso(head.timestamp), journal: journal.file, deposits: rows.map(rowJson) });
      if (!rows.length) return out.info(g.active ? "no minting deposit under way (without --active: the ended ones too)" : `no minting deposits in ${journal.file}`);
      render(out, rows, head.timestamp);
    });
}

const iso = (t?: number) => (t === undefined ? null : new Date(t * 1000).toISOString().replace(".000Z", "Z"));

function rowJson(r: MintDepositRow) {
  return {
    order: r.order, slot: r.slot, account: r.account, deposit: r.deposit ?? null, lotSatoshis: r.lotSats.toString(), lotBtc: formatUnits(r.lotSats, 8),
    state: r.state ?? null, stage: r.stage, live: r.live, outcome: r.outcome ?? null,
    createdAt: iso(r.createdAt), signerSetupDeadline: iso(r.signerSetupDeadline), fundingTimerStart: iso(r.fundingTimerStart), fundingDeadline: iso(r.fundingDeadline),
    fundingTxid: r.fundingTxid ?? null, fundingTxids: r.fundingTxids, fundingBroadcast: r.fundingBroadcast, psbtTxid: r.psbtTxid ?? null,
    tdt: r.tdt, tdtOwner: r.tdtOwner ?? null, tbtcMinted: r.tbtcMintedWei === undefined ? null : formatUnits(r.tbtcMintedWei, 18), error: r.error ?? null,
  };
}

function render(out: Output, rows: MintDepositRow[], now: number): void {
  const addr = (a?: string) => (!a ? "-" : out.isTTY && !out.wide ? `${a.slice(0, 8)}…${a.slice(-4)}` : a);
  // A deadline matters only while the stage it guards is current.
  const due = (t: number | undefined, when: boolean) => (t === undefined || !when ? "-" : `${iso(t)} (${t > now ? "in " + formatDuration(t - now) : "passed"})`);
  out.table(rows, [
    { header: "Order", value: (r) => `${r.order}#${r.slot + 1}` },
    { header: "Deposit", value: (r) => addr(r.deposit) },
    { header: "Lot BTC", align: "right", value: (r) => formatUnits(r.lotSats, 8).replace(/\.0$/, "") },
    { header: "State", value: (r) => (r.error ? `ERROR: ${r.error}` : r.state ?? "-") },
    { header: "Stage", value: (r) => r.stage, color: (r, t) => out.paint(r.stage === "minted" ? "ok" : r.live ? "warn" : "bad", t) },
    { header: "Signer setup due", value: (r) => due(r.signerSetupDeadline, r.stage === "awaiting-signers") },
    { header: "Funding due", value: (r) => due(r.fundingDeadline, r.stage === "funding-clock-started" || r.stage === "funding-broadcast") },
    { header: "Funding tx", value: (r) => r.fundingTxid ?? (r.psbtTxid ? `${r.psbtTxid} (PSBT)` : "-") },
    { header: "TDT", value: (r) => r.tdt },
    { header: "TBTC", align: "right", value: (r) => (r.tbtcMintedWei === undefined ? "-" : formatUnits(r.tbtcMintedWei, 18)) },
  ]);
}
